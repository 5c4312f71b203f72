"""SA-Siam trainer: pair sampling, augmentation, model pieces, static shapes, the training loop."""
from __future__ import absolute_import, division, print_function

import collections
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from fake_npu_env import assert_ops_reviewed, fake_npu
from record_files import autotune_model_ops
from reference_impls import reference_pair_probabilities
from schemas import dataset_info, vid_track
from trainers import reader
from trainers.sasiam import data, model, train

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ['--device', 'cpu', '--set', 'model.width=0.0625', '--set', 'input.batch_size=2',
        '--set', 'input.pair_shuffle=16', '--set', 'input.record_shuffle=4',
        '--set', 'train.log_every=1', '--set', 'train.validation_batches=2',
        '--set', 'train.validate_every=10']


# -- pair sampling ----------------------------------------------------------------------------

def chunk_records(key, n, anchors, max_dist):
    """vid_track records of one synthetic track whose 'crops' name the track and position."""
    bounds = vid_track.chunk_bounds(n, anchors, max_dist)
    out = []
    for index, (a, b, first, end) in enumerate(bounds):
        m = end - first
        context = dict(track_key=key, track_num_frames=n, chunk_index=index,
                       chunk_count=len(bounds), chunk_anchor_begin=a, chunk_anchor_end=b,
                       chunk_max_frame_dist=max_dist, video_name='v', video_folder='v',
                       source_split='train', split='train', object_trackid=0, object_class='n0',
                       orig_width=64, orig_height=64, image_format='jpeg', image_height=255,
                       image_width=255)
        steps = dict(frame_encoded=[('%s:%d' % (key, p)).encode() for p in range(first, end)],
                     frame_position=list(range(first, end)), frame_number=list(range(first, end)),
                     frame_occluded=[0] * m, frame_generated=[0] * m,
                     frame_bbox=[[0, 0, 1, 1]] * m, crop_s_z=[1.0] * m, crop_s_x=[2.0] * m,
                     crop_window=[[0, 0, 1, 1]] * m, crop_pad=[[0, 0, 0, 0]] * m,
                     crop_scale=[1.0] * m, target_size=[[1.0, 1.0]] * m)
        out.append(vid_track.encode(context, steps))
    return out


def _draw_pairs(tmpdir, lengths, passes, k, anchors=200, max_dist=100):
    path = os.path.join(str(tmpdir), 'tracks.tfrecord')
    with tf.io.TFRecordWriter(path) as writer:
        for n in lengths:
            for record in chunk_records('t%d' % n, n, anchors, max_dist):
                writer.write(record)
    graph = tf.Graph()
    with graph.as_default():
        ds = reader.record_passes([path], seed=3, passes=passes, record_shuffle=8)
        ds = ds.map(lambda p, r: data.chunk_pairs(p, r, 3, max_dist, k))
        ds = ds.apply(tf.data.experimental.unbatch()).filter(lambda z, x, owned, gap: owned)
        element = tf.compat.v1.data.make_one_shot_iterator(ds.batch(4096)).get_next()
        pairs = collections.defaultdict(list)
        with tf.compat.v1.Session(graph=graph) as sess:
            while True:
                try:
                    z, x, _, gap = sess.run(element)
                except tf.errors.OutOfRangeError:
                    return pairs
                for a, b, g in zip(z, x, gap):
                    key, s = a.decode().split(':')
                    key2, e = b.decode().split(':')
                    assert key == key2 and int(e) - int(s) == g
                    pairs[key].append((int(s), int(g)))


def _chi_square_critical(df, z=3.72):
    """Wilson-Hilferty approximation of the chi-square quantile (z = 3.72: p ~ 1e-4)."""
    return df * (1 - 2.0 / (9 * df) + z * np.sqrt(2.0 / (9 * df))) ** 3


def _chi_square(counts, probs, total):
    expected = np.array([probs[c] * total for c in sorted(probs)])
    observed = np.array([counts.get(c, 0) for c in sorted(probs)])
    assert sum(counts.values()) == total and set(counts) <= set(probs)
    return float(((observed - expected) ** 2 / expected).sum())


def _marginal(probs, index):
    out = collections.Counter()
    for cell, p in probs.items():
        out[cell[index]] += p
    return out


def test_pair_frequencies_follow_the_reference_rule(tmpdir):
    passes = 1500
    lengths = [1, 2, 5, 40, 130, 350]  # 350 frames: two overlapping chunks
    pairs = _draw_pairs(tmpdir, lengths, passes, k=1)
    for n in lengths:
        drawn = pairs['t%d' % n]
        assert len(drawn) == passes, 'exactly one pair per track and pass'
        probs = reference_pair_probabilities(n, 100)
        if n <= 2:
            assert set(drawn) == set(probs)  # (0, 0) duplicated crop, or (0, 1)
            continue
        joint = collections.Counter(drawn)
        if len(probs) <= 20:
            assert _chi_square(joint, probs, passes) < _chi_square_critical(len(probs) - 1)
        gaps = _marginal(probs, 1)
        stat = _chi_square(collections.Counter(g for _, g in drawn), gaps, passes)
        assert stat < _chi_square_critical(len(gaps) - 1), n
        # exemplar positions, in ten bins (for 350 this also checks the two chunks' shares)
        edges = np.linspace(0, n, 11)
        bins = {b: sum(p for (s, _), p in probs.items() if edges[b] <= s < edges[b + 1])
                for b in range(10)}
        observed = collections.Counter(int(np.searchsorted(edges, s, 'right') - 1)
                                       for s, _ in drawn)
        bins = {b: p for b, p in bins.items() if p > 0}
        assert _chi_square(observed, bins, passes) < _chi_square_critical(len(bins) - 1), n


def test_k_pairs_per_track_per_pass(tmpdir):
    pairs = _draw_pairs(tmpdir, [3, 350], passes=40, k=3, anchors=50, max_dist=20)
    assert len(pairs['t3']) == len(pairs['t350']) == 120
    assert all(1 <= g <= 20 for _, g in pairs['t350'])


def test_reference_probabilities_sum_to_one():
    for n in (1, 2, 3, 50, 100, 101, 250):
        probs = reference_pair_probabilities(n, 100)
        assert abs(sum(probs.values()) - 1) < 1e-9
        assert all(0 <= s and s + d < n for s, d in probs)
    assert reference_pair_probabilities(5, 100)[(0, 4)] == pytest.approx(2 / 5.)


# -- augmentation -----------------------------------------------------------------------------

@pytest.mark.parametrize('size,y,x', [(242, 0, 7), (246, 3, 3), (247, 7, 0), (255, 4, 5),
                                      (268, 0, 0), (262, 7, 7)])
def test_fused_augmentation_equals_the_plain_composition(size, y, x):
    rng = np.random.RandomState(size)
    image = rng.randint(0, 256, (255, 255, 3)).astype(np.uint8)
    graph = tf.Graph()
    with graph.as_default():
        box = data.augment_box(tf.constant(size), tf.constant(y), tf.constant(x))
        fused = data.fused_augment(tf.constant(image[None]), box[None])[0]
        plain = data.plain_augment(tf.constant(image), size, y, x)
        with tf.compat.v1.Session(graph=graph) as sess:
            a, b = sess.run([fused, plain])
    assert a.shape == b.shape == (239, 239, 3)
    assert np.abs(a - b).max() < 0.02  # float rounding of the sampling grid only
    if size < 247:
        assert (b[:2 - y if y < 2 else 0] == 0).all()  # zero padding survives as zeros in both


def test_augment_params_ranges():
    graph = tf.Graph()
    with graph.as_default():   # one graph, fed 300 seeds (not 300 graphs' worth of ops)
        seed = tf.compat.v1.placeholder(tf.int64, [2])
        draw = data.augment_params(seed)
        with tf.compat.v1.Session() as sess:
            values = np.array([sess.run(draw, {seed: [i, 7]}) for i in range(300)])
    assert values[:, 0].min() >= 242 and values[:, 0].max() <= 268
    assert set(values[:, 1]) == set(range(8)) and set(values[:, 2]) == set(range(8))


# -- model pieces -----------------------------------------------------------------------------

def test_batched_xcorr_equals_per_example_correlation():
    rng = np.random.RandomState(0)
    z = rng.randn(3, 4, 4, 5).astype(np.float32)
    x = rng.randn(3, 9, 9, 5).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        batched = model.xcorr(tf.constant(z), tf.constant(x))
        loop = [tf.nn.conv2d(x[b:b + 1], z[b][..., None], [1, 1, 1, 1], 'VALID')[0, ..., 0]
                for b in range(3)]
        with tf.compat.v1.Session(graph=graph) as sess:
            a, b = sess.run([batched, tf.stack(loop)])
    assert a.shape == (3, 6, 6)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-4)


def test_crop_bounds_and_labels_match_the_reference_tables():
    assert model.crop_bounds(20, 20, 6) == [0, 7, 13, 20]
    assert model.crop_bounds(22, 20, 6) == [0, 7, 15, 22]
    assert model.crop_bounds(22, 22, 6) == [0, 8, 14, 22]
    assert model.crop_bounds(24, 22, 6) == [0, 8, 16, 24]
    for size, negatives in ((15, 212), (17, 276)):
        labels, weights = model.labels_and_weights(size, 2)
        assert labels.sum() == 13 and (labels == 0).sum() == negatives
        assert labels[size // 2, size // 2] == 1 and weights.sum() == pytest.approx(1.0)


# -- graphs on the sample records ---------------------------------------------------------------

@pytest.fixture
def records(vid_records):
    """The session's vid_track records of the sample (read only)."""
    return vid_records


def _config(records_dir, *extra):
    return train.config_from_args(train.parse_args(['--records', records_dir] + TINY +
                                                   list(extra)))


# FusedBatchNorm's reserve_space outputs (and the zeros their gradients start from) and
# BroadcastGradientArgs' index vectors have no static shape by definition; they are bookkeeping,
# not data the device computes on.
SHAPE_BOOKKEEPING = {('BroadcastGradientArgs', 0), ('BroadcastGradientArgs', 1),
                     ('FusedBatchNormV3', 5), ('FusedBatchNormGradV3', 3),
                     ('FusedBatchNormGradV3', 4)}


@pytest.mark.parametrize('branch', ['appearance', 'semantic'])
def test_training_graph_has_static_shapes_only(records, branch):
    cfg = _config(records, '--branch', branch, '--random-init-for-tests')
    graph = tf.Graph()
    with graph.as_default():
        trainable, _ = train.build(cfg, 'cpu')
        bookkeeping, unknown = set(), []
        for op in graph.get_operations():  # creation order: inputs come first
            for i, t in enumerate(op.outputs):
                if (op.type, i) in SHAPE_BOOKKEEPING or (
                        op.type in ('ZerosLike', 'Identity') and op.inputs and
                        all(x.name in bookkeeping for x in op.inputs)):
                    bookkeeping.add(t.name)
                elif not t.shape.is_fully_defined():
                    unknown.append((op.name, i, str(t.shape)))
    assert unknown == []
    assert_ops_reviewed(graph)
    assert trainable.loss.shape == () and trainable.examples_per_step == 2


def test_response_sizes_and_semantic_shapes():
    cfg = dict(train.DEFAULTS['model'], width=0.0625, branch='semantic')
    graph = tf.Graph()
    with graph.as_default():
        z = tf.zeros([2, 239, 239, 3])
        train_resp = model.response(z, z, cfg, is_training=True)
        val_resp = model.response(tf.zeros([2, 255, 255, 3]), tf.zeros([2, 255, 255, 3]), cfg,
                                  is_training=False, reuse=True)
        names = sorted(v.op.name for v in tf.compat.v1.trainable_variables())
    assert train_resp.shape.as_list() == [2, 15, 15]
    assert val_resp.shape.as_list() == [2, 17, 17]
    assert 'sa_siam/semantic_net/att_fc1_conv4/weights' in names
    assert 'sa_siam/semantic_net/c1x1_conv5/biases' in names and 'detection/biases' in names
    assert not any('semantic_net/conv' in n for n in names)  # the CaffeNet stays frozen


def test_semantic_branch_needs_caffenet_and_loads_it(records, tmpdir):
    with pytest.raises(train.config_lib.ConfigError, match='CaffeNet'):
        train.check_model_config(_config(records, '--branch', 'semantic'))
    cfg = _config(records, '--branch', 'semantic', '--random-init-for-tests')
    graph = tf.Graph()
    with graph.as_default():
        model.response(tf.zeros([1, 239, 239, 3]), tf.zeros([1, 239, 239, 3]), cfg['model'], True)
        variables = {v.op.name: v for v in tf.compat.v1.global_variables()}
        rng = np.random.RandomState(0)
        layers = {}
        for layer in ('conv1', 'conv2', 'conv3', 'conv4', 'conv5'):
            grouped = layer in ('conv2', 'conv4', 'conv5')
            prefix = 'sa_siam/semantic_net/%s/%s' % (layer, 'b1/' if grouped else '')
            w = variables[prefix + 'weights'].shape.as_list()
            full = w[:-1] + [w[-1] * (2 if grouped else 1)]
            layers[layer] = {'weights': rng.randn(*full).astype(np.float32),
                             'biases': rng.randn(full[-1]).astype(np.float32)}
        layers['fc6'] = {'weights': np.zeros((2, 2)), 'biases': np.zeros(2)}  # skipped
        path = str(tmpdir.join('caffenet.npy'))
        np.save(path, layers)
        assignments = model.caffenet_assignments(path, cfg['model'])
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            for var, value in assignments:
                var.load(value, sess)
            conv4_b2 = sess.run(variables['sa_siam/semantic_net/conv4/b2/weights'])
    half = layers['conv4']['weights'].shape[-1] // 2
    np.testing.assert_array_equal(conv4_b2, layers['conv4']['weights'][..., half:])
    assert len(assignments) == 16  # conv1, conv3 and two halves of conv2/4/5, weights + biases


def test_same_seed_same_batches(records):
    cfg = _config(records)['input']

    def first_batches(seed):
        graph = tf.Graph()
        with graph.as_default():
            ds = data.batches(records, 'train', cfg, seed, training=True)
            element = tf.compat.v1.data.make_one_shot_iterator(ds).get_next()
            with tf.compat.v1.Session(graph=graph) as sess:
                return [sess.run(element) for _ in range(3)]
    a, b, c = first_batches(5), first_batches(5), first_batches(6)
    for x, y in zip(a, b):
        for key in x:
            np.testing.assert_array_equal(x[key], y[key])
    assert any(not np.array_equal(x['exemplar_box'], z['exemplar_box']) for x, z in zip(a, c))


def test_input_runs_without_the_autotune_model(records):
    """TF 1.15's autotuning model crashes iterator teardown (reader.without_autotune_model): no
    dataset a trainer builds may carry it, training or validation."""
    cfg = _config(records)['input']
    for training in (True, False):
        with tf.Graph().as_default():
            ds = data.batches(records, 'train', cfg, 5, training=training)
            assert autotune_model_ops(ds) == []
    with tf.Graph().as_default():   # the check finds the model where tf.data adds it
        assert autotune_model_ops(tf.data.Dataset.range(3).map(
            lambda x: x, num_parallel_calls=2)) == ['ModelDataset']


# -- the loop -----------------------------------------------------------------------------------

def _log(run_dir):
    with open(os.path.join(run_dir, 'train_log.jsonl')) as f:
        return [json.loads(line) for line in f]


@pytest.mark.slow
def test_loss_falls_and_summary_is_written(records, tmpdir):
    run_dir = str(tmpdir.join('run'))
    assert train.main(['--records', records, '--run-dir', run_dir, '--steps', '60'] + TINY +
                      ['--set', 'train.lr=0.03', '--set', 'train.validate_every=30']) == 0
    losses = [r['loss'] for r in _log(run_dir) if 'loss' in r]
    assert len(losses) == 60
    first, last = np.mean(losses[:15]), np.mean(losses[-15:])
    assert last < first - 0.05, (first, last)
    with open(os.path.join(run_dir, 'summary.json')) as f:
        summary = json.load(f)
    assert summary['steps'] == 60 and summary['status'] == 'completed'
    assert summary['final_validation_loss'] is not None and summary['mean_examples_per_s'] > 0
    with open(os.path.join(run_dir, 'config.json')) as f:
        assert json.load(f)['train']['lr'] == 0.03
    validations = [r for r in _log(run_dir) if 'validation_loss' in r]
    assert [r['step'] for r in validations] == [30, 60]
    events = glob.glob(os.path.join(run_dir, 'tensorboard', 'events.out.tfevents.*'))
    scalars, graphs = collections.defaultdict(list), 0
    for event in tf.compat.v1.train.summary_iterator(events[0]):
        graphs += bool(event.graph_def)
        for value in event.summary.value:
            scalars[value.tag].append(event.step)
    assert graphs == 1
    for tag in ('train/loss', 'train/total_loss', 'train/lr', 'train/examples_per_s',
                'train/step_time_s', 'train/input_wait_s'):
        assert scalars[tag] == list(range(1, 61)), tag
    assert scalars['validation/loss'] == [30, 60]


def test_read_error_names_the_shard_after_a_checkpoint(records, tmpdir, capsys):
    """A record corrupted inside a shard of the right size: one line naming the file and the
    record, after a checkpoint of the steps done."""
    copy = str(tmpdir.join('vid'))
    shutil.copytree(records, copy)
    shard = sorted(glob.glob(os.path.join(copy, 'train', '*')))[0]
    with open(shard, 'rb') as f:
        whole = f.read()
    with open(shard, 'wb') as f:
        f.write(whole[:-8] + bytes([whole[-8] ^ 0xFF]) + whole[-7:])
    run_dir = str(tmpdir.join('run'))
    # records read in order (no shuffles, one file at a time): the bad one is the shard's last
    last = dataset_info.read(records)['splits']['train']['shards'][0]['records'] - 1
    assert train.main(['--records', copy, '--run-dir', run_dir, '--steps', '1000'] + TINY +
                      ['--set', 'train.validation_batches=0', '--set', 'input.cycle_length=1',
                       '--set', 'input.record_shuffle=1', '--set', 'input.pair_shuffle=1']) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith('error: reading the training records failed in %s (record %d: ' % (
        shard, last))
    assert 'Rebuild the records' in err
    steps = [r['step'] for r in _log(run_dir) if 'loss' in r]
    assert steps and 'checkpoint model.ckpt-%d written' % steps[-1] in err
    assert tf.train.load_checkpoint(run_dir).get_tensor('global_step') == steps[-1]
    summary = json.load(open(os.path.join(run_dir, 'summary.json')))
    assert summary['status'] == 'failed' and shard in summary['error']


def test_resume_continues_at_exactly_the_saved_step(records, tmpdir):
    run_dir = str(tmpdir.join('run'))
    args = ['--records', records, '--run-dir', run_dir] + TINY + [
        '--set', 'train.checkpoint_every=5', '--set', 'train.validation_batches=0']
    assert train.main(args + ['--steps', '5']) == 0
    assert train.main(args + ['--steps', '8']) == 0
    steps = [r['step'] for r in _log(run_dir) if 'loss' in r]
    assert steps == [1, 2, 3, 4, 5, 6, 7, 8]
    with open(os.path.join(run_dir, 'summary.json')) as f:
        summary = json.load(f)
    assert (summary['start_step'], summary['steps'], summary['steps_this_run']) == (5, 8, 3)
    assert tf.train.load_checkpoint(run_dir).get_tensor('global_step') == 8


@pytest.mark.slow
def test_sigterm_saves_a_loadable_checkpoint_and_exits_zero(records, tmpdir):
    run_dir = str(tmpdir.join('run'))
    proc = subprocess.Popen(
        [sys.executable, '-m', 'trainers.sasiam', '--records', records, '--run-dir', run_dir,
         '--steps', '100000'] + TINY + ['--set', 'train.validation_batches=0'],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = os.path.join(run_dir, 'train_log.jsonl')
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if os.path.exists(log) and len(open(log).readlines()) >= 3:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 0
    step = tf.train.load_checkpoint(run_dir).get_tensor('global_step')
    assert 3 <= step < 100000
    with open(os.path.join(run_dir, 'summary.json')) as f:
        summary = json.load(f)
    assert summary['status'].startswith('interrupted') and summary['steps'] == step


def test_nan_loss_stops_with_the_step(records, tmpdir, capsys):
    run_dir = str(tmpdir.join('run'))
    assert train.main(['--records', records, '--run-dir', run_dir, '--steps', '50'] + TINY +
                      ['--set', 'train.lr=1e30', '--set', 'train.validation_batches=0']) == 1
    err = capsys.readouterr().err
    assert 'training diverged: weights exploded at step' in err
    assert 'No checkpoint was written' in err
    assert not any(name.startswith('model.ckpt') for name in os.listdir(run_dir))


def test_missing_records_fail_with_a_clear_message(tmpdir, capsys):
    assert train.main(['--records', str(tmpdir), '--run-dir', str(tmpdir.join('r'))] + TINY) == 1
    assert 'dataset_info.json not found' in capsys.readouterr().err


# -- the NPU path through the npu_bridge double (test/fake_npu) --------------------------------

def _npu_run(records, run_dir, steps, n, *extra):
    return train.main(['--records', records, '--run-dir', run_dir, '--steps', str(steps)] +
                      TINY + ['--device', 'npu', '--iterations-per-loop', str(n),
                              '--set', 'train.validation_batches=0',
                              '--set', 'train.checkpoint_every=4',
                              '--set', 'train.keep_checkpoints=2',
                              '--set', 'train.lr_decay_steps=5'] + list(extra))


def _losses(run_dir):
    return [(r['step'], r['loss'], r['lr']) for r in _log(run_dir) if 'loss' in r]


@pytest.mark.slow   # two NPU-double runs through overflow (~15 s)
@pytest.mark.parametrize('n', [1, 4])
def test_npu_step_means_applied_updates_under_skipped_steps(records, tmpdir, n):
    """25 % of the iterations overflow. Uninterrupted to 9+ steps vs stopped at 5+ and resumed:
    the same steps, losses and LR (bit-identical), checkpoints named by global_step at the first
    boundary past each multiple of 4, the newest two kept across the resume."""
    whole, parts = str(tmpdir.join('whole')), str(tmpdir.join('parts'))
    with fake_npu(period=4, phase=1):
        assert _npu_run(records, whole, 9, n) == 0
        assert _npu_run(records, parts, 5, n) == 0
        first = json.load(open(os.path.join(parts, 'summary.json')))
        assert _npu_run(records, parts, 9, n) == 0
    expected_steps = {1: list(range(1, 10)), 4: [3, 6, 9]}[n]
    assert [s for s, _, _ in _losses(whole)] == expected_steps
    assert _losses(parts) == _losses(whole)
    summary = json.load(open(os.path.join(whole, 'summary.json')))
    assert summary['steps'] == 9 and summary['status'] == 'completed'
    assert summary['iterations_this_run'] == 12  # iterations 1, 5, 9 were skipped
    assert first['steps'] == {1: 5, 4: 6}[n]
    # the LR schedule reads global_step: 0.01 x 0.1 ** (step // 5) at the last iteration's step
    for step, _, lr in _losses(whole):
        assert lr == pytest.approx(0.01 * 0.1 ** ((step - 1) // 5))
    ckpt = tf.train.load_checkpoint(parts)
    assert ckpt.get_tensor('global_step') == 9 and ckpt.get_tensor('input_position') == 12
    assert sorted(f for f in os.listdir(parts) if f.endswith('.index')) == [
        'model.ckpt-8.index' if n == 1 else 'model.ckpt-6.index', 'model.ckpt-9.index']


@pytest.mark.slow   # a CPU run then an NPU-double run (~4 s)
def test_a_cpu_checkpoint_resumes_on_the_npu(records, tmpdir, capsys):
    """The loss-scale state a CPU run never had starts fresh; the model and step carry over."""
    run_dir = str(tmpdir.join('run'))
    assert train.main(['--records', records, '--run-dir', run_dir, '--steps', '2'] + TINY +
                      ['--set', 'train.validation_batches=0']) == 0
    with fake_npu():
        assert _npu_run(records, run_dir, 3, 1) == 0
    err = capsys.readouterr().err
    assert 'has no fake_npu/iteration, loss_scale/bad_steps' in err and 'start fresh' in err
    summary = json.load(open(os.path.join(run_dir, 'summary.json')))
    assert (summary['start_step'], summary['steps']) == (2, 3)


def test_a_run_directory_of_another_model_is_refused_in_one_line(records, tmpdir, capsys):
    run_dir = str(tmpdir.join('run'))
    assert train.main(['--records', records, '--run-dir', run_dir, '--steps', '1'] + TINY +
                      ['--set', 'train.validation_batches=0']) == 0
    assert train.main(['--records', records, '--run-dir', run_dir, '--steps', '2'] + TINY +
                      ['--set', 'train.validation_batches=0', '--set', 'model.width=0.125']) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith('error: %s does not fit this model' % os.path.join(run_dir,
                                                                            'model.ckpt-1'))
    assert 'of another shape' in err and 'start a new --run-dir' in err


@pytest.mark.slow   # an NPU-double run to divergence (~4 s)
def test_npu_divergence_stops_and_keeps_the_last_good_checkpoint(records, tmpdir, capsys):
    run_dir = str(tmpdir.join('run'))
    with fake_npu(from_iteration=6):  # every iteration from the 7th overflows
        assert _npu_run(records, run_dir, 40, 1, '--set', 'train.checkpoint_every=2',
                        '--set', 'device.loss_scale.init=4',
                        '--set', 'device.loss_scale.decr_every_n_nan_or_inf=1') == 1
    err = capsys.readouterr().err
    # scale 4 -> 2 -> 1 (the floor) on iterations 7 and 8; iteration 9 overflows at the floor
    assert 'training diverged: loss scale collapsed to its floor 1 and the steps still ' \
        'overflow at step 6' in err
    assert 'last good checkpoint is %s' % os.path.join(run_dir, 'model.ckpt-6') in err
    assert tf.train.load_checkpoint(run_dir).get_tensor('global_step') == 6
