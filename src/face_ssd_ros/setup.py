"""ament_python package face_ssd_ros: runtime nodes, launch files, configs and the shipped default model."""
import glob
import os

from setuptools import find_packages, setup

PACKAGE = 'face_ssd_ros'
HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, '..', '..'))


def top_files(pattern):
    """Workspace-level files (launch/, config/) installed into share/face_ssd_ros; paths relative to setup.py."""
    return sorted(os.path.relpath(p, HERE) for p in glob.glob(os.path.join(TOP, pattern)))


setup(
    name=PACKAGE,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    package_data={PACKAGE: ['models/*.onnx', 'models/*.json', 'models/*.pt']},
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE]),
        ('share/' + PACKAGE, ['package.xml']),
        ('share/' + PACKAGE + '/launch', top_files('launch/*.launch.py')),
        ('share/' + PACKAGE + '/config', top_files('config/*.yaml') + top_files('config/*.xml')),
    ],
    python_requires='>=3.6',  # JetPack 4.6 (Jetson Nano): Python 3.6; tests/unit/test_runtime_compat.py
    install_requires=['setuptools', 'numpy', 'pyyaml'],
    # Bag evaluation (face-ssd-make-bag, face-ssd-bag-eval, replay_node, evaluator_node): rosbags reads and writes
    # rosbag2 without rclpy; matplotlib draws the PR curves.
    extras_require={'bag': ['rosbags', 'matplotlib', 'scipy']},
    zip_safe=False,
    maintainer='face_ssd maintainers',
    maintainer_email='face-ssd@example.invalid',
    description='SSD face detection for ROS 2: camera, detector and overlay nodes; bag replay and evaluation.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'camera_node = face_ssd_ros.nodes.camera_node:main',
            'detector_node = face_ssd_ros.nodes.detector_node:main',
            'lifecycle_detector_node = face_ssd_ros.nodes.lifecycle_detector_node:main',
            'overlay_node = face_ssd_ros.nodes.overlay_node:main',
            'replay_node = face_ssd_ros.nodes.replay_node:main',
            'evaluator_node = face_ssd_ros.nodes.evaluator_node:main',
            'face-ssd-make-bag = face_ssd_ros.evaluation.make_bag:main',
            'face-ssd-bag-eval = face_ssd_ros.evaluation.bag_eval:main',
            'face_ssd_pipeline = face_ssd_ros.runner:main',
            'face_ssd_demo = face_ssd_ros.demo:main',
            'face-ssd-detect = face_ssd_ros.detect.cli:main',
            'face-ssd-build-engine = face_ssd_ros.engine.build:main',
            'face-ssd-trt-parity = face_ssd_ros.engine.tools:main_parity',
            'face-ssd-trt-bench = face_ssd_ros.engine.tools:main_bench',
        ],
    },
)
