"""ModelManifest validation, check_outputs, and load_manifest from sidecar / ONNX metadata / engine / checkpoint."""
import json
import sys

import pytest

from face_ssd_ros.detect.manifest import METADATA_KEY, ManifestError, ModelManifest, load_manifest, sidecar_path


def test_round_trip_and_attributes(manifest_dict):
    d = manifest_dict(width=320, height=240, labels=('background', 'face', 'plate'))
    m = ModelManifest.from_dict(d, source='x.json')
    assert (m.width, m.height, m.input_size, m.input_name) == (320, 240, (320, 240), 'input')
    assert m.labels == ('background', 'face', 'plate') and m.num_classes == 3
    assert m.num_priors == 40 * 30 and m.channel_order == 'RGB'
    assert m.mean == (127.0, 127.0, 127.0) and m.std == (128.0, 128.0, 128.0)
    assert (m.scores_name, m.boxes_name) == ('scores', 'boxes')
    assert (m.score_threshold, m.nms_iou, m.max_detections) == (0.6, 0.3, 200)
    assert m.dynamic_size is False and m.resize == 'stretch'
    assert m.to_dict() == d and json.loads(m.to_json()) == d
    d['labels'].append('x')                      # the manifest keeps its own copy
    assert m.labels == ('background', 'face', 'plate')
    assert ModelManifest.from_dict(m.to_dict()).to_dict() == m.to_dict()


def test_optional_fields_default(manifest_dict):
    d = manifest_dict()
    for key in ('resize', 'dynamic_size'):
        del d['input'][key]
    for key in ('priors', 'training', 'name', 'arch'):
        del d[key]
    m = ModelManifest.from_dict(d)
    assert m.resize == 'stretch' and m.dynamic_size is False and m.priors == {} and m.name == ''


def _set(path, value):
    def mutate(d):
        *parents, last = path.split('.')
        node = d
        for p in parents:
            node = node[p]
        if value is DELETE:
            del node[last]
        else:
            node[last] = value
    return mutate


DELETE = object()
BAD_FIELDS = [
    ('format', 'onnx', 'format'),
    ('format_version', 2, 'newer'),
    ('format_version', '1', 'format_version'),
    ('input', DELETE, 'missing section "input"'),
    ('input.name', DELETE, 'input.name'),
    ('input.width', 0, 'input.width'),
    ('input.height', 2.5, 'input.height'),
    ('input.width', True, 'input.width'),
    ('input.layout', 'NHWC', 'input.layout'),
    ('input.dtype', 'float16', 'input.dtype'),
    ('input.channel_order', 'RGBA', 'input.channel_order'),
    ('input.mean', [127.0, 127.0], 'input.mean'),
    ('input.std', [128.0, 0.0, 128.0], 'input.std'),
    ('input.std', [128.0, float('nan'), 128.0], 'input.std'),
    ('input.resize', 'letterbox', 'input.resize'),
    ('input.dynamic_size', 'no', 'input.dynamic_size'),
    ('labels', ['face', 'background'], '"background"'),
    ('labels', ['background'], 'at least 2'),
    ('labels', ['background', 'face', 'face'], 'unique'),
    ('labels', 'background,face', 'labels'),
    ('num_priors', 0, 'num_priors'),
    ('outputs', DELETE, 'outputs'),
    ('outputs.boxes.name', 'scores', 'must differ'),
    ('outputs.boxes.format', 'cxcywh', 'outputs.boxes.format'),
    ('outputs.scores.activation', 'sigmoid', 'outputs.scores.activation'),
    ('priors.strides', [8, -16], 'priors.strides'),
    ('priors.min_sizes', [[8], [16]], 'has 2 entries'),
    ('priors.variances', [0.1], 'priors.variances'),
    ('priors.clip', 1, 'priors.clip'),
    ('postprocess', DELETE, 'postprocess'),
    ('postprocess.score_threshold', 1.5, 'postprocess.score_threshold'),
    ('postprocess.nms_iou', -0.1, 'postprocess.nms_iou'),
    ('postprocess.max_detections', 0, 'postprocess.max_detections'),
]


@pytest.mark.parametrize('path,value,words', BAD_FIELDS, ids=['%s=%r' % (p, v) for p, v, _ in BAD_FIELDS])
def test_invalid_fields_are_named(manifest_dict, path, value, words):
    d = manifest_dict()
    _set(path, value)(d)
    with pytest.raises(ManifestError) as err:
        ModelManifest.from_dict(d, source='/models/x.json')
    text = str(err.value)
    assert words in text and '/models/x.json' in text and 'face-ssd-export' in text


def test_all_problems_reported_at_once(manifest_dict):
    d = manifest_dict()
    d['input']['width'] = -1
    d['labels'] = ['face']
    with pytest.raises(ManifestError) as err:
        ModelManifest.from_dict(d)
    assert 'input.width' in str(err.value) and 'labels' in str(err.value)


def test_not_a_dict():
    with pytest.raises(ManifestError, match='JSON object'):
        ModelManifest.from_dict([1, 2])


def test_validate_after_edit(manifest_dict):
    m = ModelManifest.from_dict(manifest_dict())
    m.raw['num_priors'] = -3
    with pytest.raises(ManifestError, match='num_priors'):
        m.validate()


def test_check_outputs(manifest_dict):
    m = ModelManifest.from_dict(manifest_dict(labels=('background', 'face', 'plate')))   # N = 12, C = 3
    m.check_outputs([1, 12, 3], [1, 12, 4])
    m.check_outputs(['batch', None, 3], [1, 'N', 4])             # symbolic dims are not judged
    m.check_outputs([1, 48, 3], [1, 48, 4], expect_num_priors=False)
    for scores, boxes, words in [([1, 12, 2], [1, 12, 4], '2 classes but the manifest lists 3 labels'),
                                 ([1, 11, 3], [1, 11, 4], 'num_priors=12'),
                                 ([1, 12, 3], [1, 12, 5], 'expected 4'),
                                 ([2, 12, 3], [2, 12, 4], 'batch 2'),
                                 ([12, 3], [1, 12, 4], '3 dims'),
                                 ([1, 48, 3], [1, 40, 4], 'disagree')]:
        with pytest.raises(ManifestError) as err:
            m.check_outputs(scores, boxes, expect_num_priors=words != 'disagree')
        assert words in str(err.value)


# ---------------------------------------------------------------------------------------------- load_manifest
def test_sidecar_wins_over_embedded(tmp_path, onnx_builder, manifest_dict):
    embedded = manifest_dict(name='embedded')
    path = tmp_path / 'm.onnx'
    onnx_builder(path, manifest=embedded, sidecar=False)
    sidecar = manifest_dict(name='sidecar')
    (tmp_path / 'm.json').write_text(json.dumps(sidecar))
    m = load_manifest(str(path))
    assert m.name == 'sidecar' and m.source == str(tmp_path / 'm.json')
    (tmp_path / 'm.json').unlink()
    m = load_manifest(path)                       # os.PathLike works too
    assert m.name == 'embedded' and METADATA_KEY in m.source


def test_embedded_via_onnxruntime_when_onnx_is_absent(tmp_path, onnx_builder, manifest_dict, monkeypatch):
    path = tmp_path / 'm.onnx'
    onnx_builder(path, manifest=manifest_dict(name='via-ort'), sidecar=False)
    monkeypatch.setitem(sys.modules, 'onnx', None)          # `import onnx` now raises ImportError
    assert load_manifest(str(path)).name == 'via-ort'


def test_no_manifest_anywhere(tmp_path, onnx_builder):
    path = tmp_path / 'bare.onnx'
    onnx_builder(path, embed=False, sidecar=False)
    with pytest.raises(ManifestError) as err:
        load_manifest(str(path))
    text = str(err.value)
    assert str(tmp_path / 'bare.json') in text and METADATA_KEY in text and 'face-ssd-export' in text


def test_bad_sidecar_json_and_bad_embedded_json(tmp_path, onnx_builder):
    path = tmp_path / 'm.onnx'
    onnx_builder(path, sidecar=False)
    (tmp_path / 'm.json').write_text('{"format": ')
    with pytest.raises(ManifestError, match='not valid JSON'):
        load_manifest(str(path))
    (tmp_path / 'm.json').unlink()
    import onnx
    model = onnx.load(str(path))
    onnx.helper.set_model_props(model, {METADATA_KEY: 'not json'})
    onnx.save(model, str(path))
    with pytest.raises(ManifestError, match='embedded'):
        load_manifest(str(path))


@pytest.mark.parametrize('hide_onnx', [False, True])
def test_corrupt_onnx(tmp_path, monkeypatch, hide_onnx):
    path = tmp_path / 'broken.onnx'
    path.write_bytes(b'\x08\x07garbage that is not a protobuf' * 3)
    if hide_onnx:
        monkeypatch.setitem(sys.modules, 'onnx', None)
    with pytest.raises(ManifestError) as err:
        load_manifest(str(path))
    assert str(path) in str(err.value) and 'face-ssd-export' in str(err.value)


def test_missing_file_and_unknown_extension(tmp_path):
    with pytest.raises(ManifestError, match='not found'):
        load_manifest(str(tmp_path / 'nope.onnx'))
    other = tmp_path / 'model.tflite'
    other.write_bytes(b'x')
    with pytest.raises(ManifestError, match='unsupported model file type'):
        load_manifest(str(other))


def test_engine_needs_a_sidecar(tmp_path, manifest_dict):
    engine = tmp_path / 'face.engine'
    engine.write_bytes(b'not really an engine')
    with pytest.raises(ManifestError) as err:
        load_manifest(str(engine))
    assert 'face.engine.json' in str(err.value) and 'face.json' in str(err.value)
    assert 'face-ssd-build-engine' in str(err.value)
    (tmp_path / 'face.json').write_text(json.dumps(manifest_dict(name='plain')))        # the ONNX model's sidecar
    assert load_manifest(str(engine)).name == 'plain'
    (tmp_path / 'face.json').write_text(json.dumps({'manifest': manifest_dict(name='wrapped')}))
    assert load_manifest(str(engine)).name == 'wrapped'
    assert sidecar_path('/a/b.c/face.plan') == '/a/b.c/face.json'


def test_engine_sidecar_from_the_engine_builder_wins(tmp_path, manifest_dict):
    engine_cache = pytest.importorskip('face_ssd_ros.detect.engine_cache')
    engine = tmp_path / 'face.engine'
    engine.write_bytes(b'engine bytes')
    (tmp_path / 'face.json').write_text(json.dumps(manifest_dict(name='onnx-sidecar')))
    info = engine_cache.make_sidecar(str(engine), None, manifest_dict(name='engine-sidecar'), 'fp16', '8.2.1.8',
                                     'NVIDIA Tegra X1', input_shape=(1, 3, 24, 32), model_sha256='0' * 64)
    engine_cache.write_sidecar(str(engine), info)
    m = load_manifest(str(engine))
    assert m.name == 'engine-sidecar' and 'face.engine.json' in m.source
    (tmp_path / 'face.engine.json').write_text('{"format": "something else"}')
    with pytest.raises(ManifestError, match='face-ssd-build-engine'):
        load_manifest(str(engine))


def test_checkpoint_manifest(tmp_path, manifest_dict):
    torch = pytest.importorskip('torch')
    ckpt = tmp_path / 'last.pt'
    torch.save({'model': {'w': torch.zeros(2)}, 'manifest': manifest_dict(name='ckpt'), 'config': {},
                'epoch': 3, 'metrics': {}}, str(ckpt))
    assert load_manifest(str(ckpt)).name == 'ckpt'
    torch.save({'model': {}}, str(ckpt))
    with pytest.raises(ManifestError, match='no "manifest"'):
        load_manifest(str(ckpt))
    (tmp_path / 'junk.pth').write_bytes(b'junk')
    with pytest.raises(ManifestError, match='cannot load checkpoint'):
        load_manifest(str(tmp_path / 'junk.pth'))


def test_checkpoint_without_torch(tmp_path, monkeypatch):
    ckpt = tmp_path / 'last.pt'
    ckpt.write_bytes(b'x')
    monkeypatch.setitem(sys.modules, 'torch', None)
    with pytest.raises(ManifestError, match='pip install torch'):
        load_manifest(str(ckpt))
