"""SA-Siam tracker: update rule and crop geometry against hand-computed cases (sa-siam.md 7.2,
7.4), the mechanics end to end with a non-learned embedding, combined-model restore, the device
graph against the NPU op review, tracker names, and a run directory of the real trainer."""
from __future__ import absolute_import, division, print_function

import json
import os

import cv2
import numpy as np
import pytest
import tensorflow as tf

from trackers import __main__ as cli
from trackers import sasiam
from trackers.sasiam_branches import (TrackerError, branches_from_runs, load_branch, tracker_name,
                                      untrained_branch)
from trainers import device
from trainers.sasiam import model, train

CFG = dict(sasiam.TRACK_DEFAULTS)


# -- update rule ---------------------------------------------------------------------------------

def _responses(peaks):
    """[3, 272, 272] zero maps with value v at (i, j) for each (scale, i, j, v)."""
    up = np.zeros((3, 272, 272))
    for scale, i, j, value in peaks:
        up[scale, i, j] = value
    return up


STATE = sasiam.State(cy=100.0, cx=200.0, h=40.0, w=60.0, h0=40.0, w0=60.0)


def test_search_side_and_scale_factors():
    # p = 0.5 * (60 + 40) = 50; s_z = sqrt(110 * 90); s_x = s_z * 255 / 127
    assert sasiam.search_side(40.0, 60.0, CFG) == pytest.approx(np.sqrt(9900.0) * 255 / 127)
    np.testing.assert_allclose(sasiam.scale_factors(3, 1.0375), [1 / 1.0375, 1.0, 1.0375])


def test_update_moves_by_the_peak_offset_in_frame_pixels():
    s_x = 200.0
    window = sasiam.hann_window(272)
    # centre scale, peak 32 upsampled cells below and 16 left of the centre 135.5
    new, best = sasiam.update(STATE, _responses([(1, 167, 119, 1.0)]), s_x, CFG, window)
    scale_x = 255 / (1.0 * s_x)
    assert best == 1
    assert new.cy == pytest.approx(100 + (167 - 135.5) / 16 * 8 / scale_x)
    assert new.cx == pytest.approx(200 + (119 - 135.5) / 16 * 8 / scale_x)
    assert (new.h, new.w) == (40.0, 60.0)  # t = 1 * (0.41 + 0.59 * 1)


def test_update_clips_the_displacement_to_8_cells():
    new, _ = sasiam.update(STATE, _responses([(1, 0, 271, 1.0)]), 200.0, CFG,
                           sasiam.hann_window(272))
    assert new.cy == pytest.approx(100 - 8 * 8 * 200 / 255.0)
    assert new.cx == pytest.approx(200 + 8 * 8 * 200 / 255.0)


def test_scale_penalty_decides_between_scales_and_the_size_is_damped():
    window = sasiam.hann_window(272)
    # larger scale peak 1.0 * 0.9745 beats the centre's 0.97: target grows, damped by 0.59
    new, best = sasiam.update(STATE, _responses([(1, 135, 135, 0.97), (2, 140, 140, 1.0)]),
                              200.0, CFG, window)
    t = 0.41 + 0.59 * 1.0375
    assert best == 2 and new.h == pytest.approx(40 * t) and new.w == pytest.approx(60 * t)
    assert new.cy == pytest.approx(100 + (140 - 135.5) / 16 * 8 * 1.0375 * 200 / 255)
    # the centre's 0.98 beats 1.0 * 0.9745
    _, best = sasiam.update(STATE, _responses([(1, 135, 135, 0.98), (2, 140, 140, 1.0)]),
                            200.0, CFG, window)
    assert best == 1


def test_size_is_clamped_relative_to_the_first_box():
    small = STATE._replace(h=40.0 * 0.2, w=60.0 * 0.2)
    new, best = sasiam.update(small, _responses([(0, 135, 135, 1.0)]), 50.0, CFG,
                              sasiam.hann_window(272))
    assert best == 0 and new.h == pytest.approx(8.0) and new.w == pytest.approx(12.0)
    # the upper clamp: 5 * (0.41 + 0.59 * 1.0375) > 5 stays 5 x the first box
    large = STATE._replace(h=40.0 * 5, w=60.0 * 5)
    new, best = sasiam.update(large, _responses([(2, 135, 135, 1.0)]), 900.0, CFG,
                              sasiam.hann_window(272))
    assert best == 2 and new.h == pytest.approx(200.0) and new.w == pytest.approx(300.0)
    # just below it, the damped growth itself: 4.9 * (0.41 + 0.59 * 1.0375) = 5.008 -> 5
    nearly = STATE._replace(h=40.0 * 4.8, w=60.0 * 4.8)
    new, _ = sasiam.update(nearly, _responses([(2, 135, 135, 1.0)]), 900.0, CFG,
                           sasiam.hann_window(272))
    assert new.h == pytest.approx(40 * 4.8 * (0.41 + 0.59 * 1.0375))


def test_hann_window_blends_with_weight_0176():
    """Two cells of a map: (135, 135) on the window's crest with value 1, (135, 145) 10 cells
    off it with 1 + e. After the normalisation (sum 2 + e) the blend picks the second while
    (1 - w) * e / (2 + e) > w * (H[135, 135] - H[135, 145]); e is chosen so the two tie at
    w = 0.1755: 0.176 keeps the crest, 0.175 moves."""
    window = sasiam.hann_window(272)
    assert window.dtype == np.float64 and CFG['window_influence'] == 0.176
    k = 0.1755 / (1 - 0.1755) * (window[135, 135] - window[135, 145])
    e = 2 * k / (1 - k)
    up = _responses([(1, 135, 135, 1.0), (1, 135, 145, 1.0 + e)])
    moved = 10 / 16.0 * 8 * 200 / 255.0      # 10 upsampled cells in frame pixels at s_x 200
    crest = 200 + (135 - 135.5) / 16 * 8 * 200 / 255.0
    new, _ = sasiam.update(STATE, up, 200.0, CFG, window)
    assert new.cx == pytest.approx(crest)
    new, _ = sasiam.update(STATE, up, 200.0, dict(CFG, window_influence=0.175), window)
    assert new.cx == pytest.approx(crest + moved)
    # a flat response carries no evidence: the window alone picks the centre
    new, _ = sasiam.update(STATE, np.ones((3, 272, 272)), 200.0, CFG, window)
    assert abs(new.cy - 100) < 200 / 255.0 and abs(new.cx - 200) < 200 / 255.0


def test_response_is_shifted_by_its_minimum_then_divided_by_its_sum():
    """A map of 1000 everywhere and 1000 + 1e-6 at one cell 10 cells off the centre. Minimum
    first, then the sum: that cell becomes 1 and wins against the window (0.824 against at
    most 0.176 * 5.4e-5). Without the shift, or with the sum taken first, it would be ~1e-11
    above a flat map and the window would keep the centre; without the division, 8e-7 would
    lose against the window's 9.5e-6 as well."""
    up = np.full((3, 272, 272), 1000.0)
    up[1, 145, 135] += 1e-6
    new, best = sasiam.update(STATE, up, 200.0, CFG, sasiam.hann_window(272))
    assert best == 1
    assert new.cy == pytest.approx(100 + (145 - 135.5) / 16 * 8 * 200 / 255.0)
    assert new.cx == pytest.approx(200 + (135 - 135.5) / 16 * 8 * 200 / 255.0)


def test_upsampling_is_tensorflows_bicubic_in_float64():
    rng = np.random.RandomState(0)
    responses = rng.randn(3, 17, 17).astype(np.float32)
    host = sasiam.HostGraph(CFG, 17)
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        reference = sess.run(tf.compat.v1.image.resize_bicubic(
            responses[..., None], [272, 272], align_corners=True))[..., 0]
    host.close()
    upsampled = sasiam.upsample(responses, host.upsample_matrix)
    assert upsampled.dtype == np.float64 and upsampled.shape == (3, 272, 272)
    np.testing.assert_allclose(upsampled, reference, atol=2e-6)
    corners = np.ix_(range(3), [0, 271], [0, 271])                 # align_corners
    np.testing.assert_allclose(upsampled[corners], responses[np.ix_(range(3), [0, 16], [0, 16])],
                               atol=1e-6)


def test_boxes_round_trip_centre_convention():
    state = sasiam.initial_state([10, 20, 30, 40])
    assert (state.cx, state.cy) == (10 + 29 / 2.0, 20 + 39 / 2.0)
    np.testing.assert_allclose(sasiam.box_of(state), [10, 20, 30, 40])
    with pytest.raises(TrackerError, match='positive'):
        sasiam.initial_state([0, 0, 0, 5])


# -- crop geometry -------------------------------------------------------------------------------

def test_search_boxes_hand_computed():
    boxes = sasiam.search_boxes(50.0, 100.0, 21.0, [1.0, 2.0], 101, 201)
    np.testing.assert_allclose(boxes[0], [0.4, 0.45, 0.6, 0.55], atol=1e-6)
    np.testing.assert_allclose(boxes[1], [(50 - 20.5) / 100, (100 - 20.5) / 200,
                                          (50 + 20.5) / 100, (100 + 20.5) / 200], atol=1e-6)


def test_search_crop_maps_pixel_to_pixel_and_pads_with_the_frame_mean():
    rng = np.random.RandomState(0)
    frame = rng.randint(0, 256, (300, 280, 3)).astype(np.uint8)
    mean = sasiam.frame_mean(frame)
    host = sasiam.HostGraph(dict(CFG, num_scales=2), 17)
    try:
        # a 255 px window maps pixel to pixel (up to float32 box coordinates); the second one
        # hangs 27 px off the left edge
        inside, outside = host.search_crops(frame, np.concatenate([
            sasiam.search_boxes(150.0, 140.0, 255.0, [1.0], 300, 280),
            sasiam.search_boxes(150.0, 100.0, 255.0, [1.0], 300, 280)]))
        boxes = sasiam.search_boxes(40.0, 250.0, 170.0, [0.9, 1.1], 300, 280)
        ours = host.search_crops(frame, boxes)
    finally:
        host.close()
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        # the reference's way: crop frame - mean, add the mean back
        reference = sess.run(tf.image.crop_and_resize(
            (frame - mean)[None].astype(np.float32), boxes, crop_size=[255, 255],
            box_indices=[0, 0]) + mean)
    assert ours.dtype == np.float32 and ours.shape == (2, 255, 255, 3)
    np.testing.assert_allclose(ours, reference, atol=0.01)
    np.testing.assert_allclose(mean, frame.reshape(-1, 3).mean(axis=0), rtol=1e-9)
    # float32 box coordinates: up to 0.05 grey levels
    np.testing.assert_allclose(inside, frame[23:278, 13:268], atol=0.05)
    np.testing.assert_allclose(outside[:, 27:], frame[23:278, 0:228], atol=0.05)
    np.testing.assert_allclose(outside[:, :27], np.broadcast_to(
        frame.reshape(-1, 3).mean(axis=0), (255, 27, 3)), atol=0.05)


# -- end to end with the non-learned embedding ---------------------------------------------------

def textured_sequence(folder, n=30, size=(200, 300), seed=0):
    """OTB-layout sequence: a 40x32 high-contrast texture moving (4-10 px per frame) over a
    blurred, low-contrast background; ground truth 1-based as in OTB."""
    rng = np.random.RandomState(seed)
    h, w = size
    background = cv2.GaussianBlur(rng.uniform(80, 170, (h, w, 3)).astype(np.float32), (0, 0), 6)
    texture = cv2.resize(rng.uniform(0, 255, (8, 10, 3)).astype(np.float32), (40, 32),
                         interpolation=cv2.INTER_NEAREST)
    oh, ow = texture.shape[:2]
    os.makedirs(os.path.join(folder, 'img'))
    boxes = []
    for t in range(n):
        x = int(round(40 + 6 * t + 10 * np.sin(t / 3.0)))
        y = int(round(60 + 60 * np.sin(t / 8.0)))
        frame = background.copy()
        frame[y:y + oh, x:x + ow] = texture
        cv2.imwrite(os.path.join(folder, 'img', '%04d.jpg' % (t + 1)), frame.astype(np.uint8))
        boxes.append((x + 1, y + 1, ow, oh))
    np.savetxt(os.path.join(folder, 'groundtruth_rect.txt'), boxes, fmt='%d', delimiter='\t')


def test_pixel_embedding_follows_a_textured_object_and_beats_the_static_baseline(tmpdir):
    root, out = str(tmpdir.join('otb')), str(tmpdir.join('eval'))
    textured_sequence(os.path.join(root, 'Moving'))
    assert cli.main(['eval', '--run', 'pixel_pool', '--otb', root, '--out', out,
                     '--device', 'cpu']) == 0
    with open(os.path.join(out, 'reports', 'pixel_pool', 'performance.json')) as f:
        performance = json.load(f)
    # mean IoU over the 29 tracked frames, from the written result file
    gt = np.loadtxt(os.path.join(root, 'Moving', 'groundtruth_rect.txt'))
    boxes = np.loadtxt(os.path.join(out, 'results', 'pixel_pool', 'Moving.txt'), delimiter=',')
    from got10k.utils import metrics
    tracked = metrics.rect_iou(boxes[1:], gt[1:]).mean()
    static = metrics.rect_iou(np.repeat(gt[:1], len(gt) - 1, 0), gt[1:]).mean()
    assert tracked > 0.6 and static < 0.2, (tracked, static)
    overall = {name: p['overall'] for name, p in performance.items()}
    assert overall['pixel_pool']['success_score'] > 0.6
    assert overall['static-first-box']['success_score'] < 0.2
    assert os.path.isfile(os.path.join(out, 'reports', 'pixel_pool', 'success_plots.png'))
    assert os.path.isfile(os.path.join(out, 'results', 'pixel_pool', 'times', 'Moving_time.txt'))
    # a resumed evaluation keeps the results it finds
    result = os.path.join(out, 'results', 'pixel_pool', 'Moving.txt')
    with open(result, 'a') as f:
        f.write('# kept\n')
    assert cli.main(['eval', '--run', 'pixel_pool', '--otb', root, '--out', out, '--device', 'cpu',
                     '--skip-existing', '--limit', '1']) == 0
    with open(result) as f:
        assert f.read().endswith('# kept\n')


def test_track_command_on_a_frame_folder_writes_boxes_and_a_strip(tmpdir):
    root = str(tmpdir.join('seq'))
    textured_sequence(root, n=6)
    out = str(tmpdir.join('track'))
    # as a plain frame folder with a 0-based first box
    first = np.loadtxt(os.path.join(root, 'groundtruth_rect.txt'))[0] - [1, 1, 0, 0]
    assert cli.main(['track', '--run', 'pixel_pool', '--seq', os.path.join(root, 'img'),
                     '--init', ','.join('%d' % v for v in first), '--out', out,
                     '--device', 'cpu']) == 0
    boxes = np.loadtxt(os.path.join(out, 'results', 'pixel_pool', 'seq.txt'), delimiter=',')
    assert boxes.shape == (6, 4)
    np.testing.assert_allclose(boxes[0], first)
    strip = cv2.imread(os.path.join(out, 'pixel_pool_seq.png'))
    assert strip.shape[0] == 180 and strip.shape[1] > 6 * 200


def test_bad_inputs_give_one_line_errors(tmpdir, capsys):
    assert cli.main(['track', '--run', 'pixel_pool', '--seq', str(tmpdir)]) == 1
    assert 'give the first box with --init' in capsys.readouterr().err
    textured_sequence(str(tmpdir.join('seq')), n=2)
    assert cli.main(['track', '--run', str(tmpdir), '--seq', str(tmpdir.join('seq')), '--init',
                     '1,1,5,5']) == 1
    assert 'config.json' in capsys.readouterr().err
    assert cli.main(['track', '--run', 'pixel_pool', '--seq', str(tmpdir), '--init',
                     '1,1,0,5']) == 1
    assert 'positive width' in capsys.readouterr().err
    assert cli.main(['eval', '--run', 'pixel_pool', '--vid', str(tmpdir), '--list', 'x']) == 1
    assert capsys.readouterr().err == (
        'error: --list and --no-otb-ranges apply to --otb, not to --vid\n')


# -- combined model restore from two branch runs -------------------------------------------------

def fake_branch_run(run_dir, branch, bias, seed):
    """A tiny run directory as the trainer leaves it (config.json + checkpoint) with random
    weights and a known detection bias."""
    cfg = dict(train.DEFAULTS['model'], branch=branch, width=0.0625)
    with tf.Graph().as_default():
        tf.compat.v1.set_random_seed(seed)
        model.response(tf.zeros([1, 255, 255, 3]), tf.zeros([1, 255, 255, 3]), cfg, False)
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            variables = {v.op.name: v for v in tf.compat.v1.global_variables()}
            variables['detection/biases'].load(bias, sess)
            if branch == 'appearance':  # non-zero moving statistics: they must be restored too
                variables['sa_siam/appearance_net/conv1/BatchNorm/moving_mean'].load(
                    np.full(variables['sa_siam/appearance_net/conv1/BatchNorm/moving_mean']
                            .shape.as_list(), 3.0), sess)
            tf.compat.v1.train.Saver().save(sess, os.path.join(run_dir, 'model.ckpt'), 7)
    with open(os.path.join(run_dir, 'config.json'), 'w') as f:
        json.dump({'model': cfg}, f)


@pytest.mark.slow  # trains a semantic branch run of its own (~4 s)
def test_combined_tracker_restores_both_branch_runs_by_name(tmpdir):
    appearance, semantic = str(tmpdir.mkdir('app')), str(tmpdir.mkdir('sem'))
    fake_branch_run(appearance, 'appearance', 0.25, 1)
    fake_branch_run(semantic, 'semantic', -0.5, 2)
    frame = np.random.RandomState(0).randint(0, 256, (240, 320, 3)).astype(np.uint8)
    boxes = sasiam.search_boxes(120.0, 160.0, 150.0, sasiam.scale_factors(3, 1.0375), 240, 320)

    def responses(runs):
        with sasiam.open_tracker(branches_from_runs(runs, CFG), CFG, 'cpu') as tracker:
            feed = {tracker.graph.crops: tracker.host.search_crops(frame, boxes)}
            tracker.sess.run(tracker.graph.init_op, feed)
            with tracker.sess.graph.as_default():
                values = {v.op.name: tracker.sess.run(v) for v in tf.compat.v1.global_variables(
                    ) if v.op.name.startswith('detection/') or
                    v.op.name.endswith('conv1/BatchNorm/moving_mean')}
            return tracker.sess.run(tracker.graph.response, feed), values, tracker.name

    alone_a, values_a, _ = responses([appearance])
    alone_s, _, _ = responses([semantic])
    both, values, name = responses([semantic, appearance])
    assert name == 'app+sem'
    assert values['detection/biases_appearance'] == 0.25
    assert values['detection/biases_semantic'] == -0.5
    assert np.all(values['sa_siam/appearance_net/conv1/BatchNorm/moving_mean'] == 3.0)
    assert values_a['detection/biases_appearance'] == 0.25
    np.testing.assert_allclose(both, 0.3 * alone_a + 0.7 * alone_s, rtol=1e-4, atol=1e-5)


def test_tracker_names_are_unique_and_stable(tmpdir, capsys):
    first, other = str(tmpdir.mkdir('runs').mkdir('a')), str(tmpdir.mkdir('old').mkdir('a'))
    fake_branch_run(first, 'appearance', 0.0, 1)
    fake_branch_run(other, 'appearance', 0.0, 1)
    checkpoint = tf.train.latest_checkpoint(first)            # .../runs/a/model.ckpt-7
    assert load_branch(first).name == 'a'
    assert load_branch(checkpoint).name == 'a-7'
    assert load_branch(first + os.sep).name == 'a'
    # a run and one of its checkpoints have different names; two runs called a do not
    names = [tracker_name(b) for b in cli.distinct_trackers([first, checkpoint], CFG)]
    assert names == ['a', 'a-7']
    with pytest.raises(TrackerError, match=r'two trackers are named a \(.*runs.a and '
                                            r'.*old.a\).*results/a/'):
        cli.distinct_trackers([first, other], CFG)
    textured_sequence(str(tmpdir.join('otb', 'Moving')), n=2)
    assert cli.main(['eval', '--run', first, '--compare', other, '--otb',
                     str(tmpdir.join('otb')), '--out', str(tmpdir.join('out')),
                     '--device', 'cpu']) == 1
    err = capsys.readouterr().err
    assert err.startswith('error: two trackers are named a') and err.count('\n') == 1
    assert not tmpdir.join('out', 'results').check()         # refused before tracking


def test_two_runs_of_one_branch_or_another_width_are_refused(tmpdir):
    first, second = str(tmpdir.mkdir('a1')), str(tmpdir.mkdir('a2'))
    fake_branch_run(first, 'appearance', 0.0, 1)
    fake_branch_run(second, 'appearance', 0.0, 1)
    with pytest.raises(TrackerError, match='one appearance and one semantic'):
        branches_from_runs([first, second], CFG)
    branch = load_branch(first)
    wider = branch._replace(model=dict(branch.model, width=0.125))
    with pytest.raises(TrackerError, match='model.width'):
        sasiam.open_tracker([wider], CFG, 'cpu')


def test_center_distance_error_of_the_response_peak():
    maps = np.zeros((3, 17, 17), np.float32)
    maps[0, 8, 8] = 1        # on the centre: 0
    maps[1, 8, 11] = 1       # 3 cells = 24 px: 0.48
    maps[2, 0, 0] = 1        # 8 * sqrt(2) cells = 90 px: clipped to 1
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        distance, error = sess.run([model.peak_distance(tf.constant(maps)),
                                    model.center_distance_error(tf.constant(maps))])
    np.testing.assert_allclose(distance, [0, 3, 8 * np.sqrt(2)], rtol=1e-6)
    assert error == pytest.approx((0 + 0.48 + 1) / 3)


def test_device_graph_is_static_and_its_ops_are_reviewed_for_the_npu():
    """The combined tracker's device graph: one float32 input of a static shape (the crops),
    every tensor of a static shape (a device compiles it once, whatever the frame size), every
    op type plain or reviewed in trainers/device.py, as the training graphs' (test_sasiam).
    The variable-size frame, crop_and_resize and the upsampling live in the host graph, on the
    CPU."""
    branches = [untrained_branch('appearance', 0.0625)._replace(weight=0.3),
                untrained_branch('semantic', 0.0625)._replace(weight=0.7)]
    graph = tf.Graph()
    with graph.as_default():
        tracker_graph = sasiam.TrackerGraph(branches, CFG)
    free = [(op.name, i) for op in graph.get_operations() for i, t in enumerate(op.outputs)
            if not t.shape.is_fully_defined() and (op.type, i) != ('FusedBatchNormV3', 5)]
    assert free == []      # (output 5 of a batch norm is bookkeeping, not data)
    inputs = [op for op in graph.get_operations() if op.type == 'Placeholder']
    assert [(op.outputs[0].dtype, op.outputs[0].shape.as_list()) for op in inputs] == [
        (tf.float32, [3, 255, 255, 3])]
    assert device.unreviewed_op_types(graph) == []
    assert not {'CropAndResize', 'ResizeBicubic', 'BroadcastTo'} & set(device.op_types(graph))
    assert tracker_graph.response.shape.as_list() == [3, 17, 17]
    host = sasiam.HostGraph(CFG, 17)
    host.close()
    ops = host.graph.get_operations()
    assert 'CropAndResize' in {op.type for op in ops}
    assert all(op.device.lower().endswith('cpu:0') for op in ops)
    assert host.crops.shape.as_list() == [3, 255, 255, 3] and host.crops.dtype == tf.float32


# -- a run directory of the real trainer ---------------------------------------------------------

@pytest.fixture
def trained_run(sasiam_run):
    """The session's tiny appearance run of trainers.sasiam (4 steps, validation every 2)."""
    return sasiam_run


def test_validation_center_distance_error_reaches_the_train_log(trained_run):
    with open(os.path.join(trained_run, 'train_log.jsonl')) as f:
        log = [json.loads(line) for line in f]
    validations = [r for r in log if 'validation_loss' in r]
    assert [r['step'] for r in validations] == [2, 4]
    for record in validations:
        assert 0.0 <= record['validation_center_distance_error'] <= 1.0


def test_tracks_a_run_directory_of_the_real_trainer(trained_run, tmpdir):
    textured_sequence(str(tmpdir.join('otb', 'Moving')), n=5)
    out = str(tmpdir.join('out'))
    assert cli.main(['eval', '--run', trained_run, '--otb', str(tmpdir.join('otb')), '--out',
                     out, '--device', 'cpu']) == 0
    boxes = np.loadtxt(os.path.join(out, 'results', 'sasiam-tiny', 'Moving.txt'), delimiter=',')
    gt = np.loadtxt(str(tmpdir.join('otb', 'Moving', 'groundtruth_rect.txt')))
    assert boxes.shape == (5, 4) and np.all(np.isfinite(boxes))
    np.testing.assert_allclose(boxes[0], gt[0])
    # the damped size stays within the clamp; the box keeps the first box's aspect ratio
    assert np.all(boxes[:, 2] >= 0.2 * gt[0, 2] - 1e-6) and np.all(boxes[:, 2] <= 5 * gt[0, 2])
    np.testing.assert_allclose(boxes[:, 2] / boxes[:, 3], gt[0, 2] / gt[0, 3], rtol=1e-3)
    with open(os.path.join(out, 'speed.json')) as f:
        speed = json.load(f)['sasiam-tiny']
    assert speed['frames'] == 4 and speed['fps'] > 0 and speed['fps_without_decode'] > 0
    assert set(speed['per_frame_ms']) >= {'decode', 'network', 'host', 'crop'}
