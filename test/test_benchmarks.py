"""Benchmark readers and evaluations against the field's tools on hand-made trees: got10k's readers
and reports for UAV123, NfS, TC128 and GOT-10k val, pysot-toolkit's definitions
(test/reference_impls.py) for LaSOT; the submission zips' completeness; GOT-10k's test rule."""
from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import zipfile

import numpy as np
import pytest

from datasets import benchmarks, tracking
from datasets.tracking import SequenceError
from evaluation import benchmarks as evaluation
from evaluation import got10k, ope, otb, submission

SCORES = ('success_score', 'precision_score', 'success_rate')


def _touch_frames(folder, numbers, pattern):
    os.makedirs(folder, exist_ok=True)
    for n in numbers:
        open(os.path.join(folder, pattern % n), 'wb').close()


def _boxes(rng, n, size=(640, 480)):
    xy = rng.uniform(5, 200, (n, 2))
    wh = rng.uniform(10, 80, (n, 2))
    return np.round(np.hstack([xy, wh]), 1)


def _jitter(rng, gt, scale=12.0):
    out = gt + rng.normal(0, scale, gt.shape)
    out[:, 2:] = np.abs(out[:, 2:]) + 1
    return np.round(out, 3)


def _save(path, rows, fmt='%.3f', delimiter=','):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.savetxt(path, rows, fmt=fmt, delimiter=delimiter)


def _write_results(results_dir, tracker, sequences, rng, times=True):
    for name, gt in sequences.items():
        _save(os.path.join(results_dir, tracker, name + '.txt'), _jitter(rng, gt))
        if times:
            _save(os.path.join(results_dir, tracker, 'times', name + '_time.txt'),
                  rng.uniform(0.01, 0.05, len(gt)), '%.8f')


def _without_plots(experiment):
    """A got10k experiment whose report skips its 300 dpi plots (the numbers are the point)."""
    experiment.plot_curves = lambda *args: None
    return experiment


def _assert_same(ours, theirs, keys=SCORES):
    for tracker in theirs:
        for key in keys + ('speed_fps',):
            assert ours[tracker]['overall'][key] == pytest.approx(
                theirs[tracker]['overall'][key], abs=1e-9), (tracker, key)
        for name, entry in theirs[tracker]['seq_wise'].items():
            for key in keys:
                assert ours[tracker]['seq_wise'][name][key] == pytest.approx(
                    entry[key], abs=1e-9), (tracker, name, key)


# -- UAV123 ------------------------------------------------------------------------------------

def _uav123_tree(root, rng):
    """bird1_1 (frames 1-253) and bird1_2 (775-1477) of one folder, uav2 (1-133) with NaN rows;
    attribute flags for two of them."""
    _touch_frames(os.path.join(root, 'data_seq', 'UAV123', 'bird1'), range(1, 1478), '%06d.jpg')
    _touch_frames(os.path.join(root, 'data_seq', 'UAV123', 'uav2'), range(1, 134), '%06d.jpg')
    for extra in ('a', 'b'):    # got10k's reader wants more than 3 entries in the root
        open(os.path.join(root, extra), 'w').close()
    gts = {'bird1_1': _boxes(rng, 253), 'bird1_2': _boxes(rng, 703), 'uav2': _boxes(rng, 133)}
    gts['uav2'][[5, 6, 50]] = np.nan
    for name, gt in gts.items():
        _save(os.path.join(root, 'anno', 'UAV123', name + '.txt'), gt, '%.1f')
    flags = {'bird1_1': [1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0],
             'uav2': [1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]}
    for name, row in flags.items():
        _save(os.path.join(root, 'anno', 'UAV123', 'att', name + '.txt'), [row], '%d')
    return gts


@pytest.mark.slow  # ~5 s: got10k's and our 300 dpi plots, 1600 frame files
def test_uav123_ranges_and_numbers_equal_got10k(tmpdir):
    from got10k.datasets import UAV123
    from got10k.experiments import ExperimentUAV123
    rng = np.random.RandomState(0)
    root = str(tmpdir.join('uav'))
    gts = _uav123_tree(root, rng)
    ours = benchmarks.load_uav123(root)
    theirs = UAV123(root)
    assert [s.name for s in ours.sequences] == theirs.seq_names
    for sequence in ours.sequences:
        frames, anno = theirs[sequence.name]
        assert sequence.frames == frames
        np.testing.assert_array_equal(sequence.boxes, anno)
    assert os.path.basename(ours.sequences[1].frames[0]) == '000775.jpg'
    assert ours.attributes == {'bird1_1': ['Scale Variation', 'Fast Motion'],
                               'uav2': ['Scale Variation', 'Aspect Ratio Change']}
    results = str(tmpdir.join('results'))
    for tracker in ('mine', 'other'):
        _write_results(os.path.join(results, 'UAV123'), tracker, gts, rng)
    experiment = ExperimentUAV123(root, result_dir=results, report_dir=str(tmpdir.join('g')))
    reference = _without_plots(experiment).report(['mine', 'other'])
    perf = otb.evaluate(os.path.join(results, 'UAV123'), ours.sequences, ['mine', 'other'],
                        str(tmpdir.join('reports')), 'uav123', ours.attributes)
    _assert_same(perf, reference)
    seq_wise = perf['mine']['seq_wise']
    scale_variation = perf['mine']['attributes']['Scale Variation']
    assert scale_variation['sequences'] == 2
    assert scale_variation['success_score'] == pytest.approx(
        (seq_wise['bird1_1']['success_score'] + seq_wise['uav2']['success_score']) / 2)
    assert set(perf['mine']['attributes']) == {'Scale Variation', 'Fast Motion',
                                               'Aspect Ratio Change'}
    assert os.path.isfile(str(tmpdir.join('reports', 'mine', 'attributes',
                                          'success_Scale_Variation.png')))
    # NaN ground truth frames (target absent) are left out of the normalised precision too
    assert np.isfinite(seq_wise['uav2']['norm_precision_score'])


# -- NfS ---------------------------------------------------------------------------------------

def _nfs_tree(root, rng):
    """`Skiing`: 6 frames, a 240 fps annotation of 49 rows (every 8th -> 7, cut to 6);
    `Bee`: 5 frames and 5 rows."""
    gts = {}
    for name, frames, rows in (('Skiing', 6, 49), ('Bee', 5, 5)):
        _touch_frames(os.path.join(root, name, '30', name), range(1, frames + 1), '%05d.jpg')
        boxes = _boxes(rng, rows)
        lines = ['%d %.1f %.1f %.1f %.1f %d 0 0 0 "person"' % (
            1, b[0], b[1], b[0] + b[2], b[1] + b[3], k) for k, b in enumerate(boxes)]
        with open(os.path.join(root, name, '30', name + '.txt'), 'w') as f:
            f.write('\n'.join(lines) + '\n')
        gts[name] = boxes
    return gts


def test_nfs_subsampling_and_numbers_equal_got10k(tmpdir):
    from got10k.datasets import NfS
    from got10k.experiments import ExperimentNfS
    rng = np.random.RandomState(1)
    root = str(tmpdir.join('nfs'))
    _nfs_tree(root, rng)
    ours = benchmarks.load_nfs(root)
    theirs = NfS(root, fps=30)
    assert [s.name for s in ours.sequences] == theirs.seq_names == ['Bee', 'Skiing']
    for sequence in ours.sequences:
        frames, anno = theirs[sequence.name]
        assert sequence.frames == frames
        np.testing.assert_allclose(sequence.boxes, anno)
    assert len(ours.sequences[1].boxes) == 6
    results = str(tmpdir.join('results'))
    _write_results(os.path.join(results, 'NfS', '30'), 'mine',
                   {s.name: s.boxes for s in ours.sequences}, rng)
    reference = _without_plots(ExperimentNfS(root, fps=30, result_dir=results,
                                             report_dir=str(tmpdir.join('g')))).report(['mine'])
    perf = otb.evaluate(os.path.join(results, 'NfS', '30'), ours.sequences, ['mine'],
                        str(tmpdir.join('reports')), 'nfs')
    _assert_same(perf, reference)


# -- TC128 -------------------------------------------------------------------------------------

def test_tc128_frame_ranges_and_numbers_equal_got10k_and_the_cli(tmpdir, capsys):
    from got10k.datasets import TColor128
    from got10k.experiments import ExperimentTColor128
    rng = np.random.RandomState(2)
    root = str(tmpdir.join('tc128'))
    gts = {'Ball_ce1': _boxes(rng, 8), 'Bike_ce2': _boxes(rng, 5)}
    for (name, gt), first in zip(sorted(gts.items()), (3, 1)):
        _touch_frames(os.path.join(root, name, 'img'), range(1, 13), '%04d.jpg')
        _save(os.path.join(root, name, name + '_gt.txt'), gt, '%.1f')
        with open(os.path.join(root, name, name + '_frames.txt'), 'w') as f:
            f.write('%d,%d\n' % (first, first + len(gt) - 1))
    ours = benchmarks.load_tc128(root)
    theirs = TColor128(root, download=False)
    for sequence in ours.sequences:
        frames, anno = theirs[sequence.name]
        assert sequence.frames == frames and sequence.origin == 1
        np.testing.assert_array_equal(sequence.boxes, anno)
    assert os.path.basename(ours.sequences[0].frames[0]) == '0003.jpg'
    results = str(tmpdir.join('out', 'results'))
    _write_results(results, 'mine', gts, rng)
    experiment = ExperimentTColor128.__new__(ExperimentTColor128)   # its constructor downloads
    experiment.dataset, experiment.result_dir = theirs, results
    experiment.report_dir, experiment.nbins_iou, experiment.nbins_ce = str(tmpdir.join('g')), 21, 51
    reference = _without_plots(experiment).report(['mine'])
    capsys.readouterr()
    assert otb.main(['--results', results, '--tc128', root, '--trackers', 'mine']) == 0
    row = [l for l in capsys.readouterr().out.splitlines() if l.startswith('mine ')]
    assert row[0].split()[1] == '%.3f' % reference['mine']['overall']['success_score']
    with open(str(tmpdir.join('out', 'reports', 'mine', 'performance.json'))) as f:
        _assert_same(json.load(f), reference)


# -- LaSOT -------------------------------------------------------------------------------------

def _lasot_tree(root, rng):
    """airplane-1 (x = 0 in one gt row, an absent frame 0,0,0,0 marked out of view), bird-3
    (two fully occluded frames); a testing_set.txt leaving airplane-2 out."""
    gts, hidden = {}, {}
    for name, n in (('airplane-1', 12), ('airplane-2', 4), ('bird-3', 9)):
        seq_dir = os.path.join(root, name.split('-')[0], name)
        _touch_frames(os.path.join(seq_dir, 'img'), range(1, n + 1), '%08d.jpg')
        gts[name] = _boxes(rng, n)
        hidden[name] = (np.zeros(n, int), np.zeros(n, int))
    gts['airplane-1'][3] = 0
    hidden['airplane-1'][1][3] = 1
    gts['airplane-1'][5, 0] = 0
    hidden['bird-3'][0][[4, 5]] = 1
    for name, gt in gts.items():
        seq_dir = os.path.join(root, name.split('-')[0], name)
        _save(os.path.join(seq_dir, 'groundtruth.txt'), gt, '%.1f')
        for label, flags in zip(('full_occlusion.txt', 'out_of_view.txt'), hidden[name]):
            with open(os.path.join(seq_dir, label), 'w') as f:
                f.write(','.join(map(str, flags)) + '\n')
    with open(os.path.join(root, 'testing_set.txt'), 'w') as f:
        f.write('airplane-1\nbird-3\n')
    return gts, hidden


def test_lasot_numbers_equal_pysot_toolkits_definitions(tmpdir):
    from reference_impls import pysot_ope_reference
    rng = np.random.RandomState(3)
    root = str(tmpdir.join('lasot'))
    gts, hidden = _lasot_tree(root, rng)
    bench = benchmarks.load_lasot(root)
    assert [s.name for s in bench.sequences] == ['airplane-1', 'bird-3']
    assert bench.attributes == {'airplane-1': ['airplane'], 'bird-3': ['bird']}
    assert bench.visible['bird-3'].tolist() == [True] * 4 + [False] * 2 + [True] * 3
    results = str(tmpdir.join('out', 'results'))
    _write_results(results, 'mine', {k: gts[k] for k in ('airplane-1', 'bird-3')}, rng)
    lines = evaluation.evaluate(bench, results, ['mine'], str(tmpdir.join('out')))
    assert lines[1].startswith('report: ')
    perf = json.load(open(str(tmpdir.join('out', 'reports', 'mine', 'performance.json'))))
    expected = {}
    for name in ('airplane-1', 'bird-3'):
        pred = np.loadtxt(os.path.join(results, 'mine', name + '.txt'), delimiter=',')
        visible = ~((hidden[name][0] > 0) | (hidden[name][1] > 0))
        success, precision, norm = pysot_ope_reference(gts[name], pred, visible)
        entry = perf['mine']['seq_wise'][name]
        np.testing.assert_allclose(entry['success_curve'], success, atol=1e-12)
        np.testing.assert_allclose(entry['precision_curve'], precision, atol=1e-12)
        np.testing.assert_allclose(entry['norm_precision_curve'], norm, atol=1e-12)
        expected[name] = (success.mean(), precision[20], norm[20])
    overall = perf['mine']['overall']
    for k, key in enumerate(('success_score', 'precision_score', 'norm_precision_score')):
        assert overall[key] == pytest.approx(np.mean([v[k] for v in expected.values()]),
                                             abs=1e-12)
    assert perf['mine']['attributes']['bird']['success_score'] == pytest.approx(
        expected['bird-3'][0], abs=1e-12)
    # hidden frames are misses even where the tracker reports the ground truth exactly
    perfect = ope.sequence_curves(gts['bird-3'], gts['bird-3'], bench.visible['bird-3'])
    assert perfect['success_curve'][0] == pytest.approx(7 / 9.)
    assert perfect['precision_curve'][0] == pytest.approx(7 / 9.)


# -- GOT-10k -----------------------------------------------------------------------------------

def _got10k_tree(root, split, rng, names=('GOT-10k_Val_000001', 'GOT-10k_Val_000002')):
    gts = {}
    os.makedirs(os.path.join(root, split))
    with open(os.path.join(root, split, 'list.txt'), 'w') as f:
        f.write('\n'.join(names) + '\n')
    for k, name in enumerate(names):
        n = 6 + 2 * k
        seq_dir = os.path.join(root, split, name)
        _touch_frames(seq_dir, range(1, n + 1), '%08d.jpg')
        gts[name] = _boxes(rng, n)
        _save(os.path.join(seq_dir, 'groundtruth.txt'), gts[name] if split == 'val'
              else gts[name][:1], '%.4f')
        if split == 'val':
            cover = [8] * n
            cover[2] = 0
            for label, flags in (('cover', cover), ('absence', [0] * n),
                                 ('cut_by_image', [0] * n)):
                _save(os.path.join(seq_dir, label + '.label'), np.array(flags)[:, None], '%d')
            with open(os.path.join(seq_dir, 'meta_info.ini'), 'w') as f:
                f.write('[METAINFO]\nobject_class: bird\nresolution: (240, 180)\n')
    return gts


def test_got10k_val_equals_got10ks_report_on_its_layout(tmpdir):
    from got10k.experiments import ExperimentGOT10k
    rng = np.random.RandomState(4)
    root = str(tmpdir.join('got10k'))
    gts = _got10k_tree(root, 'val', rng)
    bench = benchmarks.load_got10k(root, 'val')
    assert bench.meta['GOT-10k_Val_000001']['resolution'] == (240, 180)
    from got10k.datasets import GOT10k
    theirs = GOT10k(root, subset='val')
    for sequence in bench.sequences:
        frames, anno = theirs[sequence.name]
        assert sequence.frames == frames
        np.testing.assert_array_equal(sequence.boxes, anno)
    out = str(tmpdir.join('out'))
    results = os.path.join(out, 'results')
    _write_results(results, 'mine', gts, rng)
    lines = evaluation.evaluate(bench, results, ['mine'], out)
    # a second, non-deterministic tracker with three repetitions, straight in got10k's layout
    layout = os.path.join(out, 'got10k')
    for name, gt in gts.items():
        runs = [_jitter(rng, gt) for _ in range(3)]
        for r, boxes in enumerate(runs, 1):
            _save(got10k.result_path(layout, 'random', name, r), boxes)
        _save(got10k.times_path(layout, 'random', name), rng.uniform(0.01, 0.1, (len(gt), 3)),
              '%.8f')
    ours = got10k.evaluate_val(layout, bench, ['mine', 'random'], str(tmpdir.join('r')))
    experiment = ExperimentGOT10k(root, subset='val', result_dir=out,
                                  report_dir=str(tmpdir.join('g')))
    experiment.result_dir = layout
    reference = _without_plots(experiment).report(['mine', 'random'])
    for tracker in ('mine', 'random'):
        for key in ('ao', 'sr', 'speed_fps'):
            assert ours[tracker]['overall'][key] == pytest.approx(
                reference[tracker]['overall'][key], abs=1e-12)
            for name in gts:
                assert ours[tracker]['seq_wise'][name][key] == pytest.approx(
                    reference[tracker]['seq_wise'][name][key], abs=1e-12)
        assert ours[tracker]['overall']['sr75'] == pytest.approx(
            reference[tracker]['overall']['succ_curve'][75], abs=1e-12)
    assert ours['random']['seq_wise']['GOT-10k_Val_000001']['repetitions'] == 3
    assert '%.3f' % ours['mine']['overall']['ao'] in lines[0].splitlines()[1]


def _zip_names(path):
    with zipfile.ZipFile(path) as archive:
        return sorted(archive.namelist())


def test_got10k_test_submission_is_complete_or_named_incomplete(tmpdir):
    rng = np.random.RandomState(5)
    root = str(tmpdir.join('got10k'))
    names = ('GOT-10k_Test_000001', 'GOT-10k_Test_000002')
    gts = _got10k_tree(root, 'test', rng, names)
    bench = benchmarks.load_got10k(root, 'test')
    assert not bench.ground_truth and len(bench.sequences[1].boxes) == 1
    out = str(tmpdir.join('out'))
    _write_results(os.path.join(out, 'results'), 'mine', gts, rng)
    lines = evaluation.evaluate(bench, os.path.join(out, 'results'), ['mine'], out)
    path = os.path.join(out, 'submissions', 'mine_got10k_test.zip')
    assert lines == ['submission: %s (2 sequences)' % path]
    assert _zip_names(path) == ['%s/%s_%s.txt' % (n, n, k) for n in names for k in ('001', 'time')]
    os.remove(os.path.join(out, 'results', 'mine', names[1] + '.txt'))
    os.remove(os.path.join(out, 'got10k', 'mine', names[1], names[1] + '_001.txt'))
    lines = evaluation.evaluate(bench, os.path.join(out, 'results'), ['mine'], out)
    assert not os.path.exists(path)
    assert 'INCOMPLETE, 1 of 2 sequences missing (%s)' % names[1] in lines[0]
    assert _zip_names(path[:-4] + '-incomplete.zip') == [
        '%s/%s_001.txt' % (names[0], names[0]), '%s/%s_time.txt' % (names[0], names[0])]


def test_trackingnet_submission_and_reader(tmpdir):
    rng = np.random.RandomState(6)
    root = str(tmpdir.join('trackingnet'))
    gts = {}
    for name, n in (('-0MnbOGYKB0_0', 3), ('zz9_1', 4)):
        _touch_frames(os.path.join(root, 'TEST', 'frames', name), range(n), '%d.jpg')
        gts[name] = _boxes(rng, n)
        _save(os.path.join(root, 'TEST', 'anno', name + '.txt'), gts[name][:1], '%.2f')
    args = argparse.Namespace(otb=None, vid=None, uav123=None, nfs=None, tc128=None, lasot=None,
                              got10k=None, trackingnet=root, split=None, list=None,
                              no_otb_ranges=False)
    bench = tracking.load_benchmark(args)
    assert [len(s.frames) for s in bench.sequences] == [3, 4] and not bench.ground_truth
    results = str(tmpdir.join('results'))
    _write_results(results, 'mine', {'zz9_1': gts['zz9_1']}, rng)
    path, missing = submission.trackingnet_zip(results, 'mine', [s.name for s in bench.sequences],
                                               str(tmpdir.join('sub', 'mine.zip')))
    assert path.endswith('mine-incomplete.zip') and missing == ['-0MnbOGYKB0_0']
    _write_results(results, 'mine', {'-0MnbOGYKB0_0': gts['-0MnbOGYKB0_0']}, rng)
    path, missing = submission.trackingnet_zip(results, 'mine', [s.name for s in bench.sequences],
                                               str(tmpdir.join('sub', 'mine.zip')))
    assert missing == [] and _zip_names(path) == ['-0MnbOGYKB0_0.txt', 'zz9_1.txt']
    assert not os.path.exists(str(tmpdir.join('sub', 'mine-incomplete.zip')))


def test_got10k_test_rule_reads_the_runs_sources(tmpdir):
    unknown, clean, mixed = (str(tmpdir.join(n)) for n in ('unknown', 'clean', 'mixed'))
    for folder, sources in ((unknown, None), (clean, ['got10k:train']),
                            (mixed, ['got10k:train', 'vid:train'])):
        os.makedirs(folder)
        run = {'records': {'name': 'x'}} if sources is None else {'sources': sources}
        with open(os.path.join(folder, 'run.json'), 'w') as f:
            json.dump(run, f)
    assert got10k.source_warning([clean]) is None
    line = got10k.source_warning([unknown, clean, mixed])
    assert '\n' not in line and line.startswith('warning: GOT-10k test results must come')
    assert '%s: unknown sources' % unknown in line
    assert '%s: sources include vid:train' % mixed in line


def test_bad_layouts_fail_in_one_line(tmpdir):
    root = str(tmpdir.join('lasot'))
    _lasot_tree(root, np.random.RandomState(7))
    os.remove(os.path.join(root, 'bird', 'bird-3', 'out_of_view.txt'))
    with pytest.raises(SequenceError, match=r'out_of_view\.txt: missing'):
        benchmarks.load_lasot(root)
    with pytest.raises(SequenceError, match=r'no <seq>\.txt annotations'):
        benchmarks.load_uav123(str(tmpdir))
    os.makedirs(str(tmpdir.join('uav', 'anno', 'UAV123')))
    _save(str(tmpdir.join('uav', 'anno', 'UAV123', 'bird9.txt')), [[1, 2, 3, 4]])
    with pytest.raises(SequenceError, match=r'bird9 is not a sequence of the official'):
        benchmarks.load_uav123(str(tmpdir.join('uav')))


@pytest.mark.slow  # tracks with the pixel embedding (TensorFlow graphs), ~10 s
def test_tracker_cli_scores_got10k_val_and_packs_its_test_split(tmpdir, capsys):
    import shutil
    from test_tracker import textured_sequence
    from trackers import __main__ as cli
    root = str(tmpdir.join('got10k'))
    names = ('GOT-10k_Val_000001', 'GOT-10k_Val_000002')
    _got10k_tree(root, 'val', np.random.RandomState(8), names)
    for k, name in enumerate(names):     # real frames: a texture moving over a background
        textured_sequence(str(tmpdir.join('otb', name)), n=6 + 2 * k, seed=k)
        seq_dir = os.path.join(root, 'val', name)
        for path in sorted(os.listdir(str(tmpdir.join('otb', name, 'img')))):
            shutil.copy(str(tmpdir.join('otb', name, 'img', path)),
                        os.path.join(seq_dir, '%08d.jpg' % int(path[:4])))
        gt = np.loadtxt(str(tmpdir.join('otb', name, 'groundtruth_rect.txt'))) - [1, 1, 0, 0]
        _save(os.path.join(seq_dir, 'groundtruth.txt'), gt, '%.1f')
    out = str(tmpdir.join('val'))
    assert cli.main(['eval', '--run', 'pixel_pool', '--got10k', root, '--out', out,
                     '--device', 'cpu']) == 0
    perf = json.load(open(os.path.join(out, 'reports', 'pixel_pool', 'performance.json')))
    assert perf['pixel_pool']['overall']['ao'] > perf['static-first-box']['overall']['ao']
    assert os.path.isfile(got10k.result_path(os.path.join(out, 'got10k'), 'pixel_pool', names[1]))
    os.rename(os.path.join(root, 'val'), os.path.join(root, 'test'))
    out = str(tmpdir.join('test'))
    capsys.readouterr()
    assert cli.main(['eval', '--run', 'pixel_pool', '--got10k', root, '--split', 'test',
                     '--out', out, '--device', 'cpu', '--limit', '1']) == 0
    printed = capsys.readouterr().out
    assert 'INCOMPLETE, 1 of 2 sequences missing (%s)' % names[1] in printed
    assert os.listdir(os.path.join(out, 'submissions')) == ['pixel_pool_got10k_test-incomplete.zip']
    assert os.listdir(os.path.join(out, 'results')) == ['pixel_pool']    # no baseline
