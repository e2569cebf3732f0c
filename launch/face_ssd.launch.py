"""Full face_ssd pipeline: camera_node -> detector_node -> overlay_node.

    ros2 launch face_ssd_ros face_ssd.launch.py source:=/dev/video0 score_threshold:=0.5 namespace:=front

The node list, parameters and remappings come from face_ssd_ros.config.pipeline (config/pipeline.yaml), the same
description the in-process runner (face_ssd_pipeline) uses. `ros2 launch ... --show-args` lists the arguments.
Every argument (`--show-args`) and parameter: docs/PARAMETERS.md.
"""
from face_ssd_ros.config.pipeline import launch_description


def generate_launch_description():
    return launch_description(nodes=('camera', 'detector', 'overlay'))
