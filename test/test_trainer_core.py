"""Trainer core: device configs, configuration as data, the records reader."""
from __future__ import absolute_import, division, print_function

import json
import os

import pytest
import tensorflow as tf
from tensorflow.core.protobuf.rewriter_config_pb2 import RewriterConfig

from fake_npu_env import fake_npu
from schemas import coco_instances, vid_track
from trainers import checkpoints, guard, loop, reader
from trainers import config as config_lib
from trainers import device


def _npu_params(config):
    optimizers = config.graph_options.rewrite_options.custom_optimizers
    assert [o.name for o in optimizers] == ['NpuOptimizer']
    return optimizers[0].parameter_map


def test_npu_session_config_without_npu_bridge():
    config = device.session_config('npu', 'allow_mix_precision', 1)
    params = _npu_params(config)
    assert params['use_off_line'].b is True
    assert params['precision_mode'].s == b'allow_mix_precision'
    assert params['mix_compile_mode'].b is False
    assert 'enable_data_pre_proc' not in params and 'iterations_per_loop' not in params
    assert config.graph_options.rewrite_options.remapping == RewriterConfig.OFF
    assert config.graph_options.rewrite_options.memory_optimization == RewriterConfig.OFF
    sinking = _npu_params(device.session_config('npu', 'force_fp32', 10))
    assert sinking['enable_data_pre_proc'].b is True
    assert sinking['iterations_per_loop'].i == 10
    assert sinking['precision_mode'].s == b'force_fp32'


def test_cpu_and_gpu_session_configs():
    cpu = device.session_config('cpu')
    assert not cpu.graph_options.rewrite_options.custom_optimizers
    assert not cpu.gpu_options.allow_growth
    gpu = device.session_config('gpu')
    assert gpu.gpu_options.allow_growth
    assert not gpu.graph_options.rewrite_options.custom_optimizers
    with pytest.raises(device.DeviceError):
        device.session_config('auto')


def test_npu_without_npu_bridge_names_the_package_and_cann(monkeypatch):
    if device.npu_available():
        pytest.skip('npu_bridge is installed here')
    with pytest.raises(device.DeviceError) as err:
        device.resolve('npu')
    assert 'npu_bridge' in str(err.value) and 'CANN' in str(err.value)
    assert device.resolve('auto') in ('gpu', 'cpu')
    with pytest.raises(device.DeviceError):
        device.resolve('tpu')


def test_steps_per_run_and_optimizer_wrapping():
    assert device.steps_per_run('npu', 10) == 10
    assert device.steps_per_run('cpu', 10) == 1
    sentinel = object()
    assert device.wrap_optimizer(sentinel, 'cpu', config_lib.DEVICE['loss_scale']) is sentinel
    assert device.loss_scale(sentinel) is None
    assert device.loss_scaling('npu') and not device.loss_scaling('gpu')
    assert config_lib.DEVICE['loss_scale'] == {'init': 2.0 ** 32, 'incr_every_n_steps': 1000,
                                               'decr_every_n_nan_or_inf': 2, 'decr_ratio': 0.5}


def test_config_merging_aliases_and_errors(tmpdir):
    defaults = {'input': {'num_parallel_calls': -1, 'prefetch': -1, 'batch_size': 8},
                'train': {'steps': 10, 'lr': 0.01}}
    path = str(tmpdir.join('c.json'))
    with open(path, 'w') as f:
        json.dump({'train': {'steps': 99}}, f)
    cfg = config_lib.resolve(defaults, path, ['train.lr=0.5', 'input.prefetch_threads=4',
                                              'input.prefetch_capacity=120'],
                             {'input': {'batch_size': 2}})
    assert cfg == {'input': {'num_parallel_calls': 4, 'prefetch': 120, 'batch_size': 2},
                   'train': {'steps': 99, 'lr': 0.5}}
    assert defaults['train']['steps'] == 10  # defaults untouched
    with pytest.raises(config_lib.ConfigError, match='train.stpes'):
        config_lib.resolve(defaults, assignments=['train.stpes=3'])
    with pytest.raises(config_lib.ConfigError):
        config_lib.parse_assignment('no-equals-sign')
    assert config_lib.parse_assignment('a.b=hello') == {'a': {'b': 'hello'}}


def _write_info(directory, info):
    """dataset_info.json with the given keys over the ones every file has."""
    os.makedirs(directory, exist_ok=True)
    if isinstance(info, dict):
        info = dict({'name': 'x', 'source': 'x', 'options': {}, 'beam_options': {},
                     'max_frame_size': [255, 255], 'counts': {}, 'rejected': {},
                     'objects_rejected': {}}, **info)
    with open(os.path.join(directory, 'dataset_info.json'), 'w') as f:
        f.write(info if isinstance(info, str) else json.dumps(info))


def test_reader_errors_name_the_file(tmpdir):
    missing = str(tmpdir.join('none'))
    with pytest.raises(reader.RecordsError, match='dataset_info.json not found'):
        reader.load_info(missing, vid_track.SCHEMA)
    corrupt = str(tmpdir.join('corrupt'))
    _write_info(corrupt, '{"schema": ')
    with pytest.raises(reader.RecordsError, match='corrupt/dataset_info.json is not a valid'):
        reader.load_info(corrupt, vid_track.SCHEMA)
    other = str(tmpdir.join('other'))
    _write_info(other, {'schema': {'name': 'vid_track', 'version': 99}, 'splits': {}})
    with pytest.raises(reader.RecordsError, match='version 99'):
        reader.load_info(other, vid_track.SCHEMA)
    with pytest.raises(reader.RecordsError, match='coco_instances'):
        reader.load_info(other, coco_instances.SCHEMA)
    good = str(tmpdir.join('good'))
    _write_info(good, {'schema': {'name': 'vid_track', 'version': 1}, 'splits': {
        'train': {'records': 3, 'shards': [{'file': 'train/x-00000-of-00001', 'records': 3}]}}})
    info = reader.load_info(good, vid_track.SCHEMA)
    with pytest.raises(reader.RecordsError, match='does not exist'):
        reader.shard_files(good, info, 'train')
    with pytest.raises(reader.RecordsError, match="no split 'validation'"):
        reader.shard_files(good, info, 'validation')


def test_shard_sizes_are_checked_against_dataset_info(tmpdir):
    records = [b'a' * 10, b'b' * 30]
    shard = str(tmpdir.join('train', 'x-00000-of-00001'))
    os.makedirs(os.path.dirname(shard))
    with tf.io.TFRecordWriter(shard) as writer:
        for r in records:
            writer.write(r)
    _write_info(str(tmpdir), {'schema': {'name': 'vid_track', 'version': 1}, 'splits': {
        'train': {'records': 2, 'shards': [{'file': 'train/x-00000-of-00001', 'records': 2,
                                            'bytes': 40}]}}})
    info = reader.load_info(str(tmpdir), vid_track.SCHEMA)
    assert reader.shard_files(str(tmpdir), info, 'train') == ([shard], 2)
    assert os.path.getsize(shard) == reader.tfrecord_file_size(40, 2)
    with open(shard, 'rb') as f:
        whole = f.read()
    with open(shard, 'wb') as f:  # cut at the record boundary: a valid but short file
        f.write(whole[:reader.tfrecord_file_size(10, 1)])
    with pytest.raises(reader.RecordsError, match='x-00000-of-00001 has 26 bytes.* 2 records'):
        reader.shard_files(str(tmpdir), info, 'train')
    assert reader.find_corrupt_file([shard]) is None
    with open(shard, 'wb') as f:  # a flipped byte inside the second record
        f.write(whole[:-8] + b'X' + whole[-7:])
    path, index, _ = reader.find_corrupt_file([shard])
    assert (path, index) == (shard, 1)


def test_named_seeds_are_stable_and_distinct():
    # golden values (sha256 of 'seed:purpose'): stable across processes and machines, which
    # a salted hash() would not be
    assert reader.derive_seed(0, 'validation') == 1225414190
    assert reader.derive_seed(1, 'validation') == 46488004
    assert reader.derive_seed(0, 'scale') == 70493587
    seeds = {reader.derive_seed(s, p) for s in range(3) for p in ('validation', 'scale', 'x')}
    assert len(seeds) == 9 and all(0 <= s < 2 ** 31 for s in seeds)


def test_divergence_guard_rules():
    g = guard.DivergenceGuard({'patience': 3, 'min_history': 4, 'loss_factor': 10.0})
    for step, loss in enumerate([1.0, 1.2, 0.9, 1.1, 1.0], 1):
        g.observe(step, loss, weight_norm=5.0)
    g.observe(6, 50.0, 5.0)  # one spike (> 10 x median 1.0) is tolerated...
    assert not g.healthy
    g.observe(7, float('nan'), 5.0)  # ...and so is a non-finite loss (a skipped step)
    g.observe(8, 1.0, 5.0)
    assert g.healthy
    for step in (9, 10):
        g.observe(step, 30.0, 5.0)
    with pytest.raises(guard.TrainingDiverged, match='at step 11.*median.*3 runs'):
        g.observe(11, 1e3, 5.0)
    with pytest.raises(guard.TrainingDiverged, match='weights exploded at step 3'):
        guard.DivergenceGuard({}).observe(3, 0.5, weight_norm=float('inf'))
    with pytest.raises(guard.TrainingDiverged, match='weights exploded'):
        guard.DivergenceGuard({}).observe(3, 0.5, weight_norm=1e19)  # finite, saturated
    # the scale reaching the floor (1) is not divergence; a run at the floor without an update is
    floor = guard.DivergenceGuard({})
    floor.observe(4, 0.5, 1.0, loss_scale=2.0)
    floor.observe(4, 0.5, 1.0, loss_scale=1.0)  # overflowed at 2: halved to the floor
    floor.observe(5, 0.5, 1.0, loss_scale=1.0)  # an update at the floor: fine
    with pytest.raises(guard.TrainingDiverged, match='loss scale collapsed to its floor 1 and '
                                                     'the steps still overflow at step 5'):
        floor.observe(5, 0.5, 1.0, loss_scale=1.0)
    # global_step standing still while iterations run (4 per run): stuck after 3 runs of 4
    stuck = guard.DivergenceGuard({'max_skipped_iterations': 12})
    for _ in range(3):
        stuck.observe(7, 0.5, 1.0, iterations=4)
    with pytest.raises(guard.TrainingDiverged, match='no update applied in the last 12 '
                                                     'iterations .global_step stuck at 7'):
        stuck.observe(7, 0.5, 1.0, iterations=4)
    stuck = guard.DivergenceGuard({'max_skipped_iterations': 12})
    for step in (7, 7, 7, 8, 8, 8):  # an applied update resets the count
        stuck.observe(step, 0.5, 1.0, iterations=4)


def test_checkpoints_keep_the_newest_across_runs_with_relative_state(tmpdir):
    run_dir = str(tmpdir.join('run'))
    os.makedirs(run_dir)
    with tf.Graph().as_default():
        v = tf.compat.v1.get_variable('v', initializer=1.0)
        saver = tf.compat.v1.train.Saver(max_to_keep=None)
        with tf.compat.v1.Session() as sess:
            sess.run(v.initializer)
            for step in (3, 7, 12):
                checkpoints.save(saver, sess, run_dir, step, keep=2)
            # a second Saver (a resumed run) still deletes the first run's old files
            for step in (15,):
                checkpoints.save(tf.compat.v1.train.Saver(max_to_keep=None), sess, run_dir,
                                 step, keep=2)
    assert checkpoints.steps_on_disk(run_dir) == [12, 15]
    moved = str(tmpdir.join('moved'))
    os.rename(run_dir, moved)
    assert tf.train.latest_checkpoint(moved) == os.path.join(moved, 'model.ckpt-15')
    assert checkpoints.latest(moved) == os.path.join(moved, 'model.ckpt-15')
    assert '/' not in open(os.path.join(moved, 'checkpoint')).read()


def _fake_step_graph(optimizer_factory, n, overflow):
    """A one-variable model through the double's loss-scale optimizer and IterationOp; returns
    (global_step, position, loss scale) after each of three session.runs."""
    with fake_npu(**overflow) as fake:
        from npu_bridge import npu_init
        graph = tf.Graph()
        with graph.as_default():
            w = tf.compat.v1.get_variable('w', initializer=2.0)
            loss = tf.square(w)
            global_step = tf.compat.v1.train.get_or_create_global_step()
            opt = device.wrap_optimizer(optimizer_factory(), 'npu', {
                'init': 4.0, 'incr_every_n_steps': 1000, 'decr_every_n_nan_or_inf': 2,
                'decr_ratio': 0.5})
            op = loop.count_iterations(opt.minimize(loss, global_step=global_step))
            config = device.session_config('npu', 'allow_mix_precision', n)
            out = []
            with tf.compat.v1.Session(graph=graph, config=config) as sess:
                sess.run(tf.compat.v1.global_variables_initializer())
                looped = npu_init.util.set_iteration_per_loop(sess, op, n)
                assert looped.name == 'IterationOp' and fake.SESSIONS[-1][0] is config
                with pytest.raises(AssertionError, match='second IterationOp'):
                    npu_init.util.set_iteration_per_loop(sess, op, n)
                for _ in range(3):
                    sess.run(looped)
                    out.append(tuple(float(x) for x in sess.run(
                        [global_step, loop.input_position(), device.loss_scale(opt)])))
                # the config must carry the same iterations_per_loop as the loop
                with pytest.raises(AssertionError, match='iterations_per_loop=%d' % (n + 1)):
                    npu_init.util.set_iteration_per_loop(sess, op, n + 1)
    return out


def test_fake_adapter_loops_n_iterations_and_skips_overflowing_updates():
    sgd = lambda: tf.compat.v1.train.GradientDescentOptimizer(0.1)  # noqa: E731
    # iterations 1, 5, 9 overflow: per run of 4, three updates applied; the good steps between
    # 1 and 5 keep the bad-step count (the adapter's manager), so 5 is the second: scale halves
    assert _fake_step_graph(sgd, 4, {'period': 4, 'phase': 1}) == [
        (3, 4, 4.0), (6, 8, 2.0), (9, 12, 2.0)]
    # every iteration from 2 on overflows: the scale halves every second one
    assert _fake_step_graph(sgd, 2, {'from_iteration': 2}) == [
        (2, 2, 4.0), (2, 4, 2.0), (2, 6, 1.0)]


def test_auto_device_detection_creates_no_device(monkeypatch):
    """list_local_devices() would create every GPU device and reserve its memory."""
    from tensorflow.python.client import device_lib

    def forbidden():
        raise AssertionError('list_local_devices must not be called')
    monkeypatch.setattr(device_lib, 'list_local_devices', forbidden)
    if not device.npu_available():
        assert device.resolve('auto') in ('gpu', 'cpu')
