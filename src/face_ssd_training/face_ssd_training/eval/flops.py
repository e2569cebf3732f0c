"""Parameters and multiply-accumulates (MACs) of an ONNX graph, from its initializers and inferred shapes.

Counted: Conv (``prod(output) * Cin/groups * prod(kernel)``), ConvTranspose (``prod(input) * Cout/groups *
prod(kernel)``), Gemm and MatMul (``prod(output) * K``). Element-wise ops, pooling, softmax and resizing are left
out, as usual for detector "FLOPs" tables; GFLOPs = 2 * GMACs. Parameters = elements of the float initializers,
without BatchNormalization running mean / variance (statistics, not parameters).
"""
import numpy as np

_WEIGHT_OPS = ('Conv', 'ConvTranspose', 'Gemm', 'MatMul')


def _load(model):
    import onnx
    if isinstance(model, onnx.ModelProto):
        m = onnx.ModelProto()
        m.CopyFrom(model)
        return m
    if isinstance(model, (bytes, bytearray)):
        return onnx.load_from_string(bytes(model))
    return onnx.load(model)


def real_inputs(model):
    """Graph inputs that are not initializers (old exports list every weight as an input too)."""
    inits = {t.name for t in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in inits]


def set_input_shape(model, shape):
    """Fix the dims of the (single) real input in place, e.g. ``(1, 3, 480, 640)``."""
    inputs = real_inputs(model)
    if len(inputs) != 1:
        raise ValueError('the model has %d inputs; set_input_shape handles exactly one' % len(inputs))
    dims = inputs[0].type.tensor_type.shape.dim
    if len(dims) != len(shape):
        raise ValueError('input %s has rank %d, got shape %s' % (inputs[0].name, len(dims), tuple(shape)))
    for d, v in zip(dims, shape):
        d.Clear()
        d.dim_value = int(v)
    # Shapes stored for outputs / intermediates may contradict the new input size: drop them, inference redoes them.
    del model.graph.value_info[:]
    for o in model.graph.output:
        o.type.tensor_type.ClearField('shape')


def _shape_map(model):
    import onnx
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        dims = vi.type.tensor_type.shape.dim
        if len(dims) and all(d.HasField('dim_value') for d in dims):
            shapes[vi.name] = tuple(int(d.dim_value) for d in dims)
    for t in model.graph.initializer:
        shapes[t.name] = tuple(int(d) for d in t.dims)
    return shapes


def _probe_shapes(model, names):
    """Shapes of ``names`` by running the model once on zeros with ONNX Runtime (fallback for shape inference)."""
    import onnx
    import onnxruntime as ort
    m = _load(model)
    existing = {o.name for o in m.graph.output}
    for n in names:
        if n not in existing:
            m.graph.output.append(onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None))
    feeds = {}
    for i in real_inputs(m):
        dims = [d.dim_value for d in i.type.tensor_type.shape.dim]
        if not all(dims):
            raise ValueError('input %s has a dynamic shape: pass input_shape' % i.name)
        feeds[i.name] = np.zeros(dims, dtype=np.float32)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(m.SerializeToString(), opts, providers=['CPUExecutionProvider'])
    outs = sess.run(list(names), feeds)
    return {n: tuple(o.shape) for n, o in zip(names, outs)}


def _node_macs(node, shapes):
    attrs = {a.name: a for a in node.attribute}
    if node.op_type == 'Conv':
        w = shapes[node.input[1]]
        return int(np.prod(shapes[node.output[0]], dtype=np.int64) * np.prod(w[1:], dtype=np.int64))
    if node.op_type == 'ConvTranspose':
        w = shapes[node.input[1]]
        return int(np.prod(shapes[node.input[0]], dtype=np.int64) * np.prod(w[1:], dtype=np.int64))
    if node.op_type == 'Gemm':
        a = shapes[node.input[0]]
        trans_a = attrs['transA'].i if 'transA' in attrs else 0
        k = a[0] if trans_a else a[1]
        return int(np.prod(shapes[node.output[0]], dtype=np.int64) * k)
    if node.op_type == 'MatMul':
        return int(np.prod(shapes[node.output[0]], dtype=np.int64) * shapes[node.input[0]][-1])
    return 0


def count_params(model):
    """Float parameters of a loaded ModelProto (see the module docstring)."""
    import onnx
    stats = set()
    for node in model.graph.node:
        if node.op_type == 'BatchNormalization':
            stats.update(node.input[3:5])
    floats = (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE, onnx.TensorProto.BFLOAT16)
    return int(sum(int(np.prod(t.dims, dtype=np.int64)) for t in model.graph.initializer
                   if t.data_type in floats and t.name not in stats))


def onnx_complexity(model, input_shape=None):
    """Parameters and MACs of an ONNX model.

    Args:
        model: path, serialized bytes or ``onnx.ModelProto`` (not modified).
        input_shape: e.g. ``(1, 3, 480, 640)`` to fix a dynamic (or different) input size; default: as stored.
    Returns:
        ``{"params": int, "macs": int, "gmacs": float, "gflops": float, "input_shape": [..],
        "by_op": {op_type: macs}}``.
    Raises:
        ValueError: the input shape is dynamic and ``input_shape`` was not given.
    """
    m = _load(model)
    if input_shape is not None:
        set_input_shape(m, input_shape)
    shapes = _shape_map(m)
    nodes = [n for n in m.graph.node if n.op_type in _WEIGHT_OPS]
    missing = sorted({name for n in nodes for name in (list(n.input[:2]) + [n.output[0]]) if name not in shapes})
    if missing:
        shapes.update(_probe_shapes(m, missing))
    by_op = {}
    for n in nodes:
        by_op[n.op_type] = by_op.get(n.op_type, 0) + _node_macs(n, shapes)
    macs = int(sum(by_op.values()))
    inp = real_inputs(m)
    return {'params': count_params(m), 'macs': macs, 'gmacs': macs / 1e9, 'gflops': 2.0 * macs / 1e9,
            'input_shape': list(shapes.get(inp[0].name, ())) if inp else [], 'by_op': by_op}
