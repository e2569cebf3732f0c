"""Test models for the whole suite: manifests and tiny ONNX graphs built with onnx.helper, and images for them.

The "grid" graph makes the end-to-end tests meaningful: it splits the (normalised) input into cells of
``cell x cell`` pixels, averages each cell over pixels and channels (``f``), and outputs per cell
``scores = softmax([0, gain * f, -gain * f, ...])`` (class 1 = bright cell, class 2 = dark cell) and the cell's
own box, normalised xyxy. So a white square on a black image is a class-1 detection exactly at that square.
"""
import copy
import json

import numpy as np

BASE_MANIFEST = {
    'format': 'face_ssd.model', 'format_version': 1,
    'name': 'test-grid', 'arch': 'grid',
    'input': {'name': 'input', 'width': 32, 'height': 24, 'layout': 'NCHW', 'dtype': 'float32',
              'channel_order': 'RGB', 'mean': [127.0, 127.0, 127.0], 'std': [128.0, 128.0, 128.0],
              'resize': 'stretch', 'dynamic_size': False},
    'labels': ['background', 'face'],
    'outputs': {'scores': {'name': 'scores', 'activation': 'softmax'},
                'boxes': {'name': 'boxes', 'format': 'xyxy_normalized'}},
    'num_priors': 12,
    'priors': {'strides': [8], 'min_sizes': [[8]], 'aspect_ratios': [[]], 'variances': [0.1, 0.2], 'clip': True},
    'postprocess': {'score_threshold': 0.6, 'nms_iou': 0.3, 'max_detections': 200},
    'training': {'data': 'synthetic', 'epochs': 0, 'commit': 'none'},
}


def make_manifest(width=32, height=24, labels=('background', 'face'), cell=8, **top_level):
    """A valid manifest dict for the grid graph; ``top_level`` keys replace top-level entries."""
    m = copy.deepcopy(BASE_MANIFEST)
    m['input']['width'], m['input']['height'] = width, height
    m['labels'] = list(labels)
    m['num_priors'] = (width // cell) * (height // cell)
    m.update(copy.deepcopy(top_level))
    return m


def grid_boxes(width, height, cell):
    """Normalised xyxy box of every cell, row-major: float32 [N, 4]."""
    cols, rows = width // cell, height // cell
    boxes = [[c * cell / width, r * cell / height, (c + 1) * cell / width, (r + 1) * cell / height]
             for r in range(rows) for c in range(cols)]
    return np.asarray(boxes, dtype=np.float32)


def build_grid_onnx(path, manifest=None, cell=8, gain=4.0, graph_manifest=None, embed=True, sidecar=True,
                    nan_scores=False, dynamic=False, input_name=None, output_names=None, graph_priors=None,
                    boxes_first=False):
    """Write the grid graph to ``path`` (and ``<path>.json`` if ``sidecar``); returns the manifest dict.

    ``graph_manifest``: build the graph from this manifest while embedding/writing ``manifest`` (to make
    mismatches); ``input_name`` / ``output_names`` override the graph's names; ``graph_priors``: pad/trim the
    number of priors the graph outputs; ``dynamic``: symbolic H/W (every box then covers the whole image);
    ``boxes_first``: list the graph outputs as (boxes, scores).
    """
    import onnx
    from onnx import TensorProto, helper

    manifest = manifest if manifest is not None else make_manifest(cell=cell)
    g = graph_manifest if graph_manifest is not None else manifest
    width, height = g['input']['width'], g['input']['height']
    num_classes = len(g['labels'])
    in_name = input_name or g['input']['name']
    scores_name, boxes_name = output_names or (g['outputs']['scores']['name'], g['outputs']['boxes']['name'])
    h_dim, w_dim = ('H', 'W') if dynamic else (height, width)
    n_dim = 'N' if dynamic else (graph_priors or (width // cell) * (height // cell))

    nodes = [
        helper.make_node('ReduceMean', [in_name], ['gray'], axes=[1], keepdims=1),
        helper.make_node('AveragePool', ['gray'], ['pooled'], kernel_shape=[cell, cell], strides=[cell, cell]),
        helper.make_node('Reshape', ['pooled', 'shape_n1'], ['f0']),
        helper.make_node('Mul', ['f0', 'gain'], ['f']),
        helper.make_node('Mul', ['f', 'zero'], ['bg']),
        helper.make_node('Neg', ['f'], ['neg_f']),
    ]
    logits = ['bg', 'f'] + ['neg_f'] * (num_classes - 2)
    inits = [helper.make_tensor('shape_n1', TensorProto.INT64, [3], [1, -1, 1]),
             helper.make_tensor('gain', TensorProto.FLOAT, [], [gain]),
             helper.make_tensor('zero', TensorProto.FLOAT, [], [0.0])]
    nodes.append(helper.make_node('Concat', logits, ['logits'], axis=2))
    if graph_priors and not dynamic:   # repeat/trim priors so N disagrees with the manifest
        base_n = (width // cell) * (height // cell)
        idx = np.arange(graph_priors) % base_n
        inits.append(helper.make_tensor('prior_idx', TensorProto.INT64, [graph_priors], idx.tolist()))
        nodes.append(helper.make_node('Gather', ['logits', 'prior_idx'], ['logits_n'], axis=1))
        logits_out = 'logits_n'
        boxes = grid_boxes(width, height, cell)[idx]
    else:
        logits_out = 'logits'
        boxes = grid_boxes(width, height, cell)
    nodes.append(helper.make_node('Softmax', [logits_out], ['probs'], axis=2))
    if nan_scores:
        inits.append(helper.make_tensor('nan', TensorProto.FLOAT, [], [float('nan')]))
        nodes.append(helper.make_node('Mul', ['probs', 'nan'], [scores_name]))
    else:
        nodes.append(helper.make_node('Identity', ['probs'], [scores_name]))
    if dynamic:   # every prior = the whole image, computed from the pooled map so N follows the input size
        nodes += [helper.make_node('Mul', ['f0', 'zero'], ['z']),
                  helper.make_node('Add', ['z', 'one'], ['o']),
                  helper.make_node('Concat', ['z', 'z', 'o', 'o'], [boxes_name], axis=2)]
        inits.append(helper.make_tensor('one', TensorProto.FLOAT, [], [1.0]))
    else:
        inits.append(helper.make_tensor('box_const', TensorProto.FLOAT, [1, boxes.shape[0], 4],
                                        boxes.reshape(-1).tolist()))
        nodes.append(helper.make_node('Identity', ['box_const'], [boxes_name]))
    outputs = [helper.make_tensor_value_info(scores_name, TensorProto.FLOAT, [1, n_dim, num_classes]),
               helper.make_tensor_value_info(boxes_name, TensorProto.FLOAT, [1, n_dim, 4])]
    graph = helper.make_graph(
        nodes, 'grid', [helper.make_tensor_value_info(in_name, TensorProto.FLOAT, [1, 3, h_dim, w_dim])],
        outputs[::-1] if boxes_first else outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)], producer_name='face_ssd tests')
    model.ir_version = 8
    if embed:
        helper.set_model_props(model, {'face_ssd_manifest': json.dumps(manifest)})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    if sidecar:
        with open(str(path)[:-len('.onnx')] + '.json', 'w') as f:
            json.dump(manifest, f)
    return manifest


def write_square(path, width=64, height=48, square=(16, 16, 32, 32)):
    """Write a black PNG/JPEG with a white ``square`` (x1, y1, x2, y2): one grid-model face. Returns the path."""
    import cv2
    img = np.zeros((height, width, 3), np.uint8)
    x1, y1, x2, y2 = square
    img[y1:y2, x1:x2] = 255
    assert cv2.imwrite(str(path), img)
    return str(path)
