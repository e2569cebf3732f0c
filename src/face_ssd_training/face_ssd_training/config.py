"""One defaults file (configs/defaults.yaml) with validated overrides.

``load_config(path=None, overrides=('train.epochs=5', ...))`` merges the defaults, a user YAML and
``section.key=value`` overrides, then :func:`check_config` rejects unknown keys (with the closest
valid name), wrong types and out-of-range values before any work starts.
"""
import copy
import difflib
import os

import yaml

DEFAULTS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'configs', 'defaults.yaml')


class ConfigError(ValueError):
    """An invalid training configuration; the message says which key and why."""


def load_defaults():
    with open(DEFAULTS_PATH) as f:
        return yaml.safe_load(f)


def _merge(base, override, path=''):
    for key, value in override.items():
        where = path + key
        if key not in base:
            close = difflib.get_close_matches(key, list(base), n=1)
            raise ConfigError('unknown config key %r%s' % (where, ' (did you mean %r?)' % (path + close[0]) if close else ''))
        if isinstance(base[key], dict) and isinstance(value, dict):
            _merge(base[key], value, where + '.')
        else:
            base[key] = value


def parse_override(text):
    """'train.epochs=5' -> {'train': {'epochs': 5}} (the value is parsed as YAML)."""
    if '=' not in text:
        raise ConfigError('override %r must look like section.key=value' % text)
    key, value = text.split('=', 1)
    out = cur = {}
    parts = key.strip().split('.')
    for p in parts[:-1]:
        cur[p] = {}
        cur = cur[p]
    cur[parts[-1]] = yaml.safe_load(value)
    return out


# key -> (types, check, explanation)
_NUM = (int, float)
_RULES = {
    'model.width_mult': (_NUM, lambda v: 0.1 <= v <= 4, 'between 0.1 and 4'),
    'model.input_size': (list, lambda v: len(v) == 2 and all(isinstance(x, int) and 16 <= x <= 4096 for x in v),
                         '[width, height], integers 16..4096'),
    'model.channel_order': (str, lambda v: v in ('RGB', 'BGR'), 'RGB or BGR'),
    'data.augment': (str, lambda v: v in ('ssd', 'face', 'light', 'eval'), 'one of ssd, face, light, eval'),
    'data.min_box_size': (_NUM, lambda v: v >= 0, '>= 0'),
    'data.mosaic': (_NUM, lambda v: 0 <= v <= 1, 'a probability in [0, 1] (0 = no mosaic canvases)'),
    'data.small_boxes': (str, lambda v: v in ('drop', 'ignore'), 'drop or ignore'),
    'data.strict': (bool, None, 'true or false'),
    'train.epochs': (int, lambda v: v >= 1, '>= 1'),
    'train.batch_size': (int, lambda v: v >= 1, '>= 1'),
    'train.num_workers': (int, lambda v: v >= 0, '>= 0'),
    'train.lr': (_NUM, lambda v: 0 < v < 10, 'in (0, 10)'),
    'train.momentum': (_NUM, lambda v: 0 <= v < 1, 'in [0, 1)'),
    'train.weight_decay': (_NUM, lambda v: 0 <= v < 1, 'in [0, 1)'),
    'train.scheduler': (str, lambda v: v in ('cosine', 'multistep'), 'cosine or multistep'),
    'train.gamma': (_NUM, lambda v: 0 < v <= 1, 'in (0, 1]'),
    'train.warmup_epochs': (_NUM, lambda v: v >= 0, '>= 0'),
    'train.freeze_base_epochs': (int, lambda v: v >= 0, '>= 0'),
    'train.iou_threshold': (_NUM, lambda v: 0 < v < 1, 'in (0, 1)'),
    'train.ignore_iou_threshold': (_NUM, lambda v: 0 < v <= 1, 'in (0, 1]'),
    'train.neg_pos_ratio': (_NUM, lambda v: v > 0, '> 0'),
    'train.min_negatives': (int, lambda v: v >= 0, '>= 0'),
    'train.grad_clip': (_NUM, lambda v: v >= 0, '>= 0 (0 = off)'),
    'train.ema': (_NUM, lambda v: 0 <= v < 1, 'in [0, 1) (0 = off; e.g. 0.998)'),
    'train.ema_tau': (_NUM, lambda v: v > 0, '> 0 (updates)'),
    'train.distill_weight': (_NUM, lambda v: v > 0, '> 0'),
    'train.distill_min_score': (_NUM, lambda v: 0 < v < 1, 'in (0, 1)'),
    'train.seed': (int, None, 'an integer'),
    'train.val_every': (int, lambda v: v >= 1, '>= 1'),
    'train.max_iters': (int, lambda v: v >= 0, '>= 0'),
    'train.log_every': (int, lambda v: v >= 1, '>= 1'),
}


def _get(cfg, dotted):
    cur = cfg
    for p in dotted.split('.'):
        cur = cur[p]
    return cur


def _check_pretrained(m):
    from .models.pretrained import SOURCES
    name = m['pretrained']
    if name is None:
        return
    if name not in SOURCES:
        raise ConfigError('model.pretrained must be null or one of %s, got %r' % (', '.join(SOURCES), name))
    if m['arch'] not in SOURCES[name].archs:
        raise ConfigError('model.pretrained=%s fits model.arch %s, not %s' % (name, ', '.join(SOURCES[name].archs),
                                                                             m['arch']))
    if m['width_mult'] != 1.0:
        raise ConfigError('model.pretrained=%s needs model.width_mult=1.0 (the pretrained layer sizes), got %r'
                          % (name, m['width_mult']))


def _check_extra_blocks(m):
    from .models import build_model
    if m['extra_blocks'] is None:
        return
    if not isinstance(m['extra_blocks'], list):
        raise ConfigError('model.extra_blocks must be null or a list of counts, got %r' % (m['extra_blocks'],))
    try:
        build_model(m['arch'], 2, extra_blocks=m['extra_blocks'])
    except ValueError as exc:
        raise ConfigError('model.extra_blocks: %s' % exc)


def check_config(cfg):
    """Validate a merged config in place; raises :class:`ConfigError` with the key and the reason."""
    from .models import canonical_arch
    try:
        cfg['model']['arch'] = canonical_arch(cfg['model']['arch'])
    except ValueError as exc:
        raise ConfigError('model.arch: %s' % exc)
    for key, (types, check, what) in _RULES.items():
        v = _get(cfg, key)
        if isinstance(v, bool) != (types is bool) or not isinstance(v, types) or (check is not None and not check(v)):
            raise ConfigError('%s must be %s, got %r' % (key, what, v))
    for key in ('model.mean', 'model.std'):
        v = _get(cfg, key)
        if v is not None and not (isinstance(v, list) and len(v) == 3 and all(isinstance(x, _NUM) for x in v)):
            raise ConfigError('%s must be null or 3 numbers, got %r' % (key, v))
    if cfg['model']['std'] is not None and min(cfg['model']['std']) <= 0:
        raise ConfigError('model.std must be positive, got %r' % (cfg['model']['std'],))
    _check_pretrained(cfg['model'])
    _check_extra_blocks(cfg['model'])
    t = cfg['train']
    for key in ('amp', 'channels_last'):
        if not (t[key] == 'auto' or isinstance(t[key], bool)):
            raise ConfigError('train.%s must be auto, true or false, got %r' % (key, t[key]))
    if t['base_lr'] is not None and not (isinstance(t['base_lr'], _NUM) and t['base_lr'] >= 0):
        raise ConfigError('train.base_lr must be null or >= 0, got %r' % (t['base_lr'],))
    from .distill import TEACHERS
    if t['distill'] is not None and t['distill'] not in TEACHERS:
        raise ConfigError('train.distill must be null or one of %s, got %r' % (', '.join(TEACHERS), t['distill']))
    if t['scheduler'] == 'multistep' and not all(isinstance(m, int) and m > 0 for m in t['milestones']):
        raise ConfigError('train.milestones must be positive epochs, got %r' % (t['milestones'],))
    labels = cfg['data']['labels']
    if not isinstance(labels, (list, str)) or (isinstance(labels, list) and len(labels) < 2):
        raise ConfigError('data.labels must be a labels file or a list with background first and >= 1 class')
    if t['class_weights'] is not None and isinstance(labels, list) and len(t['class_weights']) != len(labels):
        raise ConfigError('train.class_weights has %d entries for %d labels (background first)'
                          % (len(t['class_weights']), len(labels)))
    sizes = cfg['data']['multi_size']
    if not isinstance(sizes, list) or not all(isinstance(s, list) and _RULES['model.input_size'][1](s) for s in sizes):
        raise ConfigError('data.multi_size must be a list of [width, height] pairs (integers 16..4096), got %r'
                          % (sizes,))
    for section in ('train', 'val'):
        for i, ds in enumerate(cfg['data'][section]):
            _check_dataset_entry('data.%s[%d]' % (section, i), ds)
    return cfg


#: keys of a data.train / data.val entry, per format (plus the keys every format takes)
DATASET_KEYS = {
    'wider': ('images', 'gt', 'min_size', 'invalid', 'class_name'),
    'voc': ('root', 'image_set', 'labels_file'),
    'openimages': ('root', 'split'),
    'coco': ('images', 'annotations'),
    'csv': ('images', 'annotations'),
}
COMMON_DATASET_KEYS = ('format', 'image_list', 'exhaustive')


def _check_dataset_entry(where, ds):
    if not isinstance(ds, dict) or ds.get('format') not in DATASET_KEYS:
        raise ConfigError('%s needs format: %s, got %r' % (where, '|'.join(DATASET_KEYS), ds))
    allowed = DATASET_KEYS[ds['format']] + COMMON_DATASET_KEYS
    for key in ds:
        owners = [f for f, keys in DATASET_KEYS.items() if key in keys]
        if key not in allowed and owners:
            raise ConfigError('%s: %r is only for format: %s, not %s' % (where, key, '|'.join(owners), ds['format']))
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            raise ConfigError('%s: unknown key %r for format: %s%s (keys: %s)' % (
                where, key, ds['format'], ' (did you mean %r?)' % close[0] if close else '', ', '.join(allowed)))
    if 'invalid' in ds and ds['invalid'] not in ('drop', 'ignore'):
        raise ConfigError('%s.invalid must be drop or ignore, got %r' % (where, ds['invalid']))
    if 'exhaustive' in ds and not isinstance(ds['exhaustive'], bool):
        raise ConfigError('%s.exhaustive must be true or false, got %r' % (where, ds['exhaustive']))
    for key in ('image_list', 'class_name'):
        if key in ds and not (isinstance(ds[key], str) and ds[key]):
            raise ConfigError('%s.%s must be a non-empty string, got %r' % (where, key, ds[key]))


def load_config(path=None, overrides=()):
    """Defaults <- YAML file(s) <- overrides, validated. ``path``: one file or a list merged in order (a later file
    overrides an earlier one key by key; lists are replaced). Relative dataset paths stay as given."""
    paths = [path] if isinstance(path, str) else list(path or ())
    cfg = load_defaults()
    for one in paths:
        with open(one) as f:
            try:
                user = yaml.safe_load(f) or {}
            except (yaml.YAMLError, UnicodeDecodeError) as exc:
                raise ConfigError('%s is not a valid YAML text file: %s' % (one, ' '.join(str(exc).split())))
        if not isinstance(user, dict):
            raise ConfigError('%s must hold a mapping of sections' % one)
        _merge(cfg, user)
    for text in overrides:
        _merge(cfg, parse_override(text))
    return check_config(cfg)


def dump_config(cfg):
    return yaml.safe_dump(copy.deepcopy(cfg), sort_keys=False)
