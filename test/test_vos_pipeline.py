"""DAVIS / YouTube-VOS -> vos_video records: masks, objects, guide frames, bad input, determinism."""
from __future__ import absolute_import, division, print_function

import glob
import json
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from datasets import frames as frames_data
from datasets import ytvos as ytvos_data
from pipelines import vos
from schemas import vos_video
from record_files import load_output

FAST = ['--direct_running_mode=in_memory', '--direct_num_workers=1']


@pytest.fixture(scope='module')
def sample(sample_data, corrupt_sample_data, tmp_path_factory):
    """(clean root, its manifest, corrupt root, its manifest, a directory for outputs): the
    session's samples, read only."""
    return sample_data + corrupt_sample_data + (tmp_path_factory.mktemp('vos'),)


def run(dataset, data, out, *extra):
    main = vos.davis_main if dataset == 'davis' else vos.ytvos_main
    return main(['--data', data, '--out', out] + list(extra) + FAST)


def load(out, name):
    """Like load_output, with the records of all splits keyed by video id."""
    info, errors, by_split = load_output(out, name, vos_video.SCHEMA)
    return info, errors, {r['video_id'].decode(): r for recs in by_split.values() for r in recs}


def palette(path):
    image = Image.open(path)
    assert image.mode == 'P'
    return np.array(image)


def decode_masks_with_tf(encoded):
    """What a trainer sees: tf.image.decode_png(channels=1) of the stored mask PNGs."""
    graph = tf.Graph()
    with graph.as_default():
        data = tf.compat.v1.placeholder(tf.string, [])
        decoded = tf.image.decode_png(data, channels=1)[..., 0]
        with tf.compat.v1.Session(graph=graph) as sess:
            return [sess.run(decoded, {data: e}) if e else None for e in encoded]


def expected_object_lists(masks, object_id, guide_size=None):
    nonblank, valid = [], []
    for t, labels in enumerate(masks):
        if labels is None:
            continue
        if (labels == object_id).any():
            nonblank.append(t)
        small = labels if guide_size is None else np.array(
            Image.fromarray(labels).resize(guide_size, Image.NEAREST))
        mask = small == object_id
        if mask.any():
            ys, xs = np.nonzero(mask)
            box_area = (xs.max() - xs.min()) * (ys.max() - ys.min())
            if mask.sum() > 0.003 * small.size and mask.sum() > 0.2 * box_area:
                valid.append(t)
    return nonblank, valid


@pytest.fixture(scope='module')
def davis2017(davis_records):
    """The session's DAVIS 2017 records of the clean sample, loaded."""
    return load(os.path.dirname(davis_records), 'davis2017')


def test_davis2017_masks_objects_and_guides(sample, davis2017):
    clean, manifest, _, _, _ = sample
    info, errors, records = davis2017
    root = os.path.join(clean, 'DAVIS')
    assert errors == [] and info['schema'] == {'name': 'vos_video', 'version': 2}
    assert info['max_frame_size'] == [120, 214]
    # common split names; DAVIS's own `val` kept as source_split
    assert {k: v['source_split'] for k, v in info['splits'].items()} == {
        'train': 'train', 'validation': 'val'}
    assert info['splits']['validation']['shards'][0]['file'].startswith(
        'validation/davis2017-validation.tfrecord-')
    davis = manifest['datasets']['davis']['clean']
    assert len(records) == davis['train']['sequences'] + davis['val']['sequences']
    assert info['counts']['objects'] == davis['train']['objects_in_frame0'] + \
        davis['val']['objects_in_frame0']
    assert info['counts']['objects_ignored_after_frame0'] >= 1
    for name, rec in records.items():
        assert rec['split'].decode() in ('train', 'validation')
        assert rec['source_split'].decode() == {'train': 'train', 'validation': 'val'}[
            rec['split'].decode()]
        paths = sorted(glob.glob(os.path.join(root, 'Annotations', '480p', name, '*.png')))
        masks = [palette(p) for p in paths]
        ids = sorted(set(np.unique(masks[0]).tolist()) - {0, 255})  # 255: void, not an object
        assert list(rec['object_ids']) == ids
        assert [n.decode() for n in rec['frame_name']] == \
            [os.path.basename(p)[:-4] for p in paths]
        with open(os.path.join(root, 'JPEGImages', '480p', name, '00000.jpg'), 'rb') as f:
            assert rec['frame_image'][0] == f.read()
        for stored, original in zip(decode_masks_with_tf(rec['frame_mask']), masks):
            np.testing.assert_array_equal(stored, original)  # palette indices, not colours
        flat = list(rec['object_nonblank_frames'])
        lengths = list(rec['object_nonblank_frames_row_lengths'])
        valid_flat = list(rec['object_valid_guide_frames'])
        valid_lengths = list(rec['object_valid_guide_frames_row_lengths'])
        for j, object_id in enumerate(ids):
            nonblank, valid = expected_object_lists(masks, object_id)
            start = sum(lengths[:j])
            assert flat[start:start + lengths[j]] == nonblank
            vstart = sum(valid_lengths[:j])
            assert valid_flat[vstart:vstart + valid_lengths[j]] == valid
            for t, labels in enumerate(masks):
                ys, xs = np.nonzero(labels == object_id)
                box = [xs.min(), ys.min(), xs.max(), ys.max()] if xs.size else [-1] * 4
                assert list(rec['frame_object_bbox'][t][j]) == box
                assert rec['frame_object_area'][t][j] == xs.size


def test_davis2016_is_one_binary_object(sample):
    clean, _, _, _, root = sample
    out = str(root / 'davis2016')
    assert run('davis', os.path.join(clean, 'DAVIS'), out, '--year', '2016') == 0
    info, errors, records = load(out, 'davis2016')
    assert errors == []
    with open(os.path.join(clean, 'DAVIS', 'ImageSets', '2016', 'train.txt')) as f:
        assert set(f.read().split()) <= set(records)
    for name, rec in records.items():
        assert list(rec['object_ids']) == [1]
        assert rec['dataset'] == b'davis2016'
        first = palette(os.path.join(clean, 'DAVIS', 'Annotations', '480p', name, '00000.png'))
        stored = decode_masks_with_tf(rec['frame_mask'][:1])[0]
        np.testing.assert_array_equal(stored, (first > 0).astype(np.uint8))


def test_ytvos_objects_from_meta_and_valid_first_masks(sample, ytvos_records):
    clean = sample[0]
    info, errors, records = load(os.path.dirname(ytvos_records), 'ytvos2018')
    assert errors == []
    assert {k: v['source_split'] for k, v in info['splits'].items()} == {
        'train': 'train', 'validation': 'valid'}
    assert info['max_frame_size'] == [180, 320]
    for split in ('train', 'valid'):
        with open(os.path.join(clean, 'youtube-vos', split, 'meta.json')) as f:
            meta = json.load(f)['videos']
        for video, entry in meta.items():
            rec = records[video]
            assert (rec['split'], rec['source_split']) == (
                b'train' if split == 'train' else b'validation', split.encode())
            names = [n.decode() for n in rec['frame_name']]
            keys = sorted(entry['objects'], key=int)
            assert list(rec['object_ids']) == [int(k) for k in keys]
            assert [c.decode() for c in rec['object_category']] == \
                [entry['objects'][k]['category'] for k in keys]
            flat, lengths = list(rec['object_frames']), list(rec['object_frames_row_lengths'])
            start = 0
            for j, key in enumerate(keys):
                listed = [names.index(n) for n in entry['objects'][key]['frames']]
                assert flat[start:start + lengths[j]] == listed
                assert rec['object_first_frame'][j] == listed[0]
                start += lengths[j]
            annotated = set(os.path.basename(p)[:-4] for p in glob.glob(
                os.path.join(clean, 'youtube-vos', split, 'Annotations', video, '*.png')))
            assert [bool(h) for h in rec['frame_has_mask']] == [n in annotated for n in names]
            masks = decode_masks_with_tf(rec['frame_mask'])
            for name, mask in zip(names, masks):
                if name in annotated:
                    np.testing.assert_array_equal(mask, palette(os.path.join(
                        clean, 'youtube-vos', split, 'Annotations', video, name + '.png')))
            for j, key in enumerate(keys):
                _, valid = expected_object_lists(masks, int(key), vos.YtvosConverter.guide_size)
                vflat = list(rec['object_valid_guide_frames'])
                vlen = list(rec['object_valid_guide_frames_row_lengths'])
                assert vflat[sum(vlen[:j]):sum(vlen[:j + 1])] == \
                    sorted(set(valid) & set(flat[sum(lengths[:j]):sum(lengths[:j + 1])]))
    assert info['counts']['frames_without_mask'] > 0  # valid split: first masks only


@pytest.mark.parametrize('dataset,root_name,name', [('davis', 'DAVIS', 'davis2017'),
                                                    ('ytvos', 'youtube-vos', 'ytvos2018')])
def test_bad_input_is_reported(sample, dataset, root_name, name):
    _, _, bad, manifest, root = sample
    out = str(root / ('bad-' + dataset))
    assert run(dataset, os.path.join(bad, root_name), out, '--max-reject-fraction', '1') == 0
    info, errors, records = load(out, name)
    data_root = os.path.join(bad, root_name)
    expected = {(f['kind'], os.path.normpath(os.path.join(data_root, f['path'])))
                for f in manifest['faults'] if f['dataset'] == dataset and
                f['kind'] != 'unpadded_frame_names'}
    found = set()
    for e in errors:
        path = os.path.normpath(e['path'])
        # the unknown id names a mask file; the fault names the video's mask folder
        if e['reason'] == 'unknown_object_id':
            path = os.path.dirname(path)
        found.add((e['reason'], path))
    assert found == expected
    assert len(records) == info['counts']['videos']
    # every frame on disk is written or rejected; a meta.json frame without an image was never
    # on disk, so it is reported but not among the frames seen
    image_rejections = dict(info['rejected']['image'])
    image_rejections.pop('meta_frame_without_image', None)
    assert info['counts']['frames'] == (info['counts']['frames_written'] +
                                        sum(image_rejections.values()))
    assert info['rejected']['unit'] == dict(
        {'empty_sequence': 2}, **({'video_not_in_meta': 1, 'non_utf8_name': 1}
                                  if dataset == 'ytvos' else {}))
    for level, totals in info['totals'].items():
        assert totals['reconciled'], (level, totals)
    # seen on disk: every frame with an image or a mask (those of a video meta.json does not
    # list too), plus the meta.json frames without an image
    on_disk = set()
    for pattern in (('JPEGImages', '480p', '*', '*.jpg'), ('Annotations', '480p', '*', '*.png'),
                    ('*', 'JPEGImages', '*', '*.jpg'), ('*', 'Annotations', '*', '*.png')):
        for path in glob.glob(os.path.join(data_root, *pattern)):
            on_disk.add(os.path.splitext(path.replace('Annotations', 'JPEGImages'))[0])
    assert info['totals']['image']['seen'] == len(on_disk) + info['rejected']['image'].get(
        'meta_frame_without_image', 0)
    if dataset == 'davis':  # frames 0.jpg ... 10.jpg in number order
        names = [n.decode() for n in records['fault-unpadded']['frame_name']]
        assert names == [str(i) for i in range(11)]


def test_frames_are_ordered_by_number_and_gaps_found(tmpdir):
    for name in ('0', '1', '2', '10', '11'):
        tmpdir.ensure('img', name + '.jpg')
    paths = frames_data.frame_paths(str(tmpdir.join('img')), str(tmpdir.join('masks')))
    assert [name for name, _, _ in paths] == ['0', '1', '2', '10', '11']
    # gaps against the dataset's step, not the most common one; a missing start is a gap
    assert frames_data.frame_gaps(['00000', '00005', '00010', '00020', '00025'], 5) == [
        ('00010', '00020')]
    assert frames_data.frame_gaps(['00000', '00010', '00020'], 5) == [('00000', '00010'),
                                                              ('00010', '00020')]
    assert frames_data.frame_gaps(['00005', '00010'], 5) == [(None, '00005')]
    assert frames_data.frame_gaps(['00000', '00001', '00002'], 1) == []
    assert frames_data.frame_gaps(['0', '2', '3', '4'], 1) == [('0', '2')]


def test_ytvos_root_without_valid_says_which_splits_to_pass(tmpdir, capsys):
    root = tmpdir.mkdir('youtube-vos')
    root.mkdir('train').join('meta.json').write('{"videos": {}}')
    assert run('ytvos', str(root), str(tmpdir.join('out'))) == 1
    err = capsys.readouterr().err
    assert err.startswith('error: valid/ not found under') and 'pass --splits train' in err
    assert err.count('\n') == 1


def test_malformed_meta_json_is_one_line(tmpdir, capsys):
    root = tmpdir.mkdir('youtube-vos')
    for split in ('train', 'valid'):
        root.mkdir(split).join('meta.json').write('{"videos": ["a", "b"]}')
    assert run('ytvos', str(root), str(tmpdir.join('out'))) == 1
    err = capsys.readouterr().err
    assert err.startswith('error: ') and err.count('\n') == 1
    assert 'meta.json is not a YouTube-VOS meta.json: "videos" must map video ids' in err


def test_meta_object_entries_are_checked_one_by_one():
    assert ytvos_data.meta_object_problem('3', {'category': 'cat', 'frames': ['00000']}) is None
    for key, obj, reason in (('x', {}, 'bad_object_id'), ('0', {}, 'bad_object_id'),
                             ('300', {}, 'bad_object_id'), ('2', [], 'bad_meta_entry'),
                             ('2', {'frames': [0, 5]}, 'bad_meta_entry'),
                             ('2', {'category': 7}, 'bad_meta_entry')):
        assert ytvos_data.meta_object_problem(key, obj)[0] == reason, (key, obj)


def test_rerun_is_byte_identical(sample, tmpdir):
    clean = sample[0]
    outs = [str(tmpdir.join(n)) for n in ('a', 'b')]
    for out in outs:
        assert run('ytvos', os.path.join(clean, 'youtube-vos'), out, '--units-per-shard', '3') == 0
    files = [sorted(glob.glob(os.path.join(o, 'ytvos2018', '*', '*.tfrecord-*'))) for o in outs]
    assert len(files[0]) == len(files[1]) >= 2
    for a, b in zip(*files):
        with open(a, 'rb') as fa, open(b, 'rb') as fb:
            assert fa.read() == fb.read()
