"""CPU latency of an ONNX network with ONNX Runtime at batch 1 (network only: no decoding, no NMS, no resize).

The same measurement is used for our models and for the baselines so that numbers are comparable: a fixed random
input, ``warmup`` untimed runs, then ``runs`` timed ``session.run`` calls; median, mean, p90 and min in ms.
"""
import time

import numpy as np


def make_session(model, threads=2):
    """ONNX Runtime CPU session with ``threads`` intra-op threads and 1 inter-op thread (all optimisations on).

    Args:
        model: path or serialized bytes.
    """
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(threads)
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    return ort.InferenceSession(model, opts, providers=['CPUExecutionProvider'])


def time_session(session, feeds, warmup=5, runs=30):
    """Time ``session.run(None, feeds)``.

    Returns:
        ``{"median_ms", "mean_ms", "p90_ms", "min_ms", "runs", "threads"?}`` (floats in milliseconds).
    """
    if runs < 1:
        raise ValueError('runs must be >= 1')
    for _ in range(max(0, warmup)):
        session.run(None, feeds)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        session.run(None, feeds)
        times.append((time.perf_counter() - t0) * 1000.0)
    t = np.asarray(times)
    return {'median_ms': float(np.median(t)), 'mean_ms': float(t.mean()), 'p90_ms': float(np.percentile(t, 90)),
            'min_ms': float(t.min()), 'runs': int(runs)}


def measure_onnx_latency(model, input_shape, threads=2, warmup=5, runs=30, input_name=None, seed=0):
    """Median latency of one ``[1, 3, H, W]`` float32 inference.

    Args:
        model: path or serialized bytes of a model whose (single) input accepts ``input_shape``.
        input_shape: e.g. ``(1, 3, 240, 320)``.
        input_name: default: the session's first input.
    Returns:
        :func:`time_session`'s dict plus ``"threads"`` and ``"input_shape"``.
    """
    sess = make_session(model, threads)
    name = input_name or sess.get_inputs()[0].name
    x = np.random.default_rng(seed).standard_normal(tuple(input_shape)).astype(np.float32)
    out = time_session(sess, {name: x}, warmup, runs)
    out.update({'threads': int(threads), 'input_shape': [int(v) for v in input_shape]})
    return out
