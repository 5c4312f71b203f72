"""DAVIS J / F / statistics on hand-made masks, the official CSV layout, the first-mask baseline."""
from __future__ import absolute_import, division, print_function

import os

import cv2
import numpy as np
import pytest

from datasets.palette import write_palette_png
from datasets import davis as davis_data
from datasets.errors import InputError
from datasets.images import resize_labels
from datasets.palette import read_label_png
from evaluation import davis

H, W = 480, 854  # tolerance ceil(0.008 * 979.7) = 8 px


def _square(top, left, size=100, shape=(H, W)):
    mask = np.zeros(shape, bool)
    mask[top:top + size, left:left + size] = True
    return mask


def test_boundary_map_is_the_outer_top_left_and_inner_bottom_right_ring():
    b = davis.boundary_map(_square(10, 10, 10, (40, 40)))
    ring = np.zeros((40, 40), bool)
    ring[9:20, 9:20] = True
    ring[10:19, 10:19] = False   # the 11 x 11 ring from (9, 9) to (19, 19)
    np.testing.assert_array_equal(b, ring)
    assert davis.boundary_tolerance((480, 854)) == 8
    assert davis.disk(1).tolist() == [[0, 1, 0], [1, 1, 1], [0, 1, 0]]


def test_shifted_square_hand_computed():
    gt = _square(100, 100)
    far = _square(100, 150)          # 50 px right: J = 50 / 150
    assert davis.jaccard(gt, far) == pytest.approx(1 / 3.0)
    # rings of 400 px; 59 + 59 pixels of the horizontal sides lie within 8 px of the other ring,
    # and 8 + 8 of the near vertical side: P = R = 134 / 400
    assert davis.f_measure(gt, far) == pytest.approx(134 / 400.0)
    near = _square(100, 105)         # a shift inside the tolerance: perfect boundary, J < 1
    assert davis.f_measure(gt, near) == 1.0
    assert davis.jaccard(gt, near) == pytest.approx(95 / 105.0)


def test_empty_masks():
    gt, empty = _square(100, 100), np.zeros((H, W), bool)
    assert davis.jaccard(gt, empty) == 0.0 and davis.f_measure(gt, empty) == 0.0
    assert davis.jaccard(empty, gt) == 0.0 and davis.f_measure(empty, gt) == 0.0
    assert davis.jaccard(empty, empty) == 1.0 and davis.f_measure(empty, empty) == 1.0


def test_multi_object_scores_per_object():
    gt = np.zeros((2, H, W), np.uint8)
    gt[:, 100:200, 100:200] = 1
    gt[:, 300:400, 500:600] = 2
    pred = gt.copy()
    pred[1][pred[1] == 2] = 0        # object 2 lost in the second frame
    j, f = davis.sequence_scores(gt, pred, 2)
    np.testing.assert_array_equal(j, [[1, 1], [1, 0]])
    np.testing.assert_array_equal(f, [[1, 1], [1, 0]])


def test_decay_bins_and_statistics():
    assert davis.decay_bins(10) == [(0, 3), (2, 6), (5, 8), (7, 10)]  # edges 0, 2, 5, 7, 9
    values = np.array([1, 1, 1, .9, .8, .6, .4, .4, .2, 0])
    mean, recall, decay = davis.statistics(values)
    assert mean == pytest.approx(0.63) and recall == pytest.approx(0.6)
    assert decay == pytest.approx(1.0 - 0.2)
    assert davis.decay_bins(300)[-1] == (224, 300)  # the toolkit's uint8 edges would wrap here
    with_nan = davis.statistics([1.0, np.nan, 0.0, 1.0])
    assert with_nan[0] == pytest.approx(2 / 3.0)


def _davis_tree(root, sequences):
    """A DAVIS root: {seq: gt id maps [T, H, W]} -> ImageSets/2017/val.txt + Annotations."""
    os.makedirs(os.path.join(root, 'ImageSets', '2017'))
    with open(os.path.join(root, 'ImageSets', '2017', 'val.txt'), 'w') as f:
        f.write('\n'.join(sequences) + '\n')
    for seq, frames in sequences.items():
        for t, labels in enumerate(frames):
            write_palette_png(os.path.join(root, 'Annotations', '480p', seq, '%05d.png' % t),
                              labels)


def test_first_and_last_frames_excluded_and_csvs(tmpdir):
    root, results = str(tmpdir.join('DAVIS')), str(tmpdir.join('results'))
    gt = np.zeros((5, 60, 80), np.uint8)
    gt[:, 10:30, 10:30] = 1
    gt[:, 40:50, 50:70] = 2
    gt[2, 0, 0] = 255                     # void pixel: background
    _davis_tree(root, {'seq': gt})
    for t in (1, 2, 3):                   # no result for frames 0 and 4: not evaluated
        labels = gt[t].copy()
        labels[labels == 255] = 0
        if t == 3:
            labels[labels == 2] = 0       # object 2 lost in the last evaluated frame
        write_palette_png(os.path.join(results, 'seq', '%05d.png' % t), labels)
    report = davis.run(results, root, '2017', 'val', str(tmpdir.join('out')), overlay_frames=2)
    by_name = {o['name']: o for o in report['objects']}
    assert by_name['seq_1']['J'] == [1, 1, 1] and by_name['seq_2']['J'] == [1, 1, 0]
    assert by_name['seq_2']['J-Mean'] == pytest.approx(2 / 3.0)
    # 3 values: edges round(linspace(1, 3, 5) + 1e-10) - 1 = 0 1 1 2 2, bins [0:2] ... [2:3]
    assert by_name['seq_2']['J-Decay'] == 1.0
    lines = open(str(tmpdir.join('out', 'global_results-val.csv'))).read().splitlines()
    assert lines[0] == 'J&F-Mean,J-Mean,J-Recall,J-Decay,F-Mean,F-Recall,F-Decay'
    values = [float(v) for v in lines[1].split(',')]
    assert values[1] == pytest.approx((1 + 2 / 3.0) / 2, abs=1e-3)
    assert values[0] == pytest.approx((values[1] + values[4]) / 2, abs=1e-3)
    per_seq = open(str(tmpdir.join('out', 'per-sequence_results-val.csv'))).read().splitlines()
    assert per_seq == ['Sequence,J-Mean,F-Mean', 'seq_1,1.000,1.000', 'seq_2,0.667,0.667']
    iou = open(str(tmpdir.join('out', 'iou.txt'))).read().splitlines()
    assert iou[-1] == 'all\t%.6f' % ((1 + 2 / 3.0) / 2)
    # the first-mask baseline: ground truth never moves here, so every frame is perfect
    assert report['baseline_first_mask']['J-Mean'] == 1.0
    # the overlay strip: evaluated frames 1 and 3 side by side at width 320, prediction above
    # ground truth; object 2 (DAVIS green, rows 40:50 x cols 50:70, x4) is gone from the
    # prediction of frame 3 only
    strip = cv2.imread(str(tmpdir.join('out', 'overlays', 'seq.png')))[..., ::-1]
    assert strip.shape == (2 * 240, 2 * 320, 3)

    def green(row, col):
        r, g, b = strip[row, col].astype(int)
        return g > r + 30 and g > b + 30
    centre = (4 * 45, 4 * 60)
    assert green(*centre) and green(centre[0] + 240, centre[1])              # frame 1
    assert not green(centre[0], centre[1] + 320) and green(centre[0] + 240, centre[1] + 320)


def test_missing_result_frame_is_a_one_line_error(tmpdir, capsys):
    root = str(tmpdir.join('DAVIS'))
    _davis_tree(root, {'seq': np.ones((4, 20, 30), np.uint8)})
    os.makedirs(str(tmpdir.join('results', 'seq')))
    assert davis.main(['--results', str(tmpdir.join('results')), '--davis', root]) == 1
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'missing result' in err and '00001.png' in err


def test_first_mask_baseline_equals_a_direct_computation(sample_data):
    root = os.path.join(sample_data[0], 'DAVIS')
    report = davis.evaluate(root, '2017', 'val', davis.first_mask_predictions(root, '2017'))
    direct = []
    for seq in davis_data.split_listing(root, '2017', 'val')[1]:
        folder = davis_data.annotation_dir(root, seq)
        frames = [np.array(read_label_png(os.path.join(folder, n)))
                  for n in sorted(os.listdir(folder))]
        for k in range(1, frames[0][frames[0] != 255].max() + 1):   # 255: void outline
            ious = []
            for labels in frames[1:-1]:
                gt, first = labels == k, frames[0] == k
                union = np.logical_or(gt, first).sum()
                ious.append(1.0 if union == 0 else np.logical_and(gt, first).sum() / union)
            direct.append(np.mean(ious))
    assert len(report['objects']) == len(direct) >= 2
    assert report['global']['J-Mean'] == pytest.approx(np.mean(direct), abs=1e-9)
    assert 0 < report['global']['J-Mean'] < 1   # the sample objects move


def test_davis_2016_is_binary_for_ground_truth_and_results():
    labels = np.array([[0, 1, 2, 255]], np.uint8)
    np.testing.assert_array_equal(davis_data.object_labels(labels, '2016'), [[0, 1, 1, 1]])
    np.testing.assert_array_equal(davis_data.object_labels(labels, '2017'), [[0, 1, 2, 0]])


def _one_object_tree(root):
    """A 1-object sequence of 4 frames listed for 2016 and 2017; the test writes results for
    frames 1 and 2. Returns the ground truth."""
    gt = np.zeros((4, 30, 40), np.uint8)
    gt[:, 5:15, 5:20] = 1
    for year in davis_data.YEARS:
        os.makedirs(os.path.join(root, 'ImageSets', year))
        with open(os.path.join(root, 'ImageSets', year, 'val.txt'), 'w') as f:
            f.write('seq\n')
    for t in range(4):
        write_palette_png(os.path.join(root, 'Annotations', '480p', 'seq', '%05d.png' % t), gt[t])
    return gt


def _write_results(results, frames, mode='P'):
    from PIL import Image
    for t, labels in frames.items():
        path = os.path.join(results, 'seq', '%05d.png' % t)
        if mode == 'P':
            write_palette_png(path, labels)
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            Image.fromarray(labels).save(path)


def test_2017_results_above_the_object_count_are_refused(tmpdir, capsys):
    root, results = str(tmpdir.join('DAVIS')), str(tmpdir.join('results'))
    gt = _one_object_tree(root)
    _write_results(results, {1: gt[1] * 255, 2: gt[2] * 255})      # binary 0/255 masks
    args = ['--results', results, '--davis', root, '--out', str(tmpdir.join('out'))]
    assert davis.main(args) == 1
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'object id 255' in err and 'DAVIS_YEAR=2016' in err
    assert davis.main(args + ['--year', '2016']) == 0              # scored as binary: perfect
    capsys.readouterr()
    frame = gt[1].copy()
    frame[0, 0] = 255                                               # a void-like pixel hides
    _write_results(results, {1: frame, 2: gt[2] * 3})               # id 3 elsewhere
    assert davis.main(args) == 1
    err = capsys.readouterr().err
    assert 'object id 255' in err and 'DAVIS_YEAR' not in err


def test_rgb_results_map_through_the_davis_palette_or_are_refused(tmpdir):
    from datasets.palette import voc_palette
    root, results = str(tmpdir.join('DAVIS')), str(tmpdir.join('results'))
    gt = _one_object_tree(root)
    colours = np.array(voc_palette(), np.uint8).reshape(256, 3)
    _write_results(results, {1: colours[gt[1]], 2: colours[gt[2]]}, mode='RGB')
    np.testing.assert_array_equal(read_label_png(os.path.join(results, 'seq', '00001.png')),
                                  gt[1])
    report = davis.evaluate(root, '2017', 'val', davis.folder_predictions(results))
    assert report['global']['J-Mean'] == 1.0
    grey = np.repeat((gt[1] * 255)[..., None], 3, axis=2)          # white on black: grey values
    _write_results(results, {1: grey}, mode='RGB')
    assert read_label_png(os.path.join(results, 'seq', '00001.png')).max() == 255
    odd = colours[gt[1]].copy()
    odd[gt[1] > 0] = (10, 200, 30)                                  # no palette colour
    _write_results(results, {1: odd}, mode='RGB')
    with pytest.raises(InputError, match=r'colour \(10, 200, 30\).*DAVIS palette'):
        read_label_png(os.path.join(results, 'seq', '00001.png'))


def test_results_of_another_size_are_refused_unless_resized(tmpdir, capsys):
    root, results = str(tmpdir.join('DAVIS')), str(tmpdir.join('results'))
    _one_object_tree(root)
    half = np.zeros((15, 20), np.uint8)
    half[3:7, 3:10] = 1                   # at 2x: rows 6-13, cols 6-19 (the object: 5-14, 5-19)
    _write_results(results, {1: half, 2: half})
    args = ['--results', results, '--davis', root, '--out', str(tmpdir.join('out'))]
    assert davis.main(args) == 1
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'is 20x15, the ground truth 40x30' in err and '--resize' in err
    assert davis.main(args + ['--resize', '--no-baseline', '--overlay-frames', '0']) == 0
    np.testing.assert_array_equal(resize_labels(half, (30, 40)),
                                  np.kron(half, np.ones((2, 2), np.uint8)))
    lines = open(str(tmpdir.join('out', 'global_results-val.csv'))).read().splitlines()
    assert float(lines[1].split(',')[1]) == pytest.approx(8 * 14 / 150.0, abs=1e-3)


def test_original_davis_2016_layout(tmpdir, capsys):
    """ImageSets/480p/val.txt of '<image> <mask>' path pairs and 0/255 greyscale masks."""
    from PIL import Image
    root, results = str(tmpdir.join('DAVIS')), str(tmpdir.join('results'))
    gt = np.zeros((5, 30, 40), np.uint8)
    for t in range(5):
        gt[t, 5:15, 5 + t:20 + t] = 255
    os.makedirs(os.path.join(root, 'ImageSets', '480p'))
    with open(os.path.join(root, 'ImageSets', '480p', 'val.txt'), 'w') as f:
        for seq in ('cows', 'bear'):
            for t in range(5):
                f.write('/JPEGImages/480p/%s/%05d.jpg /Annotations/480p/%s/%05d.png\n'
                        % (seq, t, seq, t))
            folder = os.path.join(root, 'Annotations', '480p', seq)
            os.makedirs(folder, exist_ok=True)
            for t in range(5):
                Image.fromarray(gt[t], mode='L').save(os.path.join(folder, '%05d.png' % t))
    assert davis_data.split_listing(root, '2016', 'val')[1] == ['cows', 'bear']
    for seq in ('cows', 'bear'):
        for t in (1, 2, 3):
            write_palette_png(os.path.join(results, seq, '%05d.png' % t), gt[0] > 0)
    report = davis.evaluate(root, '2016', 'val', davis.folder_predictions(results))
    # the first mask against shifts of 1, 2, 3 px: 15 px wide, overlaps 14, 13, 12 of 16, 17, 18
    expected = np.mean([14 / 16.0, 13 / 17.0, 12 / 18.0])
    assert [o['name'] for o in report['objects']] == ['cows_1', 'bear_1']
    assert report['global']['J-Mean'] == pytest.approx(expected)
    with pytest.raises(InputError, match='ImageSets/2017/val.txt: not found'):
        davis_data.split_listing(root, '2017', 'val')
    assert davis.main(['--results', results, '--davis', str(tmpdir), '--year', '2016']) == 1
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'original DAVIS 2016 layout' in err
