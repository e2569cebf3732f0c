"""Two-process smoke check of the environment: `pubsub_check.py sub` and `pubsub_check.py pub`.

The publisher sends vision_msgs/Detection2DArray messages until the subscriber has seen one;
the subscriber exits 0 once it received an array with three detections, non-zero on timeout.
"""
import sys
import time

import rclpy
from rclpy.node import Node
from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose

TOPIC = 'face_ssd_setup_check'


def make_array():
    arr = Detection2DArray()
    arr.header.frame_id = 'camera'
    for i, label in enumerate(('face', 'plate', 'cartoon_face')):
        det = Detection2D()
        det.id = str(i)
        det.bbox.center.position.x = 10.0 * i
        det.bbox.size_x = det.bbox.size_y = 5.0
        hyp = ObjectHypothesisWithPose()
        hyp.hypothesis.class_id = label
        hyp.hypothesis.score = 0.9 - 0.2 * i
        det.results.append(hyp)
        arr.detections.append(det)
    return arr


def main(role, timeout=25.0):
    rclpy.init()
    node = Node('face_ssd_check_' + role)
    t0 = time.time()
    ok = True
    if role == 'pub':
        pub = node.create_publisher(Detection2DArray, TOPIC, 10)
        while pub.get_subscription_count() == 0 and time.time() - t0 < timeout:
            time.sleep(0.05)
        for _ in range(20):
            pub.publish(make_array())
            time.sleep(0.05)
    else:
        got = []
        node.create_subscription(Detection2DArray, TOPIC, got.append, 10)
        while not got and time.time() - t0 < timeout:
            rclpy.spin_once(node, timeout_sec=0.1)
        ok = bool(got) and len(got[0].detections) == 3
        print('pubsub_check: received %s' % ([d.results[0].hypothesis.class_id for d in got[0].detections] if got else 'nothing'))
    node.destroy_node()
    rclpy.shutdown()
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1]))
