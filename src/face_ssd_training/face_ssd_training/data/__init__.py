"""Detection datasets (WIDER, Pascal VOC / CVAT, Open Images, COCO, box CSV, image folders), their validation,
augmentation presets and auto-labelling.

Item contract: ``dataset[i] -> (image np.uint8 [H, W, 3] RGB, {"boxes": float32 [K, 4] x1y1x2y2 pixels,
"labels": int64 [K], "image_id": str})``; see docs/ARCHITECTURE.md.

Names are imported lazily (``from face_ssd_training.data import WiderFaceDataset`` works as usual), so running a
submodule as a script (``python -m face_ssd_training.data.validate``) does not import it twice.
"""
import importlib

_EXPORTS = {
    'DetectionDataset': 'base', 'Record': 'base', 'check_same_labels': 'base', 'read_image_rgb': 'base',
    'load_labels': 'labels', 'save_labels': 'labels',
    'build_transform': 'transforms', 'detection_collate': 'transforms',
    'DatasetError': 'checks', 'Issue': 'checks', 'ValidationReport': 'checks',
    'WiderFaceDataset': 'wider', 'load_wider_gt': 'wider',
    'VOCDataset': 'voc', 'OpenImagesDataset': 'openimages', 'COCODataset': 'coco', 'ImageFolderDataset': 'folder',
    'CSVBoxesDataset': 'csv_boxes',
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError('module %r has no attribute %r' % (__name__, name))
    value = getattr(importlib.import_module('.' + module, __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + __all__)
