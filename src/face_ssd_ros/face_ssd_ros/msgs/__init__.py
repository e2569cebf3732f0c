"""ROS messages (sensor_msgs, vision_msgs) <-> numpy arrays and Detections; message packages only, no rclpy."""
