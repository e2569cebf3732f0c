"""Evaluate a model on a bag: replay_node -> detector_node -> evaluator_node (reports in output_dir).

    ros2 launch face_ssd_ros bag_eval.launch.py bag:=/data/bags/wider_dev model_path:=/models/face.onnx \
        output_dir:=/tmp/eval replay_mode:=lockstep

Parameters come from face_ssd_ros.config.pipeline (config/bag_eval.yaml), the description the in-process runner
(face_ssd_pipeline --bag ...) uses too. See docs/BAG_EVAL.md.
Every argument (`--show-args`) and parameter: docs/PARAMETERS.md.
"""
from face_ssd_ros.config.pipeline import BAG_EVAL_CONFIG, BAG_EVAL_NODES, launch_description


def generate_launch_description():
    return launch_description(nodes=BAG_EVAL_NODES, config_name=BAG_EVAL_CONFIG)
