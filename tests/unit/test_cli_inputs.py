"""The small checks behind "bad input gets one clear line": output paths checked before a long run, parameter
overrides no declared parameter takes, topic names of a bag, and prediction files with non-finite or mistyped values.
(The command lines that use them: tests/integration/test_faults_cli.py.)"""
import argparse
import os

import pytest

from face_ssd_ros.cli.args import number
from face_ssd_ros.cli.outputs import output_file_problem, output_folder_problem
from face_ssd_ros.config.params import unknown_parameters_text
from face_ssd_ros.detect.predictions import PredictionsFormatError, read_predictions
from face_ssd_ros.evaluation.bag_io import topic_name_problem


@pytest.mark.parametrize('kind, low, high, opens, text, expected', [
    (float, 0.0, 1.0, (False, False), '0', 0.0), (float, 0.0, 1.0, (False, False), '1', 1.0),
    (float, 0.0, 1.0, (False, False), '0.25', 0.25), (float, 0.0, None, (True, False), '1e-9', 1e-9),
    (int, 1, None, (False, False), '7', 7), (int, 0, None, (False, False), '0', 0)])
def test_number_takes_values_in_range(kind, low, high, opens, text, expected):
    value = number(kind, low, high, *opens)(text)
    assert value == expected and type(value) is kind


@pytest.mark.parametrize('kind, low, high, opens, text, message', [
    (float, 0.0, 1.0, (False, False), '2', "must be a number in [0, 1], got '2'"),
    (float, 0.0, 1.0, (False, False), 'nan', "must be a number in [0, 1], got 'nan'"),
    (float, 0.0, None, (False, False), 'inf', "must be a number >= 0, got 'inf'"),
    (float, 0.0, 1.0, (True, False), '0', "must be a number in (0, 1], got '0'"),
    (float, None, 1.0, (False, True), '1', "must be a number < 1, got '1'"),
    (float, None, None, (False, False), '-inf', "must be a number that is finite, got '-inf'"),
    (int, 1, None, (False, False), '-5', "must be an integer >= 1, got '-5'"),
    (int, 1, None, (False, False), '2.5', "must be an integer >= 1, got '2.5'"),
    (int, 0, None, (False, False), 'two', "must be an integer >= 0, got 'two'")])
def test_number_refuses_out_of_range_and_non_finite_text(kind, low, high, opens, text, message):
    with pytest.raises(argparse.ArgumentTypeError) as err:
        number(kind, low, high, *opens)(text)
    assert str(err.value) == message


def test_number_in_a_parser_gives_one_line_and_exit_2(capsys):
    parser = argparse.ArgumentParser(prog='tool')
    parser.add_argument('--score', type=number(float, 0.0, 1.0))
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(['--score', 'nan'])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == "tool: error: argument --score: must be a number in [0, 1], " \
                                                       "got 'nan'"


def test_output_file_problem(tmp_path):
    (tmp_path / 'a_file').write_text('x')
    (tmp_path / 'folder').mkdir()
    assert output_file_problem(str(tmp_path / 'new.jsonl')) is None
    assert output_file_problem(str(tmp_path / 'deep' / 'er' / 'new.jsonl')) is None   # folders get created
    assert output_file_problem(str(tmp_path / 'a_file')) is None                      # replaced
    assert output_file_problem(str(tmp_path / 'folder')) == 'is a folder: give a file name in it'
    assert output_file_problem(str(tmp_path / 'a_file' / 'x.jsonl')) == '%s is a file, not a folder' % (
        tmp_path / 'a_file')
    assert output_file_problem(str(tmp_path / 'a_file' / 'sub' / 'x.jsonl')).endswith('a_file is a file, not a folder')
    assert not os.path.exists(str(tmp_path / 'deep'))   # nothing is created by the check


def test_output_folder_problem(tmp_path):
    (tmp_path / 'a_file').write_text('x')
    assert output_folder_problem(str(tmp_path)) is None
    assert output_folder_problem(str(tmp_path / 'new' / 'sub')) is None
    assert output_folder_problem(str(tmp_path / 'a_file')) == 'is a file, not a folder: give a folder name'
    assert output_folder_problem(str(tmp_path / 'a_file' / 'out')).endswith('a_file is a file, not a folder')


def test_unknown_parameters_text_names_each_and_suggests_the_closest():
    known = ['score_threshold', 'nms_iou', 'use_sim_time']
    assert unknown_parameters_text('detector', [], known) == ''
    text = unknown_parameters_text('detector', ['score_treshold', 'colour'], known)
    assert text.startswith('detector ignores parameters it does not have: colour, score_treshold (did you mean '
                           'score_threshold?).')
    assert '\n' not in text
    assert 'did you mean' not in unknown_parameters_text('detector', ['colour'], known)


@pytest.mark.parametrize('name', ['/image_raw', 'image_raw', '/cam_1/image_raw/compressed', '/_x'])
def test_valid_topic_names(name):
    assert topic_name_problem(name) is None


@pytest.mark.parametrize('name', ['', 'bad topic!', '/a//b', '/a/', '/1cam/image', 'image-raw', '~/x'])
def test_invalid_topic_names(name):
    assert topic_name_problem(name)


def _write(tmp_path, text, name='p.jsonl'):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode('utf-8'))
    return str(path)


def test_predictions_refuse_non_finite_and_mistyped_values(tmp_path):
    good = _write(tmp_path, '{"image": "a.jpg", "width": 4, "height": 4, "boxes": [[0, 0, 2, 2, 0.9, "face"]]}\n')
    assert read_predictions(good)[0]['boxes'][0][4] == 0.9
    for boxes in ('[[0, 0, 2, 2, NaN, "face"]]', '[[0, 0, Infinity, 2, 0.5, "face"]]', '[[0, 0, 2, 2, "high", "f"]]',
                  '[[0, 0, 2, 2, true, "face"]]', '"none"'):
        path = _write(tmp_path, '\n{"image": "a.jpg", "width": 4, "height": 4, "boxes": %s}\n' % boxes)
        with pytest.raises(PredictionsFormatError) as info:
            read_predictions(path)
        assert '%s:2:' % path in str(info.value)


def test_predictions_that_are_not_text_name_the_file(tmp_path):
    path = _write(tmp_path, b'\xff\xd8\xff\xe0 a JPEG, not JSON Lines')
    with pytest.raises(PredictionsFormatError) as info:
        read_predictions(path)
    assert str(info.value).startswith('%s: not a UTF-8 text file' % path)
