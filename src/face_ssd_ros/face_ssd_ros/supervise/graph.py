"""Who feeds a node's input topic, and why nothing flows: told once, in words, and counted (rclpy-free).

ROS topics are shared by everything in a ROS domain. Two pipelines started without namespaces therefore mix their
frames: each detector processes both cameras, each overlay draws the other pipeline's boxes. Nothing fails, so it
must be said. :class:`SourceWatch` watches one input topic of a node:

* :meth:`SourceWatch.observe` per received message: its ``frame_id`` and, where the ROS distro hands it out
  (rclpy's message info, Iron and newer), the sending publisher's id and sequence number. More than one frame_id or
  publisher within ``window_s`` means mixed input. Sequence gaps of a publisher count frames it sent that never
  arrived (``frames_missed``).
* :meth:`SourceWatch.graph` with the topic's publishers from the ROS graph (every distro): more than
  ``expected_publishers`` is a neighbour.

Each returns a warning the first time (then only the counters grow; :meth:`SourceWatch.counters` goes to
``/diagnostics``). :func:`qos_mismatch_text` explains an incompatible-QoS event: both sides' values of the policy
that does not match, and what to set.
"""
import collections

NAMESPACE_HINT = ('run each pipeline in its own namespace (face_ssd_pipeline --namespace NAME; ros2 launch ... '
                  'namespace:=NAME) or its own ROS_DOMAIN_ID')


def gid_key(gid):
    """A hashable id of a publisher gid as rclpy hands it out (dict with ``data``, bytes, list), or None."""
    if gid is None:
        return None
    if isinstance(gid, dict):
        gid = gid.get('data', gid.get('gid'))
        if gid is None:
            return None
    try:
        return bytes(bytearray(gid))
    except (TypeError, ValueError):
        return repr(gid)


class SourceWatch(object):
    """The senders of one input topic (see the module docstring).

    ``topic``: the topic name (for messages); ``what``: the node's part, e.g. 'this detector'; ``expected_publishers``:
    publishers this node expects on the topic (1: one camera); ``window_s``: how long a frame_id or publisher counts as
    active after its last message.
    """

    def __init__(self, topic, what='this node', expected_publishers=1, window_s=2.0):
        self.topic = topic
        self.what = what
        self.expected_publishers = int(expected_publishers)
        self.window_s = float(window_s)
        self.graph_publishers = None       # publisher count of the last graph() call
        self.mixed_frames = 0              # messages received while more than one source was active
        self.frames_missed = 0             # sequence gaps of the publishers (rclpy with message info only)
        self._frame_ids = collections.OrderedDict()   # frame_id -> last seen (s)
        self._senders = collections.OrderedDict()     # publisher key -> [last seen (s), last sequence]
        self._seen_frame_ids = set()
        self._seen_senders = set()
        self._last_frame_id = None
        self._last_sender = None
        self._warned = set()

    # ------------------------------------------------------------------ per message
    def observe(self, frame_id, now, publisher=None, sequence=None):
        """One received message. Returns a warning text the first time the input is mixed, else None.

        Mixed = the message comes from a frame_id (or publisher) other than the previous message's, one that was
        active within ``window_s`` already: sources that alternate. A camera whose frame_id is changed, or a
        camera restarted (a new publisher), only switches once and is not mixed input.
        """
        self._expire(now)
        key = gid_key(publisher)
        back = (frame_id != self._last_frame_id and frame_id in self._frame_ids) or (
            key is not None and key != self._last_sender and key in self._senders)
        self._frame_ids[frame_id] = now
        self._seen_frame_ids.add(frame_id)
        self._last_frame_id = frame_id
        if key is not None:
            entry = self._senders.get(key)
            last_sequence = entry[1] if entry is not None else None
            if sequence is not None and last_sequence is not None and sequence > last_sequence + 1:
                self.frames_missed += int(sequence - last_sequence - 1)
            self._senders[key] = [now, sequence if sequence is not None else last_sequence]
            self._seen_senders.add(key)
            self._last_sender = key
        if not back:
            return None
        self.mixed_frames += 1
        if 'mixed' in self._warned:
            return None
        self._warned.add('mixed')
        ids, senders = len(self._frame_ids), len(self._senders)
        what = ('%d frame_ids (%s)' % (ids, ', '.join(repr(f) for f in self._frame_ids)) if ids > 1
                else '%d publishers' % senders)
        return ('%s receives frames from %s on %s at the same time: another pipeline (or camera) in this ROS '
                'domain feeds the same topic, and %s processes both. If that is not intended, %s. Counted on '
                '/diagnostics (frames_from_mixed_sources).' % (self.what, what, self.topic, self.what, NAMESPACE_HINT))

    def _expire(self, now):
        for table in (self._frame_ids, self._senders):
            for key in [k for k, v in table.items() if now - (v[0] if isinstance(v, list) else v) > self.window_s]:
                del table[key]

    # ------------------------------------------------------------------ the ROS graph
    def graph(self, publisher_names):
        """The topic's publishers from the ROS graph (node names, e.g. '/camera'). Returns a warning text the
        first time there are more than ``expected_publishers``, else None."""
        names = list(publisher_names)
        self.graph_publishers = len(names)
        if len(names) > self.expected_publishers and 'graph' not in self._warned:
            self._warned.add('graph')
            return neighbour_text(self.topic, names, self.expected_publishers, self.what)
        return None

    def counters(self):
        """``[(key, value)]`` for /diagnostics: input_publishers (graph; -1 before the first check),
        frame_ids_seen, publishers_seen (0 where the distro gives no publisher id), frames_from_mixed_sources,
        frames_missed."""
        return [('input_publishers', -1 if self.graph_publishers is None else self.graph_publishers),
                ('frame_ids_seen', len(self._seen_frame_ids)), ('publishers_seen', len(self._seen_senders)),
                ('frames_from_mixed_sources', self.mixed_frames), ('frames_missed', self.frames_missed)]

    @property
    def mixed(self):
        """True once mixed input or a neighbour publisher was seen."""
        return bool(self.mixed_frames) or (self.graph_publishers or 0) > self.expected_publishers


def neighbour_text(topic, publisher_names, expected, what='this pipeline'):
    """Warning for a topic that has more publishers than ``expected`` (names from the ROS graph)."""
    names = list(publisher_names)
    return ('%s has %d publishers (%s) where %s expects %d: two pipelines in one ROS domain mix their data on shared '
            'topics. If that is not intended, %s.' % (topic, len(names), ', '.join(names) or '?', what, expected,
                                                       NAMESPACE_HINT))


# ---------------------------------------------------------------------------------------------- QoS
#: The QoS policies whose values are compared, as QoSProfile attribute names.
QOS_FIELDS = ('reliability', 'durability', 'liveliness', 'history', 'depth', 'deadline', 'lifespan',
              'liveliness_lease_duration')
_POLICY_FIELDS = {'RELIABILITY': ('reliability',), 'DURABILITY': ('durability',), 'LIVELINESS':
                  ('liveliness', 'liveliness_lease_duration'), 'DEADLINE': ('deadline',), 'LIFESPAN': ('lifespan',),
                  'HISTORY': ('history', 'depth'), 'DEPTH': ('depth',)}


def incompatible_policies(offered, requested):
    """Policies (upper-case names) for which a publisher offering ``offered`` cannot serve a subscription
    requesting ``requested`` (dicts of lower-case values: reliability 'reliable' | 'best_effort', durability
    'transient_local' | 'volatile', liveliness 'automatic' | 'manual_by_topic'). The rules of DDS: a reliable
    subscription needs a reliable publisher, a transient_local one a transient_local publisher, a manual_by_topic
    one a manual_by_topic publisher."""
    out = []
    if requested.get('reliability') == 'reliable' and offered.get('reliability') == 'best_effort':
        out.append('RELIABILITY')
    if requested.get('durability') == 'transient_local' and offered.get('durability') == 'volatile':
        out.append('DURABILITY')
    if requested.get('liveliness') == 'manual_by_topic' and offered.get('liveliness') == 'automatic':
        out.append('LIVELINESS')
    return out


def _values(profile, policy):
    fields = _POLICY_FIELDS.get(policy, ('reliability', 'durability'))
    return ', '.join('%s=%s' % (f, profile.get(f, '?')) for f in fields)


def qos_mismatch_text(topic, role, policy, own, others):
    """One line for an incompatible-QoS event.

    ``role``: 'subscription' (ours asks, a publisher offers) or 'publisher' (ours offers, a subscription asks);
    ``policy``: the policy the event names (e.g. 'RELIABILITY'; from rclpy's ``last_policy_kind``); ``own``: our
    profile as a dict (see :func:`incompatible_policies`); ``others``: ``[(node name, profile dict)]`` of the
    endpoints on the other side (from the ROS graph); those that do not match are named.
    """
    policy = (policy or 'RELIABILITY').upper()
    if role == 'subscription':
        bad = [(name, p) for name, p in others if incompatible_policies(p, own)]
        ours = 'this subscription requests %s' % _values(own, policy)
        theirs = ', '.join('publisher %s offers %s' % (name, _values(p, policy)) for name, p in bad) \
            or 'a publisher offers an incompatible %s' % policy.lower()
        effect = 'it receives nothing from %s' % ('them' if len(bad) > 1 else 'it')
    else:
        bad = [(name, p) for name, p in others if incompatible_policies(own, p)]
        ours = 'this publisher offers %s' % _values(own, policy)
        theirs = ', '.join('subscription %s requests %s' % (name, _values(p, policy)) for name, p in bad) \
            or 'a subscription requests an incompatible %s' % policy.lower()
        effect = '%s receive%s nothing from it' % ('they' if len(bad) > 1 else 'it', '' if len(bad) > 1 else 's')
    hint = ('set qos_reliability to the same value on both sides (best_effort everywhere is the default; a '
            'best_effort subscription also takes a reliable publisher)' if policy == 'RELIABILITY'
            else 'make the %s policies of both sides compatible' % policy.lower())
    return 'QoS mismatch on %s (%s): %s, %s: %s. Fix: %s.' % (topic, policy, ours, theirs, effect, hint)
