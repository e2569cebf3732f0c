"""ROS messages (sensor_msgs Image and CompressedImage, vision_msgs) <-> numpy arrays and Detections; message packages only, no rclpy."""
