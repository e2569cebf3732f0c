"""face-ssd-trt-parity and face-ssd-trt-bench: output comparison, WIDER dev AP difference, per-stage timing.

On this machine (no GPU) the tools run ONNX Runtime against itself / the fake TensorRT engine; the comparison
logic, the AP plumbing and the report are the same as on a Jetson.
"""
import json
import os

import numpy as np
import pytest

from face_ssd_ros.detect import engine_cache as ec
from face_ssd_ros.engine import tools as tt
from tensorrt_testutils import (FakeCuda, fake_plan, install_fakes, make_fake_trt, manifest_dict, real_images,
                                write_tiny_onnx)



@pytest.fixture
def tiny(tmp_path):
    return write_tiny_onnx(tmp_path)


@pytest.fixture
def wider_dev():
    path = real_images('faces/wider_dev')
    if path is None:
        pytest.skip('real data not available')
    return path


def outputs(seed, n=50):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 1, (1, n, 1))
    return np.concatenate([1 - p, p], axis=-1).astype(np.float32), rng.uniform(0, 1, (1, n, 4)).astype(np.float32)


def test_compare_outputs_measures_the_differences():
    scores, boxes = outputs(0)
    same = tt.compare_outputs(scores, boxes, scores.copy(), boxes.copy())
    assert same['score_max'] == 0 and same['box_max'] == 0 and same['confident'] == int((scores[0, :, 1] >= 0.1).sum())
    s2, b2 = scores.copy(), boxes.copy()
    s2[0, 3, 1] += 0.25
    b2[0, 7, 2] -= 0.5
    diff = tt.compare_outputs(scores, boxes, s2, b2)
    assert diff['score_max'] == pytest.approx(0.25, abs=1e-6) and diff['box_max'] == pytest.approx(0.5, abs=1e-6)
    confident = scores[0, 7, 1] >= 0.1
    assert diff['box_conf_max'] == (pytest.approx(0.5, abs=1e-6) if confident else 0.0)
    with pytest.raises(tt.ToolError, match='shapes differ'):
        tt.compare_outputs(scores, boxes, scores[:, :10], boxes)
    summary = tt.summarize_diffs([same, diff])
    assert summary['images'] == 2 and summary['score_max'] == diff['score_max']


def parity_args(model, reference, **kw):
    argv = [model, '--reference', reference]
    for key, value in kw.items():
        argv += ['--' + key.replace('_', '-')] + ([str(value)] if not isinstance(value, list) else value)
    return tt.build_parity_parser().parse_args(argv)


def test_parity_of_a_model_with_itself_on_wider_dev(tiny, wider_dev):
    args = parity_args(tiny, tiny, backend='onnxruntime', wider_dev=wider_dev, limit=4)
    report = tt.run_parity(args, log=lambda m: None)
    assert report['diffs']['images'] == 4 and report['diffs']['score_max'] == 0.0
    assert report['ap'] is not None and set(report['ap']['difference']) == {'easy', 'medium', 'hard'}
    assert all(v == 0.0 for v in report['ap']['difference'].values())
    assert all(0.0 <= v <= 1.0 for v in report['ap']['reference'].values())
    assert report['passed'] and report['tolerances']['score'] == tt.TOLERANCES['fp32'][0]
    assert any('WIDER dev AP' in line for line in tt.format_parity(report))


def test_parity_detects_a_different_model(tmp_path, tiny):
    other_dir = tmp_path / 'other'
    other_dir.mkdir()
    other = write_tiny_onnx(other_dir, seed=1)
    images = real_images('faces/dlib/images')
    if images is None:
        pytest.skip('real data not available')
    report = tt.run_parity(parity_args(other, tiny, backend='onnxruntime', images=[images], limit=2),
                           log=lambda m: None)
    assert report['diffs']['score_max'] > 0.01 and report['ap'] is None and not report['passed']


def test_parity_cli_exit_codes_and_json(tmp_path, tiny, capsys):
    images = real_images('faces/dlib/images')
    if images is None:
        pytest.skip('real data not available')
    out = str(tmp_path / 'parity.json')
    code = tt.main_parity([tiny, '--reference', tiny, '--backend', 'onnxruntime', '--images', images, '--limit', '2',
                           '--json', out])
    assert code == 0 and 'PASS' in capsys.readouterr().out
    assert json.load(open(out))['passed'] is True
    assert tt.main_parity([tiny, '--reference', tiny, '--images', images]) == 1  # tensorrt not installed here
    assert 'tensorrt backend' in capsys.readouterr().err


def test_parity_tensorrt_engine_through_fakes(monkeypatch, tmp_path, tiny):
    """ONNX Runtime (tiny model) vs the fake TensorRT engine: real differences are found and reported."""
    images = real_images('faces/dlib/images')
    if images is None:
        pytest.skip('real data not available')
    cuda = FakeCuda()
    install_fakes(monkeypatch, make_fake_trt(cuda, version='10.3.0'), cuda)
    engine = str(tmp_path / 'tiny.engine')
    ec.write_engine(engine, fake_plan((1, 3, 240, 320), outputs=('boxes', 'scores')))
    ec.write_sidecar(engine, ec.make_sidecar(engine, tiny, manifest_dict(), 'fp16', '10.3.0', cuda.gpu_name,
                                             input_shape=(1, 3, 240, 320)))
    report = tt.run_parity(parity_args(engine, tiny, images=[images], limit=2), log=lambda m: None)
    assert report['candidate']['precision'] == 'fp16' and report['tolerances']['ap'] == tt.TOLERANCES['fp16'][2]
    assert report['diffs']['score_max'] > 0  # the fake engine is not the tiny model
    assert cuda.memory == {}  # both backends closed


def test_manifest_for_engine_reads_the_sidecar(tmp_path, tiny):
    engine = str(tmp_path / 'x.engine')
    ec.write_engine(engine, b'\x00engine')
    ec.write_sidecar(engine, ec.make_sidecar(engine, tiny, manifest_dict(), 'fp16', '8.2.1.8', 'GPU',
                                             input_shape=(1, 3, 240, 320)))
    assert tt.manifest_for(engine).num_priors == 1200
    os.remove(engine + '.json')
    with pytest.raises(tt.ToolError, match='engine sidecar'):
        tt.manifest_for(engine)


def test_bench_times_every_stage_at_each_frame_size(tmp_path, tiny, capsys):
    images = real_images('faces/dlib/images')
    if images is None:
        pytest.skip('real data not available')
    out = str(tmp_path / 'bench.json')
    code = tt.main_bench([tiny, '--images', images, '--num-images', '3', '--runs', '5', '--warmup', '1',
                          '--frame-sizes', '320x240,640x480', '--precisions', 'fp16', '--json', out])
    assert code == 0
    text = capsys.readouterr().out
    assert 'tensorrt fp16' in text and 'skipped' in text  # no TensorRT here: reported, not fatal
    results = json.load(open(out))['results']
    timed = [r for r in results if 'stats' in r]
    assert [r['frame'] for r in timed] == ['320x240', '640x480'] and all(r['input'] == '320x240' for r in timed)
    for r in timed:
        s = r['stats']
        assert s['inference']['mean'] > 0 and s['total']['p95'] >= s['total']['p50'] > 0
        assert s['total']['mean'] == pytest.approx(s['preprocess']['mean'] + s['inference']['mean']
                                                   + s['postprocess']['mean'], rel=1e-6)
        assert s['fps'] == pytest.approx(1000.0 / s['total']['mean'])


def test_bench_rejects_unknown_backends(tiny, capsys):
    assert tt.main_bench([tiny, '--backends', 'torch', '--images', str(tiny)]) == 1
    assert 'benchmarks onnxruntime and tensorrt' in capsys.readouterr().err
