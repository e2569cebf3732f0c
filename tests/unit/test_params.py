"""params: the spec tables are exactly the node contract; validate / validate_class_filter reasons."""
import math

import pytest

from face_ssd_ros.config import params
from face_ssd_ros.config.params import (CAMERA_PARAMS, DETECTOR_PARAMS, OVERLAY_PARAMS, ParamSpec, find_spec, validate,
                                        validate_class_filter, validate_named)

RO, RW = True, False
QOS = ('string', None, None, ('best_effort', 'reliable'), RO)
# name: (type, min, max, choices, read_only) -- from the node parameter contract
CONTRACT = {
    'camera': {
        'source': ('string', None, None, None, RO),
        'source_type': ('string', None, None, ('auto', 'v4l2', 'gstreamer', 'csi', 'video', 'images'), RO),
        'csi_sensor_id': ('int', 0, 7, None, RO),
        'width': ('int', 0, 8192, None, RO),
        'height': ('int', 0, 8192, None, RO),
        'fps': ('double', 0.0, 240.0, None, RO),
        'publish_rate': ('double', -1.0, 1000.0, None, RW),
        'loop': ('bool', None, None, None, RW),
        'frame_id': ('string', None, None, None, RW),
        'encoding': ('string', None, None, ('rgb8', 'bgr8'), RW),
        'camera_info_url': ('string', None, None, None, RO),
        'qos_reliability': QOS,
        'reconnect_initial_delay': ('double', 0.05, 60.0, None, RW),
        'reconnect_max_delay': ('double', 0.1, 600.0, None, RW),
        'max_frames': ('int', 0, 10 ** 9, None, RW),
        'diagnostics_period': ('double', 0.1, 60.0, None, RW),
    },
    'detector': {
        'model_path': ('string', None, None, None, RO),
        'backend': ('string', None, None, ('auto', 'onnxruntime', 'tensorrt', 'torch'), RO),
        'score_threshold': ('double', 0.0, 1.0, None, RW),
        'nms_iou': ('double', 0.0, 1.0, None, RW),
        'max_detections': ('int', 1, 10000, None, RW),
        'class_filter': ('string_array', None, None, None, RW),
        'input_width': ('int', 0, 4096, None, RO),
        'input_height': ('int', 0, 4096, None, RO),
        'num_threads': ('int', 0, 64, None, RO),
        'allow_spinning': ('bool', None, None, None, RO),
        'image_transport': ('string', None, None, ('raw', 'compressed'), RO),
        'qos_reliability': QOS,
        'diagnostics_period': ('double', 0.1, 60.0, None, RW),
        'tracking': ('bool', None, None, None, RW),
        'track_match_iou': ('double', 0.01, 1.0, None, RW),
        'track_buffer': ('int', 0, 10000, None, RW),
        'track_min_hits': ('int', 1, 1000, None, RW),
        'track_low_threshold': ('double', 0.0, 1.0, None, RW),
        'managed': ('bool', None, None, None, RO),
        'autostart': ('bool', None, None, None, RO),
    },
    'overlay': {
        'cache_size': ('int', 1, 1000, None, RW),
        'draw_scores': ('bool', None, None, None, RW),
        'line_thickness': ('int', 1, 20, None, RW),
        'publish_compressed': ('bool', None, None, None, RW),
        'jpeg_quality': ('int', 1, 100, None, RW),
        'video_path': ('string', None, None, None, RO),
        'video_fps': ('double', 0.0, 240.0, None, RW),
        'image_transport': ('string', None, None, ('raw', 'compressed'), RO),
        'qos_reliability': QOS,
        'image_queue_depth': ('int', 1, 100, None, RO),
        'diagnostics_period': ('double', 0.1, 60.0, None, RW),
    },
}
TABLES = {'camera': CAMERA_PARAMS, 'detector': DETECTOR_PARAMS, 'overlay': OVERLAY_PARAMS}


@pytest.mark.parametrize('node', sorted(TABLES))
def test_tables_match_the_contract(node):
    table = TABLES[node]
    assert [s.name for s in table] == list(CONTRACT[node])
    for spec in table:
        assert (spec.type, spec.min, spec.max, spec.choices, spec.read_only) == CONTRACT[node][spec.name], spec.name
        assert spec.description and validate(spec, spec.default) is None, spec.name     # defaults are valid
        assert spec.runtime_changeable is (not spec.read_only)


def test_notable_defaults():
    d = params.defaults(CAMERA_PARAMS)
    assert d['frame_id'] == 'camera' and d['width'] == 0 and d['max_frames'] == 0
    d = params.defaults(DETECTOR_PARAMS)
    assert d['model_path'] == '' and d['class_filter'] == [] and d['input_width'] == 0 and d['backend'] == 'auto'
    assert d['allow_spinning'] is False   # ONNX Runtime threads sleep between frames unless asked otherwise
    assert d['tracking'] is True and d['managed'] is False and d['autostart'] is True
    assert set(params.TRACKING_PARAMS) <= set(d)
    assert d['image_transport'] == 'raw' == params.defaults(OVERLAY_PARAMS)['image_transport']


@pytest.mark.parametrize('name,value,words', [
    ('score_threshold', 2.0, 'score_threshold must be in [0.0, 1.0], got 2.0'),
    ('score_threshold', 'high', 'must be a number'),
    ('score_threshold', True, 'must be a number'),
    ('score_threshold', math.nan, 'finite'),
    ('max_detections', 0, 'max_detections must be in [1, 10000]'),
    ('max_detections', 5.0, 'must be an integer'),
    ('max_detections', False, 'must be an integer'),
    ('backend', 'cuda', 'backend must be one of auto, onnxruntime, tensorrt, torch'),
    ('class_filter', 'face', 'must be a list of strings'),
    ('class_filter', ['face', 3], 'must be a list of strings'),
    ('model_path', 3, 'must be a string'),
    ('model_path', 3, 'quote it to pass it as text: model_path:="\'3\'"'),     # ROS read model_path:=3 as YAML
    ('model_path', True, 'model_path:="\'true\'"'),
    ('qos_reliability', 'RELIABLE', 'best_effort, reliable'),
    ('image_transport', 'jpeg', 'image_transport must be one of raw, compressed'),
])
def test_validate_reasons(name, value, words):
    reason = validate(find_spec(DETECTOR_PARAMS, name), value)
    assert reason is not None and words in reason


def test_validate_accepts_valid_values():
    assert validate(find_spec(DETECTOR_PARAMS, 'score_threshold'), 1) is None        # int for a double is fine
    assert validate(find_spec(DETECTOR_PARAMS, 'score_threshold'), 0.0) is None
    assert validate(find_spec(DETECTOR_PARAMS, 'class_filter'), ('face',)) is None
    assert validate(find_spec(CAMERA_PARAMS, 'publish_rate'), -1.0) is None
    assert validate(find_spec(CAMERA_PARAMS, 'loop'), True) is None
    assert validate(find_spec(CAMERA_PARAMS, 'loop'), 1) is not None
    assert validate(ParamSpec('x', ['a'], 'd', 'string_array', choices=['a', 'b']), ['a', 'c']) is not None


def test_validate_named_and_find_spec():
    assert validate_named(OVERLAY_PARAMS, 'jpeg_quality', 90) == (True, '')
    ok, reason = validate_named(OVERLAY_PARAMS, 'jpeg_quality', 101)
    assert not ok and 'jpeg_quality' in reason
    ok, reason = validate_named(OVERLAY_PARAMS, 'no_such', 1)
    assert not ok and 'unknown parameter' in reason and 'cache_size' in reason
    with pytest.raises(KeyError):
        find_spec(CAMERA_PARAMS, 'score_threshold')
    with pytest.raises(ValueError, match='type'):
        ParamSpec('x', 1, 'd', 'float')


def test_validate_class_filter():
    labels = ('background', 'face', 'plate')
    assert validate_class_filter([], labels) is None
    assert validate_class_filter(['plate', 'face'], labels) is None
    reason = validate_class_filter(['face', 'cat'], labels)
    assert "['cat']" in reason and "'face', 'plate'" in reason
    assert validate_class_filter(['background'], labels) is not None
    assert validate_class_filter('face', labels) is not None
