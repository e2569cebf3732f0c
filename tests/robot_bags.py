"""Test bags shaped like a robot's own recording (shared by the unit and integration tests).

A robot records ``sensor_msgs/CompressedImage`` (image_transport "compressed": JPEG, sometimes PNG) and
``camera_info``, and no ground truth. :func:`robot_frames` gives real photos for it, one of them turned to
portrait and cropped to an odd size; :func:`write_robot_bag` writes them with a damaged (truncated) frame in the
middle, as a camera link or a full disk leaves one.
"""
import os

import cv2

from face_ssd_ros.evaluation.bag_io import BagWriter
from face_ssd_ros.msgs.compressed import array_to_compressed

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DLIB = os.path.normpath(os.path.join(ROOT, '..', 'shared', 'data', 'faces', 'dlib'))
#: dlib validation photos with clear faces (never used for training), in bag order; the second, turned to portrait,
#: keeps faces the shipped model finds sideways (v6 found none on a turned 2008_001322.jpg).
PHOTOS = ('2008_002506.jpg', '2007_007763.jpg', '2008_001322.jpg')
IMAGE_TOPIC = '/raspicam_node/image/compressed'
INFO_TOPIC = '/raspicam_node/camera_info'
FRAME_ID = 'raspicam'
START_NS = 1700000000 * 10 ** 9
PERIOD_NS = 10 ** 8


def robot_frames(dlib=DLIB):
    """``[(name, rgb uint8 [H, W, 3])]``: the :data:`PHOTOS`, the second one rotated by 90 degrees (portrait) and
    cropped to an odd width and height. None when the real data is absent."""
    if not os.path.isdir(dlib):
        return None
    out = []
    for i, name in enumerate(PHOTOS):
        rgb = cv2.cvtColor(cv2.imread(os.path.join(dlib, 'images', name)), cv2.COLOR_BGR2RGB)
        if i == 1:
            rgb = cv2.rotate(rgb, cv2.ROTATE_90_CLOCKWISE)
            rgb = rgb[:rgb.shape[0] - 1 - rgb.shape[0] % 2, :rgb.shape[1] - 1 - rgb.shape[1] % 2].copy()
        out.append((name, rgb))
    return out


def write_robot_bag(path, frames, codec='jpeg', corrupt_at=1, storage='sqlite3', ground_truth=None):
    """Write ``frames`` (``[(name, rgb)]``) as a robot's bag: CompressedImage (``codec``) on :data:`IMAGE_TOPIC`,
    CameraInfo on :data:`INFO_TOPIC`, frame_id :data:`FRAME_ID`, stamps :data:`START_NS` + i * :data:`PERIOD_NS`,
    log time = stamp. ``corrupt_at``: insert a truncated copy of the previous frame's data at this index (None =
    none). ``ground_truth``: ``{frame index: GroundTruth}`` to write a ground-truth topic too (default: none).

    Returns the bag layout, one entry per image message in order: ``(stamp_ns, rgb or None for the damaged one,
    name)``.
    """
    layout = []
    with BagWriter(path, storage=storage, topics={'image': IMAGE_TOPIC, 'camera_info': INFO_TOPIC},
                   camera_info=True, image_format=codec, ground_truth=ground_truth is not None) as bag:
        index = 0
        for name, rgb in frames:
            if index == corrupt_at:
                data = array_to_compressed(layout[-1][1], codec)[1]
                stamp = START_NS + index * PERIOD_NS
                bag.write_frame(stamp, FRAME_ID, layout[-1][1], None, image_data=data[:len(data) * 3 // 5])
                layout.append((stamp, None, 'truncated copy of %s' % layout[-1][2]))
                index += 1
            stamp = START_NS + index * PERIOD_NS
            gt = (ground_truth or {}).get(index)
            bag.write_frame(stamp, FRAME_ID, rgb, gt)
            layout.append((stamp, rgb, name))
            index += 1
    return layout
