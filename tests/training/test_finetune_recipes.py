"""The three fine-tuning recipes of docs/TRAINING.md (config/training/finetune_*.yaml): their configs validate and
keep the held-out images out of training; a few iterations of each on the real data train, export an ONNX with the
recipe's labels, and evaluate on the held-out split (skipped when ../shared/data is absent)."""
import json
import os

import pytest

from face_ssd_training.config import load_config
from face_ssd_training.data.base import read_id_list
from face_ssd_training.eval import cli
from face_ssd_training.train import Trainer

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIGS = os.path.join(REPO, 'config', 'training')
SHIPPED_CKPT = os.path.join(REPO, 'src', 'face_ssd_ros', 'face_ssd_ros', 'models', 'face_default.pt')
RECIPES = {   # base config, the variants merged over it, labels
    'plates': ('finetune_plates.yaml', ['finetune_plates_scratch.yaml'], ['background', 'License_Plate']),
    'cartoon': ('finetune_cartoon.yaml', ['finetune_cartoon_640.yaml', 'finetune_cartoon_scratch.yaml'],
                ['background', 'face', 'cartoon_face']),
    'identities': ('finetune_identities.yaml', ['finetune_identities_scratch.yaml'], ['background', 'my_face', 'nsf']),
}


def _cfg(*names, overrides=()):
    return load_config([os.path.join(CONFIGS, n) for n in names], list(overrides))


def _ids(spec):
    """What an entry names: its image list's ids, else its (root, split / image set) for whole sets."""
    if 'image_list' in spec:
        return set(read_id_list(os.path.join(CONFIGS, spec['image_list'])))
    return {(spec.get('root') or spec.get('images'), spec.get('split') or spec.get('image_set'))}


@pytest.mark.parametrize('recipe', sorted(RECIPES))
def test_recipe_configs_validate_and_hold_out_their_test_images(recipe):
    base, variants, labels = RECIPES[recipe]
    cfg = _cfg(base)
    assert cfg['data']['labels'] == labels and cfg['data']['val']
    # the held-out split is scored once, after the last epoch: it never selects the exported checkpoint
    assert cfg['train']['val_every'] > 100
    for variant in variants:
        merged = _cfg(base, variant)
        # each variant writes its own run and is measured on the same held-out data
        assert merged['output']['dir'] != cfg['output']['dir'] and merged['data'] == cfg['data']
    for section in ('train', 'val'):
        for spec in cfg['data'][section]:
            for key in ('images', 'gt', 'root', 'annotations'):
                if key in spec:
                    assert 'wider_dev' not in spec[key].split('/'), spec
    # no held-out image is a training image of the same source
    for val in cfg['data']['val']:
        for train in cfg['data']['train']:
            same_source = all(val.get(k) == train.get(k) for k in ('format', 'root', 'images', 'gt', 'annotations'))
            if same_source:
                assert not _ids(val) & _ids(train), (val, train)


def test_scratch_variants_start_from_nothing_and_the_others_from_something():
    assert _cfg('finetune_plates.yaml')['model']['pretrained'] == 'imagenet'
    assert _cfg('finetune_plates.yaml', 'finetune_plates_scratch.yaml')['model']['pretrained'] is None
    for base, scratch in (('finetune_cartoon.yaml', 'finetune_cartoon_scratch.yaml'),
                          ('finetune_identities.yaml', 'finetune_identities_scratch.yaml')):
        cfg = _cfg(base)
        assert cfg['train']['init_checkpoint'].endswith('face_ssd_ros/models/face_default.pt')
        assert cfg['train']['class_weights'] and cfg['train']['freeze_base_epochs'] > 0
        assert _cfg(base, scratch)['train']['init_checkpoint'] is None
    at_640 = _cfg('finetune_cartoon.yaml', 'finetune_cartoon_640.yaml')
    assert at_640['model']['input_size'] == [640, 480]
    assert at_640['train']['init_checkpoint'].endswith('face_ssd_ros/models/face_default_640x480.pt')   # its own
    assert os.path.isfile(os.path.join(CONFIGS, at_640['train']['init_checkpoint']))


@pytest.fixture(scope='module')
def face_checkpoint(tmp_path_factory):
    """The shipped face model's training checkpoint; until it ships, one recovered from its ONNX here."""
    if os.path.isfile(SHIPPED_CKPT):
        return SHIPPED_CKPT
    from face_ssd_training import onnx_import
    out = str(tmp_path_factory.mktemp('ckpt') / 'face_default.pt')
    images = os.path.join(REPO, '..', 'shared', 'data', 'faces', 'dlib', 'images')
    if not os.path.isdir(images):
        pytest.skip('../shared/data is not beside the checkout')
    assert onnx_import.main([SHIPPED_CKPT[:-3] + '.onnx', '--out', out, '--images', images]) == 0
    return out


def _few_iterations(tmp_path, names, overrides):
    """Two iterations of batch 4; the held-out data is scored afterwards by face-ssd-eval config (as the make
    targets do), not by the trainer's validation, to save time."""
    cfg = _cfg(*names, overrides=['train.max_iters=2', 'train.batch_size=4', 'train.num_workers=0', 'data.val=[]',
                                  'output.dir=%s' % (tmp_path / 'run')] + list(overrides))
    trainer = Trainer(cfg, CONFIGS, progress=False)
    result = trainer.run()
    with open(os.path.splitext(result.onnx)[0] + '.json') as f:
        manifest = json.load(f)
    return trainer, result, manifest


def _evaluate(tmp_path, base, onnx):
    out = str(tmp_path / 'eval.json')
    assert cli.main(['config', '--config', os.path.join(CONFIGS, base), '--model', onnx, '--quiet',
                     '--accuracy-threshold', '0.5', '--json', out]) == 0
    return json.load(open(out))


def test_plates_from_imagenet_a_few_iterations(tmp_path, shared_data, capsys):
    from face_ssd_training.models import pretrained
    try:
        pretrained.weights_path('imagenet')
    except pretrained.PretrainedError as exc:
        pytest.skip(str(exc))
    trainer, result, manifest = _few_iterations(tmp_path, ['finetune_plates.yaml'], [])
    assert '312 of 312 backbone tensors loaded' in capsys.readouterr().err
    assert manifest['labels'] == ['background', 'License_Plate'] and manifest['arch'] == 'mb2-ssd-lite'
    assert manifest['input']['mean'] == [123.675, 116.28, 103.53]          # ImageNet's normalisation travels along
    assert len(trainer.train_set) == 240 and result.history[-1]['batches'] == 2
    rep = _evaluate(tmp_path, 'finetune_plates.yaml', result.onnx)
    assert rep['images'] == 60 and rep['classes']['License_Plate']['num_gt'] == 60


def test_cartoon_from_the_face_model_a_few_iterations(tmp_path, shared_data, face_checkpoint, capsys):
    trainer, result, manifest = _few_iterations(tmp_path, ['finetune_cartoon.yaml'],
                                                ['train.init_checkpoint=%s' % face_checkpoint])
    err = capsys.readouterr().err
    assert '[init] %s: loaded' % face_checkpoint in err and 'left freshly initialised' in err
    assert manifest['labels'] == ['background', 'face', 'cartoon_face']
    cartoon, partial, human = trainer.train_set.datasets
    assert (len(cartoon), len(partial), len(human)) == (32, 75, 120)
    assert cartoon.exhaustive and not partial.exhaustive and human.exhaustive
    assert set(int(v) for r in human.records for v in r.labels) == {1}        # AAF faces are "face"
    assert trainer.criterion.class_weights.tolist() == [1.0, 1.0, 2.0]
    assert not any(p.requires_grad for p in trainer.model.base_parameters())  # still in the frozen epochs
    rep = _evaluate(tmp_path, 'finetune_cartoon.yaml', result.onnx)
    assert rep['images'] == 19 + 30 + 9
    assert rep['classes']['cartoon_face']['num_gt'] == 25 and rep['image_accuracy']['images'] == 58


def test_identities_from_the_face_model_a_few_iterations(tmp_path, shared_data, face_checkpoint):
    trainer, result, manifest = _few_iterations(tmp_path, ['finetune_identities.yaml'],
                                                ['train.init_checkpoint=%s' % face_checkpoint])
    assert manifest['labels'] == ['background', 'my_face', 'nsf']
    assert len(trainer.train_set) == 119
    rep = _evaluate(tmp_path, 'finetune_identities.yaml', result.onnx)
    assert rep['images'] == 41
    assert {k: v['num_gt'] for k, v in rep['classes'].items()} == {'my_face': 41, 'nsf': 23}
    assert set(rep['image_accuracy']['classes']) == {'my_face', 'nsf'}
