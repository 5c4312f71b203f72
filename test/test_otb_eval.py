"""OTB-style evaluation: got10k's numbers on hand-made boxes (incl. empty and degenerate ones),
normalised precision, the report files, and clear errors for bad result folders."""
from __future__ import absolute_import, division, print_function

import json
import os

import numpy as np
import pytest

from evaluation import ope, otb
from datasets.tracking import Sequence

# Sequence A: ground truth (0, 0, 10, 10) everywhere. Predictions: frame 0 is replaced by the
# ground truth (IoU 1, error 0); half overlap (IoU 50/150, error 5); an empty box (IoU 0, centre
# (-0.5, -0.5) -> error sqrt(50)); far away (IoU 0, error exactly 50).
GT_A = np.array([[0, 0, 10, 10]] * 4, float)
PRED_A = np.array([[99, 99, 1, 1], [5, 0, 10, 10], [0, 0, 0, 0], [30, 40, 10, 10]], float)
# Sequence B: IoU 1; (2, 2, 20, 10) on (0, 0, 20, 10): 144 / 256, error sqrt(8); a degenerate
# (zero-size) ground truth: IoU 0, error sqrt(8), normalised error infinite.
GT_B = np.array([[0, 0, 20, 10], [0, 0, 20, 10], [10, 10, 0, 0]], float)
PRED_B = np.array([[0, 0, 20, 10], [2, 2, 20, 10], [10, 10, 4, 4]], float)


def _write(results, tracker, name, boxes, times=None):
    folder = os.path.join(results, tracker)
    os.makedirs(os.path.join(folder, 'times'), exist_ok=True)
    np.savetxt(os.path.join(folder, name + '.txt'), boxes, fmt='%.3f', delimiter=',')
    if times is not None:
        np.savetxt(os.path.join(folder, 'times', name + '_time.txt'), times)


def _sequences():
    return [Sequence('A', ['a%d.jpg' % i for i in range(4)], GT_A, 1),
            Sequence('B', ['b%d.jpg' % i for i in range(3)], GT_B, 1)]


@pytest.fixture
def performance(tmpdir):
    results = str(tmpdir.join('results'))
    _write(results, 'mine', 'A', PRED_A, [0.1, 0.02, 0.04, 0.0])
    _write(results, 'mine', 'B', PRED_B)
    _write(results, 'other', 'A', GT_A)
    _write(results, 'other', 'B', GT_B)
    return otb.evaluate(results, _sequences(), ['mine', 'other'],
                        str(tmpdir.join('reports'))), str(tmpdir.join('reports'))


def test_success_and_precision_equal_the_hand_computed_ope_numbers(performance):
    perf, _ = performance
    a, b = perf['mine']['seq_wise']['A'], perf['mine']['seq_wise']['B']
    # A's IoUs (1, 1/3, 0, 0): 2/4 above t for t in 0..0.30 (7 thresholds), 1/4 up to 0.95 (13)
    assert a['success_score'] == pytest.approx((7 * 0.5 + 13 * 0.25) / 21, abs=1e-6)
    # B's IoUs (1, 0.5625, 0): 2/3 for t in 0..0.55 (12), 1/3 up to 0.95 (8)
    assert b['success_score'] == pytest.approx((12 * 2 / 3. + 8 / 3.) / 21, abs=1e-6)
    overall = perf['mine']['overall']
    assert overall['success_score'] == pytest.approx(
        (a['success_score'] + b['success_score']) / 2, abs=1e-6)
    assert a['precision_score'] == pytest.approx(0.75) and b['precision_score'] == 1.0
    assert a['precision_curve'][50] == 1.0 and a['precision_curve'][49] == 0.75  # error 50
    assert overall['precision_score'] == pytest.approx(0.875, abs=1e-6)
    assert overall['success_rate'] == pytest.approx((1 / 4. + 2 / 3.) / 2, abs=1e-6)
    # a copy of the ground truth: IoU 1 (> every threshold but 1.0), except on the zero-size
    # ground truth, where got10k's IoU is 0 / (0 + eps) = 0 for any box, even the same one
    assert perf['other']['overall']['success_score'] == pytest.approx(
        (20 / 21. + 20 / 21. * 2 / 3.) / 2, abs=1e-6)


def test_normalised_precision_and_speed(performance):
    perf, _ = performance
    # A: errors / 10 = (0, 0.5, 0.71, 5); B: (0, sqrt(0.1^2 + 0.2^2) > 0.2, infinite)
    assert perf['mine']['seq_wise']['A']['norm_precision_score'] == pytest.approx(0.25)
    assert perf['mine']['seq_wise']['B']['norm_precision_score'] == pytest.approx(1 / 3.)
    assert perf['mine']['seq_wise']['B']['norm_precision_curve'][23] == pytest.approx(2 / 3.)
    assert perf['mine']['overall']['norm_precision_score'] == pytest.approx(
        (0.25 + 1 / 3.) / 2, abs=1e-6)
    # got10k: mean of 1/time over the frames with a time > 0, sequences without times left out
    assert perf['mine']['seq_wise']['A']['speed_fps'] == pytest.approx((10 + 50 + 25) / 3.)
    assert perf['mine']['seq_wise']['B']['speed_fps'] == -1
    assert perf['mine']['overall']['speed_fps'] == pytest.approx((10 + 50 + 25) / 3.)


def _assert_curves_plotted(path, trackers):
    """A readable PNG of a 300 dpi figure holding one curve per tracker in matplotlib's
    colour cycle (C0, C1, ...): not a blank or truncated file of the right size."""
    from PIL import Image
    image = Image.open(path)
    assert image.format == 'PNG'
    rgb = np.asarray(image.convert('RGB')).astype(int)
    height, width = rgb.shape[:2]
    assert width > height > 1000, (width, height)
    cycle = [(0x1f, 0x77, 0xb4), (0xff, 0x7f, 0x0e), (0x2c, 0xa0, 0x2c)][:trackers]
    curves = np.zeros((height, width), bool)
    for colour in cycle:
        near = np.abs(rgb - colour).sum(axis=2) < 30
        assert near.sum() > 100, (path, colour)   # at least its legend entry
        curves |= near
    # the curves run across the axes (a curve at 1.0 may hide under the frame's top edge)
    assert curves.any(axis=0).sum() > width // 2, path
    assert (rgb.sum(axis=2) < 100).sum() > 1000   # black axes, ticks and labels


def test_report_files_and_table(performance):
    perf, reports = performance
    folder = os.path.join(reports, 'mine')
    with open(os.path.join(folder, 'performance.json')) as f:
        assert json.load(f)['mine']['overall']['frames'] == 7
    for plot in ('success_plots.png', 'precision_plots.png'):
        _assert_curves_plotted(os.path.join(folder, plot), len(perf))
    lines = otb.table(perf).splitlines()
    assert lines[1].split()[0] == 'other' and lines[2].split()[:2] == ['mine', '%.3f' % (
        perf['mine']['overall']['success_score'])]


def test_bad_result_folders_fail_with_the_path(tmpdir):
    results = str(tmpdir.join('results'))
    _write(results, 'mine', 'A', PRED_A)
    with pytest.raises(otb.EvaluationError, match=r'B\.txt: missing'):
        otb.evaluate(results, _sequences(), ['mine'], str(tmpdir.join('reports')))
    _write(results, 'mine', 'B', PRED_B[:2])
    with pytest.raises(otb.EvaluationError, match='2 rows of 4 values, the ground truth has 3'):
        otb.evaluate(results, _sequences(), ['mine'], str(tmpdir.join('reports')))
    with open(os.path.join(results, 'mine', 'B.txt'), 'w') as f:
        f.write('1,2,x,4\n')
    with pytest.raises(otb.EvaluationError, match='not comma-separated'):
        otb.evaluate(results, _sequences(), ['mine'], str(tmpdir.join('reports')))


def test_cli_reports_bad_input_in_one_line(tmpdir, capsys):
    assert otb.main(['--results', str(tmpdir), '--otb', str(tmpdir.join('none')),
                     '--trackers', 'x']) == 1
    assert capsys.readouterr().err.startswith('error: ')


def test_normalised_precision_is_pysots_where_the_gt_centre_is_not_positive():
    # pysot-toolkit gives distance -1 (a hit at every threshold) to frames whose normalised
    # ground-truth centre is <= 0 in x or y; frames 1-3 here, whatever the prediction
    gt = np.array([[0, 0, 10, 10],        # centre (4.5, 4.5)
                   [-10, 5, 10, 10],      # centre x -5.5
                   [5, -4.5, 10, 1],      # centre y -4.5
                   [-4.5, 3, 10, 4],      # centre x exactly 0
                   [20, 20, 10, 10]], float)
    pred = np.array([[0, 0, 10, 10], [90, 90, 10, 10], [90, 90, 10, 10], [90, 90, 10, 10],
                     [23, 20, 10, 10]], float)   # last: 3 px right, 0.3 of the width
    curve = ope.norm_precision_curve(pred, gt)
    assert curve[0] == pytest.approx(0.8) and curve[29] == pytest.approx(0.8)
    assert curve[31] == 1.0 and curve[ope.AT_20] == pytest.approx(0.8)


def _one_frame_otb(root):
    folder = os.path.join(root, 'Single')
    os.makedirs(os.path.join(folder, 'img'))
    open(os.path.join(folder, 'img', '0001.jpg'), 'w').close()
    with open(os.path.join(folder, 'groundtruth_rect.txt'), 'w') as f:
        f.write('1,1,5,5\n')


def test_one_frame_sequences_are_refused_in_one_line(tmpdir, capsys):
    # got10k's report would read the one-row result file as a 1-D box and raise ValueError
    sequences = _sequences() + [Sequence('Single', ['s0.jpg'], np.array([[1, 1, 5, 5]], float),
                                         1)]
    results = str(tmpdir.join('results'))
    for sequence in sequences:
        _write(results, 'mine', sequence.name, sequence.boxes)
    with pytest.raises(otb.EvaluationError, match=r'single frame \(Single\).*--list'):
        otb.evaluate(results, sequences, ['mine'], str(tmpdir.join('reports')))
    _one_frame_otb(str(tmpdir.join('otb')))
    assert otb.main(['--results', results, '--otb', str(tmpdir.join('otb')),
                     '--trackers', 'mine']) == 1
    err = capsys.readouterr().err
    assert err.startswith('error: 1 sequence(s) with a single frame') and err.count('\n') == 1
