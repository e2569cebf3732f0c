"""supervise.stop: SIGINT and SIGTERM both become one stop flag (no exception in the code that runs); a second signal
interrupts; the previous handlers come back."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from face_ssd_ros.supervise.stop import StopRequest


def _deliver(sig):
    os.kill(os.getpid(), sig)
    time.sleep(0.05)  # Python runs the handler at the next bytecode boundary of the main thread


@pytest.mark.parametrize('sig', [signal.SIGTERM, signal.SIGINT])
def test_first_signal_sets_the_flag_and_the_second_interrupts(sig):
    before = signal.getsignal(sig)
    with StopRequest() as stop:
        assert stop.installed and not stop.is_set()
        _deliver(sig)                      # no exception: the frame in hand is finished
        assert stop.is_set() and stop.signal_name == signal.Signals(sig).name
        with pytest.raises(KeyboardInterrupt):
            _deliver(sig)
    assert signal.getsignal(sig) is before


def test_request_without_a_signal_and_outside_the_main_thread():
    import threading
    stop = StopRequest()
    stop.request('duration')
    assert stop.is_set() and stop.signal_name == 'duration'
    result = []
    thread = threading.Thread(target=lambda: result.append(StopRequest().install().installed))
    thread.start()
    thread.join()
    assert result == [False]               # handlers are only installed from the main thread


def test_sigterm_lets_a_process_finish_its_work(tmp_path):
    """A loop that polls the flag finishes the item in hand and flushes its file; the default SIGTERM would
    kill it with the file empty (exit -15)."""
    out = tmp_path / 'out.txt'
    script = textwrap.dedent('''
        import sys, time
        from face_ssd_ros.supervise.stop import StopRequest
        with StopRequest() as stop, open(sys.argv[1], 'w') as f:
            print('ready', flush=True)
            n = 0
            while not stop.is_set():
                time.sleep(0.01)
                f.write('item %d\\n' % n)
                n += 1
            f.write('stopped by %s\\n' % stop.signal_name)
    ''')
    proc = subprocess.Popen([sys.executable, '-c', script, str(out)], stdout=subprocess.PIPE,
                            universal_newlines=True)
    try:
        assert proc.stdout.readline().strip() == 'ready'
        time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    lines = out.read_text().splitlines()
    assert len(lines) > 2 and lines[-1] == 'stopped by SIGTERM'
