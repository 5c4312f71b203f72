"""COCO 2017 sample in the release layout (docs/datasets.md).

    coco/annotations/instances_{train,val}2017.json
    coco/{train,val}2017/<12-digit image id>.jpg

Annotations are polygons traced from the visible pixels of each object (several parts when an
occluder splits it), crowd regions as uncompressed RLE with iscrowd 1, areas and boxes computed
with pycocotools as COCO's own. Object sizes straddle OSMN's 3 % area rule; one image per split is
grayscale, as some COCO images are.
"""
from __future__ import absolute_import, division, print_function

import os

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from sampledata.common import jpeg_bytes, rng_for, write_bytes, write_json
from sampledata.render import Scene

ROOT_NAME = 'coco'
CATEGORIES = ((1, 'person', 'person'), (2, 'bicycle', 'vehicle'), (3, 'car', 'vehicle'),
              (17, 'cat', 'animal'), (18, 'dog', 'animal'), (19, 'horse', 'animal'),
              (44, 'bottle', 'kitchen'), (62, 'chair', 'furniture'), (88, 'teddy bear', 'indoor'))
OSMN_AREA_RATIO = 0.03


def polygons(mask):
    """COCO polygon list ([x1, y1, x2, y2, ...] per outer contour with >= 3 points)."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)[-2:]
    out = []
    for contour in contours:
        pts = contour.reshape(-1, 2)
        if len(pts) >= 3:
            out.append([float(v) for v in pts.reshape(-1)])
    return out


def uncompressed_rle(mask):
    """COCO crowd RLE: run lengths over the column-major mask, starting with a run of zeros."""
    flat = np.asarray(mask, np.uint8).reshape(-1, order='F')
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    runs = np.diff(bounds).tolist()
    if flat.size and flat[0] == 1:
        runs = [0] + runs
    return {'counts': [int(r) for r in runs], 'size': [int(mask.shape[0]), int(mask.shape[1])]}


def area_and_bbox(segmentation, height, width):
    rles = mask_utils.frPyObjects(segmentation, height, width)
    rle = mask_utils.merge(rles) if isinstance(rles, list) else rles
    return float(mask_utils.area(rle)), [float(v) for v in mask_utils.toBbox(rle)]


def _image(seed, split, index, image_id, sizes, ann_ids):
    """Render one image; returns (jpeg bytes, image entry, annotations)."""
    rng = rng_for(seed, 'coco', split, index)
    width, height = sizes[rng.randint(len(sizes))]
    num_objects = rng.randint(1, 5)
    crowd = rng.rand() < 0.35
    motions = ['stay'] * (num_objects + (4 if crowd else 0))
    scene = Scene(rng, width, height, 1, motions, size_range=(0.06, 0.35))
    # crowd members are small: shrink the extra sprites
    for sprite in scene.sprites[num_objects:]:
        sprite.radii *= 0.25
    rgb, labels, _ = scene.render(rng.uniform(0, 1))
    grayscale = index == 0
    image = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if grayscale else rgb
    annotations = []
    categories = [CATEGORIES[i][0] for i in rng.randint(len(CATEGORIES), size=num_objects + 1)]
    for k in range(num_objects):
        segmentation = polygons(labels == k + 1)
        if not segmentation:
            continue
        area, bbox = area_and_bbox(segmentation, height, width)
        annotations.append({'id': next(ann_ids), 'image_id': image_id, 'category_id': categories[k],
                            'segmentation': segmentation, 'area': area, 'bbox': bbox, 'iscrowd': 0})
    if crowd:
        members = (labels > num_objects)
        if members.any():
            rle = uncompressed_rle(members)
            area, bbox = area_and_bbox(rle, height, width)
            annotations.append({'id': next(ann_ids), 'image_id': image_id,
                                'category_id': categories[-1], 'segmentation': rle, 'area': area,
                                'bbox': bbox, 'iscrowd': 1})
    entry = {'id': image_id, 'file_name': '%012d.jpg' % image_id, 'width': width,
             'height': height, 'license': 1, 'coco_url': '', 'flickr_url': '',
             'date_captured': '2013-11-14 17:02:52'}
    return jpeg_bytes(image), entry, annotations


def _counter(start):
    value = start
    while True:
        yield value
        value += 1


def _dataset(images, annotations):
    return {'info': {'description': 'synthetic COCO 2017 sample', 'version': '1.0', 'year': 2017},
            'licenses': [{'id': 1, 'name': 'synthetic', 'url': ''}],
            'images': images, 'annotations': annotations,
            'categories': [{'id': i, 'name': n, 'supercategory': s} for i, n, s in CATEGORIES]}


def _count_kept(annotations, images_by_id):
    kept = 0
    for ann in annotations:
        if ann['iscrowd']:
            continue
        image = images_by_id[ann['image_id']]
        rle = mask_utils.merge(mask_utils.frPyObjects(ann['segmentation'], image['height'],
                                                      image['width']))
        if mask_utils.area(rle) / float(image['height'] * image['width']) > OSMN_AREA_RATIO:
            kept += 1
    return kept


def write(out_dir, seed, sizes, train_images=8, val_images=3, faults=None):
    """Write the COCO sample under out_dir/coco; returns its manifest entry."""
    root = os.path.join(out_dir, ROOT_NAME)
    counts = {}
    for split, num_images in (('train2017', train_images), ('val2017', val_images)):
        rng = rng_for(seed, 'coco', split, 'ids')
        image_ids = sorted(rng.choice(581929, size=num_images, replace=False) + 1)
        ann_ids = _counter(int(rng.randint(1, 10 ** 6)))
        images, annotations = [], []
        for index, image_id in enumerate(image_ids):
            data, entry, anns = _image(seed, split, index, int(image_id), sizes, ann_ids)
            write_bytes(os.path.join(root, split, entry['file_name']), data)
            images.append(entry)
            annotations.extend(anns)
        counts[split] = {'images': len(images), 'annotations': len(annotations),
                         'crowd': sum(a['iscrowd'] for a in annotations),
                         'osmn_kept_instances': _count_kept(
                             annotations, {i['id']: i for i in images})}
        if faults is not None and split == 'train2017':
            _inject_faults(root, seed, sizes, images, annotations, ann_ids, faults)
        write_json(os.path.join(root, 'annotations', 'instances_%s.json' % split),
                   _dataset(images, annotations))
    return {'root': ROOT_NAME, 'clean': counts}


def _inject_faults(root, seed, sizes, images, annotations, ann_ids, faults):
    """Extra bad images and annotations in train2017 (the clean ones stay as they were)."""
    json_path = os.path.join('annotations', 'instances_train2017.json')
    base_id = 900000000000
    extra = []
    for j in range(3):
        data, entry, anns = _image(seed, 'train2017-faults', j + 1, base_id + j, sizes, ann_ids)
        extra.append((data, entry, anns))
    # 0: image file missing; 1: image file truncated; 2: healthy image carrying bad annotations
    (_, missing, missing_anns), (data, truncated, truncated_anns), (data2, host, host_anns) = extra
    images.extend([missing, truncated, host])
    annotations.extend(missing_anns + truncated_anns + host_anns)
    faults.add('coco', 'missing_image', os.path.join('train2017', missing['file_name']),
               'image listed in the JSON, file absent (%d annotations)' % len(missing_anns))
    write_bytes(os.path.join(root, 'train2017', truncated['file_name']), data[:len(data) // 3])
    faults.add('coco', 'truncated_jpeg', os.path.join('train2017', truncated['file_name']),
               'JPEG cut to a third (%d annotations)' % len(truncated_anns))
    write_bytes(os.path.join(root, 'train2017', host['file_name']), data2)
    h, w = host['height'], host['width']
    bad = [
        ('invalid_polygon', {'segmentation': [[10.0, 10.0, 20.0, 20.0]], 'iscrowd': 0,
                             'category_id': CATEGORIES[0][0], 'image_id': host['id']},
         'polygon with 2 points'),
        ('rle_wrong_size', {'segmentation': {'counts': [(h + 7) * w // 2,
                                                        (h + 7) * w - (h + 7) * w // 2],
                                             'size': [h + 7, w]},
                            'iscrowd': 1, 'category_id': CATEGORIES[0][0], 'image_id': host['id']},
         'RLE size %dx%d on a %dx%d image' % (h + 7, w, h, w)),
        ('unknown_image_id', {'segmentation': [[1.0, 1.0, 30.0, 1.0, 30.0, 30.0]], 'iscrowd': 0,
                              'category_id': CATEGORIES[0][0], 'image_id': base_id + 99},
         'image_id %d is not in images' % (base_id + 99)),
        ('unknown_category_id', {'segmentation': [[1.0, 1.0, 30.0, 1.0, 30.0, 30.0]], 'iscrowd': 0,
                                 'category_id': 999, 'image_id': host['id']},
         'category_id 999 is not in categories'),
    ]
    for kind, ann, detail in bad:
        ann.update({'id': next(ann_ids), 'area': 100.0, 'bbox': [1.0, 1.0, 10.0, 10.0]})
        annotations.append(ann)
        faults.add('coco', kind, '%s#annotation=%d' % (json_path, ann['id']), detail)
    _inject_more_faults(root, seed, sizes, images, annotations, ann_ids, faults, host)


def _inject_more_faults(root, seed, sizes, images, annotations, ann_ids, faults, host):
    """Files that fail for reasons other than "not found" or are not what their name says; then
    the JSON entries of _bad_ids."""
    json_path = os.path.join('annotations', 'instances_train2017.json')
    base_id = 900000000100
    rendered = [_image(seed, 'train2017-more-faults', j + 1, base_id + j, sizes, ann_ids)
                for j in range(3)]
    (_, unreadable, unreadable_anns), (data, empty, empty_anns), (data, png, png_anns) = rendered
    images.extend([unreadable, empty, png])
    annotations.extend(unreadable_anns + empty_anns + png_anns)
    # exists but cannot be read (a directory: tests may run as root, who reads any file)
    os.makedirs(os.path.join(root, 'train2017', unreadable['file_name']))
    faults.add('coco', 'unreadable_file', os.path.join('train2017', unreadable['file_name']),
               'image path is a directory')
    write_bytes(os.path.join(root, 'train2017', empty['file_name']), b'')
    faults.add('coco', 'truncated_jpeg', os.path.join('train2017', empty['file_name']),
               '0-byte JPEG')
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    write_bytes(os.path.join(root, 'train2017', png['file_name']),
                cv2.imencode('.png', pixels)[1].tobytes())
    faults.add('coco', 'format_mismatch', os.path.join('train2017', png['file_name']),
               'PNG named .jpg (written, as image/format png)')

    _bad_ids(json_path, images, annotations, ann_ids, faults, host)


def _bad_ids(json_path, images, annotations, ann_ids, faults, host):
    """Image and annotation ids of the wrong type or listed twice (entries of the JSON, not
    files); then those of _bad_annotations and _hostile_numbers."""
    images.append(dict(host))
    faults.add('coco', 'duplicate_image_id', '%s#image=%d' % (json_path, host['id']),
               'image entry listed twice')
    images.append(dict(host, id='%d' % host['id']))
    faults.add('coco', 'bad_image_id', "%s#image='%d'" % (json_path, host['id']),
               'image id is a string')
    # its annotations are rejected with it, one by one (not silently lost)
    ann = {'id': next(ann_ids), 'image_id': '%d' % host['id'], 'area': 100.0,
           'bbox': [1.0, 1.0, 10.0, 10.0], 'category_id': CATEGORIES[0][0],
           'segmentation': [[1.0, 1.0, 30.0, 1.0, 30.0, 30.0]], 'iscrowd': 0}
    annotations.append(ann)
    faults.add('coco', 'bad_image_id', '%s#annotation=%d' % (json_path, ann['id']),
               'annotation of the image whose id is a string')
    # entries pycocotools' createIndex cannot index (it would fail for the whole split)
    annotations.append(dict(ann, image_id=host['id']))
    del annotations[-1]['id']
    faults.add('coco', 'bad_annotation_id', '%s#annotations[%d]' % (json_path,
                                                                   len(annotations) - 1),
               'annotation without an id')
    ann = dict(ann, id=next(ann_ids), image_id=[host['id']])
    annotations.append(ann)
    faults.add('coco', 'bad_image_id', '%s#annotation=%d' % (json_path, ann['id']),
               'annotation whose image_id is a list (unhashable)')
    _bad_annotations(json_path, annotations, ann_ids, faults, host)
    _hostile_numbers(json_path, images, annotations, ann_ids, faults, host)


def _bad_annotations(json_path, annotations, ann_ids, faults, host):
    """Annotations of a usable image that cannot be used: RLE runs pycocotools cannot take, a box
    of negative width, an id that is a string."""
    h, w = host['height'], host['width']
    polygon = [[1.0, 1.0, 30.0, 1.0, 30.0, 30.0]]
    bad = [
        ('invalid_rle', {'segmentation': {'counts': [-5, h * w + 5], 'size': [h, w]},
                         'iscrowd': 0}, 'list RLE with a negative run'),
        ('bad_bbox', {'segmentation': polygon, 'iscrowd': 0, 'bbox': [30.0, 1.0, -29.0, 29.0]},
         'bbox of negative width'),
    ]
    for kind, ann, detail in bad:
        ann = dict({'id': next(ann_ids), 'area': 100.0, 'bbox': [1.0, 1.0, 10.0, 10.0],
                    'category_id': CATEGORIES[0][0], 'image_id': host['id']}, **ann)
        annotations.append(ann)
        faults.add('coco', kind, '%s#annotation=%d' % (json_path, ann['id']), detail)
    ann = {'id': 'x%d' % next(ann_ids), 'area': 100.0, 'bbox': [1.0, 1.0, 10.0, 10.0],
           'category_id': CATEGORIES[0][0], 'image_id': host['id'], 'segmentation': polygon,
           'iscrowd': 0}
    annotations.append(ann)
    faults.add('coco', 'bad_annotation_id', "%s#annotation='%s'" % (json_path, ann['id']),
               'annotation id is a string')


def _hostile_numbers(json_path, images, annotations, ann_ids, faults, host):
    """Numbers and names no native library may see (issue 20): each one a dead letter naming its
    value, checked before pycocotools rasterises or the image file is opened."""
    h, w = host['height'], host['width']
    triangle = [1.0, 1.0, 30.0, 1.0, 30.0, 30.0]
    many = [float(v) for k in range(10001) for v in (k % w, (k * 7) % h)]
    cut_mask = np.zeros((h + 1, w), np.uint8, order='F')
    cut_mask[:, :5] = 1
    longer = mask_utils.encode(cut_mask)['counts'].decode('ascii')
    bad = [
        ('invalid_polygon', {'segmentation': [[1.0, 1.0, float('nan'), 1.0, 30.0, 30.0]]},
         'polygon x = NaN'),
        ('invalid_polygon', {'segmentation': [triangle, [1.0, 1.0, 5.0, float('inf'), 9.0, 9.0]]},
         'second polygon y = Infinity'),
        ('invalid_polygon', {'segmentation': [[1.0, 1.0, 1e12, 1.0, 30.0, 30.0]]},
         'polygon x = 1e12'),
        ('invalid_polygon', {'segmentation': [[-1e6, 1.0, 30.0, 1.0, 30.0, 30.0]]},
         'polygon x = -1e6'),
        ('invalid_polygon', {'segmentation': [many]}, 'polygon of 10001 points'),
        ('invalid_polygon', {'segmentation': [[1.0, 1.0, '30', 1.0, 30.0, 30.0]]},
         'polygon coordinate is a string'),
        ('invalid_rle', {'segmentation': {'counts': [h * w * 1000], 'size': [h, w]},
                         'iscrowd': 1}, 'list RLE runs sum to 1000 images'),
        ('invalid_rle', {'segmentation': {'counts': longer, 'size': [h, w]}, 'iscrowd': 1},
         'compressed RLE of a mask one row taller than its size'),
        ('invalid_rle', {'segmentation': {'counts': '000P', 'size': [h, w]},
         'iscrowd': 1}, 'compressed RLE cut inside a run'),
        ('rle_wrong_size', {'segmentation': {'counts': [h * w], 'size': [float(h), w]},
                            'iscrowd': 1}, 'RLE size of floats'),
        ('bad_bbox', {'bbox': [1.0, float('nan'), 10.0, 10.0]}, 'bbox y = NaN'),
        ('bad_bbox', {'bbox': [1.0, 1.0, float('inf'), 10.0]}, 'bbox width = Infinity'),
        ('box_past_margin', {'bbox': [0.0, 0.0, 1e12, 1e12]}, 'bbox of 1e12 x 1e12'),
        ('box_outside_frame', {'bbox': [w + 10.0, 1.0, 10.0, 10.0]}, 'bbox right of the image'),
        ('bad_area', {'area': float('nan')}, 'area NaN'),
        ('bad_iscrowd', {'iscrowd': '0'}, 'iscrowd is the string "0"'),
    ]
    for kind, ann, detail in bad:
        ann = dict({'id': next(ann_ids), 'area': 100.0, 'bbox': [1.0, 1.0, 10.0, 10.0],
                    'category_id': CATEGORIES[0][0], 'image_id': host['id'],
                    'segmentation': [triangle], 'iscrowd': 0}, **ann)
        annotations.append(ann)
        faults.add('coco', kind, '%s#annotation=%d' % (json_path, ann['id']), detail)
    _hostile_ids(json_path, images, annotations, ann_ids, faults, host)


def _hostile_ids(json_path, images, annotations, ann_ids, faults, host):
    """Ids of the wrong type or range, image sizes no image has, file_names that leave the
    split's folder."""
    ann = {'id': 1 << 64, 'area': 100.0, 'bbox': [1.0, 1.0, 10.0, 10.0], 'iscrowd': 0,
           'category_id': CATEGORIES[0][0], 'image_id': host['id'],
           'segmentation': [[1.0, 1.0, 30.0, 1.0, 30.0, 30.0]]}
    annotations.append(ann)
    faults.add('coco', 'bad_annotation_id', '%s#annotation=%d' % (json_path, ann['id']),
               'annotation id 2**64 (no int64)')
    ann = dict(ann, id=next(ann_ids), image_id=True)
    annotations.append(ann)
    faults.add('coco', 'bad_image_id', '%s#annotation=%d' % (json_path, ann['id']),
               'image_id is true (a bool)')
    ann = dict(ann, id=next(ann_ids), image_id=host['id'], category_id=float(CATEGORIES[0][0]))
    annotations.append(ann)
    faults.add('coco', 'unknown_category_id', '%s#annotation=%d' % (json_path, ann['id']),
               'category_id is a float')
    images.append(dict(host, id=-host['id']))
    faults.add('coco', 'bad_image_id', '%s#image=%d' % (json_path, -host['id']),
               'negative image id')
    bad_images = [
        ('bad_image_size', {'width': 10 ** 9, 'height': 10 ** 9}, 'declared 1e9 x 1e9'),
        ('bad_image_size', {'width': str(host['width'])}, 'width is a string'),
        ('bad_image_size', {'height': float('nan')}, 'height NaN'),
        ('unsafe_file_name', {'file_name': '../val2017/' + host['file_name']},
         'file_name leaves train2017/ for val2017/'),
        ('unsafe_file_name', {'file_name': '/' + host['file_name']}, 'absolute file_name'),
        ('unsafe_file_name', {'file_name': 'a/../../' + host['file_name']},
         'file_name a/../../ leaves the folder'),
    ]
    for k, (kind, fields, detail) in enumerate(bad_images):
        entry = dict(host, id=host['id'] + 1000 + k, **fields)
        images.append(entry)
        faults.add('coco', kind, '%s#image=%d' % (json_path, entry['id']), detail)
