"""Data-parallel benchmark (`make bench-parallel`): the collective engine on this host.

  * SA-Siam (appearance branch, full width, batch 8 per rank, fixed synthetic 239x239 pairs, plain
    SGD) training steps in 1 process and in 2 local processes, one compute thread each: examples/s
    and the scaling efficiency 2-process / (2 x 1-process);
  * the all-reduce alone, per step, at full model size (every trainable variable of SA-Siam and of
    OSMN, packed as in training), in 2 local processes: seconds, MB per step and the algorithm
    bandwidth (a ring moves 2 (N-1) / N of the bytes per rank).

The synthetic input keeps the host pipeline out of the measurement (bench-sasiam measures it).
Workers are this module run with `--worker`; results go to data/bench-parallel/result.json.
"""
from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import subprocess
import sys
import time

from bench import common
from trainers import launch
from trainers.distributed import collective_engine, gradients
from trainers.distributed import topology as topology_lib
from trainers.distributed import watchdog as watchdog_lib

WORKDIR = os.path.join(common.ROOT, 'data', 'bench-parallel')
BATCH = 8
SIZE = 239


def _session_config(topology):
    import tensorflow as tf
    base = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=1,
                                    inter_op_parallelism_threads=1)
    return collective_engine.cluster_session_config(base, topology)


def _sasiam_loss():
    import numpy as np
    import tensorflow as tf
    from trainers.sasiam import model
    from trainers.sasiam.train import DEFAULTS
    rng = np.random.RandomState(0)
    z = tf.constant(rng.uniform(0, 255, (BATCH, SIZE, SIZE, 3)).astype(np.float32))
    x = tf.constant(rng.uniform(0, 255, (BATCH, SIZE, SIZE, 3)).astype(np.float32))
    cfg = DEFAULTS['model']
    return model.balanced_loss(model.response(z, x, cfg, is_training=True), cfg) + \
        tf.compat.v1.losses.get_regularization_loss()


def _osmn_variables():
    """OSMN's trainable variables (COCO stage, full width); the graph is built, never run."""
    import tensorflow as tf
    from trainers.osmn import model
    from trainers.osmn import train as osmn_train
    cfg = osmn_train.resolved(osmn_train.config_from_args(osmn_train.parse_args(
        ['--random-init-for-tests'])))
    model.logits(tf.zeros([1, 64, 64, 3]), tf.zeros([1, 224, 224, 3]), tf.zeros([1, 64, 64, 1]),
                 cfg['model'], True)
    return tf.compat.v1.trainable_variables()


def _timed(sess, op, steps, warmup, watchdog):
    for k in range(warmup):
        with watchdog.watch('warm-up step %d' % (k + 1), 900):
            sess.run(op)
    start = time.time()
    for k in range(steps):
        with watchdog.watch('step %d' % (k + 1), 300):
            sess.run(op)
    return (time.time() - start) / steps


def _graph(kind, model_name, collectives):
    """(op, parameter count) of one measurement; no device scopes, as in a trainer's graph."""
    import tensorflow as tf
    if kind == 'train':
        loss = _sasiam_loss()
        optimizer = tf.compat.v1.train.GradientDescentOptimizer(1e-6)
        grads = optimizer.compute_gradients(loss)
        if collectives:
            grads = gradients.reduce_gradients(grads, collectives)
        update = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)
        with tf.control_dependencies(update):
            op = optimizer.apply_gradients(grads)
        return op, sum(v.shape.num_elements() for v in tf.compat.v1.trainable_variables())
    if model_name == 'sasiam':
        _sasiam_loss()
        shapes = [v.shape for v in tf.compat.v1.trainable_variables()]
    else:
        shapes = [v.shape for v in _osmn_variables()]
    # stand-ins of the gradients, same shapes: only the all-reduce runs
    grads = [tf.Variable(tf.random.normal(s, seed=i), trainable=False, name='grad_%d' % i)
             for i, s in enumerate(shapes)]
    op = tf.group(*gradients.all_reduce_packed([g.read_value() for g in grads], collectives))
    return op, sum(s.num_elements() for s in shapes)


def worker(kind, model_name, steps):
    """One rank of a measurement; prints one JSON line."""
    import tensorflow as tf
    topology = topology_lib.from_env()
    config = _session_config(topology)
    server = collective_engine.start_server(topology, config)
    collectives = collective_engine.Collectives(topology) if topology.distributed else None
    op, params = _graph(kind, model_name, collectives)
    watchdog = watchdog_lib.Watchdog(topology)
    with tf.compat.v1.Session(server.target if server else '', config=config) as sess:
        sess.run(tf.compat.v1.global_variables_initializer())
        seconds = _timed(sess, op, steps, 2, watchdog)
    watchdog.close()
    print(json.dumps({'rank': topology.rank, 'ranks': topology.size, 'seconds_per_step': seconds,
                      'params': params}))
    return 0


def _run(kind, model_name, ranks, steps):
    """Start `ranks` workers (the collective engine when > 1); their JSON results."""
    command = [sys.executable, '-m', 'bench.parallel_bench', '--worker', kind, '--model',
               model_name, '--steps', str(steps)]
    envs = [{}]
    if ranks > 1:
        addresses, ids = launch.worker_addresses(ranks)
        envs = launch.collective_envs(addresses, ids)
    procs = []
    for extra in envs:
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2', PYTHONPATH=common.ROOT, **extra)
        env.pop('RANK_SIZE', None)
        if ranks == 1:
            env.pop('TF_CONFIG', None)
        procs.append(subprocess.Popen(command, env=env, cwd=common.ROOT, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE))
    results = []
    for p in procs:
        out, err = p.communicate()
        if p.returncode:
            raise SystemExit('benchmark worker failed (%d): %s' % (p.returncode,
                                                                    err.decode()[-2000:]))
        results.append(json.loads(out.decode().strip().splitlines()[-1]))
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m bench.parallel_bench',
                                     description=__doc__.split('\n\n')[0])
    parser.add_argument('--worker', choices=('train', 'allreduce'), help=argparse.SUPPRESS)
    parser.add_argument('--model', default='sasiam', choices=('sasiam', 'osmn'))
    parser.add_argument('--steps', type=int, default=3)
    parser.add_argument('--workdir', default=WORKDIR)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.model, args.steps)
    result = {'machine': common.machine(), 'batch_per_rank': BATCH, 'threads_per_rank': 1}
    one = _run('train', 'sasiam', 1, args.steps)[0]
    two = _run('train', 'sasiam', 2, args.steps)
    step_two = max(r['seconds_per_step'] for r in two)  # the ranks move in lockstep
    result['sasiam_train'] = {
        'params': one['params'],
        'examples_per_s_1_process': round(BATCH / one['seconds_per_step'], 2),
        'examples_per_s_2_processes': round(2 * BATCH / step_two, 2),
        'seconds_per_step_1_process': round(one['seconds_per_step'], 4),
        'seconds_per_step_2_processes': round(step_two, 4),
        'scaling_efficiency': round(one['seconds_per_step'] / step_two, 3),
    }
    for name, steps in (('sasiam', 3 * args.steps), ('osmn', args.steps)):
        runs = _run('allreduce', name, 2, steps)
        seconds = max(r['seconds_per_step'] for r in runs)
        megabytes = runs[0]['params'] * 4 / 1e6
        result['allreduce_' + name] = {
            'params': runs[0]['params'], 'mb_per_step': round(megabytes, 1),
            'seconds_per_step_2_processes': round(seconds, 4),
            # ring all-reduce: each rank sends and receives 2 (N-1)/N of the buffer
            'ring_bandwidth_mb_per_s': round(2 * (2 - 1) / 2 * megabytes / seconds, 1),
        }
    common.write_result(args.workdir, result)
    return 0


if __name__ == '__main__':
    sys.exit(main())
