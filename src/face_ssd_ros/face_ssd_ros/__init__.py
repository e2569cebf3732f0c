"""face_ssd_ros: ROS 2 nodes and rclpy-free runtime modules for SSD face detection.

Importing this package (or any module but ``face_ssd_ros.nodes.*`` and ``face_ssd_ros.runner``)
does not import rclpy, so the pre/post-processing, backends and conversions run anywhere.
"""

__version__ = '0.1.0'
