"""The sample benchmark trees (sampledata.benchmarks; GOT-10k and LaSOT: sampledata.tracking_sets)
read by every benchmark reader, by got10k's own readers where they work on the layout, and
evaluated end to end by `python -m trackers eval` with the session's tiny SA-Siam run."""
from __future__ import absolute_import, division, print_function

import json
import os
import zipfile

import numpy as np
import pytest

from datasets import benchmarks, vot
from sampledata import benchmarks as samples
from sampledata.tracking_sets import render_track

READERS = {'uav123': benchmarks.load_uav123, 'nfs': benchmarks.load_nfs,
           'tc128': benchmarks.load_tc128, 'trackingnet': benchmarks.load_trackingnet}
ORIGIN = {'uav123': 1, 'nfs': 0, 'tc128': 1, 'trackingnet': 0}


def _sample(sample_data, bench):
    root, manifest = sample_data
    entry = manifest['datasets']['benchmarks']['benchmarks'][bench]
    return os.path.join(root, entry['root']), entry


@pytest.mark.parametrize('bench', sorted(READERS))
def test_each_reader_reads_its_sample(sample_data, bench):
    root, entry = _sample(sample_data, bench)
    loaded = READERS[bench](root)
    assert [s.name for s in loaded.sequences] == sorted(entry['sequences'])
    for sequence in loaded.sequences:
        expected = entry['sequences'][sequence.name]
        assert sequence.origin == ORIGIN[bench]
        assert len(sequence.frames) == expected['frames']
        np.testing.assert_array_equal(sequence.boxes[0] - ([sequence.origin] * 2 + [0, 0]),
                                      expected['first_box'])
        if bench == 'trackingnet':
            assert len(sequence.boxes) == 1 and not loaded.ground_truth
        else:
            assert len(sequence.boxes) == len(sequence.frames)
            assert np.all(sequence.boxes[:, 2:] > 0)


def test_uav123_sample_is_the_official_ranges_and_attributes(sample_data):
    root, _ = _sample(sample_data, 'uav123')
    loaded = benchmarks.load_uav123(root)
    # the two shortest sequences of the official list, whole: uav2 1-133, uav6 1-109
    assert [(s.name, len(s.frames)) for s in loaded.sequences] == [('uav2', 133), ('uav6', 109)]
    assert os.path.basename(loaded.sequences[0].frames[-1]) == '000133.jpg'
    assert all('Camera Motion' in names for names in loaded.attributes.values())


def test_nfs_sample_is_a_240_fps_annotation_on_30_fps_frames(sample_data):
    root, entry = _sample(sample_data, 'nfs')
    name = sorted(entry['sequences'])[0]
    rows = open(os.path.join(root, name, '30', name + '.txt')).read().splitlines()
    assert len(rows) == (entry['sequences'][name]['frames'] - 1) * samples.NFS_RATE + 1
    sequence = benchmarks.nfs_sequence(root, name)
    # rows 0, 8, 16, ... are the 30 fps frames' boxes
    x1, y1, x2, y2 = [float(v) for v in rows[samples.NFS_RATE].split()[1:5]]
    np.testing.assert_array_equal(sequence.boxes[1], [x1, y1, x2 - x1, y2 - y1])


def test_tc128_sample_range_starts_inside_its_folder(sample_data):
    root, entry = _sample(sample_data, 'tc128')
    shifted = benchmarks.load_tc128(root).sequences[1]
    first = entry['sequences'][shifted.name]['first_frame']
    assert first == samples.TC128_SKIPPED + 1
    assert os.path.basename(shifted.frames[0]) == '%04d.jpg' % first
    assert len(os.listdir(os.path.dirname(shifted.frames[0]))) == len(shifted.frames) + first - 1


def test_boxes_are_the_rendered_target(sample_data):
    """The first box of each benchmark is the target's pixels of the scene it was rendered from
    (sampledata.tracking_sets.render_track, as the GOT-10k and LaSOT samples)."""
    seed = sample_data[1]['seed']
    width, height = sample_data[1]['datasets']['benchmarks']['frame_size']
    for bench, index in (('nfs', 0), ('tc128', 0), ('trackingnet', 1)):
        _, entry = _sample(sample_data, bench)
        name = sorted(entry['sequences'])[index]
        rgb, box, _, _ = render_track(seed, bench, name, width, height, 8, 2 + 4 * index)[0]
        assert entry['sequences'][name]['first_box'] == [box[0], box[1], box[2] - box[0] + 1,
                                                         box[3] - box[1] + 1]


def test_vot_sample_polygons_fit_the_object(sample_data):
    root, entry = _sample(sample_data, 'vot')
    sequences = vot.load_vot(root)
    assert vot.year_of(root) == 2018
    assert [s.name for s in sequences] == list(samples.VOT_NAMES)
    seed = sample_data[1]['seed']
    width, height = sample_data[1]['datasets']['benchmarks']['frame_size']
    for sequence in sequences:
        assert len(sequence.frames) == entry['sequences'][sequence.name]['frames'] == 15
        assert sequence.regions.shape == (15, 8) and sequence.origin == 1
        assert set(sequence.tags) == set(samples.VOT_TAGS)
        assert sequence.tags['camera_motion'].all() and not sequence.tags['illum_change'].any()
        track = samples.vot_track(seed, sequence.name, width, height, 15,
                                  samples.VOT_NAMES.index(sequence.name))
        for region, (_, _, box, _) in zip(sequence.regions, track):
            corners = region.reshape(4, 2) - 1
            # a rectangle (right angles), around the object's box, no larger than it needs to be
            sides = np.roll(corners, -1, 0) - corners
            assert abs(np.dot(sides[0], sides[1])) < 0.05 * np.dot(sides[0], sides[0]) + 1
            assert corners[:, 0].min() <= box[0] + 0.5 and corners[:, 0].max() >= box[2] - 0.5
            assert corners[:, 1].min() <= box[1] + 0.5 and corners[:, 1].max() >= box[3] - 0.5
            area = np.linalg.norm(sides[0]) * np.linalg.norm(sides[1])
            assert area <= (box[2] - box[0]) * (box[3] - box[1]) + 1
        np.testing.assert_allclose(sequence.regions[0],
                                   entry['sequences'][sequence.name]['first_polygon'])


def test_vot_tags_follow_the_visible_share():
    track = [(None, None, (0, 0, 9, 9), 1.0), (None, None, (0, 0, 9, 9), 0.5),
             (None, None, (0, 0, 14, 9), 0.9)]
    tags = samples.vot_tags(track)
    assert tags['occlusion'] == [0, 1, 0] and tags['size_change'] == [0, 0, 1]


def test_rotated_polygon_of_a_square_mask():
    mask = np.zeros((20, 20), bool)
    mask[5:10, 3:8] = True           # pixels 3..7 x 5..9
    polygon = samples.rotated_polygon(mask).reshape(4, 2)
    assert sorted(map(tuple, polygon - 1)) == [(3, 5), (3, 9), (7, 5), (7, 9)]


def test_got10k_readers_agree_on_uav123_nfs_tc128(sample_data, tmpdir):
    from got10k.datasets import NfS, TColor128, UAV123
    root, _ = _sample(sample_data, 'uav123')
    # got10k's UAV123 wants more than 3 entries in its root: links and two empty files
    linked = str(tmpdir.join('uav'))
    os.makedirs(linked)
    for name in ('anno', 'data_seq'):
        os.symlink(os.path.join(root, name), os.path.join(linked, name))
    for extra in ('a', 'b'):
        open(os.path.join(linked, extra), 'w').close()
    theirs = {'uav123': UAV123(linked), 'nfs': NfS(_sample(sample_data, 'nfs')[0], fps=30),
              'tc128': TColor128(_sample(sample_data, 'tc128')[0], download=False)}
    for bench, dataset in theirs.items():
        ours = READERS[bench](linked if bench == 'uav123' else _sample(sample_data, bench)[0])
        assert [s.name for s in ours.sequences] == dataset.seq_names
        for sequence in ours.sequences:
            frames, anno = dataset[sequence.name]
            assert sequence.frames == frames, bench
            np.testing.assert_array_equal(sequence.boxes, anno)


def _zip_names(path):
    with zipfile.ZipFile(path) as z:
        return sorted(z.namelist())


@pytest.mark.slow  # tracks ~300 frames of 7 benchmarks with the session's tiny SA-Siam run
def test_trackers_eval_on_every_benchmark_sample(sasiam_run, sample_data, tmpdir, capsys):
    from trackers import __main__ as cli
    data = sample_data[0]
    bench = {k: _sample(sample_data, k)[0] for k in ('uav123', 'nfs', 'tc128', 'trackingnet',
                                                     'vot')}
    runs = [('uav123', ['--uav123', bench['uav123'], '--limit', '1']),
            ('nfs', ['--nfs', bench['nfs']]), ('tc128', ['--tc128', bench['tc128']]),
            ('lasot', ['--lasot', os.path.join(data, 'LaSOT'), '--limit', '2']),
            ('got10k-val', ['--got10k', os.path.join(data, 'GOT-10k'), '--split', 'val']),
            ('got10k-test', ['--got10k', os.path.join(data, 'GOT-10k'), '--split', 'test']),
            ('trackingnet', ['--trackingnet', bench['trackingnet']]),
            ('vot', ['--vot', bench['vot']])]
    tracker = os.path.basename(sasiam_run)
    for name, args in runs:
        out = str(tmpdir.join(name))
        assert cli.main(['eval', '--run', sasiam_run, '--device', 'cpu', '--out', out] +
                        args) == 0, name
        printed = capsys.readouterr().out
        if name == 'vot':
            report = json.load(open(os.path.join(out, 'reports', 'vot.json')))[tracker]
            assert report['frames'] == 30 and 0 <= report['accuracy'] <= 1
            assert report['robustness'] >= 0 and 'eao' in report
        elif name in ('got10k-test', 'trackingnet'):
            zips = os.listdir(os.path.join(out, 'submissions'))
            assert zips == ['%s_%s_test.zip' % (tracker, name.split('-')[0])], zips
            names = _zip_names(os.path.join(out, 'submissions', zips[0]))
            assert len(names) == (4 if name == 'got10k-test' else 2), names
        else:
            performance = json.load(open(os.path.join(out, 'reports', tracker,
                                                       'performance.json')))[tracker]
            key = 'ao' if name == 'got10k-val' else 'success_score'
            assert 0 <= performance['overall'][key] <= 1, (name, performance['overall'])
            assert 'report:' in printed


def test_corrupt_benchmark_samples_are_refused_in_one_line(corrupt_sample_data):
    from datasets.tracking import SequenceError
    out, manifest = corrupt_sample_data
    faults = {f['kind']: f['path'] for f in manifest['faults'] if f['dataset'] == 'benchmarks'}
    assert sorted(faults) == ['box_count_mismatch', 'frame_size_change', 'nan_region']
    base = os.path.join(out, manifest['datasets']['benchmarks']['root'])
    with pytest.raises(SequenceError) as err:
        vot.load_vot(os.path.join(base, samples.VOT))
    assert os.path.join(base, faults['nan_region']) in str(err.value) and 'NaN' in str(err.value)
    with pytest.raises(SequenceError) as err:
        benchmarks.load_tc128(os.path.join(base, samples.TC128))
    assert str(err.value).startswith(os.path.join(base, faults['box_count_mismatch']))
    assert '9 boxes but 8 frames' in str(err.value)
    # a frame of another size: read (first box only), refused by the tracker at that frame
    from trackers import run as run_lib
    clip, = [q for q in benchmarks.load_trackingnet(os.path.join(base, samples.TRACKINGNET))
             .sequences if q.name == samples.RESIZED_CLIP]
    with pytest.raises(SequenceError) as err:
        run_lib.track_sequence(run_lib.StaticTracker(), clip)
    assert str(err.value).startswith('%s: frame 3 (%s) is ' % (
        samples.RESIZED_CLIP, os.path.join(base, faults['frame_size_change'])))
