"""OSMN input construction (heatmap, guide, labels) and the trainer on sample records."""
from __future__ import absolute_import, division, print_function

import glob
import json
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from fake_npu_env import assert_ops_reviewed, fake_npu
from datasets.palette import palette_png_bytes
from datasets import images
from record_files import autotune_model_ops
from schemas import dataset_info, vos_video
from trainers import reader
from trainers.osmn import augment, data, train

TINY = ['--device', 'cpu', '--random-init-for-tests', '--set', 'model.width=0.0625',
        '--set', 'input.input_scale=0.25', '--set', 'input.batch_size=2',
        '--set', 'input.sample_shuffle=8', '--set', 'train.log_every=1',
        '--set', 'train.validation_batches=0']


def _run(tensors, feed=None):
    with tf.compat.v1.Session() as sess:
        return sess.run(tensors, feed)


# -- heatmap ------------------------------------------------------------------------------------

def _numpy_moments(mask):
    ys, xs = np.nonzero(mask)
    cx, cy = np.median(xs), np.median(ys)
    sx = max(1.4826 * np.median(np.abs(xs - cx)), 5.0)
    sy = max(1.4826 * np.median(np.abs(ys - cy)), 5.0)
    return cx, cy, sx, sy


def test_heatmap_moments_hand_computed_and_against_numpy():
    mask = np.zeros((20, 30), np.uint8)
    mask[:, :] = 1  # x: 0..29, median 14.5, |x - 14.5| median 7.5 -> sigma 1.4826 * 7.5
    graph = tf.Graph()
    with graph.as_default():
        cx, cy, sx, sy, has = [v[0] for v in _run(augment.robust_moments(tf.constant(mask[None])))]
    assert (cx, cy) == (14.5, 9.5) and has
    assert sx == pytest.approx(1.4826 * 7.5) and sy == pytest.approx(1.4826 * 5.0)
    small = np.zeros((20, 30), np.uint8)
    small[2:12, 5:9] = 1  # x median 6.5, MAD 1.0 -> floored to 5
    rng = np.random.RandomState(0)
    with tf.Graph().as_default():
        placeholder = tf.compat.v1.placeholder(tf.uint8, [None, None, None])
        moments = augment.robust_moments(placeholder)
        masks = [small[:, :23]] + [(rng.rand(20, 23) < p).astype(np.uint8)
                                   for p in (0.02, 0.3, 0.9)]
        got = _run(moments, {placeholder: np.stack(masks)})  # one batch, per-row moments
        for b, m in enumerate(masks):
            np.testing.assert_allclose([v[b] for v in got[:4]], _numpy_moments(m), rtol=1e-5)


def test_heatmap_values_perturbation_and_empty_masks():
    mask = np.zeros((40, 40), np.uint8)
    mask[10:31, 15:26] = 1  # centre (20, 20), sigma floored at 5 (MAD 3 / 5)
    def heat(m, u=None, flip=None):
        return augment.heatmaps(tf.constant(m[None]), None if u is None else tf.constant([u]),
                             flip=None if flip is None else tf.constant([flip]))[0]
    with tf.Graph().as_default():
        plain = _run(heat(mask))[..., 0]
        unperturbed = _run(heat(mask, [0.5, 0.5, 0.5, 0.5]))
        narrow = _run(heat(mask, [1.0, 0.5, 0.0, 0.0]))
        empty = _run(heat(np.zeros([8, 9], np.uint8)))
        flipped = _run(heat(mask[:, ::-1].copy()))[..., 0]
        folded = _run(heat(mask, flip=True))[..., 0]
    assert plain[20, 20] == pytest.approx(1.0) and plain.max() <= 1.0
    assert plain[20, 25] == pytest.approx(np.exp(-25 / 50.0), rel=1e-5)  # dx = 5 = sigma
    spread = 1 / 1.4 + 0.5 * (1.4 - 1 / 1.4)
    assert unperturbed[20, 25, 0] == pytest.approx(np.exp(-25 / (2 * (5 * spread) ** 2)), 1e-5)
    # u = 1 moves the x centre by +0.2 sigma (1 px); u = 0 divides sigma by 1.4
    assert narrow[..., 0].argmax() % 40 == 21
    assert narrow[20, 30, 0] == pytest.approx(np.exp(-81 / (2 * (5 / 1.4) ** 2)), rel=1e-4)
    assert empty.shape == (8, 9, 1) and not empty.any()
    np.testing.assert_allclose(folded, flipped, atol=1e-6)  # flip folded into the moments


# -- visual guide -------------------------------------------------------------------------------

CFG = dict(train.DEFAULTS['input'], max_frame_size=train.STAGES['davis']['max_frame_size'])


def _guide(image, mask, box, uniforms, training=True):
    """The guide as the network sees it (BGR minus the mean, background 0), batch of one."""
    with tf.Graph().as_default():
        return _run(augment.visual_guides(
            tf.constant(image[None]), tf.constant(mask[None]), tf.constant([box]),
            tf.constant([list(uniforms) + [0.5] * (augment.UNIFORMS - len(uniforms))], tf.float32),
            CFG, training))[0]


def test_guide_crop_is_the_pil_crop_resize_with_background_zeroed():
    rng = np.random.RandomState(1)
    image = rng.randint(0, 256, (120, 160, 3)).astype(np.uint8)
    mask = np.zeros((120, 160), np.uint8)
    mask[30:70, 40:100] = 1                          # tight box (40, 30, 99, 69), inclusive
    still = [0.5, 0.5, 0.5, 0.5, 0.5, 0.2]           # no jitter, no rotation, no flip
    guide = _guide(image, mask, [40, 30, 99, 69], still)
    # PIL crops (40, 30, 99, 69): the last row and column of the object are lost
    expected = np.asarray(Image.fromarray(image).crop((40, 30, 99, 69)).resize(
        (224, 224), Image.BILINEAR), np.float32)[..., ::-1] - np.array(augment.MEAN_BGR)
    inner = (slice(3, -3), slice(3, -3))  # PIL clamps at the crop edge, crop_and_resize does not
    np.testing.assert_allclose(guide[inner], expected[inner], atol=1.0)  # PIL rounds to uint8
    # a mask pixel never reaches the guide where PIL's crop had none: the outer ring is zero
    ring = np.zeros((120, 160), np.uint8)
    ring[30:70, 40:100] = 1
    ring[69, :] = ring[:, 99] = 1
    same = _guide(image, ring, [40, 30, 99, 69], still)
    np.testing.assert_allclose(same[inner], guide[inner], atol=1e-4)
    background = _guide(image, mask, [0, 0, 159, 119], still)   # box larger than the object
    assert (background[:40] == 0).all() and np.abs(background[112]).sum() > 0


def test_guide_rotation_flip_and_jitter_directions():
    image = np.full((100, 100, 3), 200, np.uint8)
    mask = np.zeros((100, 100), np.uint8)
    mask[40:60, 10:90] = 1                            # a horizontal bar
    box = [0, 0, 99, 99]                              # guide = the whole 100x100 image
    level = _guide(image, mask, box, [0.5] * 5 + [0.2])
    turned = _guide(image, mask, box, [0.5] * 4 + [1.0, 0.2])  # +10 degrees
    flipped = _guide(image, mask, box, [0.5] * 5 + [0.9])
    grown = _guide(image, mask, box, [1.0, 1.0, 1.0, 1.0, 0.5, 0.2])  # every side +10 %

    def rows_on(g, cols):
        return np.nonzero(np.abs(g[:, cols]).sum(axis=(1, 2)))[0].mean()
    # counter-clockwise: the right end goes up (smaller row), the left end down
    assert rows_on(turned, slice(180, 200)) < rows_on(level, slice(180, 200)) - 5
    assert rows_on(turned, slice(24, 44)) > rows_on(level, slice(24, 44)) + 5
    np.testing.assert_array_equal(flipped, level[:, ::-1])
    assert (grown[:5] == 0).all() and (grown[:, :5] == 0).all()  # black padding, not context
    assert np.abs(level).sum() > 0


# -- records ------------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def records(sample_data, coco_records, davis_records, tmp_path_factory):
    """(sample root, a records root holding the session's coco/ and davis2017/ records, linked:
    read only)."""
    out = tmp_path_factory.mktemp('osmn_records')
    for records in (coco_records, davis_records):
        os.symlink(records, str(out / os.path.basename(records)))
    return sample_data[0], str(out)


def test_video_labels_equal_the_palette_masks(records):
    source, out = records
    cfg = dict(CFG, randomize_guide=True)
    info = reader.load_info(os.path.join(out, 'davis2017'), vos_video.SCHEMA)
    files, _ = reader.shard_files(os.path.join(out, 'davis2017'), info, 'train')
    frames = {}
    for path in glob.glob(os.path.join(source, 'DAVIS', 'JPEGImages', '480p', '*', '*.jpg')):
        with open(path, 'rb') as f:
            frames[f.read()] = path
    with tf.Graph().as_default():
        pairs = reader.record_passes(files, 0, passes=1, shuffle=False).flat_map(
            lambda p, r: data.video_pairs(p, r, 0, cfg))
        items = tf.data.Dataset.zip((pairs, reader.element_seeds(1)))
        samples = items.map(lambda pair, s: (pair, data.video_sample(pair, s, cfg))).batch(
            1, drop_remainder=True)
        pair_b, host = tf.compat.v1.data.make_one_shot_iterator(samples).get_next()
        # the graph side, at the frames' own size: labels must be the masks themselves
        element = ({k: v[0] for k, v in pair_b.items()},
                   {k: v[0] for k, v in augment.assemble(host, (120, 214), cfg, True).items()})
        checked = 0
        with tf.compat.v1.Session() as sess:
            while True:
                try:
                    pair, sample = sess.run(element)
                except tf.errors.OutOfRangeError:
                    break
                png = frames[pair['image']].replace('JPEGImages', 'Annotations')[:-4] + '.png'
                expected = np.array(Image.open(png)) == pair['object_id']
                np.testing.assert_array_equal(sample['label'][..., 0], expected)
                assert sample['guide'].shape == (224, 224, 3) and sample['heatmap'].max() <= 1
                checked += 1
    davis = dataset_info.read(os.path.join(out, 'davis2017'))
    assert checked > davis['splits']['train']['records']  # several pairs per video


def test_input_runs_without_the_autotune_model(records):
    """As for SA-Siam: the autotuning model of TF 1.15 crashes iterator teardown."""
    _, out = records
    cfg = train.resolved(train.config_from_args(train.parse_args(
        ['--stage', 'davis', '--records', os.path.join(out, 'davis2017')])))['input']
    for training, split in ((True, 'train'), (False, 'validation')):
        with tf.Graph().as_default():
            ds = data.batches(cfg['records'], split, 'davis', cfg, 0, training)
            assert autotune_model_ops(ds) == []


def _log(run_dir):
    with open(os.path.join(run_dir, 'train_log.jsonl')) as f:
        return [json.loads(line) for line in f if '"loss"' in line]


@pytest.mark.slow
def test_coco_stage_loss_falls(records, tmpdir):
    _, out = records
    run_dir = str(tmpdir.join('coco'))
    assert train.main(['--stage', 'coco', '--records', os.path.join(out, 'coco'), '--run-dir',
                       run_dir, '--steps', '40', '--set', 'train.lr=0.001'] + TINY) == 0
    losses = [r['pixel_loss'] for r in _log(run_dir)]
    assert len(losses) == 40
    assert np.mean(losses[-10:]) < 0.7 * np.mean(losses[:10])
    assert {round(r['scale'], 3) for r in _log(run_dir)} == {0.8, 1.0, 1.2}  # every scale trained


@pytest.mark.slow
def test_stages_chain_and_resume_continues_the_scale_sequence(records, tmpdir):
    _, out = records
    coco_dir, davis_dir = str(tmpdir.join('coco')), str(tmpdir.join('davis'))
    coco = ['--stage', 'coco', '--records', os.path.join(out, 'coco'), '--run-dir', coco_dir,
            '--set', 'input.scales=[0.8, 1.2]']
    assert train.main(coco + ['--steps', '3', '--set', 'train.checkpoint_every=3'] + TINY) == 0
    assert train.main(coco + ['--steps', '6'] + TINY) == 0
    log = _log(coco_dir)
    assert [r['step'] for r in log] == [1, 2, 3, 4, 5, 6]
    assert {round(r['scale'], 3) for r in log} <= {0.8, 1.2}
    assert train.main(['--stage', 'davis', '--records', os.path.join(out, 'davis2017'),
                       '--run-dir', davis_dir, '--init-from', coco_dir, '--steps', '2',
                       '--single-scale'] + TINY) == 0
    cfg = json.load(open(os.path.join(davis_dir, 'config.json')))
    assert cfg['train']['lr'] == 1e-6
    assert cfg['model']['init_from'] == coco_dir and cfg['input']['scales'] == [1.0]
    # the DAVIS stage fixes batch norm: the statistics the COCO stage moved are kept as they are
    coco_ckpt, davis_ckpt = (tf.train.load_checkpoint(d) for d in (coco_dir, davis_dir))
    statistics = [name for name in coco_ckpt.get_variable_to_shape_map()
                  if name.endswith(('moving_mean', 'moving_variance'))]
    assert statistics
    assert any(np.abs(coco_ckpt.get_tensor(n)).max() > 0 for n in statistics
               if n.endswith('moving_mean'))
    for name in statistics:
        np.testing.assert_array_equal(davis_ckpt.get_tensor(name), coco_ckpt.get_tensor(name),
                                      err_msg=name)


@pytest.mark.slow   # a three-scale OSMN graph (~7 s)
def test_static_shapes_for_every_scale(records):
    _, out = records
    cfg = train.config_from_args(train.parse_args(
        ['--stage', 'coco', '--records', os.path.join(out, 'coco')] + TINY))
    graph = tf.Graph()
    with graph.as_default():
        trainable, resolved = train.build(cfg, 'cpu')
        unknown = [(op.name, i) for op in graph.get_operations() for i, t in
                   enumerate(op.outputs) if not t.shape.is_fully_defined() and
                   op.type not in ('BroadcastGradientArgs', 'ZerosLike')
                   and not (op.type.startswith('FusedBatchNorm') and i >= 3)]
    assert unknown == []
    assert_ops_reviewed(graph)
    sizes = train.batch_sizes(resolved)
    assert sizes == [(80, 80), (100, 100), (120, 120)]
    # one training op whatever the scale: the adapter loops a single IterationOp per graph
    assert trainable.train_op.type == 'AssignAdd' and trainable.metrics['scale'].shape == ()


def test_missing_vgg16_is_a_clear_error(records, tmpdir, capsys):
    _, out = records
    args = ['--stage', 'coco', '--records', os.path.join(out, 'coco'), '--run-dir',
            str(tmpdir.join('r')), '--device', 'cpu', '--steps', '1']
    assert train.main(args) == 1
    assert '--vgg16' in capsys.readouterr().err
    assert train.main(args + ['--vgg16', str(tmpdir.join('nope.ckpt'))]) == 1
    assert 'the VGG-16 weights: cannot read' in capsys.readouterr().err


def test_read_index_png_helper_is_what_the_trainer_sees():
    """tf.image.decode_png maps a DAVIS-palette PNG to colours (as grey): why the pipelines
    store masks as single-channel index PNGs."""
    labels = np.zeros((6, 7), np.uint8)
    labels[1:3, 2:5] = 3
    with tf.Graph().as_default():
        palette_decoded = _run(tf.image.decode_png(palette_png_bytes(labels), channels=1))
        index_decoded = _run(tf.image.decode_png(images.encode_png(labels), channels=1))
    assert not np.array_equal(palette_decoded[..., 0], labels)
    np.testing.assert_array_equal(index_decoded[..., 0], labels)


@pytest.mark.slow
@pytest.mark.parametrize('n', [1, 4])
def test_npu_loop_runs_every_scale_in_one_iteration_op_and_resumes_exactly(records, tmpdir, n):
    """Through the npu_bridge double with iterations_per_loop 1 and 4 and 25 % overflowing
    iterations: one IterationOp (the double refuses a second), steps = applied updates, and a
    run resumed after skipped steps repeats the uninterrupted one exactly, scales and dropout
    masks included."""
    _, out = records
    # the scale switch at N = 4 (one IterationOp for both scales), one scale at N = 1
    scales = ['--set', 'input.scales=[0.8, 1.2]'] if n == 4 else ['--single-scale']
    args = ['--stage', 'coco', '--records', os.path.join(out, 'coco'), '--device', 'npu',
            '--iterations-per-loop', str(n), '--set', 'train.checkpoint_every=3'] + scales + \
        TINY[2:]
    whole, parts = str(tmpdir.join('whole')), str(tmpdir.join('parts'))
    with fake_npu(period=4, phase=1) as fake:
        assert train.main(args + ['--run-dir', whole, '--steps', '6']) == 0
        assert [k for _, k in fake.SESSIONS] == [n]
        assert train.main(args + ['--run-dir', parts, '--steps', '3']) == 0
        assert train.main(args + ['--run-dir', parts, '--steps', '6']) == 0
    log = _log(whole)
    assert [r['step'] for r in log] == {1: [1, 2, 3, 4, 5, 6], 4: [3, 6]}[n]
    assert [(r['step'], r['loss'], r['scale']) for r in _log(parts)] == [
        (r['step'], r['loss'], r['scale']) for r in log]
    assert json.load(open(os.path.join(whole, 'summary.json')))['iterations_this_run'] == 8
    assert sorted(f for f in os.listdir(parts) if f.endswith('.index')) == [
        'model.ckpt-3.index', 'model.ckpt-6.index']


@pytest.mark.slow   # an OSMN run to divergence (~7 s)
def test_npu_divergence_stops_and_keeps_the_last_good_checkpoint(records, tmpdir, capsys):
    _, out = records
    run_dir = str(tmpdir.join('run'))
    with fake_npu(from_iteration=3):  # every iteration from the 4th overflows
        assert train.main(['--stage', 'coco', '--records', os.path.join(out, 'coco'),
                           '--run-dir', run_dir, '--steps', '40', '--single-scale',
                           '--device', 'npu', '--set', 'train.checkpoint_every=1',
                           '--set', 'device.loss_scale.init=4',
                           '--set', 'device.loss_scale.decr_every_n_nan_or_inf=1'] +
                          TINY[2:]) == 1
    err = capsys.readouterr().err
    assert 'training diverged: loss scale collapsed to its floor 1 and the steps still ' \
        'overflow at step 3' in err
    assert 'last good checkpoint is %s' % os.path.join(run_dir, 'model.ckpt-3') in err
    summary = json.load(open(os.path.join(run_dir, 'summary.json')))
    assert summary['status'] == 'diverged' and 'loss scale collapsed' in summary['error']


def test_frames_larger_than_max_frame_size_are_refused_before_training(records, tmpdir, capsys):
    _, out = records
    assert train.main(['--stage', 'davis', '--records', os.path.join(out, 'davis2017'),
                       '--run-dir', str(tmpdir.join('r')), '--steps', '1',
                       '--set', 'input.max_frame_size=[100, 100]'] + TINY) == 1
    err = capsys.readouterr().err
    assert 'more than input.max_frame_size [100, 100]' in err
    assert '--set input.max_frame_size=[' in err
