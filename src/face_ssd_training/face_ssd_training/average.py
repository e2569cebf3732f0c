"""Average the weights of checkpoints of one network: ``face-ssd-average A.pt B.pt [...] --out SOUP.pt``.

Fine-tunings that start from the same weights (two stages from one checkpoint, or the epochs of one run) stay close
enough that the mean of their weights is a model too ("model soup", stochastic weight averaging), often better
than each. The result is a weights-only checkpoint (``model``, ``manifest``, ``config`` of the first one, plus
``averaged_from``) that ``face-ssd-export`` exports and ``train.init_checkpoint`` starts from.
"""
import argparse
import os
import sys

import torch

from .models import load_checkpoint

#: manifest entries the checkpoints must share: the same network with the same classes (the input size may differ:
#: the weights do not depend on it)
SAME_NETWORK = ('arch', 'arch_options', 'labels')


def average_state_dicts(states, weights=None):
    """Weighted mean of state dicts with the same keys and shapes.

    Args:
        states: list of K dicts name -> tensor.
        weights: K non-negative numbers (normalised to sum 1), or None for the plain mean.
    Returns:
        dict name -> tensor: floating-point tensors averaged (in float64, stored in their own dtype and memory
        format); integer tensors (BatchNorm's batch counter) taken from the first state.
    Raises:
        ValueError: the states do not have the same keys or shapes, or the weights do not fit.
    """
    if not states:
        raise ValueError('nothing to average')
    weights = [1.0] * len(states) if weights is None else [float(w) for w in weights]
    if len(weights) != len(states) or min(weights) < 0 or sum(weights) <= 0:
        raise ValueError('need %d non-negative weights with a positive sum, got %r' % (len(states), weights))
    total = sum(weights)
    first = states[0]
    for i, state in enumerate(states[1:], 1):
        if set(state) != set(first):
            diff = sorted(set(state) ^ set(first))
            raise ValueError('checkpoint %d has other tensors than the first (e.g. %s): not the same network'
                             % (i + 1, ', '.join(diff[:3])))
        for name, value in state.items():
            if value.shape != first[name].shape:
                raise ValueError('checkpoint %d: %s has shape %s, the first %s: not the same network'
                                 % (i + 1, name, tuple(value.shape), tuple(first[name].shape)))
    out = {}
    for name, value in first.items():
        if not value.dtype.is_floating_point:
            out[name] = value.clone()
            continue
        acc = sum(state[name].to(torch.float64) * (w / total) for state, w in zip(states, weights))
        out[name] = torch.empty_like(value).copy_(acc)   # keeps the dtype and the memory format (NHWC stays NHWC)
    return out


def average_checkpoints(paths, out_path, weights=None):
    """Average the ``model`` weights of the checkpoints at ``paths`` into a weights-only checkpoint at
    ``out_path``; returns the dict written. Raises ValueError (other networks or classes, bad weights) and
    OSError / ValueError from loading (missing or corrupt files), each naming the file."""
    if len(paths) < 2:
        raise ValueError('give at least two checkpoints to average')
    if os.path.isdir(out_path):
        raise ValueError('--out %s is a folder; give the file to write, e.g. %s' % (out_path,
                                                                              os.path.join(out_path, 'soup.pt')))
    ckpts = [load_checkpoint(p) for p in paths]
    ref = ckpts[0]['manifest']
    for path, ckpt in zip(paths[1:], ckpts[1:]):
        for key in SAME_NETWORK:
            if ckpt['manifest'].get(key) != ref.get(key):
                raise ValueError('%s has %s %r, %s has %r: only checkpoints of the same network and classes average'
                                 % (path, key, ckpt['manifest'].get(key), paths[0], ref.get(key)))
    soup = {'model': average_state_dicts([c['model'] for c in ckpts], weights), 'manifest': ref,
            'config': ckpts[0].get('config', {}), 'epoch': ckpts[0].get('epoch', 0),
            'metrics': {}, 'averaged_from': [os.path.abspath(p) for p in paths],
            'averaged_weights': [float(w) for w in (weights or [1.0] * len(paths))]}
    folder = os.path.dirname(os.path.abspath(out_path))
    os.makedirs(folder, exist_ok=True)
    torch.save(soup, out_path)
    return soup


def main(argv=None):
    ap = argparse.ArgumentParser(prog='face-ssd-average', description=__doc__.split('\n\n')[0])
    ap.add_argument('checkpoints', nargs='+', metavar='CKPT', help='two or more checkpoints of one network')
    ap.add_argument('--out', required=True, help='the averaged weights-only checkpoint (.pt)')
    ap.add_argument('--weights', type=float, nargs='+', metavar='W',
                    help='one weight per checkpoint (default: equal); normalised to sum 1')
    args = ap.parse_args(argv)
    if len(args.checkpoints) < 2:
        ap.error('give at least two checkpoints to average')
    if args.weights is not None and len(args.weights) != len(args.checkpoints):
        ap.error('--weights needs one number per checkpoint (%d), got %d' % (len(args.checkpoints), len(args.weights)))
    try:
        average_checkpoints(args.checkpoints, args.out, args.weights)
    except (OSError, ValueError, RuntimeError) as exc:   # RuntimeError: torch.save cannot write the file
        print('face-ssd-average: %s' % exc, file=sys.stderr)
        return 1
    print('averaged %d checkpoints: %s (export it with face-ssd-export)' % (len(args.checkpoints), args.out))
    return 0


if __name__ == '__main__':
    sys.exit(main())
