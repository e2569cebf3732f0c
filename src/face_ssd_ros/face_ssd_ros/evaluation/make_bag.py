"""face-ssd-make-bag: turn an annotated image set or an annotated video into an evaluation rosbag2.

    face-ssd-make-bag --wider data/wider_dev/wider_face_val_bbx_gt.txt --images data/wider_dev/images \\
        --image-list data/wider_dev/images.txt --wider-eval-gt data/wider_dev --out bags/wider_dev --storage mcap
    face-ssd-make-bag --voc data/VOC2007 --image-set test --labels person --out bags/voc_test
    face-ssd-make-bag --video walk.mp4 --annotations walk.csv --out bags/walk        # fps: the video's own

Per image the bag gets ``sensor_msgs/Image`` on ``--image-topic`` (with ``--image-format jpeg|png`` a
``sensor_msgs/CompressedImage`` instead, on ``--image-topic`` + ``/compressed`` unless the topic is given, as a
robot records it) and the ground truth as
``vision_msgs/Detection2DArray`` on ``--gt-topic`` (+ ``sensor_msgs/CameraInfo`` with ``--camera-info``), all with
the same header (stamp, ``--frame-id``) and log time. Stamps start at ``--start-time`` (default: now) and advance
by 1/``--fps``. The ground-truth encoding (ignore boxes, WIDER Easy / Medium / Hard) is described in
docs/ARCHITECTURE.md and :mod:`face_ssd_ros.evaluation.gt_encoding`. No rclpy needed (pure-Python ``rosbags``).
"""
import argparse
import itertools
import sys
import time

from face_ssd_ros.cli.args import number
from face_ssd_ros.evaluation import annotation_sources as sources
from face_ssd_ros.evaluation.bag_io import BagError, BagWriter, DEFAULT_TOPICS, IMAGE_FORMATS, STORAGES, \
    topic_name_problem

DEFAULT_FPS = 10.0


def read_list(path):
    """Relative image paths, one per line ('#' comments and blank lines skipped)."""
    with open(path) as f:
        return [ln.strip() for ln in f if ln.strip() and not ln.strip().startswith('#')]


def build_parser():
    p = argparse.ArgumentParser(prog='face-ssd-make-bag', description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=(
                                    'video annotations: CSV with header frame,x1,y1,x2,y2[,label][,ignore] (frame '
                                    '0-based, one row per box) or JSONL {"frame": N, "boxes": [[x1, y1, x2, y2, '
                                    '"face"], ...], "ignore": [false, ...]}'))
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument('--wider', metavar='BBX_GT_TXT', help='WIDER-format *_bbx_gt.txt (needs --images)')
    src.add_argument('--voc', metavar='ROOT', help='Pascal VOC folder (Annotations/, JPEGImages/)')
    src.add_argument('--video', metavar='FILE', help='video file (needs --annotations)')
    p.add_argument('--images', help='--wider: the images/ folder the bbx_gt paths are relative to')
    p.add_argument('--image-list', help='--wider: only these images (one relative path per line), in this order')
    p.add_argument('--wider-eval-gt', metavar='DIR', help='--wider: official eval_ground_truth folder (or the '
                   'dataset folder holding it): adds the Easy / Medium / Hard membership of every box')
    p.add_argument('--image-set', help='--voc: ImageSets/Main/<NAME>.txt (default: every annotation)')
    p.add_argument('--labels', help='--voc: comma-separated class names to keep (default: all)')
    p.add_argument('--annotations', help='--video: per-frame annotations (.csv or .jsonl, see below)')
    p.add_argument('--out', required=True, help='bag folder to create (must not exist)')
    p.add_argument('--storage', choices=STORAGES, default='sqlite3', help='rosbag2 storage (default sqlite3)')
    p.add_argument('--fps', type=number(float, 0.0, low_open=True), default=None,
                   help="frame rate of the stamps (default: the video's own rate, else %.0f)" % DEFAULT_FPS)
    p.add_argument('--start-time', type=number(float, 0.0), default=None,
                   help='stamp of the first frame in seconds since the epoch (default: now)')
    p.add_argument('--frame-id', default='camera', help='header frame_id (default camera)')
    p.add_argument('--encoding', choices=('rgb8', 'bgr8'), default='rgb8', help='image encoding (default rgb8)')
    p.add_argument('--image-format', choices=IMAGE_FORMATS, default='raw', help='raw = sensor_msgs/Image '
                   '(default); jpeg / png = sensor_msgs/CompressedImage, as image_transport "compressed" writes it')
    p.add_argument('--camera-info', action='store_true', help='also write sensor_msgs/CameraInfo (pinhole model)')
    p.add_argument('--max-frames', type=number(int, 0), default=0, help='stop after this many frames (0 = all)')
    p.add_argument('--image-topic', default=None, help='default %s (+ /compressed with --image-format jpeg|png)'
                   % DEFAULT_TOPICS['image'])
    p.add_argument('--gt-topic', default=DEFAULT_TOPICS['ground_truth'])
    p.add_argument('--camera-info-topic', default=DEFAULT_TOPICS['camera_info'])
    p.add_argument('--distro', default=None, help='ROS 2 distro of the message definitions (default $ROS_DISTRO, '
                   'else kilted)')
    p.add_argument('--quiet', action='store_true', help='no progress output')
    return p


def samples_from_args(args):
    """``(iterator of (name, image_rgb, GroundTruth), number of frames or None, source fps or 0)``."""
    if args.wider:
        if not args.images:
            raise sources.AnnotationError('--wider needs --images (the folder the bbx_gt paths are relative to)')
        listed = read_list(args.image_list) if args.image_list else None
        total = len(listed) if listed else len(sources.read_wider_bbx_gt(args.wider))
        return sources.wider_samples(args.wider, args.images, listed, args.wider_eval_gt), total, 0.0
    if args.voc:
        labels = [v.strip() for v in args.labels.split(',') if v.strip()] if args.labels else None
        return sources.voc_samples(args.voc, args.image_set, labels), None, 0.0
    if not args.annotations:
        raise sources.AnnotationError('--video needs --annotations (.csv or .jsonl)')
    return sources.video_samples(args.video, args.annotations), None, sources.video_fps(args.video)


def make_bag(samples, out, storage='sqlite3', fps=DEFAULT_FPS, start_time=None, frame_id='camera',
             encoding='rgb8', camera_info=False, topics=None, total=None, progress=None, distro=None,
             image_format='raw'):
    """Write ``samples`` (``(name, image_rgb, GroundTruth)``) into a new bag; returns ``(frames, boxes)``.

    Frame i is stamped ``start_time + i / fps`` (seconds; default start: now). ``progress(i, total, name)`` is
    called after each frame.
    """
    if not fps > 0:
        raise ValueError('fps must be > 0, got %r' % (fps,))
    start_ns = int(round((time.time() if start_time is None else start_time) * 1e9))
    period_ns = int(round(1e9 / fps))
    boxes = 0
    with BagWriter(out, storage=storage, topics=topics, camera_info=camera_info, encoding=encoding,
                   distro=distro, image_format=image_format) as bag:
        for i, (name, image, gt) in enumerate(samples):
            bag.write_frame(start_ns + i * period_ns, frame_id, image, gt)
            boxes += len(gt.boxes)
            if progress is not None:
                progress(i + 1, total, name)
        return bag.frames, boxes


def _progress_printer(quiet):
    if quiet:
        return None
    state = {'last': 0.0}

    def progress(i, total, name):
        now = time.monotonic()
        if now - state['last'] >= 1.0 or i == total:
            state['last'] = now
            sys.stderr.write('\r  %d%s frames (%s)   ' % (i, '/%d' % total if total else '', name[-40:]))
            sys.stderr.flush()
    return progress


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        samples, total, source_fps = samples_from_args(args)
        if args.max_frames > 0:
            samples = itertools.islice(samples, args.max_frames)
            total = min(total, args.max_frames) if total else args.max_frames
        fps = args.fps or source_fps or DEFAULT_FPS
        image_topic = args.image_topic or DEFAULT_TOPICS['image'] + ('' if args.image_format == 'raw' else
                                                                     '/compressed')
        topics = {'image': image_topic, 'ground_truth': args.gt_topic, 'camera_info': args.camera_info_topic}
        for key, topic in sorted(topics.items()):
            problem = topic_name_problem(topic)
            if problem:
                raise ValueError('--%s-topic: %s' % (key.replace('_', '-').replace('ground-truth', 'gt'), problem))
        frames, boxes = make_bag(samples, args.out, args.storage, fps, args.start_time, args.frame_id,
                                 args.encoding, args.camera_info, topics, total, _progress_printer(args.quiet),
                                 args.distro, args.image_format)
    except (sources.AnnotationError, BagError, ValueError, FileNotFoundError) as exc:
        print('face-ssd-make-bag: %s' % exc, file=sys.stderr)
        return 2
    if not args.quiet:
        sys.stderr.write('\n')
    if not frames:
        print('face-ssd-make-bag: no frame written to %s: the source holds no image (check its annotations and '
              'image folder)' % args.out, file=sys.stderr)
        return 2
    print('wrote %s (%s): %d frames, %d ground-truth boxes at %.3g fps; topics %s, %s%s'
          % (args.out, args.storage, frames, boxes, fps, image_topic, args.gt_topic,
             ', ' + args.camera_info_topic if args.camera_info else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
