"""Camera calibration for sensor_msgs/CameraInfo (rclpy-free).

Reads the YAML written by ``camera_calibration`` / ``camera_info_manager``::

    image_width: 640
    image_height: 480
    camera_name: my_camera
    camera_matrix: {rows: 3, cols: 3, data: [fx, 0, cx, 0, fy, cy, 0, 0, 1]}
    distortion_model: plumb_bob
    distortion_coefficients: {rows: 1, cols: 5, data: [k1, k2, t1, t2, k3]}
    rectification_matrix: {rows: 3, cols: 3, data: [1, 0, 0, 0, 1, 0, 0, 0, 1]}
    projection_matrix: {rows: 3, cols: 4, data: [fx', 0, cx', Tx, 0, fy', cy', Ty, 0, 0, 1, 0]}

Without a calibration the camera is a plain pinhole: fx = fy = image width, principal point at the image centre,
``plumb_bob`` with zero distortion. A calibration made at another resolution is scaled to the image size.
"""
import os

import yaml

IDENTITY_3X3 = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)


class CameraInfoError(ValueError):
    """A calibration file is missing or malformed; the message names the file and the field."""


class CameraCalibration(object):
    """The CameraInfo fields: ``width``, ``height``, ``distortion_model``, ``d`` (list), ``k`` (9), ``r`` (9),
    ``p`` (12, row-major 3x4), ``camera_name``."""

    __slots__ = ('width', 'height', 'distortion_model', 'd', 'k', 'r', 'p', 'camera_name')

    def __init__(self, width, height, k, d=(), r=IDENTITY_3X3, p=None, distortion_model='plumb_bob',
                 camera_name=''):
        self.width = int(width)
        self.height = int(height)
        self.k = [float(v) for v in k]
        self.d = [float(v) for v in d]
        self.r = [float(v) for v in r]
        if p is None:
            p = [self.k[0], self.k[1], self.k[2], 0.0, self.k[3], self.k[4], self.k[5], 0.0, 0.0, 0.0, 1.0, 0.0]
        self.p = [float(v) for v in p]
        self.distortion_model = str(distortion_model)
        self.camera_name = str(camera_name)
        if len(self.k) != 9 or len(self.r) != 9 or len(self.p) != 12:
            raise CameraInfoError('camera calibration needs 9 values in K and R and 12 in P (got %d, %d, %d)'
                                  % (len(self.k), len(self.r), len(self.p)))

    def __repr__(self):
        return 'CameraCalibration(%dx%d, fx=%.1f, fy=%.1f, cx=%.1f, cy=%.1f, %s)' % (
            self.width, self.height, self.k[0], self.k[4], self.k[2], self.k[5], self.distortion_model)

    def scaled_to(self, width, height):
        """This calibration for an image of ``width`` x ``height`` (K and the first two rows of P scaled)."""
        width, height = int(width), int(height)
        if (width, height) == (self.width, self.height):
            return self
        sx = float(width) / self.width
        sy = float(height) / self.height
        k = list(self.k)
        k[0] *= sx
        k[1] *= sx
        k[2] *= sx
        k[3] *= sy
        k[4] *= sy
        k[5] *= sy
        p = list(self.p)
        for i in range(4):
            p[i] *= sx
            p[4 + i] *= sy
        return CameraCalibration(width, height, k, self.d, self.r, p, self.distortion_model, self.camera_name)

    def same_aspect(self, width, height, tolerance=0.01):
        """True when ``width`` x ``height`` has this calibration's aspect ratio (scaling is then exact)."""
        return abs(float(width) / height - float(self.width) / self.height) <= tolerance * float(self.width) / self.height

    def fill_msg(self, msg):
        """Copy the fields into a sensor_msgs/CameraInfo-like ``msg`` (header left untouched); returns ``msg``."""
        msg.width = self.width
        msg.height = self.height
        msg.distortion_model = self.distortion_model
        msg.d = list(self.d)
        msg.k = list(self.k)
        msg.r = list(self.r)
        msg.p = list(self.p)
        return msg


def pinhole(width, height):
    """Plain pinhole calibration: fx = fy = ``width``, (cx, cy) the image centre, zero plumb_bob distortion."""
    width, height = int(width), int(height)
    if width <= 0 or height <= 0:
        raise CameraInfoError('image size must be positive (got %dx%d)' % (width, height))
    f = float(width)
    k = (f, 0.0, width / 2.0, 0.0, f, height / 2.0, 0.0, 0.0, 1.0)
    return CameraCalibration(width, height, k, d=(0.0,) * 5)


def resolve_url(url):
    """Path of a camera_info URL: a plain path, ``file:///abs/path`` or ``package://pkg/rel/path``."""
    url = str(url).strip()
    if url.startswith('file://'):
        return url[len('file://'):]
    if url.startswith('package://'):
        package, _, rel = url[len('package://'):].partition('/')
        try:
            from ament_index_python.packages import get_package_share_directory, PackageNotFoundError
        except ImportError:
            raise CameraInfoError('cannot resolve %r: ament_index_python is not installed; give a file path' % url)
        try:
            return os.path.join(get_package_share_directory(package), rel)
        except (PackageNotFoundError, EnvironmentError):
            raise CameraInfoError('cannot resolve %r: package %r is not installed (or no ROS environment is '
                                  'sourced); give a file path' % (url, package))
    return os.path.expanduser(url)


def _matrix(data, key, size, path):
    entry = data.get(key)
    values = entry.get('data') if isinstance(entry, dict) else entry
    if not isinstance(values, (list, tuple)) or (size and len(values) != size):
        raise CameraInfoError('%s: %r must be a matrix with %s values under "data"'
                              % (path, key, size if size else 'its'))
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError):
        raise CameraInfoError('%s: %r holds a value that is not a number' % (path, key))


def load_calibration(url):
    """Read a camera_calibration YAML (path or file:// / package:// URL) into a CameraCalibration."""
    path = resolve_url(url)
    if not os.path.isfile(path):
        raise CameraInfoError('camera calibration file %r not found (camera_info_url=%r): give an existing '
                              'camera_calibration YAML, or "" for a plain pinhole model' % (path, url))
    with open(path) as f:
        try:
            data = yaml.safe_load(f)
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise CameraInfoError('%s is not a valid YAML text file: %s' % (path, ' '.join(str(exc).split())))
    if not isinstance(data, dict):
        raise CameraInfoError('%s: expected a camera_calibration mapping (image_width, camera_matrix, ...)' % path)
    for key in ('image_width', 'image_height'):
        if not isinstance(data.get(key), int) or data[key] <= 0:
            raise CameraInfoError('%s: %r must be a positive integer' % (path, key))
    k = _matrix(data, 'camera_matrix', 9, path)
    d = _matrix(data, 'distortion_coefficients', 0, path) if 'distortion_coefficients' in data else [0.0] * 5
    r = _matrix(data, 'rectification_matrix', 9, path) if 'rectification_matrix' in data else IDENTITY_3X3
    p = _matrix(data, 'projection_matrix', 12, path) if 'projection_matrix' in data else None
    return CameraCalibration(data['image_width'], data['image_height'], k, d, r, p,
                             data.get('distortion_model', 'plumb_bob'), data.get('camera_name', ''))


class CameraInfoProvider(object):
    """Calibration for each image size: the loaded file scaled to it, or a pinhole model when there is none.

    ``for_size(width, height)`` caches the last result, so calling it for every frame is cheap.
    ``warning`` is set (once) when the calibration's aspect ratio differs from the image's.
    """

    def __init__(self, url=''):
        self.url = url
        self.calibration = load_calibration(url) if url else None
        self.warning = None
        self._last = None

    def for_size(self, width, height):
        if self._last is not None and (self._last.width, self._last.height) == (width, height):
            return self._last
        if self.calibration is None:
            self._last = pinhole(width, height)
        else:
            if not self.calibration.same_aspect(width, height) and self.warning is None:
                self.warning = ('calibration %r is for %dx%d but the images are %dx%d (another aspect ratio): '
                                'intrinsics scaled per axis, recalibrate at this resolution'
                                % (self.url, self.calibration.width, self.calibration.height, width, height))
            self._last = self.calibration.scaled_to(width, height)
        return self._last
