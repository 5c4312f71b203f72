"""GOT-10k, LaSOT and generic sequence folders -> vid_track records: the readers on hand-made
trees, the pipeline on the sample (absent frames never in a track, crops byte-identical to VID's
curation of the same frame and box, sources), and a dead letter for each bad input."""
from __future__ import absolute_import, division, print_function

import json
import os

import cv2
import numpy as np
import pytest

from datasets import got10k, images, lasot, track_folders
from datasets.track_folders import TrackSequenceError, box_value_problem, inclusive_box
from datasets.tracking import SequenceError
from pipelines import track
from pipelines.vid_crop import crop_geometry, frame_mean_pad_value, needs_padding, search_crop
from schemas import dataset_info, tfrecord, vid_track
FAST_BEAM = ['--direct_running_mode=in_memory', '--direct_num_workers=1']


def _frames(folder, count, size=(40, 30), start=1, digits=8):
    os.makedirs(folder, exist_ok=True)
    for n in range(start, start + count):
        image = np.full((size[1], size[0], 3), 10 * n, np.uint8)
        cv2.imwrite(os.path.join(folder, '%0*d.jpg' % (digits, n)), image)


def _write(path, text, mode='w'):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, mode) as f:
        f.write(text)


def _got10k_tree(root, boxes=('1,2,10,12',) * 4, absence='0\n0\n1\n0\n', cover='8\n5\n0\n0\n',
                 frames=4):
    seq = os.path.join(root, 'train', 'GOT-10k_Train_000001')
    _frames(seq, frames)
    _write(os.path.join(root, 'train', 'list.txt'), u'\ufeffGOT-10k_Train_000001\r\n')
    _write(os.path.join(seq, 'groundtruth.txt'), '\n'.join(boxes) + '\n')
    for name, text in (('absence.label', absence), ('cover.label', cover),
                       ('cut_by_image.label', '0\n' * frames)):
        if text is not None:
            _write(os.path.join(seq, name), text)
    _write(os.path.join(seq, 'meta_info.ini'), '[METAINFO]\nobject_class: giant panda\n'
                                               'resolution: (40, 30)\n')
    return seq


def _records(out, name):
    info = dataset_info.read(os.path.join(out, name), vid_track.SCHEMA)
    by_split = {}
    for split, entry in info['splits'].items():
        by_split[split] = [_arrays(vid_track.read(r)) for shard in entry['shards']
                           for r in tfrecord.read_records(os.path.join(out, name, shard['file']))]
    return info, by_split


def _arrays(record):
    """The per-frame numeric fields of a decoded record as numpy arrays."""
    return {k: np.asarray(v) if isinstance(v, list) and k != 'frame_encoded' else v
            for k, v in record.items()}


def _errors(out, name):
    with open(os.path.join(out, name, 'errors.jsonl')) as f:
        return [json.loads(line) for line in f]


def _text(value):
    return value.decode('utf-8') if isinstance(value, bytes) else str(value)


# -- readers ---------------------------------------------------------------------------------

def test_got10k_reader_labels_classes_and_list_file(tmpdir):
    root = str(tmpdir)
    _got10k_tree(root)
    assert got10k.list_sequences(root, 'train') == ['GOT-10k_Train_000001']   # BOM, CRLF
    seq = got10k.read_sequence(root, 'train', 'GOT-10k_Train_000001')
    assert seq.origin == 0 and seq.object_class == 'giant panda'
    assert seq.folder == 'train/GOT-10k_Train_000001' and len(seq.frames) == 4
    # absent: absence 1 (frame 3) or cover 0 (frames 3 and 4); occluded: cover < 8
    assert seq.absent.tolist() == [False, False, True, True]
    assert seq.occluded.tolist() == [0, 1, 1, 1]
    assert seq.boxes.tolist()[0] == [1, 2, 10, 12]


def test_got10k_test_split_has_only_the_first_box(tmpdir):
    root = str(tmpdir)
    seq_dir = os.path.join(root, 'test', 'GOT-10k_Test_000001')
    _frames(seq_dir, 5)
    _write(os.path.join(seq_dir, 'groundtruth.txt'), '3.0000,4.0000,20.0000,10.0000\n')
    seq = got10k.read_sequence(root, 'test', 'GOT-10k_Test_000001')
    assert seq.boxes.shape == (1, 4) and len(seq.frames) == 5
    with pytest.raises(ValueError, match='only the first box'):
        track.plan_got10k(root, ('train', 'test'))


@pytest.mark.parametrize('change, reason, detail', [
    (dict(boxes=('1,2,10,12',) * 5), 'box_count_mismatch', '5 boxes but 4 frames'),
    (dict(absence=None), 'missing_label_file', 'label file missing'),
    (dict(cover='8\n9\n8\n8\n'), 'bad_label_file', 'cover levels outside 0..8: [9]'),
    (dict(cover='8\n8\n8\n'), 'label_count_mismatch', '3 labels but 4 frames'),
    (dict(absence='0\nx\n0\n0\n'), 'bad_label_file', 'not integers'),
])
def test_got10k_bad_sequences_name_the_file_and_reason(tmpdir, change, reason, detail):
    root = str(tmpdir)
    _got10k_tree(root, **change)
    with pytest.raises(TrackSequenceError) as err:
        got10k.read_sequence(root, 'train', 'GOT-10k_Train_000001')
    assert err.value.reason == reason and detail in err.value.detail
    assert err.value.images == 4 and str(err.value).startswith(root)


def test_missing_frame_is_named_in_the_count_mismatch(tmpdir):
    root = str(tmpdir)
    seq = _got10k_tree(root)
    os.remove(os.path.join(seq, '00000002.jpg'))
    with pytest.raises(TrackSequenceError, match='frame numbers missing: 2'):
        got10k.read_sequence(root, 'train', 'GOT-10k_Train_000001')


def test_lasot_test_split_is_the_official_280_sequences():
    names = lasot.test_set()
    assert len(names) == 280 and len(set(names)) == 280
    per_class = {}
    for name in names:
        per_class.setdefault(lasot.class_of(name), []).append(name)
    assert len(per_class) == 70 and set(map(len, per_class.values())) == {4}
    # the list the got10k toolkit ships (its LaSOT split file) as the oracle
    import got10k as toolkit
    with open(os.path.join(os.path.dirname(toolkit.__file__), 'datasets', 'lasot.json')) as f:
        official = json.load(f)
    assert names == sorted(official['test'])
    assert not set(official['train']) & set(names) and len(official['train']) == 1120


def _lasot_sequence(root, name, frames=3, occlusion='0,1,0', out_of_view='0,0,1'):
    seq = os.path.join(root, lasot.class_of(name), name)
    _frames(os.path.join(seq, 'img'), frames)
    _write(os.path.join(seq, 'groundtruth.txt'), '5,6,10,10\n' * frames)
    for file_name, text in (('full_occlusion.txt', occlusion), ('out_of_view.txt', out_of_view)):
        if text is not None:
            _write(os.path.join(seq, file_name), text + '\n')
    return seq


def test_lasot_reader_splits_flags_and_split_file(tmpdir):
    root = str(tmpdir)
    for name in ('airplane-1', 'airplane-2', 'rubicCube-6', 'rubicCube-7'):
        _lasot_sequence(root, name)
    assert lasot.list_sequences(root, 'test') == ['airplane-1', 'rubicCube-6']
    assert lasot.list_sequences(root, 'train') == ['airplane-2', 'rubicCube-7']
    split_file = str(tmpdir.join('mine.txt'))
    _write(split_file, 'rubicCube-7\r\nairplane-1\r\n')
    assert lasot.list_sequences(root, 'train', split_file) == ['rubicCube-7', 'airplane-1']
    _write(split_file, 'cat-3\n')
    with pytest.raises(SequenceError, match='1 sequence.*cat-3'):
        lasot.list_sequences(root, 'train', split_file)
    seq = lasot.read_sequence(root, 'rubicCube-7')
    assert seq.origin == 1 and seq.object_class == 'rubicCube'
    assert seq.folder == 'rubicCube/rubicCube-7'
    assert seq.absent.tolist() == [False, True, True]


def test_lasot_missing_or_short_flag_files(tmpdir):
    root = str(tmpdir)
    _lasot_sequence(root, 'cat-2', out_of_view=None)
    with pytest.raises(TrackSequenceError) as err:
        lasot.read_sequence(root, 'cat-2')
    assert err.value.reason == 'missing_label_file' and err.value.path.endswith('out_of_view.txt')
    _lasot_sequence(root, 'cat-4', occlusion='0,0')
    with pytest.raises(TrackSequenceError, match='2 labels but 3 frames'):
        lasot.read_sequence(root, 'cat-4')


def test_generic_folders_otb_and_got10k_styles(tmpdir):
    root = str(tmpdir)
    _frames(os.path.join(root, 'Jogging', 'img'), 3, digits=4)
    _write(os.path.join(root, 'Jogging', 'groundtruth_rect.1.txt'), '1\t1\t5\t5\n' * 3)
    _write(os.path.join(root, 'Jogging', 'groundtruth_rect.2.txt'), '2 2 6 6\n' * 3)
    _frames(os.path.join(root, 'set', 'clip'), 2)
    _write(os.path.join(root, 'set', 'clip', 'groundtruth.txt'), '0,0,4,4\n1,1,4,4\n')
    _write(os.path.join(root, 'set', 'clip', 'absence.label'), '0\n1\n')
    assert track_folders.sequence_folders(root) == ['Jogging', 'set/clip']
    jogging = track_folders.folder_sequences(root, 'Jogging')
    assert [s.name for s in jogging] == ['Jogging.1', 'Jogging.2']
    assert jogging[0].origin == 1 and jogging[1].boxes.tolist()[0] == [2, 2, 6, 6]
    clip, = track_folders.folder_sequences(root, 'set/clip')
    assert clip.origin == 0 and clip.absent.tolist() == [False, True]
    assert track_folders.folder_sequences(root, 'set/clip', origin=1)[0].origin == 1
    with pytest.raises(SequenceError, match='holds no sequence folder'):
        track_folders.sequence_folders(str(tmpdir.mkdir('empty')))


def test_boxes_become_vid_inclusive_boxes():
    # OTB 1-based (10, 20, 5, 6): pixels 9..13 x 19..24 in 0-based, inclusive
    assert inclusive_box(np.array([10, 20, 5, 6.]), 1) == (9, 19, 13, 24)
    assert inclusive_box(np.array([0, 0, 1, 1.]), 0) == (0, 0, 0, 0)
    # non-integer edges round to the nearest pixel edge (half to even)
    # left 2.4 -> 2, right 12.6 -> 13 (xmax 12); top 3.5 -> 4, bottom 7.5 -> 8 (ymax 7)
    assert inclusive_box(np.array([2.4, 3.5, 10.2, 4.0]), 0) == (2, 4, 12, 7)
    assert box_value_problem(np.array([np.nan] * 4))[0] == 'nan_box'
    assert box_value_problem(np.array([1, 1, -3, 4.]))[0] == 'zero_area_box'
    assert box_value_problem(np.array([1, 1, 3, 0.]))[0] == 'zero_area_box'
    assert box_value_problem(np.array([-5, -5, 3, 4.])) is None   # partly outside: padded


def test_sample_got10k_reads_with_the_got10k_toolkit_as_with_ours(sample_data):
    from got10k.datasets import GOT10k
    root = os.path.join(sample_data[0], 'GOT-10k')
    for split in ('train', 'val'):
        toolkit = GOT10k(root, subset=split, return_meta=True)
        assert list(toolkit.seq_names) == got10k.list_sequences(root, split)
        for name in toolkit.seq_names:
            frames, boxes, meta = toolkit[name]
            ours = got10k.read_sequence(root, split, name)
            assert frames == ours.frames and np.array_equal(boxes, ours.boxes)
            absent = (meta['absence'] == 1) | (meta['cover'] == 0)
            assert absent.tolist() == ours.absent.tolist()
            assert meta['object_class'] == ours.object_class
    test = GOT10k(root, subset='test')
    frames, boxes = test[0]
    ours = got10k.read_sequence(root, 'test', test.seq_names[0])
    assert np.array_equal(boxes, ours.boxes) and len(frames) == len(ours.frames)


# -- records of the sample -------------------------------------------------------------------

def _present_numbers(seq_dir, absent_files):
    count = len([f for f in os.listdir(seq_dir) if f.endswith('.jpg')])
    absent = np.zeros(count, bool)
    for path, absent_value in absent_files:
        absent |= track_folders.read_flags(os.path.join(seq_dir, path), count) == absent_value
    return [n + 1 for n in range(count) if not absent[n]]


def test_got10k_records_leave_absent_frames_out_of_every_pair(got10k_records, sample_data):
    info, by_split = _records(os.path.dirname(got10k_records), 'got10k')
    clean = sample_data[1]['datasets']['got10k']['clean']
    assert info['sources'] == ['got10k:train']
    assert info['splits']['validation']['sources'] == ['got10k:val']
    assert info['splits']['validation']['source_split'] == 'val'
    assert {s: len(r) for s, r in by_split.items()} == {'train': clean['train']['sequences'],
                                                         'validation': clean['val']['sequences']}
    present = sum(clean[s]['frames'] - clean[s]['absent_frames'] for s in ('train', 'val'))
    assert info['counts']['crops'] == present > 0
    assert info['counts']['absent_frames'] == clean['train']['absent_frames'] + \
        clean['val']['absent_frames'] > 0
    root = os.path.join(sample_data[0], 'GOT-10k')
    for split, records in by_split.items():
        for record in records:
            source_split = _text(record['source_split'])
            seq_dir = os.path.join(root, source_split, _text(record['video_name']))
            wanted = _present_numbers(seq_dir, [('absence.label', 1), ('cover.label', 0)])
            # what the pair sampler reads (trainers/sasiam/data.py: track_num_frames, the
            # chunk's stored frames) holds the present frames only, in order
            assert record['frame_number'].tolist() == wanted
            assert record['frame_position'].tolist() == list(range(len(wanted)))
            assert int(record['track_num_frames']) == len(wanted)
            assert _text(record['split']) == split
            assert _text(record['track_key']) == '%s/%s/00' % (
                source_split, _text(record['video_name']))


def test_crops_are_byte_identical_to_vid_curation_of_the_same_frame(got10k_records, sample_data):
    _, by_split = _records(os.path.dirname(got10k_records), 'got10k')
    record = by_split['train'][0]
    root = os.path.join(sample_data[0], 'GOT-10k')
    seq_dir = os.path.join(root, 'train', _text(record['video_name']))
    boxes = np.loadtxt(os.path.join(seq_dir, 'groundtruth.txt'), delimiter=',')
    checked = 0
    for k, number in enumerate(record['frame_number'].tolist()):
        frame = images.decode_jpeg(images.read_file(os.path.join(seq_dir, '%08d.jpg' % number)))
        x, y, w, h = [int(v) for v in boxes[number - 1]]
        xyxy = (x, y, x + w - 1, y + h - 1)
        assert record['frame_bbox'][k].tolist() == list(xyxy)
        geometry = crop_geometry(xyxy[0], xyxy[1], xyxy[2], xyxy[3], frame.shape[1],
                                 frame.shape[0])
        pad = frame_mean_pad_value(frame) if needs_padding(geometry) else None
        expected = images.encode_jpeg(search_crop(frame, geometry, pad), track.JPEG_QUALITY)
        assert record['frame_encoded'][k] == expected
        assert record['crop_window'][k].tolist() == [geometry.x0, geometry.y0, geometry.x1,
                                                     geometry.y1]
        checked += 1
    assert checked >= 3


def test_lasot_records_hold_the_train_split_only(lasot_records, sample_data):
    info, by_split = _records(os.path.dirname(lasot_records), 'lasot')
    assert info['sources'] == ['lasot:train'] and list(by_split) == ['train']
    names = sorted(_text(r['video_name']) for r in by_split['train'])
    assert names == ['airplane-2', 'bear-1']    # airplane-1 and bear-2 are LaSOT test
    for record in by_split['train']:
        name = _text(record['video_name'])
        seq_dir = os.path.join(sample_data[0], 'LaSOT', lasot.class_of(name), name)
        flags = [('../full_occlusion.txt', 1), ('../out_of_view.txt', 1)]
        wanted = _present_numbers(os.path.join(seq_dir, 'img'), flags)
        assert record['frame_number'].tolist() == wanted
        assert _text(record['object_class']) == lasot.class_of(name)
        # 1-based LaSOT box -> 0-based inclusive
        gt = np.loadtxt(os.path.join(seq_dir, 'groundtruth.txt'), delimiter=',')
        x, y, w, h = gt[wanted[0] - 1]
        assert record['frame_bbox'][0].tolist() == [x - 1, y - 1, x + w - 2, y + h - 2]
    clean = sample_data[1]['datasets']['lasot']['clean']['train']
    assert info['counts']['absent_frames'] == clean['absent_frames'] > 0


def test_vid_records_say_their_sources_and_old_records_are_read(vid_records):
    info = dataset_info.read(vid_records)
    assert info['sources'] == ['vid:train']          # --split-by ilsvrc
    assert info['splits']['validation']['sources'] == ['vid:val']
    old = {'name': 'vid', 'splits': {'train': {'source_split': 'train+val'},
                                     'validation': {'source_split': 'train+val'}}}
    assert dataset_info.sources(old) == ['vid:train', 'vid:val']
    assert dataset_info.sources({'name': 'coco', 'splits': {
        'validation': {'source_split': 'val2017'}}}) == ['coco:val2017']


# -- dead letters ----------------------------------------------------------------------------

def test_every_injected_fault_is_a_dead_letter(corrupt_sample_data, tmpdir):
    data, manifest = corrupt_sample_data
    out = str(tmpdir)
    for name, main, root in (('got10k', track.got10k_main, 'GOT-10k'),
                             ('lasot', track.lasot_main, 'LaSOT')):
        assert main(['--data', os.path.join(data, root), '--out', out] + FAST_BEAM) == 1
        errors = _errors(out, name)
        faults = [f for f in manifest['faults'] if f['dataset'] == name]
        assert len(errors) == len(faults) > 0
        for fault in faults:
            hits = [e for e in errors if e['reason'] == fault['kind'] and
                    e['path'] == os.path.join(data, root, fault['path'])]
            assert len(hits) == 1, (fault, errors)
        info = dataset_info.read(os.path.join(out, name))
        assert all(level['reconciled'] for level in info['totals'].values())


def test_generic_folders_pipeline_nan_boxes_and_count_mismatch(tmpdir, capsys):
    data = str(tmpdir.join('data'))
    _frames(os.path.join(data, 'good', 'img'), 3, size=(64, 48))
    _write(os.path.join(data, 'good', 'groundtruth.txt'), '5,5,20,20\nNaN,NaN,NaN,NaN\n'
                                                          '6,6,20,20\n')
    _frames(os.path.join(data, 'short'), 3, size=(64, 48))
    _write(os.path.join(data, 'short', 'groundtruth.txt'), '5,5,20,20\n')
    out = str(tmpdir.join('out'))
    assert track.folders_main(['--data', data, '--out', out, '--name', 'mine',
                               '--validation-fraction', '0'] + FAST_BEAM) == 1
    info, by_split = _records(out, 'mine')
    assert info['sources'] == ['mine:all']
    record, = by_split['train']
    assert record['frame_number'].tolist() == [1, 3]
    assert record['frame_bbox'].tolist()[0] == [4, 4, 23, 23]     # OTB style: 1-based
    reasons = sorted((e['level'], e['reason']) for e in _errors(out, 'mine'))
    assert reasons == [('object', 'nan_box'), ('unit', 'box_count_mismatch')]
    assert track.folders_main(['--data', data, '--out', out, '--name', '../x'] + FAST_BEAM) == 1
    assert "--name '../x'" in capsys.readouterr().err
