"""Offline evaluation: rosbag2 I/O, evaluation bags, metrics (VOC, WIDER FACE), reports; rclpy-free."""
