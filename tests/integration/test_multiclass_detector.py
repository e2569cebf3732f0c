"""A multi-class model in the detector node over real DDS: every label reaches ``results[0].hypothesis.class_id``,
and ``class_filter`` (at start-up and changed at run time) selects among the model's own labels.

Two models: the 3-class grid graph of tests/grid_model.py (a white square = "plate", a black one = "cartoon_face",
at known places), and a 3-class SSD exported by face_ssd_training itself (what the fine-tuning recipes produce;
random weights, so its published detections are compared with the same model run offline)."""
import numpy as np
import pytest

from face_ssd_ros import runner
from face_ssd_ros.config.pipeline import build_pipeline
from grid_model import build_grid_onnx, make_manifest

GRID_LABELS = ('background', 'plate', 'cartoon_face')


class _Detector(object):
    """A detector node + a test node that publishes ``image_raw`` (reliable) and collects ``detections``."""

    def __init__(self, context, namespace, helpers, overrides):
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Image
        params = {'detector.qos_reliability': 'reliable'}
        params.update(('detector.' + k, v) for k, v in overrides.items())
        desc = build_pipeline(namespace=namespace, nodes=['detector'], overrides=params)
        self.node = runner.create_nodes(desc, context)['detector']
        self.col = helpers.make_collector(context, '/' + namespace)
        self.pub = self.col.create_publisher(Image, 'image_raw',
                                             QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE))
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.executor.add_node(self.col)
        self.helpers = helpers
        self.sent = 0
        self.wait(lambda: self.pub.get_subscription_count() >= 1 and
                  self.node.count_publishers('/%s/image_raw' % namespace) >= 1, 'the detector subscription')
        self.wait(lambda: self.node.count_subscribers('/%s/detections' % namespace) >= 1, 'the collector')

    def wait(self, predicate, what, timeout=20):
        self.helpers.wait_for(predicate, timeout, what, spin=lambda: self.executor.spin_once(timeout_sec=0.05))

    def detect(self, rgb):
        """Publish one frame and return the detections of its array: [(label, x1, y1, x2, y2, score)]."""
        from std_msgs.msg import Header

        from face_ssd_ros.msgs.convert import array_to_image_msg
        self.sent += 1
        msg = array_to_image_msg(rgb, Header(), 'rgb8')
        msg.header.stamp.sec, msg.header.frame_id = self.sent, 'multiclass'
        self.pub.publish(msg)
        self.wait(lambda: len(self.col.arrays) >= self.sent, 'the detections of frame %d' % self.sent)
        stamp, frame_id, dets = self.col.arrays[self.sent - 1]
        assert stamp == (self.sent, 0) and frame_id == 'multiclass'
        return [(d.label, d.x1, d.y1, d.x2, d.y2, d.score) for d in dets]

    def set(self, name, value):
        from rclpy.parameter import Parameter
        return self.node.set_parameters([Parameter(name, Parameter.Type.STRING_ARRAY, value)])[0]

    def close(self):
        self.node.destroy_node()
        self.col.destroy_node()


def _squares_frame():
    """128x96 grey frame: a white 32 px square (one grid cell at 64x48 input: "plate") at (32, 32) and a black one
    ("cartoon_face") at (64, 32)."""
    img = np.full((96, 128, 3), 128, np.uint8)
    img[32:64, 32:64] = 255
    img[32:64, 64:96] = 0
    return img


@pytest.mark.timeout(60)
def test_grid_model_labels_reach_class_id_and_class_filter_selects_them(ros_context, helpers, tmp_path):
    model = str(tmp_path / 'grid3.onnx')
    build_grid_onnx(model, make_manifest(width=64, height=48, labels=GRID_LABELS, cell=16), cell=16)
    g = _Detector(ros_context, 'multiclass_grid', helpers, {'model_path': model})
    try:
        dets = g.detect(_squares_frame())
        assert sorted(d[0] for d in dets) == ['cartoon_face', 'plate']
        boxes = {d[0]: d[1:5] for d in dets}
        np.testing.assert_allclose(boxes['plate'], [32, 32, 64, 64], atol=1e-3)
        np.testing.assert_allclose(boxes['cartoon_face'], [64, 32, 96, 64], atol=1e-3)
        # run time: a label of this model is accepted, one of another model refused with the reason
        bad = g.set('class_filter', ['face'])
        assert not bad.successful and "['face']" in bad.reason and 'cartoon_face' in bad.reason
        assert g.set('class_filter', ['cartoon_face']).successful
        assert [d[0] for d in g.detect(_squares_frame())] == ['cartoon_face']
        assert g.set('class_filter', ['plate', 'cartoon_face']).successful
        assert sorted(d[0] for d in g.detect(_squares_frame())) == ['cartoon_face', 'plate']
        assert g.set('class_filter', []).successful
        assert len(g.detect(_squares_frame())) == 2
    finally:
        g.close()
    g = _Detector(ros_context, 'multiclass_grid_start', helpers, {'model_path': model, 'class_filter': ['plate']})
    try:
        assert [d[0] for d in g.detect(_squares_frame())] == ['plate']
    finally:
        g.close()


def _exported_ssd(path):
    """A 3-class RFB SSD at 160x120 exported by face_ssd_training (random weights, seeded; class biases spread)."""
    torch = pytest.importorskip('torch')
    from face_ssd_training.export import export_onnx
    from face_ssd_training.manifest import make_manifest as training_manifest
    from face_ssd_training.models import InferenceModel, build_model
    torch.manual_seed(0)
    model = build_model('rfb', 3).eval()
    with torch.no_grad():   # class scores that differ from prior to prior (a fresh head scores ~1/3 everywhere)
        for head in model.conf_heads:
            last = head[-1] if isinstance(head, torch.nn.Sequential) else head
            last.bias.normal_(0.0, 1.5)
    manifest = training_manifest(model, ['background', 'my_face', 'nsf'], 160, 120, [127.0] * 3, [128.0] * 3)
    export_onnx(InferenceModel(model, 160, 120), manifest, path)
    return path


@pytest.mark.timeout(90)
def test_an_exported_multiclass_ssd_publishes_what_it_detects_offline(ros_context, helpers, tmp_path):
    from face_ssd_ros.detect.inference import FaceDetector
    model = _exported_ssd(str(tmp_path / 'identities.onnx'))
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (120, 160, 3)).astype(np.uint8)
    params = {'model_path': model, 'score_threshold': 0.5, 'max_detections': 400, 'num_threads': 1}
    g = _Detector(ros_context, 'multiclass_ssd', helpers, params)
    try:
        for class_filter in ([], ['nsf'], ['my_face']):
            assert g.set('class_filter', class_filter).successful
            published = g.detect(frame)
            with FaceDetector(model, score_threshold=0.5, max_detections=400, class_filter=class_filter or None,
                              num_threads=1) as offline:
                expected = [(d.label, d.x1, d.y1, d.x2, d.y2, d.score) for d in offline.detect(frame)[0]]
            assert published, class_filter
            assert [d[0] for d in published] == [e[0] for e in expected]
            np.testing.assert_allclose([d[1:] for d in published], [e[1:] for e in expected], rtol=1e-5, atol=1e-3)
            labels = set(d[0] for d in published)
            assert labels <= set(class_filter or ['my_face', 'nsf'])
            if not class_filter:
                assert labels == {'my_face', 'nsf'}
    finally:
        g.close()
