"""FaceDetector end to end on the grid graph (and on the shipped model when it exists)."""
import os

import numpy as np
import pytest

from face_ssd_ros.detect import inference
from face_ssd_ros.detect.backends import BackendError
from face_ssd_ros.detect.inference import FaceDetector, ModelOutputError, StageTimes, default_model_path
from face_ssd_ros.detect.manifest import ManifestError

SHARED = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..', '..', 'shared', 'data'))


def square_image(width, height, x1, y1, x2, y2, value=255, background=0):
    img = np.full((height, width, 3), background, np.uint8)
    img[y1:y2, x1:x2] = value
    return img


def test_white_square_found_where_it_is(grid_model):
    """Network input 32x24 with 8-px cells; the 64x48 image is stretched by 2, so a cell is 16x16 pixels."""
    det = FaceDetector(grid_model)
    assert det.backend_name == 'onnxruntime' and det.labels == ('background', 'face')
    detections, times = det.detect(square_image(64, 48, 32, 16, 48, 32))
    assert len(detections) == 1
    d = detections[0]
    assert d.label == 'face' and d.class_index == 1 and d.score > 0.95
    np.testing.assert_allclose([d.x1, d.y1, d.x2, d.y2], [32, 16, 48, 32], atol=1e-4)
    assert isinstance(times, StageTimes)
    assert all(t >= 0 for t in times) and times.total_ms == pytest.approx(sum(times))
    det.close()


def test_non_uniform_stretch_maps_back_to_image_pixels(grid_model):
    # 96x24 image -> x scaled by 1/3, y by 1: the cell (col 1, row 2) covers x 24..48, y 16..24.
    with FaceDetector(grid_model) as det:
        detections, _ = det.detect(square_image(96, 24, 24, 16, 48, 24))
    assert len(detections) == 1
    np.testing.assert_allclose([detections[0].x1, detections[0].y1, detections[0].x2, detections[0].y2],
                               [24, 16, 48, 24], atol=1e-4)


def test_thresholds_default_to_manifest_and_change_at_runtime(grid_model):
    det = FaceDetector(grid_model)
    assert (det.score_threshold, det.nms_iou, det.max_detections, det.class_filter) == (0.6, 0.3, 200, [])
    grey = np.full((24, 32, 3), 127, np.uint8)      # every cell scores exactly 0.5
    assert det.detect(grey)[0] == []
    det.set_thresholds(score_threshold=0.4)
    assert len(det.detect(grey)[0]) == 12 and det.nms_iou == 0.3
    det.set_thresholds(max_detections=5)
    assert len(det.detect(grey)[0]) == 5 and det.score_threshold == 0.4
    for bad in (dict(score_threshold=1.5), dict(score_threshold=0.9, nms_iou=-0.1),
                dict(score_threshold=0.9, max_detections=0), dict(score_threshold=0.9, max_detections=2.5),
                dict(score_threshold=0.9, class_filter=['cat'])):
        with pytest.raises(ValueError):
            det.set_thresholds(**bad)
        assert (det.score_threshold, det.max_detections) == (0.4, 5)     # nothing applied on failure
    det.set_thresholds(score_threshold=0.6, max_detections=200)
    assert det.detect(grey)[0] == [] and len(det.detect(grey, min_score=0.45)[0]) == 12  # the tracker's floor
    assert det.score_threshold == 0.6                                                    # one call only
    from face_ssd_ros.config import params
    values = dict(params.defaults(params.DETECTOR_PARAMS), model_path=grid_model, score_threshold=0.55,
                  class_filter=['face'])
    from_params = FaceDetector.from_params(values)
    assert (from_params.score_threshold, from_params.class_filter, from_params.input_size) == (0.55, ['face'], (32, 24))
    constructed = FaceDetector(grid_model, score_threshold=0.45, nms_iou=0.5, max_detections=3)
    assert (constructed.score_threshold, constructed.nms_iou, constructed.max_detections) == (0.45, 0.5, 3)


def test_class_filter(tmp_path, onnx_builder, manifest_dict):
    path = tmp_path / 'three.onnx'
    onnx_builder(path, manifest=manifest_dict(labels=('background', 'face', 'plate')))
    img = square_image(32, 24, 0, 0, 8, 8, value=255, background=127)   # bright cell: face
    img[16:24, 24:32] = 0                                                # dark cell: plate
    det = FaceDetector(str(path))
    assert sorted(d.label for d in det.detect(img)[0]) == ['face', 'plate']
    det.set_thresholds(class_filter=['plate'])
    found = det.detect(img)[0]
    assert [(d.label, d.class_index) for d in found] == [('plate', 2)]
    np.testing.assert_allclose([found[0].x1, found[0].y1, found[0].x2, found[0].y2], [24, 16, 32, 24], atol=1e-4)
    det.set_thresholds(score_threshold=0.5)              # class_filter untouched by other changes
    assert det.class_filter == ['plate']
    det.set_thresholds(class_filter=[])
    assert len(det.detect(img)[0]) == 2
    with pytest.raises(ValueError, match='background'):
        FaceDetector(str(path), class_filter=['background'])


def test_nan_output_raises_model_output_error(tmp_path, onnx_builder):
    path = tmp_path / 'nan.onnx'
    onnx_builder(path, nan_scores=True)
    det = FaceDetector(str(path))
    with pytest.raises(ModelOutputError, match='NaN'):
        det.detect(np.zeros((24, 32, 3), np.uint8))


def test_input_size_only_for_dynamic_models(grid_model, tmp_path, onnx_builder, manifest_dict):
    with pytest.raises(ValueError, match='fixed 32x24'):
        FaceDetector(grid_model, input_size=(64, 48))
    assert FaceDetector(grid_model, input_size=(0, 0)).input_size == (32, 24)
    assert FaceDetector(grid_model, input_size=(32, 24)).input_size == (32, 24)
    d = manifest_dict()
    d['input']['dynamic_size'] = True
    path = tmp_path / 'dyn.onnx'
    onnx_builder(path, manifest=d, dynamic=True)
    det = FaceDetector(str(path), input_size=(64, 0), score_threshold=0.3)
    assert det.input_size == (64, 24)
    found, _ = det.detect(np.full((10, 20, 3), 255, np.uint8))
    assert len(found) == 1       # every prior of the dynamic graph is the full image; NMS leaves one
    np.testing.assert_allclose([found[0].x1, found[0].y1, found[0].x2, found[0].y2], [0, 0, 20, 10])


def test_another_input_size_runs_the_sibling_export(grid_model, tmp_path, onnx_builder, manifest_dict):
    from face_ssd_ros.detect.inference import sized_model_path
    assert sized_model_path('/m/face_default.onnx', 640, 480) == '/m/face_default_640x480.onnx'
    assert sized_model_path('/m/face_default_640x480.onnx', 320, 240) == '/m/face_default_320x240.onnx'
    base = str(tmp_path / 'grid.onnx')
    onnx_builder(base)                                                        # 32x24
    big = manifest_dict(width=64, height=48)
    onnx_builder(tmp_path / 'grid_64x48.onnx', manifest=big)
    det = FaceDetector(base, input_size=(64, 48))
    assert det.model_path.endswith('grid_64x48.onnx') and det.input_size == (64, 48)
    assert det.manifest.num_priors == 48                                      # the 64x48 priors, not the 32x24 ones
    back = FaceDetector(str(tmp_path / 'grid_64x48.onnx'), input_size=(32, 24))   # the unsuffixed stem has 32x24
    assert back.model_path == base
    with pytest.raises(ValueError, match='no sibling grid_96x72.onnx.*--input-size 96x72'):
        FaceDetector(base, input_size=(96, 72))
    other = manifest_dict(width=96, height=72, labels=('background', 'plate'))
    onnx_builder(tmp_path / 'grid_96x72.onnx', manifest=other)                # other labels: not a sibling
    with pytest.raises(ValueError, match='fixed 32x24'):
        FaceDetector(base, input_size=(96, 72))


def test_the_shipped_model_runs_at_640x480_from_one_setting():
    det = FaceDetector(None, input_size=(640, 480))
    assert os.path.basename(det.model_path) == 'face_default_640x480.onnx' and det.input_size == (640, 480)


def test_model_errors_surface_clearly(tmp_path, onnx_builder, manifest_dict):
    with pytest.raises(ManifestError, match='not found'):
        FaceDetector(str(tmp_path / 'missing.onnx'))
    path = tmp_path / 'bad.onnx'
    onnx_builder(path, manifest=manifest_dict(), input_name='data')
    with pytest.raises(BackendError, match='"data"'):
        FaceDetector(str(path))
    with pytest.raises(BackendError, match='unknown backend'):
        FaceDetector(str(path), backend='cuda')


def test_malformed_image(grid_model):
    with pytest.raises(ValueError, match='RGB uint8'):
        FaceDetector(grid_model).detect(np.zeros((24, 32), np.uint8))


def test_warmup(grid_model):
    FaceDetector(grid_model).warmup(2)


def test_default_model_path_missing_is_explained(monkeypatch):
    monkeypatch.setattr(inference, 'DEFAULT_MODEL_NAME', 'no_such_model.onnx')
    with pytest.raises(FileNotFoundError) as err:
        default_model_path()
    assert 'no_such_model.onnx' in str(err.value) and 'model_path' in str(err.value)
    with pytest.raises(FileNotFoundError):
        FaceDetector()


def _shipped_model():
    path = os.path.join(os.path.dirname(os.path.dirname(inference.__file__)), 'models', inference.DEFAULT_MODEL_NAME)
    if not os.path.isfile(path):
        pytest.skip('the shipped default model %s does not exist yet' % path)
    return path


def test_shipped_default_model_finds_real_faces():
    path = _shipped_model()
    assert default_model_path() == path
    cv2 = pytest.importorskip('cv2')
    gt_file = os.path.join(SHARED, 'faces', 'dlib', 'dlib_bbx_gt.txt')
    if not os.path.isfile(gt_file):
        pytest.skip('real data not available at %s' % SHARED)
    det = FaceDetector()
    assert det.labels[0] == 'background' and 'face' in det.labels
    # 2008_001009.jpg: two large, clear faces (x, y, w, h in the WIDER text format)
    lines = open(gt_file).read().split('\n')
    start = lines.index('2008_001009.jpg')
    gt = [[float(v) for v in lines[start + 2 + i].split()[:4]] for i in range(int(lines[start + 1]))]
    image = cv2.cvtColor(cv2.imread(os.path.join(SHARED, 'faces', 'dlib', 'images', '2008_001009.jpg')),
                         cv2.COLOR_BGR2RGB)
    found, times = det.detect(image)
    from face_ssd_ros.detect.postprocess import box_iou_one_to_many
    height, width = image.shape[:2]
    assert all(0 <= d.x1 < d.x2 <= width and 0 <= d.y1 < d.y2 <= height for d in found)
    assert all(d.score >= det.score_threshold for d in found) and times.inference_ms > 0
    boxes = [[d.x1, d.y1, d.x2, d.y2] for d in found if d.label == 'face']
    assert boxes, 'the shipped model found no face in an image with two large, clear faces'
    best = [box_iou_one_to_many([x, y, x + w, y + h], boxes).max() for x, y, w, h in gt]
    assert max(best) > 0.5, 'no annotated face matched (IoU per face: %s)' % best
