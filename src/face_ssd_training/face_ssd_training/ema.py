"""Exponential moving average (EMA) of a model's weights during training (``train.ema``).

SGD at a high learning rate ends each step a little off the minimum it circles; the average of the last few hundred
steps' weights sits closer to it. The averaged copy is what the trainer validates, saves as the checkpoint's
``model`` and exports; the raw weights keep training (and are saved for ``--resume``).
"""
import copy
import math

import torch


def ema_decay(decay, tau, updates):
    """Decay used at update number ``updates`` (1-based): ``decay * (1 - exp(-updates / tau))``.

    It ramps from about 0 (the average follows the model) to ``decay`` over a few ``tau`` updates, so the random or
    fine-tuning start does not weigh on the average. ``decay`` in [0, 1): the average's memory is about
    ``1 / (1 - decay)`` updates (0.998: 500 updates, half-life 346).
    """
    return decay * (1.0 - math.exp(-float(updates) / float(tau)))


class ModelEMA(object):
    """An averaged copy of ``model`` (``self.module``, in eval mode, no gradients).

    :meth:`update` after every optimiser step: each floating-point tensor of the state dict (weights and BatchNorm
    running statistics) becomes ``d * average + (1 - d) * current``, ``d = ema_decay(decay, tau, updates)``; integer
    tensors (BatchNorm's batch counter) are copied.
    """

    def __init__(self, model, decay, tau=200, updates=0):
        if not 0.0 <= decay < 1.0:
            raise ValueError('EMA decay must be in [0, 1), got %r' % (decay,))
        if tau <= 0:
            raise ValueError('EMA tau must be > 0, got %r' % (tau,))
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.decay = float(decay)
        self.tau = float(tau)
        self.updates = int(updates)

    @torch.no_grad()
    def update(self, model):
        """Fold ``model``'s current weights into the average; returns the decay used."""
        self.updates += 1
        d = ema_decay(self.decay, self.tau, self.updates)
        current = model.state_dict()
        for name, avg in self.module.state_dict().items():
            value = current[name].detach()
            if avg.dtype.is_floating_point:
                avg.mul_(d).add_(value.to(avg.dtype), alpha=1.0 - d)
            else:
                avg.copy_(value)
        return d

    def state_dict(self):
        """The averaged weights (a state dict of ``module``)."""
        return self.module.state_dict()

    def load_state_dict(self, state, updates):
        """Restore an average saved with :meth:`state_dict` after ``updates`` updates (``--resume``)."""
        self.module.load_state_dict(state)
        self.updates = int(updates)
