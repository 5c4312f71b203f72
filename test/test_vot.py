"""VOT 2016-2018: the reader on hand-made trees, the toolkit's region overlap on hand-counted
pixels, the reset protocol on a scripted tracker (pysot's result lines), accuracy, robustness and
EAO on hand-made results against hand-computed numbers and against test/reference_impls.py (an
independent rewrite of pysot-toolkit's definitions), and the command end to end."""
from __future__ import absolute_import, division, print_function

import json
import os
import shutil

import cv2
import numpy as np
import pytest

import reference_impls as ref
from datasets import vot
from datasets.tracking import SequenceError
from evaluation import vot as vot_eval
from evaluation.otb import EvaluationError
from trackers import __main__ as cli
from trackers import vot as vot_run

BOX = [0, 0, 10, 10]


def write_sequence(folder, regions, tags=None, colour_dir=True, size=(100, 100), real=1):
    """A VOT sequence folder: frames (the first `real` ones decodable grey JPEGs, the others
    empty files: only the first frame is ever decoded by the evaluation), groundtruth.txt."""
    frames = os.path.join(folder, 'color') if colour_dir else folder
    os.makedirs(frames, exist_ok=True)
    for i in range(len(regions)):
        path = os.path.join(frames, '%08d.jpg' % (i + 1))
        if i < real:
            cv2.imwrite(path, np.full((size[1], size[0], 3), 128, np.uint8))
        else:
            open(path, 'wb').close()
    with open(os.path.join(folder, 'groundtruth.txt'), 'w') as f:
        f.write(''.join(','.join('%g' % v for v in r) + '\n' for r in regions))
    for tag, values in (tags or {}).items():
        with open(os.path.join(folder, tag + '.tag'), 'w') as f:
            f.write(''.join('%d\n' % v for v in values))


def write_list(root, names):
    with open(os.path.join(root, 'list.txt'), 'w') as f:
        f.write(''.join(n + '\n' for n in names))


def write_result(results, tracker, name, lines):
    folder = os.path.join(results, tracker, 'baseline', name)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, '%s_001.txt' % name), 'w') as f:
        f.write(''.join(','.join('%g' % v for v in np.atleast_1d(r)) + '\n' for r in lines))


# -- reader ----------------------------------------------------------------------------------------

def test_reader_takes_polygons_boxes_tags_and_both_frame_layouts(tmpdir):
    root = str(tmpdir)
    polygons = [[1, 2, 11, 2, 11, 12, 1, 12], [2.5, 3, 12, 3, 12, 13, 2.5, 13.25]]
    write_sequence(os.path.join(root, 'ball'), polygons, {'occlusion': [0, 1]})
    write_sequence(os.path.join(root, 'car'), [[1, 1, 5, 5]] * 3, colour_dir=False)
    write_list(root, ['car', 'ball'])
    car, ball = vot.load_vot(root)
    assert (car.name, ball.name) == ('car', 'ball') and car.origin == ball.origin == 1
    np.testing.assert_array_equal(ball.regions, polygons)
    assert car.regions.shape == (3, 4)
    assert [os.path.basename(p) for p in ball.frames] == ['00000001.jpg', '00000002.jpg']
    assert os.path.basename(os.path.dirname(ball.frames[0])) == 'color'
    assert list(ball.tags) == list(vot.TAGS)
    assert ball.tags['occlusion'].tolist() == [0, 1]
    assert ball.tags['camera_motion'].tolist() == [0, 0]          # missing file: all 0
    assert vot.frame_size(ball) == (100, 100)
    # without list.txt: every folder with a groundtruth.txt, by name
    os.remove(os.path.join(root, 'list.txt'))
    assert [s.name for s in vot.load_vot(root)] == ['ball', 'car']
    assert vot.year_of('/data/vot2018') == 2018 and vot.year_of('/data/VOT2016/') == 2016
    assert vot.year_of('/data/vot') is None


@pytest.mark.parametrize('lines, frames, tag, message', [
    (['1,2,3,4,5,6,7,nan'], 1, None, 'groundtruth.txt:1: a region with NaN'),
    (['1,2,3,4'] * 2, 3, None, 'groundtruth.txt: 2 regions but 3 frames'),
    (['1,2,3,4,5,6'], 1, None, 'groundtruth.txt:1: expected 4 (x,y,w,h) or 8'),
    (['1,2,3,4', '1,2,3,4,5,6,7,8'], 2, None, 'groundtruth.txt:2: 8 values, but line 1 has 4'),
    (['1,2,3,a'], 1, None, 'groundtruth.txt:1: not numbers'),
    (['1,2,3,4'] * 2, 2, '0\n', 'occlusion.tag: 1 lines but the sequence has 2 frames'),
    (['1,2,3,4'], 1, '3\n', 'occlusion.tag:1: expected 0 or 1'),
])
def test_bad_sequences_are_one_line_errors_naming_the_file(tmpdir, lines, frames, tag, message):
    folder = str(tmpdir.join('seq'))
    write_sequence(folder, [[1, 1, 2, 2]] * frames, real=0)
    with open(os.path.join(folder, 'groundtruth.txt'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    if tag is not None:
        with open(os.path.join(folder, 'occlusion.tag'), 'w') as f:
            f.write(tag)
    with pytest.raises(SequenceError) as err:
        vot.load_vot(str(tmpdir))
    assert message in str(err.value) and folder in str(err.value)
    assert '\n' not in str(err.value)


def test_listed_sequence_missing_and_empty_root(tmpdir):
    write_list(str(tmpdir), ['ghost'])
    with pytest.raises(SequenceError, match='listed sequence ghost not found'):
        vot.load_vot(str(tmpdir))
    with pytest.raises(SequenceError, match='holds no VOT sequence'):
        vot.load_vot(str(tmpdir.mkdir('empty')))


# -- region geometry -------------------------------------------------------------------------------

DIAMOND = [5, 0, 10, 5, 5, 10, 0, 5]


@pytest.mark.parametrize('a, b, bound, expected', [
    # every region covers its pixels end columns and rows included: the box 0..10 is 11 x 11
    (BOX, BOX, (100, 100), 1.0),
    (BOX, [5, 0, 10, 10], (100, 100), 66.0 / 176),           # 6 shared columns of 11 rows
    # the diamond's rows: 0, 3, 5, 7, 9, 11, 9, 7, 5, 3, 0 pixels (59) inside the 121 of the box
    (BOX, DIAMOND, (100, 100), 59.0 / 121),
    # a box half outside the image: its 6 x 6 pixels inside, within the other's 9 x 9
    ([-5, -5, 10, 10], [0, 0, 8, 8], (100, 100), 36.0 / 81),
    ([-5, -5, 10, 10], [0, 0, 8, 8], None, 36.0 / (121 + 81 - 36)),
    (BOX, [20, 20, 5, 5], (100, 100), 0.0),                   # disjoint
    (BOX, [10, 0, 10, 10], (100, 100), 0.0),                  # touching bounding boxes
    # overlapping only left of the image: nothing inside it
    ([-10, 0, 8, 10], [-10, 0, 20, 10], (100, 100), 0.0),
])
def test_region_overlap_counts_pixels_as_the_vot_toolkit(a, b, bound, expected):
    assert vot.region_overlap(a, b, bound) == pytest.approx(expected, rel=1e-6)
    assert vot.region_overlap(b, a, bound) == pytest.approx(expected, rel=1e-6)
    assert ref.vot_overlap(a, b, bound) == pytest.approx(expected, rel=1e-6)


def test_region_overlap_equals_the_reference_on_random_rotated_regions():
    rng = np.random.RandomState(0)
    for _ in range(150):
        w, h = rng.randint(20, 50, size=2)
        cx, cy, sw, sh, angle = rng.uniform(-5, 50), rng.uniform(-5, 50), rng.uniform(
            1, 25), rng.uniform(1, 25), rng.uniform(0, np.pi)
        c, s = np.cos(angle), np.sin(angle)
        polygon = [v for px, py in [(-sw, -sh), (sw, -sh), (sw, sh), (-sw, sh)]
                   for v in (cx + (c * px - s * py) / 2, cy + (s * px + c * py) / 2)]
        box = [rng.uniform(-10, 45), rng.uniform(-10, 45), rng.uniform(0.5, 25),
               rng.uniform(0.5, 25)]
        for bound in ((w, h), (w - 1, h - 1), None):
            assert vot.region_overlap(box, polygon, bound) == ref.vot_overlap(box, polygon, bound)
    assert np.isnan(vot.region_overlap([2.0], BOX, (10, 10)))
    assert vot.region_overlap([np.nan, 0, 5, 5], BOX, (10, 10)) == 0.0
    assert vot.region_overlap([0, 0, np.inf, 5], BOX, (10, 10)) == 0.0


def test_initial_box_is_pysots_axis_aligned_box():
    # a 45-degree square of side 10 sqrt(2) around (50, 50): area 200 in a 20 x 20 extent
    w = np.sqrt(0.5) * 20 + 1
    np.testing.assert_allclose(vot.init_box([50, 40, 60, 50, 50, 60, 40, 50]),
                               [50 - (w - 1) / 2, 50 - (w - 1) / 2, w, w])
    # a box x,y,w,h goes through its corner polygon x..x+w-1 and comes back unchanged
    np.testing.assert_allclose(vot.tracking_polygon([10, 20, 30, 40]),
                               [10, 20, 10, 59, 39, 59, 39, 20])
    np.testing.assert_allclose(vot.init_box([10, 20, 30, 40]), [10, 20, 30, 40])


# -- the reset protocol ----------------------------------------------------------------------------

class ScriptedTracker(object):
    """Returns the ground truth's box (0-based) but a far box on the frames of `lose`; the frame
    index is the frame's pixel value."""
    name = 'scripted'

    def __init__(self, truth, lose):
        self.truth, self.lose, self.inits = truth, set(lose), []

    def init(self, frame, box):
        self.inits.append((int(frame[0, 0, 0]), list(box)))

    def update(self, frame):
        index = int(frame[0, 0, 0])
        return [70, 70, 10, 10] if index in self.lose else self.truth[index] - [1, 1, 0, 0]


def test_reset_protocol_writes_pysots_lines(tmpdir):
    truth = np.array([[5 + i, 8, 20, 12] for i in range(30)], np.float64)     # 1-based boxes
    sequence = vot.VotSequence('s', [str(i) for i in range(30)], truth, {}, 1)
    tracker = ScriptedTracker(truth, lose=(5, 17))
    lines, _, tracked = vot_run.reset_protocol(
        tracker, sequence, read=lambda path: np.full((60, 90, 3), int(path), np.uint8))
    expected = [1] + ['box'] * 4 + [2, 0, 0, 0, 0, 1] + ['box'] * 6 + [2, 0, 0, 0, 0, 1] + \
        ['box'] * 7
    assert [line if isinstance(line, int) else 'box' for line in lines] == expected
    assert tracked == 4 + 1 + 6 + 1 + 7
    # re-initialised 5 frames after each failure, on the ground truth (0-based)
    assert [i for i, _ in tracker.inits] == [0, 10, 22]
    np.testing.assert_allclose(tracker.inits[1][1], truth[10] - [1, 1, 0, 0])
    np.testing.assert_allclose(lines[3], truth[3])
    text = vot_run.result_text(lines).decode().splitlines()
    assert text[:7] == ['1', '6.0000,8.0000,20.0000,12.0000', '7.0000,8.0000,20.0000,12.0000',
                        '8.0000,8.0000,20.0000,12.0000', '9.0000,8.0000,20.0000,12.0000', '2',
                        '0']
    assert vot_run.result_path('r', 'scripted', 's') == os.path.join(
        'r', 'scripted', 'baseline', 's', 's_001.txt')


def test_a_box_overlapping_the_target_only_outside_the_image_is_a_failure():
    truth = np.array([[-10, 1, 20, 10]] * 3, np.float64)           # half left of the image
    sequence = vot.VotSequence('s', ['0', '1', '2'], truth, {}, 1)
    tracker = ScriptedTracker(truth, lose=())
    tracker.update = lambda frame: [-12, 0, 8, 10]                  # inside the target, x < 0
    lines, _, _ = vot_run.reset_protocol(tracker, sequence,
                                         read=lambda path: np.zeros((40, 40, 3), np.uint8))
    assert lines == [1, 2, 0]


# -- accuracy, robustness, EAO ---------------------------------------------------------------------

def two_sequences(root):
    """s1 (14 frames, no failure, occlusion on frames 10-13) and s2 (20 frames, a failure at 3),
    constant ground truth BOX in 100 x 100 images; their result lines."""
    write_sequence(os.path.join(root, 's1'), [BOX] * 14,
                   {'occlusion': [0] * 10 + [1] * 4})
    write_sequence(os.path.join(root, 's2'), [BOX] * 20)
    write_list(root, ['s1', 's2'])
    half = [5, 0, 10, 10]                     # overlap 66 / 176 = 0.375 with BOX
    s1 = [1] + [BOX] * 9 + [BOX, half, BOX, half]
    s2 = [1, BOX, BOX, 2, 0, 0, 0, 0, 1] + [BOX] * 10 + [[-5, -5, 10, 10]]   # last: 36 / 121
    return {'s1': s1, 's2': s2}


def test_accuracy_robustness_and_eao_on_hand_made_results(tmpdir):
    root, results = str(tmpdir.join('vot2018')), str(tmpdir.join('results'))
    lines = two_sequences(root)
    for name, rows in lines.items():
        write_result(results, 'T', name, rows)
    sequences = vot.load_vot(root)
    report = vot_eval.evaluate(results, sequences, ['T'], 2018)['T']
    # valid frames after the 10 burn-in frames: s1 10-13, s2 18-19 (its re-init is frame 8)
    assert report['accuracy'] == pytest.approx((1 + 0.375 + 1 + 0.375 + 1 + 36.0 / 121) / 6,
                                               rel=1e-6)
    assert report['lost_number'] == 1 and report['frames'] == 34
    assert report['robustness'] == pytest.approx(100.0 / 34)
    assert report['sequences']['s1']['accuracy'] == pytest.approx(0.6875)
    assert report['eao_range'] == [100, 356] and np.isnan(report['eao'])   # too short for it
    # EAO over lengths 2..6: s1's fragment and s2's second stay at 1; s2's first fragment is
    # 1, 1, then zeros from its failure on: 2 / i at length i >= 2
    runs = []
    for sequence in sequences:
        trajectory = vot_eval.load_trajectories(results, 'T', sequence)[0]
        tags = dict(sequence.tags, all=np.ones(len(sequence.regions)))
        runs.append((vot_eval.frame_overlaps(trajectory, sequence.regions, (99, 99)),
                     vot_eval.failure_frames(trajectory), tags))
    eao = vot_eval.eao_by_tag(runs, 2, 6)
    curve = [1, 1, (2 + 2 / 3.0) / 3, (2 + 2 / 4.0) / 3, (2 + 2 / 5.0) / 3]
    assert eao['all'] == pytest.approx(np.mean(curve), rel=1e-6) == 407 / 450.0
    assert eao['occlusion'] == pytest.approx(1.0)          # only s1's fragment has the tag
    assert np.isnan(eao['camera_motion'])                  # no fragment has it
    parsed = {n: [[np.atleast_1d(r).tolist() for r in lines[n]]] for n in lines}
    reference = ref.vot_eao(parsed,
                            {s.name: s.regions for s in sequences},
                            {s.name: (100, 100) for s in sequences},
                            {s.name: np.ones(len(s.regions)) for s in sequences}, 2, 6)
    assert reference == pytest.approx(407 / 450.0, rel=1e-6)


def random_results(rng, regions, size, fail_rate):
    """Reset-protocol lines a noisy tracker would leave: boxes near the ground truth, failures
    at random (then 4 skipped frames and a re-init)."""
    lines, restart = [], 0
    for i, region in enumerate(regions):
        if i < restart:
            lines.append(0)
        elif i == restart:
            lines.append(1)
        elif rng.uniform() < fail_rate:
            lines.append(2)
            restart = i + 5
        else:
            x, y, w, h = vot.init_box(region)
            lines.append([x + rng.normal(0, 3), y + rng.normal(0, 3), w * rng.uniform(0.8, 1.2),
                          h * rng.uniform(0.8, 1.2)])
    return lines


def test_every_number_equals_the_reference_on_longer_sequences(tmpdir):
    """Three sequences (polygons moving across a 64 x 48 image and out of it; 4-number boxes),
    long enough for VOT2016's EAO lengths, several failures; tags."""
    rng = np.random.RandomState(7)
    root, results = str(tmpdir.join('vot2016')), str(tmpdir.join('results'))
    regions, tags = {}, {}
    for name, n in (('a', 130), ('b', 115), ('c', 120)):
        t = np.arange(n)
        cx, cy = 5 + 0.5 * t, 24 + 10 * np.sin(t / 9.0)
        if name == 'c':
            regions[name] = np.stack([cx - 6, cy - 4, 12 + 0 * t, 8 + 0 * t], 1).round(1)
        else:
            ang = t / 20.0
            offsets = [(-7, -4), (7, -4), (7, 4), (-7, 4)]
            regions[name] = np.stack([v for ox, oy in offsets for v in (
                cx + ox * np.cos(ang) - oy * np.sin(ang), cy + ox * np.sin(ang) + oy *
                np.cos(ang))], 1).round(2)
        tags[name] = {'occlusion': (t % 17 < 6).astype(int), 'size_change': (t > 60).astype(int)}
        write_sequence(os.path.join(root, name), regions[name], tags[name], size=(64, 48))
        write_result(results, 'T', name, random_results(rng, regions[name], (64, 48), 0.04))
    write_list(root, ['a', 'b', 'c'])
    sequences = vot.load_vot(root)
    report = vot_eval.evaluate(results, sequences, ['T'], 2016)['T']
    trajectories = {s.name: vot_eval.load_trajectories(results, 'T', s) for s in sequences}
    sizes = {n: (64, 48) for n in regions}
    accuracy, robustness, lost = ref.vot_accuracy_robustness(trajectories, regions, sizes)
    assert report['lost_number'] == lost > 3
    assert report['accuracy'] == pytest.approx(accuracy, rel=1e-9)
    assert report['robustness'] == pytest.approx(robustness, rel=1e-9)
    for tag in ('all', 'occlusion', 'size_change'):
        per_frame = {n: (np.ones(len(regions[n])) if tag == 'all' else tags[n][tag])
                     for n in regions}
        expected = ref.vot_eao(trajectories, regions, sizes, per_frame, 108, 371)
        assert report['eao_tags'][tag] == pytest.approx(expected, rel=1e-6), tag
    assert 0 < report['eao'] < 1


def test_bad_result_files_are_one_line_errors(tmpdir):
    root, results = str(tmpdir.join('vot2018')), str(tmpdir.join('results'))
    lines = two_sequences(root)
    sequences = vot.load_vot(root)
    with pytest.raises(EvaluationError, match='no result file s1_001.txt'):
        vot_eval.evaluate(results, sequences, ['T'], 2018)
    write_result(results, 'T', 's1', lines['s1'][:-1])
    with pytest.raises(EvaluationError, match='s1_001.txt: 13 lines but the sequence has 14'):
        vot_eval.evaluate(results, sequences, ['T'], 2018)
    write_result(results, 'T', 's1', [3] + lines['s1'][1:])
    with pytest.raises(EvaluationError, match=r's1_001.txt:1: expected 0, 1, 2 or a region'):
        vot_eval.evaluate(results, sequences, ['T'], 2018)
    with pytest.raises(EvaluationError, match='say which VOT year'):
        vot_eval.resolve_year(None, str(tmpdir.join('vot')))


def test_evaluation_command_on_a_results_folder(tmpdir, capsys):
    root, results = str(tmpdir.join('vot2017')), str(tmpdir.join('out', 'results'))
    for name, rows in two_sequences(root).items():
        write_result(results, 'T', name, rows)
    assert vot_eval.main(['--results', results, '--vot', root]) == 0
    out = capsys.readouterr().out
    assert 'VOT2017 T: accuracy 0.675, robustness 2.941 (1 lost in 34 frames)' in out
    with open(str(tmpdir.join('out', 'reports', 'vot.json'))) as f:
        report = json.load(f)
    assert report['T']['eao'] is None and report['T']['eao_range'] == [100, 356]
    assert vot_eval.main(['--results', results, '--vot', root + '-missing']) == 1
    assert 'error: ' in capsys.readouterr().err


# -- the tracker end to end ------------------------------------------------------------------------

def textured_vot_tree(root, n=24, size=(200, 120)):
    """One VOT sequence: a 30 x 24 texture moving 5 px a frame; 8-number ground truth."""
    rng = np.random.RandomState(0)
    w, h = size
    background = cv2.GaussianBlur(rng.uniform(80, 170, (h, w, 3)).astype(np.float32), (0, 0), 5)
    texture = cv2.resize(rng.uniform(0, 255, (6, 8, 3)).astype(np.float32), (30, 24),
                         interpolation=cv2.INTER_NEAREST)
    folder = os.path.join(root, 'moving')
    os.makedirs(os.path.join(folder, 'color'))
    regions = []
    for t in range(n):
        x, y = 20 + 5 * t, 40 + int(round(10 * np.sin(t / 4.0)))
        frame = background.copy()
        frame[y:y + 24, x:x + 30] = texture
        cv2.imwrite(os.path.join(folder, 'color', '%08d.jpg' % (t + 1)), frame.astype(np.uint8))
        regions.append([x + 1, y + 1, x + 31, y + 1, x + 31, y + 25, x + 1, y + 25])
    np.savetxt(os.path.join(folder, 'groundtruth.txt'), regions, fmt='%d', delimiter=',')
    write_list(root, ['moving'])


class TruthTracker(ScriptedTracker):
    """A scripted tracker that reads the frame index from a frame's file order."""

    def __init__(self, truth):
        super(TruthTracker, self).__init__(truth, lose=())
        self.name, self.index = 'pixel_pool', 0

    def init(self, frame, box):
        self.index = int(round(box[0] + 1 - 21)) // 5    # the texture moves 5 px a frame

    def update(self, frame):
        self.index += 1
        return self.truth[self.index] - [1, 1, 0, 0]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


def test_eval_command_writes_pysot_results_and_the_report(tmpdir, capsys, monkeypatch):
    root, out = str(tmpdir.join('vot2018')), str(tmpdir.join('eval'))
    textured_vot_tree(root)
    regions = vot.load_vot(root)[0].regions
    truth = np.array([vot.init_box(r) for r in regions])
    monkeypatch.setattr(cli.sasiam, 'open_tracker', lambda *a: TruthTracker(truth))
    assert cli.main(['eval', '--run', 'pixel_pool', '--vot', root, '--out', out,
                     '--device', 'cpu', '--limit', '1']) == 0
    printed = capsys.readouterr().out
    with open(os.path.join(out, 'reports', 'vot.json')) as f:
        report = json.load(f)
    assert report['pixel_pool']['lost_number'] == 0 and report['pixel_pool']['frames'] == 24
    # pysot's box of the polygon x+1..x+31 (30 wide) is 31 wide: as a result x,y,w,h it spans
    # x+1..x+32, 32 x 26 pixels over the polygon's 31 x 25
    assert report['pixel_pool']['accuracy'] == pytest.approx(775 / 832.0, rel=1e-6)
    assert report['static-first-box']['lost_number'] >= 2
    assert 'VOT2018 pixel_pool: accuracy 0.931, robustness 0.000 (0 lost in 24 frames)' in printed
    for tracker in ('pixel_pool', 'static-first-box'):
        assert os.path.isfile(os.path.join(out, 'results', tracker, 'baseline', 'moving',
                                           'moving_001.txt'))
    assert cli.main(['eval', '--run', 'pixel_pool', '--vot', root, '--out', out, '--strips']) == 1
    assert '--strips is for OPE' in capsys.readouterr().err


@pytest.mark.slow  # builds and runs the tracker's TensorFlow graphs (5-7 s on 2 busy cores)
def test_eval_command_runs_the_reset_protocol_and_scores_it(tmpdir, capsys):
    root, out = str(tmpdir.join('vot2018')), str(tmpdir.join('eval'))
    textured_vot_tree(root)
    assert cli.main(['eval', '--run', 'pixel_pool', '--vot', root, '--out', out,
                     '--device', 'cpu']) == 0
    printed = capsys.readouterr().out
    result = os.path.join(out, 'results', 'pixel_pool', 'baseline', 'moving', 'moving_001.txt')
    with open(result) as f:
        lines = f.read().splitlines()
    assert len(lines) == 24 and lines[0] == '1'
    with open(os.path.join(out, 'reports', 'vot.json')) as f:
        report = json.load(f)
    assert set(report) == {'pixel_pool', 'static-first-box'}
    # the moving texture is followed; the static box loses it again and again
    assert report['pixel_pool']['lost_number'] == 0
    assert report['static-first-box']['lost_number'] >= 2
    assert 'VOT2018 pixel_pool: accuracy' in printed
    assert cli.main(['eval', '--run', 'pixel_pool', '--vot', str(tmpdir.join('vot')), '--out',
                     out, '--device', 'cpu']) == 1
    assert 'say which VOT year' in capsys.readouterr().err


@pytest.mark.slow  # trains the session's tiny SA-Siam run (Beam records + 4 steps) when alone
def test_real_tracker_on_a_vot_tree_of_sample_frames(sasiam_run, sample_data, tmpdir):
    from datasets.vid import track_sequences
    track = track_sequences(os.path.join(sample_data[0], 'ILSVRC2015'))[0]
    root = str(tmpdir.join('vot2018'))
    folder = os.path.join(root, track.name, 'color')
    os.makedirs(folder)
    for i, frame in enumerate(track.frames):
        shutil.copy(frame, os.path.join(folder, '%08d.jpg' % (i + 1)))
    x, y, w, h = (track.boxes + [1, 1, 0, 0]).T           # VID boxes are 0-based
    polygons = np.stack([x, y, x + w, y, x + w, y + h, x, y + h], 1)
    np.savetxt(os.path.join(root, track.name, 'groundtruth.txt'), polygons, fmt='%.2f',
               delimiter=',')
    write_list(root, [track.name])
    out = str(tmpdir.join('eval'))
    assert cli.main(['eval', '--run', sasiam_run, '--vot', root, '--out', out,
                     '--device', 'cpu']) == 0
    with open(os.path.join(out, 'reports', 'vot.json')) as f:
        report = json.load(f)['sasiam-tiny']
    assert report['frames'] == len(track.frames) and report['repetitions'] == 1
    # a sample track is shorter than the 10 burn-in frames: no valid frame, accuracy NaN (null)
    assert len(track.frames) <= 10 and report['accuracy'] is None
    result = os.path.join(out, 'results', 'sasiam-tiny', 'baseline', track.name,
                          track.name + '_001.txt')
    lines = [line.split(',') for line in open(result).read().splitlines()]
    assert lines[0] == ['1'] and len(lines) == len(track.frames)
    boxes = np.array([[float(v) for v in line] for line in lines if len(line) == 4])
    assert len(boxes) + sum(line in (['0'], ['1'], ['2']) for line in lines) == len(lines)
    assert len(boxes) > 0 and np.all(np.isfinite(boxes)) and np.all(boxes[:, 2:] > 0)
