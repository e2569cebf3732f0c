"""How a running pipeline is supervised (rclpy-free): SIGINT/SIGTERM as one stop request (``stop``), where every
frame went (``accounting``), who feeds its topics and why nothing flows (``graph``), frame buffers kept in the heap
(``memory``)."""
