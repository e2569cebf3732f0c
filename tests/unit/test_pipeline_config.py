"""pipeline: config loading, overrides, validation, node descriptions (shared by launch files and runner)."""
import os

import pytest
import yaml

from face_ssd_ros.config import params, pipeline

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(ROOT, 'config', 'pipeline.yaml')
BAG_CONFIG = os.path.join(ROOT, 'config', 'bag_eval.yaml')


def _write(tmp_path, data, name='p.yaml'):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_shipped_config_is_complete_and_valid():
    """Every parameter of every node appears in config/pipeline.yaml (so it documents them all) and validates."""
    raw = pipeline.load_config(CONFIG)
    assert list(raw) == list(pipeline.NODE_KEYS)
    for node in pipeline.NODE_KEYS:
        assert set(raw[node]) == set(s.name for s in pipeline.NODE_TYPES[node].specs), node
    descs = pipeline.build_pipeline(CONFIG)
    assert [d.key for d in descs] == ['camera', 'detector', 'overlay']
    cam, det, ovl = descs
    assert cam.parameters['width'] == 640 and cam.parameters['height'] == 480 and cam.parameters['fps'] == 30.0
    assert cam.parameters['source'] == '0' and isinstance(cam.parameters['fps'], float)
    assert (det.executable, det.module, det.class_name) == ('detector_node', 'face_ssd_ros.nodes.detector_node',
                                                           'DetectorNode')
    assert det.parameters['class_filter'] == [] and det.remappings == [] and det.namespace == ''
    assert det.parameters['tracking'] is True and det.parameters['managed'] is False and not det.managed


def test_shipped_bag_eval_config_is_complete_and_valid():
    """config/bag_eval.yaml documents every parameter of replay, detector and evaluator, in pipeline order."""
    raw = pipeline.load_config(BAG_CONFIG)
    assert list(raw) == list(pipeline.BAG_EVAL_NODES) == pipeline.config_nodes(BAG_CONFIG)
    for node in pipeline.BAG_EVAL_NODES:
        assert set(raw[node]) == set(s.name for s in pipeline.NODE_TYPES[node].specs), node
    replay, det, ev = pipeline.build_pipeline(BAG_CONFIG, overrides=['bag=/data/b', 'output_dir=/tmp/r'],
                                              nodes=pipeline.BAG_EVAL_NODES)
    assert (replay.executable, replay.class_name, ev.executable, ev.class_name) == (
        'replay_node', 'ReplayNode', 'evaluator_node', 'EvaluatorNode')
    assert replay.parameters['bag_path'] == '/data/b' and ev.parameters['output_dir'] == '/tmp/r'
    assert replay.parameters['mode'] == 'lockstep' and det.parameters['score_threshold'] == 0.05
    assert det.parameters['tracking'] is False  # stills: no tracks, every box above the threshold
    with pytest.raises(pipeline.PipelineConfigError) as info:
        pipeline.build_pipeline(BAG_CONFIG, overrides=['replay.mode=fast', 'evaluator.fppi=0,x',
                                                       'evaluator.iou_threshold=1.5'], nodes=pipeline.BAG_EVAL_NODES)
    text = str(info.value)
    assert 'replay.mode' in text and 'lockstep' in text and 'evaluator.iou_threshold' in text
    assert 'evaluator.fppi (from override evaluator.fppi)' in text


def test_find_config_prefers_source_tree():
    assert os.path.samefile(pipeline.find_config(), CONFIG)
    assert pipeline.find_config('fastdds_large_shm.xml').endswith('fastdds_large_shm.xml')
    with pytest.raises(pipeline.PipelineConfigError, match='not found'):
        pipeline.find_config('no_such_file.yaml')
    assert pipeline.default_environment()['FASTDDS_DEFAULT_PROFILES_FILE'].endswith('fastdds_large_shm.xml')


def test_overrides_text_shortcuts_and_types():
    descs = pipeline.build_pipeline(CONFIG, overrides=[
        'detector.score_threshold=0.45', 'nms_iou=0.5', 'source=/data/clip.mp4', 'camera.loop=true',
        'class_filter=face', 'overlay.line_thickness=4', 'camera.publish_rate=-1'], namespace='front/')
    cam, det, ovl = descs
    assert det.parameters['score_threshold'] == 0.45 and det.parameters['nms_iou'] == 0.5
    assert det.parameters['class_filter'] == ['face']
    assert cam.parameters['source'] == '/data/clip.mp4' and cam.parameters['loop'] is True
    assert cam.parameters['publish_rate'] == -1.0 and isinstance(cam.parameters['publish_rate'], float)
    assert ovl.parameters['line_thickness'] == 4
    assert all(d.namespace == '/front' for d in descs)
    # dict overrides with Python values; a numeric camera source stays a string (device "1").
    cam = pipeline.build_pipeline(CONFIG, overrides={'camera.source': 1, 'camera.fps': 15}, nodes=['camera'])[0]
    assert cam.parameters['source'] == '1' and cam.parameters['fps'] == 15.0


def test_invalid_values_are_all_reported_with_origin(tmp_path):
    with pytest.raises(pipeline.PipelineConfigError) as info:
        pipeline.build_pipeline(CONFIG, overrides=['detector.score_threshold=2.0', 'camera.encoding=yuv',
                                                   'overlay.jpeg_quality=abc'])
    text = str(info.value)
    assert 'detector.score_threshold (from override detector.score_threshold)' in text and '[0.0, 1.0]' in text
    assert 'camera.encoding' in text and 'rgb8' in text
    assert 'overlay.jpeg_quality' in text and 'integer' in text
    bad = _write(tmp_path, {'camera': {'ros__parameters': {'reconnect_initial_delay': 20.0,
                                                           'reconnect_max_delay': 5.0}}})
    with pytest.raises(pipeline.PipelineConfigError, match='must not exceed'):
        pipeline.build_pipeline(bad)
    with pytest.raises(pipeline.PipelineConfigError, match='both'):
        pipeline.build_pipeline(CONFIG, overrides={'input_width': 320})


def test_unknown_names_rejected(tmp_path):
    with pytest.raises(pipeline.PipelineConfigError, match='unknown override'):
        pipeline.build_pipeline(CONFIG, overrides=['tracker.rate=3'])
    with pytest.raises(pipeline.PipelineConfigError, match="unknown parameter 'treshold'"):
        pipeline.build_pipeline(CONFIG, overrides=['detector.treshold=3'])
    with pytest.raises(pipeline.PipelineConfigError, match='NODE.PARAM=VALUE'):
        pipeline.build_pipeline(CONFIG, overrides=['detector.score_threshold'])
    with pytest.raises(pipeline.PipelineConfigError, match="unknown node 'tracker'"):
        pipeline.build_pipeline(_write(tmp_path, {'tracker': {'ros__parameters': {}}}))
    with pytest.raises(pipeline.PipelineConfigError, match='ros__parameters'):
        pipeline.build_pipeline(_write(tmp_path, {'camera': {'source': '0'}}, 'flat.yaml'))
    with pytest.raises(pipeline.PipelineConfigError, match='unknown parameter'):
        pipeline.build_pipeline(_write(tmp_path, {'overlay': {'ros__parameters': {'colour': 'red'}}}, 'u.yaml'))
    with pytest.raises(pipeline.PipelineConfigError, match='unknown pipeline node'):
        pipeline.build_pipeline(CONFIG, nodes=['camera', 'tracker'])


def test_params_files_merge_in_order_then_overrides(tmp_path):
    csi = os.path.join(ROOT, 'config', 'csi_camera.yaml')
    cam = pipeline.build_pipeline(CONFIG, params_files=[csi], nodes=['camera'])[0]
    assert cam.parameters['source_type'] == 'csi' and cam.parameters['width'] == 1280
    assert cam.parameters['encoding'] == 'rgb8'  # untouched values come from pipeline.yaml
    extra = _write(tmp_path, {'/**/camera': {'ros__parameters': {'width': 800}}})
    cam = pipeline.build_pipeline(CONFIG, params_files=[csi, extra], overrides={'camera.height': 600},
                                  nodes=['camera'])[0]
    assert (cam.parameters['width'], cam.parameters['height']) == (800, 600)


def test_image_topic_remaps_detector_and_overlay_only():
    descs = pipeline.build_pipeline(CONFIG, image_topic='/usb_cam/image_raw')
    remaps = dict((d.key, d.remappings) for d in descs)
    assert remaps == {'camera': [], 'detector': [('image_raw', '/usb_cam/image_raw')],
                      'overlay': [('image_raw', '/usb_cam/image_raw')]}


def test_ros_arguments_and_launch_kwargs():
    det = pipeline.build_pipeline(CONFIG, overrides={'score_threshold': 0.5}, namespace='ns',
                                  image_topic='/cam/image', nodes=['detector'])[0]
    args = det.ros_arguments()
    assert args[:3] == ['--ros-args', '-r', '__node:=detector']
    assert '__ns:=/ns' in args and 'image_raw:=/cam/image' in args
    assert 'score_threshold:=0.5' in args and 'model_path:=""' in args and 'backend:="auto"' in args
    assert not any(a.startswith('class_filter') for a in args)  # empty arrays are left to the default
    assert det.command('/py')[:3] == ['/py', '-m', 'face_ssd_ros.nodes.detector_node']
    kw = det.launch_kwargs()
    assert kw['package'] == 'face_ssd_ros' and kw['executable'] == 'detector_node' and kw['namespace'] == '/ns'
    assert kw['parameters'][0]['score_threshold'] == 0.5 and 'class_filter' not in kw['parameters'][0]
    cam = pipeline.build_pipeline(CONFIG, nodes=['camera'])[0]
    assert 'source:="0"' in cam.ros_arguments()  # quoted: stays the string "0", not the integer 0
    assert pipeline.yaml_scalar(['face', 'plate']) == '["face", "plate"]'
    assert pipeline.yaml_scalar(False) == 'false'


def test_from_launch_arguments_ignores_empty_strings():
    args = dict((name, '') for name, _, _ in pipeline.LAUNCH_ARGUMENTS)
    args.update(score_threshold='0.7', source='/data/x.mp4', namespace='robot1', loop='true')
    descs = pipeline.from_launch_arguments(args, nodes=('camera', 'detector'))
    assert [d.key for d in descs] == ['camera', 'detector'] and descs[0].parameters['loop'] is True
    assert descs[1].parameters['score_threshold'] == 0.7 and descs[1].parameters['nms_iou'] == 0.3
    assert descs[0].parameters['source'] == '/data/x.mp4' and descs[0].namespace == '/robot1'


def test_coerce_keeps_bad_values_for_validation():
    spec = params.find_spec(params.DETECTOR_PARAMS, 'max_detections')
    assert pipeline.coerce(spec, '12') == 12
    assert pipeline.coerce(spec, '1.5') == '1.5'  # not an int: params.validate then reports it
    flag = params.find_spec(params.OVERLAY_PARAMS, 'draw_scores')
    assert pipeline.coerce(flag, 'off') is False and pipeline.coerce(flag, 'maybe') == 'maybe'
    arr = params.find_spec(params.DETECTOR_PARAMS, 'class_filter')
    assert pipeline.coerce(arr, '[face, plate]') == ['face', 'plate'] and pipeline.coerce(arr, '') == []


def test_managed_detector_description():
    """detector.managed picks the lifecycle node (same parameters); autostart and tracking are overridable from the
    command line / launch arguments through shortcuts."""
    plain = pipeline.build_pipeline(CONFIG, nodes=['detector'])[0]
    det = pipeline.build_pipeline(CONFIG, overrides=['managed=true', 'autostart=false', 'tracking=off'],
                                  namespace='ns', nodes=['detector'])[0]
    assert det.managed and (det.executable, det.module, det.class_name) == (
        'lifecycle_detector_node', 'face_ssd_ros.nodes.lifecycle_detector_node', 'LifecycleDetectorNode')
    assert det.parameters['autostart'] is False and det.parameters['tracking'] is False
    assert list(det.parameters) == list(plain.parameters) and det.specs == plain.specs
    assert det.command('/py')[:3] == ['/py', '-m', 'face_ssd_ros.nodes.lifecycle_detector_node']
    assert 'autostart:=false' in det.ros_arguments() and 'managed:=true' in det.ros_arguments()
    assert det.launch_kwargs()['namespace'] == '/ns' and det.launch_kwargs()['executable'] == 'lifecycle_detector_node'
    top = pipeline.build_pipeline(CONFIG, overrides=['managed=true'], nodes=['detector'])[0]
    assert top.launch_kwargs()['namespace'] == ''   # launch_ros LifecycleNode needs a string
    with pytest.raises(pipeline.PipelineConfigError, match='detector.track_min_hits'):
        pipeline.build_pipeline(CONFIG, overrides=['detector.track_min_hits=0'], nodes=['detector'])
    with pytest.raises(pipeline.PipelineConfigError, match='detector.track_match_iou'):
        pipeline.build_pipeline(CONFIG, overrides=['detector.track_match_iou=0'], nodes=['detector'])


def test_image_transport_shortcut_sets_detector_and_overlay():
    descs = pipeline.build_pipeline(CONFIG, overrides=['image_transport=compressed'],
                                    nodes=['camera', 'detector', 'overlay'])
    assert [d.parameters.get('image_transport') for d in descs] == [None, 'compressed', 'compressed']
    descs = pipeline.build_pipeline(CONFIG, overrides={'image_transport': 'compressed',
                                                       'overlay.image_transport': 'raw'})
    assert [d.parameters.get('image_transport') for d in descs] == [None, 'compressed', 'raw']
    with pytest.raises(pipeline.PipelineConfigError, match='image_transport must be one of raw, compressed'):
        pipeline.build_pipeline(CONFIG, overrides=['image_transport=jpeg'])
    assert pipeline.resolve_keys('detector.image_transport') == [('detector', 'image_transport')]


@pytest.mark.parametrize('nodes,explicit,video,expected', [
    (['replay', 'detector', 'evaluator'], False, False, ['replay', 'detector', 'evaluator']),  # bag_eval.yaml
    (['camera', 'detector', 'overlay'], False, False, ['replay', 'detector', 'overlay', 'evaluator']),  # pipeline.yaml
    (['detector'], False, True, ['replay', 'detector', 'overlay', 'evaluator']),
    (['replay', 'detector', 'evaluator'], False, True, ['replay', 'detector', 'overlay', 'evaluator']),
    (['detector', 'evaluator'], True, False, ['replay', 'detector', 'evaluator']),       # --nodes: as given + replay
    (['replay', 'evaluator'], True, False, ['replay', 'evaluator']),
])
def test_bag_nodes_always_replay(nodes, explicit, video, expected):
    assert pipeline.bag_nodes(nodes, explicit=explicit, video=video) == expected


def test_bag_nodes_refuse_an_explicit_camera():
    with pytest.raises(pipeline.PipelineConfigError, match='leave camera out of --nodes'):
        pipeline.bag_nodes(['camera', 'detector'], explicit=True)
