"""Labels files: plain lists with or without BACKGROUND, CVAT labelmap.txt, save/load round trip, errors."""
import os

import pytest

from face_ssd_training.data import load_labels, save_labels
from face_ssd_training.data.labels import resolve_labels


@pytest.mark.parametrize('text', ['BACKGROUND\nface\nplate\n', 'background\nface\nplate', 'face\nplate\n',
                                  '\ufeffface\n\nplate\n\n'])
def test_plain_forms(tmp_path, text):
    p = tmp_path / 'labels.txt'
    p.write_text(text, encoding='utf-8')
    assert load_labels(str(p)) == ['background', 'face', 'plate']


def test_cvat_labelmap(tmp_path):
    p = tmp_path / 'labelmap.txt'
    p.write_text('# label:color_rgb:parts:actions\nbackground:0,0,0::\ncartoon_face:250,50,83::\nhuman face:1,2,3::\n')
    assert load_labels(str(p)) == ['background', 'cartoon_face', 'human face']


def test_round_trip(tmp_path):
    p = str(tmp_path / 'l.txt')
    save_labels(['background', 'my_face', 'nsf'], p)
    assert open(p).read().splitlines()[0] == 'BACKGROUND'
    assert load_labels(p) == ['background', 'my_face', 'nsf']
    save_labels(['a'], p)
    assert load_labels(p) == ['background', 'a']


@pytest.mark.parametrize('text,msg', [('face\nface\n', 'duplicate'), ('BACKGROUND\n', 'at least one'),
                                      ('face\nbackground\n', 'first')])
def test_bad_files(tmp_path, text, msg):
    p = tmp_path / 'bad.txt'
    p.write_text(text)
    with pytest.raises(ValueError, match=msg):
        load_labels(str(p))


def test_missing_file_and_resolve(tmp_path):
    with pytest.raises(FileNotFoundError, match='labels file not found'):
        load_labels(str(tmp_path / 'none.txt'))
    assert resolve_labels(None, default=['x']) == ['background', 'x']
    assert resolve_labels(('background', 'face')) == ['background', 'face']


def test_real_cartoon_label_files_agree(shared_data):
    d = os.path.join(shared_data, 'cartoon')
    assert load_labels(os.path.join(d, 'labels.txt')) == load_labels(os.path.join(d, 'labelmap.txt')) == \
        ['background', 'cartoon_face']
