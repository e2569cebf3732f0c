"""Recover a training checkpoint from one of our exported ONNX models: ``face-ssd-import-onnx MODEL.onnx --out CKPT``.

Export folds every BatchNorm into the convolution before it, so the ONNX holds, for each ``nn.Conv2d`` of the
:class:`~face_ssd_training.models.SSD` in execution order, one ``Conv`` node with the folded weight ``W'`` [O, I, k, k]
and bias ``b'`` [O]. Import maps the two sequences one to one (shapes checked) and "unfolds" each Conv+BN pair:

* the conv gets ``W'``;
* the BN gets running statistics measured on real images: ``mean_c`` and ``var_c`` of the conv output ``W' * x``
  (channel c), ``gamma_c = sqrt(var_c + eps)`` and ``beta_c = mean_c + b'_c``.

In eval mode ``BN(W' * x) = W' * x + b'`` exactly, so the imported model reproduces the ONNX outputs (checked after
import); in train mode the batch statistics are close to the running ones, so fine-tuning starts where the
exported model stands instead of from scratch.
"""
import argparse
import sys

import numpy as np
import torch
from torch import nn

from .export import parity
from .models import InferenceModel, model_from_manifest


def _conv_initializers(onnx_model):
    """[(weight [O, I, k, k], bias [O] or None)] of the graph's Conv nodes in graph (execution) order."""
    from onnx import numpy_helper
    inits = {i.name: numpy_helper.to_array(i) for i in onnx_model.graph.initializer}
    convs = []
    for node in onnx_model.graph.node:
        if node.op_type != 'Conv':
            continue
        if node.input[1] not in inits:
            raise ValueError('Conv node %s takes its weight from the graph, not from an initializer' % node.name)
        bias = inits.get(node.input[2]) if len(node.input) > 2 else None
        convs.append((inits[node.input[1]], bias))
    return convs


def _convs_in_call_order(model, width, height):
    """[(conv, bn or None)] of ``model`` in forward order; ``bn`` is the BatchNorm2d fed by that conv, if any."""
    order = []
    hooks = [m.register_forward_hook(lambda mod, inp, out: order.append(mod))
             for m in model.modules() if isinstance(m, (nn.Conv2d, nn.BatchNorm2d))]
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros((1, 3, height, width)))
    finally:
        for h in hooks:
            h.remove()
    pairs = []
    for i, mod in enumerate(order):
        if isinstance(mod, nn.Conv2d):
            nxt = order[i + 1] if i + 1 < len(order) else None
            pairs.append((mod, nxt if isinstance(nxt, nn.BatchNorm2d) else None))
    return pairs


def _preprocess(image_rgb, manifest):
    """uint8 RGB [H, W, 3] -> float32 [1, 3, h, w] normalised as the manifest says (stretch resize)."""
    import cv2
    inp = manifest['input']
    x = cv2.resize(image_rgb, (inp['width'], inp['height']), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    if inp.get('channel_order', 'RGB') == 'BGR':
        x = x[:, :, ::-1]
    x = (x - np.asarray(inp['mean'], np.float32)) / np.asarray(inp['std'], np.float32)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)[None]))


def read_manifest(onnx_model):
    import json
    for prop in onnx_model.metadata_props:
        if prop.key == 'face_ssd_manifest':
            return json.loads(prop.value)
    raise ValueError('the ONNX has no face_ssd_manifest metadata: only models exported by face-ssd-export import')


def checkpoint_from_onnx(onnx_path, calib_images, max_images=64, log=print):
    """Rebuild the :class:`SSD` of an exported ONNX; returns ``(checkpoint dict, max |ONNX - torch| on calib images)``.

    ``calib_images``: uint8 RGB arrays [H, W, 3] (any size) for the BatchNorm statistics; 16 or more is plenty.
    """
    import onnx
    try:
        onnx_model = onnx.load(onnx_path)
    except Exception as exc:  # protobuf's DecodeError and friends: not an ONNX file, or a truncated one
        raise ValueError('cannot parse ONNX file %s (%s: %s); is it complete? Re-export it with face-ssd-export.'
                         % (onnx_path, type(exc).__name__, exc))
    manifest = read_manifest(onnx_model)
    w, h = manifest['input']['width'], manifest['input']['height']
    model = model_from_manifest(manifest)
    pairs = _convs_in_call_order(model, w, h)
    convs = _conv_initializers(onnx_model)
    if len(pairs) != len(convs):
        raise ValueError('%s has %d convolutions, the %s builder %d: not this architecture'
                         % (onnx_path, len(convs), manifest['arch'], len(pairs)))
    for i, ((conv, bn), (wt, bias)) in enumerate(zip(pairs, convs)):
        if tuple(conv.weight.shape) != tuple(wt.shape):
            raise ValueError('convolution %d: ONNX weight %s, model %s' % (i, wt.shape, tuple(conv.weight.shape)))
        with torch.no_grad():
            conv.weight.copy_(torch.from_numpy(np.array(wt)))
            b = torch.from_numpy(np.array(bias)) if bias is not None else torch.zeros(wt.shape[0])
            if bn is None:
                if conv.bias is not None:
                    conv.bias.copy_(b)
                continue
            # pass-through first (BN(y) = y + b') so the statistics below see the exported network's activations
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0 - bn.eps)
            bn.weight.fill_(1.0)
            bn.bias.copy_(b)
    images = [im for im in calib_images][:max_images]
    if not images:
        raise ValueError('no calibration images')
    xs = [_preprocess(im, manifest) for im in images]
    bns = [(conv, bn) for conv, bn in pairs if bn is not None]
    sums = {id(bn): [0.0, 0.0, 0] for _c, bn in bns}

    def stats_hook(bn):
        def hook(mod, inp, out):
            y = inp[0].double()
            s = sums[id(bn)]
            s[0] = s[0] + y.sum(dim=(0, 2, 3))
            s[1] = s[1] + (y * y).sum(dim=(0, 2, 3))
            s[2] += y.shape[0] * y.shape[2] * y.shape[3]
        return hook
    hooks = [bn.register_forward_hook(stats_hook(bn)) for _c, bn in bns]
    model.eval()
    with torch.no_grad():
        for x in xs:
            model(x)
    for hk in hooks:
        hk.remove()
    with torch.no_grad():
        for _conv, bn in bns:
            s0, s1, n = sums[id(bn)]
            mean = s0 / n
            var = (s1 / n - mean * mean).clamp(min=1e-6)
            bias = bn.bias.clone().double()
            bn.running_mean.copy_(mean.float())
            bn.running_var.copy_(var.float())
            bn.weight.copy_(torch.sqrt(var + bn.eps).float())
            bn.bias.copy_((mean + bias).float())
    ds, db = parity(InferenceModel(model, w, h).eval(), onnx_path, manifest)   # the export's own check
    err = max(ds, db)
    log('imported %s: %d convolutions (%d with BatchNorm unfolded on %d images); max |ONNX - PyTorch| %.2e'
        % (onnx_path, len(pairs), len(bns), len(xs), err))
    training = dict(manifest.get('training', {}))
    ckpt = {'model': model.state_dict(), 'manifest': manifest,
            'config': {'model': {'arch': manifest['arch']}, 'imported_from': str(onnx_path)},
            'epoch': int(training.get('epoch', 0)) - 1, 'metrics': {}}
    return ckpt, err


def main(argv=None):
    from .data.base import read_image_rgb
    from .data.folder import list_images
    ap = argparse.ArgumentParser(prog='face-ssd-import-onnx', description=__doc__.split('\n\n')[0])
    ap.add_argument('onnx', help='a model exported by face-ssd-export (manifest in its metadata)')
    ap.add_argument('--out', required=True, help='checkpoint to write (weights only, loads with weights_only=True)')
    ap.add_argument('--images', required=True, help='folder of real images for the BatchNorm statistics')
    ap.add_argument('--max-images', type=int, default=64)
    ap.add_argument('--tolerance', type=float, default=1e-3, help='largest accepted |ONNX - PyTorch| (default 1e-3)')
    args = ap.parse_args(argv)
    import os
    if os.path.isdir(args.out):
        print('face-ssd-import-onnx: --out %s is a folder; give the checkpoint file to write, e.g. %s'
              % (args.out, os.path.join(args.out, 'model.pt')), file=sys.stderr)
        return 1
    try:
        paths = sorted(os.path.join(args.images, rel) for rel, _line, _list in list_images(args.images))
        paths = paths[::max(1, len(paths) // max(1, args.max_images))][:args.max_images]  # spread over the folder
        images = [im for im in (read_image_rgb(p) for p in paths) if im is not None]
        ckpt, err = checkpoint_from_onnx(args.onnx, images, args.max_images)
        if err > args.tolerance:
            raise ValueError('imported model differs from the ONNX by %.2e (> %.0e)' % (err, args.tolerance))
        torch.save(ckpt, args.out)
    except (OSError, ValueError, ImportError, RuntimeError) as exc:   # RuntimeError: DatasetError, torch.save
        print('face-ssd-import-onnx: %s' % exc, file=sys.stderr)
        return 1
    print('wrote %s' % args.out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
