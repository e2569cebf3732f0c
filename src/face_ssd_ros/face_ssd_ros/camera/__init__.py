"""Frame capture (V4L2, GStreamer, Jetson CSI, video file, image folder), camera calibration and encoded-image decoding (JPEG / PNG bytes, truncated files refused), rclpy-free."""
