"""supervise.memory: frame-sized buffers kept in the heap (glibc mallopt), with its switches."""
import ctypes.util
import subprocess
import sys

import pytest

from face_ssd_ros.supervise import memory


class FakeMallopt(object):
    def __init__(self, answer=1):
        self.calls = []
        self.answer = answer

    def __call__(self, param, value):
        self.calls.append((param, value))
        return self.answer


def test_sets_both_thresholds():
    fake = FakeMallopt()
    applied, reason = memory.keep_frame_buffers(environ={}, mallopt=fake)
    assert applied, reason
    assert fake.calls == [(memory.M_MMAP_THRESHOLD, memory.MMAP_THRESHOLD),
                          (memory.M_TRIM_THRESHOLD, memory.TRIM_THRESHOLD)]
    assert memory.MMAP_THRESHOLD >= 3840 * 2160 * 3   # a 4K rgb8 frame comes from the heap too
    assert memory.MMAP_THRESHOLD <= 32 * 1024 * 1024  # glibc refuses more on 64-bit


@pytest.mark.parametrize('value', ['0', 'false', 'OFF'])
def test_switched_off_by_environment(value):
    fake = FakeMallopt()
    applied, reason = memory.keep_frame_buffers(environ={memory.ENV_SWITCH: value}, mallopt=fake)
    assert not applied and memory.ENV_SWITCH in reason and fake.calls == []


def test_glibc_variables_win():
    fake = FakeMallopt()
    applied, reason = memory.keep_frame_buffers(environ={'MALLOC_MMAP_THRESHOLD_': '1048576'}, mallopt=fake)
    assert not applied and 'MALLOC_MMAP_THRESHOLD_' in reason and fake.calls == []


def test_refused_value_is_reported():
    applied, reason = memory.keep_frame_buffers(environ={}, mallopt=FakeMallopt(answer=0))
    assert not applied and 'refused' in reason


@pytest.mark.skipif(not sys.platform.startswith('linux') or not ctypes.util.find_library('c'),
                    reason='glibc only')
def test_real_glibc_stops_page_faults_per_frame():
    """In a fresh process: a detector-like frame pattern (an rgb8 frame, its float copy, a resized float input,
    freed in another order) faults in fresh pages every time by default, and almost never after
    keep_frame_buffers()."""
    code = r'''
import resource, sys
from face_ssd_ros.supervise.memory import keep_frame_buffers
if sys.argv[1] == "keep":
    applied, reason = keep_frame_buffers(environ={})
    assert applied, reason
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
import numpy as np
def frame():
    n = 640 * 480 * 3
    x = np.empty(n, np.uint8)
    y = x.astype(np.float32)
    z = np.empty(n // 4 * 3, np.float32)
    del y
    w = bytearray(n)
    del x, z, w
for _ in range(5):
    frame()
before = faults()
for _ in range(100):
    frame()
print(faults() - before)
'''
    env_clean = {k: v for k, v in __import__('os').environ.items() if not k.startswith('MALLOC_')}
    counts = {}
    for mode in ('default', 'keep'):
        out = subprocess.check_output([sys.executable, '-c', code, mode], env=env_clean, universal_newlines=True)
        counts[mode] = int(out.strip().splitlines()[-1])
    if counts['default'] < 100 * 100:
        pytest.skip('this C library reuses large blocks already (%d faults)' % counts['default'])
    assert counts['keep'] < counts['default'] / 20, counts
