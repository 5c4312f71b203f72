"""The training loop shared by the trainers.

A trainer builds a `Trainable` (its ops) and calls `train`. What "step" means, everywhere (logs,
checkpoint names, the LR schedule, `--steps`, resume, TensorBoard): **step = the number of applied
updates = the `global_step` variable.** Under loss scaling (NPU) an overflowing step is skipped by
the optimizer and does not count. The loop reads global_step back after every session.run; one
session.run executes `iterations_per_loop` iterations on the NPU (skipped ones included) and one
elsewhere. Consequences:

* training stops at the first run boundary where global_step >= train.steps (with
  iterations_per_loop N it can end up to N - 1 past it: the device cannot stop mid-loop);
* a checkpoint is written at the first run boundary at or past each multiple of
  checkpoint_every, named model.ckpt-<global_step>, and only when the divergence guard passed
  (trainers/guard.py), so every kept checkpoint is a good one;
* the input position (batches consumed = iterations run, skipped ones included) is a variable
  saved with the checkpoint: a resumed run skips exactly that many batches of the same seeded
  stream, so a resumed CPU run is bit-identical to an uninterrupted one;
* a signal (SIGTERM / SIGINT) saves a checkpoint after the running session.run and returns
  normally; the summary says "completed" whenever global_step reached train.steps.

Logged at every `log_every` boundary to stderr, RUN/train_log.jsonl and TensorBoard (scalars
under train/, the graph once): loss, total loss, LR, loss scale, examples/s, step time, and the
trainer's metrics; validation (loss and the trainer's validation metrics, each a mean over
`validation_batches` batches) every `validate_every` steps and at the end. RUN/summary.json ends it.
"""
from __future__ import absolute_import, division, print_function

import collections
import contextlib
import json
import math
import os
import signal
import sys
import threading
import time

from trainers import checkpoints
from trainers import config as config_lib
from trainers import device as device_lib
from trainers import guard as guard_lib
from trainers import parallel, reader

TrainingDiverged = guard_lib.TrainingDiverged

Trainable = collections.namedtuple('Trainable', [
    'train_op',            # one iteration (count_iterations(...)): update + input position
    'loss',                # the batch loss of that step (scalar)
    'total_loss',          # loss + regularisation (scalar)
    'learning_rate',       # scalar (a function of global_step)
    'global_step',
    'examples_per_step',   # batch size
    'train_init',          # op initialising the training input iterator
    'validation_loss',     # scalar on one validation batch, or None
    'validation_init',     # op re-initialising the validation iterator, or None
    'init_fn',             # callable(sess) run once on a fresh start, or None
    'input_skip',          # int64 placeholder: batches the training input skips (resume)
    'metrics',             # {name: scalar} logged beside the loss, or None
    'validation_metrics',  # {name: scalar on one validation batch}, averaged like the loss
    'loss_scale',          # the loss scale (scalar tensor) under loss scaling, or None
    'input_files',         # training record files (named when one turns out corrupt)
])
Trainable.__new__.__defaults__ = (None,) * 6

TRAIN_DEFAULTS = {
    'run_dir': 'runs/default',
    'steps': 1000,
    'seed': 0,
    'log_every': 10,
    'checkpoint_every': 1000,
    'keep_checkpoints': 5,
    'validate_every': 500,
    'validation_batches': 10,
    'divergence': dict(guard_lib.DEFAULTS),
}

POSITION = 'input_position'


# -- graph parts the trainers use ------------------------------------------------------------

def input_position():
    """The int64 variable counting training iterations run (= batches consumed), created once."""
    import tensorflow as tf
    found = tf.compat.v1.get_collection(POSITION)
    if found:
        return found[0]
    # init_scope: no control dependencies or control flow of the caller in its initialiser
    with tf.compat.v1.init_scope(), tf.compat.v1.variable_scope(
            tf.compat.v1.VariableScope(False), auxiliary_name_scope=False):
        variable = tf.compat.v1.get_variable(
            POSITION, dtype=tf.int64, initializer=tf.constant(0, tf.int64), trainable=False,
            collections=[tf.compat.v1.GraphKeys.GLOBAL_VARIABLES, POSITION])
    return variable


def count_iterations(update_op):
    """One training iteration: the update, then the input position + 1 (also when loss scaling
    skipped the update: the batch was consumed all the same)."""
    import tensorflow as tf
    position = input_position()
    with tf.control_dependencies([update_op]):
        return position.assign_add(1).op


class DataParallel(object):
    """The data-parallel side of one run, as a trainer's graph and the loop see it: the topology,
    the collectives of its engine (parallel.Collectives on CPU/GPU, the device layer's HCCL ones
    on Ascend; None for one process), the `parallel` config section and the session target.
    DataParallel() is the single-device run, where every method leaves things as they are."""

    def __init__(self, topology=parallel.SINGLE, collectives=None, cfg=None, target=''):
        self.topology = topology
        self.collectives = collectives
        self.cfg = dict(parallel.PARALLEL, **(cfg or {}))
        self.target = target
        self.reduction = 'mean'  # how the ranks' losses combine; set by optimizer()
        if topology.distributed and collectives is None:
            raise parallel.ParallelError('%d ranks need collectives' % topology.size)

    @property
    def distributed(self):
        return self.topology.distributed

    @property
    def is_chief(self):
        return self.topology.is_chief

    @property
    def shard(self):
        """(rank, ranks) for the training input (reader.record_passes)."""
        return self.topology.rank, self.topology.size

    def global_batch(self, batch_size):
        return batch_size * self.topology.size

    def learning_rate(self, lr, global_step):
        """The run's learning rate: the single-card schedule unless parallel.lr_scaling says
        'linear' (parallel.scaled_learning_rate)."""
        return parallel.scaled_learning_rate(lr, global_step, self.topology.size,
                                             self.cfg['lr_scaling'], self.cfg['warmup_steps'])

    def optimizer(self, optimizer, device, loss_scale, reduction='mean'):
        """The optimizer with loss scaling (NPU) and, when distributed, gradients all-reduced
        across the ranks: 'mean' when each rank's loss is a mean over its batch, 'sum' when the
        ranks' losses are parts that add up to the global batch's loss."""
        self.reduction = reduction
        return device_lib.wrap_optimizer(
            optimizer, device, loss_scale,
            collectives=self.collectives if self.distributed else None, reduction=reduction,
            pack_mb=self.cfg['pack_mb'])

    def regularizer_share(self, reduction):
        """Factor of the regularisation loss in each rank's objective: summed gradients ('sum')
        would count it once per rank, so each rank takes 1/ranks of it."""
        return 1.0 / self.topology.size if reduction == 'sum' else 1.0

    def batch_norm(self):
        """Context for building training towers: batch normalisation over the global batch when
        distributed (parallel.synced_batch_norm), else slim's own."""
        if not self.distributed:
            return contextlib.contextmanager(lambda: (yield))()
        return parallel.synced_batch_norm(self.collectives)

    def total(self, tensor):
        """`tensor` summed over the ranks."""
        return self.collectives.all_reduce(tensor, 'sum') if self.distributed else tensor

    def global_loss(self, loss):
        """The loss of the global batch from the ranks' losses (what the divergence guard and
        the log see): their mean or their sum, as optimizer() was told."""
        if not self.distributed:
            return loss
        return self.collectives.all_reduce(loss, self.reduction)


# -- small parts of the loop -------------------------------------------------------------------

class _StopRequest(object):
    """SIGTERM / SIGINT set a flag; the loop saves and returns after the running step."""

    def __init__(self):
        self.signal = None
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is not threading.main_thread():
            return self  # signal handlers can only be set from the main thread (in-process ranks)
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.signal = signum

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


class _Log(object):
    """One record to stderr (text), RUN/train_log.jsonl and TensorBoard (scalars under `tag`)."""

    def __init__(self, run_dir, writer):
        self.path = run_dir and os.path.join(run_dir, 'train_log.jsonl')
        self.writer = writer

    def write(self, record, text, tag):
        import tensorflow as tf
        sys.stderr.write(text + '\n')
        sys.stderr.flush()
        if self.writer is None:  # a rank other than 0: its stderr is its log
            return
        with open(self.path, 'a') as f:
            f.write(json.dumps(record, sort_keys=True) + '\n')
        # one tag per metric: train/loss, validation/loss, validation/<metric>, ...
        values = [tf.compat.v1.Summary.Value(
            tag='%s/%s' % (tag, k[len(tag) + 1:] if k.startswith(tag + '_') else k),
            simple_value=v) for k, v in sorted(record.items()) if k != 'step' and v is not None]
        self.writer.add_summary(tf.compat.v1.Summary(value=values), record['step'])
        self.writer.flush()


def _validation_fetches(trainable):
    out = {'loss': trainable.validation_loss}
    out.update(trainable.validation_metrics or {})
    return out


def validate(sess, trainable, batches):
    """{name: mean over `batches` validation batches} of the validation loss and metrics."""
    sess.run(trainable.validation_init)
    fetches = _validation_fetches(trainable)
    sums = dict.fromkeys(fetches, 0.0)
    for _ in range(batches):
        for name, value in sess.run(fetches).items():
            sums[name] += float(value)
    return {name: total / batches for name, total in sums.items()}


def _step_fetches(trainable):
    fetches = {'train': trainable.train_op, 'loss': trainable.loss,
               'total': trainable.total_loss, 'lr': trainable.learning_rate}
    fetches.update({'metric/' + k: v for k, v in (trainable.metrics or {}).items()})
    return fetches


def _boundary_crossed(before, after, every):
    """True when (before, after] contains a multiple of `every` (0 = never)."""
    return bool(every) and after // every > before // every


def _read_error(err, trainable, saved):
    files = trainable.input_files or []
    bad = reader.find_corrupt_file(files)
    where = ('%s (record %d: %s)' % bad) if bad else 'one of %d record files' % len(files)
    return reader.RecordsError(
        'reading the training records failed in %s: %s; %s. Rebuild the records (or remove the '
        'shard from dataset_info.json) and resume.' % (where, err.message.split('\n')[0], saved))


def _check_divergence(divergence, step, out, run_dir):
    """The guard on one run's values; its verdict as a TrainingDiverged naming the last good
    checkpoint (nothing is saved after a failed check)."""
    try:
        divergence.observe(step, float(out['loss']), float(out['weight_norm']),
                           float(out['loss_scale']) if 'loss_scale' in out else None)
    except TrainingDiverged as err:
        good = checkpoints.latest(run_dir)
        raise TrainingDiverged(
            'training diverged: %s. %s; lower the learning rate (--set train.lr=...) or see '
            'train.divergence in the config' % (err, (
                'The last good checkpoint is %s (resume continues from it)' % good)
                if good else 'No checkpoint was written'))


def _restore_or_init(sess, saver, trainable, run_dir, chief=True):
    """Restore the latest checkpoint or initialise (and load pretrained weights). A rank other
    than 0 only initialises: rank 0's values reach it by broadcast, so ranks need not share a
    file system and resume from rank 0's checkpoint."""
    import tensorflow as tf
    latest = checkpoints.latest(run_dir) if chief else None
    if latest:
        saver.restore(sess, latest)
        sess.run(tf.compat.v1.local_variables_initializer())
    else:
        sess.run([tf.compat.v1.global_variables_initializer(),
                  tf.compat.v1.local_variables_initializer()])
        if trainable.init_fn is not None and chief:
            trainable.init_fn(sess)
    return latest


@contextlib.contextmanager
def _session(session_config, close, target=''):
    """The training session, closed at the end unless `close` is False (see train)."""
    import tensorflow as tf
    sess = tf.compat.v1.Session(target, config=session_config)
    try:
        with sess.as_default():
            yield sess
    finally:
        if close:
            sess.close()


class _Cluster(object):
    """The collective ops the loop of a distributed run adds to the graph, built before the
    session and in the same order on every rank (collective instance keys follow build order):
    the start-up agreement check, the broadcast of rank 0's variables, the stop agreement and the
    rank-averaged loss. For one process: nothing, and every method is a pass-through."""

    def __init__(self, dp, trainable, config):
        import tensorflow as tf
        self.dp = dp
        self.watchdog = parallel.Watchdog(dp.topology)
        self.steps_run = 0
        if not dp.distributed:
            return
        coll = dp.collectives
        variables = tf.compat.v1.global_variables()
        what = json.dumps(config, sort_keys=True) + ''.join(
            '%s%s' % (v.op.name, v.shape.as_list()) for v in variables)
        self.agree = parallel.agreement_check(coll, parallel.fingerprint(what))
        self.broadcast = parallel.broadcast_variables(variables, coll)
        self.stop_flag, self.stop_agreed = parallel.stop_agreement(coll)
        self.global_loss = dp.global_loss(trainable.loss)

    def run(self, sess, fetches, label, feed_dict=None):
        """sess.run under the watchdog: a rank whose peer died stops within the timeout."""
        timeout = self.dp.cfg['startup_timeout_s' if self.steps_run == 0 else 'step_timeout_s']
        with self.watchdog.watch(label, timeout):
            out = sess.run(fetches, feed_dict=feed_dict)
        self.steps_run += 1
        return out

    def start(self, sess):
        """Every rank must run the same configuration; then all take rank 0's variables."""
        if not self.dp.distributed:
            return
        parallel.check_agreement(int(round(self.run(sess, self.agree, 'the start-up check'))),
                                 'a configuration or model')
        self.run(sess, self.broadcast, 'the broadcast of rank 0\'s variables')

    def step_fetches(self, fetches):
        if self.dp.distributed:
            fetches = dict(fetches, global_loss=self.global_loss, stop=self.stop_agreed)
        return fetches

    def step_feed(self, stop_requested):
        if not self.dp.distributed:
            return None
        return {self.stop_flag: 1.0 if stop_requested else 0.0}

    def close(self):
        self.watchdog.close()


def train(trainable, config, device, session_config, close_session=True, dp=None):
    """Run training as configured (config['train'] uses TRAIN_DEFAULTS keys); returns summary.

    close_session=False is for a process that ends right after (the command line, which exits
    without teardown, cli.exit_process): everything is on disk before that point, and no
    teardown race of TF 1.x can turn a finished run into a crash (the one found, in tf.data's
    autotuning model, is fixed at its source: reader.without_autotune_model).

    dp (DataParallel) for a data-parallel run: every rank runs this loop in step with the others
    (the same global_step after every run); rank 0 alone restores, writes checkpoints, logs,
    TensorBoard and summary.json and validates; the loss the guard and the log see is the mean
    over the ranks, so every rank takes the same decisions; a stop request (SIGTERM) on any rank
    stops all after the same step."""
    import tensorflow as tf
    dp = dp or DataParallel()
    chief = dp.is_chief
    cfg = config['train']
    run_dir = cfg['run_dir']
    if chief:
        os.makedirs(run_dir, exist_ok=True)
        config_lib.dump(config, os.path.join(run_dir, 'config.json'))
    per_run = device_lib.steps_per_run(device, config['device']['iterations_per_loop'])
    cluster = _Cluster(dp, trainable, config)
    fetches = cluster.step_fetches(_step_fetches(trainable))
    after_run = {'step': trainable.global_step,
                 'weight_norm': tf.linalg.global_norm(tf.compat.v1.trainable_variables())}
    if trainable.loss_scale is not None:
        after_run['loss_scale'] = trainable.loss_scale
    position = input_position()
    saver = tf.compat.v1.train.Saver(max_to_keep=None)
    divergence = guard_lib.DivergenceGuard(cfg['divergence'])
    validating = chief and trainable.validation_loss is not None and cfg['validation_batches']
    stats = {'loss': None, 'validation': None, 'seconds': 0.0, 'iterations': 0,
             'recent': collections.deque(maxlen=20), 'status': 'completed',
             'validated_at': None}
    with _session(session_config, close_session, dp.target) as sess:
        latest = _restore_or_init(sess, saver, trainable, run_dir, chief)
        cluster.start(sess)
        start, skip = (int(v) for v in sess.run([trainable.global_step, position]))
        fetches['train'] = device_lib.prepare_train_op(
            sess, fetches['train'], device, config['device']['iterations_per_loop'])
        writer = (tf.compat.v1.summary.FileWriter(os.path.join(run_dir, 'tensorboard'),
                                                  graph=sess.graph) if chief else None)
        log = _Log(run_dir if chief else None, writer)
        feed = {trainable.input_skip: skip} if trainable.input_skip is not None else None
        sess.run(trainable.train_init, feed_dict=feed)
        if latest:
            sys.stderr.write('resumed from %s at step %d (input position %d)\n'
                             % (latest, start, skip))
        step, last_saved, wall0 = start, start, time.time()
        window = {'iterations': 0, 'seconds': 0.0}

        def save(reason):
            if not chief:
                return 'rank 0 writes the checkpoints'
            checkpoints.save(saver, sess, run_dir, step, cfg['keep_checkpoints'])
            return 'checkpoint %s written (%s)' % (checkpoints.name(step), reason)

        with _StopRequest() as stop:
            while step < cfg['steps']:
                t0 = time.time()
                try:
                    out = cluster.run(sess, fetches, 'step %d' % (step + 1),
                                      cluster.step_feed(stop.signal is not None))
                except (tf.errors.DataLossError, tf.errors.OutOfRangeError) as err:
                    saved = (save('before stopping on a read error')
                             if step > last_saved and divergence.healthy
                             else 'the last checkpoint is %s' % checkpoints.latest(run_dir))
                    raise _read_error(err, trainable, saved)
                seconds = time.time() - t0
                if 'global_loss' in out:  # the loss of the global batch
                    out['loss'] = out['global_loss']
                # read after the run: the values the run left (fetching them beside the train
                # op would race with its updates)
                out.update(sess.run(after_run))
                before, step = step, int(out['step'])
                _check_divergence(divergence, step, out, run_dir)
                window['iterations'] += per_run
                window['seconds'] += seconds
                stats['iterations'] += per_run
                stats['seconds'] += seconds
                stats['loss'] = float(out['loss'])
                stats['recent'].append(stats['loss'])
                if _boundary_crossed(before, step, cfg['log_every']):
                    _log_step(log, cfg, out, step, window, trainable.examples_per_step)
                    window = {'iterations': 0, 'seconds': 0.0}
                if validating and _boundary_crossed(before, step, cfg['validate_every']):
                    stats['validation'] = _log_validation(log, sess, trainable, cfg, step)
                    stats['validated_at'] = step
                if divergence.healthy and _boundary_crossed(last_saved, step,
                                                            cfg['checkpoint_every']):
                    save('schedule')
                    last_saved = step
                if stop.signal is not None or out.get('stop', 0) > 0:
                    break
            if step >= cfg['steps']:
                stats['status'] = 'completed'
            else:
                stats['status'] = 'interrupted by signal %s' % (
                    stop.signal if stop.signal is not None else 'on another rank')
            if step > last_saved and divergence.healthy:
                save('end of run')
            if (stats['status'] == 'completed' and validating and
                    stats['validated_at'] != step):
                stats['validation'] = _log_validation(log, sess, trainable, cfg, step)
        if writer is not None:
            writer.close()
        cluster.close()
        stats['variables_sha1'] = variables_digest(sess)
        if dp.distributed:  # equal on every rank, or the ranks drifted apart
            sys.stderr.write('rank %d: variables sha1 %s\n'
                             % (dp.topology.rank, stats['variables_sha1']))
    return _finish(run_dir, cfg, trainable, device, start, step, stats, time.time() - wall0,
                   dp.topology.size, write=chief)


def variables_digest(sess):
    """SHA-1 of every global variable's name and bytes: ranks of a data-parallel run must agree
    on it after every step (the log shows it per rank; the tests compare it)."""
    import hashlib
    import tensorflow as tf
    variables = sorted(tf.compat.v1.global_variables(), key=lambda v: v.op.name)
    digest = hashlib.sha1()
    for variable, value in zip(variables, sess.run(variables)):
        digest.update(variable.op.name.encode('utf-8'))
        digest.update(value.tobytes())
    return digest.hexdigest()


def _log_step(log, cfg, out, step, window, examples_per_step):
    rate = window['iterations'] * examples_per_step / window['seconds']
    record = {'step': step, 'loss': float(out['loss']), 'total_loss': float(out['total']),
              'lr': float(out['lr']), 'examples_per_s': rate,
              'step_time_s': window['seconds'] / window['iterations']}
    if 'loss_scale' in out:
        record['loss_scale'] = float(out['loss_scale'])
    extra = {k[len('metric/'):]: float(v) for k, v in out.items() if k.startswith('metric/')}
    record.update(extra)
    log.write(record, 'step %d/%d  loss %.4f  total %.4f  lr %.3g  %.1f examples/s  %.3f s/step%s'
              % (step, cfg['steps'], record['loss'], record['total_loss'], record['lr'], rate,
                 record['step_time_s'],
                 ''.join('  %s %.4g' % kv for kv in sorted(extra.items()))), 'train')


def _log_validation(log, sess, trainable, cfg, step):
    values = validate(sess, trainable, cfg['validation_batches'])
    record = {'step': step, 'validation_loss': values['loss']}
    record.update({'validation_' + k: v for k, v in values.items() if k != 'loss'})
    log.write(record, 'step %d  validation (mean of %d batches): %s' % (
        step, cfg['validation_batches'],
        '  '.join('%s %.4f' % kv for kv in sorted(values.items()))), 'validation')
    return values


def _finish(run_dir, cfg, trainable, device, start, step, stats, wall, ranks=1, write=True):
    validation = stats['validation'] or {}
    recent = stats['recent']
    latest = checkpoints.latest(run_dir)
    summary = {
        'status': stats['status'], 'start_step': start, 'steps': step,
        'steps_this_run': step - start, 'iterations_this_run': stats['iterations'],
        'wall_time_s': round(wall, 3),
        'mean_examples_per_s': (round(stats['iterations'] * trainable.examples_per_step /
                                      stats['seconds'], 2) if stats['seconds'] else None),
        'final_train_loss': stats['loss'],
        'final_train_loss_mean20': (sum(recent) / len(recent)) if recent else None,
        'final_validation_loss': validation.get('loss'),
        'final_validation_metrics': {k: v for k, v in validation.items() if k != 'loss'},
        'device': device,
        'checkpoint': os.path.basename(latest) if latest else None,
        'ranks': ranks,
        'variables_sha1': stats['variables_sha1'],
    }
    if write:
        with open(os.path.join(run_dir, 'summary.json'), 'w') as f:
            json.dump(summary, f, indent=1, sort_keys=True)
    sys.stderr.write('%s: %d steps (%d this run, %d iterations) in %.1f s, %s examples/s, train '
                     'loss %s, validation loss %s -> %s\n' % (
                         stats['status'], step, step - start, stats['iterations'],
                         summary['wall_time_s'], summary['mean_examples_per_s'],
                         _fmt(summary['final_train_loss_mean20']),
                         _fmt(summary['final_validation_loss']), run_dir))
    return summary


def _fmt(value):
    return 'n/a' if value is None or not math.isfinite(value) else '%.4f' % value
