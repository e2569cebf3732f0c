"""Run the tests against the sources in src/ (also in subprocesses), never a stale install."""
import os
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))
SRC = [os.path.join(ROOT, 'src', 'face_ssd_ros'), os.path.join(ROOT, 'src', 'face_ssd_training')]
for p in reversed(SRC):
    if p not in sys.path:
        sys.path.insert(0, p)
os.environ['PYTHONPATH'] = os.pathsep.join(SRC + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p])
# Never let DDS discovery leave this machine (tests, CI, demos).
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
