"""The ROS 2 nodes (rclpy): thin adapters over the rclpy-free modules, with parameters from config/."""
