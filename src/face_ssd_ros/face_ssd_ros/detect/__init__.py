"""The rclpy-free detection core: manifest, pre/post-processing, backends, engine cache, drawing, face-ssd-detect."""
