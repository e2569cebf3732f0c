"""The bag-evaluation modules follow the runtime rules of tests/unit/test_runtime_compat.py (which checks their
syntax and rclpy use with every other module) and import nothing heavy: torch, onnxruntime, matplotlib, rclpy."""
import test_runtime_compat as compat


def test_import_has_no_heavy_side_effects():
    loaded = compat.modules_loaded_by(['face_ssd_ros.evaluation.make_bag', 'face_ssd_ros.evaluation.bag_eval',
                                       'face_ssd_ros.evaluation.bag_metrics', 'face_ssd_ros.config.bag_params',
                                       'face_ssd_ros.config.pipeline'],
                                      ['rclpy', 'torch', 'onnxruntime', 'matplotlib', 'scipy', 'face_ssd_training'])
    assert loaded == [], 'importing the bag modules pulled in %s' % loaded
