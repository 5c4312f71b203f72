"""Reproducing the reference OSMN: its online fine-tuning (per-object copies, three scales), its
released checkpoints as run directories, and VGG-16 starting weights from a Keras .h5."""
from __future__ import absolute_import, division, print_function

import hashlib
import json
import os

import numpy as np
import pytest

from datasets import davis as davis_data
from datasets.images import resize_labels
from segmenters import __main__ as segment_cli
from segmenters import osmn, sources


class _Collect(object):
    """A writer keeping every frame's labels and probability maps in memory."""

    def __init__(self):
        self.labels, self.probabilities = {}, {}

    def write(self, video, t, labels, probabilities):
        self.labels[(video.name, t)] = labels.copy()
        self.probabilities[(video.name, t)] = {k: v.copy() for k, v in probabilities.items()}


def _run_digest(run):
    return {n: hashlib.sha1(open(os.path.join(run, n), 'rb').read()).hexdigest()
            for n in os.listdir(run) if os.path.isfile(os.path.join(run, n))}


@pytest.fixture(scope='module')
def video(sample_data):
    """The sample DAVIS 2017 val video with the most objects, its first 4 frames."""
    root = os.path.join(sample_data[0], 'DAVIS')
    videos = list(sources.davis_videos(root, '2017', 'val'))
    full = max(videos, key=lambda v: len(v.objects))
    assert len(full.objects) >= 2
    return sources.Video(full.name, full.dataset, full.frame_names[:4], full.size, full.objects,
                         full._read, full.where)


def _only(video, obj):
    return sources.Video(video.name, video.dataset, video.frame_names, video.size, [obj],
                         video._read, video.where)


@pytest.mark.slow  # a segmenter with its fine-tuning graph, K + 1 passes (~9 s)
def test_per_object_copies_are_independent_and_merged_by_argmax(osmn_run, video):
    """--finetune-per-object: each object's maps are those of a copy fine-tuned on that object
    alone (a video holding only it gives the same maps: nothing leaks between copies, Adam and
    BN statistics restart from the checkpoint for each), and the labels are their arg-max merge.
    BN in training mode moves the copies' statistics, yet the run directory is only read."""
    before = _run_digest(osmn_run)
    segmenter = osmn.OsmnSegmenter(osmn_run, 'davis2017', 'cpu', finetune_steps=2,
                                   finetune_lr=0.01, finetune_per_object=True,
                                   max_frame_size=video.size)
    try:
        together = _Collect()
        stats = segmenter.segment(video, together)
        alone = {}
        for obj in video.objects:
            out = _Collect()
            segmenter.segment(_only(video, obj), out)
            alone[obj.id] = out
    finally:
        segmenter.close()
    assert stats['finetune_steps'] == 2 * len(video.objects)
    assert stats['segmented_frames'] == len(video.frame_names) - 1
    for (name, t), probs in together.probabilities.items():
        assert sorted(probs) == sorted(o.id for o in video.objects if o.first_frame < t)
        for obj_id, prob in probs.items():
            assert prob.dtype == np.float32
            # held as float16 until the merge
            np.testing.assert_array_equal(
                prob, alone[obj_id].probabilities[(name, t)][obj_id].astype(np.float16))
        if probs:
            ids = sorted(probs)
            merged = osmn.merge_labels([probs[i] for i in ids], ids)
            np.testing.assert_array_equal(together.labels[(name, t)],
                                          resize_labels(merged, video.size))
    first = min(o.first_frame for o in video.objects)
    for obj in video.objects:
        if obj.first_frame == first:
            assert (together.labels[(video.name, first)][obj.mask > 0] == obj.id).all()
    assert _run_digest(osmn_run) == before


@pytest.mark.slow  # two segmenters with their fine-tuning graphs (~25 s)
def test_three_scale_finetuning_builds_one_update_per_scale_and_draws_them(osmn_run, video):
    """--finetune-scales: one update op per scale of FINETUNE_SCALES (the trainer's DAVIS
    scales, the reference's online ones) at that fraction of the network size, drawn per step
    from the video's seeded schedule: the same seed gives the same draws, another seed other
    ones, and the fine-tuned copy differs from the one trained at the network size only. (The
    maps of two runs are not compared: CPU reductions are not bit-exact, and Adam's normalised
    step and the propagated binary masks amplify the last bits; CI once saw them 0.02 apart.)"""
    assert osmn.FINETUNE_SCALES == (0.5, 0.8, 1.0)

    def segment(scales):
        segmenter = osmn.OsmnSegmenter(osmn_run, 'davis2017', 'cpu', finetune_steps=3,
                                       finetune_lr=0.01, finetune_scales=scales,
                                       max_frame_size=video.size)
        try:
            assert len(segmenter.finetune_steps_ops) == len(segmenter.finetune_sizes)
            out = _Collect()
            stats = segmenter.segment(video, out)
            assert stats['finetune_steps'] == 3 * len(video.objects)
            return segmenter.size, segmenter.finetune_sizes, out
        finally:
            segmenter.close()
    size, shapes, multi = segment(True)
    assert shapes == [(int(size[0] * s), int(size[1] * s)) for s in osmn.FINETUNE_SCALES]
    _, single_shapes, single = segment(False)
    assert single_shapes == [tuple(size)]
    key = (video.name, len(video.frame_names) - 1)
    assert any(not np.array_equal(p, single.probabilities[key][i])
               for i, p in multi.probabilities[key].items())

    def draws(seed, key=video.name, scales=3):
        return [(obj.id, uniforms.tolist(), scale) for obj, uniforms, scale
                in osmn.finetune_schedule(seed, key, video.objects, 20, scales)]
    assert draws(0) == draws(0) != draws(1)
    assert draws(0) != draws(0, key=video.name + '/1')   # per-object copies draw their own
    assert {scale for _, _, scale in draws(0)} == {0, 1, 2}
    assert {scale for _, _, scale in draws(0, scales=1)} == {0}
    assert [obj_id for obj_id, _, _ in draws(0)] == [o.id for o in video.objects] * 20


def test_reference_finetuning_switches_need_steps_and_default_to_the_reference_length(osmn_run):
    args = segment_cli.parse_args(['--run', osmn_run, '--out', 'x', '--davis', 'd',
                                   '--finetune-per-object'])
    assert args.finetune_steps == osmn.REFERENCE_FINETUNE_STEPS == 100
    args = segment_cli.parse_args(['--run', osmn_run, '--out', 'x', '--davis', 'd'])
    assert args.finetune_steps == 0 and not args.finetune_scales
    with pytest.raises(osmn.SegmentError, match='need fine-tuning steps'):
        osmn.OsmnSegmenter(osmn_run, 'davis2017', 'cpu', finetune_steps=0,
                           finetune_scales=True)
    assert davis_data.OSMN_SIZE   # the network size the scales multiply


# -- the reference's checkpoints ------------------------------------------------------------------

def _reference_checkpoint(folder, width, extra=(), drop=(), reshape=None, step=50000):
    """A checkpoint as the reference's training writes it (its variable names, Adam slots,
    beta powers, global_step), random values, at a width; returns (prefix, {name: value})."""
    import tensorflow as tf
    from trainers.osmn import import_reference
    cfg = import_reference.config_for('davis', width, 'unused')
    shapes = import_reference.model_shapes(cfg)
    rng = np.random.RandomState(7)
    # small weights keep the tiny net's activations finite; variances positive
    values = {n: (np.abs(rng.randn(*s)) + 0.5 if 'moving_variance' in n else
                  0.1 * rng.randn(*s)).astype(np.float32)
              for n, s in shapes.items() if n not in drop}
    if reshape:
        values[reshape] = rng.randn(*(list(shapes[reshape][:-1]) + [3])).astype(np.float32)
    for name in extra:
        values[name] = rng.randn(2).astype(np.float32)
    slots = {n + suffix: rng.randn(*values[n].shape).astype(np.float32)
             for n in sorted(values)[:3] for suffix in ('/Adam', '/Adam_1')}
    with tf.Graph().as_default():
        variables = [tf.compat.v1.get_variable(n, initializer=v) for n, v in
                     sorted(dict(values, **slots).items())]
        variables += [tf.compat.v1.get_variable('beta1_power', initializer=0.9),
                      tf.compat.v1.get_variable('beta2_power', initializer=0.999),
                      tf.compat.v1.get_variable('global_step', initializer=np.int64(step))]
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            prefix = tf.compat.v1.train.Saver(variables).save(
                sess, os.path.join(folder, 'osmn.ckpt'), global_step=step,
                write_meta_graph=False)
    return prefix, values


@pytest.fixture(scope='module')
def reference_checkpoint(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp('reference-ckpt'))
    return _reference_checkpoint(folder, 0.0625)


def test_a_reference_checkpoint_becomes_a_run_the_segmenter_uses(reference_checkpoint, video,
                                                                  tmp_path_factory):
    """Every model variable carried over by name and value, the optimizer state left out, the
    width read from the checkpoint; the segmenter segments with the run."""
    import tensorflow as tf
    from trainers import checkpoints
    from trainers.osmn import import_reference
    prefix, values = reference_checkpoint
    run = str(tmp_path_factory.mktemp('imported') / 'osmn-reference')
    assert import_reference.main([os.path.dirname(prefix), run,
                                  '--set', 'input.input_scale=0.25']) == 0
    ckpt = checkpoints.latest(run)
    assert ckpt.endswith('model.ckpt-50000')
    reader = tf.train.load_checkpoint(ckpt)
    assert set(reader.get_variable_to_shape_map()) == set(values)
    for name, value in values.items():
        np.testing.assert_array_equal(reader.get_tensor(name), value)
    record = json.load(open(os.path.join(run, 'run.json')))
    assert record['reference_step'] == 50000 and record['variables'] == len(values)
    assert sorted(record['left_out']) == sorted(
        ['beta1_power', 'beta2_power', 'global_step'] +
        [n + s for n in sorted(values)[:3] for s in ('/Adam', '/Adam_1')])
    config = json.load(open(os.path.join(run, 'config.json')))
    assert config['model']['width'] == 0.0625 and config['input']['stage'] == 'davis'
    segmenter = osmn.OsmnSegmenter(run, 'davis2017', 'cpu', max_frame_size=video.size)
    try:
        out = _Collect()
        stats = segmenter.segment(video, out)
    finally:
        segmenter.close()
    assert stats['segmented_frames'] == len(video.frame_names) - 1
    assert any(p.std() > 0 for probs in out.probabilities.values() for p in probs.values())


def test_the_name_map_classifies_and_every_mismatch_is_named():
    """NAME_MAP: model variables by name, optimizer state left out, anything else unmapped;
    check_mapping names what maps to nothing, what gets no value and what differs in shape."""
    from trainers.osmn import import_reference as ref
    names = ['global_step', 'beta1_power', 'beta2_power_1', 'osmn/seg/conv1/conv1_1/weights',
             'osmn/seg/conv1/conv1_1/weights/Adam', 'osmn/seg/conv1/conv1_1/weights/Adam_1',
             'osmn/modulator/fc8/biases/Momentum', 'osmn/modulator_sp/conv1/weights',
             'resnet/block1/weights', 'osmn/lite/conv1/weights']
    mapped, left_out, unmapped = ref.classify(names)
    assert left_out == sorted(['global_step', 'beta1_power', 'beta2_power_1',
                               'osmn/seg/conv1/conv1_1/weights/Adam',
                               'osmn/seg/conv1/conv1_1/weights/Adam_1',
                               'osmn/modulator/fc8/biases/Momentum'])
    assert unmapped == ['osmn/lite/conv1/weights', 'resnet/block1/weights']
    assert mapped == {'osmn/seg/conv1/conv1_1/weights': 'osmn/seg/conv1/conv1_1/weights',
                      'osmn/modulator_sp/conv1/weights': 'osmn/modulator_sp/conv1/weights'}
    shapes = {'osmn/seg/conv1/conv1_1/weights': [3, 3, 3, 5],
              'osmn/modulator_sp/conv1/weights': [1, 1, 1, 128]}
    ours = {'osmn/seg/conv1/conv1_1/weights': [3, 3, 3, 4], 'osmn/seg/upscore-fuse/biases': [1]}
    line = ref.check_mapping(mapped, unmapped, shapes, ours)
    assert line == ('not OSMN variables of this model: osmn/lite/conv1/weights, '
                    'resnet/block1/weights; no value for: osmn/seg/upscore-fuse/biases; the '
                    'model has no osmn/modulator_sp/conv1/weights; shapes differ: '
                    'osmn/seg/conv1/conv1_1/weights [3, 3, 3, 5] (the model: [3, 3, 3, 4])')
    assert ref.check_mapping({n: n for n in ours}, [], ours, ours) is None
    many = ['x%d' % i for i in range(9)]
    assert ref.check_mapping({}, many, {}, {}).endswith('x5 (+3 more)')


def test_a_checkpoint_that_does_not_map_is_refused_in_one_line_and_writes_nothing(tmpdir,
                                                                                 capsys):
    """End to end, one case: the mod_early_conv variant's extra spatial-modulator layer."""
    from trainers.osmn import import_reference
    prefix, _ = _reference_checkpoint(str(tmpdir.mkdir('ckpt')), 0.0625,
                                      extra=['osmn/modulator_sp/conv1/weights'])
    run = str(tmpdir / 'run')
    assert import_reference.main([prefix, run]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and 'does not map onto OSMN (width 0.0625)' in err
    assert 'the model has no osmn/modulator_sp/conv1/weights' in err
    assert not os.path.exists(run) and os.listdir(str(tmpdir)) == ['ckpt']


def test_import_refusals_for_what_is_not_an_osmn_checkpoint(tmpdir, capsys):
    from trainers.osmn import import_reference
    assert import_reference.main([str(tmpdir), str(tmpdir / 'run')]) == 1
    assert 'no TF checkpoint there' in capsys.readouterr().err
    existing = tmpdir.mkdir('taken')
    assert import_reference.main([str(tmpdir), str(existing)]) == 1
    assert 'exists: choose a new RUN_DIR' in capsys.readouterr().err


# -- Keras VGG-16 weights --------------------------------------------------------------------------

def _keras_vgg16(path, width, keras1=False, top=True, theano=False):
    """A VGG-16 weights file in Keras' layout (save_weights: layer groups, weight_names
    attributes) at a width; returns {slim name: value}."""
    import h5py
    from trainers.osmn import model
    rng = np.random.RandomState(3)
    expected = {}
    with h5py.File(path, 'w') as f:
        layers = []
        previous = 3
        for block, channels, count in model.VGG_BLOCKS:
            for i in range(1, count + 1):
                out = model.width_channels(channels, width)
                layers.append(('block%d_conv%d' % (block, i), (3, 3, previous, out),
                               'vgg_16/conv%d/conv%d_%d' % (block, block, i)))
                previous = out
        if top:
            fc = model.width_channels(4096, width)
            layers += [('fc1', (7 * 7 * previous, fc), 'vgg_16/fc6'),
                       ('fc2', (fc, fc), 'vgg_16/fc7'), ('predictions', (fc, 10), None)]
        f.attrs['layer_names'] = [n.encode() for n, _, _ in layers] + [b'flatten']
        f.create_group('flatten').attrs['weight_names'] = []
        for name, shape, slim in layers:
            group = f.create_group(name)
            kernel = (0.05 * rng.randn(*shape)).astype(np.float32)   # small: a finite forward
            bias = (0.05 * rng.randn(shape[-1])).astype(np.float32)
            names = (['%s_W_1:0' % name, '%s_b_1:0' % name] if keras1 else
                     ['%s/kernel:0' % name, '%s/bias:0' % name])
            stored = np.transpose(kernel, (3, 2, 0, 1)) if theano and len(shape) == 4 else kernel
            group.create_dataset(names[0], data=stored)
            group.create_dataset(names[1], data=bias)
            group.attrs['weight_names'] = [n.encode() for n in names]
            if slim:
                expected[slim + '/weights'] = kernel
                expected[slim + '/biases'] = bias
    return expected


@pytest.mark.parametrize('keras1', [False, True])
def test_keras_vgg16_files_read_under_the_slim_names(tmpdir, keras1):
    from trainers.osmn import weights
    path = str(tmpdir / 'vgg16.h5')
    expected = _keras_vgg16(path, 0.0625, keras1=keras1)
    reader = weights.open_weights(path)
    names = reader.get_variable_to_shape_map()
    assert set(names) == set(expected)
    for name, value in expected.items():
        got = reader.get_tensor(name)
        if name.startswith('vgg_16/fc6/weights'):
            # Keras' flattened 7x7xC rows are the 7x7 kernel's rows in (h, w, c) order
            assert got.shape == (7, 7, value.shape[0] // 49, value.shape[1])
            np.testing.assert_array_equal(got.reshape(value.shape), value)
            np.testing.assert_array_equal(got[1, 2, 3], value[(1 * 7 + 2) * got.shape[2] + 3])
        elif name.startswith('vgg_16/fc7/weights'):
            np.testing.assert_array_equal(got[0, 0], value)
        else:
            np.testing.assert_array_equal(got, value)


def test_bad_keras_files_are_one_line_errors(tmpdir):
    from trainers.osmn import weights
    theano = str(tmpdir / 'th.h5')
    _keras_vgg16(theano, 0.0625, theano=True, top=False)
    with pytest.raises(weights.WeightsError, match='not a 3x3 kernel in TF order'):
        weights.open_weights(theano)
    import h5py
    empty = str(tmpdir / 'empty.h5')
    with h5py.File(empty, 'w') as f:
        f.create_group('dense_1')
    with pytest.raises(weights.WeightsError, match='holds no Keras VGG-16 layer'):
        weights.open_weights(empty)
    text = tmpdir / 'not-weights.h5'
    text.write('hello')
    with pytest.raises(weights.WeightsError, match='cannot read .* as a TF checkpoint or a '
                                                   'Keras .h5'):
        weights.open_weights(str(text))


@pytest.mark.slow  # builds and runs the OSMN training graph (~10 s)
def test_the_trainer_starts_from_keras_vgg16_weights(tmpdir, davis_records):
    """--vgg16 file.h5: both VGG-16s (modulator and segmentation net) start from the file's
    weights, fc6/fc7 in the modulator only."""
    import tensorflow as tf
    from trainers.osmn import train
    path = str(tmpdir / 'vgg16.h5')
    expected = _keras_vgg16(path, 0.0625)
    run = str(tmpdir / 'run')
    assert train.main([
        '--stage', 'davis', '--records', davis_records, '--run-dir', run, '--steps', '1',
        '--single-scale', '--vgg16', path, '--device', 'cpu', '--set', 'train.lr=1e-30',
        '--set', 'model.width=0.0625', '--set', 'input.input_scale=0.25',
        '--set', 'input.batch_size=1', '--set', 'input.sample_shuffle=2',
        '--set', 'train.validation_batches=0']) == 0
    from trainers import checkpoints
    reader = tf.train.load_checkpoint(checkpoints.latest(run))
    for name, value in expected.items():
        for scope in ('osmn/modulator/', 'osmn/seg/'):
            ours = scope + name[len('vgg_16/'):]
            if scope == 'osmn/seg/' and '/fc' in name:
                continue
            np.testing.assert_allclose(reader.get_tensor(ours).reshape(value.shape), value,
                                       rtol=1e-5, atol=1e-6)
