"""Frame capture (V4L2, GStreamer, Jetson CSI, video file, image folder), calibration and image-file decoding, rclpy-free.

``decode`` turns JPEG / PNG bytes into frames and refuses truncated files (shared with face-ssd-detect and msgs).
"""
