"""J&F on any folder pair (equal to vos-benchmark, reimplemented in reference_impls, and to the
DAVIS evaluation on a DAVIS layout), YouTube-VOS seen / unseen G on a hand-computed case, and
every submission pack built and its zip's layout checked."""
from __future__ import absolute_import, division, print_function

import io
import json
import os
import zipfile

import numpy as np
import pytest
from PIL import Image

from datasets.palette import write_palette_png
from evaluation import davis, vos
from segmenters import submission, writers
from reference_impls import vos_benchmark


def _box(shape, top, left, height, width, value=1, labels=None):
    labels = np.zeros(shape, np.uint8) if labels is None else labels
    labels[top:top + height, left:left + width] = value
    return labels


def _write_sequence(root, sequence, frames, names=None):
    for t, labels in enumerate(frames):
        name = names[t] if names else '%05d' % t
        write_palette_png(os.path.join(root, sequence, name + '.png'), labels)


def _gaps_sequence():
    """6 frames of 90x100 (tolerance 2 px): ids 1, 3, 7 (gaps), object 3 absent from the ground
    truth on frames 2-3, object 7 appearing on frame 3 (predicted from frame 2 on), void 255 on
    frame 2, id 5 only ever predicted. Returns (gt, pred)."""
    shape = (90, 100)
    gt, pred = [], []
    for t in range(6):
        g = _box(shape, 10, 10 + t, 30, 20, 1)
        p = _box(shape, 12, 10 + 2 * t, 30, 20, 1)
        if t not in (2, 3):
            _box(shape, 50, 50, 20, 30, 3, g)
            _box(shape, 52, 55 - t, 18, 30, 3, p)
        elif t == 2:
            _box(shape, 50, 50, 10, 10, 3, p)          # object 3 predicted where it is not
        if t >= 3:
            _box(shape, 5, 70, 15, 15, 7, g)
        if t >= 2:
            _box(shape, 6, 71, 15, 12, 7, p)
        if t == 2:
            g[80:85, 0:40] = 255
        if t == 1:
            p[85:88, 90:95] = 5
        gt.append(g)
        pred.append(p)
    return gt, pred


@pytest.fixture
def folders(tmpdir):
    """A ground-truth and a results folder of three hand-made sequences."""
    gt_root, res_root = str(tmpdir.join('gt')), str(tmpdir.join('res'))
    gt, pred = _gaps_sequence()
    _write_sequence(gt_root, 'gaps', gt)
    _write_sequence(res_root, 'gaps', pred)
    empty_gt = [_box((24, 32), 4 + t, 5, 8, 10, 2) for t in range(4)]
    _write_sequence(gt_root, 'empty', empty_gt)
    _write_sequence(res_root, 'empty', [np.zeros((24, 32), np.uint8)] * 4)
    rng = np.random.RandomState(3)
    _write_sequence(gt_root, 'tiny', [rng.randint(0, 3, (3, 4)).astype(np.uint8)
                                      for _ in range(5)])
    _write_sequence(res_root, 'tiny', [rng.randint(0, 3, (3, 4)).astype(np.uint8)
                                       for _ in range(5)])
    return gt_root, res_root


def test_generic_jf_equals_vos_benchmark(folders, tmpdir):
    gt_root, res_root = folders
    sequences, note = vos.choose_sequences(gt_root, res_root)
    assert sequences == ['empty', 'gaps', 'tiny'] and note is None
    report = vos.evaluate_folders(gt_root, res_root, sequences)
    ref_jf, ref_j, ref_f, per_video = vos_benchmark(gt_root, res_root)
    ours = {(o['sequence'], o['object']): o for o in report['objects']}
    theirs = {(v, k): jf for v, objs in per_video.items() for k, jf in objs.items()}
    assert sorted(ours) == sorted(theirs)
    assert ('gaps', 255) in ours and ('gaps', 5) not in ours and ('gaps', 7) in ours
    for key, (j, f) in theirs.items():
        assert 100 * ours[key]['J-Mean'] == pytest.approx(j, abs=1e-9), key
        assert 100 * ours[key]['F-Mean'] == pytest.approx(f, abs=1e-9), key
    assert 100 * report['global']['J-Mean'] == pytest.approx(ref_j, abs=1e-9)
    assert 100 * report['global']['F-Mean'] == pytest.approx(ref_f, abs=1e-9)
    assert 100 * report['global']['J&F-Mean'] == pytest.approx(ref_jf, abs=1e-9)
    # object 7 is predicted from frame 2 on: scored on 2, 3, 4 (frame 5 is the last); object 3 on
    # frames 1-4, with J = 0 on frame 2 (predicted, absent) and 1 on frame 3 (both empty)
    assert ours[('gaps', 7)]['frames'] == ['00002', '00003', '00004'] and \
        ours[('gaps', 7)]['J'][0] == 0.0
    assert ours[('gaps', 3)]['J'][1:3] == [0.0, 1.0] and ours[('gaps', 3)]['F'][2] == 1.0
    assert ours[('empty', 2)]['J-Mean'] == 0.0 and ours[('empty', 2)]['F-Mean'] == 0.0
    lines = vos.benchmark_csv_lines(report)
    assert lines[1] == 'Global score,,%.1f,%.1f,%.1f' % (ref_jf, ref_j, ref_f)
    # not skipping the first and last frames: still equal
    every = vos.evaluate_folders(gt_root, res_root, sequences, skip_first_and_last=False)
    ref_all = vos_benchmark(gt_root, res_root, skip_first_and_last=False)
    assert 100 * every['global']['J&F-Mean'] == pytest.approx(ref_all[0], abs=1e-9)
    assert 100 * every['global']['J&F-Mean'] != pytest.approx(ref_jf, abs=1e-3)


def test_cli_outputs_and_missing_results(folders, tmpdir, capsys):
    gt_root, res_root = folders
    out = str(tmpdir.join('out'))
    assert vos.main(['--gt', gt_root, '--results', res_root, '--out', out]) == 0
    printed = capsys.readouterr().out
    assert 'as vos-benchmark prints it: J&F' in printed
    assert sorted(os.listdir(out)) == ['global_results.csv', 'per-sequence_results.csv',
                                       'report.json', 'results.csv']
    per_seq = open(os.path.join(out, 'per-sequence_results.csv')).read().splitlines()
    assert per_seq[0] == 'Sequence,J-Mean,F-Mean'
    assert [line.split(',')[0] for line in per_seq[1:]] == [
        'empty_2', 'gaps_1', 'gaps_3', 'gaps_7', 'gaps_255', 'tiny_1', 'tiny_2']
    os.remove(os.path.join(res_root, 'gaps', '00003.png'))
    assert vos.main(['--gt', gt_root, '--results', res_root, '--out', out]) == 1
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'missing result' in err and '00003.png' in err
    os.rename(os.path.join(res_root, 'gaps'), os.path.join(res_root, 'other'))
    assert vos.main(['--gt', gt_root, '--results', res_root, '--out', out]) == 1
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'lacks 1 sequence(s) of the ground truth: gaps' in err
    assert vos.main(['--gt', gt_root, '--results', res_root, '--out', out, '--subset']) == 0
    assert 'scored 2 of 3 sequences' in capsys.readouterr().out


def test_equals_the_davis_evaluation_on_a_davis_layout(tmpdir):
    root, results = str(tmpdir.join('DAVIS')), str(tmpdir.join('results'))
    os.makedirs(os.path.join(root, 'ImageSets', '2017'))
    with open(os.path.join(root, 'ImageSets', '2017', 'val.txt'), 'w') as f:
        f.write('a\nb\n')
    rng = np.random.RandomState(0)
    for seq, count in (('a', 2), ('b', 3)):
        gt, pred = [], []
        for t in range(7):
            g = np.zeros((60, 80), np.uint8)
            p = np.zeros((60, 80), np.uint8)
            for k in range(1, count + 1):
                top, left = 5 + 12 * (k - 1), 5 + 2 * t + 10 * k
                _box(g.shape, top, left, 10, 12, k, g)
                _box(g.shape, top + rng.randint(-3, 4), left + rng.randint(-3, 4), 10, 12, k, p)
            g[0, :10] = 255                              # void: background in both
            if seq == 'b' and t == 4:
                p[p == 2] = 0                            # an object lost on one frame
            gt.append(g)
            pred.append(p)
        _write_sequence(os.path.join(root, 'Annotations', '480p'), seq, gt)
        _write_sequence(results, seq, pred)
    expected = davis.evaluate(root, '2017', 'val', davis.folder_predictions(results))
    gt_root = vos.label_root(root)
    assert gt_root == os.path.join(root, 'Annotations', '480p')
    report = vos.evaluate_folders(gt_root, results, ['a', 'b'], void_as_background=True)
    assert [o['name'] for o in report['objects']] == [o['name'] for o in expected['objects']]
    for column in davis.GLOBAL_COLUMNS:
        assert report['global'][column] == pytest.approx(expected['global'][column], abs=1e-12)
    assert 0.3 < report['global']['J&F-Mean'] < 0.95
    # without --void-as-background, 255 is an object, as vos-benchmark scores it
    as_object = vos.evaluate_folders(gt_root, results, ['a', 'b'])
    assert [o['object'] for o in as_object['objects'] if o['sequence'] == 'a'] == [1, 2, 255]


def _held_out_case(tmpdir):
    """Two held-out videos of 5 annotated frames (every 5th), 20x30 (tolerance 1 px).

    v1: object 1 (cat, seen) on every frame; predicted exactly on frames 1 and 4, shifted one
        column on frame 2 (J = 12/20, F = 1), empty on frame 3 (J = F = 0): J .65, F .75.
        object 2 (dog, unseen) appears on frame 3 (its reference, not scored), predicted exactly
        on frame 4 (J = F = 1); predicted on frame 2 before it appears (not scored).
    v2: object 1 (dog, unseen) shifted one column on frames 1-4: J .6, F 1; object 3 (bird,
        seen) appears on the last frame only: nothing to score.
    v3: in the ground truth, not held out: not scored (and without results).
    G = mean(J_seen .65, F_seen .75, J_unseen (1 + .6) / 2, F_unseen 1) = 0.8."""
    shape, names = (20, 30), ['%05d' % (5 * t) for t in range(5)]
    gt_root, res_root = str(tmpdir.join('gt')), str(tmpdir.join('res', 'Annotations'))
    v1_gt, v1_pred = [], []
    for t in range(5):
        g = _box(shape, 4, 4, 4, 4, 1)
        if t >= 3:
            _box(shape, 12, 18, 5, 6, 2, g)
        p = {0: g, 1: g, 2: _box(shape, 4, 5, 4, 4, 1), 3: np.zeros(shape, np.uint8),
             4: g}[t].copy()
        if t == 2:
            _box(shape, 12, 2, 3, 3, 2, p)
        v1_gt.append(g)
        v1_pred.append(p)
    v2_gt = [_box(shape, 8, 10, 4, 4, 1) for _ in range(5)]
    _box(shape, 0, 0, 2, 2, 3, v2_gt[4])
    v2_pred = [_box(shape, 8, 11, 4, 4, 1) for _ in range(5)]
    for root, v1, v2 in ((gt_root, v1_gt, v2_gt), (res_root, v1_pred, v2_pred)):
        _write_sequence(root, 'v1', v1, names)
        _write_sequence(root, 'v2', v2, names)
    _write_sequence(gt_root, 'v3', v2_gt, names)
    meta = {'videos': {
        'v1': {'objects': {'1': {'category': 'cat', 'frames': names},
                           '2': {'category': 'dog', 'frames': names[3:]}}},
        'v2': {'objects': {'1': {'category': 'dog', 'frames': names},
                           '3': {'category': 'bird', 'frames': names[4:]}}},
        'v3': {'objects': {'1': {'category': 'cow', 'frames': names}}}}}
    holdout = {'videos': ['v1', 'v2'], 'unseen_categories': ['dog'],
               'seen_categories': ['cat', 'bird'], 'seed': 0}
    paths = {}
    for name, obj in (('meta', meta), ('holdout', holdout)):
        paths[name] = str(tmpdir.join(name + '.json'))
        with open(paths[name], 'w') as f:
            json.dump(obj, f)
    return gt_root, str(tmpdir.join('res')), paths


def test_seen_unseen_g_hand_computed(tmpdir, capsys):
    gt_root, res_root, paths = _held_out_case(tmpdir)
    out = str(tmpdir.join('out'))
    args = ['--gt', gt_root, '--results', res_root, '--out', out, '--meta', paths['meta']]
    assert vos.main(args + ['--holdout', paths['holdout']]) == 0
    printed = capsys.readouterr().out
    assert '1 seen + 2 unseen objects in 2 sequences' in printed and 'v2_3' in printed
    lines = open(os.path.join(out, 'seen_unseen.csv')).read().splitlines()
    assert lines[:2] == ['G,J-seen,F-seen,J-unseen,F-unseen', '0.800,0.650,0.750,0.800,1.000']
    report = json.load(open(os.path.join(out, 'report.json')))
    rows = {o['name']: o for o in report['objects']}
    assert rows['v1_2']['frames'] == ['00020'] and rows['v1_2']['J'] == [1.0]
    assert rows['v1_1']['J'] == pytest.approx([1, 0.6, 0, 1]) and rows['v1_1']['F'] == [1, 1, 0, 1]
    assert report['seen_unseen']['G'] == pytest.approx(0.8)
    # the same split from meta.json and a list of unseen categories: every ground-truth video
    # is wanted, and v3 has no results
    assert vos.main(args + ['--unseen', 'dog']) == 1
    assert 'lacks 1 sequence(s) of the ground truth: v3' in capsys.readouterr().err
    assert vos.main(args + ['--unseen', 'dog', '--subset']) == 0
    assert '0.800' in open(os.path.join(out, 'seen_unseen.csv')).read().splitlines()[1]
    bad = dict(json.load(open(paths['holdout'])), seen_categories=['cat'])
    with open(paths['holdout'], 'w') as f:
        json.dump(bad, f)
    assert vos.main(args + ['--holdout', paths['holdout']]) == 1
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'neither seen_categories nor unseen_categories: bird' in err


def _jpeg(path, size):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.new('RGB', size).save(path, 'JPEG')


def _pack_data(tmpdir, pack):
    """(data root, results folder, {video: frame names}) of a tiny dataset and complete results."""
    data, results = str(tmpdir.join('data')), str(tmpdir.join('results'))
    size = (16, 12)
    if pack == 'davis2017-test-dev':
        wanted = {'s1': ['00000', '00001', '00002'], 's2': ['00000', '00001']}
        os.makedirs(os.path.join(data, 'ImageSets', '2017'))
        with open(os.path.join(data, 'ImageSets', '2017', 'test-dev.txt'), 'w') as f:
            f.write('s1\ns2\n')
        folder, prefix = os.path.join(data, 'JPEGImages', '480p'), results
    else:
        wanted = {'v1': ['00000', '00005', '00010'], 'v2': ['00005', '00010']}
        folder = os.path.join(data, 'valid', 'JPEGImages')
        prefix = os.path.join(results, 'Annotations')
        meta = {'videos': {'v1': {'objects': {'1': {'category': 'a', 'frames': ['00000']},
                                              '2': {'category': 'b',
                                                    'frames': ['00005', '00010']}}},
                           'v2': {'objects': {'1': {'category': 'a',
                                                    'frames': ['00005', '00010']}}}}}
        os.makedirs(os.path.join(data, 'valid'))
        with open(os.path.join(data, 'valid', 'meta.json'), 'w') as f:
            json.dump(meta, f)
    for video, names in wanted.items():
        jpegs = names if pack != 'ytvos2019' else ['00000'] + names   # a frame meta.json skips
        for name in jpegs:
            _jpeg(os.path.join(folder, video, name + '.jpg'), size)
            write_palette_png(os.path.join(prefix, video, name + '.png'),
                              np.ones(size[::-1], np.uint8))
    return data, results, wanted


@pytest.mark.parametrize('pack', list(submission.PACKS))
def test_submission_packs_complete_and_incomplete(tmpdir, pack, capsys):
    data, results, wanted = _pack_data(tmpdir, pack)
    summary = submission.build(pack, results, data)
    assert summary['complete'] and os.path.basename(summary['zip']) == 'submission.zip'
    prefix = submission.PACKS[pack].prefix
    expected = sorted('%s%s/%s.png' % (prefix, v, n) for v, names in wanted.items()
                      for n in names)
    with zipfile.ZipFile(summary['zip']) as archive:
        assert sorted(archive.namelist()) == expected
        for name in expected:
            image = Image.open(io.BytesIO(archive.read(name)))
            assert image.mode == 'P' and image.size == (16, 12)
    # a missing frame and a greyscale one: the incomplete zip instead, a line for each
    target = os.path.join(results, 'Annotations' if prefix else '', sorted(wanted)[0])
    os.remove(os.path.join(target, wanted[sorted(wanted)[0]][1] + '.png'))
    Image.new('L', (16, 12)).save(os.path.join(target, wanted[sorted(wanted)[0]][0] + '.png'))
    assert submission.main(['--pack', pack, '--results', results, '--data', data]) == 1
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and '2 frame(s) missing or unusable' in err
    assert sorted(os.listdir(results))[-2:] == ['submission-incomplete.zip',
                                                'submission-problems.txt']
    problems = open(os.path.join(results, 'submission-problems.txt')).read().splitlines()
    assert [p.split(': ', 1)[1][:12] for p in problems] == ['PNG mode L, ', 'missing']
    with zipfile.ZipFile(os.path.join(results, 'submission-incomplete.zip')) as archive:
        assert len(archive.namelist()) == len(expected) - 2


def test_a_result_of_another_size_is_refused(tmpdir):
    data, results, wanted = _pack_data(tmpdir, 'mose')
    write_palette_png(os.path.join(results, 'Annotations', 'v2', '00010.png'),
                      np.ones((6, 8), np.uint8))
    summary = submission.build('mose', results, data)
    assert not summary['complete']
    assert summary['first_problem'].endswith('00010.png: 8x6, the frame is 16x12')


def test_writer_layout_follows_the_pack_table():
    assert writers.writer_for('ytvos2018', 'x').layout == 'ytvos'
    assert writers.writer_for('ytvos2019', 'x').layout == 'ytvos'
    assert writers.writer_for('mose', 'x').layout == 'ytvos'
    assert writers.writer_for('davis2017', 'x').layout == 'davis'
    assert writers.writer_for('davis2016', 'x').layout == 'davis'


def test_a_held_out_split_of_records_scores_seen_and_unseen(request, sample_data, tmpdir):
    """The hold-out records' exported ground truth, scored against itself with the sample's
    meta.json and the records' holdout.json: every score 1, both groups present."""
    try:
        records = request.getfixturevalue('ytvos2019_records')
    except pytest.FixtureLookupError:
        pytest.skip('needs the hold-out records (ytvos2019_records, branch vosrec)')
    from schemas.export import export
    gt, out = str(tmpdir.join('gt')), str(tmpdir.join('out'))
    export(records, gt, split='holdout', masks_only=True)
    holdout = os.path.join(records, 'holdout.json')
    meta = os.path.join(sample_data[0], 'youtube-vos-2019', 'train', 'meta.json')
    assert vos.main(['--gt', gt, '--results', gt, '--out', out, '--meta', meta,
                     '--holdout', holdout]) == 0
    row = json.load(open(os.path.join(out, 'report.json')))['seen_unseen']
    assert row['objects-seen'] >= 1 and row['objects-unseen'] >= 1
    assert [row[c] for c in vos.SEEN_COLUMNS] == [1.0] * 5
    assert sorted(set(o['sequence'] for o in json.load(open(os.path.join(
        out, 'report.json')))['objects'])) == sorted(json.load(open(holdout))['videos'])
