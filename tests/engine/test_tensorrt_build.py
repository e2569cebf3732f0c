"""face-ssd-build-engine: calibration data, calibrator feeding, builder configuration per TensorRT version (on a
recording fake of the TensorRT builder API), the trtexec line, the CLI and its cache behaviour."""
import json
import os
import types

import numpy as np
import pytest

from face_ssd_ros.detect import engine_cache as ec
from face_ssd_ros.engine import build as tb
from tensorrt_testutils import (SHARED_DATA, FakeBuilderTRT, FakeCuda, hide_modules, install_fakes, make_manifest,
                                real_images, write_tiny_onnx)



@pytest.fixture
def dlib_images():
    path = real_images('faces/dlib/images')
    if path is None:
        pytest.skip('real data not available at %s' % SHARED_DATA)
    return path


def write_image(path, seed=0):
    import cv2
    os.makedirs(os.path.dirname(path), exist_ok=True)
    img = np.random.default_rng(seed).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    assert cv2.imwrite(path, img)
    return path


# ---------------------------------------------------------------------------------------------- calibration data
def test_list_calibration_images_samples_reproducibly(dlib_images):
    everything = tb.list_calibration_images([dlib_images], limit=0)
    assert len(everything) == 9 and everything == sorted(everything)
    five = tb.list_calibration_images([dlib_images], limit=5, seed=3)
    assert len(five) == 5 and set(five) <= set(everything)
    assert five == tb.list_calibration_images([dlib_images], limit=5, seed=3)
    assert five != tb.list_calibration_images([dlib_images], limit=5, seed=4)


def test_evaluation_set_is_refused_for_calibration(tmp_path):
    wider = real_images('faces/wider_dev/images')
    if wider is not None:
        with pytest.raises(tb.BuildError, match='evaluation-only'):
            tb.list_calibration_images([wider])
    root = tmp_path / 'faces'
    write_image(str(root / 'train' / 'a.jpg'))
    write_image(str(root / 'eval' / 'b.jpg'))
    (root / 'eval' / tb.EVALUATION_ONLY_MARKER).write_text('')
    skipped = []
    files = tb.list_calibration_images([str(root)], log=skipped.append)
    assert [os.path.basename(f) for f in files] == ['a.jpg'] and 'eval' in skipped[0]
    with pytest.raises(tb.BuildError, match='evaluation-only'):
        tb.list_calibration_images([str(root / 'eval' / 'b.jpg')])


def test_no_calibration_images_is_an_error(tmp_path):
    with pytest.raises(tb.BuildError, match='no calibration images'):
        tb.list_calibration_images([str(tmp_path)])
    with pytest.raises(tb.BuildError, match='not found'):
        tb.list_calibration_images([str(tmp_path / 'nope')])


def test_calibration_batches_are_the_runtime_preprocessing(dlib_images):
    from face_ssd_ros.detect.cli import read_image_rgb
    from face_ssd_ros.detect.preprocess import preprocess
    manifest = make_manifest()
    files = tb.list_calibration_images([dlib_images], limit=0)
    batches = tb.CalibrationBatches(files, manifest, batch_size=2)
    got = list(batches)
    assert len(batches) == 4 and len(got) == 4  # 9 images -> 4 full batches, the odd one dropped
    assert all(b.shape == (2, 3, 240, 320) and b.dtype == np.float32 and b.flags['C_CONTIGUOUS'] for b in got)
    np.testing.assert_array_equal(got[1][1], preprocess(read_image_rgb(files[3]), manifest)[0])
    dynamic = tb.CalibrationBatches(files[:1], make_manifest(dynamic=True), size=(640, 480))
    assert next(iter(dynamic)).shape == (1, 3, 480, 640)


def test_unreadable_calibration_images_are_skipped(tmp_path, dlib_images):
    bad = tmp_path / 'broken.jpg'
    bad.write_bytes(b'\xff\xd8 not really a jpeg')
    files = [str(bad)] + tb.list_calibration_images([dlib_images], limit=2)
    messages = []
    batches = list(tb.CalibrationBatches(files, make_manifest(), log=messages.append))
    assert len(batches) == 2 and 'broken.jpg' in messages[0]


# ---------------------------------------------------------------------------------------------- feeder / calibrator
class ListBatches(list):
    batch_size = 1


def test_feeder_uploads_each_batch_then_signals_the_end(tmp_path):
    arrays = ListBatches(np.full((1, 3, 4, 4), i, np.float32) for i in range(3))
    uploaded = []

    def upload(batch):
        uploaded.append(batch.copy())
        return 0x1000 + len(uploaded)

    feeder = tb.CalibrationFeeder(arrays, None, upload)
    pointers = [feeder.get_batch(['input']) for _ in range(3)]
    assert pointers == [[0x1001], [0x1002], [0x1003]]
    assert feeder.get_batch(['input']) is None and feeder.count == 3
    assert [int(u[0, 0, 0, 0]) for u in uploaded] == [0, 1, 2]
    with pytest.raises(tb.BuildError, match='single-input'):
        tb.CalibrationFeeder(arrays, None, upload).get_batch(['a', 'b'])


IDENTITY = {'model_sha256': 'ab' * 32, 'input_size': [320, 240], 'channel_order': 'RGB', 'mean': [127.0] * 3,
            'std': [128.0] * 3}


def test_feeder_calibration_cache_round_trip(tmp_path):
    cache = str(tmp_path / 'sub' / 'model.calib')
    feeder = tb.CalibrationFeeder(ListBatches(), cache, None, identity=IDENTITY)
    assert feeder.read_cache() is None
    feeder.write_cache(bytearray(b'TRT-8201-EntropyCalibration2\ninput: 3c010a14\n'))
    assert feeder.read_cache().startswith(b'TRT-8201')
    info = json.load(open(tb.calibration_sidecar_path(cache)))
    assert info['model_sha256'] == IDENTITY['model_sha256'] and info['input_size'] == [320, 240]
    with pytest.raises(ValueError, match='identity'):
        tb.CalibrationFeeder(ListBatches(), cache, None)


def _foreign_cache(cache, kind):
    """Make the calibration cache at ``cache`` (written for IDENTITY) unusable in one way."""
    sidecar = tb.calibration_sidecar_path(cache)
    if kind == 'no sidecar':
        os.remove(sidecar)
    elif kind == 'other model':
        info = json.load(open(sidecar))
        info['model_sha256'] = 'cd' * 32
        json.dump(info, open(sidecar, 'w'))
    elif kind == 'other size':
        info = json.load(open(sidecar))
        info['input_size'] = [640, 480]
        json.dump(info, open(sidecar, 'w'))
    elif kind == 'broken sidecar':
        open(sidecar, 'w').write('{"format": ')
    elif kind == 'table changed':
        open(cache, 'ab').write(b'more')


@pytest.mark.parametrize('kind,words', [('no sidecar', 'no readable sidecar'), ('other model', 'model_sha256'),
                                        ('other size', 'input_size'), ('broken sidecar', 'not valid JSON'),
                                        ('table changed', 'differs from the one its sidecar')])
def test_a_foreign_or_damaged_calibration_cache_is_ignored_with_a_warning(tmp_path, kind, words):
    cache = str(tmp_path / 'model.calib')
    tb.CalibrationFeeder(ListBatches(), cache, None, identity=IDENTITY).write_cache(b'table')
    _foreign_cache(cache, kind)
    messages = []
    feeder = tb.CalibrationFeeder(ListBatches(), cache, None, log=messages.append, identity=IDENTITY)
    assert feeder.read_cache() is None
    assert len(messages) == 1 and 'ignoring calibration cache' in messages[0] and words in messages[0], messages
    feeder.write_cache(b'new table')  # recalibrated: the cache is replaced and trusted again
    assert tb.CalibrationFeeder(ListBatches(), cache, None, identity=IDENTITY).read_cache() == b'new table'


def test_calibration_identity_follows_model_size_and_preprocessing(tmp_path):
    model = write_tiny_onnx(tmp_path)
    base = tb.calibration_identity(model, make_manifest())
    assert base['model_sha256'] == ec.file_sha256(model) and base['input_size'] == [320, 240]
    assert tb.calibration_identity(model, make_manifest(), size=(640, 480))['input_size'] == [640, 480]
    (tmp_path / 'other').mkdir()
    other = write_tiny_onnx(tmp_path / 'other', seed=1)
    assert tb.calibration_identity(other, make_manifest())['model_sha256'] != base['model_sha256']


def test_make_calibrator_feeds_tensorrt_through_one_device_buffer(tmp_path):
    cuda = FakeCuda()
    trt = FakeBuilderTRT('8.6.1')
    arrays = ListBatches(np.full((1, 3, 8, 8), i, np.float32) for i in range(1, 4))
    feeder = tb.CalibrationFeeder(arrays, str(tmp_path / 'c.calib'), None, identity=IDENTITY)
    calibrator = tb.make_calibrator(trt, cuda, feeder)
    cuda.context_depth = 1
    assert isinstance(calibrator, trt.IInt8EntropyCalibrator2) and calibrator.get_batch_size() == 1
    seen = []
    while True:
        pointers = calibrator.get_batch(['input'])
        if pointers is None:
            break
        seen.append(cuda.read(pointers[0], (1, 3, 8, 8)))
    assert [float(s.mean()) for s in seen] == [1.0, 2.0, 3.0] and len(cuda.memory) == 1
    calibrator.write_calibration_cache(b'table')
    assert calibrator.read_calibration_cache() == b'table'
    calibrator.free()
    assert cuda.memory == {}


# ---------------------------------------------------------------------------------------------- builder (fake TRT)
class CachedCalibrator(object):
    """A calibrator whose cache is already filled (TensorRT then asks for no batches)."""

    def read_calibration_cache(self):
        return b'cached table'


def build(trt, tmp_path, precision='fp16', manifest=None, **kwargs):
    onnx = tmp_path / 'm.onnx'
    onnx.write_bytes(b'onnx bytes')
    messages = []
    data = tb.build_serialized_engine(trt, str(onnx), manifest or make_manifest(), precision, log=messages.append,
                                      **kwargs)
    return data, messages


def test_tensorrt_8_2_uses_explicit_batch_and_max_workspace_size(tmp_path):
    trt = FakeBuilderTRT('8.2.1.8')
    data, messages = build(trt, tmp_path, workspace_mb=128)
    assert data == b'\x00serialized fake engine'
    assert trt.called('network_flags') == [('network_flags', 1)]
    assert trt.config.max_workspace_size == 128 << 20 and not trt.called('pool')
    assert trt.called('flag') == [('flag', 'FP16')] and not trt.called('profile')
    assert any('parsing' in m for m in messages) and any('building fp16' in m for m in messages)


def test_tensorrt_10_uses_memory_pools_and_no_batch_flag(tmp_path):
    trt = FakeBuilderTRT('10.3.0')
    _, messages = build(trt, tmp_path, precision='fp32')
    assert trt.called('network_flags') == [('network_flags', 0)]
    assert trt.called('pool') == [('pool', 'WORKSPACE', tb.DEFAULT_WORKSPACE_MB << 20)]
    assert not hasattr(trt.config, 'max_workspace_size') and not trt.called('flag')
    # TensorRT >= 10 reports build phases: the top two levels are logged, deeper ones are not
    assert '  Building engine (2 steps)' in messages and '    Tactic timing (40 steps)' in messages
    assert not any('One layer' in m for m in messages)


# ---------------------------------------------------------------------------------------------- TensorRT 11
def test_tensorrt_11_builds_fp32_as_a_strongly_typed_network(tmp_path):
    trt = FakeBuilderTRT('11.4.0.106')
    data, messages = build(trt, tmp_path, precision='fp32')
    assert data == b'\x00serialized fake engine'
    assert trt.called('network_flags') == [('network_flags', 1 << 1)]  # STRONGLY_TYPED, not EXPLICIT_BATCH
    assert not trt.called('flag') and trt.called('pool')
    assert trt.parsed == [b'onnx bytes'] and any('building fp32' in m for m in messages)


@pytest.mark.parametrize('precision', ['fp16', 'int8'])
def test_tensorrt_11_refuses_reduced_precision_with_what_to_do(tmp_path, precision):
    trt = FakeBuilderTRT('11.4.0.106')
    with pytest.raises(tb.BuildError) as info:
        build(trt, tmp_path, precision=precision, calibrator=CachedCalibrator())
    message = str(info.value)
    assert 'TensorRT 11.4.0.106 builds strongly typed networks only' in message and precision in message
    assert 'precision fp32' in message and 'tensorrt<11' in message
    assert trt.calls == []  # refused before touching the builder
    with pytest.raises(tb.BuildError, match='strongly typed'):
        tb.make_calibrator(trt, FakeCuda(), tb.CalibrationFeeder(ListBatches(), None, None))


def test_cli_on_tensorrt_11_defaults_to_fp32_and_refuses_fp16(monkeypatch, capsys, tiny):
    install_fakes(monkeypatch, FakeBuilderTRT('11.4.0.106'), FakeCuda('NVIDIA GeForce RTX 4090'))
    assert tb.main([tiny]) == 0
    out = capsys.readouterr().out
    key = ec.engine_key(ec.file_sha256(tiny), 'fp32', '11.4.0.106', 'NVIDIA GeForce RTX 4090', input_size=(320, 240))
    assert 'precision fp32' in out and 'built engine: %s' % ec.cache_path(
        os.path.join(os.path.dirname(tiny), 'engines'), key) in out
    for precision in ('fp16', 'int8'):
        assert tb.main([tiny, '--precision', precision, '--calib-images', tiny]) == 1
        err = capsys.readouterr().err
        assert err.startswith('face-ssd-build-engine: error: TensorRT 11.4.0.106 builds strongly typed') and \
            'Traceback' not in err and 'AttributeError' not in err


def test_int8_calibrates_once_then_reuses_the_cache(tmp_path, dlib_images):
    manifest = make_manifest()
    cache = str(tmp_path / 'm.calib')
    for expected_batches in (4, 0):
        trt = FakeBuilderTRT('8.6.1')
        files = tb.list_calibration_images([dlib_images], limit=4)
        feeder_log = []
        feeder = tb.CalibrationFeeder(tb.CalibrationBatches(files, manifest), cache, None, log=feeder_log.append,
                                      identity=IDENTITY)
        cuda = FakeCuda()
        cuda.context_depth = 1
        calibrator = tb.make_calibrator(trt, cuda, feeder)
        build(trt, tmp_path, precision='int8', calibrator=calibrator)
        assert trt.called('flag') == [('flag', 'FP16'), ('flag', 'INT8')]
        assert len(trt.called('calibration_batch')) == expected_batches
        assert open(cache, 'rb').read() == b'calibration table'
    assert any('using calibration cache' in m for m in feeder_log)


def test_int8_without_calibrator_and_maxwell_warning(tmp_path):
    with pytest.raises(tb.BuildError, match='calibrator'):
        build(FakeBuilderTRT(), tmp_path, precision='int8')
    trt = FakeBuilderTRT(fast_int8=False)
    _, messages = build(trt, tmp_path, precision='int8', calibrator=CachedCalibrator())
    assert any('no fast INT8' in m and 'fp16' in m for m in messages)


def test_dynamic_model_gets_an_optimization_profile(tmp_path):
    trt = FakeBuilderTRT('10.3.0', input_shape=(1, 3, -1, -1))
    profile = {'min': (160, 120), 'opt': (320, 240), 'max': (640, 480)}
    build(trt, tmp_path, precision='int8', calibrator=CachedCalibrator(), profile=profile,
          manifest=make_manifest(dynamic=True))
    assert trt.called('profile') == [('profile', 'input', (1, 3, 120, 160), (1, 3, 240, 320), (1, 3, 480, 640))]
    assert trt.called('add_profile') and trt.called('calibration_profile')
    fixed_size = FakeBuilderTRT('10.3.0', input_shape=(1, 3, -1, -1))
    build(fixed_size, tmp_path, manifest=make_manifest(dynamic=True))
    assert fixed_size.called('profile')[0][2:] == ((1, 3, 240, 320),) * 3


def test_profile_for_a_fixed_model_is_refused(tmp_path):
    with pytest.raises(tb.BuildError, match='fixed input shape'):
        build(FakeBuilderTRT(), tmp_path, profile={'min': (160, 120), 'opt': (320, 240), 'max': (640, 480)})


def test_parse_errors_and_manifest_mismatch_and_failed_build(tmp_path):
    with pytest.raises(tb.BuildError, match='Unsupported ONNX op Foo'):
        build(FakeBuilderTRT(parse_errors=('Unsupported ONNX op Foo',)), tmp_path)
    with pytest.raises(tb.BuildError, match="manifest expects \\['input'\\]"):
        build(FakeBuilderTRT(input_name='data'), tmp_path)
    with pytest.raises(tb.BuildError, match="no output 'scores'"):
        build(FakeBuilderTRT(outputs=('boxes', 'logits')), tmp_path)
    with pytest.raises(tb.BuildError, match='failed to build'):
        build(FakeBuilderTRT(fail=True), tmp_path)


def test_version_tuple():
    assert tb.version_tuple('8.2.1.8') == (8, 2, 1, 8)
    assert tb.version_tuple('10.3.0.post1') == (10, 3, 0)
    assert tb.version_tuple('8.4.0') >= (8, 4) > tb.version_tuple('8.2.3')


# ---------------------------------------------------------------------------------------------- trtexec
def test_trtexec_lines():
    m = make_manifest()
    line = tb.trtexec_command('m.onnx', 'out/m.engine', 'fp16', m, 512)
    assert line == 'trtexec --onnx=m.onnx --saveEngine=out/m.engine --memPoolSize=workspace:512 --fp16'
    old = tb.trtexec_command('m.onnx', 'm.engine', 'fp32', m, 256, trt_version='8.2.1.8')
    assert old == 'trtexec --onnx=m.onnx --saveEngine=m.engine --workspace=256'
    int8 = tb.trtexec_command('my model.onnx', 'm.engine', 'int8', m, 256, calib_cache='c.calib')
    assert int8.startswith("trtexec '--onnx=my model.onnx'") and int8.endswith('--int8 --fp16 --calib=c.calib')
    dyn = tb.trtexec_command('m.onnx', 'm.engine', 'fp16', make_manifest(dynamic=True), 256,
                             profile={'min': (160, 120), 'opt': (320, 240), 'max': (640, 480)})
    assert dyn.endswith('--minShapes=input:1x3x120x160 --optShapes=input:1x3x240x320 '
                        '--maxShapes=input:1x3x480x640')


# ---------------------------------------------------------------------------------------------- CLI
@pytest.fixture
def tiny(tmp_path):
    return write_tiny_onnx(tmp_path)


def test_cli_print_trtexec_needs_no_tensorrt(monkeypatch, capsys, tiny):
    hide_modules(monkeypatch, 'tensorrt')
    assert tb.main([tiny, '--print-trtexec', '--workspace-mb', '64']) == 0
    out = capsys.readouterr().out.strip()
    engine = os.path.join(os.path.dirname(tiny), 'engines', 'tiny.fp16.engine')
    assert out == 'trtexec --onnx=%s --saveEngine=%s --memPoolSize=workspace:64 --fp16' % (tiny, engine)


def test_cli_without_tensorrt_explains(monkeypatch, capsys, tiny):
    hide_modules(monkeypatch, 'tensorrt')
    assert tb.main([tiny]) == 1
    assert 'tensorrt' in capsys.readouterr().err


@pytest.mark.parametrize('argv,message', [
    (['--min', '160x120'], 'all of --min, --opt and --max'),
    (['--min', '160x120', '--opt', '320x240', '--max', '640x480'], 'fixed 320x240 input'),
    (['--precision', 'int8'], '--calib-images'),
])
def test_cli_argument_errors(capsys, tiny, argv, message):
    assert tb.main([tiny] + argv) == 1
    assert message in capsys.readouterr().err


def test_parse_profile_order():
    args = types.SimpleNamespace(min='320x240', opt='160x120', max='640x480')
    with pytest.raises(tb.BuildError, match='--min <= --opt <= --max'):
        tb.parse_profile(args)


def test_cli_builds_writes_sidecar_and_reuses(monkeypatch, capsys, tiny):
    cuda = FakeCuda('NVIDIA Tegra X1')
    trt = FakeBuilderTRT('8.2.1.8')
    install_fakes(monkeypatch, trt, cuda)
    assert tb.main([tiny]) == 0
    out = capsys.readouterr().out
    cache = os.path.join(os.path.dirname(tiny), 'engines')
    key = ec.engine_key(ec.file_sha256(tiny), 'fp16', '8.2.1.8', 'NVIDIA Tegra X1', input_size=(320, 240))
    engine = ec.cache_path(cache, key)
    assert 'built engine: %s' % engine in out and '[3/3] built' in out
    info = ec.read_sidecar(engine)
    assert info['gpu_name'] == 'NVIDIA Tegra X1' and info['tensorrt_version'] == '8.2.1.8'
    assert info['manifest']['name'] == 'tiny-test' and info['build']['trtexec'].startswith('trtexec --onnx=')
    assert '--saveEngine=%s' % engine in info['build']['trtexec']
    assert cuda.context_depth == 0 and cuda.retained == 0
    assert tb.main([tiny]) == 0
    assert 'reusing valid engine' in capsys.readouterr().out and len(trt.called('parse')) == 1
    assert tb.main([tiny, '--precision', 'fp32', '--no-build']) == 1
    assert 'Building is disabled' in capsys.readouterr().err


def test_cli_int8_with_real_calibration_images(monkeypatch, capsys, tmp_path, tiny, dlib_images):
    cuda = FakeCuda()
    trt = FakeBuilderTRT('10.3.0')
    install_fakes(monkeypatch, trt, cuda)
    out = str(tmp_path / 'tiny.int8.engine')
    assert tb.main([tiny, '--precision', 'int8', '--calib-images', dlib_images, '--calib-count', '3',
                    '--output', out]) == 0
    assert len(trt.called('calibration_batch')) == 3 and cuda.memory == {}
    info = ec.read_sidecar(out)
    assert info['precision'] == 'int8' and os.path.isfile(info['build']['calibration_cache'])
    assert os.path.basename(info['build']['calibration_cache']) == '%s_320x240.calib' % ec.file_sha256(tiny)[:16]
    # a rebuild without images reuses the calibration cache: TensorRT asks for no batch
    assert tb.main([tiny, '--precision', 'int8', '--output', out, '--force']) == 0
    assert len(trt.called('calibration_batch')) == 3 and 'using calibration cache' in capsys.readouterr().out
    # a cache that cannot be tied to this model is never used: with images it is recalibrated, without it is an error
    cache = info['build']['calibration_cache']
    os.remove(tb.calibration_sidecar_path(cache))
    assert tb.main([tiny, '--precision', 'int8', '--output', out, '--force']) == 1
    assert 'calibration cache made for this model' in capsys.readouterr().err
    assert tb.main([tiny, '--precision', 'int8', '--calib-images', dlib_images, '--calib-count', '3',
                    '--output', out, '--force']) == 0
    assert len(trt.called('calibration_batch')) == 6 and 'ignoring calibration cache' in capsys.readouterr().out
    assert os.path.isfile(tb.calibration_sidecar_path(cache))
