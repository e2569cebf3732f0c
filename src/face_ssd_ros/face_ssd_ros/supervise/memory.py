"""Keep frame-sized buffers in the heap instead of mapping fresh pages for every frame (standard library only).

glibc serves each allocation above its mmap threshold (128 KiB at start, raised as such blocks are freed) with a
fresh ``mmap``, and gives the pages back on ``free``. A 640x480 rgb8 frame is 900 KiB, and receiving one through
rclpy alone allocates it three times (DDS sample, C message, Python array), so a detector at 30 Hz took about
19,000 page faults a second: 4-5 % of a core in the kernel, plus the cold caches of new pages
(``benchmarks/bench_pipeline.py``, docs/BENCHMARKS.md). :func:`keep_frame_buffers` sets the mmap threshold to
:data:`MMAP_THRESHOLD` and the trim threshold to :data:`TRIM_THRESHOLD`, so those buffers are reused from the heap.
The cost is that a process keeps its peak heap (a few frames) instead of returning it to the system.

Only glibc has ``mallopt``; elsewhere (musl, macOS) nothing changes. Set ``FACE_SSD_KEEP_FRAME_BUFFERS=0`` in the
environment to leave the allocator alone; glibc's own ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_``
variables, when set, win as well.
"""
import ctypes
import ctypes.util
import os

#: glibc ``mallopt`` parameter numbers (malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

#: Blocks up to this size come from the heap (glibc's ceiling on 64-bit: 32 MiB; a 4K rgb8 frame is 24.9 MB).
MMAP_THRESHOLD = 32 * 1024 * 1024
#: Free heap at the top is returned to the system only beyond this much.
TRIM_THRESHOLD = 256 * 1024 * 1024

ENV_SWITCH = 'FACE_SSD_KEEP_FRAME_BUFFERS'
_GLIBC_VARIABLES = ('MALLOC_MMAP_THRESHOLD_', 'MALLOC_TRIM_THRESHOLD_')


def _mallopt():
    """glibc's ``mallopt`` function, or None where the C library has none."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or None)
        fn = libc.mallopt
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn


def keep_frame_buffers(environ=None, mallopt=None):
    """Apply the thresholds of the module docstring once per process.

    Args:
        environ: mapping read for :data:`ENV_SWITCH` and glibc's variables (default ``os.environ``).
        mallopt: the ``mallopt(param, value) -> int`` to call (default: glibc's; tests pass a fake).
    Returns:
        ``(applied, reason)``: ``applied`` is True when both thresholds were set; ``reason`` says why not otherwise
        (switched off, glibc variables set, no ``mallopt``, or the call refused a value).
    """
    environ = os.environ if environ is None else environ
    if environ.get(ENV_SWITCH, '1').strip().lower() in ('0', 'false', 'no', 'off'):
        return False, '%s=%s' % (ENV_SWITCH, environ.get(ENV_SWITCH))
    preset = [v for v in _GLIBC_VARIABLES if environ.get(v)]
    if preset:
        return False, 'glibc settings from the environment kept (%s)' % ', '.join(preset)
    fn = _mallopt() if mallopt is None else mallopt
    if fn is None:
        return False, 'the C library has no mallopt (not glibc)'
    for param, value, name in ((M_MMAP_THRESHOLD, MMAP_THRESHOLD, 'M_MMAP_THRESHOLD'),
                               (M_TRIM_THRESHOLD, TRIM_THRESHOLD, 'M_TRIM_THRESHOLD')):
        if fn(param, value) != 1:
            return False, 'mallopt(%s, %d) was refused' % (name, value)
    return True, 'mmap threshold %d MiB, trim threshold %d MiB' % (MMAP_THRESHOLD >> 20, TRIM_THRESHOLD >> 20)
