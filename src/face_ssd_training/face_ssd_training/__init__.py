"""face_ssd_training: the offline half of face_ssd (datasets, SSD models, training, evaluation, export)."""

__version__ = '0.1.0'
