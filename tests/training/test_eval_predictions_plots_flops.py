"""Predictions JSONL round trip, PR plots as real PNGs, ONNX parameter / MAC counting on hand-sized graphs."""
import json

import numpy as np
import pytest

from face_ssd_ros.detect.predictions import (PredictionsFormatError, image_key, index_records, make_error_record,
                                             make_record, read_predictions, record_boxes, record_labels,
                                             write_predictions)


# ------------------------------------------------------------------------------------------------ JSONL
def test_jsonl_round_trip(tmp_path):
    recs = [make_record('0--Parade/a.jpg', 640, 480, [(1.234, 2, 30.5, 40, 0.91234567, 'face'),
                                                        (5, 6, 7, 8, np.float32(0.5), 'plate')]),
            make_error_record('bad.jpg', 'not an image'),
            make_record('/abs/1--X/b.png', 10, 20, [])]
    path = str(tmp_path / 'sub' / 'pred.jsonl')
    assert write_predictions(path, recs) == 3
    back = read_predictions(path)
    assert back == json.loads(json.dumps(recs))
    assert back[0]['boxes'][0] == [1.23, 2.0, 30.5, 40.0, 0.912346, 'face']
    assert record_boxes(back[0]).shape == (2, 5) and record_labels(back[0]) == ['face', 'plate']
    assert record_boxes(back[0], labels={'plate'}).tolist() == [[5, 6, 7, 8, 0.5]]
    assert record_boxes(back[1]).shape == (0, 5) and back[1]['error'] == 'not an image'
    assert sorted(index_records(back)) == ['0--Parade/a', '1--X/b', 'bad']


def test_malformed_files_name_the_line(tmp_path):
    path = tmp_path / 'p.jsonl'
    path.write_text('{"image": "a.jpg", "width": 1, "height": 1, "boxes": []}\n\n{oops\n')
    with pytest.raises(PredictionsFormatError, match=r'p.jsonl:3: not valid JSON'):
        read_predictions(str(path))
    path.write_text('{"image": "a.jpg", "width": 1, "height": 1, "boxes": [[1, 2, 3, 4, 0.5]]}\n')
    with pytest.raises(PredictionsFormatError, match=r':1: box 0 must be'):
        read_predictions(str(path))
    path.write_text('{"image": "a.jpg", "boxes": []}\n')
    with pytest.raises(PredictionsFormatError, match='missing key "width"'):
        read_predictions(str(path))
    with pytest.raises(FileNotFoundError, match='face-ssd-detect'):
        read_predictions(str(tmp_path / 'none.jsonl'))
    with pytest.raises(PredictionsFormatError, match='two prediction lines'):
        index_records([make_record('x/a.jpg', 1, 1, []), make_record('/other/x/a.png', 1, 1, [])])


def test_image_key():
    assert image_key('/data/wider/images/0--Parade/0_Parade_x.jpg') == '0--Parade/0_Parade_x'
    assert image_key('a\\b\\c.jpeg', depth=1) == 'c'
    assert image_key('./c.jpg') == 'c'


# ------------------------------------------------------------------------------------------------ plots
def _assert_png(path, min_w=200):
    import cv2
    with open(path, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    img = cv2.imread(path)
    assert img is not None and img.shape[1] >= min_w and img.std() > 5   # something was drawn


def test_pr_plots_are_valid_pngs(tmp_path):
    from face_ssd_training.eval.plots import plot_models, plot_pr_curves
    r = np.linspace(0, 0.8, 50)
    curves = {'easy': (r, 1 - r / 2, 0.71), 'hard': (r / 2, 1 - r, float('nan'))}
    out = plot_pr_curves(curves, str(tmp_path / 'a' / 'pr.png'), 'test')
    _assert_png(out)
    out2 = plot_models({'m1': curves, 'm2': {'easy': (r, 1 - r, 0.5)}}, str(tmp_path / 'cmp.png'))
    _assert_png(out2, min_w=600)   # two panels side by side


# ------------------------------------------------------------------------------------------------ FLOPs
def _tiny_model(dynamic=False):
    """Conv 3->8 k3 pad1 (+bias), BatchNorm, depthwise Conv 8 groups k3, ConvTranspose 8->4 k2 s2, Gemm 16->2."""
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(0)

    def init(name, *shape):
        return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)
    inits = [init('w1', 8, 3, 3, 3), init('b1', 8), init('g', 8), init('beta', 8), init('mean', 8), init('var', 8),
             init('w2', 8, 1, 3, 3), init('wt', 8, 4, 2, 2), init('wg', 16, 2),
             helper.make_tensor('shape', TensorProto.INT64, [2], [-1, 16])]
    nodes = [helper.make_node('Conv', ['x', 'w1', 'b1'], ['c1'], pads=[1, 1, 1, 1]),
             helper.make_node('BatchNormalization', ['c1', 'g', 'beta', 'mean', 'var'], ['bn']),
             helper.make_node('Conv', ['bn', 'w2'], ['c2'], pads=[1, 1, 1, 1], group=8),
             helper.make_node('ConvTranspose', ['c2', 'wt'], ['ct'], strides=[2, 2]),
             helper.make_node('Reshape', ['ct', 'shape'], ['flat']),
             helper.make_node('Gemm', ['flat', 'wg'], ['y'])]
    h, w = ('H', 'W') if dynamic else (16, 16)
    graph = helper.make_graph(nodes, 'tiny', [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 3, h, w])],
                              [helper.make_tensor_value_info('y', TensorProto.FLOAT, None)], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)])
    model.ir_version = 8
    return model


def test_flops_hand_computed():
    from face_ssd_training.eval.flops import onnx_complexity
    r = onnx_complexity(_tiny_model())
    conv1 = 8 * 16 * 16 * 3 * 9
    dw = 8 * 16 * 16 * 1 * 9
    convt = 8 * 16 * 16 * 4 * 4          # every input element feeds Cout/groups * k * k outputs
    gemm = (4 * 32 * 32 // 16) * 2 * 16  # [256, 16] x [16, 2]
    assert r['by_op'] == {'Conv': conv1 + dw, 'ConvTranspose': convt, 'Gemm': gemm}
    assert r['macs'] == conv1 + dw + convt + gemm and r['gflops'] == pytest.approx(2 * r['gmacs'])
    # params: conv 216 + 8, BN scale/bias 16 (running stats excluded), dw 72, convT 128, gemm 32
    assert r['params'] == 216 + 8 + 16 + 72 + 128 + 32


def test_flops_dynamic_input_needs_and_follows_the_shape():
    from face_ssd_training.eval.flops import onnx_complexity
    m = _tiny_model(dynamic=True)
    r = onnx_complexity(m, (1, 3, 32, 32))
    assert r['by_op']['Conv'] == 4 * (8 * 16 * 16 * 3 * 9 + 8 * 16 * 16 * 9)
    assert r['input_shape'] == [1, 3, 32, 32]
    assert m.graph.input[0].type.tensor_type.shape.dim[2].dim_param == 'H'   # caller's model untouched
    with pytest.raises(ValueError, match='dynamic'):
        onnx_complexity(m)


def test_latency_measurement_reports_median(tmp_path):
    import onnx
    from face_ssd_training.eval.latency import measure_onnx_latency
    path = str(tmp_path / 'tiny.onnx')
    onnx.save(_tiny_model(), path)
    r = measure_onnx_latency(path, (1, 3, 16, 16), threads=1, warmup=1, runs=5)
    assert r['runs'] == 5 and 0 < r['min_ms'] <= r['median_ms'] <= r['p90_ms'] and r['threads'] == 1
