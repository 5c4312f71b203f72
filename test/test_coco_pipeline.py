"""COCO 2017 -> coco_instances records: OSMN rules, read-back, rule edges, bad input, determinism."""
from __future__ import absolute_import, division, print_function

import glob
import hashlib
import json
import os

import cv2
import numpy as np
import pytest
from pycocotools.coco import COCO

import sampledata
from datasets import coco as coco_data
from datasets.errors import InputError
from pipelines import coco
from sampledata.coco import uncompressed_rle
from sampledata.common import jpeg_bytes, write_bytes, write_json
from schemas import coco_instances
from record_files import load_output

FAST = ['--direct_running_mode=in_memory', '--direct_num_workers=1']


def run(data, out, *extra):
    return coco.main(['--data', data, '--out', out] + list(extra) + FAST)


def load(out):
    return load_output(out, 'coco', coco_instances.SCHEMA)


@pytest.fixture(scope='module')
def sample(sample_data, corrupt_sample_data, tmp_path_factory):
    """(clean root, its manifest, corrupt root, its manifest, a directory for outputs): the
    session's samples, read only."""
    return sample_data + corrupt_sample_data + (tmp_path_factory.mktemp('coco'),)


@pytest.fixture
def clean_out(coco_records):
    """Output root of the session's records of the clean sample (default flags)."""
    return os.path.dirname(coco_records)


def test_kept_instances_follow_the_osmn_rules_and_read_back(sample, clean_out):
    clean, manifest, _, _, _ = sample
    info, errors, records = load(clean_out)
    assert errors == [] and info['rejected'] == {}
    expected = manifest['datasets']['coco']['clean']
    assert info['counts']['instances_kept'] == sum(s['osmn_kept_instances']
                                                   for s in expected.values())
    assert info['counts']['filtered_crowd'] == sum(s['crowd'] for s in expected.values())
    counts = info['counts']
    assert counts['instances'] == counts['instances_kept'] + counts['filtered_crowd'] + \
        counts['filtered_small']
    assert info['schema'] == {'name': 'coco_instances', 'version': 2}
    assert info['max_frame_size'] == [160, 160]  # 160x120, 120x160, 160x107: largest h, w
    # common split names on disk and in dataset_info, the release's names as source_split
    assert sorted(os.listdir(os.path.join(clean_out, 'coco'))) == [
        'README.md', 'dataset_info.json', 'errors.jsonl', 'label_map.pbtxt', 'train',
        'validation']
    assert {k: v['source_split'] for k, v in info['splits'].items()} == {
        'train': 'train2017', 'validation': 'val2017'}
    for common, split in (('train', 'train2017'), ('validation', 'val2017')):
        api = COCO(os.path.join(clean, 'coco', 'annotations', 'instances_%s.json' % split))
        recs = records[common]
        assert len(recs) == info['splits'][common]['records'] > 0
        assert all(s['file'].startswith('%s/coco-%s.tfrecord-' % (common, common))
                   for s in info['splits'][common]['shards'])
        for rec in recs:
            # one split convention: the common name, the release's beside it
            assert (rec['split'].decode(), rec['source_split'].decode()) == (common, split)
            image = api.imgs[int(rec['image_source_id'])]
            path = os.path.join(clean, 'coco', split, image['file_name'])
            with open(path, 'rb') as f:
                original = f.read()
            assert rec['image_encoded'] == original  # not re-encoded
            assert rec['image_sha256'].decode() == hashlib.sha256(original).hexdigest()
            assert (rec['image_height'], rec['image_width']) == (image['height'], image['width'])
            decoded = cv2.imdecode(np.frombuffer(original, np.uint8), cv2.IMREAD_UNCHANGED)
            assert rec['image_channels'] == (1 if decoded.ndim == 2 else 3)
            kept = [a for a in api.imgToAnns[image['id']] if not a['iscrowd'] and
                    api.annToMask(a).sum() / float(image['height'] * image['width']) > 0.03]
            assert sorted(a['id'] for a in kept) == list(rec['object_ann_id'])
            for k, ann_id in enumerate(rec['object_ann_id']):
                ann = api.anns[ann_id]
                expected_mask = api.annToMask(ann)
                mask = cv2.imdecode(np.frombuffer(rec['object_mask'][k], np.uint8),
                                    cv2.IMREAD_UNCHANGED)
                np.testing.assert_array_equal(mask, expected_mask)
                ys, xs = np.nonzero(expected_mask)
                assert list(rec['object_mask_bbox'][k]) == [xs.min(), ys.min(), xs.max(), ys.max()]
                assert rec['object_mask_area'][k] == expected_mask.sum()
                x, y, w, h = ann['bbox']
                np.testing.assert_allclose(
                    [rec['object_bbox_xmin'][k], rec['object_bbox_ymin'][k],
                     rec['object_bbox_xmax'][k], rec['object_bbox_ymax'][k]],
                    [x / image['width'], y / image['height'], (x + w) / image['width'],
                     (y + h) / image['height']], rtol=1e-6)
                assert rec['object_class_text'][k].decode() == api.cats[ann['category_id']]['name']
                assert rec['object_area_ratio'][k] > 0.03 and rec['object_is_crowd'][k] == 0


def test_area_rule_edge_is_strictly_greater(tmpdir):
    """Masks of exactly 3 % of the image are dropped, one pixel more is kept (and the flag moves
    the edge)."""
    root = str(tmpdir.join('coco'))
    rng = np.random.RandomState(0)
    write_bytes(os.path.join(root, 'train2017', '000000000001.jpg'),
                jpeg_bytes(rng.randint(0, 255, (100, 100, 3)).astype(np.uint8)))

    def rle(pixels):  # `pixels` foreground pixels in column-major order from pixel 1000
        flat = np.zeros(100 * 100, np.uint8)
        flat[1000:1000 + pixels] = 1
        return uncompressed_rle(flat.reshape((100, 100), order='F'))
    anns = [{'id': i + 1, 'image_id': 1, 'category_id': 1, 'iscrowd': 0, 'segmentation': rle(n),
             'area': float(n), 'bbox': [10.0, 0.0, 4.0, 100.0]} for i, n in enumerate((300, 301))]
    dataset = {'images': [{'id': 1, 'file_name': '000000000001.jpg', 'height': 100, 'width': 100}],
               'annotations': anns, 'categories': [{'id': 1, 'name': 'person'}]}
    write_json(os.path.join(root, 'annotations', 'instances_train2017.json'), dataset)
    out = str(tmpdir.join('out'))
    assert run(root, out, '--splits', 'train2017') == 0
    info, _, records = load(out)
    assert list(records['train'][0]['object_ann_id']) == [2]
    assert info['counts']['filtered_small'] == 1
    assert run(root, out, '--splits', 'train2017', '--min-area-ratio', '0.0299',
               '--overwrite') == 0
    assert list(load(out)[2]['train'][0]['object_ann_id']) == [1, 2]


def test_bad_input_is_reported_and_instances_reconcile(sample):
    _, _, bad, manifest, root = sample
    out = str(root / 'out-bad')
    assert run(os.path.join(bad, 'coco'), out, '--max-reject-fraction', '0.75') == 0
    info, errors, records = load(out)
    coco_root = os.path.join(bad, 'coco')
    expected = {(f['kind'], os.path.normpath(os.path.join(coco_root, f['path'])))
                for f in manifest['faults'] if f['dataset'] == 'coco'}
    assert {(e['reason'], os.path.normpath(e['path'])) for e in errors} == expected
    counts = info['counts']
    bad_instances = sum(info['objects_rejected'].values())
    assert counts['instances'] == counts['instances_kept'] + counts['filtered_crowd'] + \
        counts['filtered_small'] + bad_instances
    # every annotation of the files is written or counted as rejected, also those that would
    # break pycocotools' createIndex and those of an image whose id is a string
    in_files = 0
    for split in coco_data.SPLITS:
        with open(coco_data.annotation_file(coco_root, split)) as f:
            in_files += len(json.load(f)['annotations'])
    assert counts['instances'] == info['totals']['object']['seen'] == in_files
    assert bad_instances > len(info['rejected']['object'])  # image-level losses carry objects
    clean = manifest['datasets']['coco']['clean']
    assert counts['instances_kept'] >= sum(s['osmn_kept_instances'] for s in clean.values())
    for level, totals in info['totals'].items():
        assert totals['reconciled'], (level, totals)
    assert all(' at 0x' not in e['detail'] for e in errors)
    # a duplicated image id is written once; a PNG named .jpg is stored as what it is
    ids = [int(r['image_source_id']) for r in records['train']]
    assert len(ids) == len(set(ids))
    png = [f['path'] for f in manifest['faults'] if f['kind'] == 'format_mismatch'][0]
    formats = {r['image_filename'].decode(): r['image_format'].decode()
               for r in records['train']}
    assert formats.get(png.replace(os.sep, '/'), 'png') == 'png'
    assert set(formats.values()) <= {'jpeg', 'png'}


def test_rerun_is_byte_identical(sample, clean_out, tmpdir):
    clean = sample[0]
    again = str(tmpdir.join('again'))
    assert run(os.path.join(clean, 'coco'), again) == 0
    first = sorted(glob.glob(os.path.join(clean_out, 'coco', '*', '*.tfrecord-*')))
    second = sorted(glob.glob(os.path.join(again, 'coco', '*', '*.tfrecord-*')))
    assert [os.path.relpath(p, clean_out) for p in first] == \
        [os.path.relpath(p, again) for p in second]
    for a, b in zip(first, second):
        with open(a, 'rb') as fa, open(b, 'rb') as fb:
            assert fa.read() == fb.read()


def test_strict_and_missing_annotations(sample, tmpdir, capsys):
    _, _, bad, _, _ = sample
    assert run(os.path.join(bad, 'coco'), str(tmpdir.join('s')), '--strict') == 1
    assert 'strict: stopped at the first bad input' in capsys.readouterr().err
    assert run(str(tmpdir), str(tmpdir.join('x'))) == 1
    err = capsys.readouterr().err
    assert err.startswith('error: ') and err.count('\n') == 1
    assert 'instances_train2017.json not found' in err and '--splits' in err


def test_label_map_lists_the_categories(clean_out):
    with open(os.path.join(clean_out, 'coco', coco.LABEL_MAP)) as f:
        text = f.read()
    assert text.startswith('item {\n  id: 1\n  name: "person"\n  display_name: "person"\n}\n')
    assert text.count('item {') == len(sampledata.coco.CATEGORIES)
    assert coco.label_map_pbtxt([{'id': 7, 'name': 'a "b"'}]) == \
        'item {\n  id: 7\n  name: "a \\"b\\""\n  display_name: "a \\"b\\""\n}\n'


def test_annotations_that_cannot_be_indexed_are_named_one_by_one():
    images = {5: {'id': 5}}
    categories = {1: {'id': 1}}
    good = {'id': 9, 'image_id': 5, 'category_id': 1}
    assert coco_data.annotation_problem(good, images, categories) is None
    for ann, reason in (([], 'bad_annotation'), ({'image_id': 5}, 'bad_annotation_id'),
                        (dict(good, id='9'), 'bad_annotation_id'),
                        (dict(good, image_id=[5]), 'bad_image_id'),
                        (dict(good, image_id='5'), 'bad_image_id'),
                        (dict(good, image_id=6), 'unknown_image_id'),
                        (dict(good, category_id={'a': 1}), 'unknown_category_id'),
                        (dict(good, category_id=2), 'unknown_category_id')):
        assert coco_data.annotation_problem(ann, images, categories)[0] == reason, ann
    dataset = {'images': [{'id': 5}, {'id': '5'}, 7], 'categories': [{'id': 1}, {'name': 'x'}],
               'annotations': [good, {'image_id': [5]}]}
    screened = coco_data.screen(dataset, 'a.json')
    assert list(screened.images) == [5] and screened.annotations == [good]
    assert [p[:3] for p in screened.problems] == [
        ('image', 'bad_image_id', "a.json#image='5'"),
        ('image', 'bad_image_id', 'a.json#image=None'),
        ('warning', 'bad_category', 'a.json#categories[1]'),
        ('object', 'bad_annotation_id', 'a.json#annotations[1]')]
    with pytest.raises(ValueError, match='not a COCO instances file'):
        coco_data.screen({'images': [], 'annotations': {}}, 'a.json')


def test_segmentation_checks():
    coco_data.check_segmentation([[0, 0, 5, 0, 5, 5]], 10, 10)
    coco_data.check_segmentation({'size': [10, 10], 'counts': [50, 50]}, 10, 10)
    for seg, reason in (([[0, 0, 5, 5]], 'invalid_polygon'), ([], 'invalid_polygon'),
                        ([[0, 0, 5, 0, 5]], 'invalid_polygon'),
                        ({'size': [10, 11], 'counts': [110]}, 'rle_wrong_size'),
                        ({'size': [10, 10], 'counts': [50]}, 'invalid_rle'),
                        ({'size': [10, 10], 'counts': [-5, 105]}, 'invalid_rle'),
                        (None, 'invalid_segmentation')):
        with pytest.raises(InputError) as err:
            coco_data.check_segmentation(seg, 10, 10)
        assert err.value.reason == reason
