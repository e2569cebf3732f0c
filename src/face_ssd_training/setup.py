"""face_ssd_training: train, evaluate and export SSD detectors (MobileNet-V1 SSD, MobileNet-V2 SSD-Lite, slim, RFB)."""
from setuptools import find_packages, setup

setup(
    name='face_ssd_training',
    version='0.1.0',
    packages=find_packages(),
    package_data={'face_ssd_training': ['configs/*.yaml']},
    python_requires='>=3.8',
    install_requires=['numpy', 'pyyaml', 'torch', 'onnx', 'scipy', 'matplotlib', 'tqdm', 'face_ssd_ros'],
    entry_points={
        'console_scripts': [
            'face-ssd-train = face_ssd_training.train:main',
            'face-ssd-export = face_ssd_training.export:main',
            'face-ssd-eval = face_ssd_training.eval.cli:main',
            'face-ssd-validate-data = face_ssd_training.data.validate:main',
            'face-ssd-autolabel = face_ssd_training.data.autolabel:main',
            'face-ssd-import-onnx = face_ssd_training.onnx_import:main',
            'face-ssd-split = face_ssd_training.data.splits:main',
            'face-ssd-average = face_ssd_training.average:main',
        ],
        # the runtime's debugging backend for training checkpoints (face_ssd_ros finds it by this group)
        'face_ssd_ros.backends': ['torch = face_ssd_training.torch_backend:TorchBackend'],
    },
)
