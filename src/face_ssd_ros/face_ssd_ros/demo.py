"""Demo: the full pipeline on footage made from a real photo, with the shipped default model.

    python -m face_ssd_ros.demo            (or: face_ssd_demo, make demo)

1. Builds ``out/demo/footage.mp4`` if absent: scikit-image's public-domain astronaut portrait
   (``skimage.data.astronaut()``, Eileen Collins, NASA) in three copies of different sizes, hung on a brick wall
   (``skimage.data.brick()``), filmed by a slowly panning and zooming virtual camera (640x480, 20 fps, 4 s).
   Nothing is downloaded; the photos ship inside the scikit-image package.
2. Runs camera (the video file) -> detector -> overlay in-process (face_ssd_ros.runner), writing
   ``out/demo/annotated.mp4``, ``out/demo/detections.jsonl`` and ``out/demo/annotated_frame.png``.
3. Prints frames, faces, FPS and per-stage latency.
"""
import argparse
import os
import sys

import cv2
import numpy as np

from face_ssd_ros.cli.args import number
from face_ssd_ros.cli.outputs import output_folder_problem
from face_ssd_ros.config.pipeline import PipelineConfigError, build_pipeline

WIDTH, HEIGHT = 640, 480
CANVAS_W, CANVAS_H = 1120, 800
#: (left, top, scale) of each astronaut copy on the wall; her face spans about x 175-275, y 65-185 of 512 px.
PLACEMENTS = ((60, 170, 1.0), (620, 90, 0.55), (860, 470, 0.35))
#: x1, y1, x2, y2 of the face in the 512x512 astronaut photo (hairline to chin, ear to ear).
FACE_IN_PORTRAIT = (175.0, 65.0, 275.0, 185.0)
#: the runner's executor kinds (face_ssd_ros.runner.EXECUTORS; not imported: building footage needs no rclpy)
EXECUTORS = ('auto', 'events', 'single', 'multi')


def _load_skimage():
    try:
        from skimage import data
    except ImportError:
        raise SystemExit('the demo footage is made from scikit-image\'s sample photos: pip install scikit-image')
    return data


def build_scene():
    """The wall with three astronaut portraits: np.uint8 [CANVAS_H, CANVAS_W, 3] BGR."""
    data = _load_skimage()
    brick = data.brick()
    reps = (CANVAS_H // brick.shape[0] + 1, CANVAS_W // brick.shape[1] + 1)
    wall = np.tile(brick, reps)[:CANVAS_H, :CANVAS_W].astype(np.float32)
    tint = np.array([0.55, 0.62, 0.8], np.float32)  # warm brick colour, BGR
    scene = np.clip(wall[:, :, None] * tint[None, None, :] + 20, 0, 255).astype(np.uint8)
    portrait = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    for left, top, scale in PLACEMENTS:
        size = int(round(portrait.shape[0] * scale))
        photo = cv2.resize(portrait, (size, size), interpolation=cv2.INTER_AREA)
        border = max(3, size // 40)
        cv2.rectangle(scene, (left - border, top - border), (left + size + border - 1, top + size + border - 1),
                      (235, 235, 235), -1)  # a white frame around each photo
        scene[top:top + size, left:left + size] = photo
    return scene


def camera_path(t):
    """Crop ``(x, y, w, h)`` of the virtual camera at ``t`` in [0, 1]: zooms in from 1000 to 840 px wide while
    panning right and up; every portrait stays in view."""
    w = 1000.0 - 160.0 * t
    h = w * HEIGHT / WIDTH
    cx = 570.0 + 20.0 * t
    cy = 410.0 - 30.0 * t
    x = int(round(min(max(cx - w / 2, 0), CANVAS_W - w)))
    y = int(round(min(max(cy - h / 2, 0), CANVAS_H - h)))
    return x, y, int(round(w)), int(round(h))


def face_boxes(crop):
    """True face boxes in a frame filmed with camera crop ``(x, y, w, h)`` (from :func:`camera_path`): float64
    ``[len(PLACEMENTS), 4]`` x1, y1, x2, y2 in pixels of the WIDTH x HEIGHT frame, one row per portrait (its index
    is the face's identity). The footage only pans and zooms, so this is exact up to the resampling."""
    x, y, w, h = crop
    sx, sy = WIDTH / float(w), HEIGHT / float(h)
    rows = []
    for left, top, scale in PLACEMENTS:
        fx1, fy1, fx2, fy2 = [v * scale for v in FACE_IN_PORTRAIT]
        rows.append([(left + fx1 - x) * sx, (top + fy1 - y) * sy, (left + fx2 - x) * sx, (top + fy2 - y) * sy])
    return np.array(rows, dtype=np.float64)


def footage_frames(seconds, fps):
    """Number of frames of footage ``seconds`` long at ``fps`` (at least 2)."""
    return max(2, int(round(seconds * fps)))


def frame_times(count):
    """``t`` in [0, 1] of each of ``count`` footage frames (the argument of :func:`camera_path`)."""
    return [i / (count - 1.0) for i in range(count)]


def build_footage(path, seconds=4.0, fps=20.0):
    """Write the demo video (640x480, mp4v) to ``path``; returns the number of frames."""
    scene = build_scene()
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, '.footage_tmp.mp4')
    writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*'mp4v'), fps, (WIDTH, HEIGHT))
    if not writer.isOpened():
        raise SystemExit('cannot write %s: check that the folder is writable' % path)
    count = footage_frames(seconds, fps)
    for t in frame_times(count):
        x, y, w, h = camera_path(t)
        writer.write(cv2.resize(scene[y:y + h, x:x + w], (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA))
    writer.release()
    os.replace(tmp, path)  # never leave a half-written footage file behind
    return count


def build_arg_parser():
    parser = argparse.ArgumentParser(prog='face_ssd_demo', description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', default=os.path.join('out', 'demo'), help='output folder (default out/demo)')
    parser.add_argument('--model', default='', help='model file ("" = the shipped default model)')
    parser.add_argument('--rebuild', action='store_true', help='rebuild the footage even if it exists')
    parser.add_argument('--seconds', type=number(float, 0.0, low_open=True), default=4.0,
                        help='footage length when it is built')
    parser.add_argument('--fps', type=number(float, 0.0, low_open=True), default=20.0,
                        help='footage frame rate when it is built')
    parser.add_argument('--score-threshold', type=float, default=None, help='detector score threshold')
    parser.add_argument('--executor', choices=EXECUTORS, default='auto',
                        help="as face_ssd_pipeline's: auto (default: $FACE_SSD_EXECUTOR, else rclpy's events executor "
                             'where it has one, else single), events, single or multi')
    return parser


def main(argv=None):
    from face_ssd_ros.nodes.common import StartupError  # rclpy only here: building footage needs no ROS
    from face_ssd_ros.runner import format_summary, run

    parser = build_arg_parser()
    args = parser.parse_args(argv)
    problem = output_folder_problem(args.out)
    if problem:
        parser.error('--out %s %s' % (args.out, problem))
    footage = os.path.join(args.out, 'footage.mp4')
    if args.rebuild or not os.path.isfile(footage):
        n = build_footage(footage, args.seconds, args.fps)
        print('demo: built %s (%d frames, %dx%d, %.0f fps) from skimage.data.astronaut()'
              % (footage, n, WIDTH, HEIGHT, args.fps))
    overrides = {'camera.source': os.path.abspath(footage), 'camera.source_type': 'video',
                 'camera.publish_rate': 0.0, 'camera.loop': False, 'camera.width': 0, 'camera.height': 0,
                 'detector.model_path': args.model,
                 'overlay.video_path': os.path.abspath(os.path.join(args.out, 'annotated.mp4'))}
    # overlay.video_fps stays 0: the annotated video plays at the footage's own rate (from the capture stamps)
    if args.score_threshold is not None:
        overrides['detector.score_threshold'] = args.score_threshold
    try:
        descriptions = build_pipeline(overrides=overrides)
        summary = run(descriptions, jsonl=os.path.join(args.out, 'detections.jsonl'), executor=args.executor)
    except (PipelineConfigError, StartupError) as exc:
        print('face_ssd_demo: %s' % exc, file=sys.stderr)
        return 1
    frame = summary['nodes']['overlay'].last_annotated
    if frame is not None:
        cv2.imwrite(os.path.join(args.out, 'annotated_frame.png'), frame)
    print(format_summary(summary))
    print('demo outputs in %s: annotated.mp4, detections.jsonl, annotated_frame.png' % args.out)
    return 0 if summary['processed'] else 1


if __name__ == '__main__':
    sys.exit(main())
