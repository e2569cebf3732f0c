"""face_ssd_ros.detect.engine_cache: cache keys, sidecar round trip, every check_engine error path, find_or_build
policy."""
import json
import os

import pytest

from face_ssd_ros.detect import engine_cache as ec
from tensorrt_testutils import manifest_dict

SHA = 'ab' * 32
TRT = '8.2.1.8'
GPU = 'NVIDIA Tegra X1'
ENGINE_BYTES = b'\x00\x01ftrt' + bytes(range(256)) * 8


@pytest.fixture
def model(tmp_path):
    path = tmp_path / 'face.onnx'
    path.write_bytes(b'onnx model bytes v1')
    return str(path)


def write_engine(tmp_path, model, name='face.engine', precision='fp16', trt=TRT, gpu=GPU, data=ENGINE_BYTES,
                 input_shape=(1, 3, 240, 320), profile=None):
    path = str(tmp_path / name)
    ec.write_engine(path, data)
    info = ec.make_sidecar(path, model, manifest_dict(), precision, trt, gpu, input_shape=input_shape,
                           profile=profile)
    ec.write_sidecar(path, info)
    return path


def expected(model, **overrides):
    out = {'model_path': model, 'precision': 'fp16', 'tensorrt_version': TRT, 'gpu_name': GPU}
    out.update(overrides)
    return out


# ---------------------------------------------------------------------------------------------- keys
def test_key_is_deterministic_and_readable():
    a = ec.engine_key(SHA, 'fp16', TRT, GPU, input_size=(320, 240))
    assert a == ec.engine_key(SHA.upper(), 'fp16', TRT, GPU, input_size=(320, 240))
    assert a == 'abababababababab_fp16_trt8.2.1.8_nvidia-tegra-x1_320x240'


@pytest.mark.parametrize('change', [
    {'model_sha256': 'cd' * 32}, {'precision': 'fp32'}, {'precision': 'int8'}, {'trt_version': '8.2.1.9'},
    {'trt_version': '10.3.0'}, {'gpu_name': 'NVIDIA Xavier'}, {'input_size': (640, 480)},
    {'profile': {'min': (160, 120), 'opt': (320, 240), 'max': (640, 480)}}])
def test_key_changes_with_every_field(change):
    base = dict(model_sha256=SHA, precision='fp16', trt_version=TRT, gpu_name=GPU, input_size=(320, 240))
    other = dict(base)
    other.update(change)
    if 'profile' in change:
        other['input_size'] = None
    assert ec.engine_key(**base) != ec.engine_key(**other)


def test_key_only_uses_16_hex_of_the_hash_and_sanitises_gpu():
    key = ec.engine_key('0123456789abcdef' + 'f' * 48, 'fp32', '10.3.0', ' NVIDIA GeForce RTX 3090 (Ti)/x ')
    assert key == '0123456789abcdef_fp32_trt10.3.0_nvidia-geforce-rtx-3090-ti-x'
    assert os.sep not in key


def test_dynamic_key_records_the_profile():
    key = ec.engine_key(SHA, 'fp16', TRT, GPU, profile={'min': '160x120', 'opt': (320, 240), 'max': [640, 480]})
    assert key.endswith('_dyn160x120-320x240-640x480')


@pytest.mark.parametrize('kwargs', [dict(model_sha256='xyz'), dict(precision='fp8'), dict(gpu_name='  ')])
def test_key_rejects_bad_fields(kwargs):
    args = dict(model_sha256=SHA, precision='fp16', trt_version=TRT, gpu_name=GPU)
    args.update(kwargs)
    with pytest.raises(ValueError):
        ec.engine_key(**args)


def test_default_cache_dir(tmp_path, monkeypatch):
    monkeypatch.delenv('FACE_SSD_ENGINE_CACHE', raising=False)
    assert ec.default_cache_dir(str(tmp_path / 'm' / 'face.onnx')) == str(tmp_path / 'm' / 'engines')
    monkeypatch.setenv('FACE_SSD_ENGINE_CACHE', '/models/engines')
    assert ec.default_cache_dir(str(tmp_path / 'm' / 'face.onnx')) == '/models/engines'


def test_cache_and_sidecar_paths(tmp_path):
    assert ec.cache_path(str(tmp_path), 'k') == os.path.join(str(tmp_path), 'k.engine')
    assert ec.sidecar_path('/m/face.engine') == '/m/face.engine.json'
    with pytest.raises(ValueError):
        ec.cache_path(str(tmp_path), '../evil')
    assert ec.parse_wh('640x480') == (640, 480)
    with pytest.raises(ValueError, match='WIDTHxHEIGHT'):
        ec.parse_wh('640')


# ---------------------------------------------------------------------------------------------- sidecar
def test_sidecar_round_trip(tmp_path, model):
    path = write_engine(tmp_path, model)
    info = ec.read_sidecar(path)
    assert info['format'] == ec.SIDECAR_FORMAT and info['format_version'] == 1
    assert info['model_sha256'] == ec.file_sha256(model)
    assert info['precision'] == 'fp16' and info['tensorrt_version'] == TRT and info['gpu_name'] == GPU
    assert info['engine_size'] == len(ENGINE_BYTES) and info['engine_sha256'] == ec.file_sha256(path)
    assert info['input_shape'] == [1, 3, 240, 320]
    assert info['key'] == ec.engine_key(ec.file_sha256(model), 'fp16', TRT, GPU, input_size=(320, 240))
    assert info['manifest'] == manifest_dict()
    assert ec.sidecar_manifest(path) == manifest_dict()
    assert 'face-ssd-build-engine' in info['build_command'] and model in info['build_command']
    ec.check_engine(path, expected(model))  # sound engine: no exception


def test_sidecar_is_plain_json_beside_the_engine(tmp_path, model):
    path = write_engine(tmp_path, model)
    with open(path + '.json') as f:
        assert json.load(f)['key'] == ec.read_sidecar(path)['key']
    assert not any(name.startswith('face.engine.tmp') for name in os.listdir(str(tmp_path)))


# ---------------------------------------------------------------------------------------------- errors
def assert_mismatch(path, exp, reason, *fragments):
    with pytest.raises(ec.EngineMismatch) as info:
        ec.check_engine(path, exp)
    assert info.value.reason == reason
    for fragment in fragments:
        assert fragment.lower() in str(info.value).lower()
    return str(info.value)


def test_missing_engine(tmp_path, model):
    assert_mismatch(str(tmp_path / 'none.engine'), expected(model), ec.MISSING_ENGINE, 'not found',
                    'face-ssd-build-engine')


def test_missing_sidecar(tmp_path, model):
    path = write_engine(tmp_path, model)
    os.remove(path + '.json')
    assert_mismatch(path, expected(model), ec.MISSING_SIDECAR, 'no sidecar', 'face-ssd-build-engine')


@pytest.mark.parametrize('content', [b'not json', b'{"format": "something.else", "format_version": 1}',
                                     b'{"format": "face_ssd.engine", "format_version": 99}',
                                     b'{"format": "face_ssd.engine", "format_version": 1}'])
def test_bad_sidecar(tmp_path, model, content):
    path = write_engine(tmp_path, model)
    with open(path + '.json', 'wb') as f:
        f.write(content)
    assert_mismatch(path, expected(model), ec.BAD_SIDECAR, 'rebuild')


def test_stale_engine_after_the_model_changed(tmp_path, model):
    path = write_engine(tmp_path, model)
    with open(model, 'ab') as f:
        f.write(b' retrained')
    message = assert_mismatch(path, expected(model), ec.STALE_MODEL, 'stale', 'rebuild with',
                              'face-ssd-build-engine %s' % model)
    assert ec.file_sha256(model)[:16] in message


def test_wrong_tensorrt_version(tmp_path, model):
    path = write_engine(tmp_path, model)
    assert_mismatch(path, expected(model, tensorrt_version='10.3.0'), ec.TENSORRT_VERSION, 'TensorRT 8.2.1.8',
                    'TensorRT 10.3.0', 'not portable', 'face-ssd-build-engine')


def test_different_gpu(tmp_path, model):
    path = write_engine(tmp_path, model)
    assert_mismatch(path, expected(model, gpu_name='NVIDIA Jetson AGX Orin'), ec.GPU, 'NVIDIA Tegra X1',
                    'NVIDIA Jetson AGX Orin', 'face-ssd-build-engine')
    ec.check_engine(path, expected(model, gpu_name='nvidia tegra x1'))  # same GPU, different spelling


def test_wrong_precision(tmp_path, model):
    path = write_engine(tmp_path, model)
    assert_mismatch(path, expected(model, precision='int8'), ec.PRECISION, 'fp16', 'int8')


def test_empty_engine(tmp_path, model):
    path = write_engine(tmp_path, model)
    open(path, 'wb').close()
    assert_mismatch(path, expected(model), ec.CORRUPT_ENGINE, 'empty', '0 bytes')


def test_truncated_engine(tmp_path, model):
    path = write_engine(tmp_path, model)
    with open(path, 'r+b') as f:
        f.truncate(100)
    assert_mismatch(path, expected(model), ec.CORRUPT_ENGINE, '100 bytes', 'truncated')


def test_corrupted_engine_same_size(tmp_path, model):
    path = write_engine(tmp_path, model)
    with open(path, 'r+b') as f:
        f.seek(50)
        f.write(b'\xff\xfe')
    assert_mismatch(path, expected(model), ec.CORRUPT_ENGINE, 'sha256')


@pytest.mark.parametrize('head,what', [(b'version https://git-lfs.github.com/spec/v1\n', 'Git LFS'),
                                       (b'PK\x03\x04rest', 'zip'), (b'{"format": 1}', 'JSON')])
def test_foreign_file_is_not_an_engine(tmp_path, model, head, what):
    path = str(tmp_path / 'x.engine')
    with open(path, 'wb') as f:
        f.write(head)
    assert_mismatch(path, expected(model), ec.CORRUPT_ENGINE, 'not a TensorRT engine', what)


def test_input_shape_checks(tmp_path, model):
    fixed = write_engine(tmp_path, model)
    ec.check_engine(fixed, expected(model, input_shape=[1, 3, 240, 320]))
    assert_mismatch(fixed, expected(model, input_shape=[1, 3, 480, 640]), ec.SHAPE, '[1, 3, 240, 320]')
    dynamic = write_engine(tmp_path, model, name='dyn.engine', input_shape=None,
                           profile={'min': (160, 120), 'opt': (320, 240), 'max': (640, 480)})
    ec.check_engine(dynamic, expected(model, input_shape=[1, 3, 480, 640]))
    assert_mismatch(dynamic, expected(model, input_shape=[1, 3, 720, 1280]), ec.SHAPE, '160x120 to 640x480')


def test_unchecked_fields_are_skipped(tmp_path, model):
    path = write_engine(tmp_path, model)
    ec.check_engine(path, {})  # only integrity checks


def test_write_engine_refuses_empty_and_drops_stale_sidecar(tmp_path, model):
    path = write_engine(tmp_path, model)
    with pytest.raises(ValueError):
        ec.write_engine(path, b'')
    ec.write_engine(path, b'\x00new engine')
    assert not os.path.exists(path + '.json')


# ---------------------------------------------------------------------------------------------- policy
class Builder(object):
    def __init__(self, data=ENGINE_BYTES):
        self.calls = 0
        self.data = data

    def __call__(self):
        self.calls += 1
        return self.data


def lookup(model, cache, build, **kwargs):
    args = dict(input_shape=(1, 3, 240, 320))
    args.update(kwargs)
    return ec.find_or_build(model, manifest_dict(), 'fp16', cache, TRT, GPU, build, **args)


def test_find_or_build_builds_once_then_reuses(tmp_path, model):
    cache, build = str(tmp_path / 'cache'), Builder()
    first = lookup(model, cache, build)
    assert first.built and build.calls == 1 and first.reason == ec.MISSING_ENGINE
    assert first.path == ec.cache_path(cache, first.key) and os.path.isfile(first.path + '.json')
    second = lookup(model, cache, build)
    assert not second.built and build.calls == 1 and second.path == first.path
    forced = lookup(model, cache, build, force=True)
    assert forced.built and build.calls == 2


def test_find_or_build_rebuilds_corrupt_and_new_model(tmp_path, model):
    cache, build = str(tmp_path / 'cache'), Builder()
    first = lookup(model, cache, build)
    with open(first.path, 'r+b') as f:
        f.truncate(10)
    again = lookup(model, cache, build)
    assert again.built and again.reason == ec.CORRUPT_ENGINE and build.calls == 2
    ec.check_engine(again.path, expected(model))
    with open(model, 'ab') as f:
        f.write(b'retrained')
    retrained = lookup(model, cache, build)
    assert retrained.built and retrained.key != first.key and build.calls == 3


def test_find_or_build_refuses_when_building_is_disabled(tmp_path, model):
    cache, build = str(tmp_path / 'cache'), Builder()
    with pytest.raises(ec.EngineMismatch) as info:
        lookup(model, cache, build, allow_build=False)
    assert info.value.reason == ec.MISSING_ENGINE and 'disabled' in str(info.value) and build.calls == 0
    good = lookup(model, cache, build)
    os.remove(good.path + '.json')
    with pytest.raises(ec.EngineMismatch) as info:
        lookup(model, cache, build, allow_build=False)
    assert info.value.reason == ec.MISSING_SIDECAR and build.calls == 1


def test_find_or_build_to_an_explicit_output(tmp_path, model):
    out, build = str(tmp_path / 'out' / 'face.fp16.engine'), Builder()
    result = lookup(model, str(tmp_path / 'unused'), build, output=out)
    assert result.path == out and os.path.isfile(out + '.json') and not os.path.exists(str(tmp_path / 'unused'))
    assert ec.read_sidecar(out)['build_command'].count('--output') == 1


def test_find_or_build_never_returns_what_check_engine_rejects(tmp_path, model):
    with pytest.raises(ValueError, match='empty'):
        lookup(model, str(tmp_path / 'cache'), Builder(data=b''))
