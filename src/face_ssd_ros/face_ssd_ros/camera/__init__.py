"""Frame capture (V4L2, GStreamer, Jetson CSI, video file, image folder) and camera calibration, rclpy-free."""
