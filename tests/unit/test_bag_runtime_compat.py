"""The bag-evaluation modules follow the runtime rules of tests/unit/test_runtime_compat.py: Python 3.8 syntax,
no rclpy outside nodes/, no heavy imports (torch, onnxruntime, matplotlib, rclpy) at import time."""
import pytest

import test_runtime_compat as compat

RCLPY_FREE = ['gt_encoding', 'bag_io', 'bag_metrics', 'bag_report', 'bag_params', 'bag_eval', 'make_bag',
              'annotation_sources', 'metrics/__init__', 'metrics/boxes', 'metrics/voc', 'metrics/wider',
              'metrics/plots']
NODES = ['nodes/replay_node', 'nodes/evaluator_node', 'pipeline', 'runner']


@pytest.mark.parametrize('name', RCLPY_FREE + NODES)
def test_python38_syntax(name):
    compat.test_python38_syntax_and_no_new_apis(name)


@pytest.mark.parametrize('name', RCLPY_FREE)
def test_no_rclpy(name):
    compat.test_core_does_not_import_rclpy(name)


def test_import_has_no_heavy_side_effects():
    loaded = compat.modules_loaded_by(['face_ssd_ros.make_bag', 'face_ssd_ros.bag_eval', 'face_ssd_ros.bag_metrics',
                                       'face_ssd_ros.bag_params', 'face_ssd_ros.pipeline'],
                                      ['rclpy', 'torch', 'onnxruntime', 'matplotlib', 'scipy', 'face_ssd_training'])
    assert loaded == [], 'importing the bag modules pulled in %s' % loaded
