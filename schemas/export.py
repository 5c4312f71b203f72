"""`python -m schemas export DIR --out FOLDER [--split S] [--masks-only]`: the records back in
their source layout (--split: one split's records only).

    vos_video, DAVIS      FOLDER/JPEGImages/480p/<video>/<frame>.jpg   the stored JPEG bytes
                          FOLDER/Annotations/480p/<video>/<frame>.png  palette PNG of the stored ids
                          FOLDER/ImageSets/<year>/<source split>.txt   the videos, sorted
    vos_video, YouTube-VOS FOLDER/<source split>/JPEGImages/<video>/<frame>.jpg
                          FOLDER/<source split>/Annotations/<video>/<frame>.png (annotated frames)
                          FOLDER/<source split>/meta.json   objects: category, listed frames
    coco_instances        FOLDER/<source split>/<image>.jpg            the stored JPEG bytes
                          FOLDER/annotations/instances_<source split>.json: images (id,
                          file_name, height, width), the kept annotations (id, image_id,
                          category_id, iscrowd, area, bbox, compressed RLE segmentation) and the
                          categories they use (id, name)
    vid_track             FOLDER/Data/VID/train/<letter>/<snippet>/<frame>.<trackid>.crop.x.jpg
                          the reference curation's folders (letters a-d: ILSVRC2015_VID_train_0000
                          to _0003, e: val), each crop once (chunks overlap)
    --masks-only          vos_video only: FOLDER/<video>/<frame>.png, the annotated frames'
                          masks: the ground-truth folder a J&F scorer takes (e.g. of the
                          holdout split, `make vos-holdout-gt`)

What the records do not keep cannot come back: COCO's crowd and small instances the pipeline
filtered, their polygons (RLE masks instead), licences and URLs; DAVIS 2016's masks are binary.
Bytes stored from the source (frames, COCO images) come back identical; masks come back as
the same label arrays. The folder is written next to FOLDER and renamed into place at the end.
"""
from __future__ import absolute_import, division, print_function

import json
import os
import shutil

import numpy as np

import schemas
from schemas import dataset_info, shards

VID_LETTERS = {'ILSVRC2015_VID_train_0000': 'a', 'ILSVRC2015_VID_train_0001': 'b',
               'ILSVRC2015_VID_train_0002': 'c', 'ILSVRC2015_VID_train_0003': 'd'}
VID_VAL_LETTER = 'e'


class ExportError(ValueError):
    """The export cannot be written (FOLDER exists, records disagree with each other)."""


def _text(value):
    return value.decode('utf-8') if isinstance(value, bytes) else str(value)


def _write(path, data):
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    with open(path, 'wb') as f:
        f.write(data)


def _write_json(path, obj):
    _write(path, (json.dumps(obj, indent=1, sort_keys=True) + '\n').encode('utf-8'))


def decode_labels(png):
    """uint8 [H, W] of a single-channel PNG (the records' masks)."""
    import cv2
    labels = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    if labels is None or labels.ndim != 2:
        raise ExportError('a mask is not a single-channel PNG')
    return labels


# -- DAVIS / YouTube-VOS --------------------------------------------------------------------------

def _vos_frames(folder, image_dir, mask_dir, example):
    from datasets.palette import write_palette_png
    for t, name in enumerate(example['frame_name']):
        stem = _text(name)
        _write(os.path.join(folder, image_dir, stem + '.jpg'), example['frame_image'][t])
        if int(example['frame_has_mask'][t]):
            write_palette_png(os.path.join(folder, mask_dir, stem + '.png'),
                              decode_labels(example['frame_mask'][t]))


def _ytvos_objects(example):
    names = [_text(n) for n in example['frame_name']]
    return {str(int(object_id)): {'category': _text(category),
                                  'frames': [names[int(i)] for i in frames]}
            for object_id, category, frames in zip(example['object_ids'],
                                                   example['object_category'],
                                                   example['object_frames'])}


def export_vos(examples, folder):
    """Write DAVIS or YouTube-VOS videos; returns {what: count}."""
    image_sets, metas, counts = {}, {}, {'videos': 0, 'frames': 0}
    for _, _, _, example in examples:
        video, split = _text(example['video_id']), _text(example['source_split'])
        dataset = _text(example['dataset'])
        if dataset.startswith('davis'):
            _vos_frames(folder, os.path.join('JPEGImages', '480p', video),
                        os.path.join('Annotations', '480p', video), example)
            image_sets.setdefault((dataset[-4:], split), []).append(video)
        else:
            _vos_frames(folder, os.path.join(split, 'JPEGImages', video),
                        os.path.join(split, 'Annotations', video), example)
            metas.setdefault(split, {})[video] = {'objects': _ytvos_objects(example)}
        counts['videos'] += 1
        counts['frames'] += len(example['frame_name'])
    for (year, split), videos in sorted(image_sets.items()):
        _write(os.path.join(folder, 'ImageSets', year, split + '.txt'),
               ''.join(v + '\n' for v in sorted(videos)).encode('utf-8'))
    for split, meta in sorted(metas.items()):
        _write_json(os.path.join(folder, split, 'meta.json'), {'videos': meta})
    return counts


def export_vos_masks(examples, folder):
    """Write the annotated frames' masks as <video>/<frame>.png; returns {what: count}."""
    from datasets.palette import write_palette_png
    counts = {'videos': 0, 'masks': 0}
    for _, _, _, example in examples:
        video = _text(example['video_id'])
        for t, name in enumerate(example['frame_name']):
            if int(example['frame_has_mask'][t]):
                write_palette_png(os.path.join(folder, video, _text(name) + '.png'),
                                  decode_labels(example['frame_mask'][t]))
                counts['masks'] += 1
        counts['videos'] += 1
    return counts


# -- COCO ---------------------------------------------------------------------------------------

def _rle(png):
    from pycocotools import mask as mask_utils
    rle = mask_utils.encode(np.asfortranarray(decode_labels(png)))
    return {'size': [int(v) for v in rle['size']], 'counts': rle['counts'].decode('ascii')}


def _coco_annotations(example, image_id):
    width, height = float(example['image_width']), float(example['image_height'])
    annotations = []
    for j, ann_id in enumerate(example['object_ann_id']):
        x0 = float(example['object_bbox_xmin'][j]) * width
        y0 = float(example['object_bbox_ymin'][j]) * height
        x1 = float(example['object_bbox_xmax'][j]) * width
        y1 = float(example['object_bbox_ymax'][j]) * height
        # the records hold the box normalised in float32: 2 decimals, as COCO's own boxes
        annotations.append({
            'id': int(ann_id), 'image_id': image_id,
            'category_id': int(example['object_class_label'][j]),
            'iscrowd': int(example['object_is_crowd'][j]),
            'area': round(float(example['object_area'][j]), 2),
            'bbox': [round(v, 2) for v in (x0, y0, x1 - x0, y1 - y0)],
            'segmentation': _rle(example['object_mask'][j])})
    return annotations


def export_coco(examples, folder):
    """Write COCO images and one instances JSON per source split; returns {what: count}."""
    splits, counts = {}, {'images': 0, 'annotations': 0}
    for _, _, _, example in examples:
        split = _text(example['source_split'])
        data = splits.setdefault(split, {'images': [], 'annotations': [], 'categories': {}})
        filename = _text(example['image_filename'])
        image_id = int(_text(example['image_source_id']))
        _write(os.path.join(folder, split, os.path.basename(filename)), example['image_encoded'])
        data['images'].append({'id': image_id, 'file_name': os.path.basename(filename),
                               'height': int(example['image_height']),
                               'width': int(example['image_width'])})
        data['annotations'] += _coco_annotations(example, image_id)
        for label, name in zip(example['object_class_label'], example['object_class_text']):
            data['categories'][int(label)] = _text(name)
        counts['images'] += 1
        counts['annotations'] += len(example['object_ann_id'])
    for split, data in sorted(splits.items()):
        _write_json(os.path.join(folder, 'annotations', 'instances_%s.json' % split), {
            'images': sorted(data['images'], key=lambda i: i['id']),
            'annotations': sorted(data['annotations'], key=lambda a: a['id']),
            'categories': [{'id': k, 'name': v} for k, v in sorted(data['categories'].items())]})
    return counts


# -- VID ----------------------------------------------------------------------------------------

def vid_crop_dir(video_folder, video_name):
    """Data/VID/train/<letter>/<snippet> of the reference curation for an XML <folder>."""
    parent = _text(video_folder).split('/')[0] if '/' in _text(video_folder) else ''
    letter = VID_LETTERS.get(parent, VID_VAL_LETTER if not parent else None)
    if letter is None:
        raise ExportError('unknown ILSVRC2015 train folder %r' % parent)
    return os.path.join('Data', 'VID', 'train', letter, _text(video_name))


def export_vid(examples, folder):
    """Write every crop once as <frame>.<trackid>.crop.x.jpg; returns {what: count}."""
    written, counts = {}, {'tracks': 0, 'crops': 0}
    for _, path, index, example in examples:
        crop_dir = vid_crop_dir(example['video_folder'], example['video_name'])
        trackid = int(example['object_trackid'])
        counts['tracks'] += int(example['chunk_index'] == 0)
        for number, data in zip(example['frame_number'], example['frame_encoded']):
            target = os.path.join(crop_dir, '%06d.%02d.crop.x.jpg' % (int(number), trackid))
            if target in written:
                if written[target] != data:  # chunks overlap: a crop stored twice must agree
                    raise ExportError('%s record %d: crop %s differs from the copy in the '
                                      'chunk before' % (path, index, target))
                continue
            written[target] = data
            _write(os.path.join(folder, target), data)
            counts['crops'] += 1
    return counts


EXPORTERS = {'vos_video': export_vos, 'coco_instances': export_coco, 'vid_track': export_vid}


def export(dataset_dir, folder, split=None, masks_only=False):
    """Write the records of `dataset_dir` (of one split when given; only the masks, as
    <video>/<frame>.png, with masks_only) to the new folder `folder`; returns {what: count}."""
    if os.path.exists(folder):
        raise ExportError('%s exists; export writes a new folder' % folder)
    info = dataset_info.read(dataset_dir)
    schema = schemas.by_name(info['schema']['name'])
    if masks_only and schema.name != 'vos_video':
        raise ExportError('--masks-only exports vos_video masks; %s holds %s records'
                          % (dataset_dir, schema.name))
    if split is not None:
        split = dataset_info.split_name(info, split)
    exporter = export_vos_masks if masks_only else EXPORTERS[schema.name]
    work = folder.rstrip('/') + '.export-tmp'
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    try:
        counts = exporter(shards.iter_examples(dataset_dir, info, schema, split), work)
        os.rename(work, folder)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return counts


def main(dataset_dir, folder, split=None, masks_only=False):
    counts = export(dataset_dir, folder, split, masks_only)
    print('%s -> %s: %s' % (dataset_dir, folder, ', '.join(
        '%s %d' % kv for kv in sorted(counts.items()))))
    return 0
