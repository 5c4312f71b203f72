"""Checkpoints of a run directory: named by global_step, state file with relative paths (a run
directory can be moved or copied), and `keep` honoured across resumes (the newest `keep` files
by step are kept, whichever run wrote them)."""
from __future__ import absolute_import, division, print_function

import glob
import os
import re
import sys

from trainers.config import ConfigError

PREFIX = 'model.ckpt'
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
    """Write model.ckpt-<step>, delete all but the newest `keep`, and rewrite the state file with
    names relative to run_dir. Returns the checkpoint path."""
    path = saver.save(sess, os.path.join(run_dir, PREFIX), global_step=step,
                      write_meta_graph=False, write_state=False)
    steps = steps_on_disk(run_dir)
    if keep:
        for old in steps[:-keep]:
            for f in glob.glob(os.path.join(run_dir, name(old) + '.*')):
                os.remove(f)
        steps = steps[-keep:]
    write_state(run_dir, steps)
    return path


def write_state(run_dir, steps):
    """The `checkpoint` state file (CheckpointState text format) with relative names, which
    tf.train.latest_checkpoint resolves against the directory it reads."""
    lines = ['model_checkpoint_path: "%s"' % name(steps[-1])]
    lines += ['all_model_checkpoint_paths: "%s"' % name(s) for s in steps]
    tmp = os.path.join(run_dir, 'checkpoint.tmp')
    with open(tmp, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    os.replace(tmp, os.path.join(run_dir, 'checkpoint'))


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
