"""A detector node wired to a test node, in one rclpy context (shared by the integration tests).

:class:`DetectorGraph` builds the detector from the pipeline description (``build_pipeline``), a collector node
(``helpers.make_collector``) that publishes the detector's input with reliable QoS and collects ``detections``, and
one executor for both. :meth:`DetectorGraph.publish` sends a message and waits until the detector has received it.
"""


class DetectorGraph(object):
    """``msg_type`` on ``input_topic`` (relative to the collector's namespace ``/<namespace>`` or absolute) feeds a
    detector built with ``overrides`` (plus the model and reliable QoS) and ``image_topic`` (None = the pipeline's).
    """

    def __init__(self, context, namespace, helpers, model_path, msg_type, input_topic, overrides=None,
                 image_topic=None):
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import QoSProfile, ReliabilityPolicy

        from face_ssd_ros import runner
        from face_ssd_ros.config.pipeline import build_pipeline
        settings = {'detector.model_path': model_path, 'detector.qos_reliability': 'reliable'}
        settings.update(overrides or {})
        kwargs = {'image_topic': image_topic} if image_topic else {}
        desc = build_pipeline(namespace=namespace, nodes=['detector'], overrides=settings, **kwargs)
        self.detector = runner.create_nodes(desc, context)['detector']
        self.col = helpers.make_collector(context, '/' + namespace)
        self.pub = self.col.create_publisher(msg_type, input_topic,
                                             QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE))
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.detector)
        self.executor.add_node(self.col)
        self.helpers = helpers
        self.wait(lambda: self.pub.get_subscription_count() >= 1, 'the detector subscription')

    def spin(self):
        self.executor.spin_once(timeout_sec=0.05)

    def wait(self, predicate, what, timeout=20):
        self.helpers.wait_for(predicate, timeout, what, spin=self.spin)

    def publish(self, msg, sec, nanosec, frame_id):
        """Stamp ``msg`` (sec, nanosec, frame_id), publish it and wait until the detector has received it."""
        msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id = sec, nanosec, frame_id
        before = self.detector.stats.counter('frames_received')
        self.pub.publish(msg)
        self.wait(lambda: self.detector.stats.counter('frames_received') > before, 'frame %d to arrive' % sec)

    def counter(self, name):
        return self.detector.stats.counter(name)

    def close(self):
        self.detector.destroy_node()
        self.col.destroy_node()
