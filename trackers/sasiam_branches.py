"""The branches of an SA-Siam tracker: a trained appearance or semantic network (its run
directory's config.json and newest checkpoint, or a checkpoint prefix), an untrained one for
benchmarks, or the non-learned pixel_pool embedding; and the tracker's name from its branches."""
from __future__ import absolute_import, division, print_function

import collections
import json
import os

BRANCHES = ('appearance', 'semantic')
PIXEL_POOL = 'pixel_pool'


class TrackerError(ValueError):
    """A run directory, checkpoint or option the tracker cannot use (one-line message)."""


Branch = collections.namedtuple('Branch', 'kind model checkpoint weight name')


def latest_checkpoint(run):
    """A run directory's newest checkpoint, or a checkpoint prefix given directly."""
    import tensorflow as tf
    if os.path.isdir(run):
        found = tf.train.latest_checkpoint(run)
        if not found:
            raise TrackerError('%s has no checkpoint (train it first: make train-sasiam)' % run)
        return found
    if tf.io.gfile.exists(run + '.index'):
        return run
    raise TrackerError('%s is neither a run directory nor a checkpoint prefix' % run)


def load_branch(run, weight=1.0):
    """Branch from a training run directory (config.json + newest checkpoint) or a checkpoint
    prefix inside one."""
    run_dir = run if os.path.isdir(run) else os.path.dirname(run)
    path = os.path.join(run_dir, 'config.json')
    try:
        with open(path) as f:
            model_cfg = json.load(f)['model']
    except (IOError, OSError, ValueError, KeyError) as err:
        raise TrackerError('cannot read the model config %s: %s' % (path, err))
    from trainers.sasiam import train
    # keys a run written before a model option existed lacks take the trainer's defaults
    model_cfg = dict(train.DEFAULTS['model'], **model_cfg)
    if model_cfg.get('branch') not in BRANCHES:
        raise TrackerError('%s: model.branch %r is not one of %s' % (path, model_cfg.get('branch'),
                                                                     BRANCHES))
    return Branch(model_cfg['branch'], model_cfg, latest_checkpoint(run), weight, run_name(run))


def run_name(run):
    """The tracker name of a run: its directory's name, plus `-<step>` for a checkpoint prefix
    (runs/a -> a, runs/a/model.ckpt-2000 -> a-2000), so that two checkpoints of one run write
    to different results/<name>/ folders."""
    path = os.path.abspath(run)
    if os.path.isdir(path):
        return os.path.basename(path)
    checkpoint = os.path.basename(path)
    step = checkpoint.rsplit('-', 1)[-1]
    return '%s-%s' % (os.path.basename(os.path.dirname(path)),
                      step if step.isdigit() else checkpoint)


def branches_from_runs(runs, cfg):
    """One run -> that branch alone; two runs -> appearance + semantic, weighted
    c_appearance / 1 - c_appearance."""
    loaded = [load_branch(r) for r in runs]
    if len(loaded) == 1:
        return loaded
    kinds = sorted(b.kind for b in loaded)
    if kinds != sorted(BRANCHES):
        raise TrackerError('two runs must be one appearance and one semantic run, got %s'
                           % ', '.join('%s (%s)' % (b.name, b.kind) for b in loaded))
    weights = {'appearance': cfg['c_appearance'], 'semantic': 1.0 - cfg['c_appearance']}
    return sorted((b._replace(weight=weights[b.kind]) for b in loaded), key=lambda b: b.kind)


def untrained_branch(kind, width=1.0):
    """A branch of the trainer's default model with initial (random) weights: for benchmarks."""
    from trainers.sasiam import train
    return Branch(kind, dict(train.DEFAULTS['model'], branch=kind, width=width), None, 1.0,
                  'untrained-' + kind)


def pixel_pool_branch():
    return Branch(PIXEL_POOL, None, None, 1.0, PIXEL_POOL)


def tracker_name(branches):
    return '+'.join(b.name for b in branches)
