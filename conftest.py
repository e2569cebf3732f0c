"""Run the tests against the sources in src/ (also in subprocesses), never a stale install."""
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.abspath(__file__))
SRC = [os.path.join(ROOT, 'src', 'face_ssd_ros'), os.path.join(ROOT, 'src', 'face_ssd_training')]
for p in reversed(SRC):
    if p not in sys.path:
        sys.path.insert(0, p)
# shared test helpers (tests/grid_model.py) import by module name from every test folder
TESTS = os.path.join(ROOT, 'tests')
if TESTS not in sys.path:
    sys.path.append(TESTS)
os.environ['PYTHONPATH'] = os.pathsep.join(SRC + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p])
# Never let DDS discovery leave this machine (tests, CI, demos).
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'


SHARED_DATA = os.path.normpath(os.path.join(ROOT, '..', 'shared', 'data'))


@pytest.fixture
def shared_data():
    """Path of the real read-only data set (<repo>/../shared/data); skips the test when absent."""
    if not os.path.isfile(os.path.join(SHARED_DATA, 'README.md')):
        pytest.skip('real data not available at %s' % SHARED_DATA)
    return SHARED_DATA
