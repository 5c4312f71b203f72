"""COCO 2017 -> OSMN pre-training records, one `coco_instances` record per image.

The OSMN rules (docs/pipelines.md, "COCO records") by default: crowd annotations dropped; each
instance rasterised with pycocotools (`COCO.annToMask`) and kept only when mask area / image area
> 0.03 (`--min-area-ratio`); the tight mask box (inclusive max, section 5.1) stored beside the
original COCO box. Images without a kept instance are skipped and counted. The original JPEG bytes
are stored as they are (validated by decoding, never re-encoded); each kept instance's mask is a
single-channel {0, 1} PNG.

Counts reconcile: instances = instances_kept + filtered_crowd + filtered_small + objects rejected
as bad input (dataset_info.json `objects_rejected`). `instances_kept` is the number the reference
prints at start-up as "# Traning samples".

Unit of work: a batch of images of one split; pycocotools loads each annotation file once per
worker. python -m pipelines coco --data <coco root> --out <dir>.
"""
from __future__ import absolute_import, division, print_function

import collections
import contextlib
import hashlib
import io
import posixpath

import cv2
import numpy as np

from datasets import fileio, images
from datasets.coco import (SPLITS, annotation_file, check_annotation_numbers,
                           image_entry_problem, read_instances, screen)
from pipelines import cli
from pipelines.beam_steps import ConvertToShards
from pipelines.converter import Converter
from pipelines.dead_letters import flag_orientation
from schemas import coco_instances, dataset_info

NAME = 'coco'
LABEL_MAP = 'label_map.pbtxt'  # next to the records, for the TF Object Detection API
MIN_AREA_RATIO = 0.03
DEFAULT_IMAGES_PER_UNIT = 32
DEFAULT_UNITS_PER_SHARD = 8

# check_entries: this unit also reports the split's entries that cannot be used (screen()):
# image entries without a usable id, annotations that cannot be indexed or have no image
CocoUnit = collections.namedtuple('CocoUnit', 'split image_ids check_entries')


def label_map_pbtxt(categories):
    """The TF Object Detection API label map of COCO categories (sorted by id)."""
    items = []
    for cat in sorted(categories, key=lambda c: c['id']):
        name = str(cat['name']).replace('\\', '\\\\').replace('"', '\\"')
        items.append('item {\n  id: %d\n  name: "%s"\n  display_name: "%s"\n}\n'
                     % (cat['id'], name, name))
    return ''.join(items)


def load_coco(path):
    """(pycocotools COCO index of the usable entries of one annotation file, Screened)."""
    from pycocotools.coco import COCO
    screened = screen(read_instances(path), path)
    coco = COCO()
    coco.dataset = {'images': list(screened.images.values()),
                    'annotations': screened.annotations,
                    'categories': list(screened.categories.values())}
    with contextlib.redirect_stdout(io.StringIO()):  # its progress prints
        coco.createIndex()
    return coco, screened


class CocoConverter(Converter):
    name = NAME
    progress_unit = 'images'

    def __init__(self, data_root, min_area_ratio=MIN_AREA_RATIO, keep_crowd=False):
        self.data_root = data_root
        self.min_area_ratio = min_area_ratio
        self.keep_crowd = keep_crowd

    def setup(self):
        cv2.setNumThreads(1)
        self._cocos = {}

    def _coco(self, split):
        """(COCO index, Screened) of a split, loaded once per worker."""
        if split not in self._cocos:
            self._cocos[split] = load_coco(annotation_file(self.data_root, split))
        return self._cocos[split]

    def unit_path(self, unit):
        return '%s#images=%s..%s' % (annotation_file(self.data_root, unit.split),
                                     unit.image_ids[0] if unit.image_ids else '',
                                     unit.image_ids[-1] if unit.image_ids else '')

    def convert(self, unit, result):
        coco, screened = self._coco(unit.split)
        json_path = annotation_file(self.data_root, unit.split)
        if unit.check_entries:
            self._report_entries(screened.problems, result)
        for image_id in unit.image_ids:
            anns = coco.imgToAnns.get(image_id, [])
            info = coco.imgs[image_id]
            path = fileio.join(self.data_root, unit.split, str(info.get('file_name')))
            result.counts['images'] += 1
            result.counts['instances'] += len(anns)
            result.seen('image')
            result.seen('object', len(anns))
            problem = image_entry_problem(info)
            if problem:  # before the file is opened: it may lie outside the split's folder
                result.reject('image', problem[0], '%s#image=%d' % (json_path, image_id),
                              problem[1], objects=len(anns))
                continue
            with result.guard('image', path, objects=len(anns)) as step:
                decoded = self._read_image(info, path, anns, result)
            if step.failed or decoded is None:
                continue
            data, pixels, kind = decoded
            kept = self._kept_instances(coco, json_path, anns, pixels.shape[:2], result)
            if not kept:
                result.counts['images_without_instances'] += 1
                result.filtered('image', 'no_kept_instance')
                continue
            with result.guard('image', path, objects=len(kept)) as step:
                record = self._encode(coco, unit.split, info, data, pixels, kind, kept)
            if step.failed:
                continue
            result.counts['instances_kept'] += len(kept)
            result.counts['images_written'] += 1
            result.written('image')
            result.written('object', len(kept))
            result.add_record(image_id, record)

    @staticmethod
    def _report_entries(problems, result):
        """The split's unusable entries (screen()): an image or annotation each."""
        for level, reason, where, detail in problems:
            if level == 'warning':
                result.warn(reason, where, detail)
                continue
            result.seen(level)
            if level == 'object':
                result.counts['instances'] += 1
            result.reject(level, reason, where, detail, objects=int(level == 'object'))

    @staticmethod
    def _read_image(info, path, anns, result):
        """(bytes, pixels, format) of a listed image, or None after rejecting it."""
        data = images.read_file(path, missing_reason='missing_image')
        kind = images.image_format(data)
        if kind == 'png':  # stored as what it is (image/format png), and reported
            result.warn('format_mismatch', path, 'file named %s is a PNG; stored as png'
                        % posixpath.basename(path))
            pixels = images.decode_png(data)
        else:
            pixels = images.decode_jpeg(data, cv2.IMREAD_UNCHANGED)
            flag_orientation(result, path, data)
            kind = 'jpeg'
        height, width = pixels.shape[:2]
        result.frame_size(height, width)
        if (width, height) != (info.get('width'), info.get('height')):
            result.reject('image', 'size_mismatch', path, 'JSON says %sx%s, image is %dx%d' % (
                info.get('width'), info.get('height'), width, height), objects=len(anns))
            return None
        return data, pixels, kind

    def _kept_instances(self, coco, json_path, anns, size, result):
        height, width = size
        kept = []
        for ann in sorted(anns, key=lambda a: a['id']):
            where = '%s#annotation=%d' % (json_path, ann['id'])
            with result.guard('object', where, objects=1) as step:
                # bad input is reported even where a rule would drop the instance anyway
                check_annotation_numbers(ann, height, width)
                if ann.get('iscrowd') and not self.keep_crowd:
                    result.counts['filtered_crowd'] += 1
                    result.filtered('object', 'crowd')
                    continue
                mask = coco.annToMask(ann)
                area = int(np.count_nonzero(mask))
            if step.failed:
                continue
            ratio = area / float(height * width)
            if ratio <= self.min_area_ratio:  # the reference keeps strictly greater
                result.counts['filtered_small'] += 1
                result.filtered('object', 'small')
                continue
            kept.append((ann, mask, area, ratio))
        return kept

    def _encode(self, coco, split, info, data, pixels, kind, kept):
        height, width = pixels.shape[:2]
        boxes = [ann['bbox'] for ann, _, _, _ in kept]
        return coco_instances.encode(dict(
            image_encoded=data, image_format=kind, image_height=height, image_width=width,
            image_channels=1 if pixels.ndim == 2 else pixels.shape[2],
            image_filename='%s/%s' % (split, info['file_name']),
            image_source_id=str(info['id']), image_sha256=hashlib.sha256(data).hexdigest(),
            split=dataset_info.canonical_split(split), source_split=split,
            object_ann_id=[ann['id'] for ann, _, _, _ in kept],
            object_bbox_xmin=[b[0] / width for b in boxes],
            object_bbox_ymin=[b[1] / height for b in boxes],
            object_bbox_xmax=[(b[0] + b[2]) / width for b in boxes],
            object_bbox_ymax=[(b[1] + b[3]) / height for b in boxes],
            object_class_label=[ann['category_id'] for ann, _, _, _ in kept],
            object_class_text=[coco.cats[ann['category_id']]['name'] for ann, _, _, _ in kept],
            object_area=[float(ann.get('area', area)) for ann, _, area, _ in kept],
            object_is_crowd=[int(bool(ann.get('iscrowd'))) for ann, _, _, _ in kept],
            object_mask=[images.encode_png(mask) for _, mask, _, _ in kept],
            object_mask_bbox=[list(images.tight_box(mask)) for _, mask, _, _ in kept],
            object_mask_area=[area for _, _, area, _ in kept],
            object_area_ratio=[ratio for _, _, _, ratio in kept]))


def plan_split(path, split, images_per_unit):
    """(units, categories) of one split's annotation file, read on the driver. The first unit
    also reports the entries that cannot be used (screen())."""
    if not fileio.exists(path):
        raise FileNotFoundError('%s not found: --data must be the COCO root holding '
                                'annotations/ and %s/ (or pass --splits)' % (path, split))
    screened = screen(read_instances(path), path)
    ids = sorted(screened.images)
    units = [CocoUnit(split, tuple(ids[i:i + images_per_unit]), i == 0)
             for i in range(0, max(len(ids), 1), images_per_unit)]
    return units, list(screened.categories.values())


class CocoInstanceRecords(ConvertToShards):
    """Composite transform: a COCO 2017 root -> coco_instances shards, plus label_map.pbtxt."""

    def __init__(self, data_root, splits=SPLITS, min_area_ratio=MIN_AREA_RATIO,
                 keep_crowd=False, images_per_unit=DEFAULT_IMAGES_PER_UNIT,
                 units_per_shard=DEFAULT_UNITS_PER_SHARD, min_shards=1, strict=False):
        by_split, categories = {}, {}
        for split in splits:
            units, cats = plan_split(annotation_file(data_root, split), split, images_per_unit)
            by_split[split] = units
            categories.update((c['id'], c) for c in cats)
        super(CocoInstanceRecords, self).__init__(
            CocoConverter(data_root, min_area_ratio, keep_crowd), by_split, units_per_shard,
            min_shards, strict)
        self.extra_files = {LABEL_MAP: label_map_pbtxt(categories.values()).encode('utf-8')}


def main(argv=None):
    parser = cli.argument_parser('coco', __doc__.split('\n\n')[0],
                                 'COCO root holding annotations/ and train2017/, val2017/',
                                 'image batches (--images-per-unit)', DEFAULT_UNITS_PER_SHARD)
    parser.add_argument('--splits', default=','.join(SPLITS),
                        help='comma-separated splits (annotations/instances_<split>.json)')
    parser.add_argument('--min-area-ratio', type=float, default=MIN_AREA_RATIO,
                        help='keep instances whose mask covers more than this share of the '
                             'image (0 keeps all)')
    parser.add_argument('--keep-crowd', action='store_true', help='keep iscrowd annotations')
    parser.add_argument('--images-per-unit', type=int, default=DEFAULT_IMAGES_PER_UNIT,
                        help='images per unit of work')

    def build(args, beam_args):
        splits = tuple(s for s in args.splits.split(',') if s)
        units_per_shard = args.units_per_shard
        min_shards = cli.min_shards(args, beam_args)
        options = {'splits': list(splits), 'min_area_ratio': args.min_area_ratio,
                   'keep_crowd': args.keep_crowd, 'images_per_unit': args.images_per_unit,
                   'units_per_shard': units_per_shard, 'min_shards': min_shards}
        return CocoInstanceRecords(args.data, splits, args.min_area_ratio, args.keep_crowd,
                                   args.images_per_unit, units_per_shard, min_shards,
                                   args.strict), options
    return cli.run(parser, argv, build, coco_instances.SCHEMA)
