"""COCO 2017 on disk: layout and the screening of an instances JSON.

    <root>/annotations/instances_<split>.json     images, annotations, categories
    <root>/<split>/<file_name>                    JPEG (a few are other formats)

Splits: train2017, val2017. `screen` finds every entry pycocotools could not index or the
converter could not use, so one bad entry is one dead letter, not a lost split.
"""
from __future__ import absolute_import, division, print_function

import collections
import json

from datasets import fileio
from datasets.errors import InputError

SPLITS = ('train2017', 'val2017')

# The usable entries of one annotation file ({id: image entry} in file order, annotations,
# {id: category}) and a (level, reason, path, detail) problem for every other entry.
Screened = collections.namedtuple('Screened', 'images annotations categories problems')


def annotation_file(data_root, split):
    return fileio.join(data_root, 'annotations', 'instances_%s.json' % split)


def check_segmentation(segmentation, height, width):
    """Raise InputError when pycocotools cannot rasterise the segmentation faithfully."""
    if isinstance(segmentation, list):
        if not segmentation:
            raise InputError('invalid_polygon', 'empty polygon list')
        for polygon in segmentation:
            if not isinstance(polygon, list) or len(polygon) < 6 or len(polygon) % 2:
                raise InputError('invalid_polygon', 'polygon needs >= 3 (x, y) points, got %r'
                                 % (polygon if not isinstance(polygon, list) else
                                    '%d numbers' % len(polygon)))
        return
    if isinstance(segmentation, dict):
        size = list(segmentation.get('size', []))
        if size != [height, width]:
            raise InputError('rle_wrong_size', 'RLE size %s, image is %dx%d (h x w)'
                             % (size, height, width))
        counts = segmentation.get('counts')
        if isinstance(counts, list) and any(not _is_int(c) or c < 0 for c in counts):
            raise InputError('invalid_rle', 'RLE runs must be non-negative integers')
        if isinstance(counts, list) and sum(counts) != height * width:
            raise InputError('invalid_rle', 'RLE runs sum to %d, image has %d pixels'
                             % (sum(counts), height * width))
        if not isinstance(counts, (list, str, bytes)):
            raise InputError('invalid_rle', 'RLE counts of type %s' % type(counts).__name__)
        return
    raise InputError('invalid_segmentation',
                     'segmentation of type %s' % type(segmentation).__name__)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def check_bbox(bbox):
    """Raise InputError unless bbox is [x, y, width, height] with width, height >= 0."""
    if (not isinstance(bbox, list) or len(bbox) != 4 or
            not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in bbox)):
        raise InputError('bad_bbox', 'bbox must be 4 numbers [x, y, width, height], got %r'
                         % (bbox,))
    if bbox[2] < 0 or bbox[3] < 0:
        raise InputError('bad_bbox', 'bbox %r has a negative width or height' % (bbox,))


def _section(dataset, key, path):
    entries = dataset.get(key, []) if isinstance(dataset, dict) else None
    if not isinstance(entries, list):
        raise ValueError('%s is not a COCO instances file: %r is not a list' % (path, key))
    return entries


def _annotation_where(path, index, ann):
    """An annotation's dead-letter path: by its id, or by its position when it has none."""
    ann_id = ann.get('id') if isinstance(ann, dict) else None
    if _is_int(ann_id) or isinstance(ann_id, str):
        return '%s#annotation=%r' % (path, ann_id)
    return '%s#annotations[%d]' % (path, index)


def annotation_problem(ann, images, categories):
    """(reason, detail) of an annotation pycocotools could not index (createIndex needs
    hashable id, image_id and category_id) or that belongs to no usable image or category;
    None when it is usable."""
    if not isinstance(ann, dict):
        return 'bad_annotation', 'annotation entry is a %s, not an object' % type(ann).__name__
    ann_id, image_id, category_id = ann.get('id'), ann.get('image_id'), ann.get('category_id')
    if not _is_int(ann_id):
        return 'bad_annotation_id', 'annotation id %r is not an integer (image_id %r)' % (
            ann_id, image_id)
    if not _is_int(image_id):
        return 'bad_image_id', 'annotation %d: image_id %r is not an integer' % (ann_id, image_id)
    if image_id not in images:
        return 'unknown_image_id', 'annotation %d: image_id %r is not among the images' % (
            ann_id, image_id)
    if not (_is_int(category_id) and category_id in categories):
        return 'unknown_category_id', 'annotation %d (image %d): category_id %r is not among ' \
            'the categories' % (ann_id, image_id, category_id)
    return None


def screen(dataset, path):
    """Screened entries of a COCO instances file: every entry pycocotools cannot index or that
    cannot be converted is one problem naming it, instead of a createIndex failure that loses
    the whole split. ValueError when the file's structure is not COCO's."""
    problems, images, categories, annotations = [], collections.OrderedDict(), {}, []
    if not isinstance(dataset, dict) or 'images' not in dataset:
        raise ValueError('%s is not a COCO instances file: no "images" list' % path)
    for entry in _section(dataset, 'images', path):
        image_id = entry.get('id') if isinstance(entry, dict) else None
        where = '%s#image=%r' % (path, image_id)
        if not _is_int(image_id):
            problems.append(('image', 'bad_image_id', where,
                             'image id %r is not an integer' % (image_id,)))
        elif image_id in images:
            problems.append(('image', 'duplicate_image_id', where,
                             'image id %d is listed twice; written once' % image_id))
        else:
            images[image_id] = entry
    for index, category in enumerate(_section(dataset, 'categories', path)):
        category_id = category.get('id') if isinstance(category, dict) else None
        if _is_int(category_id):
            categories[category_id] = category
        else:
            problems.append(('warning', 'bad_category', '%s#categories[%d]' % (path, index),
                             'category id %r is not an integer: its annotations are unknown'
                             % (category_id,)))
    for index, ann in enumerate(_section(dataset, 'annotations', path)):
        problem = annotation_problem(ann, images, categories)
        if problem:
            problems.append(('object', problem[0], _annotation_where(path, index, ann),
                             problem[1]))
        else:
            annotations.append(ann)
    return Screened(images, annotations, categories, problems)


def read_instances(path):
    """The parsed JSON of an annotation file; ValueError when it is not JSON."""
    try:
        return json.loads(fileio.read_bytes(path).decode('utf-8'))
    except ValueError as err:
        raise ValueError('%s is not a COCO instances file: %s' % (path, err))
