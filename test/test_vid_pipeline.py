"""ILSVRC2015-VID -> vid_track records: crop geometry, read-back, splits, bad input, determinism."""
from __future__ import absolute_import, division, print_function

import contextlib
import glob
import io
import json
import os
import re

import cv2
import numpy as np
import pytest

from datasets import images
from pipelines import shards, vid
from pipelines.vid_crop import crop_geometry, frame_mean_pad_value, search_crop
from schemas import dataset_info, vid_track
from record_files import load_output

# In-process runner for most runs (fast start); one run below uses the default multi_processing.
FAST = ['--direct_running_mode=in_memory', '--direct_num_workers=1']


# -- crop geometry against hand-computed cases -------------------------------------------------

@pytest.mark.parametrize('box,size,expected', [
    # w = h = 100: p = 100, s_z = sqrt(200 * 200) = 200, s_x = 200 * 255/127 = 401.57 -> S = 402;
    # cx = 100 + 99/2 = 149.5 -> x0 = round(149.5 - 401/2) = -51; cy = 99.5 -> y0 = -101
    ((100, 50, 199, 149), (640, 480),
     dict(size=402, x0=-51, y0=-101, x1=350, y1=300, pad_left=51, pad_top=101, pad_right=0,
          pad_bottom=0)),
    # w = h = 32: s_z = 64, s_x = 128.504 -> S = 129 (odd window); cx = 15.5, (S-1)/2 = 64:
    # x0 = round(-48.5) = -48 (half to even; half-up would say -48, half-away -49)
    ((0, 0, 31, 31), (320, 180),
     dict(size=129, x0=-48, y0=-48, x1=80, y1=80, pad_left=48, pad_top=48, pad_right=0,
          pad_bottom=0)),
    # shifted by one: x0 = round(16.5 - 64) = round(-47.5) = -48 (half-up would say -47)
    ((1, 1, 32, 32), (320, 180), dict(size=129, x0=-48, y0=-48, x1=80, y1=80)),
    # edge-touching box: w = 20, h = 10, p = 15, s_z = sqrt(35 * 25) = 29.58, S = round(59.39) = 59;
    # x0 = round(309.5 - 29) = round(280.5) = 280, y0 = round(174.5 - 29) = round(145.5) = 146
    ((300, 170, 319, 179), (320, 180),
     dict(size=59, x0=280, y0=146, x1=338, y1=204, pad_left=0, pad_top=0, pad_right=19,
          pad_bottom=25)),
    # box larger than the frame: w = 320, h = 180, p = 250, s_z = sqrt(570 * 430) = 495.08,
    # S = round(994.05) = 994 (even window); x0 = round(159.5 - 496.5) = -337
    ((0, 0, 319, 179), (320, 180),
     dict(size=994, x0=-337, y0=-407, x1=656, y1=586, pad_left=337, pad_top=407, pad_right=337,
          pad_bottom=407)),
])
def test_crop_geometry_hand_computed(box, size, expected):
    geometry = crop_geometry(*(box + size))
    for key, value in expected.items():
        assert getattr(geometry, key) == value, key
    assert geometry.x1 - geometry.x0 + 1 == geometry.size


def reference_crop(frame, box):
    """The curation as the spec describes it: np.pad of the whole frame per channel with the
    float mean (truncated by the uint8 array), slice, cv2.resize. Slow on purpose."""
    xmin, ymin, xmax, ymax = box
    w, h = xmax - xmin + 1, ymax - ymin + 1
    cx, cy = xmin + (w - 1) / 2.0, ymin + (h - 1) / 2.0
    p = 0.5 * (w + h)
    s_z = np.sqrt((w + p) * (h + p))
    s_x = s_z + 2 * (((255 - 127) / 2.0) / (127 / s_z))
    size = np.round(s_x)
    x0, y0 = int(np.round(cx - (size - 1) / 2)), int(np.round(cy - (size - 1) / 2))
    x1, y1 = int(x0 + size - 1), int(y0 + size - 1)
    height, width = frame.shape[:2]
    left, top = max(0, -x0), max(0, -y0)
    right, bottom = max(0, x1 - width + 1), max(0, y1 - height + 1)
    mean = np.mean(frame, axis=(0, 1))
    padded = np.stack([np.pad(frame[..., c], ((top, bottom), (left, right)), mode='constant',
                              constant_values=mean[c]) for c in range(3)], axis=-1)
    patch = padded[y0 + top:y1 + top + 1, x0 + left:x1 + left + 1]
    return cv2.resize(patch, (255, 255), interpolation=cv2.INTER_LINEAR)


def test_search_crop_matches_reference_pixel_for_pixel():
    rng = np.random.RandomState(0)
    frame = rng.randint(0, 256, size=(180, 320, 3)).astype(np.uint8)
    boxes = [(100, 50, 199, 149), (0, 0, 31, 31), (1, 1, 32, 32), (300, 170, 319, 179),
             (0, 0, 319, 179), (150, 80, 150, 80), (-20, -5, 10, 30), (310, 0, 340, 20)]
    for _ in range(40):
        x0, y0 = rng.randint(-30, 320), rng.randint(-30, 180)
        boxes.append((x0, y0, x0 + rng.randint(0, 200), y0 + rng.randint(0, 120)))
    pad_value = frame_mean_pad_value(frame)
    for box in boxes:
        geometry = crop_geometry(*(box + (320, 180)))
        ours = search_crop(frame, geometry, pad_value)
        assert ours.shape == (255, 255, 3)
        np.testing.assert_array_equal(ours, reference_crop(frame, box), err_msg=str(box))


def test_frame_mean_is_the_truncated_numpy_mean_even_at_integers():
    rng = np.random.RandomState(1)
    for _ in range(5):
        frame = rng.randint(0, 256, size=(72, 128, 3)).astype(np.uint8)
        np.testing.assert_array_equal(frame_mean_pad_value(frame),
                                      np.mean(frame, axis=(0, 1)).astype(np.uint8))
    exact = np.full((3, 5, 3), 117, np.uint8)  # mean exactly 117: must not become 116
    np.testing.assert_array_equal(frame_mean_pad_value(exact), [117, 117, 117])


def test_box_problems():
    assert vid.box_problem((10, 10, 9, 20), 100, 50)[0] == 'zero_area_box'
    assert vid.box_problem((110, 10, 120, 20), 100, 50)[0] == 'box_outside_frame'
    assert vid.box_problem((-30, -30, -1, 5), 100, 50)[0] == 'box_outside_frame'
    assert vid.box_problem((90, 40, 120, 60), 100, 50) is None  # sticks out: padded, kept
    assert vid.box_problem((5, 5, 5, 5), 100, 50) is None  # one pixel (inclusive coordinates)


# -- splits ----------------------------------------------------------------------------------

def test_hash_split_is_stable_and_about_ten_percent():
    names = ['ILSVRC2015_train_%08d' % i for i in range(5000)]
    chosen = [vid.assign_split('train', n, 'hash', 0.1) for n in names]
    share = chosen.count('validation') / float(len(names))
    assert 0.08 < share < 0.12
    assert chosen == [vid.assign_split('train', n, 'hash', 0.1) for n in reversed(names)][::-1]
    # golden values (sha1 of the name): the same on every machine, run and Python version,
    # which a salted hash() or a listing-order-dependent rule would not give
    assert shards.hash_fraction('ILSVRC2015_train_00000000') == 0.18361913078501502
    assert shards.hash_fraction('ILSVRC2015_train_00000001') == 0.5986741151717254
    assert shards.hash_fraction('') == 0.8524420220332267
    assert [i for i, split in enumerate(chosen[:100]) if split == 'validation'] == [
        7, 10, 13, 18, 36, 51, 57, 66, 73, 77, 94, 96, 97]
    assert vid.assign_split('val', 'x', 'ilsvrc', 0.1) == 'validation'
    assert vid.assign_split('train', 'x', 'ilsvrc', 0.1) == 'train'


def test_plan_does_not_depend_on_listing_order(monkeypatch, tmpdir):
    listing = [('train', 'ILSVRC2015_VID_train_0000/s%02d' % i, 's%02d' % i) for i in range(20)]
    monkeypatch.setattr(vid, 'list_snippets', lambda root: list(listing))
    first = shards.plan_shards(vid.plan('root'), 3)
    monkeypatch.setattr(vid, 'list_snippets', lambda root: list(reversed(listing)))
    assert shards.plan_shards(vid.plan('root'), 3) == first
    assert sum(len(t.units) for t in first) == 20
    for split in set(t.split for t in first):
        tasks = [t for t in first if t.split == split]
        n = sum(len(t.units) for t in tasks)
        assert all(t.count == len(tasks) == -(-n // 3) for t in tasks)


# -- pipeline runs on the sample data -----------------------------------------------------------

@pytest.fixture(scope='module')
def sample(sample_data, corrupt_sample_data, tmp_path_factory):
    """(clean root, its manifest, corrupt root, its manifest, a directory for outputs): the
    session's samples, read only."""
    return sample_data + corrupt_sample_data + (tmp_path_factory.mktemp('vid'),)


@pytest.fixture(scope='module')
def clean_run(sample):
    clean, manifest, _, _, root = sample
    out = str(root / 'out-clean')
    # the default runner: DirectRunner, multi_processing on all cores (--min-shards: the same
    # shards as the one-worker rerun below, whatever the core count)
    assert vid.main(['--data', os.path.join(clean, 'ILSVRC2015'), '--out', out,
                     '--units-per-shard', '2', '--min-shards', '2']) == 0
    return out, manifest


def _records(out, split):
    info, _, records = load_output(out, 'vid', vid_track.SCHEMA)
    return info, records[split]


def test_records_read_back_through_the_schema_decoder(clean_run, sample):
    out, manifest = clean_run
    clean = sample[0]
    info, train = _records(out, 'train')
    _, validation = _records(out, 'validation')
    records = train + validation
    counts = manifest['datasets']['vid']['clean']
    objects = counts['train']['objects'] + counts['val']['objects']
    assert info['counts']['objects'] == info['counts']['crops'] == objects
    assert sum(len(r['frame_encoded']) for r in records) == objects
    assert info['counts']['records'] == len(records) == info['counts']['tracks']
    assert info['schema'] == {'name': 'vid_track', 'version': 1}
    assert info['rejected'] == {}
    for split, recs in (('train', train), ('validation', validation)):
        shards = info['splits'][split]['shards']
        assert sum(s['records'] for s in shards) == len(recs)
        for s in shards:
            assert os.path.getsize(os.path.join(out, 'vid', s['file'])) > s['bytes']
            assert s['file'].startswith('%s/vid-%s.tfrecord-' % (split, split))
        assert all(r['split'].decode() == split for r in recs)
    for record in records:
        numbers = list(record['frame_number'])
        assert numbers == sorted(numbers)
        assert list(record['frame_position']) == list(range(len(numbers)))
        assert record['track_num_frames'] == len(numbers) and record['chunk_count'] == 1
        for crop, bbox, window in zip(record['frame_encoded'], record['frame_bbox'],
                                      record['crop_window']):
            image = cv2.imdecode(np.frombuffer(crop, np.uint8), cv2.IMREAD_COLOR)
            assert image.shape == (255, 255, 3)
    # one crop recomputed from its source frame is byte-identical to the stored crop
    record = records[0]
    key = record['track_key'].decode()
    source_split, snippet = key.split('/')[:2]
    folder = record['video_folder'].decode()
    frame = cv2.imread(os.path.join(clean, 'ILSVRC2015', 'Data', 'VID', source_split, folder,
                                    '%06d.JPEG' % record['frame_number'][0]))
    geometry = crop_geometry(*(tuple(record['frame_bbox'][0]) + (frame.shape[1], frame.shape[0])))
    expected = images.encode_jpeg(search_crop(frame, geometry, frame_mean_pad_value(frame)),
                                  vid.JPEG_QUALITY)
    assert expected == record['frame_encoded'][0]
    assert list(record['crop_window'][0]) == [geometry.x0, geometry.y0, geometry.x1, geometry.y1]


def test_rerun_is_byte_identical_and_existing_output_is_refused(clean_run, sample, tmpdir):
    out, _ = clean_run
    clean = sample[0]
    args = ['--data', os.path.join(clean, 'ILSVRC2015'), '--out', out, '--units-per-shard', '2',
            '--min-shards', '2']
    before = {p: open(p, 'rb').read() for p in glob.glob(os.path.join(out, 'vid', '*', '*'))}
    assert vid.main(args + FAST) == 1  # exists, no --overwrite
    assert vid.main(args + FAST + ['--overwrite']) == 0
    after = {p: open(p, 'rb').read() for p in glob.glob(os.path.join(out, 'vid', '*', '*'))}
    assert sorted(before) == sorted(after) and len(before) >= 2
    for path in before:
        assert before[path] == after[path], path
    assert not [d for d in os.listdir(out) if d.startswith('.')], 'temporary dir left behind'


@pytest.fixture(scope='module')
def corrupt_run(sample):
    """(output root, stderr) of the run on the corrupt sample."""
    _, _, bad, _, root = sample
    out = str(root / 'out-bad')
    # more than the default 5 % rejected: exit 1 with the counts, output kept for inspection
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert vid.main(['--data', os.path.join(bad, 'ILSVRC2015'), '--out', out] + FAST) == 1
    return out, err.getvalue()


def test_corrupt_inputs_are_reported_and_totals_reconcile(sample, corrupt_run):
    _, _, bad, manifest, root = sample
    out, err = corrupt_run
    assert 'more than --max-reject-fraction 0.05' in err and 'images seen' in err
    info = dataset_info.read(os.path.join(out, 'vid'), vid_track.SCHEMA)
    with open(os.path.join(out, 'vid', 'errors.jsonl')) as f:
        errors = [json.loads(line) for line in f]
    vid_root = os.path.join(bad, 'ILSVRC2015')
    expected = {(f['kind'], os.path.normpath(os.path.join(vid_root, f['path'])))
                for f in manifest['faults'] if f['dataset'] == 'vid'}
    found = {(e['reason'], os.path.normpath(e['path'])) for e in errors}
    assert found == expected
    for entry in errors:
        assert entry['detail'] and entry['split'] in ('train', 'validation')
        assert ' at 0x' not in entry['detail']
    counts = info['counts']
    assert counts['objects'] == counts['crops'] + sum(info['objects_rejected'].values())
    assert info['rejected']['object'] == {'box_outside_frame': 1, 'zero_area_box': 1,
                                          'box_past_margin': 1}
    assert info['rejected']['image'] == {'malformed_xml': 1, 'truncated_jpeg': 2,
                                         'bad_annotation': 6,
                                         'missing_frame': 1, 'size_mismatch': 1,
                                         'unreadable_file': 1, 'not_jpeg': 1,
                                         'missing_annotation': 1,
                                         **({'not_regular_file': 1} if hasattr(os, 'mkfifo')
                                            else {})}
    assert info['rejected']['unit'] == {'empty_sequence': 1, 'missing_annotations': 1}
    assert info['warnings'] == {'xml_names_other_frame': 1, 'track_class_changed': 1,
                                'single_frame_track': 1, 'exif_orientation': 1}
    # every level reconciles: seen = written + rejected + filtered
    for level, totals in info['totals'].items():
        assert totals['reconciled'] and totals['seen'] > 0, level
    assert info['totals']['unit']['rejected'] == 2
    # seen on disk: every frame that has a JPEG or an XML, also in the snippet without XMLs
    stems = set()
    for tree, ext in (('Data', '.JPEG'), ('Annotations', '.xml')):
        for path in glob.glob(os.path.join(vid_root, tree, 'VID', '*', '**', '*' + ext),
                              recursive=True):
            stems.add(os.path.relpath(path, os.path.join(vid_root, tree))[:-len(ext)])
    assert info['totals']['image']['seen'] == len(stems)
    assert info['images_rejected']['missing_annotations'] == 2
    assert info['max_frame_size'] == [180, 320]
    clean = manifest['datasets']['vid']['clean']
    assert counts['crops'] > clean['train']['objects'] + clean['val']['objects']
    # the frame is the annotation's own (frame 3), not the one its XML names (frame 5)
    records = [r for split in load_output(out, 'vid', vid_track.SCHEMA)[2].values()
               for r in split if r['video_name'] == b'ILSVRC2015_train_00900002']
    assert 3 in [n for r in records for n in r['frame_number']]


def test_errors_are_byte_identical_across_reruns(sample, corrupt_run, tmpdir):
    _, _, bad, _, _ = sample
    first = os.path.join(corrupt_run[0], 'vid', 'errors.jsonl')
    again = str(tmpdir)
    assert vid.main(['--data', os.path.join(bad, 'ILSVRC2015'), '--out', again] + FAST) == 1
    with open(first, 'rb') as a, open(os.path.join(again, 'vid', 'errors.jsonl'), 'rb') as b:
        assert a.read() == b.read()


@pytest.mark.parametrize('mode', [FAST, ['--direct_running_mode=multi_threading',
                                         '--direct_num_workers=2']])
def test_strict_stops_at_the_first_bad_input_with_one_line(sample, capsys, tmpdir, mode):
    """Also with runner workers (threads here): nothing is raised into Beam, whose workers and
    job service would log tracebacks before the driver sees the exception."""
    _, _, bad, _, _ = sample
    out = str(tmpdir)
    assert vid.main(['--data', os.path.join(bad, 'ILSVRC2015'), '--out', out, '--strict']
                    + mode) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if not line.startswith('[')]
    assert len(err) == 1, err
    assert re.match(r'strict: stopped at the first bad input: \w+: \S+ \(.+\)$', err[0])
    assert os.listdir(out) == []  # no output, no work directory, no lock


def test_long_tracks_are_cut_into_overlapping_chunks(sample):
    clean, _, _, _, root = sample
    out = str(root / 'out-chunks')
    assert vid.main(['--data', os.path.join(clean, 'ILSVRC2015'), '--out', out,
                     '--anchors-per-chunk', '3', '--max-frame-dist', '2'] + FAST) == 0
    _, train = _records(out, 'train')
    _, validation = _records(out, 'validation')
    by_track = {}
    for r in train + validation:
        by_track.setdefault(r['track_key'], []).append(r)
    assert any(len(chunks) > 1 for chunks in by_track.values())
    for chunks in by_track.values():
        chunks.sort(key=lambda r: r['chunk_index'])
        n = chunks[0]['track_num_frames']
        bounds = vid_track.chunk_bounds(n, 3, 2)
        assert len(chunks) == len(bounds) == chunks[0]['chunk_count']
        for record, (a, b, first, end) in zip(chunks, bounds):
            assert (record['chunk_anchor_begin'], record['chunk_anchor_end']) == (a, b)
            assert list(record['frame_position']) == list(range(first, end))
            assert record['chunk_max_frame_dist'] == 2
