"""Export a trained checkpoint to ONNX with its manifest: ``face-ssd-export CKPT --out MODEL.onnx``.

The graph has one input ``input`` [1, 3, H, W] and two outputs ``scores`` [1, N, C] (softmax) and
``boxes`` [1, N, 4] (decoded, corner form, normalised). The manifest is embedded as ONNX metadata
(``face_ssd_manifest``) and written beside the file (``MODEL.json``). A parity check against PyTorch
runs after every export.
"""
import argparse
import hashlib
import json
import os
import sys

import numpy as np
import torch

from face_ssd_ros.detect.cli import parse_size
from .manifest import resized_manifest
from .models import InferenceModel, load_checkpoint, model_from_manifest

METADATA_KEY = 'face_ssd_manifest'


#: opsets face-ssd-export accepts: 11 (the oldest with the operators the heads use) to 20 (torch.onnx's newest
#: for the TorchScript exporter)
OPSET_RANGE = (11, 20)


def export_onnx(inference_model, manifest, path, opset=13):
    """Write ``inference_model`` (an InferenceModel) to ``path`` + the manifest sidecar; returns the manifest."""
    import onnx
    w, h = manifest['input']['width'], manifest['input']['height']
    dummy = torch.zeros((1, 3, h, w), dtype=torch.float32)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    inference_model.eval()
    with torch.no_grad():
        torch.onnx.export(inference_model, dummy, path, input_names=['input'], output_names=['scores', 'boxes'],
                          opset_version=opset, do_constant_folding=True, dynamo=False)
    model = onnx.load(path)
    del model.metadata_props[:]
    entry = model.metadata_props.add()
    entry.key = METADATA_KEY
    entry.value = json.dumps(manifest, sort_keys=True)
    model.producer_name = 'face_ssd_training'
    onnx.checker.check_model(model)
    onnx.save(model, path)
    sidecar = dict(manifest, model_sha256=hashlib.sha256(open(path, 'rb').read()).hexdigest())
    with open(os.path.splitext(path)[0] + '.json', 'w') as f:
        json.dump(sidecar, f, indent=2, sort_keys=True)
    return manifest


def parity(inference_model, path, manifest, samples=2, seed=0):
    """Largest |difference| between ONNX Runtime and PyTorch on random inputs: (scores, boxes)."""
    import onnxruntime as ort
    sess = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    rng = np.random.default_rng(seed)
    w, h = manifest['input']['width'], manifest['input']['height']
    ds, db = 0.0, 0.0
    for _ in range(samples):
        x = rng.standard_normal((1, 3, h, w)).astype(np.float32)
        s_onnx, b_onnx = sess.run(['scores', 'boxes'], {'input': x})
        with torch.no_grad():
            s_t, b_t = inference_model(torch.from_numpy(x))
        ds = max(ds, float(np.abs(s_onnx - s_t.numpy()).max()))
        db = max(db, float(np.abs(b_onnx - b_t.numpy()).max()))
    return ds, db


def export_checkpoint(checkpoint, out_path, input_size=None, opset=13, verbose=True, tolerance=1e-4):
    """Checkpoint -> ONNX + manifest at ``input_size`` (default: the trained size); checks parity."""
    ckpt = load_checkpoint(checkpoint)
    manifest = dict(ckpt['manifest'])
    model = model_from_manifest(manifest)
    model.load_state_dict(ckpt['model'])
    model.eval()
    if input_size:
        manifest = resized_manifest(manifest, model, *input_size)
    im = InferenceModel(model, manifest['input']['width'], manifest['input']['height']).eval()
    manifest['training'] = training_record(manifest.get('training', {}), ckpt)
    export_onnx(im, manifest, out_path, opset)
    ds, db = parity(im, out_path, manifest)
    if verbose:
        print('exported %s (%dx%d, %d priors, labels %s); parity vs PyTorch: max |d score| %.2e, max |d box| %.2e'
              % (out_path, manifest['input']['width'], manifest['input']['height'], manifest['num_priors'],
                 manifest['labels'][1:], ds, db))
    if ds > tolerance or db > tolerance:
        raise RuntimeError('ONNX Runtime and PyTorch disagree (scores %.2e, boxes %.2e > %.0e)' % (ds, db, tolerance))
    return manifest


def training_record(training, ckpt):
    """The manifest's ``training`` entry for a checkpoint: ``epoch`` (epochs trained) for a training run; for an
    average of checkpoints (face-ssd-average) ``averaged_from`` instead, each ingredient as its last two path parts
    (e.g. ``face_default_stage21/last.pt``, no machine's folders) with its weight."""
    training = dict(training)
    if ckpt.get('averaged_from'):
        training.pop('epoch', None)
        weights = ckpt.get('averaged_weights') or [1.0] * len(ckpt['averaged_from'])
        total = float(sum(weights))
        training['averaged_from'] = [{'checkpoint': '/'.join(os.path.normpath(p).split(os.sep)[-2:]),
                                      'weight': round(float(w) / total, 6)}
                                     for p, w in zip(ckpt['averaged_from'], weights)]
    else:
        training['epoch'] = int(ckpt.get('epoch', -1)) + 1
    return training


def save_weights_only(checkpoint, out_path):
    """A copy of a training checkpoint without optimizer and scheduler state (what ships beside the ONNX): ``model``,
    ``manifest``, ``config``, ``epoch``, ``metrics`` (and an average's ``averaged_from`` / ``averaged_weights``).
    Loads with ``torch.load(weights_only=True)`` and works as ``train.init_checkpoint``. Returns the dict written."""
    ckpt = load_checkpoint(checkpoint)
    slim = dict((k, ckpt[k]) for k in ('model', 'manifest', 'config', 'epoch', 'metrics', 'averaged_from',
                                       'averaged_weights') if k in ckpt)
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    torch.save(slim, out_path)
    return slim


def main(argv=None):
    ap = argparse.ArgumentParser(prog='face-ssd-export', description=__doc__.split('\n\n')[0])
    ap.add_argument('checkpoint', help='training checkpoint (best.pt)')
    ap.add_argument('--out', required=True, help='output .onnx path (the manifest is written beside it)')
    ap.add_argument('--input-size', type=parse_size, help='WIDTHxHEIGHT (default: the trained size); priors follow')
    ap.add_argument('--opset', type=int, default=13, help='ONNX opset, %d-%d (default %%(default)s; TensorRT 8.0 on '
                    'JetPack 4.6 reads up to 13)' % OPSET_RANGE)
    ap.add_argument('--weights-out', metavar='PT', help='also write a weights-only copy of the checkpoint (no '
                    'optimizer state) to ship beside the ONNX, e.g. models/face_default.pt')
    args = ap.parse_args(argv)
    if not OPSET_RANGE[0] <= args.opset <= OPSET_RANGE[1]:
        ap.error('--opset must be in %d-%d, got %d' % (OPSET_RANGE + (args.opset,)))
    try:
        export_checkpoint(args.checkpoint, args.out, args.input_size, args.opset)
        if args.weights_out:
            save_weights_only(args.checkpoint, args.weights_out)
            print('weights-only checkpoint: %s' % args.weights_out)
    except (OSError, ValueError, RuntimeError) as exc:
        print('face-ssd-export: %s' % exc, file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
