"""Every console script of both packages (read from their setup.py), run as a user would with missing, wrong and
malformed arguments: each answers with a message and a non-zero exit code, and no Python traceback reaches the
user. (Integration tests: the node scripts need a ROS domain, which the conftest isolates.)"""
import ast
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SETUPS = [os.path.join(ROOT, 'src', 'face_ssd_ros', 'setup.py'),
          os.path.join(ROOT, 'src', 'face_ssd_training', 'setup.py')]
FACES = os.path.join(ROOT, '..', 'shared', 'data', 'faces')
IMAGE = os.path.join(FACES, 'dlib', 'images', '2008_002506.jpg')


def console_scripts():
    """``{name: 'module:function'}`` of the console_scripts entry points of both setup.py files (parsed, not run)."""
    out = {}
    for path in SETUPS:
        with open(path) as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values):
                    if isinstance(key, ast.Constant) and key.value == 'console_scripts':
                        for item in value.elts:
                            name, target = [part.strip() for part in item.value.split('=')]
                            out[name] = target
    return out


#: Per script: argument lists that must be refused ({T}: a scratch folder with broken inputs, {MODEL}: the shipped
#: model, {IMG}: a real photo, {FACES}: ../shared/data/faces). Missing (nothing, or a flag without its value), wrong
#: (paths that do not exist or hold the wrong thing: a photo as a YAML file, a file where a folder goes and the
#: reverse, predictions that match nothing) and malformed (values of the wrong type or out of range).
CASES = {
    'camera_node': [['--ros-args', '-p'], ['--ros-args', '-p', 'source:={T}/nope.mp4'],
                    ['--ros-args', '-p', 'publish_rate:=fast'],
                    ['--ros-args', '-p', 'source:={FACES}/dlib/images', '-p', 'camera_info_url:={IMG}']],
    'detector_node': [['--ros-args', '-r'], ['--ros-args', '-p', 'model_path:={T}/bad.onnx'],
                      ['--ros-args', '-p', 'score_threshold:=high']],
    'lifecycle_detector_node': [['--ros-args', '-r'], ['--ros-args', '-p', 'model_path:={T}/bad.onnx'],
                                ['--ros-args', '-p', 'track_buffer:=-1']],
    'overlay_node': [['--ros-args', '-p'], ['--ros-args', '-p', 'video_path:={T}/out.gif'],
                     ['--ros-args', '-p', 'cache_size:=0'], ['--ros-args', '-p', 'video_path:={T}/a_file/x.mp4']],
    'replay_node': [[], ['--ros-args', '-p', 'bag_path:={T}/nope'], ['--ros-args', '-p', 'mode:=sideways']],
    'evaluator_node': [['--ros-args', '-p'], ['--ros-args', '-p', 'iou_threshold:=2.0'],
                       ['--ros-args', '-p', 'fppi:=abc']],
    'face-ssd-make-bag': [[], ['--wider', '{T}/nope.txt', '--images', '{T}', '--out', '{T}/bag_a'],
                          ['--voc', '{T}/empty', '--out', '{T}/bag_b'], ['--video', '{T}/bad.onnx', '--out', '{T}/c',
                                                                         '--fps', 'abc'],
                          ['--wider', '{FACES}/dlib/dlib_bbx_gt.txt', '--images', '{FACES}/dlib/images', '--out',
                           '{T}/bag_t', '--image-topic', 'bad topic!'],
                          ['--wider', '{IMG}', '--images', '{T}', '--out', '{T}/bag_u'],
                          ['--wider', '{T}/empty.txt', '--images', '{T}', '--out', '{T}/bag_e'],
                          ['--video', '{T}/bad.onnx', '--out', '{T}/bag_s', '--start-time', 'nan']],
    'face-ssd-bag-eval': [[], ['{T}/images_only_bag', '--out', '{T}/be'], ['{T}/nope_bag'],
                          ['{T}/images_only_bag', '--iou', 'high'],
                          ['{T}/images_only_bag', '--model', 'default', '--out', '{T}/a_file'],
                          ['{T}/images_only_bag', '--model', 'default', '--jsonl', '{T}/empty']],
    'face_ssd_pipeline': [['--set'], ['--source', '{T}/nope.mp4'], ['--set', 'detector.score_threshold=7'],
                          ['--model', '{T}/bad.onnx', '--source', '{IMG}'], ['--duration', 'soon'],
                          ['--config', '{IMG}'], ['--params-file', '{T}/broken.yaml'], ['--duration', 'nan'],
                          ['--jsonl', '{T}/empty', '--source', '{IMG}'], ['--jsonl', '{T}/a_file/x.jsonl'],
                          ['--duration', '3', '--source', '{T}/text.jpg'],
                          ['--source', '{IMG}', '--set', 'overlay.video_path={T}/a_file/x.mp4']],
    'face_ssd_demo': [['--score-threshold', 'abc'], ['--out', '{T}/demo', '--model', '{T}/bad.onnx', '--seconds', '0.2'],
                      ['--out', '{T}/demo_nan', '--seconds', 'nan'], ['--out', '{T}/demo_fps', '--fps', '0'],
                      ['--out', '{T}/a_file']],
    'face-ssd-detect': [[], ['--out', '{T}/p1.jsonl', '{T}/nope.jpg'],
                        ['--out', '{T}/p2.jsonl', '--model', '{T}/bad.onnx', '{IMG}'],
                        ['--out', '{T}/p3.jsonl', '--images-from', '{T}/nope.txt'],
                        ['--out', '{T}/p4.jsonl', '{T}/empty'], ['--out', '{T}/p5.jsonl', '--threads', 'two', '{IMG}'],
                        ['--out', '{T}/empty', '{IMG}'], ['--out', '{T}/a_file/p6.jsonl', '{IMG}'],
                        ['--out', '{T}/p7.jsonl', '--score-threshold', '2', '{IMG}']],
    'face-ssd-build-engine': [[], ['{T}/nope.onnx'], ['{T}/bad.onnx', '--output', '{T}/e.engine'],
                              ['{MODEL}', '--precision', 'fp7'], ['{MODEL}', '--workspace-mb', '-5', '--print-trtexec'],
                              ['{MODEL}', '--manifest', '{T}/nope.json', '--print-trtexec']],
    'face-ssd-trt-parity': [[], ['{T}/nope.engine', '--reference', '{T}/nope.onnx'],
                            ['{MODEL}', '--reference', '{MODEL}', '--limit', 'x'],
                            ['{MODEL}', '--reference', '{MODEL}', '--backend', 'onnxruntime', '--score-tol', 'nan']],
    'face-ssd-trt-bench': [[], ['{T}/nope.onnx'], ['{MODEL}', '--frame-sizes', 'huge']],
    'face-ssd-train': [['--config'], ['--config', '{T}/missing_dataset.yaml'], ['--set', 'train.epochs=abc'],
                       ['--config', '{T}/nope.yaml'], ['--print-config', '--config', '{T}/broken.yaml'],
                       ['--config', '{IMG}']],
    'face-ssd-export': [[], ['{T}/nope.pt', '--out', '{T}/m.onnx'], ['{T}/garbage.pt', '--out', '{T}/m.onnx'],
                        ['{T}/garbage.pt', '--out', '{T}/m.onnx', '--input-size', 'big'],
                        ['{T}/garbage.pt', '--out', '{T}/m.onnx', '--opset', '3']],
    'face-ssd-eval': [[], ['wider', '--model', '{T}/bad.onnx', '--gt-dir', '{T}/empty'],
                      ['voc', '--pred', '{T}/nope.jsonl', '--format', 'voc', '{T}/empty'],
                      ['config', '--config', '{T}/broken.yaml', '--model', '{MODEL}'],
                      ['voc', '--format', 'wider', '--pred', '{T}/one.jsonl', '--iou', 'nan', '{FACES}/dlib/images',
                       '{FACES}/dlib/dlib_bbx_gt.txt'],
                      ['voc', '--format', 'wider', '--pred', '{T}/one.jsonl', '--fppi=-1', '{FACES}/dlib/images',
                       '{FACES}/dlib/dlib_bbx_gt.txt'],
                      ['voc', '--format', 'wider', '--pred', '{T}/empty.jsonl', '{FACES}/dlib/images',
                       '{FACES}/dlib/dlib_bbx_gt.txt'],
                      ['voc', '--format', 'wider', '--pred', '{T}/nan.jsonl', '{FACES}/dlib/images',
                       '{FACES}/dlib/dlib_bbx_gt.txt'],
                      ['wider', '--pred', '{T}/one.jsonl', '--gt-dir', '{FACES}/wider_dev'],
                      ['plot', '{IMG}', '--out', '{T}/plot.png']],
    'face-ssd-validate-data': [[], ['--format', 'voc', '{T}/nope'], ['--format', 'xml', '{T}'],
                               ['--format', 'voc', '--root', '{T}/nope'], ['--format', 'folder', '{T}/empty']],
    'face-ssd-autolabel': [[], ['{T}/nope', '-o', '{T}/al', '--model', '{T}/bad.onnx'],
                           ['{T}/empty', '-o', '{T}/al2', '--score-threshold', 'lots', '--model', '{MODEL}'],
                           ['{IMG}', '-o', '{T}/al3', '--model', '{MODEL}', '--backend', 'cuda'],
                           ['{T}/text.jpg', '-o', '{T}/al4', '--model', '{MODEL}']],
    'face-ssd-import-onnx': [[], ['{T}/bad.onnx', '--out', '{T}/c.pt', '--images', '{T}/empty'],
                             ['{T}/nope.onnx', '--out', '{T}/c.pt', '--images', '{T}', '--max-images', 'x'],
                             ['{MODEL}', '--out', '{T}/c2.pt', '--images', '{T}/nope_dir'],
                             ['{MODEL}', '--out', '{T}/empty', '--images', '{FACES}/dlib/images']],
    'face-ssd-average': [[], ['{T}/nope.pt', '--out', '{T}/s.pt'], ['{T}/garbage.pt', '{T}/garbage.pt', '--out',
                         '{T}/s.pt'], ['{T}/nope.pt', '{T}/nope.pt', '--out', '{T}/s.pt'],
                         ['{T}/garbage.pt', '{T}/garbage.pt', '--out', '{T}/s.pt', '--weights', '1'],
                         ['{T}/garbage.pt', '{T}/garbage.pt', '--out', '{T}/s.pt', '--weights', '1', 'x']],
    'face-ssd-split': [[], ['--format', 'voc', '{T}/nope', '--train-out', '{T}/tr.txt', '--test-out', '{T}/te.txt'],
                       ['--format', 'voc', '{T}/empty', '--train-out', '{T}/tr.txt', '--test-out', '{T}/te.txt',
                        '--test-fraction', 'half'],
                       ['--format', 'wider', '{FACES}/dlib/images', '{FACES}/dlib/dlib_bbx_gt.txt', '--train-out',
                        '{T}/same.txt', '--test-out', '{T}/same.txt'],
                       ['--format', 'wider', '{FACES}/dlib/images', '{FACES}/dlib/dlib_bbx_gt.txt', '--train-out',
                        '{T}/empty', '--test-out', '{T}/te2.txt']],
}


def _images_only_bag(path):
    """A rosbag2 with camera images and nothing else (no ground truth, no detections)."""
    from rosbags import rosbag2
    from face_ssd_ros.evaluation.bag_io import IMAGE_TYPE, header_msg, image_msg, make_typestore
    ts = make_typestore(None)
    writer = rosbag2.Writer(path, version=8)
    writer.open()
    conn = writer.add_connection('/image_raw', IMAGE_TYPE, typestore=ts)
    for i in range(2):
        stamp = (i + 1) * 10 ** 8
        image = np.full((24, 32, 3), 40 * i, np.uint8)
        writer.write(conn, stamp, ts.serialize_cdr(image_msg(ts, header_msg(ts, stamp, 'camera'), image, 'rgb8'),
                                                   IMAGE_TYPE))
    writer.close()


@pytest.fixture(scope='module')
def scratch(tmp_path_factory):
    t = tmp_path_factory.mktemp('cli')
    (t / 'empty').mkdir()
    (t / 'bad.onnx').write_bytes(b'this is not an onnx model\n' * 10)
    (t / 'garbage.pt').write_bytes(b'\x80\x02not a checkpoint')
    (t / 'missing_dataset.yaml').write_text(
        'data:\n  train:\n    - {format: wider, images: %s/no_such_folder/images, gt: %s/no_such_folder/gt.txt}\n'
        'train: {epochs: 1, max_iters: 1, num_workers: 0, device: cpu}\noutput: {dir: %s/run}\n' % (t, t, t))
    (t / 'broken.yaml').write_text('train: [1, 2\n')
    (t / 'a_file').write_text('a file where a folder belongs\n')
    (t / 'text.jpg').write_text('not an image\n')
    (t / 'empty.txt').write_text('')
    (t / 'empty.jsonl').write_text('')
    (t / 'one.jsonl').write_text('{"image": "no_such_image.jpg", "width": 10, "height": 10, "boxes": []}\n')
    (t / 'nan.jsonl').write_text('{"image": "2008_002506.jpg", "width": 500, "height": 375, '
                                 '"boxes": [[1, 2, 30, 40, NaN, "face"]]}\n')
    _images_only_bag(str(t / 'images_only_bag'))
    return str(t)


def _run(script, target, args, scratch, model):
    module, function = target.split(':')
    argv = [a.replace('{T}', scratch).replace('{MODEL}', model).replace('{IMG}', IMAGE).replace('{FACES}', FACES)
            for a in args]
    code = 'import sys; sys.argv[0] = %r; from %s import %s as main; sys.exit(main())' % (script, module, function)
    try:
        proc = subprocess.run([sys.executable, '-c', code] + argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, timeout=120, cwd=scratch)
    except subprocess.TimeoutExpired as exc:
        return argv, None, 'did not end within 120 s (it should refuse these arguments):\n%s' % (exc.output or '')
    return argv, proc.returncode, proc.stdout


def test_every_console_script_has_its_cases():
    assert set(console_scripts()) == set(CASES)


@pytest.mark.timeout(600)
@pytest.mark.parametrize('script', sorted(CASES))
def test_bad_arguments_get_a_message_and_a_non_zero_exit_without_traceback(script, scratch, model_path):
    target = console_scripts()[script]
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda args: _run(script, target, args, scratch, model_path), CASES[script]))
    problems = []
    for argv, code, output in results:
        lines = [line for line in output.splitlines() if line.strip()]
        if code is None or code <= 0 or 'Traceback' in output or not lines:
            problems.append('%s %s -> exit %s:\n%s' % (script, ' '.join(argv), code, output[-3000:]))
    assert not problems, '\n\n'.join(problems)
