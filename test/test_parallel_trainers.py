"""Both trainers, data-parallel on two local CPU processes (TensorFlow's collective all-reduce).

This file is also the worker of the step-equality tests: `python test/test_parallel_trainers.py
step sasiam|osmn OUT -- <trainer flags>` runs one training step of the real trainer graph as one
rank (TF_CONFIG set) or, without TF_CONFIG, as the single process that takes the concatenation of
both ranks' batches.
"""
from __future__ import absolute_import, division, print_function

import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.dirname(os.path.abspath(__file__))
for path in (ROOT, HERE):  # when run as a worker script
    if path not in sys.path:
        sys.path.insert(0, path)

from trainers import launch  # noqa: E402
from trainers.distributed import collective_engine, sync_batch_norm  # noqa: E402
from trainers.distributed import topology as topology_lib  # noqa: E402
from trainers.distributed import watchdog as watchdog_lib  # noqa: E402

SASIAM_TINY = ['--device', 'cpu', '--set', 'model.width=0.0625', '--set', 'input.batch_size=2',
               '--set', 'input.pair_shuffle=4', '--set', 'input.record_shuffle=2',
               '--set', 'train.log_every=1', '--set', 'train.validation_batches=0']
OSMN_TINY = ['--device', 'cpu', '--random-init-for-tests', '--single-scale',
             '--set', 'model.width=0.0625', '--set', 'input.input_scale=0.25',
             '--set', 'input.batch_size=2', '--set', 'input.sample_shuffle=4',
             '--set', 'train.log_every=1', '--set', 'train.validation_batches=0']
FAST = ['--direct_running_mode=in_memory', '--direct_num_workers=1']


def _trainer(name):
    if name == 'sasiam':
        from trainers.sasiam import train
    else:
        from trainers.osmn import train
    return train


class OneRank(object):
    """Collectives of a single rank: all-reduce and broadcast are the identity."""
    topology = topology_lib.Topology(0, 1, 0, 'collective', (), None)

    def all_reduce(self, tensor, reduction='mean'):
        import tensorflow as tf
        return tf.identity(tensor)

    def broadcast(self, tensor):
        import tensorflow as tf
        return tf.identity(tensor)


def _values(sess):
    import tensorflow as tf
    variables = tf.compat.v1.global_variables()
    return {v.op.name: value for v, value in zip(variables, sess.run(variables))}


def step_worker(name, out_dir, argv):
    """One training step of the trainer's own graph; writes the batch it read, the variables
    before and after. Ranks read their batches from their input; the single process is fed the
    concatenation of both ranks' batches (the graph's input tensors are fed directly), once in
    rank order ('single') and once with rank 1's half first ('swapped'), both from rank 0's
    initial variables."""
    import tensorflow as tf
    from trainers import checkpoints, cli, loop
    from trainers.distributed.data_parallel import Cluster, DataParallel
    from trainers import device as device_lib
    train = _trainer(name)
    from tensorflow.python.autograph.core import ag_ctx
    topology = topology_lib.from_env()
    cfg = train.config_from_args(train.parse_args(argv))
    session_config = collective_engine.cluster_session_config(device_lib.session_config('cpu'),
                                                              topology)
    server = collective_engine.start_server(topology, session_config)
    # as in the test process (conftest): tf.data functions traced without AutoGraph
    autograph = ag_ctx.Status.ENABLED if os.environ.get('TEST_AUTOGRAPH') == '1' else \
        ag_ctx.Status.DISABLED
    with tf.Graph().as_default() as graph, ag_ctx.ControlStatusCtx(status=autograph):
        dp = DataParallel(topology, cli._collectives(topology, cfg['parallel']),
                          cfg['parallel'], server.target if server else '')
        # the single process normalises with the same batch-norm code on one rank (slim's
        # fused kernel updates a layer applied twice per step in either order; test_parallel
        # checks sync_batch_norm.batch_norm against slim's on one application)
        with sync_batch_norm.synced_batch_norm(OneRank()):
            trainable, cfg = train.build(cfg, 'cpu', dp)
        cluster = Cluster(dp, trainable, cfg)
        # the training iterator is the first one each trainer builds
        get_next = [op for op in graph.get_operations() if op.type == 'IteratorGetNext'][0]
        sess = tf.compat.v1.Session(dp.target, config=session_config)
        checkpoints.restore_or_init(sess, None, trainable, cfg['train']['run_dir'], dp.is_chief,
                                    loop.RESUME_STATE)
        cluster.start(sess)
        def step(tag, batch):
            before = _values(sess)
            sess.run(trainable.train_op, dict(zip(get_next.outputs, batch)))
            after = _values(sess)
            arrays = {'init/' + k: v for k, v in before.items()}
            arrays.update({'final/' + k: v for k, v in after.items()})
            np.savez(os.path.join(out_dir, tag + '.npz'), **arrays)

        if topology.distributed:
            sess.run(trainable.train_init)
            batch = sess.run(get_next.outputs)
            np.savez(os.path.join(out_dir, 'batch-%d.npz' % topology.rank), *batch)
            step('rank-%d' % topology.rank, batch)
        else:
            parts = [np.load(os.path.join(out_dir, 'batch-%d.npz' % r)) for r in range(2)]
            init = np.load(os.path.join(out_dir, 'rank-0.npz'))
            for tag, order in (('single', (0, 1)), ('swapped', (1, 0))):
                for variable in tf.compat.v1.global_variables():
                    variable.load(init['init/' + variable.op.name], sess)
                step(tag, [np.concatenate([parts[r]['arr_%d' % i] for r in order])
                           for i in range(len(get_next.outputs))])
    sys.stdout.flush()
    os._exit(0)  # the session of a cluster is not torn down (peers may already be gone)


def _env(addresses=None, rank=0):
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL='2')
    for key in ('TF_CONFIG', 'RANK_SIZE', 'RANK_ID'):
        env.pop(key, None)
    if addresses:
        env['TF_CONFIG'] = topology_lib.tf_config(addresses, rank)
    return env


def _step_processes(name, out_dir, argv, ranks):
    addresses = ['127.0.0.1:%d' % p for p in launch.free_ports(ranks)] if ranks > 1 else None
    command = [sys.executable, os.path.abspath(__file__), 'step', name, str(out_dir), '--'] + argv
    procs = [subprocess.Popen(command, env=_env(addresses, r), cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT) for r in range(ranks)]
    outputs = [p.communicate(timeout=300)[0].decode() for p in procs]
    for p, out in zip(procs, outputs):
        assert p.returncode == 0, out[-3000:]


def _check_step_equality(name, out_dir, argv):
    """Two ranks stay bit-identical, and their step equals one single-process step on the
    concatenation of their batches (the single process has twice the batch size) as closely as
    float32 allows: within 1e-5 plus ten times the difference that merely putting rank 1's half
    of the batch first makes to the single-process step. That reordering alone moves SA-Siam's
    conv1 update by ~4e-4 at lr 1 (batch norm sums ~10^5 raw pixel values per channel) and
    OSMN's last bias gradient by ~1 % (a sum over every pixel whose positive and negative parts
    nearly cancel): float32 rounding, not a difference of method."""
    _step_processes(name, out_dir, argv + ['--set', 'input.batch_size=2'], 2)
    _step_processes(name, out_dir, argv + ['--set', 'input.batch_size=4'], 1)
    ranks = [dict(np.load(str(out_dir / ('rank-%d.npz' % r)))) for r in range(2)]
    single = dict(np.load(str(out_dir / 'single.npz')))
    reordered = dict(np.load(str(out_dir / 'swapped.npz')))
    batches = [np.load(str(out_dir / ('batch-%d.npz' % r))) for r in range(2)]
    assert any(not np.array_equal(batches[0][k], batches[1][k]) for k in batches[0].files)
    assert sorted(ranks[0]) == sorted(ranks[1]) == sorted(single)
    for key in ranks[0]:  # weights, optimizer slots, batch-norm statistics, global step
        assert ranks[0][key].tobytes() == ranks[1][key].tobytes(), key
    moved = 0.0
    for key in (k for k in single if k.startswith('final/')):
        init = single['init/' + key[len('final/'):]].astype(np.float64)
        expected = single[key] - init
        noise = float(np.abs(reordered[key] - single[key]).max())
        error = float(np.abs(ranks[0][key] - init - expected).max())
        moved = max(moved, float(np.abs(expected).max()))
        assert error <= 1e-5 + 10 * noise, (key, error, noise)
    assert moved > 1e-3  # the step did change the weights
    return ranks[0]


@pytest.mark.slow
def test_sasiam_two_ranks_step_equals_one_step_on_the_concatenated_batch(vid_records, tmp_path):
    final = _check_step_equality('sasiam', tmp_path, ['--records', vid_records, '--run-dir',
                                                      str(tmp_path / 'run')] + SASIAM_TINY +
                                 ['--set', 'train.lr=1.0'])
    # training-mode batch norm ran on the global batch: its statistics moved
    assert any('moving_mean' in k for k in final)


@pytest.mark.slow
def test_osmn_two_ranks_step_equals_one_step_on_the_concatenated_batch(coco_records, tmp_path):
    # COCO stage: batch norm in training mode; the loss is a sum, so gradients are summed
    _check_step_equality('osmn', tmp_path, ['--stage', 'coco', '--records', coco_records,
                                            '--run-dir', str(tmp_path / 'run')] + OSMN_TINY +
                         ['--set', 'train.lr=0.01'])


def _launch(run_dir, records, steps, extra=()):
    log_dir = os.path.join(run_dir, 'ranks')
    command = [sys.executable, '-m', 'trainers.launch', '--workers', '2', '--log-dir', log_dir,
               '--', sys.executable, '-m', 'trainers.sasiam', '--records', records,
               '--run-dir', run_dir, '--steps', str(steps), '--set', 'train.checkpoint_every=2'
               ] + SASIAM_TINY + list(extra)
    proc = subprocess.run(command, env=_env(), cwd=ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=300)
    logs = [open(os.path.join(log_dir, 'rank-%d.log' % r)).read() for r in range(2)]
    return proc, logs


def _digests(logs):
    return [re.findall(r'rank %d: variables sha1 ([0-9a-f]+)' % r, log) for r, log in
            enumerate(logs)]


@pytest.mark.slow
def test_launcher_trains_sasiam_on_two_ranks_rank0_writes_and_resume_continues(
        vid_records, tmp_path):
    run_dir = str(tmp_path / 'run')
    proc, logs = _launch(run_dir, vid_records, 4)
    assert proc.returncode == 0, proc.stdout.decode()[-3000:]
    with open(os.path.join(run_dir, 'train_log.jsonl')) as f:
        steps = [json.loads(line)['step'] for line in f]
    assert steps == [1, 2, 3, 4]  # one writer: rank 1 logs to its own stderr only
    summary = json.load(open(os.path.join(run_dir, 'summary.json')))
    assert summary['ranks'] == 2 and summary['steps'] == 4
    digests = _digests(logs)
    assert digests[0] and digests[0] == digests[1]  # bit-identical variables after the run
    assert digests[0][-1] == summary['variables_sha1']
    assert sorted(f for f in os.listdir(run_dir) if f.endswith('.index')) == [
        'model.ckpt-2.index', 'model.ckpt-4.index']
    assert 'rank 1 of 2' in logs[1] and 'step 4/4' in logs[1]
    # the same command with more steps resumes from rank 0's checkpoint on both ranks
    proc, logs = _launch(run_dir, vid_records, 6)
    assert proc.returncode == 0, proc.stdout.decode()[-3000:]
    assert 'resumed from' in logs[0] and 'at step 4' in logs[0]
    summary = json.load(open(os.path.join(run_dir, 'summary.json')))
    assert (summary['start_step'], summary['steps']) == (4, 6)
    digests = _digests(logs)
    assert digests[0] and digests[0] == digests[1]


@pytest.mark.slow
def test_a_rank_killed_mid_run_stops_the_other_with_a_clear_message(vid_records, tmp_path):
    run_dir = str(tmp_path / 'run')
    addresses = ['127.0.0.1:%d' % p for p in launch.free_ports(2)]
    command = [sys.executable, '-m', 'trainers.sasiam', '--records', vid_records, '--run-dir',
               run_dir, '--steps', '100000', '--set', 'parallel.step_timeout_s=4',
               '--set', 'train.checkpoint_every=3'] + SASIAM_TINY
    procs = [subprocess.Popen(command, env=_env(addresses, r), cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
             for r in range(2)]
    try:
        log = os.path.join(run_dir, 'train_log.jsonl')
        deadline = time.time() + 240
        while time.time() < deadline:
            if os.path.exists(log) and len(open(log).readlines()) >= 4:
                break
            assert all(p.poll() is None for p in procs), procs[0].stdout.read().decode()[-3000:]
            time.sleep(0.2)
        killed_at = time.time()
        procs[1].send_signal(signal.SIGKILL)
        out0 = procs[0].communicate(timeout=120)[0].decode()
        stopped_after = time.time() - killed_at
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
    assert procs[0].returncode == watchdog_lib.EXIT_PEER_LOST, out0[-3000:]
    assert 'rank 1 (%s) no longer answers' % addresses[1] in out0
    assert 'resumes from rank 0\'s last checkpoint' in out0
    assert stopped_after < 60
    assert any(f.startswith('model.ckpt-') for f in os.listdir(run_dir))


def test_ranks_read_disjoint_parts_that_cover_every_pass(vid_records):
    """Files shared out per pass when there are at least as many as ranks, records otherwise."""
    import tensorflow as tf
    from trainers import reader
    from schemas import vid_track
    info = reader.load_info(vid_records, vid_track.SCHEMA)
    files, _ = reader.shard_files(vid_records, info, 'train')
    assert len(files) >= 2

    def read(file_list, shard, passes=2):
        with tf.Graph().as_default():
            ds = reader.record_passes(file_list, 7, passes=passes, shard=shard)
            element = tf.compat.v1.data.make_one_shot_iterator(ds).get_next()
            out = []
            with tf.compat.v1.Session() as sess:
                while True:
                    try:
                        out.append(tuple(sess.run(element)))
                    except tf.errors.OutOfRangeError:
                        return out

    for file_list, ranks, part in ((files, 2, 'files'), (files[:1], 2, 'records'),
                                   (files, 3, 'files' if len(files) >= 3 else 'records')):
        assert reader.rank_part(len(file_list), ranks) == part
        whole = read(file_list, (0, 1))
        parts = [read(file_list, (r, ranks)) for r in range(ranks)]
        for pass_index in range(2):
            every = sorted(r for p, r in whole if p == pass_index)
            mine = [sorted(r for p, r in part_r if p == pass_index) for part_r in parts]
            assert sorted(sum(mine, [])) == every  # together: the whole pass, each record once
            assert all(mine)  # nobody idles
            for a in range(ranks):
                for b in range(a + 1, ranks):
                    assert not set(mine[a]) & set(mine[b])


if __name__ == '__main__':
    if len(sys.argv) > 3 and sys.argv[1] == 'step':
        step_worker(sys.argv[2], sys.argv[3], sys.argv[5:])
    sys.exit('usage: test_parallel_trainers.py step sasiam|osmn OUT -- <trainer flags>')
