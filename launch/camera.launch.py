"""Camera only: publishes image_raw + camera_info.

    ros2 launch face_ssd_ros camera.launch.py source:=/dev/video0
    ros2 launch face_ssd_ros camera.launch.py params_file:=<share>/config/csi_camera.yaml   # Jetson CSI camera

Parameters come from face_ssd_ros.config.pipeline (config/pipeline.yaml), like the full pipeline.
Every argument (`--show-args`) and parameter: docs/PARAMETERS.md.
"""
from face_ssd_ros.config.pipeline import launch_description


def generate_launch_description():
    return launch_description(nodes=('camera',))
