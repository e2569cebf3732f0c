"""ROS parameter specs of the bag-evaluation nodes (replay_node, evaluator_node), in the format of
:mod:`face_ssd_ros.config.params` (same ParamSpec, same validation, same descriptors). No rclpy here."""
from face_ssd_ros.config.params import ParamSpec, QOS_CHOICES


def parse_fppi(text):
    """``"0.1, 0.5,1"`` -> ``(0.1, 0.5, 1.0)``; raises ValueError saying what is expected."""
    try:
        values = tuple(float(v) for v in str(text).split(',') if v.strip())
    except ValueError:
        raise ValueError('fppi must be comma-separated positive numbers such as "0.1,0.5,1", got %r' % (text,))
    if not values or any(not v > 0 for v in values):
        raise ValueError('fppi must be comma-separated positive numbers such as "0.1,0.5,1", got %r' % (text,))
    return values


REPLAY_MODES = ('lockstep', 'rate')

REPLAY_PARAMS = (
    ParamSpec('bag_path', '', 'rosbag2 folder to replay (sqlite3 or mcap), e.g. one written by face-ssd-make-bag',
              'string', read_only=True),
    ParamSpec('mode', 'lockstep', 'lockstep = publish the next image only after the detections of the previous one '
              'arrived (or lockstep_timeout passed: counted as a drop); rate = the recorded timing scaled by rate',
              'string', choices=REPLAY_MODES, read_only=True),
    ParamSpec('rate', 1.0, 'Playback speed multiplier of mode rate (2.0 = twice as fast)', 'double', min=0.01,
              max=100.0),
    ParamSpec('lockstep_timeout', 5.0, 'Seconds to wait for the detections of a frame in mode lockstep before '
              'counting it as dropped and moving on', 'double', min=0.05, max=600.0),
    ParamSpec('restamp', True, 'Stamp each frame (image, ground truth, camera_info alike) with the time it is '
              'published, so latency is measured from publication; false = keep the recorded stamps', 'bool',
              read_only=True),
    ParamSpec('image_topic_in_bag', '', 'Image topic inside the bag, sensor_msgs/Image (published on image_raw) or '
              'sensor_msgs/CompressedImage (published on image_raw/compressed); "" = the only one of either type',
              'string', read_only=True),
    ParamSpec('gt_topic_in_bag', '', 'Ground-truth Detection2DArray topic inside the bag ("" = the one ending in '
              'ground_truth, or the only one whose name does not end in detections; a bag without one is replayed '
              'without ground truth)', 'string', read_only=True),
    ParamSpec('camera_info_topic_in_bag', '', 'CameraInfo topic inside the bag ("" = the only one, if any)',
              'string', read_only=True),
    ParamSpec('min_subscribers', 1, 'Wait until the image topic and ground_truth (if any) each have at least this '
              'many subscribers (stable for 0.5 s) before the first frame (0 = start at once)', 'int', min=0, max=100,
              read_only=True),
    ParamSpec('max_frames', 0, 'Stop after this many frames (0 = the whole bag)', 'int', min=0, max=1000000000,
              read_only=True),
    ParamSpec('qos_reliability', 'reliable', 'QoS reliability of image_raw (reliable suits an evaluation: no frame '
              'lost in transport; best_effort = sensor-data style)', 'string', choices=QOS_CHOICES,
              read_only=True),
)


def check_fppi(value):
    """Extra check of the evaluator's ``fppi`` parameter: reason or None."""
    try:
        parse_fppi(value)
    except ValueError as exc:
        return str(exc)
    return None


EVALUATOR_PARAMS = (
    ParamSpec('output_dir', 'bag_eval_report', 'Folder of the reports (NAME.json, NAME.md, NAME_pr.png); relative '
              'paths are relative to the working directory', 'string', read_only=True),
    ParamSpec('report_name', 'bag_eval', 'File name stem of the reports', 'string', read_only=True),
    ParamSpec('iou_threshold', 0.5, 'IoU of a true positive (VOC AP, recall at FPPI; the WIDER protocol always '
              'uses 0.5)', 'double', min=0.05, max=0.95),
    ParamSpec('fppi', '0.1,0.5,1', 'False positives per image at which recall is reported (comma-separated)',
              'string'),
    ParamSpec('use_07_metric', False, '11-point VOC2007 AP instead of the area under the curve', 'bool'),
    ParamSpec('cache_size', 1000, 'Frames each stream may wait for its partner of the same stamp (an evicted '
              'ground truth counts as dropped)', 'int', min=1, max=1000000, read_only=True),
    ParamSpec('drain_timeout', 3.0, 'Seconds to wait after replay_done for the last detection arrays before '
              'writing the reports', 'double', min=0.0, max=600.0),
    ParamSpec('exit_when_done', True, 'Stop the node once the reports of a finished replay are written', 'bool'),
    ParamSpec('plot', True, 'Write the PR-curve PNG (needs matplotlib)', 'bool'),
)
