"""The sample datasets parse with lxml / pycocotools / PIL as the real formats do."""
from __future__ import absolute_import, division, print_function

import glob
import hashlib
import json
import os
import socket
import subprocess
import sys

import cv2
import numpy as np
import pytest
from lxml import etree
from PIL import Image
from pycocotools.coco import COCO

import sampledata
from sampledata import coco as coco_writer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def clean(sample_data):
    """The session's clean sample (all four datasets, small): (root, manifest)."""
    return sample_data


@pytest.fixture
def corrupt(corrupt_sample_data):
    """The session's corrupt sample: (root, manifest)."""
    return corrupt_sample_data


def _tree_digest(root):
    digest = hashlib.sha256()
    for path in sorted(glob.glob(os.path.join(root, '**', '*'), recursive=True)):
        digest.update(os.path.relpath(path, root).encode())
        if os.path.isfile(path):
            with open(path, 'rb') as f:
                digest.update(f.read())
    return digest.hexdigest()


def _decodes(path):
    with open(path, 'rb') as f:
        data = np.frombuffer(f.read(), np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    return image


def _fault_paths(manifest, dataset, kind=None):
    return set(f['path'] for f in manifest['faults']
               if f['dataset'] == dataset and (kind is None or f['kind'] == kind))


# -- determinism and atomic output ------------------------------------------------------------

def test_same_seed_same_bytes_other_seed_differs(tmpdir, clean):
    out, manifest = clean
    again = str(tmpdir.join('again'))
    sampledata.generate(again, seed=manifest['seed'], size='small')
    assert _tree_digest(again) == _tree_digest(out)
    other = str(tmpdir.join('other'))
    sampledata.generate(other, seed=manifest['seed'] + 1, size='small', datasets=['davis'])
    assert _tree_digest(os.path.join(other, 'DAVIS')) != _tree_digest(os.path.join(out, 'DAVIS'))


def test_output_is_refused_unless_overwrite_and_failures_leave_nothing(tmpdir, monkeypatch):
    out = str(tmpdir.join('s'))
    sampledata.generate(out, size='small', datasets=['davis'])
    with pytest.raises(FileExistsError):
        sampledata.generate(out, size='small', datasets=['davis'])

    def boom(*args, **kwargs):
        raise RuntimeError('disk full')
    monkeypatch.setattr(coco_writer, 'write', boom)
    with pytest.raises(RuntimeError):
        sampledata.generate(out, size='small', datasets=['davis', 'coco'], overwrite=True)
    # the previous complete output is untouched and no temporary directory is left behind
    assert sorted(os.listdir(str(tmpdir))) == ['s']
    assert sorted(os.listdir(out)) == ['DAVIS', 'sample_manifest.json']


def test_cli_writes_requested_subset(tmpdir):
    out = str(tmpdir.join('cli'))
    text = subprocess.check_output(
        [sys.executable, '-m', 'sampledata', '--out', out, '--size', 'small', '--datasets',
         'vid', '--vid-train-snippets', '1', '--vid-val-snippets', '1', '--vid-frames', '3'],
        cwd=ROOT).decode()
    assert 'ILSVRC2015' in text
    manifest = sampledata.load_manifest(out)
    assert manifest['datasets']['vid']['clean']['train'] == {
        'snippets': 1, 'frames': 3, 'objects': manifest['datasets']['vid']['clean']['train'][
            'objects']}
    assert len(glob.glob(os.path.join(out, 'ILSVRC2015', 'Data', 'VID', '*', '*', '*', '*.JPEG'))
               + glob.glob(os.path.join(out, 'ILSVRC2015', 'Data', 'VID', 'val', '*', '*.JPEG'))) == 6


def test_frame_size_overrides_the_size_preset(tmpdir):
    """e.g. ILSVRC2015-VID snippets at 854x480 (the issue's end-to-end comparison)."""
    out = str(tmpdir.join('s'))
    manifest = sampledata.generate(out, size='small', datasets=['vid'],
                                   counts={'vid': {'train_snippets': 1, 'val_snippets': 0,
                                                   'frames': 1}}, frame_sizes={'vid': (96, 64)})
    assert manifest['datasets']['vid']['frame_size'] == [96, 64]
    frame = glob.glob(os.path.join(out, 'ILSVRC2015', 'Data', 'VID', '*', '*', '*', '*.JPEG'))[0]
    assert _decodes(frame).shape == (64, 96, 3)
    with pytest.raises(ValueError, match='not .coco.'):
        sampledata.generate(str(tmpdir.join('t')), datasets=['coco'],
                            frame_sizes={'coco': (96, 64)})


# -- ILSVRC2015-VID ---------------------------------------------------------------------------

def _vid_xmls(root):
    ann = os.path.join(root, 'ILSVRC2015', 'Annotations', 'VID')
    return sorted(glob.glob(os.path.join(ann, 'train', '*', '*', '*.xml')) +
                  glob.glob(os.path.join(ann, 'val', '*', '*.xml')))


def test_vid_layout_and_xml_fields(clean):
    out, manifest = clean
    root = os.path.join(out, 'ILSVRC2015')
    xmls = _vid_xmls(out)
    counts = manifest['datasets']['vid']['clean']
    assert len(xmls) == counts['train']['frames'] + counts['val']['frames']
    objects, classes_of_track, occluded = 0, {}, 0
    for path in xmls:
        tree = etree.parse(path)
        rel = os.path.relpath(path, os.path.join(root, 'Annotations', 'VID'))
        split = rel.split(os.sep)[0]
        folder, filename = tree.findtext('folder'), tree.findtext('filename')
        assert os.path.join(split, folder, filename + '.xml') == rel
        image_path = os.path.join(root, 'Data', 'VID', split, folder, filename + '.JPEG')
        image = _decodes(image_path)
        assert image.shape[:2] == (int(tree.findtext('size/height')),
                                   int(tree.findtext('size/width')))
        assert tree.findtext('source/database') == 'ILSVRC_2015'
        for obj in tree.findall('object'):
            objects += 1
            xmin, ymin, xmax, ymax = (int(obj.findtext('bndbox/' + k))
                                      for k in ('xmin', 'ymin', 'xmax', 'ymax'))
            assert 0 <= xmin <= xmax < image.shape[1] and 0 <= ymin <= ymax < image.shape[0]
            assert obj.findtext('occluded') in ('0', '1') and obj.findtext('generated') in ('0', '1')
            occluded += int(obj.findtext('occluded'))
            key = (folder, obj.findtext('trackid'))
            assert classes_of_track.setdefault(key, obj.findtext('name')) == obj.findtext('name')
            assert obj.findtext('name').startswith('n') and len(obj.findtext('name')) == 9
    assert objects == counts['train']['objects'] + counts['val']['objects']
    assert len(set(k[0] for k in classes_of_track)) == 6  # 4 train + 2 val snippets
    assert occluded > 0, 'the sample should contain occlusions'


def test_vid_objects_move_and_boxes_hold_the_object(clean):
    """Boxes change over a snippet and the box region differs from the background around it."""
    out, _ = clean
    snippet = os.path.join(out, 'ILSVRC2015', 'Annotations', 'VID', 'val', 'ILSVRC2015_val_00000000')
    centres = []
    for path in sorted(glob.glob(os.path.join(snippet, '*.xml'))):
        obj = etree.parse(path).find('object[trackid="0"]')
        if obj is not None:
            b = [int(obj.findtext('bndbox/' + k)) for k in ('xmin', 'ymin', 'xmax', 'ymax')]
            centres.append(((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0))
    assert len(centres) >= 5
    assert np.ptp(np.array(centres), axis=0).max() > 2, 'object should move'


def test_staying_objects_stay_in_view_over_long_clips():
    """A 'stay' object bounces off the edges: in a 400-frame clip (VID snippets are ~250 frames
    on average) it is visible in every frame, while still moving across the frame."""
    from sampledata.render import Scene, visible_box
    scene = Scene(np.random.RandomState(4), 160, 90, 400, ['stay', 'stay'], speed=0.02)
    centres = []
    for t in range(0, 400, 5):
        _, labels, _ = scene.render(t)
        for k in (1, 2):
            box, visible = visible_box(labels, k)
            assert visible > 0, 'object %d left the frame at t=%d' % (k, t)
            if k == 1:
                centres.append((box[0] + box[2]) / 2.0)
    assert np.ptp(centres) > 40


# -- COCO 2017 --------------------------------------------------------------------------------

def test_coco_json_loads_with_pycocotools_and_masks_rasterise(clean):
    out, manifest = clean
    kinds = set()   # over both splits: the 3-image val2017 of a seed may hold no crowd
    for split in ('train2017', 'val2017'):
        coco = COCO(os.path.join(out, 'coco', 'annotations', 'instances_%s.json' % split))
        counts = manifest['datasets']['coco']['clean'][split]
        assert len(coco.getImgIds()) == counts['images']
        assert len(coco.getAnnIds()) == counts['annotations']
        cat_ids = sorted(coco.getCatIds())
        assert cat_ids[-1] > len(cat_ids), 'COCO category ids have gaps'
        for image in coco.loadImgs(coco.getImgIds()):
            assert image['file_name'] == '%012d.jpg' % image['id']
            pixels = _decodes(os.path.join(out, 'coco', split, image['file_name']))
            assert pixels.shape[:2] == (image['height'], image['width'])
            kinds.add('gray' if pixels.ndim == 2 else 'color')
        kept = 0
        for ann in coco.loadAnns(coco.getAnnIds()):
            mask = coco.annToMask(ann)
            image = coco.imgs[ann['image_id']]
            assert mask.shape == (image['height'], image['width'])
            assert abs(mask.sum() - ann['area']) <= 0.02 * ann['area'] + 2
            kinds.add('rle' if isinstance(ann['segmentation'], dict) else 'polygon')
            assert (ann['iscrowd'] == 1) == isinstance(ann['segmentation'], dict)
            if not ann['iscrowd'] and mask.sum() / float(mask.size) > 0.03:
                kept += 1
        assert kept == counts['osmn_kept_instances']
        assert 0 < kept < counts['annotations'], 'sizes should straddle the 3 % rule'
    assert kinds >= {'gray', 'color', 'rle', 'polygon'}


# -- DAVIS 2017 -------------------------------------------------------------------------------

def _palette_ids(path):
    image = Image.open(path)
    assert image.mode == 'P'
    return image, np.array(image)


def test_davis_palette_masks_and_imagesets(clean):
    out, manifest = clean
    root = os.path.join(out, 'DAVIS')
    lists = {}
    for year in ('2016', '2017'):
        for split in ('train', 'val'):
            with open(os.path.join(root, 'ImageSets', year, split + '.txt')) as f:
                lists[year, split] = f.read().split()
    for split in ('train', 'val'):
        assert set(lists['2016', split]) <= set(lists['2017', split])
    late_objects = 0
    for name in lists['2017', 'train'] + lists['2017', 'val']:
        frames = sorted(glob.glob(os.path.join(root, 'JPEGImages', '480p', name, '*.jpg')))
        masks = sorted(glob.glob(os.path.join(root, 'Annotations', '480p', name, '*.png')))
        assert [os.path.basename(p)[:-4] for p in frames] == \
            ['%05d' % i for i in range(len(frames))] == [os.path.basename(p)[:-4] for p in masks]
        first_ids = None
        for frame, mask in zip(frames, masks):
            image, ids = _palette_ids(mask)
            assert ids.shape == _decodes(frame).shape[:2]
            assert image.getpalette()[3:6] == [128, 0, 0]  # DAVIS palette: id 1 is dark red
            present = set(np.unique(ids).tolist()) - {0, 255}  # 255: void outline
            if first_ids is None:
                first_ids = present
                assert first_ids, 'frame 0 has objects'
            late_objects += len(present - first_ids)
    assert late_objects > 0, 'one object should enter after frame 0'


# -- YouTube-VOS 2018 -------------------------------------------------------------------------

def test_ytvos_meta_matches_frames_and_masks(clean):
    out, manifest = clean
    root = os.path.join(out, 'youtube-vos')
    with open(os.path.join(root, 'train', 'meta.json')) as f:
        meta = json.load(f)['videos']
    assert len(meta) == manifest['datasets']['ytvos']['clean']['train']['videos']
    entered_late = 0
    for video, entry in meta.items():
        names = sorted(os.path.basename(p)[:-4] for p in
                       glob.glob(os.path.join(root, 'train', 'JPEGImages', video, '*.jpg')))
        assert names == ['%05d' % (5 * i) for i in range(len(names))]
        seen = {}
        for name in names:
            _, ids = _palette_ids(os.path.join(root, 'train', 'Annotations', video, name + '.png'))
            for object_id in set(np.unique(ids).tolist()) - {0}:
                seen.setdefault(str(object_id), []).append(name)
        assert {k: v['frames'] for k, v in entry['objects'].items()} == seen
        assert all(v['category'] for v in entry['objects'].values())
        entered_late += sum(v['frames'][0] != '00000' for v in entry['objects'].values())
    with open(os.path.join(root, 'valid', 'meta.json')) as f:
        valid = json.load(f)['videos']
    for video, entry in valid.items():
        masks = sorted(os.path.basename(p)[:-4] for p in
                       glob.glob(os.path.join(root, 'valid', 'Annotations', video, '*.png')))
        starts = {}
        for object_id, obj in entry['objects'].items():
            starts.setdefault(obj['frames'][0], set()).add(int(object_id))
        assert masks == sorted(starts), 'valid masks exist only on first-appearance frames'
        for name in masks:
            _, ids = _palette_ids(os.path.join(root, 'valid', 'Annotations', video, name + '.png'))
            assert set(np.unique(ids).tolist()) - {0} == starts[name]
        frames = glob.glob(os.path.join(root, 'valid', 'JPEGImages', video, '*.jpg'))
        assert len(frames) > len(masks)
    assert entered_late + sum(
        v['frames'][0] != '00000' for e in valid.values() for v in e['objects'].values()) > 0


# -- the corrupt variant ----------------------------------------------------------------------

# the file-system faults of sampledata/fs_faults.py; a named pipe and a socket where the
# platform has them
FS_FAULTS = {'davis': ['exif_orientation', 'not_regular_file', 'missing_frame', 'unreadable_file',
                       'non_utf8_name'] + ['not_regular_file'] * (hasattr(os, 'mkfifo') +
                                                                  hasattr(socket, 'AF_UNIX')),
             'ytvos': ['non_utf8_name'],
             'vid': ['exif_orientation'] + ['not_regular_file'] * hasattr(os, 'mkfifo')}
EXPECTED_FAULTS = {  # rejections and warnings (xml_names_other_frame, track_class_changed,
                    # single_frame_track, format_mismatch, frame_gap, missing_mask), as
                    # errors.jsonl names them; unpadded_frame_names is not reported
    'vid': ['malformed_xml', 'truncated_jpeg', 'missing_frame', 'box_outside_frame',
            'zero_area_box', 'size_mismatch', 'empty_sequence', 'unreadable_file',
            'truncated_jpeg', 'not_jpeg', 'xml_names_other_frame', 'track_class_changed',
            'single_frame_track', 'missing_annotation', 'missing_annotations']
    + ['bad_annotation'] * 6 + ['box_past_margin'],  # issue 20: hostile numbers
    'coco': ['missing_image', 'truncated_jpeg', 'invalid_polygon', 'rle_wrong_size',
             'unknown_image_id', 'unknown_category_id', 'unreadable_file', 'truncated_jpeg',
             'format_mismatch', 'duplicate_image_id', 'bad_image_id', 'bad_image_id',
             'bad_annotation_id', 'bad_image_id', 'invalid_rle', 'bad_bbox',
             'bad_annotation_id']
    + ['invalid_polygon'] * 6 + ['invalid_rle'] * 3 + ['rle_wrong_size', 'bad_bbox', 'bad_bbox',
                                                       'box_past_margin', 'box_outside_frame',
                                                       'bad_area', 'bad_iscrowd']
    + ['bad_annotation_id', 'bad_image_id', 'unknown_category_id', 'bad_image_id']
    + ['bad_image_size'] * 3 + ['unsafe_file_name'] * 3,  # issue 20: hostile numbers, names
    'davis': ['mask_wrong_size', 'truncated_jpeg', 'missing_frame', 'empty_sequence',
              'unreadable_file', 'frame_gap', 'empty_sequence', 'missing_mask',
              'unpadded_frame_names'],
    'ytvos': ['unknown_object_id', 'meta_frame_without_image', 'mask_wrong_size',
              'empty_sequence', 'empty_sequence', 'frame_gap', 'video_not_in_meta',
              'bad_object_id', 'bad_meta_entry'],
}


def test_corrupt_variant_lists_one_of_each_bad_input(corrupt):
    _, manifest = corrupt
    found = {}
    for fault in manifest['faults']:
        found.setdefault(fault['dataset'], []).append(fault['kind'])
        assert fault['path'] and fault['detail']
    for dataset, kinds in EXPECTED_FAULTS.items():
        assert sorted(found[dataset]) == sorted(kinds + FS_FAULTS.get(dataset, [])), dataset


def test_corrupt_inputs_really_are_bad(corrupt):
    out, manifest = corrupt

    def path(dataset, kind, index=0):
        rel = [f['path'] for f in manifest['faults']  # in the order they were injected
               if f['dataset'] == dataset and f['kind'] == kind][index]
        return os.path.join(out, manifest['datasets'][dataset]['root'], rel.split('#')[0])

    with pytest.raises(etree.XMLSyntaxError):
        etree.parse(path('vid', 'malformed_xml'))
    for dataset in ('vid', 'davis'):
        assert not os.path.exists(path(dataset, 'missing_frame'))
    for dataset in ('vid', 'coco', 'davis'):
        with pytest.raises(Exception):
            Image.open(path(dataset, 'truncated_jpeg')).load()
    box = etree.parse(path('vid', 'box_outside_frame')).find('object/bndbox')
    width = int(etree.parse(path('vid', 'box_outside_frame')).findtext('size/width'))
    assert int(box.findtext('xmin')) >= width
    box = etree.parse(path('vid', 'zero_area_box')).find('object/bndbox')
    assert int(box.findtext('xmax')) < int(box.findtext('xmin'))
    xml = etree.parse(path('vid', 'size_mismatch'))
    image = _decodes(xml.getroot().base.replace('Annotations', 'Data').replace('.xml', '.JPEG'))
    assert image.shape[1] != int(xml.findtext('size/width'))
    assert os.listdir(path('vid', 'empty_sequence')) == []
    assert not os.path.exists(path('coco', 'missing_image'))
    for dataset in ('davis', 'ytvos'):
        mask = path(dataset, 'mask_wrong_size')
        sibling = mask.replace('Annotations', 'JPEGImages').replace('.png', '.jpg')
        assert _palette_ids(mask)[1].shape != _decodes(sibling).shape[:2]
        assert os.listdir(path(dataset, 'empty_sequence')) == []
    assert not os.path.exists(path('ytvos', 'meta_frame_without_image'))
    # the cases added for "one bad input must never stop a run" and "nothing silent"
    for dataset in ('vid', 'coco', 'davis'):
        assert os.path.isdir(path(dataset, 'unreadable_file'))
    for dataset in ('vid', 'coco'):
        assert os.path.getsize(path(dataset, 'truncated_jpeg', 1)) == 0
    with open(path('vid', 'not_jpeg'), 'rb') as f:
        assert f.read(4) == b'\x89PNG'
    with open(path('coco', 'format_mismatch'), 'rb') as f:
        assert f.read(4) == b'\x89PNG'
    assert etree.parse(path('vid', 'xml_names_other_frame')).findtext('filename') == '000005'
    assert not os.path.exists(path('vid', 'missing_annotations'))
    assert os.path.isdir(path('vid', 'missing_annotations').replace('Annotations', 'Data'))
    for dataset in ('davis', 'ytvos'):
        assert not os.path.exists(path(dataset, 'empty_sequence', 1))
    assert sorted(os.listdir(path('davis', 'frame_gap')))[:3] == ['00000.jpg', '00001.jpg',
                                                                 '00003.jpg']
    # the cases added for "totals reconcile per level" and the audit of issue 14
    assert os.path.exists(path('vid', 'missing_annotation'))
    assert not os.path.exists(path('vid', 'missing_annotation').replace(
        'Data', 'Annotations').replace('.JPEG', '.xml'))
    assert not os.path.exists(path('davis', 'missing_mask'))
    assert os.path.exists(path('davis', 'missing_mask').replace('Annotations', 'JPEGImages')
                          .replace('.png', '.jpg'))
    assert {'2.jpg', '10.jpg'} <= set(os.listdir(path('davis', 'unpadded_frame_names')))
    ytvos_root = os.path.join(out, manifest['datasets']['ytvos']['root'])
    with open(os.path.join(ytvos_root, 'train', 'meta.json')) as f:
        meta = json.load(f)['videos']
    gap = path('ytvos', 'frame_gap')
    assert min(os.listdir(gap)) == '00005.jpg' and os.path.basename(gap) in meta
    assert os.path.basename(path('ytvos', 'video_not_in_meta')) not in meta
    for kind in ('bad_object_id', 'bad_meta_entry'):
        video, _, key = [f['path'] for f in manifest['faults'] if f['kind'] == kind][0].split(
            '#videos/')[1].split('/')
        assert key in meta[video]['objects']
    # one annotation pycocotools cannot index fails createIndex for the whole file
    with pytest.raises((KeyError, TypeError)):
        COCO(os.path.join(out, 'coco', 'annotations', 'instances_train2017.json'))


def test_corrupt_variant_keeps_the_clean_data(clean, corrupt):
    (clean_out, clean_manifest), (bad_out, bad_manifest) = clean, corrupt
    for name in sampledata.DATASETS:
        assert bad_manifest['datasets'][name]['clean'] == clean_manifest['datasets'][name]['clean']
    # every clean VID snippet is byte-identical in the corrupt variant
    for path in _vid_xmls(clean_out):
        with open(path, 'rb') as a, open(path.replace(clean_out, bad_out), 'rb') as b:
            assert a.read() == b.read()
    with open(os.path.join(bad_out, 'coco', 'annotations', 'instances_train2017.json')) as f:
        annotations = json.load(f)['annotations']
    assert len(annotations) > clean_manifest['datasets']['coco']['clean']['train2017'][
        'annotations']
