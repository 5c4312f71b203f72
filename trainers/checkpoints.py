"""Checkpoints of a run directory: named by global_step, state file with relative paths (a run
directory can be moved or copied), and `keep` honoured across resumes (the newest `keep` files
by step are kept, whichever run wrote them, and never the one just written).

A resume takes the newest checkpoint that reads whole (`newest_readable`): a cut-short or
corrupt newer one is named and later moved to RUN/unreadable/ (`set_aside`), not deleted. A save
that fails (a full disk) leaves no part of its checkpoint behind.
"""
from __future__ import absolute_import, division, print_function

import glob
import os
import re
import shutil
import sys

from datasets import fileio
from trainers.config import ConfigError

PREFIX = 'model.ckpt'
UNREADABLE_DIR = 'unreadable'
_STEP = re.compile(r'^%s-(\d+)\.index$' % re.escape(PREFIX))


def steps_on_disk(run_dir):
    """Global steps of the checkpoints in run_dir, ascending."""
    out = []
    for path in glob.glob(os.path.join(run_dir, PREFIX + '-*.index')):
        match = _STEP.match(os.path.basename(path))
        if match:
            out.append(int(match.group(1)))
    return sorted(out)


def name(step):
    return '%s-%d' % (PREFIX, step)


def latest(run_dir):
    """Path of the newest checkpoint, or None; found by file name, not the state file, so a copied
    or moved run directory (or one whose state file was written with absolute paths) resumes."""
    steps = steps_on_disk(run_dir)
    return os.path.join(run_dir, name(steps[-1])) if steps else None


def save(saver, sess, run_dir, step, keep):
    """Write model.ckpt-<step>, delete all but the newest `keep` (0: keep all; the new one is
    always kept), and rewrite the state file with names relative to run_dir. Returns the
    checkpoint path. A failed write removes what it had written and raises."""
    try:
        path = saver.save(sess, os.path.join(run_dir, PREFIX), global_step=step,
                          write_meta_graph=False, write_state=False)
    except BaseException:
        _remove_partial(run_dir, step)
        raise
    steps = steps_on_disk(run_dir)
    if keep > 0:
        for old in steps[:-keep]:
            if old != step:
                _remove(run_dir, old)
        steps = sorted(set(steps[-keep:]) | {step})
    write_state(run_dir, steps)
    return path


def _remove(run_dir, step):
    for f in glob.glob(os.path.join(run_dir, name(step) + '.*')):
        os.remove(f)


def _remove_partial(run_dir, step):
    """What a failed save of `step` left: its files and the saver's temporary directory."""
    for path in (glob.glob(os.path.join(run_dir, name(step) + '.*')) +
                 glob.glob(os.path.join(run_dir, name(step) + '_temp*'))):
        try:
            shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
        except OSError:
            pass  # the save's own error is the one to report


def unreadable_reason(path):
    """None when every tensor of checkpoint `path` reads back (sizes and checksums), else the
    reason in one line."""
    import tensorflow as tf
    try:
        reader = tf.train.load_checkpoint(path)
        for variable in sorted(reader.get_variable_to_shape_map()):
            reader.get_tensor(variable)
    except (tf.errors.OpError, ValueError, OSError) as err:
        message = getattr(err, 'message', None) or str(err)
        return '%s: %s' % (type(err).__name__, message.strip().split('\n')[0])
    return None


def newest_readable(run_dir):
    """(path of the newest checkpoint that reads whole or None, [(path, reason)] of the newer
    ones that do not)."""
    skipped = []
    for step in reversed(steps_on_disk(run_dir)):
        path = os.path.join(run_dir, name(step))
        reason = unreadable_reason(path)
        if reason is None:
            return path, skipped
        skipped.append((path, reason))
    return None, skipped


def set_aside(run_dir, paths):
    """Move the files of unreadable checkpoints to RUN/unreadable/ (kept for inspection, out of
    the way of `latest`, `keep` and tf.train.latest_checkpoint) and rewrite the state file."""
    target = os.path.join(run_dir, UNREADABLE_DIR)
    os.makedirs(target, exist_ok=True)
    for path in paths:
        for f in glob.glob(path + '.*'):
            os.replace(f, os.path.join(target, os.path.basename(f)))
    steps = steps_on_disk(run_dir)
    if steps:
        write_state(run_dir, steps)
    elif os.path.exists(os.path.join(run_dir, 'checkpoint')):
        os.remove(os.path.join(run_dir, 'checkpoint'))


def write_state(run_dir, steps):
    """The `checkpoint` state file (CheckpointState text format) with relative names, which
    tf.train.latest_checkpoint resolves against the directory it reads."""
    lines = ['model_checkpoint_path: "%s"' % name(steps[-1])]
    lines += ['all_model_checkpoint_paths: "%s"' % name(s) for s in steps]
    fileio.write_atomic(os.path.join(run_dir, 'checkpoint'), ('\n'.join(lines) + '\n').encode())


def restore_or_init(sess, saver, trainable, run_dir, chief=True, required=()):
    """Restore the latest checkpoint or initialise (and load pretrained weights). A rank other
    than 0 only initialises: rank 0's values reach it by broadcast, so ranks need not share a
    file system and resume from rank 0's checkpoint. `required`: names of variables outside the
    model a checkpoint must hold (see missing_state)."""
    import tensorflow as tf
    found = latest(run_dir) if chief else None
    if found:
        missing = missing_state(found, required)
        if missing:  # e.g. a CPU/GPU checkpoint resumed on the NPU: no loss-scale state yet
            sess.run(tf.compat.v1.variables_initializer(missing))
            present = [v for v in tf.compat.v1.global_variables() if v not in missing]
            tf.compat.v1.train.Saver(var_list=present).restore(sess, found)
            sys.stderr.write('note: %s has no %s (written on another device?): they start '
                             'fresh\n' % (found, ', '.join(sorted(v.op.name for v in missing))))
        else:
            saver.restore(sess, found)
        sess.run(tf.compat.v1.local_variables_initializer())
    else:
        sess.run([tf.compat.v1.global_variables_initializer(),
                  tf.compat.v1.local_variables_initializer()])
        if trainable.init_fn is not None and chief:
            trainable.init_fn(sess)
    return found


def missing_state(checkpoint, required=()):
    """The graph's variables `checkpoint` lacks. Only state outside the model may be missing
    (the loss scale and its counters, the double's iteration counter, the saved rank count);
    a missing trainable variable, optimizer slot or `required` variable (the loop's step and input
    position), or a variable of another shape, means another model: ConfigError."""
    import tensorflow as tf
    saved = dict(tf.train.list_variables(checkpoint))
    graph = tf.compat.v1.global_variables()
    missing = [v for v in graph if v.op.name not in saved]
    model = set(tf.compat.v1.trainable_variables())
    slots = ('Momentum', 'Adam', 'Adam_1')
    wrong = sorted(v.op.name for v in missing if v in model or
                   v.op.name in required or v.op.name.rsplit('/', 1)[-1] in slots)
    wrong += sorted('%s (%s, saved %s)' % (v.op.name, v.shape.as_list(), saved[v.op.name])
                    for v in graph if v.op.name in saved and
                    v.shape.as_list() != list(saved[v.op.name]))
    if wrong:
        raise ConfigError(
            '%s does not fit this model, %d variable(s) missing or of another shape (%s%s): it '
            'was written by another model configuration; start a new --run-dir or restore the '
            'matching configuration'
            % (checkpoint, len(wrong), ', '.join(wrong[:3]), ', ...' if len(wrong) > 3 else ''))
    return missing
