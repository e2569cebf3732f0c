"""Where every frame of a run went: processed and written, or dropped with the reason (rclpy-free).

The in-process runner ends a run with this account, from the counters its nodes keep:

* camera: ``published`` frames;
* detector: ``frames_received``, ``frames_processed`` and ``skipped_<reason>`` counters (its image queue keeps only
  the newest frame, so a frame published while it is busy can be replaced before it is taken);
* overlay (optional): :meth:`face_ssd_ros.nodes.overlay_node.OverlayNode.accounting` - arrays received, frames
  annotated and written to the video, arrays whose image it never received, items still waiting for a partner.

``published = processed + skipped + not received by the detector`` always holds; a detector that received more
frames than this camera published was fed by another publisher too (two pipelines in one ROS domain), which is
reported instead of hidden. On the overlay side every processed frame is annotated, or its array is counted as
without image (the image never reached the overlay) or as still waiting at the end.
"""
import collections

#: Why a frame published by the camera never reached the detector.
NOT_RECEIVED_REASON = ('not received by the detector: its image queue keeps only the newest frame, so frames that '
                       'arrive while it is busy are replaced (best-effort transport may also lose some)')


def skipped_by_reason(counters):
    """``{reason: count}`` of a detector's ``skipped_<reason>`` counters (non-zero ones, sorted by reason)."""
    return collections.OrderedDict((k[len('skipped_'):], int(v)) for k, v in sorted(counters.items())
                                   if k.startswith('skipped_') and v)


def frame_accounting(published, detector_counters, overlay=None):
    """The account of a run (see the module docstring) as an OrderedDict.

    ``published``: frames the camera published (None without a camera); ``detector_counters``: the detector's
    counters dict; ``overlay``: None or a dict with ``arrays_received``, ``annotated``, ``written`` (None = no
    video), ``arrays_without_image``, ``pending_arrays``, optional ``undrawable``. Keys: ``published``, ``received``, ``processed``,
    ``skipped`` ({reason: n}), ``not_received`` (published - received, >= 0), ``from_other_publishers``
    (received - published, >= 0), ``complete`` (True when the detector side adds up), then with an overlay
    ``annotated``, ``written``, ``arrays_without_image``, ``pending_arrays``, ``arrays_not_delivered``
    (processed arrays the overlay never received), ``undrawable`` (paired, but the image did not decode).
    """
    c = dict(detector_counters or {})
    received = int(c.get('frames_received', 0))
    processed = int(c.get('frames_processed', 0))
    skipped = skipped_by_reason(c)
    out = collections.OrderedDict([('published', published), ('received', received), ('processed', processed),
                                   ('skipped', skipped)])
    if published is None:
        out['not_received'] = out['from_other_publishers'] = None
    else:
        out['not_received'] = max(0, int(published) - received)
        out['from_other_publishers'] = max(0, received - int(published))
    out['complete'] = received == processed + sum(skipped.values()) and (
        published is None or int(published) == processed + sum(skipped.values()) + out['not_received']
        - out['from_other_publishers'])
    if overlay is not None:
        o = dict(overlay)
        out['annotated'] = int(o.get('annotated', 0))
        out['written'] = o.get('written')
        out['arrays_without_image'] = int(o.get('arrays_without_image', 0))
        out['pending_arrays'] = int(o.get('pending_arrays', 0))
        out['arrays_not_delivered'] = max(0, processed - int(o.get('arrays_received', 0)))
        out['undrawable'] = int(o.get('undrawable', 0))
    return out


def format_accounting(acc):
    """Human lines of a :func:`frame_accounting` result (each starts with two spaces)."""
    lines = []
    skipped = acc['skipped']
    skipped_text = ' + %d skipped (%s)' % (sum(skipped.values()), ', '.join('%s=%d' % kv for kv in skipped.items())) \
        if skipped else ' + 0 skipped'
    if acc['published'] is not None:
        lines.append('  frame accounting: %d published = %d processed%s + %d %s' % (
            acc['published'], acc['processed'], skipped_text, acc['not_received'], NOT_RECEIVED_REASON))
        if acc['from_other_publishers']:
            lines.append('  WARNING: the detector received %d frame(s) more than this camera published: another '
                         'publisher feeds the same image topic (run each pipeline in its own namespace: '
                         '--namespace NAME)' % acc['from_other_publishers'])
    if 'annotated' in acc:
        video = '' if acc['written'] is None else ', %d written to the video' % acc['written']
        lines.append('  overlay: %d of %d processed frames annotated%s; dropped: %d whose image never reached the '
                     'overlay (replaced in its image queue or lost in transport), %d arrays never received, %d '
                     'still waiting at the end' % (acc['annotated'], acc['processed'], video,
                                                   acc['arrays_without_image'], acc['arrays_not_delivered'],
                                                   acc['pending_arrays']))
        if acc.get('undrawable'):
            lines.append('  overlay: %d frame(s) paired but not drawn: the image did not decode (damaged '
                         'CompressedImage)' % acc['undrawable'])
    return lines
