"""Detector + overlay on an existing image topic (any camera driver, a rosbag, ...).

    ros2 launch face_ssd_ros detector.launch.py image_topic:=/usb_cam/image_raw model_path:=/models/face.onnx

`image_topic` remaps image_raw of both nodes; `image_transport:=compressed` makes them read sensor_msgs/CompressedImage
on IMAGE_TOPIC/compressed (a robot's bag played with ros2 bag play, docs/BAG_EVAL.md). Parameters come from
face_ssd_ros.config.pipeline (config/pipeline.yaml).
"""
from face_ssd_ros.config.pipeline import launch_description


def generate_launch_description():
    return launch_description(nodes=('detector', 'overlay'), image_topic_default='image_raw')
