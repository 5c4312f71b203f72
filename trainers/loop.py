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
import os
import signal
import sys
import threading
import time

from trainers import checkpoints
from trainers import config as config_lib
from trainers import device as device_lib
from trainers import guard as guard_lib
from trainers import reader, run_log
from trainers import run_dir as run_dir_lib
from trainers.distributed.data_parallel import Cluster, DataParallel

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

TRAIN_DEFAULTS = config_lib.TRAIN  # defined beside its declared types

POSITION = 'input_position'
# loop state outside the model that a checkpoint to resume from must hold
RESUME_STATE = ('global_step', POSITION)


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


def _step_fetches(trainable):
    fetches = {'train': trainable.train_op, 'loss': trainable.loss,
               'total': trainable.total_loss, 'lr': trainable.learning_rate}
    fetches.update({'metric/' + k: v for k, v in (trainable.metrics or {}).items()})
    return fetches


def _boundary_crossed(before, after, every):
    """True when (before, after] contains a multiple of `every` (0 = never)."""
    return bool(every) and after // every > before // every


def _read_error(err, trainable, saved):
    """The RecordsError a failed training read becomes: the corrupt file named (searched for
    after the fact), or, for an input that ran out, what that means (the stream is endless)."""
    import tensorflow as tf
    first_line = err.message.split('\n')[0]
    files = trainable.input_files or []
    if isinstance(err, tf.errors.OutOfRangeError):
        return reader.RecordsError(
            'the training input of %d record files ran out (%s): the stream repeats forever, so '
            'no record yielded a training example (every track or video filtered out?); %s'
            % (len(files), first_line, saved))
    bad = reader.find_corrupt_file(files)
    where = ('%s (record %d: %s)' % bad) if bad else 'one of %d record files' % len(files)
    return reader.RecordsError(
        'reading the training records failed in %s: %s; %s. Rebuild the records (or remove the '
        'shard from dataset_info.json) and resume.' % (where, first_line, saved))


def _check_divergence(divergence, step, out, run_dir, iterations=1):
    """The guard on one run's values; its verdict as a TrainingDiverged naming the last good
    checkpoint (nothing is saved after a failed check)."""
    try:
        divergence.observe(step, float(out['loss']), float(out['weight_norm']),
                           float(out['loss_scale']) if 'loss_scale' in out else None, iterations)
    except TrainingDiverged as err:
        good = checkpoints.latest(run_dir)
        raise TrainingDiverged(
            'training diverged: %s. %s; lower the learning rate (--set train.lr=...) or see '
            'train.divergence in the config' % (err, (
                'The last good checkpoint is %s (resume continues from it)' % good)
                if good else 'No checkpoint was written'))


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


def train(trainable, config, device, session_config, close_session=True, dp=None):
    """Run training as configured (config['train'] uses TRAIN_DEFAULTS keys); returns summary.

    close_session=False is for a process that ends right after (the command line, which exits
    without teardown, cli.exit_process): everything is on disk before that point, and no
    teardown race of TF 1.x can turn a finished run into a crash (the one found, in tf.data's
    autotuning model, is fixed at its source: reader.without_autotune_model).

    dp (DataParallel) for a data-parallel run: every rank runs this loop in step with the
    others (the same global_step after every run); rank 0 alone restores, writes checkpoints,
    logs, TensorBoard and summary.json and validates; the loss the guard and the log see is the
    global batch's, so every rank takes the same decisions; a stop request (SIGTERM) on any rank
    stops all after the same step.

    Rank 0 first makes every check that can refuse the run, then writes (run_dir.open_run). A
    run that fails (divergence, a read error, any TF or OS error) saves the last good step where
    it can, writes summary.json with status 'diverged' or 'failed' and the message, then raises
    one line (run_dir.fail)."""
    run = _Run(trainable, config, device, dp or DataParallel())
    records = run_dir_lib.open_run(config, lambda latest: (
        run.cluster.check_resume(latest), checkpoints.missing_state(latest, RESUME_STATE))
    ) if run.chief else None
    with _session(session_config, close_session, run.dp.target) as sess:
        try:
            run.open(sess)
            with _StopRequest() as stop:
                run.steps(stop)
                run.end(stop)
        except Exception as err:  # any failure: one line, summary.json, the last good step saved
            raise run_dir_lib.fail(err, run.step, run._saved_or_latest, run.close, run.summary,
                                   records)
        run.close()
    return run.summary()


class _Run(object):
    """One call of train(): the loop's graph parts (built before the session), then its state."""

    def __init__(self, trainable, config, device, dp):
        import tensorflow as tf
        self.trainable, self.config, self.device, self.dp = trainable, config, device, dp
        self.cfg = cfg = config['train']
        self.run_dir = cfg['run_dir']
        self.chief = dp.is_chief
        self.per_run = device_lib.steps_per_run(device, config['device']['iterations_per_loop'])
        self.cluster = Cluster(dp, trainable, config)
        self.fetches = _step_fetches(trainable)
        # read after a run: the values it left (fetched beside the train op they would race
        # with its updates)
        self.after_run = {'step': trainable.global_step, 'weight_norm': tf.linalg.global_norm(
            tf.compat.v1.trainable_variables())}
        if trainable.loss_scale is not None:
            self.after_run['loss_scale'] = trainable.loss_scale
        self.saver = tf.compat.v1.train.Saver(max_to_keep=None)
        self.guard = guard_lib.DivergenceGuard(cfg['divergence'])
        # every rank knows when rank 0 validates (validation_due); rank 0 alone does it
        self.validates = bool(trainable.validation_loss is not None and cfg['validation_batches'])
        self.validating = self.chief and self.validates
        self.stats = {'loss': None, 'validation': None, 'seconds': 0.0, 'iterations': 0,
                      'recent': collections.deque(maxlen=20), 'status': 'completed',
                      'validated_at': None, 'variables_sha1': None}
        self.sess = self.writer = self.log = None
        self.start = self.step = self.last_saved = 0
        self.wall0 = time.time()

    def open(self, sess):
        """Restore or initialise, agree with the other ranks, start the input where it was."""
        import tensorflow as tf
        t = self.trainable
        self.sess = sess
        latest = checkpoints.restore_or_init(sess, self.saver, t, self.run_dir, self.chief,
                                             RESUME_STATE)
        self.cluster.start(sess)
        self.start, skip = (int(v) for v in sess.run([t.global_step, input_position()]))
        self.fetches['train'] = device_lib.prepare_train_op(
            sess, self.fetches['train'], self.device, self.config['device']['iterations_per_loop'])
        if self.chief:
            self.writer = tf.compat.v1.summary.FileWriter(
                os.path.join(self.run_dir, 'tensorboard'), graph=sess.graph)
        self.log = run_log.RunLog(self.run_dir if self.chief else None, self.writer)
        sess.run(t.train_init, feed_dict={t.input_skip: skip} if t.input_skip is not None
                 else None)
        if latest:
            sys.stderr.write('resumed from %s at step %d (input position %d)\n'
                             % (latest, self.start, skip))
        self.step = self.last_saved = self.start
        self.window = {'iterations': 0, 'seconds': 0.0}
        self.wall0 = time.time()

    def save(self, reason):
        """A checkpoint named by the session's global_step (after a failed run it can be past
        the loop's last reading)."""
        if not self.chief:
            return 'rank 0 writes the checkpoints'
        step = int(self.sess.run(self.trainable.global_step))
        checkpoints.save(self.saver, self.sess, self.run_dir, step, self.cfg['keep_checkpoints'])
        self.last_saved = step
        return 'checkpoint %s written (%s)' % (checkpoints.name(step), reason)

    def _saved_or_latest(self):
        if self.step > self.last_saved and self.guard.healthy:
            return self.save('before stopping on an error')
        return 'the last checkpoint is %s' % checkpoints.latest(self.run_dir)

    def run_once(self, stop):
        """One session.run (iterations_per_loop iterations on the NPU), its values checked."""
        import tensorflow as tf
        t0 = time.time()
        try:
            out = self.cluster.step(self.sess, self.fetches, 'step %d' % (self.step + 1),
                                    stop.signal is not None)
        except (tf.errors.DataLossError, tf.errors.OutOfRangeError) as err:
            raise _read_error(err, self.trainable, self._saved_or_latest())
        seconds = time.time() - t0
        out.update(self.sess.run(self.after_run))
        self.step = int(out['step'])
        _check_divergence(self.guard, self.step, out, self.run_dir, self.per_run)
        for totals in (self.window, self.stats):
            totals['iterations'] += self.per_run
            totals['seconds'] += seconds
        self.stats['loss'] = float(out['loss'])
        self.stats['recent'].append(self.stats['loss'])
        return out

    def steps(self, stop):
        cfg = self.cfg
        while self.step < cfg['steps']:
            before = self.step
            out = self.run_once(stop)
            if _boundary_crossed(before, self.step, cfg['log_every']):
                run_log.log_step(self.log, cfg, out, self.step, self.window,
                                 self.trainable.examples_per_step)
                self.window = {'iterations': 0, 'seconds': 0.0}
            if self.validation_due(before):
                # rank 0 validates (the first time compiling the validation graph): the other
                # ranks' next step waits for it under the start-up timeout
                self.cluster.warm = False
                if self.validating:
                    self.validate()
            if self.guard.healthy and _boundary_crossed(self.last_saved, self.step,
                                                        cfg['checkpoint_every']):
                self.save('schedule')
            if stop.signal is not None or out.get('stop', 0) > 0:
                return

    def validation_due(self, before):
        """On every rank: does rank 0 validate after the run that ended at self.step?"""
        return self.validates and _boundary_crossed(before, self.step,
                                                    self.cfg['validate_every'])

    def validate(self):
        self.stats['validation'] = run_log.log_validation(self.log, self.sess, self.trainable,
                                                          self.cfg, self.step)
        self.stats['validated_at'] = self.step

    def end(self, stop):
        """Status, the last checkpoint, the final validation."""
        if self.step >= self.cfg['steps']:
            self.stats['status'] = 'completed'
        else:
            self.stats['status'] = 'interrupted by signal %s' % (
                stop.signal if stop.signal is not None else 'on another rank')
        if self.step > self.last_saved:
            if self.guard.healthy:
                self.save('end of run')
            else:  # the last run was flagged (a spike within the guard's patience)
                self.stats['unsaved_steps'] = self.step - self.last_saved
                sys.stderr.write(
                    'warning: no checkpoint for the last %d steps: the divergence guard flagged '
                    'the last run; a resume continues from %s\n' % (
                        self.step - self.last_saved, checkpoints.latest(self.run_dir)))
        if (self.stats['status'] == 'completed' and self.validating and
                self.stats['validated_at'] != self.step):
            self.validate()

    def close(self):
        if self.writer is not None:
            self.writer.close()
        self.cluster.close()
        if self.sess is not None:
            self.stats['variables_sha1'] = self.cluster.report_digest(self.sess)

    def summary(self, failure=None):
        if failure is not None:
            self.stats['status'] = ('diverged' if isinstance(failure, TrainingDiverged)
                                    else 'failed')
            self.stats['error'] = str(failure)
        return run_log.finish(self.run_dir, self.cfg, self.trainable, self.device, self.start,
                              self.step, self.stats, time.time() - self.wall0,
                              self.dp.topology.size, write=self.chief)
