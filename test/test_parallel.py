"""Data-parallel training (trainers/distributed/, trainers/launch.py).

The engine test runs two real processes on 127.0.0.1 (this file is also their worker: `python
test/test_parallel.py worker OUT STEPS TIMEOUT`), on a tiny stand-alone model: a two-layer network
with a mean loss, a momentum optimizer (slots) and a batch-norm-like moving mean.
"""
from __future__ import absolute_import, division, print_function

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:  # when run as a worker script
    sys.path.insert(0, ROOT)

from reference_impls import average_variables  # noqa: E402
from trainers import launch  # noqa: E402
from trainers.distributed import agreement, collective_engine, gradients  # noqa: E402
from trainers.distributed import rank_table, settings, sync_batch_norm  # noqa: E402
from trainers.distributed import topology as topology_lib  # noqa: E402
from trainers.distributed import watchdog as watchdog_lib  # noqa: E402

BATCH = 4
LR = 0.1


def tiny_batch(rank, step):
    """Rank r's batch of step s: fixed, different per rank and step."""
    rng = np.random.RandomState(1000 * rank + step)
    return rng.randn(BATCH, 5).astype(np.float32), rng.randn(BATCH, 2).astype(np.float32)


def tiny_model(x, y, init_seed):
    """(loss, moving-mean update op, variables). The moving mean of x stands for batch-norm
    statistics: updated from each rank's own batch, it is not a gradient."""
    import tensorflow as tf
    init = tf.compat.v1.random_normal_initializer(seed=init_seed)
    w1 = tf.compat.v1.get_variable('w1', [5, 3], initializer=init)
    b1 = tf.compat.v1.get_variable('b1', [3], initializer=init)
    w2 = tf.compat.v1.get_variable('w2', [3, 2], initializer=init)
    moving = tf.compat.v1.get_variable('moving_mean', [5], initializer=init, trainable=False)
    loss = tf.reduce_mean(tf.square(tf.matmul(tf.tanh(tf.matmul(x, w1) + b1), w2) - y))
    update = tf.compat.v1.assign(moving, 0.9 * moving + 0.1 * tf.reduce_mean(x, 0))
    return loss, update, moving


def tiny_train_op(loss, update, moving, collectives=None):
    """One step: gradients (all-reduced when distributed), momentum update, statistics update
    (averaged across ranks when distributed)."""
    import tensorflow as tf
    step = tf.compat.v1.train.get_or_create_global_step()
    optimizer = tf.compat.v1.train.MomentumOptimizer(LR, 0.9)
    if collectives is not None:
        optimizer = gradients.distributed_optimizer(optimizer, collectives)
    with tf.control_dependencies([update]):
        apply = optimizer.minimize(loss, global_step=step)
    if collectives is None:
        return apply
    with tf.control_dependencies([apply]):
        return average_variables([moving], collectives)


def bn_loss(x, y, moments):
    """A layer with batch normalisation whose batch statistics come from `moments(h)`."""
    import tensorflow as tf
    with tf.compat.v1.variable_scope('bn'):
        w = tf.compat.v1.get_variable('w', initializer=np.random.RandomState(7).randn(5, 3)
                                      .astype(np.float32))
        h = tf.matmul(x, w)
        mean, variance = moments(h)
        out = tf.nn.batch_normalization(h, mean, variance, None, None, 1e-3)
        return tf.reduce_mean(tf.square(out[:, :2] - y))


def _values(sess):
    import tensorflow as tf
    return {v.op.name: sess.run(v) for v in tf.compat.v1.global_variables()}


def worker(out_dir, steps, timeout_s):
    """One rank: broadcast rank 0's initial values, `steps` steps, dump the variables after the
    broadcast, the first and the last step; then one more step, which only finishes if every peer
    is still there (the test kills rank 1 first)."""
    import tensorflow as tf
    topology = topology_lib.from_env()
    base = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=1,
                                    inter_op_parallelism_threads=2)
    config = collective_engine.cluster_session_config(base, topology)
    server = collective_engine.start_server(topology, config)
    collectives = collective_engine.Collectives(topology)
    same = agreement.agreement_check(collectives, agreement.fingerprint('tiny model, batch 4'))
    disagreement = agreement.agreement_check(collectives,
                                             agreement.fingerprint('rank %d' % topology.rank))
    # no device scopes: the graph is built as a single-device trainer builds it
    x = tf.compat.v1.placeholder(tf.float32, [BATCH, 5])
    y = tf.compat.v1.placeholder(tf.float32, [BATCH, 2])
    # each rank initialises differently: only the broadcast makes them agree
    loss, update, moving = tiny_model(x, y, init_seed=100 + topology.rank)
    train = tiny_train_op(loss, update, moving, collectives)
    bn_train = gradients.distributed_optimizer(
        tf.compat.v1.train.GradientDescentOptimizer(LR), collectives).minimize(
            bn_loss(x, y, lambda h: sync_batch_norm.synced_moments(h, [0], collectives)))
    stop_flag, stop_agreed = agreement.stop_agreement(collectives)
    broadcast = agreement.broadcast_variables(tf.compat.v1.global_variables(), collectives)
    watchdog = watchdog_lib.Watchdog(topology)
    dumps = {}
    with tf.compat.v1.Session(server.target, config=config) as sess:
        sess.run(tf.compat.v1.global_variables_initializer())
        with watchdog.watch('the initial broadcast', 120):
            agreement.check_agreement(sess.run(same), 'a configuration')
            differing = sess.run(disagreement)
            sess.run(broadcast)
        dumps['init'] = _values(sess)
        agreed = []
        for step in range(steps):
            xs, ys = tiny_batch(topology.rank, step)
            feed = {x: xs, y: ys}
            if topology.rank == 1 and step == 1:
                feed[stop_flag] = 1.0  # rank 1 alone was asked to stop
            with watchdog.watch('step %d' % (step + 1), 120):
                agreed.append(sess.run([train, stop_agreed], feed)[1])
            if step == 0:
                dumps['step1'] = _values(sess)
        xs, ys = tiny_batch(topology.rank, 100)
        with watchdog.watch('the batch-norm step', 120):
            sess.run(bn_train, {x: xs, y: ys})
        dumps['final'] = _values(sess)
        dumps['stop'] = {'agreed': np.array(agreed), 'differing': np.array(differing)}
        np.savez(os.path.join(out_dir, 'rank-%d.npz' % topology.rank),
                 **{'%s/%s' % (k, n): v for k, d in dumps.items() for n, v in d.items()})
        with open(os.path.join(out_dir, 'rank-%d.done' % topology.rank), 'w'):
            pass
        if topology.rank == 1:
            time.sleep(600)  # the test kills this rank
        xs, ys = tiny_batch(topology.rank, steps)
        with watchdog.watch('step %d' % (steps + 1), timeout_s):
            sess.run(train, {x: xs, y: ys})
    print('step %d finished although rank 1 was killed' % (steps + 1))
    return 0


def _worker_env(addresses, rank):
    env = dict(os.environ, TF_CONFIG=topology_lib.tf_config(addresses, rank),
               PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL='2')
    env.pop('RANK_SIZE', None)
    return env


def _wait_for(paths, procs, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if all(os.path.exists(p) for p in paths):
            return
        for p in procs:
            if p.poll() is not None:
                raise AssertionError('a worker exited early (%s): %s'
                                     % (p.returncode, p.stdout.read().decode()[-3000:]))
        time.sleep(0.2)
    raise AssertionError('workers did not finish their steps in %d s' % seconds)


def _single_process_step(init, batches):
    """One single-process step on the concatenation of `batches`, from the variables `init`."""
    import tensorflow as tf
    xs = np.concatenate([b[0] for b in batches])
    ys = np.concatenate([b[1] for b in batches])
    with tf.Graph().as_default():
        loss, update, moving = tiny_model(tf.constant(xs), tf.constant(ys), init_seed=0)
        train = tiny_train_op(loss, update, moving)
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            for v in tf.compat.v1.global_variables():
                v.load(init[v.op.name], sess)
            sess.run(train)
            return _values(sess)


def _single_process_bn_step(init, batches, per_half=False):
    """bn/w after one single-process SGD step on the concatenation of `batches` (statistics of
    the concatenation, or with per_half those of each batch, as unsynchronised ranks have)."""
    import tensorflow as tf
    with tf.Graph().as_default():
        if per_half:
            losses = [bn_loss(tf.constant(b[0]), tf.constant(b[1]),
                              lambda h: tf.nn.moments(h, [0])) for b in batches[:1]]
            with tf.compat.v1.variable_scope('', reuse=True):
                losses += [bn_loss(tf.constant(b[0]), tf.constant(b[1]),
                                   lambda h: tf.nn.moments(h, [0])) for b in batches[1:]]
            loss = tf.add_n(losses) / len(batches)
        else:
            loss = bn_loss(tf.constant(np.concatenate([b[0] for b in batches])),
                           tf.constant(np.concatenate([b[1] for b in batches])),
                           lambda h: tf.nn.moments(h, [0]))
        train = tf.compat.v1.train.GradientDescentOptimizer(LR).minimize(loss)
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            tf.compat.v1.global_variables()[0].load(init, sess)
            sess.run(train)
            return sess.run(tf.compat.v1.global_variables()[0])


@pytest.mark.slow   # two processes over local ports (~7 s)
def test_two_processes_agree_and_equal_one_step_on_the_concatenation_and_stop_on_a_dead_peer(
        tmp_path):
    steps, timeout_s = 3, 4.0
    addresses = ['127.0.0.1:%d' % p for p in launch.free_ports(2)]
    procs = [subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), 'worker', str(tmp_path), str(steps),
         str(timeout_s)], env=_worker_env(addresses, rank), cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for rank in range(2)]
    try:
        _wait_for([str(tmp_path / ('rank-%d.done' % r)) for r in range(2)], procs, 150)
        killed_at = time.time()
        procs[1].kill()
        out0, _ = procs[0].communicate(timeout=60)
        stopped_after = time.time() - killed_at
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
    out0 = out0.decode()
    # the survivor stops with the peer-lost status and names the dead rank, within ~2 timeouts
    assert procs[0].returncode == watchdog_lib.EXIT_PEER_LOST, out0[-3000:]
    assert 'rank 1 (%s) no longer answers' % addresses[1] in out0
    assert 'step %d did not finish' % (steps + 1) in out0
    assert stopped_after < 2 * timeout_s + 20

    ranks = [dict(np.load(str(tmp_path / ('rank-%d.npz' % r)))) for r in range(2)]
    names = sorted(ranks[0])
    assert names == sorted(ranks[1]) and 'final/w1' in names and 'final/moving_mean' in names
    # the broadcast gave rank 1 rank 0's initial values although it initialised with another seed
    assert not np.array_equal(ranks[0]['init/w1'], _rank_init('w1', 1))
    for name in names:  # bit-identical on both ranks: weights, momentum slots, statistics, step
        assert ranks[0][name].tobytes() == ranks[1][name].tobytes(), name
    assert int(ranks[0]['final/global_step']) == steps
    # a stop asked of one rank is seen by both in the same step
    assert ranks[0]['stop/agreed'].tolist() == ranks[1]['stop/agreed'].tolist() == [0, 1, 0]
    # both ranks counted the one rank whose fingerprint differs from rank 0's
    assert ranks[0]['stop/differing'] == ranks[1]['stop/differing'] == 1
    init = {n[len('init/'):]: v for n, v in ranks[0].items() if n.startswith('init/')}
    expected = _single_process_step(init, [tiny_batch(0, 0), tiny_batch(1, 0)])
    for name, value in expected.items():
        np.testing.assert_allclose(ranks[0]['step1/' + name], value, rtol=1e-5, atol=1e-6,
                                   err_msg=name)
    assert not np.allclose(ranks[0]['step1/w1'], init['w1'])  # the step did move the weights
    # batch norm on statistics synchronised across the ranks: the step equals a single-device
    # step on the concatenation, which per-rank statistics would not give
    bn_batches = [tiny_batch(0, 100), tiny_batch(1, 100)]
    concatenated = _single_process_bn_step(init['bn/w'], bn_batches)
    np.testing.assert_allclose(ranks[0]['final/bn/w'], concatenated, rtol=1e-5, atol=1e-6)
    per_rank = _single_process_bn_step(init['bn/w'], bn_batches, per_half=True)
    assert np.abs(per_rank - concatenated).max() > 1e-3


def _rank_init(name, rank):
    import tensorflow as tf
    with tf.Graph().as_default():
        tiny_model(tf.zeros([BATCH, 5]), tf.zeros([BATCH, 2]), init_seed=100 + rank)
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            return _values(sess)[name]


# ---------------------------------------------------------------------------------------------
# Topology, rank tables, learning rate, packing, watchdog: pure functions


def test_topology_from_tf_config_hccl_variables_or_nothing(tmp_path):
    assert topology_lib.from_env({}) == topology_lib.SINGLE
    workers = ['10.0.0.1:2222', '10.0.0.1:2223', '10.0.0.2:2222']
    t = topology_lib.from_env({'TF_CONFIG': topology_lib.tf_config(workers, 2)})
    assert (t.rank, t.size, t.local_rank, t.engine, t.workers) == (2, 3, 0, 'collective',
                                                                   tuple(workers))
    assert not t.is_chief and t.task_device == '/job:worker/replica:0/task:2'
    second = topology_lib.from_env({'TF_CONFIG': topology_lib.tf_config(workers, 1)})
    assert second.local_rank == 1
    chief = {'cluster': {'chief': ['h:1'], 'worker': ['h:2']}, 'task': {'type': 'worker',
                                                                        'index': 0}}
    assert topology_lib.from_env({'TF_CONFIG': json.dumps(chief)}).rank == 1
    table = tmp_path / 'rank_table.json'
    table.write_text('{}')
    t = topology_lib.from_env({'RANK_SIZE': '8', 'RANK_ID': '3', 'ASCEND_DEVICE_ID': '5',
                               'RANK_TABLE_FILE': str(table), 'JOB_ID': '1'})
    assert (t.rank, t.size, t.local_rank, t.engine, t.rank_table) == (3, 8, 5, 'hccl',
                                                                      str(table))
    assert topology_lib.from_env({'RANK_SIZE': '1', 'RANK_ID': '0'}) == topology_lib.SINGLE
    bad = [
        ({'TF_CONFIG': '{"cluster": '}, 'not valid JSON'),
        ({'TF_CONFIG': topology_lib.tf_config(workers, 3)}, 'outside its 3 workers'),
        ({'TF_CONFIG': topology_lib.tf_config(['nohost'], 0)}, 'not host:port'),
        ({'RANK_SIZE': 'eight'}, 'RANK_SIZE must be an integer'),
        ({'RANK_SIZE': '8', 'DEVICE_ID': '0', 'RANK_TABLE_FILE': str(table)}, 'RANK_ID'),
        ({'RANK_SIZE': '8', 'RANK_ID': '8', 'DEVICE_ID': '0'}, 'not below RANK_SIZE'),
        ({'RANK_SIZE': '8', 'RANK_ID': '1', 'DEVICE_ID': '1'}, 'needs RANK_TABLE_FILE'),
        ({'RANK_SIZE': '8', 'RANK_ID': '1', 'DEVICE_ID': '1',
          'RANK_TABLE_FILE': str(tmp_path / 'none.json')}, 'does not exist'),
        ({'RANK_SIZE': '2', 'RANK_ID': '1', 'DEVICE_ID': '1', 'RANK_TABLE_FILE': str(table),
          'TF_CONFIG': topology_lib.tf_config(workers, 0)}, 'both TF_CONFIG and RANK_SIZE'),
    ]
    for environ, message in bad:
        with pytest.raises(topology_lib.ParallelError) as err:
            topology_lib.from_env(environ)
        assert message in str(err.value), (environ, str(err.value))
    with pytest.raises(topology_lib.ParallelError, match='needs --device npu'):
        topology_lib.check_device(topology_lib.Topology(0, 8, 0, 'hccl', (), str(table)), 'cpu')
    with pytest.raises(topology_lib.ParallelError, match='Ascend ranks use HCCL'):
        collective = topology_lib.from_env({'TF_CONFIG': topology_lib.tf_config(workers, 0)})
        topology_lib.check_device(collective, 'npu')


def test_rank_tables_from_hccn_conf_and_their_checks():
    conf = 'address_0=192.168.100.101\nnetmask_0=255.255.255.0\naddress_1=192.168.101.101\n' \
           'address_2=192.168.102.101\n# comment\n'
    assert rank_table.read_hccn_conf(conf) == {0: '192.168.100.101', 1: '192.168.101.101',
                                               2: '192.168.102.101'}
    table = launch.one_host_rank_table(2, 1, conf, '10.0.0.10')
    assert table == {'status': 'completed', 'version': '1.0', 'server_count': '1',
                     'server_list': [{'server_id': '10.0.0.10', 'device': [
                         {'device_id': '1', 'device_ip': '192.168.101.101', 'rank_id': '0'},
                         {'device_id': '2', 'device_ip': '192.168.102.101', 'rank_id': '1'}]}]}
    with pytest.raises(launch.LaunchError, match=r'no address for device\(s\) 3'):
        launch.one_host_rank_table(4, 0, conf, 'h')
    two_hosts = rank_table.rank_table([('a', [(d, '1.0.0.%d' % d) for d in range(8)]),
                                       ('b', [(d, '2.0.0.%d' % d) for d in range(8)])])
    envs = launch.hccl_envs('t.json', two_hosts, 8, server_index=1, job_id='7')
    assert [e['RANK_ID'] for e in envs] == [str(r) for r in range(8, 16)]
    assert envs[3]['DEVICE_ID'] == envs[3]['ASCEND_DEVICE_ID'] == '3'
    assert {e['RANK_SIZE'] for e in envs} == {'16'} and envs[0]['JOB_ID'] == '7'
    assert os.path.isabs(envs[0]['RANK_TABLE_FILE'])
    with pytest.raises(launch.LaunchError, match='lists 8 devices'):
        launch.hccl_envs('t.json', two_hosts, 4)
    two_hosts['server_list'][1]['device'][0]['rank_id'] = '0'
    with pytest.raises(topology_lib.ParallelError, match='each once'):
        rank_table.rank_table_devices(two_hosts, 0)


def test_worker_addresses_for_one_or_several_hosts():
    addresses, ranks = launch.worker_addresses(2, ['h0', 'h1'], 1, 5000)
    assert addresses == ['h0:5000', 'h0:5001', 'h1:5000', 'h1:5001'] and ranks == [2, 3]
    local, ranks = launch.worker_addresses(2)
    assert ranks == [0, 1] and len(set(local)) == 2 and local[0].startswith('127.0.0.1:')
    with pytest.raises(launch.LaunchError, match='fixed --port'):
        launch.worker_addresses(2, ['h0', 'h1'], 0, 0)
    env = launch.collective_envs(addresses, [2, 3], one_gpu_each=True)[1]
    assert json.loads(env['TF_CONFIG'])['task'] == {'type': 'worker', 'index': 3}
    assert env['LOCAL_RANK'] == '1' and env['CUDA_VISIBLE_DEVICES'] == '1'


def test_cluster_session_config_config_checks_and_rank_seeds():
    import tensorflow as tf
    base = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=3)
    topology = topology_lib.from_env({'TF_CONFIG': topology_lib.tf_config(['a:1', 'b:2'], 1)})
    config = collective_engine.cluster_session_config(base, topology, 'nccl')
    assert config.experimental.collective_group_leader == '/job:worker/replica:0/task:0'
    assert list(config.device_filters) == ['/job:worker/task:1']
    assert config.experimental.collective_nccl and config.intra_op_parallelism_threads == 3
    assert not base.device_filters  # a copy: the base config is left alone
    assert collective_engine.cluster_session_config(base, topology_lib.SINGLE) == base
    assert collective_engine.start_server(topology_lib.SINGLE, base) is None
    settings.check_config(settings.PARALLEL)
    for key, value in (('lr_scaling', 'sqrt'), ('communication', 'mpi'), ('warmup_steps', -1),
                       ('step_timeout_s', 0)):
        with pytest.raises(topology_lib.ParallelError, match=key.split('_')[0]):
            settings.check_config(dict(settings.PARALLEL, **{key: value}))
    agreement.check_agreement(0.0, 'a configuration')
    with pytest.raises(topology_lib.ParallelError, match=r"1 rank\(s\) were started with a "
                                                         r"configuration different from rank 0's"):
        agreement.check_agreement(1.0, 'a configuration')
    assert agreement.fingerprint('a') == agreement.fingerprint('a') != agreement.fingerprint('b')
    assert all(0 <= v < 2 ** 30 for v in agreement.fingerprint('a'))
    assert settings.rank_seed(5, 0) == 5  # rank 0 draws what a single device draws
    assert len({settings.rank_seed(5, r) for r in range(8)}) == 8


def test_pack_groups_respect_the_pack_size():
    assert gradients.pack_groups([4, 4, 4, 10, 1], 8) == [[0, 1], [2], [3], [4]]
    assert gradients.pack_groups([], 8) == []
    assert gradients.pack_groups([3, 3], 100) == [[0, 1]]


def test_linear_scaling_with_warmup_and_off_by_default():
    import tensorflow as tf
    assert settings.PARALLEL['lr_scaling'] == 'none'
    with tf.Graph().as_default():
        step = tf.compat.v1.placeholder(tf.int64, [])
        assert settings.scaled_learning_rate(0.01, step, 8) == 0.01
        lr = settings.scaled_learning_rate(tf.constant(0.01), step, 8, 'linear', 100)
        no_warmup = settings.scaled_learning_rate(0.01, step, 8, 'linear')
        with tf.compat.v1.Session() as sess:
            got = [sess.run(lr, {step: s}) for s in (0, 50, 100, 1000)]
            assert sess.run(no_warmup) == pytest.approx(0.08)
    assert got == pytest.approx([0.01, 0.045, 0.08, 0.08])
    with pytest.raises(topology_lib.ParallelError):
        settings.scaled_learning_rate(0.01, None, 8, 'sqrt')


def test_watchdog_names_the_lost_rank_and_stays_quiet_when_steps_finish():
    topology = topology_lib.Topology(0, 3, 0, 'collective', ('a:1', 'b:2', 'c:3'), None)
    messages = []
    alive = {'b:2': True, 'c:3': False}
    dog = watchdog_lib.Watchdog(topology, messages.append, lambda a: alive[a], poll_s=0.02)
    with dog.watch('step 1', 5.0):
        time.sleep(0.1)
    assert messages == []
    with dog.watch('step 2', 0.1):
        deadline = time.time() + 5
        while not messages and time.time() < deadline:
            time.sleep(0.02)
    dog.close()
    assert len(messages) == 1
    assert messages[0].startswith('rank 0 of 3 stopped: rank 2 (c:3) no longer answers; step 2 '
                                  'did not finish after')
    stuck = watchdog_lib.diagnose(topology, 'step 9', 600, {1: True, 2: True})
    assert 'although every rank answers' in stuck and 'step_timeout_s' in stuck
    hccl = watchdog_lib.diagnose(topology_lib.Topology(4, 8, 4, 'hccl', (), 't'), 'step 9', 600,
                                 {})
    assert hccl.startswith('rank 4 of 8 stopped') and 'per-rank logs' in hccl
    assert watchdog_lib.Watchdog(topology_lib.SINGLE)._thread is None  # none for one process


# ---------------------------------------------------------------------------------------------
# The launcher, with cheap commands (no TensorFlow)


def _python(code):
    return [sys.executable, '-c', textwrap.dedent(code)]


def test_launcher_gives_each_rank_its_environment_and_log(tmp_path, capsys):
    code = launch.main(['--workers', '2', '--log-dir', str(tmp_path), '--'] + _python('''
        import json, os
        spec = json.loads(os.environ['TF_CONFIG'])
        print('rank', spec['task']['index'], 'of', len(spec['cluster']['worker']),
              'local', os.environ['LOCAL_RANK'])
        '''))
    assert code == 0
    assert 'rank 1 of 2 local 1' in (tmp_path / 'rank-1.log').read_text()
    assert '[rank 0] rank 0 of 2 local 0' in capsys.readouterr().out


def test_launcher_writes_a_rank_table_for_npus_from_hccn_conf(tmp_path):
    conf = tmp_path / 'hccn.conf'
    conf.write_text(''.join('address_%d=192.168.%d.101\n' % (d, 100 + d) for d in range(8)))
    code = launch.main(['--npus', '8', '--hccn-conf', str(conf), '--log-dir', str(tmp_path),
                        '--job-id', '42', '--'] + _python('''
        import json, os
        keys = ('RANK_TABLE_FILE', 'RANK_SIZE', 'RANK_ID', 'DEVICE_ID', 'ASCEND_DEVICE_ID',
                'JOB_ID')
        print(json.dumps({k: os.environ[k] for k in keys}))
        '''))
    assert code == 0
    table = json.loads((tmp_path / 'rank_table_8p.json').read_text())
    assert [d['device_ip'] for d in table['server_list'][0]['device']][7] == '192.168.107.101'
    env = json.loads((tmp_path / 'rank-5.log').read_text().strip().splitlines()[-1])
    assert env == {'RANK_TABLE_FILE': str(tmp_path / 'rank_table_8p.json'), 'RANK_SIZE': '8',
                   'RANK_ID': '5', 'DEVICE_ID': '5', 'ASCEND_DEVICE_ID': '5', 'JOB_ID': '42'}
    missing = launch.main(['--npus', '8', '--hccn-conf', str(tmp_path / 'none'), '--log-dir',
                           str(tmp_path), '--', 'true'])
    assert missing == 2


def test_launcher_stops_the_others_when_one_rank_dies(tmp_path, capsys):
    # rank 1 fails at once; rank 0 would run for a minute and ignores SIGTERM (as a rank blocked
    # in an all-reduce does): the launcher must kill it after the grace time
    script = '''
        import json, os, signal, sys, time
        rank = json.loads(os.environ['TF_CONFIG'])['task']['index']
        if rank == 1:
            print('rank 1 breaks down'); sys.stdout.flush(); sys.exit(3)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(60)
        '''
    start = time.time()
    code = launch.main(['--workers', '2', '--log-dir', str(tmp_path), '--grace-s', '1', '--'] +
                       _python(script))
    assert code == 3 and time.time() - start < 20
    err = capsys.readouterr().err
    assert 'rank 1 (pid' in err and 'exited with status 3' in err and 'rank 1 breaks down' in err
    assert 'rank 0 did not stop within 1 s of SIGTERM; killed' in err


def test_launcher_passes_sigterm_on_and_kills_a_rank_that_ignores_it(tmp_path):
    # rank 0 stops cleanly on SIGTERM (as a trainer saving its checkpoint); rank 1 ignores it
    script = '''
        import json, os, signal, sys, time
        rank = json.loads(os.environ['TF_CONFIG'])['task']['index']
        signal.signal(signal.SIGTERM, lambda *a: sys.exit(0) if rank == 0 else None)
        open(os.path.join(sys.argv[1], 'started-%d' % rank), 'w').close()
        time.sleep(60)
        '''
    launcher = subprocess.Popen(
        [sys.executable, '-m', 'trainers.launch', '--workers', '2', '--log-dir', str(tmp_path),
         '--grace-s', '1', '--'] + _python(script) + [str(tmp_path)], cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 20
        while not all((tmp_path / ('started-%d' % r)).exists() for r in range(2)):
            assert time.time() < deadline and launcher.poll() is None
            time.sleep(0.05)
        launcher.send_signal(signal.SIGTERM)
        _, err = launcher.communicate(timeout=20)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert launcher.returncode == 128 + signal.SIGKILL
    assert b'rank 1 did not stop within 1 s of SIGTERM; killed' in err
    assert b'rank 0 did not stop' not in err


def test_launcher_refuses_bad_requests(capsys):
    assert launch.main(['--workers', '2', '--hosts', 'a,b', '--', 'true']) == 2
    assert 'fixed --port' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        launch.main(['--workers', '2'])


if __name__ == '__main__' and sys.argv[1:2] == ['worker']:
    sys.exit(worker(sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))
