"""The training loop shared by the trainers.

A trainer builds a `Trainable` (its ops) and calls `train`. The loop:
  * writes the resolved config to RUN/config.json;
  * starts fresh (variables initialised, then the trainer's `init_fn`, e.g. pretrained weights) or
    resumes from the latest checkpoint at exactly the saved step: a checkpoint written after N
    steps holds global_step N and training continues with step N + 1 (the reference restarted one
    step later and skipped one);
  * checkpoints every `checkpoint_every` steps and at the end, keeping `keep_checkpoints`;
  * on SIGTERM / SIGINT saves a checkpoint and returns normally (exit status 0);
  * stops with TrainingDiverged naming the step when the loss is NaN/Inf (unless the device's loss
    scaling is expected to skip such steps);
  * logs one line every `log_every` steps (step, loss, lr, examples/s, step time) to stderr and
    RUN/train_log.jsonl;
  * writes TensorBoard scalars computed in the same sess.run as a training step (no extra batch
    is consumed, unlike the reference's summary run);
  * measures validation loss as the mean over `validation_batches` batches every
    `validate_every` steps (the reference looked at one batch);
  * ends with one summary line and RUN/summary.json.
"""
from __future__ import absolute_import, division, print_function

import collections
import json
import math
import os
import signal
import sys
import time

from trainers import config as config_lib
from trainers import device as device_lib

Trainable = collections.namedtuple('Trainable', [
    'train_op',           # one optimisation step (increments global_step)
    'loss',               # the batch loss of that step (scalar)
    'total_loss',         # loss + regularisation (scalar)
    'learning_rate',      # scalar
    'global_step',
    'examples_per_step',  # batch size
    'train_init',         # op initialising the training input iterator
    'validation_loss',    # scalar on one validation batch, or None
    'validation_init',    # op re-initialising the validation iterator, or None
    'init_fn',            # callable(sess) run once on a fresh start, or None
    'input_seed',         # int64 placeholder_with_default seeding the training input, or None
    'metrics',            # {name: scalar} also logged and summarised, or None
    'choose_variant',     # callable(step) -> index, or None
])
# Variants: train_op, loss, total_loss and each metric may be lists, one entry per static-shape
# graph (e.g. one per input scale, sharing variables); choose_variant picks the one to run for a
# step, deterministically so that a resumed run continues the same sequence.
Trainable.__new__.__defaults__ = (None, None)

TRAIN_DEFAULTS = {
    'run_dir': 'runs/default',
    'steps': 1000,
    'seed': 0,
    'log_every': 10,
    'summary_every': 100,
    'checkpoint_every': 1000,
    'keep_checkpoints': 5,
    'validate_every': 500,
    'validation_batches': 10,
}


class TrainingDiverged(RuntimeError):
    pass


class _StopRequest(object):
    """SIGTERM / SIGINT set a flag; the loop saves and returns after the running step."""

    def __init__(self):
        self.signal = None
        self._previous = {}

    def __enter__(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.signal = signum

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _log(run_dir, record, text):
    sys.stderr.write(text + '\n')
    sys.stderr.flush()
    with open(os.path.join(run_dir, 'train_log.jsonl'), 'a') as f:
        f.write(json.dumps(record, sort_keys=True) + '\n')


def _validate(sess, trainable, batches):
    sess.run(trainable.validation_init)
    losses = [sess.run(trainable.validation_loss) for _ in range(batches)]
    return float(sum(losses) / len(losses))


def _scalar_summary(values):
    import tensorflow as tf
    return tf.compat.v1.Summary(value=[tf.compat.v1.Summary.Value(tag=k, simple_value=v)
                                       for k, v in sorted(values.items())])


def _as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _variants(trainable):
    """Per variant: the fetches of one training step and its merged scalar summaries."""
    import tensorflow as tf
    ops = _as_list(trainable.train_op)
    losses, totals = _as_list(trainable.loss), _as_list(trainable.total_loss)
    metrics = {name: _as_list(t) for name, t in (trainable.metrics or {}).items()}
    if not len(ops) == len(losses) == len(totals) or any(len(m) != len(ops)
                                                          for m in metrics.values()):
        raise ValueError('every variant needs a train op, a loss, a total loss and each metric')
    out = []
    for k in range(len(ops)):
        fetches = {'train': ops[k], 'loss': losses[k], 'total': totals[k],
                   'lr': trainable.learning_rate}
        fetches.update({'metric/' + name: m[k] for name, m in metrics.items()})
        scalars = [tf.compat.v1.summary.scalar('train/batch_loss', losses[k]),
                   tf.compat.v1.summary.scalar('train/total_loss', totals[k]),
                   tf.compat.v1.summary.scalar('train/learning_rate', trainable.learning_rate)]
        scalars += [tf.compat.v1.summary.scalar('train/' + name, m[k])
                    for name, m in sorted(metrics.items())]
        out.append({'index': k, 'fetches': fetches, 'summary': tf.compat.v1.summary.merge(scalars)})
    return out


def train(trainable, config, device, session_config):
    """Run training as configured (config['train'] uses TRAIN_DEFAULTS keys); returns summary."""
    import tensorflow as tf
    cfg = config['train']
    dev = config['device']
    run_dir = cfg['run_dir']
    os.makedirs(run_dir, exist_ok=True)
    config_lib.dump(config, os.path.join(run_dir, 'config.json'))
    per_run = device_lib.steps_per_run(device, dev['iterations_per_loop'])
    for key in ('steps', 'checkpoint_every'):
        if cfg[key] % per_run:
            raise config_lib.ConfigError(
                'train.%s (%d) must be a multiple of iterations_per_loop (%d)'
                             % (key, cfg[key], per_run))
    variants = _variants(trainable)
    saver = tf.compat.v1.train.Saver(max_to_keep=cfg['keep_checkpoints'])
    writer = tf.compat.v1.summary.FileWriter(os.path.join(run_dir, 'tensorboard'))
    prefix = os.path.join(run_dir, 'model.ckpt')
    with tf.compat.v1.Session(config=session_config) as sess:
        latest = tf.train.latest_checkpoint(run_dir)
        if latest:
            saver.restore(sess, latest)
            sess.run(tf.compat.v1.local_variables_initializer())
        else:
            sess.run([tf.compat.v1.global_variables_initializer(),
                      tf.compat.v1.local_variables_initializer()])
            if trainable.init_fn is not None:
                trainable.init_fn(sess)
        start = int(sess.run(trainable.global_step))
        for variant in variants:
            variant['fetches']['train'] = device_lib.prepare_train_op(
                sess, variant['fetches']['train'], device, dev['iterations_per_loop'])
        choose = trainable.choose_variant or (lambda step: 0)
        # a resumed run draws a new data stream (run seed + start step) instead of replaying the
        # pairs the first run began with; the input pipeline's position is not checkpointed
        feed = ({trainable.input_seed: int(cfg['seed']) + start}
                if start and trainable.input_seed is not None else None)
        sess.run(trainable.train_init, feed_dict=feed)
        if start:
            sys.stderr.write('resumed from %s at step %d\n' % (latest, start))
        step, wall0 = start, time.time()
        window = {'steps': 0, 'seconds': 0.0}
        total_seconds, total_steps = 0.0, 0
        last = {'loss': None, 'validation_loss': None}
        recent = collections.deque(maxlen=20)
        status = 'completed'

        def save():
            saver.save(sess, prefix, global_step=step)

        with _StopRequest() as stop:
            while step < cfg['steps']:
                next_step = step + per_run
                want_summary = cfg['summary_every'] and next_step % cfg['summary_every'] < per_run
                variant = variants[choose(step)]
                run = (dict(variant['fetches'], summary=variant['summary']) if want_summary
                       else variant['fetches'])
                t0 = time.time()
                out = sess.run(run)
                seconds = time.time() - t0
                step = next_step
                if not math.isfinite(out['loss']) and not device_lib.loss_scaling(device):
                    raise TrainingDiverged(
                        'training diverged: loss is %s at step %d (no checkpoint written; lower '
                        'the learning rate or resume from the last checkpoint in %s)'
                        % (out['loss'], step, run_dir))
                window['steps'] += per_run
                window['seconds'] += seconds
                total_steps += per_run
                total_seconds += seconds
                last['loss'] = float(out['loss'])
                recent.append(last['loss'])
                if want_summary:
                    writer.add_summary(out['summary'], step)
                if cfg['log_every'] and step % cfg['log_every'] < per_run:
                    rate = window['steps'] * trainable.examples_per_step / window['seconds']
                    record = {'step': step, 'loss': last['loss'], 'total_loss': float(out['total']),
                              'lr': float(out['lr']), 'examples_per_s': rate,
                              'step_time_s': window['seconds'] / window['steps']}
                    extra = {k[len('metric/'):]: float(v) for k, v in out.items()
                             if k.startswith('metric/')}
                    record.update(extra)
                    if len(variants) > 1:
                        record['variant'] = variant['index']
                    _log(run_dir, record, 'step %d/%d  loss %.4f  total %.4f  lr %.3g  '
                         '%.1f examples/s  %.3f s/step%s' % (
                             step, cfg['steps'], record['loss'], record['total_loss'],
                             record['lr'], rate, record['step_time_s'],
                             ''.join('  %s %.4g' % kv for kv in sorted(extra.items()))))
                    window = {'steps': 0, 'seconds': 0.0}
                if (trainable.validation_loss is not None and cfg['validate_every'] and
                        step % cfg['validate_every'] < per_run):
                    last['validation_loss'] = _validate(sess, trainable,
                                                        cfg['validation_batches'])
                    writer.add_summary(_scalar_summary(
                        {'validation/batch_loss': last['validation_loss']}), step)
                    _log(run_dir, {'step': step, 'validation_loss': last['validation_loss']},
                         'step %d  validation loss %.4f (mean of %d batches)' % (
                             step, last['validation_loss'], cfg['validation_batches']))
                if cfg['checkpoint_every'] and step % cfg['checkpoint_every'] == 0:
                    save()
                if stop.signal is not None:
                    status = 'interrupted by signal %d' % stop.signal
                    break
            save()
            if status == 'completed' and trainable.validation_loss is not None and \
                    cfg['validation_batches']:
                last['validation_loss'] = _validate(sess, trainable, cfg['validation_batches'])
        writer.close()
    summary = {
        'status': status, 'start_step': start, 'steps': step, 'steps_this_run': step - start,
        'wall_time_s': round(time.time() - wall0, 3),
        'mean_examples_per_s': (round(total_steps * trainable.examples_per_step / total_seconds,
                                      2) if total_seconds else None),
        'final_train_loss': last['loss'],
        'final_train_loss_mean20': (sum(recent) / len(recent)) if recent else None,
        'final_validation_loss': last['validation_loss'],
        'device': device, 'checkpoint': '%s-%d' % (prefix, step),
    }
    with open(os.path.join(run_dir, 'summary.json'), 'w') as f:
        json.dump(summary, f, indent=1, sort_keys=True)
    sys.stderr.write('%s: %d steps (%d this run) in %.1f s, %s examples/s, train loss %s, '
                     'validation loss %s -> %s\n' % (
                         status, step, step - start, summary['wall_time_s'],
                         summary['mean_examples_per_s'], _fmt(summary['final_train_loss_mean20']),
                         _fmt(summary['final_validation_loss']), run_dir))
    return summary


def _fmt(value):
    return 'n/a' if value is None else '%.4f' % value
