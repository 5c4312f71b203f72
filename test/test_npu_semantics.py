"""The adapter's semantics that the double models (test/fake_npu, read from Ascend/tensorflow's
tf_adapter sources), each checked where the project's code depends on it:

(a) adapters <= r1.6.0 allocate the float status in compute_gradients: OSMN's multi-scale step
    must compute its gradients once, outside the scale switch, or updates go missing;
(b) the overflow flag is the chip's, global to the step: a forward fp16 overflow skips the step
    even when every gradient is finite;
(c) the loss-scale manager keeps the bad-step count over good steps;
(d) the device loop runs the whole fetched graph N times per session.run;
(e) HCCL all-reduces int8/int16/int32/fp16/fp32 only.
"""
from __future__ import absolute_import, division, print_function

import json
import os

import pytest
import tensorflow as tf

from fake_npu_env import fake_npu
from trainers import device, loop

OSMN_TINY = ['--device', 'npu', '--random-init-for-tests', '--set', 'model.width=0.0625',
             '--set', 'input.input_scale=0.25', '--set', 'input.batch_size=2',
             '--set', 'input.sample_shuffle=4', '--set', 'train.log_every=1',
             '--set', 'train.validation_batches=0', '--set', 'input.scales=[0.8, 1.2]']
SCALE = {'init': 4.0, 'incr_every_n_steps': 1000, 'decr_every_n_nan_or_inf': 2,
         'decr_ratio': 0.5}



@pytest.mark.slow   # an OSMN multi-scale run (~13 s)
def test_osmn_multi_scale_updates_every_step_on_r1_6_adapters(coco_records, tmpdir):
    from trainers.osmn import train
    run_dir = str(tmpdir.join('run'))
    with fake_npu(adapter=(1, 6, 0)):
        assert train.main(['--stage', 'coco', '--records', coco_records, '--run-dir', run_dir,
                           '--steps', '6', '--set', 'train.divergence.max_skipped_iterations=8']
                          + OSMN_TINY) == 0
    with open(os.path.join(run_dir, 'train_log.jsonl')) as f:
        log = [json.loads(line) for line in f if '"loss"' in line]
    assert {round(r['scale'], 2) for r in log} == {0.8, 1.2}   # both branches ran
    # every iteration applied its update: global_step = iterations
    assert [r['step'] for r in log] == [1, 2, 3, 4, 5, 6]


def _one_variable_steps(n_runs, iterations=1, build_loss=None, scale=SCALE, **overflow):
    """(global_step, loss scale) after each session.run of a one-variable model trained through
    the double's loss-scale optimizer, plus the fake module's records."""
    with fake_npu(**overflow) as fake:
        from npu_bridge import npu_init
        with tf.Graph().as_default() as graph:
            w = tf.compat.v1.get_variable('w', initializer=2.0)
            loss = (build_loss or tf.square)(w)
            global_step = tf.compat.v1.train.get_or_create_global_step()
            opt = device.wrap_optimizer(tf.compat.v1.train.GradientDescentOptimizer(0.01),
                                        'npu', scale)
            op = loop.count_iterations(opt.minimize(loss, global_step=global_step))
            config = device.session_config('npu', 'allow_mix_precision', iterations)
            with tf.compat.v1.Session(graph=graph, config=config) as sess:
                sess.run(tf.compat.v1.global_variables_initializer())
                looped = npu_init.util.set_iteration_per_loop(sess, op, iterations)
                out = []
                for _ in range(n_runs):
                    sess.run(looped)
                    out.append(tuple(float(x) for x in sess.run(
                        [global_step, device.loss_scale(opt)])))
    return out


def test_a_forward_fp16_overflow_skips_the_step():
    def saturating(w):
        # a matmul output of 1.2e5 (past fp16's 65504) whose gradient is finite and tiny
        big = tf.matmul(tf.reshape(w * 3e4, [1, 1]), tf.constant([[2.0]]))
        return tf.reduce_sum(tf.tanh(big * 1e-6)) + tf.square(w)
    assert _one_variable_steps(3, build_loss=saturating) == [(0, 4.0), (0, 2.0), (0, 2.0)]
    # the same model below fp16's range trains
    assert _one_variable_steps(1, build_loss=lambda w: tf.reduce_sum(tf.matmul(
        tf.reshape(w, [1, 1]), tf.constant([[2.0]])))) == [(1, 4.0)]


def test_a_non_finite_loss_with_finite_gradients_skips_the_step():
    # log(0) = -inf in the forward pass only: the gradient of w^2 stays finite
    assert _one_variable_steps(1, build_loss=lambda w: tf.square(w) + tf.stop_gradient(
        tf.math.log(w - w))) == [(0, 4.0)]


def test_loss_scale_manager_keeps_bad_steps_over_good_ones():
    # iterations 0, 2, 4, ... overflow: bad, good, bad -> the second bad step halves the scale
    # (a manager that reset the bad count on a good step would never lower it)
    assert _one_variable_steps(4, period=2, phase=0) == [
        (0, 4.0), (1, 4.0), (1, 2.0), (2, 2.0)]
    # good steps count towards the increase; a bad one resets them
    grow = dict(SCALE, incr_every_n_steps=2)
    assert _one_variable_steps(5, scale=grow, period=3, phase=2) == [
        (1, 4.0), (2, 8.0), (2, 8.0), (3, 8.0), (4, 16.0)]


def test_device_loop_runs_every_fetch_n_times():
    with fake_npu() as fake:
        from npu_bridge import npu_init
        with tf.Graph().as_default() as graph:
            step = tf.compat.v1.get_variable('step', initializer=0, trainable=False)
            summaries = tf.compat.v1.get_variable('summaries', initializer=0, trainable=False)
            train_op = step.assign_add(1).op
            config = device.session_config('npu', 'allow_mix_precision', 4)
            with tf.compat.v1.Session(graph=graph, config=config) as sess:
                sess.run(tf.compat.v1.global_variables_initializer())
                looped = npu_init.util.set_iteration_per_loop(sess, train_op, 4)
                fetched = sess.run({'train': looped, 'summary': summaries.assign_add(1)})
                assert fetched['summary'] == 4       # the last iteration's value
                assert sess.run([step, summaries]) == [4, 4]
                assert fake.SESSIONS[-1][1] == 4


@pytest.mark.parametrize('dtype', [tf.int64, tf.float64, tf.bool])
def test_hccl_refuses_dtypes_it_does_not_move(dtype):
    with fake_npu() as fake:
        from npu_bridge.hccl import hccl_ops
        with fake.hccl_world(1), tf.Graph().as_default():
            fake.bind_rank(0)
            with pytest.raises(TypeError, match='not in list of allowed values'):
                hccl_ops.allreduce(tf.zeros([2], dtype), 'sum')
            for ok in (tf.int32, tf.float16, tf.float32, tf.int8):
                hccl_ops.allreduce(tf.zeros([2], ok), 'sum')


def test_hccl_collectives_of_the_device_layer_move_only_allowed_dtypes():
    """HcclCollectives is what the engine-independent helpers (stop and agreement checks,
    synchronised batch norm) call on Ascend: an int64 reaches HCCL as an error, not silently."""
    with fake_npu() as fake:
        collectives = device.HcclCollectives(type('Topology', (), {'size': 1})())
        with fake.hccl_world(1), tf.Graph().as_default():
            fake.bind_rank(0)
            with pytest.raises(TypeError, match='int64'):
                collectives.all_reduce(tf.constant([1, 2], tf.int64), 'sum')


# -- the launcher's environment and the session's NPU options --------------------------------

def test_ascend_device_id_is_the_local_index_and_pod_name_is_dropped(tmp_path, monkeypatch):
    from trainers import launch
    from trainers.distributed import rank_table as rank_table_lib
    monkeypatch.delenv('ASCEND_VISIBLE_DEVICES', raising=False)
    table = rank_table_lib.rank_table([('h', [(4, '1.0.0.4'), (5, '1.0.0.5')])])
    envs = launch.hccl_envs('t.json', table, 2)
    assert [(e['DEVICE_ID'], e['ASCEND_DEVICE_ID'], e['ASCEND_VISIBLE_DEVICES']) for e in envs] \
        == [('4', '0', '4,5'), ('5', '1', '4,5')]
    monkeypatch.setenv('ASCEND_VISIBLE_DEVICES', '4,5,6,7')   # chosen outside: kept
    assert 'ASCEND_VISIBLE_DEVICES' not in launch.hccl_envs('t.json', table, 2)[0]
    monkeypatch.setenv('POD_NAME', 'job-7')
    import sys
    status = launch.supervise([sys.executable, '-c', 'import os; print("pod=%s" % '
                               'os.environ.get("POD_NAME"))'], [{}], [0], str(tmp_path))
    assert status == 0
    assert 'pod=None' in (tmp_path / 'rank-0.log').read_text()


def test_hccl_timeouts_follow_the_runs_own(monkeypatch):
    cfg = {'startup_timeout_s': 900, 'step_timeout_s': 300}
    assert device.hccl_timeouts(cfg) == {'HCCL_CONNECT_TIMEOUT': '960',
                                         'HCCL_EXEC_TIMEOUT': '960'}
    assert device.hccl_timeouts({'startup_timeout_s': 10, 'step_timeout_s': 5}) == {
        'HCCL_CONNECT_TIMEOUT': '120', 'HCCL_EXEC_TIMEOUT': '70'}   # CANN's lower bound of 120
    monkeypatch.delenv('HCCL_CONNECT_TIMEOUT', raising=False)
    monkeypatch.setenv('HCCL_EXEC_TIMEOUT', '5000')   # the user's own value wins
    topology = type('Topology', (), {'engine': 'hccl', 'size': 2})()
    device.hccl_collectives(topology, cfg)
    assert os.environ['HCCL_CONNECT_TIMEOUT'] == '960'
    assert os.environ['HCCL_EXEC_TIMEOUT'] == '5000'


def _npu_parameters(config):
    custom, = config.graph_options.rewrite_options.custom_optimizers
    return {k: (v.s.decode() if v.WhichOneof('value') == 's' else v.b)
            for k, v in custom.parameter_map.items()}


def test_npu_debug_switches_reach_the_session_config(tmp_path):
    params = _npu_parameters(device.session_config('npu', npu_options={
        'hcom_parallel': True, 'enable_dump': True, 'dump_path': str(tmp_path / 'dump'),
        'dump_step': '0|2', 'enable_dump_debug': True,
        'profiling_mode': True, 'profiling_options': {'output': '/p', 'task_trace': 'on'},
        'modify_mixlist': 'mixlist.json'}))
    assert params['hcom_parallel'] is True and params['enable_dump'] is True
    assert params['dump_path'] == str(tmp_path / 'dump') and params['dump_step'] == '0|2'
    assert params['dump_mode'] == 'output' and params['dump_debug_mode'] == 'all'
    assert json.loads(params['profiling_options']) == {'output': '/p', 'task_trace': 'on'}
    assert params['modify_mixlist'] == os.path.abspath('mixlist.json')
    assert 'fusion_switch_file' not in params
    defaults = _npu_parameters(device.session_config('npu'))
    assert defaults['hcom_parallel'] is False and 'enable_dump' not in defaults
    with pytest.raises(device.DeviceError, match='need device.npu.dump_path'):
        device.session_config('npu', npu_options={'enable_dump_debug': True})
    with pytest.raises(device.DeviceError, match='unknown device.npu option'):
        device.session_config('npu', npu_options={'dump_pth': 'x'})
