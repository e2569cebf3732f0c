"""Train an SSD detector: ``face-ssd-train --config CFG.yaml [--set key=value ...] [--resume CKPT]``.

Python API: ``train(load_config(path, overrides)) -> TrainResult``. Checkpoints, a metrics CSV,
loss/AP plots and the exported ONNX (+ manifest) land in ``output.dir``. Several GPUs:
``torchrun --nproc_per_node N -m face_ssd_training.train --config ...`` (DistributedDataParallel).
"""
import argparse
import csv
import math
import os
import random
import sys
import time
from collections import namedtuple

import numpy as np
import torch
from torch.utils.data import ConcatDataset, DataLoader

from .box_coder import corner_to_center, encode
from .config import ConfigError, dump_config, load_config
from .data.checks import DatasetError
from .data.labels import IGNORE_LABEL
from .loss import MultiBoxLoss
from .manifest import make_manifest
from .matcher import match
from .models import ARCHS, build_model, load_checkpoint

TrainResult = namedtuple('TrainResult', 'best_checkpoint last_checkpoint metrics_csv onnx history')


class TrainingError(RuntimeError):
    """Training cannot go on (non-finite loss, no data); the message says why and what to check."""


# ----------------------------------------------------------------------------- data
def resolve_path(path, base_dir):
    """Dataset paths in a config are relative to the config file's folder (or absolute)."""
    if path is None or os.path.isabs(path):
        return path
    return os.path.normpath(os.path.join(base_dir, path))


def build_dataset(spec, labels, transform, base_dir='.'):
    """One dataset from a config entry ``{format: wider|voc|openimages|coco|csv, ...}``.

    Keys of every format: ``image_list`` (a file of image ids, one per line: keep only those images, e.g. a
    held-out split; ids are what the loader names them: WIDER / CSV relative paths, VOC ids, Open Images ImageIDs)
    and ``exhaustive: false`` (not every object is boxed: learn the boxes, take no negatives from these images).
    """
    ds = _open_dataset(spec, labels, transform, base_dir)
    if spec.get('image_list') is not None:
        from .data.base import read_id_list
        path = resolve_path(spec['image_list'], base_dir)
        ds.keep_only(read_id_list(path), path)
    if spec.get('exhaustive') is False:
        ds.exhaustive = False
    return ds


def _open_dataset(spec, labels, transform, base_dir):
    fmt = spec['format']
    p = lambda key: resolve_path(spec.get(key), base_dir)  # noqa: E731
    if fmt == 'wider':
        from .data.wider import WiderFaceDataset
        return WiderFaceDataset(p('images'), p('gt'), labels=labels, min_size=spec.get('min_size', 2.0),
                                transform=transform, invalid_as_ignore=spec.get('invalid', 'drop') == 'ignore',
                                class_name=spec.get('class_name'))
    if fmt == 'voc':
        from .data.voc import VOCDataset
        return VOCDataset(p('root'), image_set=spec.get('image_set', 'trainval'), labels_file=p('labels_file'),
                          labels=labels, transform=transform)
    if fmt == 'openimages':
        from .data.openimages import OpenImagesDataset
        return OpenImagesDataset(p('root'), split=spec.get('split', 'train'), labels=labels, transform=transform)
    if fmt == 'coco':
        from .data.coco import COCODataset
        return COCODataset(p('images'), p('annotations'), labels=labels, transform=transform)
    if fmt == 'csv':
        from .data.csv_boxes import CSVBoxesDataset
        return CSVBoxesDataset(p('images'), p('annotations'), labels=labels, transform=transform)
    raise ConfigError('unknown dataset format %r' % fmt)


class MatchTargets(object):
    """Last transform of the training pipeline: ground truth -> per-prior regression targets.

    ``(image [3,h,w], target) -> (image, {"loc": [N,4], "labels": [N], "image_id": str})``; runs in
    the DataLoader workers so matching costs the training loop nothing. A target with ``exhaustive`` False (an
    image labelled in part) keeps its positives and ignores every other prior: no negatives from it. With a
    ``teacher`` (:mod:`.distill`) the target also holds ``"soft": [N]``, the teacher's soft target per prior on the
    transformed image.
    """

    def __init__(self, transform, priors, variances, iou_threshold, ignore_iou_threshold=0.2, teacher=None):
        self.transform = transform
        self.priors = priors
        self.variances = variances
        self.iou_threshold = iou_threshold
        self.ignore_iou_threshold = ignore_iou_threshold
        self.teacher = teacher

    def __call__(self, image, target):
        image, target = self.transform(image, target)
        boxes = torch.as_tensor(target['boxes'], dtype=torch.float32).reshape(-1, 4)
        labels = torch.as_tensor(target['labels'], dtype=torch.int64).reshape(-1)
        matched, prior_labels = match(boxes, labels, self.priors, self.iou_threshold, self.ignore_iou_threshold)
        if target.get('exhaustive', True) is False:
            prior_labels[prior_labels == 0] = IGNORE_LABEL
        loc = encode(corner_to_center(matched), self.priors, self.variances)
        out = {'loc': loc, 'labels': prior_labels, 'image_id': target.get('image_id', '')}
        if self.teacher is not None:
            from .distill import soft_targets
            t_boxes, t_scores = self.teacher(image)
            out['soft'] = soft_targets(t_boxes, t_scores, self.priors, self.iou_threshold)
        return image, out


def collate_matched(batch):
    """[(image, {"loc", "labels", "image_id"[, "soft"]})] -> (images [B,3,h,w], loc [B,N,4], labels [B,N], ids,
    soft [B,N] or None when the items carry no teacher targets)."""
    soft = torch.stack([b[1]['soft'] for b in batch]) if 'soft' in batch[0][1] else None
    return (torch.stack([b[0] for b in batch]), torch.stack([b[1]['loc'] for b in batch]),
            torch.stack([b[1]['labels'] for b in batch]), [b[1]['image_id'] for b in batch], soft)


#: Skipped or repaired data items printed per dataset (all of them go to the issues file).
SHOWN_ISSUES = 20


def report_data_issues(datasets, strict, issues_path=None, out=None):
    """Tell what validation skipped or repaired in ``datasets``: per dataset a ``[data]`` line and its items as
    ``file:line: severity kind: message`` (the first SHOWN_ISSUES; every one in ``issues_path`` when given, whose
    path is printed). With ``strict`` raise :class:`TrainingError` with the whole report instead. Returns the
    number of issues."""
    out = out or sys.stderr
    lines = []
    for ds in datasets:
        report = getattr(ds, 'report', None)
        if report is None or not report.issues:
            continue
        if strict:
            raise TrainingError('data.strict is set and validation skipped items:\n%s' % report.format())
        counts = ', '.join('%s=%d' % kv for kv in sorted(report.counts().items()))
        print('[data] %s %s: %d item(s) skipped or repaired (%s):' % (type(ds).__name__, report.source or '',
                                                                     len(report.issues), counts), file=out)
        issues = [i.format() for i in report.issues]
        for line in issues[:SHOWN_ISSUES]:
            print('  ' + line, file=out)
        if len(issues) > SHOWN_ISSUES:
            print('  ... %d more%s' % (len(issues) - SHOWN_ISSUES, ' (see below)' if issues_path else ''), file=out)
        lines.extend(issues)
    if lines and issues_path:
        folder = os.path.dirname(os.path.abspath(issues_path))
        os.makedirs(folder, exist_ok=True)
        with open(issues_path, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        print('[data] every skipped or repaired item (%d): %s' % (len(lines), issues_path), file=out)
    return len(lines)


def make_datasets(cfg, labels, train_tf, val_tf, base_dir, mosaic_post=None, fill=None, issues_path=None):
    """(train dataset, val ConcatDataset or None). mosaic_post: None, or the transform of mosaic canvases, to wrap
    the training sets in :class:`~.data.mosaic.MosaicDataset` (probability ``data.mosaic``, canvas filled with the
    RGB pixel ``fill``). What validation skipped is printed (:func:`report_data_issues`; every item in
    ``issues_path`` when given), or refused with ``data.strict``."""
    item_tf = None if mosaic_post is not None else train_tf
    train_sets = [build_dataset(s, labels, item_tf, base_dir) for s in cfg['data']['train']]
    for neg in cfg['data']['negatives']:
        from .data.folder import ImageFolderDataset
        ds = ImageFolderDataset(resolve_path(neg['images'], base_dir), filelist=resolve_path(neg.get('filelist'), base_dir),
                                labels=labels)
        ds.transform = item_tf
        train_sets.append(ds)
    val_sets = [build_dataset(s, labels, val_tf, base_dir) for s in cfg['data']['val']]
    report_data_issues(train_sets + val_sets, cfg['data']['strict'], issues_path)
    if not train_sets or sum(len(d) for d in train_sets) == 0:
        raise TrainingError('no training images: add datasets under data.train in the config')
    train_set = ConcatDataset(train_sets)
    if mosaic_post is not None:
        from .data.mosaic import MosaicDataset
        train_set = MosaicDataset(train_set, train_tf, mosaic_post, cfg['model']['input_size'],
                                  p=cfg['data']['mosaic'], fill=fill)
    return train_set, (ConcatDataset(val_sets) if val_sets else None)


# ----------------------------------------------------------------------------- schedule
def lr_factor(cfg, epoch_float):
    """Multiplier of the base learning rates at a fractional epoch (linear warm-up, then the schedule)."""
    t = cfg['train']
    if t['warmup_epochs'] > 0 and epoch_float < t['warmup_epochs']:
        return max(epoch_float / t['warmup_epochs'], 1e-3)
    if t['scheduler'] == 'cosine':
        span = max(t['epochs'] - t['warmup_epochs'], 1e-6)
        return 0.5 * (1 + math.cos(math.pi * min((epoch_float - t['warmup_epochs']) / span, 1.0)))
    return t['gamma'] ** sum(1 for m in t['milestones'] if epoch_float >= m)


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _worker_init(worker_id):
    s = torch.initial_seed() % 2 ** 32
    np.random.seed(s)
    random.seed(s)


def use_channels_last(setting, device):
    """Whether to train in channels-last (NHWC) memory format: ``train.channels_last`` True / False, or ``'auto'``
    = on a CPU ``device`` only (measured there: 1.1-2x faster depending on the recipe, docs/TRAINING.md; not
    measured on CUDA, so auto leaves it off there)."""
    if setting == 'auto':
        return device.type == 'cpu'
    return bool(setting)


def pick_device(name):
    if name == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    dev = torch.device(name)
    if dev.type == 'cuda' and not torch.cuda.is_available():
        raise ConfigError('train.device=%s but CUDA is not available; use auto or cpu' % name)
    return dev


# ----------------------------------------------------------------------------- loop
class Trainer(object):
    """Owns the model, optimiser and loop state; ``run()`` trains to the end and returns a TrainResult."""

    def __init__(self, cfg, config_dir='.', resume=None, progress=True):
        self.cfg = cfg
        self.progress = progress
        t = cfg['train']
        self.distributed = int(os.environ.get('WORLD_SIZE', '1')) > 1
        self.rank = int(os.environ.get('RANK', '0'))
        if self.distributed:
            torch.distributed.init_process_group('nccl' if torch.cuda.is_available() else 'gloo')
        self.device = pick_device(t['device'])
        if self.distributed and self.device.type == 'cuda':
            self.device = torch.device('cuda', int(os.environ.get('LOCAL_RANK', '0')))
            torch.cuda.set_device(self.device)
        seed_everything(t['seed'] + self.rank)
        from .data.labels import resolve_labels
        self.labels = resolve_labels(cfg['data']['labels'])
        m = cfg['model']
        arch = ARCHS[m['arch']]
        self.width, self.height = m['input_size']
        norm = arch
        if m['pretrained']:
            from .models.pretrained import SOURCES
            norm = SOURCES[m['pretrained']]   # the normalisation the pretrained weights were trained with
        self.mean = m['mean'] or list(norm.mean)
        self.std = m['std'] or list(norm.std)
        self.model = build_model(m['arch'], len(self.labels), m['priors'], width_mult=m['width_mult'],
                                 extra_blocks=m['extra_blocks'])
        if m['pretrained']:
            self._load_pretrained(m['pretrained'])
        self.manifest = make_manifest(self.model, self.labels, self.width, self.height, self.mean, self.std,
                                      m['channel_order'])
        if t['init_checkpoint']:
            self._init_from(resolve_path(t['init_checkpoint'], config_dir))
        self.model.to(self.device)
        # NHWC activations and weights: on the CPU the convolutions (depthwise ones above all) run faster
        self.memory_format = torch.channels_last if use_channels_last(t['channels_last'], self.device) \
            else torch.preserve_format
        if self.memory_format is torch.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.teacher = self.distill_loss = None
        if t['distill'] is not None:
            from .distill import DistillLoss, build_teacher
            self.teacher = build_teacher(t['distill'], self.mean, self.std, m['channel_order'],
                                         t['distill_min_score'])
            try:
                self.teacher.check()
            except ImportError as exc:
                raise ConfigError('train.distill=%s: %s' % (t['distill'], exc))
            self.distill_loss = DistillLoss(t['distill_weight'], t['neg_pos_ratio'], t['min_negatives'])
        priors = self.model.priors(self.width, self.height)
        from .data.transforms import build_transform, rgb_fill
        val_tf = MatchTargets(build_transform('eval', (self.width, self.height), self.mean, self.std,
                                              channel_order=m['channel_order']),
                              priors, self.model.prior_spec.variances, t['iou_threshold'], t['ignore_iou_threshold'])
        self.sizes = [tuple(s) for s in cfg['data']['multi_size']] or [(self.width, self.height)]
        if self.distributed and len(self.sizes) > 1:
            raise ConfigError('data.multi_size is not supported with several training processes yet; train on one '
                              'device or leave data.multi_size empty')
        fill = rgb_fill(self.mean, m['channel_order'])
        issues_path = os.path.join(cfg['output']['dir'], 'data_issues.txt')
        g = torch.Generator()
        g.manual_seed(t['seed'])
        loader_args = dict(num_workers=t['num_workers'], collate_fn=collate_matched, worker_init_fn=_worker_init,
                           persistent_workers=t['num_workers'] > 0, pin_memory=self.device.type == 'cuda')
        if len(self.sizes) == 1:
            train_tf, mosaic_post = self._train_transforms(self.sizes[0])
            self.train_set, self.val_set = make_datasets(cfg, self.labels, train_tf, val_tf, config_dir, mosaic_post,
                                                         fill, issues_path)
            self.train_images = len(self.train_set)
            sampler = None
            if self.distributed:
                sampler = torch.utils.data.distributed.DistributedSampler(self.train_set, shuffle=True,
                                                                          seed=t['seed'])
            self.train_loader = DataLoader(self.train_set, batch_size=t['batch_size'], shuffle=sampler is None,
                                           sampler=sampler, drop_last=len(self.train_set) > t['batch_size'],
                                           generator=g, **loader_args)
        else:
            from .data.multisize import MultiSizeBatchSampler, TransformedDataset
            raw, self.val_set = make_datasets(cfg, self.labels, None, val_tf, config_dir, None, None, issues_path)
            views = []
            for size in self.sizes:
                train_tf, mosaic_post = self._train_transforms(size)
                if mosaic_post is None:
                    views.append(TransformedDataset(raw, train_tf))
                else:
                    from .data.mosaic import MosaicDataset
                    views.append(MosaicDataset(raw, train_tf, mosaic_post, size, p=cfg['data']['mosaic'], fill=fill))
            self.train_set = ConcatDataset(views)
            self.train_images = len(raw)
            self.train_loader = DataLoader(self.train_set, batch_sampler=MultiSizeBatchSampler(
                len(raw), len(self.sizes), t['batch_size'], drop_last=True, generator=g), **loader_args)
        self.val_loader = None
        if self.val_set is not None:
            self.val_loader = DataLoader(self.val_set, batch_size=t['batch_size'], shuffle=False,
                                         num_workers=t['num_workers'], collate_fn=collate_matched)
        self.criterion = MultiBoxLoss(t['neg_pos_ratio'], t['min_negatives'], t['class_weights']).to(self.device)
        base_lr = t['lr'] if t['base_lr'] is None else t['base_lr']
        self.optimizer = torch.optim.SGD([
            {'params': self.model.base_parameters(), 'lr': base_lr, 'initial_lr': base_lr},
            {'params': self.model.head_parameters(), 'lr': t['lr'], 'initial_lr': t['lr']}],
            lr=t['lr'], momentum=t['momentum'], weight_decay=t['weight_decay'])
        self.use_amp = self.device.type == 'cuda' and t['amp'] in ('auto', True)
        self.scaler = torch.amp.GradScaler('cuda', enabled=self.use_amp)
        self.net = self.model
        self.ema = None
        if t['ema'] > 0:
            from .ema import ModelEMA
            self.ema = ModelEMA(self.model, t['ema'], t['ema_tau'])
        if self.distributed:
            self.net = torch.nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == 'cuda' else None)
        self.out_dir = cfg['output']['dir']
        os.makedirs(self.out_dir, exist_ok=True)
        self.start_epoch = 0
        self.iteration = 0
        self.best = None
        self.history = []
        if resume:
            self._resume(resume)

    # -- checkpoints
    def _train_transforms(self, size):
        """(item transform, mosaic canvas transform or None) of training batches at ``size`` (w, h)."""
        from .data.transforms import build_mosaic_post, build_transform
        cfg, m, t = self.cfg, self.cfg['model'], self.cfg['train']
        priors = self.model.priors(size[0], size[1])
        variances = self.model.prior_spec.variances
        item = MatchTargets(build_transform(cfg['data']['augment'], size, self.mean, self.std,
                                            channel_order=m['channel_order'], min_size_px=cfg['data']['min_box_size'],
                                            small_boxes=cfg['data']['small_boxes']),
                            priors, variances, t['iou_threshold'], t['ignore_iou_threshold'], self.teacher)
        if cfg['data']['mosaic'] <= 0:
            return item, None
        post = MatchTargets(build_mosaic_post(self.mean, self.std, m['channel_order'], cfg['data']['min_box_size'],
                                              cfg['data']['small_boxes']),
                            priors, variances, t['iou_threshold'], t['ignore_iou_threshold'], self.teacher)
        return item, post

    def _init_from(self, path):
        """Load weights for fine-tuning; heads whose shapes differ (other classes/priors) are left fresh."""
        state = load_checkpoint(path)['model']
        own = self.model.state_dict()
        keep = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
        self.model.load_state_dict(keep, strict=False)
        skipped = len(own) - len(keep)
        unused = len(state) - len(keep)
        self.log('[init] %s: loaded %d tensors, %d left freshly initialised (new classes, priors or layers)%s'
                 % (path, len(keep), skipped, '' if not unused else
                    '; %d of the checkpoint\'s tensors fit nothing in this model and were not used (another '
                    'model.arch or model.extra_blocks?)' % unused))

    def _load_pretrained(self, name):
        """Pretrained backbone weights (``model.pretrained``); the log line says how many tensors matched."""
        from .models.pretrained import PretrainedError, describe, load_pretrained_backbone
        try:
            report = load_pretrained_backbone(self.model, name)
        except PretrainedError as exc:
            raise TrainingError(str(exc))
        self.log(describe(report, name))

    def _resume(self, path):
        ckpt = load_checkpoint(path, map_location=self.device)
        # with train.ema the checkpoint's 'model' is the average; the weights that train are 'train_model'
        self.model.load_state_dict(ckpt.get('train_model', ckpt['model']))
        if self.ema is not None:
            if 'train_model' in ckpt:
                self.ema.load_state_dict(ckpt['model'], ckpt.get('ema_updates', 0))
            else:   # a checkpoint saved without train.ema: the average starts here
                self.ema = type(self.ema)(self.model, self.ema.decay, self.ema.tau)
        self.optimizer.load_state_dict(ckpt['optimizer'])
        self.start_epoch = int(ckpt['epoch']) + 1
        sched = ckpt.get('scheduler') or {}
        self.iteration = int(sched.get('iteration', 0))
        self.best = ckpt.get('metrics', {}).get('best')
        self.history = list(ckpt.get('metrics', {}).get('history', []))
        self.log('[resume] %s: continuing at epoch %d' % (path, self.start_epoch + 1))

    @property
    def eval_model(self):
        """The weights that are validated, saved as the checkpoint's 'model' and exported: the average with
        ``train.ema``, else the model itself."""
        return self.model if self.ema is None else self.ema.module

    def save(self, path, epoch):
        ckpt = {'model': self.eval_model.state_dict(), 'manifest': self.manifest, 'config': self.cfg,
                'epoch': epoch, 'optimizer': self.optimizer.state_dict(),
                'scheduler': {'name': self.cfg['train']['scheduler'], 'iteration': self.iteration},
                'metrics': {'best': self.best, 'history': self.history}}
        if self.ema is not None:
            ckpt['train_model'] = self.model.state_dict()
            ckpt['ema_updates'] = self.ema.updates
        torch.save(ckpt, path)

    def log(self, msg):
        if self.rank == 0:
            print(msg, file=sys.stderr, flush=True)

    # -- steps
    def _set_lr(self, epoch_float):
        f = lr_factor(self.cfg, epoch_float)
        for group in self.optimizer.param_groups:
            group['lr'] = group['initial_lr'] * f
        return self.optimizer.param_groups[1]['lr']

    def _freeze_base(self, frozen):
        for p in self.model.base_parameters():
            p.requires_grad_(not frozen)

    def train_epoch(self, epoch):
        t = self.cfg['train']
        self.net.train()
        self._freeze_base(epoch < t['freeze_base_epochs'])
        if self.distributed:
            self.train_loader.sampler.set_epoch(epoch)
        n_batches = len(self.train_loader)
        sums = np.zeros(4)
        count = 0
        bar = None
        if self.progress and self.rank == 0:
            from tqdm import tqdm
            bar = tqdm(total=n_batches, desc='epoch %d/%d' % (epoch + 1, t['epochs']), unit='batch',
                       file=sys.stderr, dynamic_ncols=True, mininterval=2.0)
        lr = 0.0
        for i, (images, loc_t, labels, ids, soft) in enumerate(self.train_loader):
            lr = self._set_lr(epoch + i / float(max(n_batches, 1)))
            images = images.to(self.device, memory_format=self.memory_format)
            loc_t, labels = loc_t.to(self.device), labels.to(self.device)
            with torch.autocast(self.device.type, enabled=self.use_amp):
                conf, loc = self.net(images)
                reg, cls = self.criterion(conf.float(), loc.float(), labels, loc_t)
                kd = self.distill_loss(conf.float(), labels, soft.to(self.device)) \
                    if self.distill_loss is not None else torch.zeros((), device=self.device)
                loss = reg + cls + kd
            if not torch.isfinite(loss):
                raise TrainingError('non-finite loss (%s) at epoch %d, batch %d; images: %s. Check these files with '
                                    'face-ssd-validate-data, or lower train.lr' % (loss.item(), epoch + 1, i, ', '.join(ids)))
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            if t['grad_clip'] > 0:
                self.scaler.unscale_(self.optimizer)
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), t['grad_clip'])
            self.scaler.step(self.optimizer)
            self.scaler.update()
            if self.ema is not None:
                self.ema.update(self.model)
            sums += [loss.item(), reg.item(), cls.item(), kd.item()]
            count += 1
            self.iteration += 1
            if bar is not None:
                bar.update(1)
                if i % t['log_every'] == 0:
                    post = dict(loss='%.3f' % (sums[0] / count), reg='%.3f' % (sums[1] / count),
                                cls='%.3f' % (sums[2] / count), lr='%.2g' % lr)
                    if self.distill_loss is not None:
                        post['kd'] = '%.3f' % (sums[3] / count)
                    bar.set_postfix(**post)
            if t['max_iters'] and self.iteration >= t['max_iters']:
                break
        if bar is not None:
            bar.close()
        avg = sums / max(count, 1)
        row = {'loss': float(avg[0]), 'reg_loss': float(avg[1]), 'cls_loss': float(avg[2]), 'lr': float(lr),
               'batches': count}
        if self.distill_loss is not None:
            row['distill_loss'] = float(avg[3])
        return row

    @torch.no_grad()
    def validate(self):
        """Validation loss and AP at IoU 0.5 (per class mean) on data.val."""
        from .evaluate_model import voc_map_from_loader
        model = self.eval_model
        model.eval()
        sums = np.zeros(3)
        count = 0
        for images, loc_t, labels, _, _ in self.val_loader:
            images = images.to(self.device, memory_format=self.memory_format)
            loc_t, labels = loc_t.to(self.device), labels.to(self.device)
            conf, loc = model(images)
            reg, cls = self.criterion(conf, loc, labels, loc_t)
            sums += [(reg + cls).item(), reg.item(), cls.item()]
            count += 1
        ap = voc_map_from_loader(model, self.val_set, self.labels, self.width, self.height, self.device)
        avg = sums / max(count, 1)
        return {'val_loss': float(avg[0]), 'val_reg_loss': float(avg[1]), 'val_cls_loss': float(avg[2]),
                'val_map': float(ap)}

    def run(self):
        t = self.cfg['train']
        csv_path = os.path.join(self.out_dir, 'metrics.csv')
        last = os.path.join(self.out_dir, 'last.pt')
        best = os.path.join(self.out_dir, 'best.pt')
        if self.rank == 0:
            with open(os.path.join(self.out_dir, 'config.yaml'), 'w') as f:
                f.write(dump_config(self.cfg))
        if len(self.sizes) > 1:
            self.log('[train] batches alternate between the input sizes %s' % ', '.join('%dx%d' % s for s in self.sizes))
        self.log('[train] %s %dx%d, %d classes %s, %d priors, %d train images%s, device %s'
                 % (self.model.arch, self.width, self.height, len(self.labels), self.labels[1:],
                    self.manifest['num_priors'], self.train_images,
                    ', %d val images' % len(self.val_set) if self.val_set is not None else '', self.device))
        for epoch in range(self.start_epoch, t['epochs']):
            t0 = time.time()
            row = {'epoch': epoch + 1}
            row.update(self.train_epoch(epoch))
            stop = bool(t['max_iters'] and self.iteration >= t['max_iters'])
            if self.val_loader is not None and ((epoch + 1) % t['val_every'] == 0 or epoch + 1 == t['epochs'] or stop):
                row.update(self.validate())
            row['seconds'] = time.time() - t0
            self.history.append(row)
            if self.rank == 0:
                score = row.get('val_map', -row['loss'] if self.val_loader is None else None)
                if score is not None and (self.best is None or score > self.best):
                    self.best = score
                    self.save(best, epoch)
                self.save(last, epoch)
                write_metrics_csv(csv_path, self.history)
                plot_history(self.history, os.path.join(self.out_dir, 'training_curves.png'))
                self.log('[epoch %d] %s' % (epoch + 1, ' '.join('%s=%.4g' % (k, v) for k, v in row.items()
                                                                    if isinstance(v, float))))
            if stop:
                break
        if not os.path.exists(best):
            self.save(best, epoch)
        onnx_path = None
        if self.rank == 0:
            from .export import export_checkpoint
            onnx_path = os.path.join(self.out_dir, self.cfg['output']['name'] + '.onnx')
            export_checkpoint(best, onnx_path, verbose=False)
            self.log('[train] best checkpoint %s, exported %s' % (best, onnx_path))
        if self.distributed:
            torch.distributed.destroy_process_group()
        return TrainResult(best, last, csv_path, onnx_path, self.history)


def write_metrics_csv(path, history):
    keys = []
    for row in history:
        keys += [k for k in row if k not in keys]
    with open(path, 'w', newline='') as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        for row in history:
            w.writerow(row)


def plot_history(history, path):
    """Loss curves (train / val) and validation mAP per epoch -> PNG."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    ep = [r['epoch'] for r in history]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    distill = all('distill_loss' in r for r in history)
    curves = [('loss', '-', 'train loss' + (' (with distill_loss)' if distill else '')),
              ('reg_loss', '--', 'train reg_loss'), ('cls_loss', ':', 'train cls_loss')]
    if distill:
        curves.append(('distill_loss', '-.', 'train distill_loss'))
    for key, style, label in curves:
        axes[0].plot(ep, [r[key] for r in history], style, label=label)
    val = [r for r in history if 'val_loss' in r]
    if val:
        axes[0].plot([r['epoch'] for r in val], [r['val_loss'] for r in val], 'o-', label='val loss (reg + cls)')
        axes[1].plot([r['epoch'] for r in val], [r['val_map'] for r in val], 'o-', color='tab:green')
    axes[0].set_xlabel('epoch')
    axes[0].set_ylabel('loss')
    axes[0].legend()
    axes[0].grid(alpha=0.3)
    axes[1].set_xlabel('epoch')
    axes[1].set_ylabel('val mAP@0.5')
    axes[1].set_ylim(0, 1)
    axes[1].grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def train(cfg, config_dir='.', resume=None, progress=True):
    """Train with a validated config dict (see :func:`face_ssd_training.config.load_config`)."""
    return Trainer(cfg, config_dir, resume, progress).run()


def main(argv=None):
    ap = argparse.ArgumentParser(prog='face-ssd-train', description=__doc__.split('\n\n')[0])
    ap.add_argument('--config', action='append', default=[],
                    help='training YAML merged over the defaults; repeat to merge several in order (a stage that '
                         'refines another); the files must share a folder, which relative paths are resolved from')
    ap.add_argument('--set', dest='overrides', action='append', default=[], metavar='KEY=VALUE',
                    help='override one config value, e.g. --set train.epochs=10 (repeatable)')
    ap.add_argument('--resume', help='checkpoint (last.pt) to continue from')
    ap.add_argument('--no-progress', action='store_true', help='no progress bar')
    ap.add_argument('--print-config', action='store_true', help='print the merged config and exit')
    args = ap.parse_args(argv)
    config_dirs = sorted(set(os.path.dirname(os.path.abspath(c)) for c in args.config))
    if len(config_dirs) > 1:
        ap.exit(2, 'face-ssd-train: config error: the --config files are in different folders (%s); relative '
                   'dataset paths would be ambiguous, so put them in one folder\n' % ', '.join(config_dirs))
    try:
        cfg = load_config(args.config, args.overrides)
    except (ConfigError, OSError) as exc:
        ap.exit(2, 'face-ssd-train: config error: %s\n' % exc)
    if args.print_config:
        print(dump_config(cfg))
        return 0
    torch.set_num_threads(max(1, torch.get_num_threads()))
    try:
        res = train(cfg, config_dirs[0] if config_dirs else '.', args.resume,
                    not args.no_progress)
    except (TrainingError, ConfigError, DatasetError, OSError, ValueError) as exc:
        # data that cannot be read (a missing folder, an image list naming unknown images), a missing or corrupt
        # init_checkpoint: one line, no traceback
        print('face-ssd-train: %s' % exc, file=sys.stderr)
        return 1
    print('best checkpoint: %s\nexported model: %s\nmetrics: %s' % (res.best_checkpoint, res.onnx, res.metrics_csv))
    return 0


if __name__ == '__main__':
    sys.exit(main())
