"""face-ssd-average (face_ssd_training/average.py): the weighted mean of checkpoints of one network."""
import pytest
import torch

from face_ssd_training.average import average_checkpoints, average_state_dicts, main
from face_ssd_training.models import build_model, load_checkpoint


def _state(value, count=3):
    return {'w': torch.full((2, 2), float(value)), 'bn.num_batches_tracked': torch.tensor(count)}


def test_plain_and_weighted_means_golden():
    out = average_state_dicts([_state(1.0, 3), _state(4.0, 9)])
    assert torch.equal(out['w'], torch.full((2, 2), 2.5))
    assert int(out['bn.num_batches_tracked']) == 3 and out['bn.num_batches_tracked'].dtype == torch.int64
    weighted = average_state_dicts([_state(1.0), _state(4.0)], weights=[3, 1])   # 0.75 * 1 + 0.25 * 4
    assert torch.equal(weighted['w'], torch.full((2, 2), 1.75))


def test_one_state_averages_to_itself_and_keeps_the_memory_format():
    conv = torch.nn.Conv2d(3, 4, 3).to(memory_format=torch.channels_last)
    state = conv.state_dict()
    out = average_state_dicts([state, state])
    assert torch.equal(out['weight'], state['weight'])
    assert out['weight'].is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize('states,weights,match', [
    ([], None, 'nothing to average'),
    ([{'w': torch.zeros(2)}, {'v': torch.zeros(2)}], None, 'other tensors'),
    ([{'w': torch.zeros(2)}, {'w': torch.zeros(3)}], None, 'shape'),
    ([{'w': torch.zeros(2)}, {'w': torch.zeros(2)}], [1, -1], 'non-negative'),
    ([{'w': torch.zeros(2)}, {'w': torch.zeros(2)}], [0, 0], 'positive sum'),
    ([{'w': torch.zeros(2)}, {'w': torch.zeros(2)}], [1], 'need 2')])
def test_mismatches_are_refused(states, weights, match):
    with pytest.raises(ValueError, match=match):
        average_state_dicts(states, weights)


def _checkpoint(path, model, labels=('background', 'face')):
    from face_ssd_training.manifest import make_manifest
    manifest = make_manifest(model, list(labels), 160, 120, [127.0] * 3, [128.0] * 3, 'RGB')
    torch.save({'model': model.state_dict(), 'manifest': manifest, 'config': {}, 'epoch': 1}, str(path))
    return str(path)


def test_checkpoints_round_trip_into_an_exportable_soup(tmp_path):
    from face_ssd_training.export import export_checkpoint
    torch.manual_seed(0)
    a, b = build_model('slim', 2), build_model('slim', 2)
    pa, pb = _checkpoint(tmp_path / 'a.pt', a), _checkpoint(tmp_path / 'b.pt', b)
    assert main([pa, pb, '--out', str(tmp_path / 'soup.pt')]) == 0
    soup = load_checkpoint(str(tmp_path / 'soup.pt'))             # weights-only loadable
    name = next(k for k, v in soup['model'].items() if v.dim() == 4)
    expected = (a.state_dict()[name] + b.state_dict()[name]) / 2
    assert torch.allclose(soup['model'][name], expected, atol=1e-7)
    assert len(soup['averaged_from']) == 2 and soup['manifest']['arch'] == 'slim'
    fresh = build_model('slim', 2)
    fresh.load_state_dict(soup['model'])                          # the same network takes it
    manifest = export_checkpoint(str(tmp_path / 'soup.pt'), str(tmp_path / 'soup.onnx'), verbose=False)
    assert (tmp_path / 'soup.onnx').stat().st_size > 0
    # the manifest names the ingredients (no machine's folders) instead of an epoch
    assert manifest['training']['averaged_from'] == [{'checkpoint': '%s/a.pt' % tmp_path.name, 'weight': 0.5},
                                                     {'checkpoint': '%s/b.pt' % tmp_path.name, 'weight': 0.5}]
    assert 'epoch' not in manifest['training']
    from face_ssd_training.export import save_weights_only
    slim = save_weights_only(str(tmp_path / 'soup.pt'), str(tmp_path / 'ship.pt'))
    assert slim['averaged_from'] == soup['averaged_from'] and 'optimizer' not in slim
    assert torch.load(str(tmp_path / 'ship.pt'), weights_only=True)['averaged_weights'] == [1.0, 1.0]


def test_weighted_soup_manifest_gives_normalised_weights():
    from face_ssd_training.export import training_record
    record = training_record({'commit': 'abc'}, {'averaged_from': ['/x/runs/s21/last.pt', 'models/v8.pt'],
                                                 'averaged_weights': [3.0, 1.0], 'epoch': 5})
    assert record == {'commit': 'abc', 'averaged_from': [{'checkpoint': 's21/last.pt', 'weight': 0.75},
                                                         {'checkpoint': 'models/v8.pt', 'weight': 0.25}]}
    assert training_record({}, {'epoch': 3}) == {'epoch': 4}      # a training run: epochs trained


def test_other_networks_or_classes_are_refused(tmp_path):
    pa = _checkpoint(tmp_path / 'a.pt', build_model('slim', 2))
    pb = _checkpoint(tmp_path / 'b.pt', build_model('slim', 3), labels=('background', 'face', 'plate'))
    pc = _checkpoint(tmp_path / 'c.pt', build_model('rfb', 2))
    with pytest.raises(ValueError, match='labels'):
        average_checkpoints([pa, pb], str(tmp_path / 's.pt'))
    with pytest.raises(ValueError, match='arch'):
        average_checkpoints([pa, pc], str(tmp_path / 's.pt'))
    with pytest.raises(ValueError, match='at least two'):
        average_checkpoints([pa], str(tmp_path / 's.pt'))
    assert main([pa, pc, '--out', str(tmp_path / 's.pt')]) == 1
    assert not (tmp_path / 's.pt').exists()


def test_an_output_folder_is_refused_before_anything_is_loaded(tmp_path, capsys):
    pa = _checkpoint(tmp_path / 'a.pt', build_model('slim', 2))
    assert main([pa, pa, '--out', str(tmp_path)]) == 1
    assert 'is a folder' in capsys.readouterr().err
