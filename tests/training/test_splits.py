"""face-ssd-split: source-photo names, look-alike merging, grouped deterministic splits, and the committed held-out
lists of the fine-tuning recipes (recomputed from ../shared/data and compared, no photo on both sides)."""
import os

import numpy as np
import pytest

from face_ssd_training.data import splits
from face_ssd_training.data.base import read_id_list

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPLITS = os.path.join(REPO, 'config', 'training', 'splits')


def test_source_photo_of_roboflow_names():
    cases = {'train/face_005_aug04_jpg.rf.54f54c07a02639eb2193d1e01f1a1c37.jpg': 'face_005',
             'face_005_aug06_jpg.rf.a4b0fa0f5a750764c09f9ada811b6eb1.jpg': 'face_005',
             'valid/face_aug241_jpg.rf.6fb21960b68ecdb76f465d25f5831a7c.jpg': 'face_aug241',
             'IMG_2030_png.rf.0123abcd.png': 'IMG_2030',
             'photo.jpg': 'photo', 'naruto_00000013': 'naruto_00000013'}
    for name, source in cases.items():
        assert splits.source_photo(name) == source, name
    assert splits.name_prefix('naruto_00000013') == 'naruto' and splits.name_prefix('x.jpg') == 'x'


def _photo(seed, size=128):
    """A smooth random RGB 'photo' (blurred noise), uint8 [size, size, 3]."""
    import cv2
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.integers(0, 255, (size, size, 3)).astype(np.uint8), (0, 0), 10)
    return cv2.normalize(img, None, 0, 255, cv2.NORM_MINMAX)


def test_look_alikes_merge_copies_not_other_photos():
    import cv2
    base = _photo(1)
    h, w = base.shape[:2]
    rot = cv2.warpAffine(base, cv2.getRotationMatrix2D((w / 2, h / 2), 12, 1.0), (w, h))   # black corners
    copies = {'p_a': base, 'p_flip': base[:, ::-1], 'p_rot90': np.rot90(base).copy(), 'p_rot12': rot,
              'p_dark': (base * 0.6).astype(np.uint8)}
    others = {'q': _photo(2), 'r': _photo(3)}
    sigs = {k: splits.image_signature(v) for k, v in list(copies.items()) + list(others.items())}
    for k in copies:
        assert splits.similarity(sigs['p_a'], sigs[k]) > 0.8, k
    assert splits.similarity(sigs['p_a'], sigs['q']) < 0.7 and splits.similarity(sigs['q'], sigs['r']) < 0.7
    group_of = {k: k for k in sigs}                              # every image alone by name
    merged = splits.merge_similar(group_of, sigs, 0.8)
    assert set(merged[k] for k in copies) == {'p_a'}             # the smallest key names the merged group
    assert merged['q'] == 'q' and merged['r'] == 'r'
    assert splits.merge_similar(group_of, sigs, 0) == group_of
    sim = splits.similarity_matrix([sigs['p_a'], sigs['q']], [sigs['p_flip'], sigs['r'], sigs['q']])
    assert sim.shape == (2, 3) and sim[0, 0] > 0.8 and sim[1, 2] == pytest.approx(1.0, abs=1e-5)


def test_grouped_split_keeps_groups_whole_and_is_deterministic():
    group_of = {}
    for g in range(20):
        for k in range(1 + g % 3):
            group_of['img_%02d_%d' % (g, k)] = 'g%02d' % g
    train, test = splits.grouped_split(group_of, 0.25, seed=0)
    assert sorted(train + test) == sorted(group_of) and not set(train) & set(test)
    assert not {group_of[i] for i in train} & {group_of[i] for i in test}
    assert 0.25 * len(group_of) <= len(test) < 0.25 * len(group_of) + 3     # stops once the fraction is reached
    assert splits.grouped_split(group_of, 0.25, seed=0) == (train, test)
    assert splits.grouped_split(group_of, 0.25, seed=1) != (train, test)
    # strata are split on their own; a stratum of one group stays in training
    strata = {'g%02d' % g: ('a' if g < 10 else 'b') for g in range(19)}
    strata['g19'] = 'lonely'
    train, test = splits.grouped_split(group_of, 0.3, seed=0, stratum_of=strata)
    assert {strata[group_of[i]] for i in test} == {'a', 'b'}
    assert all(group_of[i] != 'g19' for i in test)
    with pytest.raises(ValueError, match='test_fraction'):
        splits.grouped_split(group_of, 1.0)


def _ids(name):
    return read_id_list(os.path.join(SPLITS, name))


def test_committed_lists_are_disjoint_and_carry_their_command():
    for stem in ('selfies', 'cartoon', 'aaf'):
        train, test = _ids(stem + '_train.txt'), _ids(stem + '_test.txt')
        assert train and test and not set(train) & set(test), stem
        with open(os.path.join(SPLITS, stem + '_test.txt')) as f:
            assert f.readline().startswith('# made by: face-ssd-split '), stem
    # no source photo of the selfies on both sides
    train, test = _ids('selfies_train.txt'), _ids('selfies_test.txt')
    assert not {splits.source_photo(i) for i in train} & {splits.source_photo(i) for i in test}
    assert len(train) + len(test) == 160


def _recompute(tmp_path, argv):
    train_out, test_out = str(tmp_path / 'train.txt'), str(tmp_path / 'test.txt')
    assert splits.main(argv + ['--train-out', train_out, '--test-out', test_out]) == 0
    return read_id_list(train_out), read_id_list(test_out)


def _command_of(stem):
    """The face-ssd-split arguments recorded in a committed list (paths relative to the repository root)."""
    with open(os.path.join(SPLITS, stem + '_test.txt')) as f:
        argv = f.readline().split('face-ssd-split ', 1)[1].split()
    cut = argv.index('--train-out')
    return [os.path.join(REPO, a) if a.startswith('../') else a for a in argv[:cut]]


@pytest.mark.parametrize('stem', ['selfies', 'cartoon', 'aaf'])
def test_committed_lists_are_what_face_ssd_split_makes(tmp_path, shared_data, stem):
    train, test = _recompute(tmp_path, _command_of(stem))
    assert (train, test) == (_ids(stem + '_train.txt'), _ids(stem + '_test.txt'))


def test_no_selfie_on_the_test_side_looks_like_a_training_one(shared_data):
    from face_ssd_training.data.base import read_image_rgb
    images = os.path.join(shared_data, 'faces', 'selfies', 'images')
    sig = lambda rel: splits.image_signature(read_image_rgb(os.path.join(images, rel)))  # noqa: E731
    train = [sig(i) for i in _ids('selfies_train.txt')]
    test = [sig(i) for i in _ids('selfies_test.txt')]
    assert splits.similarity_matrix(test, train).max() < 0.8


def test_make_finetune_splits_makes_the_committed_lists():
    """`make finetune-splits` runs exactly the commands recorded in the committed lists' headers."""
    with open(os.path.join(REPO, 'Makefile')) as f:
        text = f.read().replace('\\\n', ' ')
    recipe = text.split('\nfinetune-splits:', 1)[1].split('\n\n', 1)[0]
    commands = [' '.join(line.replace('$(FT)', 'config/training').split()) for line in recipe.splitlines()
                if line.strip().startswith('face-ssd-split ')]
    recorded = []
    for stem in ('selfies', 'cartoon', 'aaf'):
        with open(os.path.join(SPLITS, stem + '_test.txt')) as f:
            recorded.append(' '.join(f.readline()[len('# made by: '):].split()))
    assert sorted(commands) == sorted(recorded)
