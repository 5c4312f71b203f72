"""COCO 2017 on disk: layout and the screening of an instances JSON.

    <root>/annotations/instances_<split>.json     images, annotations, categories
    <root>/<split>/<file_name>                    JPEG (a few are other formats)

Splits: train2017, val2017. `screen` finds every entry pycocotools could not index or the
converter could not use, so one bad entry is one dead letter, not a lost split.
"""
from __future__ import absolute_import, division, print_function

import collections
import json

from datasets import fileio, numbers
from datasets.errors import InputError

SPLITS = ('train2017', 'val2017')

# The usable entries of one annotation file ({id: image entry} in file order, annotations,
# {id: category}) and a (level, reason, path, detail) problem for every other entry.
Screened = collections.namedtuple('Screened', 'images annotations categories problems')


def annotation_file(data_root, split):
    return fileio.join(data_root, 'annotations', 'instances_%s.json' % split)


def check_segmentation(segmentation, height, width):
    """Raise InputError unless pycocotools can rasterise the segmentation faithfully and within
    a bounded multiple of the image's size (datasets.numbers)."""
    if isinstance(segmentation, list):
        numbers.check_polygons(segmentation, height, width)
    elif isinstance(segmentation, dict):
        numbers.check_rle(segmentation, height, width)
    else:
        raise InputError('invalid_segmentation',
                         'segmentation of type %s' % type(segmentation).__name__)


def check_bbox(bbox, height, width):
    """Raise InputError unless bbox is [x, y, width, height] of finite numbers with width,
    height >= 0 that overlaps the image and sticks out of it by at most the margin."""
    if not isinstance(bbox, list) or len(bbox) != 4 or not all(map(numbers.is_finite, bbox)):
        raise InputError('bad_bbox', 'bbox must be 4 finite numbers [x, y, width, height], '
                         'got %s' % numbers.show(bbox))
    if bbox[2] < 0 or bbox[3] < 0:
        raise InputError('bad_bbox', 'bbox %r has a negative width or height' % (bbox,))
    problem = numbers.box_problem(bbox[0], bbox[1], bbox[0] + bbox[2], bbox[1] + bbox[3],
                                  width, height, bbox)
    if problem:
        raise InputError(*problem)


def check_annotation_numbers(ann, height, width):
    """Raise InputError unless every number of a usable annotation (its segmentation, bbox,
    area and iscrowd) is of the right type and inside the bounds of its height x width image."""
    check_segmentation(ann.get('segmentation'), height, width)
    check_bbox(ann.get('bbox'), height, width)
    area = ann.get('area', 0)
    limit = height * width * (1 + 2 * numbers.BOX_MARGIN) ** 2
    if not numbers.is_finite(area) or not 0 <= area <= limit:
        raise InputError('bad_area', 'area %s is not a number 0..%d (the image and its margin)'
                         % (numbers.show(area), limit))
    iscrowd = ann.get('iscrowd', 0)
    if not (numbers.is_int(iscrowd) and iscrowd in (0, 1)):
        raise InputError('bad_iscrowd', 'iscrowd %s is not 0 or 1' % numbers.show(iscrowd))


def image_entry_problem(info):
    """(reason, detail) of an image entry that must not be read: a file_name that would leave
    the split's folder, or a declared size that is not an integer 1..MAX_IMAGE_SIDE; else None.
    Checked before the file is opened (the declared size must then equal the decoded one)."""
    problem = numbers.relative_name_problem(info.get('file_name'))
    if problem:
        return 'unsafe_file_name', 'file_name: %s' % problem
    try:
        numbers.check_image_size(info.get('width'), info.get('height'))
    except InputError as err:
        return err.reason, err.detail
    return None


_ID_RANGE = 'an integer 0..2**63-1'


def _is_id(value):
    """An id pycocotools can index and an int64 record field can hold."""
    return numbers.is_int(value) and 0 <= value <= numbers.MAX_ID


def _section(dataset, key, path):
    entries = dataset.get(key, []) if isinstance(dataset, dict) else None
    if not isinstance(entries, list):
        raise ValueError('%s is not a COCO instances file: %r is not a list' % (path, key))
    return entries


def _annotation_where(path, index, ann):
    """An annotation's dead-letter path: by its id, or by its position when it has none."""
    ann_id = ann.get('id') if isinstance(ann, dict) else None
    if numbers.is_int(ann_id) or isinstance(ann_id, str):
        return '%s#annotation=%r' % (path, ann_id)
    return '%s#annotations[%d]' % (path, index)


def annotation_problem(ann, images, categories):
    """(reason, detail) of an annotation pycocotools could not index (createIndex needs
    hashable id, image_id and category_id) or that belongs to no usable image or category;
    None when it is usable."""
    if not isinstance(ann, dict):
        return 'bad_annotation', 'annotation entry is a %s, not an object' % type(ann).__name__
    ann_id, image_id, category_id = ann.get('id'), ann.get('image_id'), ann.get('category_id')
    if not _is_id(ann_id):
        return 'bad_annotation_id', 'annotation id %r is not %s (image_id %r)' % (
            ann_id, _ID_RANGE, image_id)
    if not _is_id(image_id):
        return 'bad_image_id', 'annotation %d: image_id %r is not %s' % (
            ann_id, image_id, _ID_RANGE)
    if image_id not in images:
        return 'unknown_image_id', 'annotation %d: image_id %r is not among the images' % (
            ann_id, image_id)
    if not (_is_id(category_id) and category_id in categories):
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
        if not _is_id(image_id):
            problems.append(('image', 'bad_image_id', where,
                             'image id %r is not %s' % (image_id, _ID_RANGE)))
        elif image_id in images:
            problems.append(('image', 'duplicate_image_id', where,
                             'image id %d is listed twice; written once' % image_id))
        else:
            images[image_id] = entry
    for index, category in enumerate(_section(dataset, 'categories', path)):
        category_id = category.get('id') if isinstance(category, dict) else None
        if _is_id(category_id):
            categories[category_id] = category
        else:
            problems.append(('warning', 'bad_category', '%s#categories[%d]' % (path, index),
                             'category id %r is not %s: its annotations are unknown'
                             % (category_id, _ID_RANGE)))
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
