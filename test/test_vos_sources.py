"""YouTube-VOS 2019 and MOSE -> vos_video records, the seeded hold-out split, its ground-truth
export, and OSMN on the records (pipelines/vos_sources.py, datasets/mose.py)."""
from __future__ import absolute_import, division, print_function

import json
import os

import numpy as np
import pytest
from PIL import Image

from datasets import mose as mose_data
from datasets import ytvos as ytvos_data
from pipelines import vos_sources
from pipelines.vos import Video
from record_files import load_output
from schemas import export, vos_video

FAST = ['--direct_running_mode=in_memory', '--direct_num_workers=1']


def _write(path, data=b''):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(data)


def _meta(root, split):
    with open(os.path.join(root, split, 'meta.json')) as f:
        return json.load(f)['videos']


def _ids(path):
    return np.array(Image.open(path))


def _by_video(records):
    return {r['video_id'].decode(): r for r in records}


# -- readers on hand-made trees -----------------------------------------------------------------

def test_mose_listing_meta_and_missing_split(tmpdir):
    root = str(tmpdir)
    _write(os.path.join(root, 'train', 'JPEGImages', 'aa', '00000.jpg'))
    _write(os.path.join(root, 'train', 'Annotations', 'bb', '00000.png'))
    assert mose_data.list_videos(root, 'train') == ['aa', 'bb']
    assert mose_data.read_meta(root, 'train') is None   # the release ships none
    with pytest.raises(FileNotFoundError, match='valid/JPEGImages/ not found .*--splits train'):
        mose_data.list_videos(root, 'valid')
    _write(os.path.join(root, 'train', 'meta.json'), b'{"videos": []}')
    with pytest.raises(ValueError, match='"videos" must map video ids'):
        mose_data.read_meta(root, 'train')
    with pytest.raises(FileNotFoundError, match='--data must be the MOSE root'):
        mose_data.list_videos(str(tmpdir / 'elsewhere'), 'train')


def test_video_categories_skip_entries_the_converter_rejects():
    meta = {'v1': {'objects': {'1': {'category': 'dog', 'frames': ['00000']},
                               '2': {'category': 'cat', 'frames': ['00005']},
                               'x': {'category': 'fish', 'frames': []},
                               '3': {'category': '', 'frames': []}}},
            'v2': {'objects': 'not objects'}, 'v3': {}}
    assert ytvos_data.video_categories(meta) == {'v1': ['cat', 'dog'], 'v2': [], 'v3': []}


# -- the hold-out choice ------------------------------------------------------------------------

CATEGORIES = {'a': ['dog'], 'b': ['dog', 'cat'], 'c': ['cat'], 'd': ['person'],
              'e': ['person', 'dog'], 'f': ['lizard'], 'g': ['cat'], 'h': ['dog']}


def _check_holdout(holdout, categories, count):
    held = set(holdout.videos)
    train = set(categories) - held
    assert len(held) == count
    train_categories = set(c for v in train for c in categories[v])
    assert set(holdout.seen_categories) == train_categories
    for category in holdout.unseen_categories:   # a whole category left train
        assert category not in train_categories
        assert {v for v in categories if category in categories[v]} <= held
    for video in held:   # every other category of a held-out video is still in train
        assert set(categories[video]) - set(holdout.unseen_categories) <= train_categories
    seen_videos = [v for v in held if not set(categories[v]) & set(holdout.unseen_categories)]
    assert seen_videos   # the split scores seen categories too


@pytest.mark.parametrize('count,unseen', [(1, 0), (3, 1), (4, 1), (6, 2)])
def test_holdout_is_seeded_and_holds_whole_categories(count, unseen):
    picks = {}
    for seed in range(6):
        holdout = vos_sources.pick_holdout(CATEGORIES, count, unseen, seed)
        _check_holdout(holdout, CATEGORIES, count)
        assert len(holdout.unseen_categories) >= unseen
        again = vos_sources.pick_holdout(dict(reversed(list(CATEGORIES.items()))), count,
                                         unseen, seed)
        assert again.videos == holdout.videos   # the seed decides, not the listing order
        picks[seed] = (holdout.videos, holdout.unseen_categories)
    assert len(set(picks.values())) > 1   # another seed, another choice


def test_holdout_requests_that_cannot_be_met_are_one_line_errors():
    with pytest.raises(ValueError, match='--holdout 8: the train split has 8 usable videos'):
        vos_sources.pick_holdout(CATEGORIES, 8)
    with pytest.raises(ValueError, match='cannot hold out 4 whole categories'):
        vos_sources.pick_holdout(CATEGORIES, 2, 4)
    with pytest.raises(ValueError, match='videos fit in 0, leaving a seen video'):
        vos_sources.pick_holdout(CATEGORIES, 1, 1)
    with pytest.raises(ValueError, match='no categories .MOSE without meta.json'):
        vos_sources.pick_holdout({'a': [], 'b': []}, 1, 1)
    # 'x' and 'y' have one video each and 'dog' two: only one video can go and keep them seen
    with pytest.raises(ValueError, match='only 1 videos can leave train'):
        vos_sources.pick_holdout({'a': ['dog'], 'b': ['dog'], 'c': ['x'], 'd': ['y']}, 3)
    holdout = vos_sources.pick_holdout({'a': [], 'b': [], 'c': []}, 2)
    assert len(holdout.videos) == 2 and holdout.unseen_categories == ()
    assert holdout.holds(Video('train', holdout.videos[0]))
    assert not holdout.holds(Video('valid', holdout.videos[0]))


# -- YouTube-VOS 2019 with a hold-out split -----------------------------------------------------

@pytest.fixture(scope='module')
def ytvos2019(sample_data, ytvos2019_records):
    root = os.path.join(sample_data[0], 'youtube-vos-2019')
    out, name = os.path.split(ytvos2019_records)
    info, errors, by_split = load_output(out, name, vos_video.SCHEMA)
    with open(os.path.join(ytvos2019_records, vos_sources.HOLDOUT_FILE)) as f:
        listing = json.load(f)
    return root, info, errors, by_split, listing


def test_holdout_is_listed_and_leaves_train(ytvos2019):
    root, info, errors, by_split, listing = ytvos2019
    assert errors == [] and info['name'] == vos_video.YTVOS2019
    assert info['options']['holdout'] == listing and info['options']['year'] == '2019'
    assert listing['seed'] == 0 and len(listing['videos']) == 3
    assert len(listing['unseen_categories']) >= 1
    assert info['splits'][vos_video.HOLDOUT_SPLIT]['source_split'] == 'train'
    meta = _meta(root, 'train')
    categories = ytvos_data.video_categories(meta)
    train, held = _by_video(by_split['train']), _by_video(by_split[vos_video.HOLDOUT_SPLIT])
    assert sorted(held) == listing['videos']
    assert sorted(train) == sorted(set(meta) - set(listing['videos']))
    for video, record in train.items():
        assert not set(categories[video]) & set(listing['unseen_categories'])
        assert record['split'] == b'train' and not record['object_unseen'].any()
    assert listing['seen_categories'] == sorted(set(c for v in train for c in categories[v]))
    unseen = set(listing['unseen_categories'])
    assert listing['unseen_videos'] == sorted(v for v in held if unseen & set(categories[v]))
    assert listing['unseen_videos'] and set(listing['unseen_videos']) < set(held)
    for video, record in held.items():
        assert record['split'] == b'holdout' and record['source_split'] == b'train'
        objects = meta[video]['objects']
        assert [objects[str(i)]['category'].encode() for i in record['object_ids']] == \
            list(record['object_category'])
        assert list(record['object_unseen']) == [int(c.decode() in unseen)
                                                 for c in record['object_category']]


def test_holdout_records_hold_every_annotated_frame(ytvos2019):
    root, _, _, by_split, _ = ytvos2019
    for video, record in _by_video(by_split[vos_video.HOLDOUT_SPLIT]).items():
        masks = sorted(os.listdir(ytvos_data.annotation_dir(root, 'train', video)))
        assert [n.decode() + '.png' for n in record['frame_name']] == masks
        assert list(record['frame_has_mask']) == [1] * len(masks)


def test_holdout_ground_truth_export_is_the_source_masks(ytvos2019, ytvos2019_records, tmpdir):
    root, _, _, _, listing = ytvos2019
    gt = str(tmpdir / 'gt')
    counts = export.export(ytvos2019_records, gt, vos_video.HOLDOUT_SPLIT, masks_only=True)
    assert sorted(os.listdir(gt)) == listing['videos'] and counts['videos'] == 3
    for video in listing['videos']:
        source = ytvos_data.annotation_dir(root, 'train', video)
        assert sorted(os.listdir(os.path.join(gt, video))) == sorted(os.listdir(source))
        for name in os.listdir(source):
            np.testing.assert_array_equal(_ids(os.path.join(gt, video, name)),
                                          _ids(os.path.join(source, name)))
    with pytest.raises(export.ExportError, match='exists'):
        export.export(ytvos2019_records, gt, vos_video.HOLDOUT_SPLIT, masks_only=True)


def test_holdout_flags_that_cannot_be_met_exit_with_one_line(sample_data, tmpdir, capsys):
    data = os.path.join(sample_data[0], 'youtube-vos-2019')
    for extra, message in ((['--holdout-unseen', '1'], '--holdout-unseen needs --holdout N'),
                           (['--holdout', '99'], '--holdout 99: the train split has 6'),
                           (['--holdout', '2', '--splits', 'valid'], 'add train to --splits')):
        assert vos_sources.ytvos_main(['--data', data, '--out', str(tmpdir), '--year', '2019']
                                      + extra + FAST) == 1
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert os.listdir(str(tmpdir)) == []


# -- MOSE ---------------------------------------------------------------------------------------

def test_mose_objects_come_from_the_masks(sample_data, mose_records):
    root = os.path.join(sample_data[0], 'MOSE')
    out, name = os.path.split(mose_records)
    info, errors, by_split = load_output(out, name, vos_video.SCHEMA)
    assert errors == [] and info['name'] == vos_video.MOSE
    assert info['splits']['validation']['source_split'] == 'valid'
    for split, source in (('train', 'train'), ('validation', 'valid')):
        for video, record in _by_video(by_split[split]).items():
            mask_dir = mose_data.annotation_dir(root, source, video)
            masks = {n[:-4]: _ids(os.path.join(mask_dir, n)) for n in os.listdir(mask_dir)}
            names = [n.decode() for n in record['frame_name']]
            assert names == ['%05d' % t for t in range(len(names))]
            assert [int(n in masks) for n in names] == list(record['frame_has_mask'])
            first = {}
            for t, n in enumerate(names):
                for value in np.unique(masks.get(n, 0)):
                    if value:
                        first.setdefault(int(value), t)
            assert list(record['object_ids']) == sorted(first)
            assert list(record['object_first_frame']) == [first[i] for i in sorted(first)]
            assert set(record['object_category']) <= {b''}
            rows = np.split(record['object_frames'],
                            np.cumsum(record['object_frames_row_lengths'])[:-1])
            assert [list(r) for r in rows] == [list(range(first[i], len(names)))
                                               for i in sorted(first)]
            if split == 'validation':
                assert sorted(masks) == ['00000']


EXPECTED_DEAD_LETTERS = {
    'ytvos2019': ('ytvos', '2019', {('object', 'unknown_object_id'),
                                    ('image', 'frame_size_mismatch'), ('unit', 'empty_sequence')}),
    'mose': ('mose', None, {('image', 'mask_wrong_size'), ('warning', 'missing_mask'),
                            ('unit', 'missing_annotations'), ('unit', 'empty_sequence')}),
}


@pytest.mark.parametrize('name', sorted(EXPECTED_DEAD_LETTERS))
def test_bad_input_becomes_dead_letters_naming_the_file(corrupt_sample_data, tmpdir, name):
    data, manifest = corrupt_sample_data
    command, year, expected = EXPECTED_DEAD_LETTERS[name]
    main = vos_sources.mose_main if command == 'mose' else vos_sources.ytvos_main
    root = os.path.join(data, manifest['datasets'][name]['root'])
    out = str(tmpdir)
    assert main(['--data', root, '--out', out, '--max-reject-fraction', '1']
                + (['--year', year] if year else []) + FAST) == 0
    _, errors, _ = load_output(out, name, vos_video.SCHEMA)
    assert set((e['level'], e['reason']) for e in errors) == expected
    faults = [f for f in manifest['faults'] if f['dataset'] == name]
    assert sorted(f['kind'] for f in faults) == sorted(r for _, r in expected)
    for fault in faults:   # each dead letter names the file the manifest broke
        assert any(e['path'].endswith(fault['path']) or fault['path'] in e['path']
                   for e in errors if e['reason'] == fault['kind']), fault


# -- OSMN on the records ------------------------------------------------------------------------

@pytest.mark.slow   # an OSMN graph build, 2 steps and a segmentation (~40 s on 2 busy cores)
def test_osmn_trains_on_2019_records_and_segments_a_held_out_video(ytvos2019,
                                                                   ytvos2019_records, tmpdir):
    from segmenters import __main__ as segment_cli
    from trainers.osmn import train
    run_dir = str(tmpdir / 'run')
    assert train.main([
        '--stage', 'ytvos', '--records', ytvos2019_records, '--run-dir', run_dir,
        '--steps', '2', '--device', 'cpu', '--random-init-for-tests',
        '--set', 'model.width=0.0625', '--set', 'input.input_scale=0.25',
        '--set', 'input.batch_size=2', '--set', 'input.sample_shuffle=8',
        '--set', 'input.validation_split=holdout', '--set', 'train.validation_batches=1']) == 0
    _, _, _, _, listing = ytvos2019
    video = listing['videos'][0]
    out = str(tmpdir / 'segment')
    assert segment_cli.main(['--run', run_dir, '--out', out, '--device', 'cpu', '--records',
                             ytvos2019_records, '--split', vos_video.HOLDOUT_SPLIT,
                             '--videos', video]) == 0
    written = [os.path.join(base, n) for base, _, files in os.walk(out) for n in files
               if n.endswith('.png')]
    assert written and all(video in path for path in written)


def _one_object_record(dataset):
    """A 3-frame record whose object is listed on every frame but non-blank on frame 0 only."""
    context = dict(dataset=dataset, split='train', source_split='train', video_id='v',
                   height=4, width=4, num_frames=3, object_ids=[1], object_category=['dog'],
                   object_unseen=[0], object_first_frame=[0], object_frames=[[0, 1, 2]],
                   object_nonblank_frames=[[0]], object_valid_guide_frames=[[0]])
    steps = dict(frame_name=['00000', '00005', '00010'], frame_image=[b'a', b'b', b'c'],
                 frame_mask=[b'm0', b'm1', b'm2'], frame_has_mask=[1, 1, 1],
                 frame_object_bbox=[[[0, 0, 1, 1]], [[-1] * 4], [[-1] * 4]],
                 frame_object_area=[[4], [0], [0]])
    return vos_video.encode(context, steps)


@pytest.mark.parametrize('dataset,images', [
    (vos_video.YTVOS2018, [b'b', b'c']), (vos_video.YTVOS2019, [b'b', b'c']),
    (vos_video.MOSE, []), (vos_video.DAVIS2017, [])])
def test_trainer_pairs_meta_listed_frames_of_youtube_vos_and_nonblank_ones_elsewhere(
        dataset, images):
    import tensorflow as tf
    from trainers.osmn import data
    with tf.Graph().as_default():
        pairs = data.video_pairs(tf.constant(0, tf.int64), tf.constant(
            _one_object_record(dataset)), 0, {'randomize_guide': False})
        # initializable: a one-shot iterator would capture the graph as a function (~30 s)
        iterator = tf.compat.v1.data.make_initializable_iterator(pairs)
        element, found = iterator.get_next(), []
        with tf.compat.v1.Session() as sess:
            sess.run(iterator.initializer)
            while True:
                try:
                    found.append(sess.run(element['image']))
                except tf.errors.OutOfRangeError:
                    break
    assert found == images


def test_holdout_candidates_are_train_videos_on_disk_with_a_usable_entry(tmpdir):
    root = str(tmpdir)
    for video in ('on_disk', 'bad_entry', 'not_in_meta'):
        _write(os.path.join(root, 'train', 'JPEGImages', video, '00000.jpg'))
    meta = {'on_disk': {'objects': {'1': {'category': 'dog', 'frames': ['00000']}}},
            'bad_entry': {'objects': []}, 'absent': {'objects': {}}}
    assert vos_sources.train_categories(root, meta) == {'on_disk': ['dog']}
    assert vos_sources.train_categories(root, None) == {
        'on_disk': [], 'bad_entry': [], 'not_in_meta': []}


def _mose_tree(root, masks):
    """train/ video 'v' of 8x6 frames with the given masks ({frame: labels})."""
    from datasets.palette import palette_png_bytes
    from sampledata.common import jpeg_bytes
    for t in range(3):
        _write(os.path.join(root, 'train', 'JPEGImages', 'v', '%05d.jpg' % t),
               jpeg_bytes(np.full((6, 8, 3), 40 * t, np.uint8)))
    for t, labels in masks.items():
        _write(os.path.join(root, 'train', 'Annotations', 'v', '%05d.png' % t),
               palette_png_bytes(labels))


def _convert_one(converter):
    from pipelines.converter import UnitResult
    result = UnitResult()
    converter.setup()
    converter.convert(Video('train', 'v'), result)
    records = [vos_video.read(serialized) for _, serialized in result.records]
    return records, [(e['level'], e['reason']) for e in result.rejections]


def test_mose_converter_on_a_hand_made_tree(tmpdir):
    labels = np.zeros((6, 8), np.uint8)
    labels[:2, :2], labels[4:, 6:] = 1, 255                 # object 1 and void
    later = labels.copy()
    later[3:5, 2:4] = 3                                      # object 3 enters at frame 1
    root = str(tmpdir / 'mose')
    _mose_tree(root, {0: labels, 1: later})                  # frame 2 lacks its mask
    (record,), problems = _convert_one(vos_sources.MoseConverter(root))
    assert problems == [('warning', 'missing_mask')]
    assert list(record['object_ids']) == [1, 3] and list(record['object_first_frame']) == [0, 1]
    assert list(record['object_category']) == [b'', b''] and record['dataset'] == b'mose'
    assert [list(rows) for rows in record['object_frames']] == [[0, 1, 2], [1, 2]]
    assert list(record['frame_has_mask']) == [1, 1, 0]
    # with a meta.json it is read as YouTube-VOS's: categories, and ids it lacks rejected
    _write(os.path.join(root, 'train', 'meta.json'), json.dumps({'videos': {'v': {'objects': {
        '1': {'category': 'fish', 'frames': ['00000', '00001']}}}}}).encode())
    (record,), problems = _convert_one(vos_sources.MoseConverter(root))
    assert list(record['object_ids']) == [1] and list(record['object_category']) == [b'fish']
    assert ('object', 'unknown_object_id') in problems
    # void only: written without objects, and said so
    root = str(tmpdir / 'void')
    _mose_tree(root, {t: np.where(labels == 255, 255, 0).astype(np.uint8) for t in range(3)})
    (record,), problems = _convert_one(vos_sources.MoseConverter(root))
    assert list(record['object_ids']) == [] and problems == [('warning', 'no_objects')]


@pytest.mark.slow   # MOSE records, an OSMN graph build, 2 steps, two segmentations (~40 s)
def test_mose_trains_segments_scores_a_held_out_split_and_packs_its_valid_split(sample_data,
                                                                                 tmpdir):
    """MOSE end to end: records with a seeded hold-out split (MOSE has no categories: nothing
    unseen), 2 OSMN steps, the hold-out videos segmented and scored by J&F against their
    exported ground truth, the valid split segmented and packed for the server, complete."""
    from evaluation import vos as vos_eval
    from segmenters import __main__ as segment_cli
    from segmenters import submission
    from trainers.osmn import train
    root = os.path.join(sample_data[0], 'MOSE')
    out = str(tmpdir / 'records')
    assert vos_sources.mose_main(['--data', root, '--out', out, '--holdout', '2'] + FAST) == 0
    records = os.path.join(out, 'mose')
    holdout = json.load(open(os.path.join(records, 'holdout.json')))
    assert len(holdout['videos']) == 2 and holdout['unseen_categories'] == []
    run_dir = str(tmpdir / 'run')
    assert train.main([
        '--stage', 'ytvos', '--records', records, '--run-dir', run_dir, '--steps', '2',
        '--device', 'cpu', '--random-init-for-tests', '--set', 'model.width=0.0625',
        '--set', 'input.input_scale=0.25', '--set', 'input.batch_size=2',
        '--set', 'input.sample_shuffle=8', '--set', 'input.validation_split=holdout',
        '--set', 'train.validation_batches=1']) == 0
    segmented = str(tmpdir / 'holdout')
    assert segment_cli.main(['--run', run_dir, '--out', segmented, '--device', 'cpu',
                             '--records', records, '--split', vos_video.HOLDOUT_SPLIT]) == 0
    gt = str(tmpdir / 'gt')
    export.main(records, gt, split=vos_video.HOLDOUT_SPLIT, masks_only=True)
    assert sorted(os.listdir(gt)) == sorted(holdout['videos'])
    results = os.path.join(segmented, 'Annotations')
    if not os.path.isdir(results):
        results = segmented
    assert vos_eval.main(['--gt', gt, '--results', results, '--out', str(tmpdir / 'eval')]) == 0
    report = json.load(open(str(tmpdir / 'eval' / 'report.json')))
    assert 0 <= report['global']['J&F-Mean'] <= 1
    valid = str(tmpdir / 'valid')
    assert segment_cli.main(['--run', run_dir, '--out', valid, '--device', 'cpu',
                             '--records', records, '--split', 'validation']) == 0
    summary = submission.build('mose', valid, root)
    assert summary['complete'] and summary['problems'] == 0
