"""``face-ssd-validate-data``: build a dataset with any loader and print its validation report.

The checks themselves (the issue kinds and what each does to the data) are in :mod:`.checks`; this module only opens
the loaders, so that they can depend on the checks and not on the CLI.
"""
import argparse
import logging
import sys
from typing import Optional, Sequence

from face_ssd_ros.cli.args import number

from .checks import (DatasetError, ImageProblem, IndexBuilder, Issue, ValidationReport,  # noqa: F401
                     check_boxes, check_image, probe_image)


def build_dataset(fmt: str, paths: Sequence[str], **kwargs):
    """Build a dataset of format ``fmt`` from CLI-style positional ``paths`` (see :func:`main`)."""
    def need(n_min, n_max, usage):
        if not (n_min <= len(paths) <= n_max):
            raise DatasetError('--format %s expects %s' % (fmt, usage))
    labels = kwargs.pop('labels', None)
    if fmt == 'wider':
        from .wider import WiderFaceDataset
        need(2, 2, 'IMAGES_DIR GT_FILE (e.g. faces/fddb/images faces/fddb/fddb_bbx_gt.txt)')
        kw = {} if labels is None else {'labels': labels}
        return WiderFaceDataset(paths[0], paths[1], **dict(kwargs, **kw))
    if fmt == 'voc':
        from .voc import VOCDataset
        need(1, 1, 'ROOT (with Annotations/, JPEGImages/, ImageSets/Main/)')
        return VOCDataset(paths[0], labels=labels, **kwargs)
    if fmt == 'openimages':
        from .openimages import OpenImagesDataset
        need(1, 1, 'ROOT (with sub-<split>-annotations-bbox.csv and <split>/)')
        return OpenImagesDataset(paths[0], labels=labels, **kwargs)
    if fmt == 'coco':
        from .coco import COCODataset
        need(2, 2, 'IMAGES_DIR ANNOTATION_JSON')
        return COCODataset(paths[0], paths[1], labels=labels, **kwargs)
    if fmt == 'csv':
        from .csv_boxes import CSVBoxesDataset
        need(2, 2, 'IMAGES_DIR CSV_FILE (image,xmin,ymin,xmax,ymax,label rows)')
        return CSVBoxesDataset(paths[0], paths[1], labels=labels, **kwargs)
    if fmt == 'folder':
        from .folder import ImageFolderDataset
        need(1, 2, 'IMAGES_DIR [FILELIST]')
        return ImageFolderDataset(paths[0], paths[1] if len(paths) > 1 else None, **kwargs)
    raise DatasetError('unknown format %r (expected wider, voc, openimages, coco, csv or folder)' % fmt)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``face-ssd-validate-data``: check a dataset and print its report.

    Exit status: 0 = readable (issues are printed); 1 = --strict and something was skipped or dropped;
    2 = the dataset could not be opened at all (wrong path / format).
    """
    p = argparse.ArgumentParser(
        prog='face-ssd-validate-data',
        description='Check a detection dataset (images exist and decode, boxes valid, labels known) and print '
                    'what a loader would skip.',
        epilog='examples:\n'
               '  face-ssd-validate-data --format wider faces/fddb/images faces/fddb/fddb_bbx_gt.txt\n'
               '  face-ssd-validate-data --format voc cartoon --image-set default   (or --root cartoon)\n'
               '  face-ssd-validate-data --format openimages plates --split test\n'
               '  face-ssd-validate-data --format coco images/ instances.json\n'
               '  face-ssd-validate-data --format csv faces/selfies/images faces/selfies/original_classes.csv\n'
               '  face-ssd-validate-data --format folder negatives/images negatives/filelist.txt',
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--format', required=True, choices=['wider', 'voc', 'openimages', 'coco', 'csv', 'folder'])
    p.add_argument('paths', nargs='*', help='dataset paths (see examples)')
    p.add_argument('--root', action='append', default=[], metavar='PATH',
                   help='the dataset folder, as an option: the same as giving it first among the paths (--format voc '
                        '--root my_cvat_export)')
    p.add_argument('--labels', help='labels file (one class name per line, or a CVAT labelmap.txt)')
    p.add_argument('--image-set', default='trainval', help="VOC: list name under ImageSets/Main or a list file "
                   "(default: trainval; CVAT exports 'default')")
    p.add_argument('--split', default='train', help='Open Images: split name (default: train)')
    p.add_argument('--verify', default='decode', choices=['decode', 'header', 'none'],
                   help='how thoroughly to check images (default: decode every image)')
    p.add_argument('--strict', action='store_true', help='exit 1 when anything would be skipped or dropped')
    p.add_argument('--max-issues', type=number(int, 0), default=50, help='issues to print (default 50; 0 = all)')
    args = p.parse_args(argv)
    paths = list(args.root) + list(args.paths)
    if not paths:
        p.error('give the dataset path(s), e.g. --format voc my_cvat_export (or --root my_cvat_export)')
    kwargs = {'verify': args.verify, 'labels': args.labels}
    if args.format == 'voc':
        kwargs['image_set'] = args.image_set
    if args.format == 'openimages':
        kwargs['split'] = args.split
    if args.format == 'folder':
        kwargs.pop('labels')
    logging.basicConfig(level=logging.ERROR)
    try:
        ds = build_dataset(args.format, paths, **kwargs)
    except (DatasetError, OSError, ValueError) as exc:
        print('face-ssd-validate-data: error: %s' % exc, file=sys.stderr)
        return 2
    print(ds.report.format(max_issues=args.max_issues or None))
    counts = ds.class_counts()
    if counts:
        print('boxes per class: ' + ', '.join('%s=%d' % kv for kv in counts.items()))
    if len(ds) == 0:
        print('face-ssd-validate-data: no usable image in %s (see the report above)' % ' '.join(paths),
              file=sys.stderr)
        return 1
    if args.strict and not ds.report.ok:
        print('face-ssd-validate-data: %d problem(s) with --strict' % len(ds.report.errors), file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    # run the package's copy of this module, so that its exception classes are the ones the loaders raise
    from face_ssd_training.data.validate import main as _main
    sys.exit(_main())
