"""What a training run reports: step and validation records to stderr, RUN/train_log.jsonl and
TensorBoard, and RUN/summary.json at the end (the loop, trainers/loop.py, decides when)."""
from __future__ import absolute_import, division, print_function

import json
import math
import os
import sys

from trainers import checkpoints, reader
from trainers import run_dir as run_dir_lib


class RunLog(object):
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


def log_step(log, cfg, out, step, window, examples_per_step):
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


def log_validation(log, sess, trainable, cfg, step):
    import tensorflow as tf
    try:
        values = validate(sess, trainable, cfg['validation_batches'])
    except (tf.errors.DataLossError, tf.errors.OutOfRangeError) as err:
        raise reader.RecordsError(
            'reading the validation records failed at step %d: %s; rebuild them, or resume with '
            '--set train.validation_batches=0' % (step, err.message.split('\n')[0]))
    record = {'step': step, 'validation_loss': values['loss']}
    record.update({'validation_' + k: v for k, v in values.items() if k != 'loss'})
    log.write(record, 'step %d  validation (mean of %d batches): %s' % (
        step, cfg['validation_batches'],
        '  '.join('%s %.4f' % kv for kv in sorted(values.items()))), 'validation')
    return values


def finish(run_dir, cfg, trainable, device, start, step, stats, wall, rank_count=1,
            write=True):
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
        'ranks': rank_count,
        'variables_sha1': stats['variables_sha1'],
    }
    for key in ('error', 'unsaved_steps'):
        if key in stats:
            summary[key] = stats[key]
    if write:
        run_dir_lib.write_summary(run_dir, summary)
    sys.stderr.write('%s: %d steps (%d this run, %d iterations) in %.1f s, %s examples/s, train '
                     'loss %s, validation loss %s -> %s\n' % (
                         stats['status'], step, step - start, stats['iterations'],
                         summary['wall_time_s'], summary['mean_examples_per_s'],
                         _fmt(summary['final_train_loss_mean20']),
                         _fmt(summary['final_validation_loss']), run_dir))
    return summary


def _fmt(value):
    return 'n/a' if value is None or not math.isfinite(value) else '%.4f' % value
