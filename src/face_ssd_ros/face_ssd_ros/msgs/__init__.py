"""ROS messages (sensor_msgs Image / CompressedImage, vision_msgs) <-> numpy arrays and Detections; no rclpy."""
