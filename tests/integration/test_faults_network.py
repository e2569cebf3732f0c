"""Nothing listens beyond DDS on the configured discovery range.

The whole runtime (camera + detector + overlay in one process, the runner CLI, frames flowing) is compared with a
bare rclpy node in the same environment, socket by socket, from /proc/<pid>/fd and /proc/net/{tcp,tcp6,udp,udp6}:
no TCP socket at all, the same UDP sockets as plain DDS (RTPS ports of this ROS_DOMAIN_ID, ephemeral send
sockets, and whatever else rclpy itself opens), and with ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST no multicast
discovery port.
"""
import os
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.skipif(not os.path.isfile('/proc/net/udp'), reason='needs Linux /proc/net')

PROTOCOLS = ('tcp', 'tcp6', 'udp', 'udp6')
BARE_NODE = ('import time, rclpy; rclpy.init(); node = rclpy.create_node("bare_dds_baseline"); '
             'print("ready", flush=True); time.sleep(60)')


def process_sockets(pid):
    """Internet sockets of process ``pid``: list of (protocol, local ip hex, local port, state hex)."""
    inodes = set()
    fd_dir = '/proc/%d/fd' % pid
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue  # closed meanwhile
        if target.startswith('socket:['):
            inodes.add(target[len('socket:['):-1])
    found = []
    for proto in PROTOCOLS:
        with open('/proc/net/' + proto) as f:
            next(f)
            for line in f:
                fields = line.split()
                if fields[9] in inodes:
                    ip, port = fields[1].split(':')
                    found.append((proto, ip, int(port, 16), fields[3]))
    return found


def _ephemeral_range():
    with open('/proc/sys/net/ipv4/ip_local_port_range') as f:
        low, high = f.read().split()
    return int(low), int(high)


def classify(sockets, domain_id):
    """Sorted (protocol, ip, kind) of each socket; kind: 'rtps-discovery-multicast', 'rtps-unicast', 'ephemeral',
    or 'other' (RTPS ports: 7400 + 250 * domain + {0, 1; 10 + 2i, 11 + 2i}). Fast DDS also binds one UDP port from
    7000 up (the first free one, so it differs between processes): 'other', like any fixed port would be."""
    base = 7400 + 250 * int(domain_id)
    low, high = _ephemeral_range()
    out = []
    for proto, ip, port, _ in sockets:
        if port in (base, base + 1):
            kind = 'rtps-discovery-multicast'
        elif base + 10 <= port < base + 250:
            kind = 'rtps-unicast'
        elif low <= port <= high:
            kind = 'ephemeral'
        else:
            kind = 'other'
        out.append((proto, ip, kind))
    return sorted(out)


def _sockets_once_ready(cmd, ready_text, log_path, settle=2.0, timeout=60):
    """Start ``cmd``, wait until ``ready_text`` appears in its output (+ ``settle`` s), return its sockets."""
    with open(log_path, 'w') as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while ready_text not in open(log_path).read():
            assert proc.poll() is None and time.monotonic() < deadline, open(log_path).read()
            time.sleep(0.2)
        time.sleep(settle)
        assert proc.poll() is None, open(log_path).read()
        return process_sockets(proc.pid)
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.timeout(120)
def test_runtime_opens_only_the_sockets_dds_opens(frames, model_path, tmp_path, ros_environment):
    assert os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] == 'LOCALHOST'
    folder, _ = frames
    bare = _sockets_once_ready([sys.executable, '-c', BARE_NODE], 'ready', str(tmp_path / 'bare.log'))
    runtime = _sockets_once_ready(
        [sys.executable, '-m', 'face_ssd_ros.runner', '--source', folder, '--model', model_path,
         '--namespace', 'netcheck', '--set', 'camera.loop=true', '--set', 'camera.publish_rate=5',
         '--set', 'overlay.publish_compressed=true', '--duration', '50'],
        'detector ready', str(tmp_path / 'runtime.log'), settle=3.0)
    log = open(str(tmp_path / 'runtime.log')).read()
    assert 'Traceback' not in log, log

    assert [s for s in runtime if s[0].startswith('tcp')] == [], 'TCP sockets (nothing may listen on TCP)'
    domain = os.environ['ROS_DOMAIN_ID']
    assert classify(runtime, domain) == classify(bare, domain), (runtime, bare)
    kinds = [k for _, _, k in classify(runtime, domain)]
    assert 'rtps-unicast' in kinds                      # DDS itself is there ...
    assert 'rtps-discovery-multicast' not in kinds      # ... but not on multicast discovery (LOCALHOST range)


def test_classify_tells_the_kinds_apart():
    low, _ = _ephemeral_range()
    sockets = [('udp', '00000000', 7400 + 250 * 7, '07'), ('udp', '00000000', 7400 + 250 * 7 + 11, '07'),
               ('udp', '0100007F', low + 5, '07'), ('tcp', '00000000', 8080, '0A')]
    assert classify(sockets, 7) == [('tcp', '00000000', 'other'),
                                    ('udp', '00000000', 'rtps-discovery-multicast'),
                                    ('udp', '00000000', 'rtps-unicast'), ('udp', '0100007F', 'ephemeral')]
