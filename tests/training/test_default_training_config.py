"""The shipped model's training config: it validates, it never trains on the evaluation set, every path it names is
either the shared data or a pseudo-label file that scripts/make_pseudo_labels.sh (run by `make train-default`) writes."""
import json
import os
import re

import pytest

from face_ssd_training.config import load_config

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(REPO, 'config', 'training', 'face_default.yaml')
SCRIPT = os.path.join(REPO, 'scripts', 'make_pseudo_labels.sh')


def _paths(cfg):
    for section in ('train', 'val', 'negatives'):
        for ds in cfg['data'][section]:
            for key in ('images', 'gt', 'filelist', 'root'):
                if key in ds:
                    yield section, key, os.path.normpath(os.path.join(os.path.dirname(CONFIG), ds[key]))


def _init_checkpoint(config_path, cfg):
    """The train.init_checkpoint of ``cfg`` (merged configs, the last one at ``config_path``), as a normalised path."""
    return os.path.normpath(os.path.join(os.path.dirname(config_path), cfg['train']['init_checkpoint']))


def _run_checkpoint(cfg, name):
    """The checkpoint ``name`` (last.pt, best.pt) that the run of ``cfg`` writes, as a normalised path."""
    return os.path.normpath(os.path.join(REPO, cfg['output']['dir'], name))


def test_config_validates_and_keeps_wider_dev_out_of_training():
    cfg = load_config(CONFIG)
    assert cfg['model']['arch'] and cfg['train']['epochs'] >= 1
    paths = list(_paths(cfg))
    assert paths
    for section, key, path in paths:
        assert 'wider_dev' not in path.split(os.sep), '%s.%s points into the evaluation-only set: %s' % (
            section, key, path)


def test_every_pseudo_label_file_is_made_by_the_script():
    cfg = load_config(CONFIG)
    script = open(SCRIPT).read()
    made = set(re.findall(r'^label (\w+) ', script, re.M))
    pseudo_root = os.path.normpath(os.path.join(REPO, 'out', 'pseudo'))
    used = set()
    for _, key, path in _paths(cfg):
        if path.startswith(pseudo_root + os.sep):
            rel = os.path.relpath(path, pseudo_root).split(os.sep)
            assert rel[1:] == ['autolabel_bbx_gt.txt'], path
            used.add(rel[0])
    assert used, 'the default config is expected to train on teacher pseudo-labels'
    assert used <= made, 'pseudo-label sets %s are not made by %s' % (sorted(used - made), SCRIPT)


def test_shared_data_paths_exist():
    cfg = load_config(CONFIG)
    shared = os.path.normpath(os.path.join(REPO, '..', 'shared', 'data'))
    if not os.path.isdir(shared):
        pytest.skip('../shared/data is not beside the repository')
    for section, key, path in _paths(cfg):
        if path.startswith(shared + os.sep):
            assert os.path.exists(path), '%s.%s: %s does not exist' % (section, key, path)


STAGE2 = os.path.join(REPO, 'config', 'training', 'face_default_stage2.yaml')


def test_stage2_refines_stage1_from_its_best_checkpoint_with_mosaic():
    stage1 = load_config(CONFIG)
    both = load_config([CONFIG, STAGE2])
    assert both['data']['train'] == stage1['data']['train']  # same data, nothing from wider_dev
    assert both['data']['mosaic'] > 0 and stage1['data']['mosaic'] == 0
    init = _init_checkpoint(STAGE2, both)
    assert init == _run_checkpoint(stage1, 'best.pt')
    assert both['output']['dir'] != stage1['output']['dir']  # stage 2 must not overwrite its own starting point
    makefile = open(os.path.join(REPO, 'Makefile')).read()
    assert '--config config/training/face_default.yaml --config config/training/face_default_stage2.yaml' in makefile


STAGE3 = os.path.join(REPO, 'config', 'training', 'face_default_stage3.yaml')


def test_stage3_refines_stage2_with_ignore_regions_on_the_same_images():
    stage2 = load_config([CONFIG, STAGE2])
    stage3 = load_config([CONFIG, STAGE2, STAGE3])
    strip = lambda specs: [{k: v for k, v in s.items() if k != 'invalid'} for s in specs]  # noqa: E731
    assert strip(stage3['data']['train']) == stage2['data']['train']  # same files; only how invalid boxes are read
    ignored = [s['gt'] for s in stage3['data']['train'] if s.get('invalid') == 'ignore']
    assert sum('out/pseudo/' in g for g in ignored) == 4 and stage3['data']['small_boxes'] == 'ignore'
    assert stage3['data']['mosaic'] == stage2['data']['mosaic'] > 0
    init = _init_checkpoint(STAGE3, stage3)
    assert init == _run_checkpoint(stage2, 'last.pt')
    assert stage3['output']['dir'] not in (stage2['output']['dir'], load_config(CONFIG)['output']['dir'])
    script = open(SCRIPT).read()
    assert '--ignore-threshold' in script  # the pseudo-label files carry the ignore regions stage 3 reads
    makefile = open(os.path.join(REPO, 'Makefile')).read().replace('\\\n', ' ')
    assert re.search(r'face_default\.yaml --config config/training/face_default_stage2\.yaml\s+'
                     r'--config config/training/face_default_stage3\.yaml', makefile)


def test_train_cli_merges_several_configs_in_order(tmp_path, capsys):
    from face_ssd_training.train import main
    assert main(['--config', CONFIG, '--config', STAGE2, '--print-config']) == 0
    out = capsys.readouterr().out
    assert 'mosaic: 0.5' in out and 'face_default_stage2' in out
    other = tmp_path / 'other.yaml'
    other.write_text('train: {epochs: 3}\n')
    with pytest.raises(SystemExit) as exc:
        main(['--config', CONFIG, '--config', str(other), '--print-config'])
    assert exc.value.code == 2
    assert 'different folders' in capsys.readouterr().err


STAGE4 = os.path.join(REPO, 'config', 'training', 'face_default_stage4.yaml')


def test_stage4_continues_stage3_on_the_same_data_with_a_lower_lr():
    stage3 = load_config([CONFIG, STAGE2, STAGE3])
    stage4 = load_config([CONFIG, STAGE2, STAGE3, STAGE4])
    assert stage4['data'] == stage3['data']  # same images, same ignore regions
    assert 0 < stage4['train']['lr'] < stage3['train']['lr']
    init = _init_checkpoint(STAGE4, stage4)
    assert init == _run_checkpoint(stage3, 'last.pt')
    assert stage4['output']['dir'] != stage3['output']['dir']  # must not overwrite its own starting point
    makefile = open(os.path.join(REPO, 'Makefile')).read().replace('\\\n', ' ')
    assert re.search(r'--config config/training/face_default_stage3\.yaml\s+'
                     r'--config config/training/face_default_stage4\.yaml', makefile)


STAGE5 = os.path.join(REPO, 'config', 'training', 'face_default_stage5.yaml')


def test_stage5_adds_the_crowd_sets_with_their_ignore_regions():
    stage4 = load_config([CONFIG, STAGE2, STAGE3, STAGE4])
    stage5 = load_config([CONFIG, STAGE2, STAGE3, STAGE4, STAGE5])
    old, new = stage4['data']['train'], stage5['data']['train']
    assert new[:len(old)] == old                           # stage 4's data unchanged, two sets added
    added = new[len(old):]
    assert [os.path.basename(os.path.dirname(s['images'])) for s in added] == ['wider_train', 'mask_crowds']
    assert all(s.get('invalid') == 'ignore' for s in added)   # WIDER invalid faces / unboxed faces: ignore regions
    assert 'out/pseudo/mask_crowds/' in added[1]['gt'] and '--keep-gt' in open(SCRIPT).read()
    assert all('wider_dev' not in s['images'] for s in new)
    init = _init_checkpoint(STAGE5, stage5)
    assert init == _run_checkpoint(stage4, 'last.pt')
    assert stage5['output']['dir'] != stage4['output']['dir']
    makefile = open(os.path.join(REPO, 'Makefile')).read().replace('\\\n', ' ')
    assert re.search(r'--config config/training/face_default_stage4\.yaml\s+'
                     r'--config config/training/face_default_stage5\.yaml', makefile)


STAGE6 = os.path.join(REPO, 'config', 'training', 'face_default_stage6.yaml')


def test_stage6_trains_stage5s_data_at_640x480_from_the_shipped_v6_weights():
    stage5 = load_config([CONFIG, STAGE2, STAGE3, STAGE4, STAGE5])
    stage6 = load_config([CONFIG, STAGE2, STAGE3, STAGE4, STAGE5, STAGE6])
    assert stage6['data'] == stage5['data']                  # the same data; only the input size and schedule
    assert stage5['model']['input_size'] == [320, 240] and stage6['model']['input_size'] == [640, 480]
    assert stage6['model']['arch'] == stage5['model']['arch']
    init = _init_checkpoint(STAGE6, stage6)
    assert init == _run_checkpoint(stage5, 'best.pt')
    assert stage6['output']['dir'] not in (stage5['output']['dir'],)
    makefile = open(os.path.join(REPO, 'Makefile')).read().replace('\\\n', ' ')
    assert re.search(r'--config config/training/face_default_stage5\.yaml\s+'
                     r'--config config/training/face_default_stage6\.yaml', makefile)


STAGE10 = os.path.join(REPO, 'config', 'training', 'face_default_stage10.yaml')


def test_stage10_trains_the_640x480_export_from_v7_and_the_export_ships_with_its_own_checkpoint():
    stage6 = load_config([CONFIG, STAGE2, STAGE3, STAGE4, STAGE5, STAGE6])
    stage10 = load_config([CONFIG, STAGE2, STAGE3, STAGE4, STAGE5, STAGE6, STAGE10])
    assert stage10['data'] == stage6['data'] and stage10['model'] == stage6['model']   # 640x480, same network
    init = _init_checkpoint(STAGE10, stage10)
    assert init == _run_checkpoint(stage6, 'last.pt')   # v7
    makefile = open(os.path.join(REPO, 'Makefile')).read().replace('\\\n', ' ')
    assert re.search(r'--config config/training/face_default_stage6\.yaml\s+'
                     r'--config config/training/face_default_stage10\.yaml', makefile)
    assert re.search(r'face-ssd-export \$\(SHIP_CKPT_640x480\) --out \$\(MODELS\)/face_default_640x480\.onnx '
                     r'--input-size 640x480\s+--weights-out \$\(MODELS\)/face_default_640x480\.pt', makefile)


STAGE15 = os.path.join(REPO, 'config', 'training', 'face_default_stage15.yaml')
STAGE16 = os.path.join(REPO, 'config', 'training', 'face_default_stage16.yaml')


def test_stage15_and_16_trials_change_one_thing_each_from_the_shipped_640x480_weights():
    """The session-12 trials (docs/MODEL.md, "What was tried"): stage 15 adds only model.extra_blocks, stage 16 only
    CenterFace's labels for the two small-face sets; both start from v8's 640x480 weights (stage 10's run)."""
    stage10 = load_config([CONFIG, STAGE2, STAGE3, STAGE4, STAGE5, STAGE6, STAGE10])
    base = [CONFIG, STAGE2, STAGE3, STAGE4, STAGE5, STAGE6, STAGE10]
    stage15, stage16 = load_config(base + [STAGE15]), load_config(base + [STAGE16])
    for cfg, path in ((stage15, STAGE15), (stage16, STAGE16)):
        init = _init_checkpoint(path, cfg)
        assert init == _run_checkpoint(stage10, 'last.pt')   # v8's 640x480 weights (shipped until v10)
    assert stage15['data'] == stage10['data']
    assert dict(stage15['model'], extra_blocks=None) == stage10['model']
    assert stage15['model']['extra_blocks'] == [0, 1, 2]
    assert stage16['model'] == stage10['model']
    changed = [(a['gt'], b['gt']) for a, b in zip(stage10['data']['train'], stage16['data']['train']) if a != b]
    assert len(stage16['data']['train']) == len(stage10['data']['train']) and len(changed) == 2
    for old, new in changed:
        assert '/pseudo/' in old and new == old.replace('/pseudo/', '/pseudo_centerface/')


STAGE17 = os.path.join(REPO, 'config', 'training', 'face_default_stage17.yaml')


def test_stage17_trial_continues_stage16_cooler_and_changes_nothing_else():
    """The session-13 trial: stage 16's data and network, from stage 16's last epoch, at a lower peak lr."""
    base = [CONFIG, STAGE2, STAGE3, STAGE4, STAGE5, STAGE6, STAGE10, STAGE16]
    stage16, stage17 = load_config(base), load_config(base + [STAGE17])
    assert stage17['data'] == stage16['data'] and stage17['model'] == stage16['model']
    init = _init_checkpoint(STAGE17, stage17)
    assert init == _run_checkpoint(stage16, 'last.pt')
    assert stage17['train']['lr'] < stage16['train']['lr']
    assert stage17['output']['dir'] != stage16['output']['dir']


STAGE18 = os.path.join(REPO, 'config', 'training', 'face_default_stage18.yaml')


def test_stage18_trial_trains_stage17_at_320x240_on_the_same_data():
    base = [CONFIG, STAGE2, STAGE3, STAGE4, STAGE5, STAGE6, STAGE10, STAGE16, STAGE17]
    stage17, stage18 = load_config(base), load_config(base + [STAGE18])
    assert stage18['data'] == stage17['data']
    assert stage18['model']['input_size'] == [320, 240]
    assert dict(stage18['model'], input_size=None) == dict(stage17['model'], input_size=None)
    init = _init_checkpoint(STAGE18, stage18)
    assert init == _run_checkpoint(stage17, 'last.pt')


STAGE19 = os.path.join(REPO, 'config', 'training', 'face_default_stage19.yaml')


def test_stage19_trial_mines_more_negatives_from_stage17():
    base = [CONFIG, STAGE2, STAGE3, STAGE4, STAGE5, STAGE6, STAGE10, STAGE16, STAGE17]
    stage17, stage19 = load_config(base), load_config(base + [STAGE19])
    assert stage19['data'] == stage17['data'] and stage19['model'] == stage17['model']
    assert stage17['train']['neg_pos_ratio'] == 3 and stage19['train']['neg_pos_ratio'] == 5
    init = _init_checkpoint(STAGE19, stage19)
    assert init == _run_checkpoint(stage17, 'last.pt')


STAGE20 = os.path.join(REPO, 'config', 'training', 'face_default_stage20.yaml')


def test_stage20_trial_puts_back_only_the_mask_crowds_labels_of_stage5():
    base = [CONFIG, STAGE2, STAGE3, STAGE4, STAGE5, STAGE6, STAGE10, STAGE16, STAGE17]
    stage5 = load_config([CONFIG, STAGE2, STAGE3, STAGE4, STAGE5])
    stage17, stage20 = load_config(base), load_config(base + [STAGE20])
    assert stage20['model'] == stage17['model'] and stage20['train']['lr'] == stage17['train']['lr']
    changed = [(a, b) for a, b in zip(stage17['data']['train'], stage20['data']['train']) if a != b]
    assert len(stage20['data']['train']) == len(stage17['data']['train']) and len(changed) == 1
    assert changed[0][1] in stage5['data']['train'] and 'mask_crowds' in changed[0][1]['gt']
    init = _init_checkpoint(STAGE20, stage20)
    assert init == _run_checkpoint(stage17, 'last.pt')


STAGE21 = os.path.join(REPO, 'config', 'training', 'face_default_stage21.yaml')


def test_stage21_trial_restarts_the_shipped_640x480_weights_at_a_high_learning_rate_and_changes_nothing_else():
    """Session 14's trial (docs/MODEL.md, "What was tried"): v8's data, model and augmentation, from v8's 640x480
    weights, 4 epochs cosine from lr 0.008 (every 640x480 trial before used 0.002-0.004)."""
    base = [CONFIG, STAGE2, STAGE3, STAGE4, STAGE5, STAGE6, STAGE10]
    stage10, stage21 = load_config(base), load_config(base + [STAGE21])
    assert _init_checkpoint(STAGE21, stage21) == _run_checkpoint(stage10, 'last.pt')
    assert stage21['data'] == stage10['data'] and stage21['model'] == stage10['model']
    assert (stage21['train']['lr'], stage21['train']['epochs'], stage21['train']['warmup_epochs']) == (0.008, 4, 0.3)
    assert stage21['train']['lr'] > 2 * stage10['train']['lr']
    differing = sorted(k for k in stage21['train'] if stage21['train'][k] != stage10['train'][k])
    assert differing == ['epochs', 'init_checkpoint', 'lr', 'warmup_epochs']
    assert stage21['output']['dir'] == 'runs/face_default_stage21'


STAGE22 = os.path.join(REPO, 'config', 'training', 'face_default_stage22.yaml')


def test_stage22_trial_is_stage21_with_an_average_of_the_weights():
    """Session 15's trial (docs/MODEL.md, "What was tried"): stage 21's recipe, plus train.ema."""
    base = [CONFIG, STAGE2, STAGE3, STAGE4, STAGE5, STAGE6, STAGE10, STAGE21]
    stage21, stage22 = load_config(base), load_config(base + [STAGE22])
    assert stage21['train']['ema'] == 0 and stage22['train']['ema'] == 0.998
    assert _init_checkpoint(STAGE22, stage22) == _init_checkpoint(STAGE21, stage21)
    assert stage22['data'] == stage21['data'] and stage22['model'] == stage21['model']
    differing = sorted(k for k in stage22['train'] if stage22['train'][k] != stage21['train'][k])
    assert differing == ['ema']                      # ema_tau keeps the default, 200
    assert stage22['output']['dir'] == 'runs/face_default_stage22'


STAGE23 = os.path.join(REPO, 'config', 'training', 'face_default_stage23.yaml')


def test_stage23_trial_is_stage21_with_another_seed_a_lower_rate_and_the_weight_average():
    """Session 16's trial (docs/MODEL.md, "What was tried"): a third fine-tuning of v8's 640x480 weights to average
    with v8, stage 21 and stage 22; only the seed, rate, epochs and average differ from stage 21."""
    base = [CONFIG, STAGE2, STAGE3, STAGE4, STAGE5, STAGE6, STAGE10, STAGE21]
    stage21, stage23 = load_config(base), load_config(base + [STAGE23])
    assert _init_checkpoint(STAGE23, stage23) == _init_checkpoint(STAGE21, stage21)
    assert stage23['data'] == stage21['data'] and stage23['model'] == stage21['model']
    assert (stage23['train']['lr'], stage23['train']['epochs'], stage23['train']['ema']) == (0.006, 3, 0.998)
    assert stage23['train']['seed'] != stage21['train']['seed']
    differing = sorted(k for k in stage23['train'] if stage23['train'][k] != stage21['train'][k])
    assert differing == ['ema', 'epochs', 'lr', 'seed']
    assert stage23['output']['dir'] == 'runs/face_default_stage23'


def test_the_320x240_export_is_the_soup_of_stage10_and_stages_21_to_23_and_make_train_default_rebuilds_it():
    """v9's 320x240 weights (docs/MODEL.md): the uniform average of stage 10's last epoch and the last epochs of
    stages 21, 22 and 23, each of which make train-default trains from stage 10's run (not the shipped copy)."""
    makefile = open(os.path.join(REPO, 'Makefile')).read().replace('\\\n', ' ')
    assert re.search(r'SHIP_CKPT \?= runs/face_default_soup23\.pt', makefile)
    assert re.search(r'for s in 21 "21 22" "21 23" "21 23 24"; do', makefile)
    assert '--set train.init_checkpoint=$(CURDIR)/runs/face_default_stage10/last.pt' in makefile
    assert re.search(r'face-ssd-average runs/face_default_stage10/last\.pt\s+runs/face_default_stage21/last\.pt\s+'
                     r'runs/face_default_stage22/last\.pt\s+runs/face_default_stage23/last\.pt\s+'
                     r'--out runs/face_default_soup23\.pt', makefile)
    assert re.search(r'face-ssd-export \$\(SHIP_CKPT\) --out \$\(MODELS\)/face_default\.onnx --input-size 320x240\s+'
                     r'--weights-out \$\(MODELS\)/face_default\.pt', makefile)
    shipped = json.load(open(os.path.join(REPO, 'src', 'face_ssd_ros', 'face_ssd_ros', 'models', 'face_default.json')))
    assert [(a['checkpoint'], a['weight']) for a in shipped['training']['averaged_from']] == [
        ('face_default_stage10/last.pt', 0.25), ('face_default_stage21/last.pt', 0.25),
        ('face_default_stage22/last.pt', 0.25), ('face_default_stage23/last.pt', 0.25)]


STAGE24 = os.path.join(REPO, 'config', 'training', 'face_default_stage24.yaml')


def test_stage24_is_stage23_with_another_seed_and_distillation_and_ships_at_640x480():
    """Session 17 (docs/MODEL.md): stage 23's recipe plus CenterFace's scores as soft targets (train.distill), two
    loader workers for the teacher, another seed; its last epoch is v10's 640x480 export, which make train-default
    trains from stage 10's run and make ship-default exports with its weights-only checkpoint."""
    base = [CONFIG, STAGE2, STAGE3, STAGE4, STAGE5, STAGE6, STAGE10, STAGE21, STAGE23]
    stage23, stage24 = load_config(base), load_config(base + [STAGE24])
    assert stage24['data'] == stage23['data'] and stage24['model'] == stage23['model']
    assert stage24['model']['input_size'] == [640, 480]
    assert (stage24['train']['distill'], stage24['train']['distill_weight'], stage24['train']['distill_min_score']) \
        == ('centerface', 1.0, 0.05)
    differing = sorted(k for k in stage24['train'] if stage24['train'][k] != stage23['train'][k])
    assert differing == ['distill', 'num_workers', 'seed']
    assert _init_checkpoint(STAGE24, stage24) == _run_checkpoint(load_config(base[:7]), 'last.pt')   # stage 10
    assert stage24['output']['dir'] == 'runs/face_default_stage24'
    makefile = open(os.path.join(REPO, 'Makefile')).read().replace('\\\n', ' ')
    assert re.search(r'SHIP_CKPT_640x480 \?= runs/face_default_stage24/last\.pt', makefile)
    shipped = json.load(open(os.path.join(REPO, 'src', 'face_ssd_ros', 'face_ssd_ros', 'models',
                                          'face_default_640x480.json')))
    assert shipped['input']['width'] == 640 and shipped['training']['epoch'] == 3
