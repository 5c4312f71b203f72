"""The trainers' `parallel` config section, and what the rank count changes in a run: the
per-rank seeds and the learning rate."""
from __future__ import absolute_import, division, print_function

from trainers.distributed.topology import ParallelError

# Configuration as data: the trainers' `parallel` config section.
PARALLEL = {
    'startup_timeout_s': 900,    # first step: every rank must have started and built its graph
    'step_timeout_s': 300,       # later steps (a checkpoint or validation on rank 0 counts too)
    'lr_scaling': 'none',        # none (the reference's single-card schedule) | linear
    'warmup_steps': 0,           # linear: ramp from lr to ranks * lr over this many steps
    'communication': 'auto',     # collective engine: auto | ring | nccl (GPU)
    'pack_mb': 32,               # gradients are all-reduced in packs of at most this size
}
LR_SCALING = ('none', 'linear')
COMMUNICATION = ('auto', 'ring', 'nccl')


def check_config(cfg):
    """Checks the `parallel` config section (keys as in PARALLEL)."""
    if cfg['lr_scaling'] not in LR_SCALING:
        raise ParallelError('parallel.lr_scaling must be one of %s, got %r'
                            % (LR_SCALING, cfg['lr_scaling']))
    if cfg['communication'] not in COMMUNICATION:
        raise ParallelError('parallel.communication must be one of %s, got %r'
                            % (COMMUNICATION, cfg['communication']))
    if int(cfg['warmup_steps']) < 0 or cfg['step_timeout_s'] <= 0 or \
            cfg['startup_timeout_s'] <= 0 or cfg['pack_mb'] <= 0:
        raise ParallelError('parallel.warmup_steps must be >= 0 and the timeouts and pack_mb > 0')


RANK_SEED_STRIDE = 1 << 32


def rank_seed(seed, rank):
    """A per-rank seed (int or int64 tensor) for element randomness: ranks draw different
    augmentations, rank 0 keeps the single-device seed (a one-rank run is the single-device run),
    and the 2**32 stride keeps every rank's seeds apart from the 31-bit named seeds
    (reader.derive_seed) and from the other ranks'."""
    return seed + rank * RANK_SEED_STRIDE


def scaled_learning_rate(lr, global_step, ranks, rule='none', warmup_steps=0):
    """The learning rate under data parallelism.

    'none' keeps the given (single-card) schedule: with averaged gradients each step then moves as
    far as a single-card step on a batch `ranks` times larger. 'linear' is the linear-scaling rule
    with gradual warm-up (Goyal et al. 2017, "Accurate, Large Minibatch SGD"): lr * ranks, reached
    by a linear ramp from lr over `warmup_steps` steps.
    """
    import tensorflow as tf
    if rule not in LR_SCALING:
        raise ParallelError('lr scaling must be one of %s, got %r' % (LR_SCALING, rule))
    if rule == 'none' or ranks == 1:
        return lr
    lr = tf.convert_to_tensor(lr)
    scaled = lr * float(ranks)
    if not warmup_steps:
        return scaled
    progress = tf.minimum(tf.cast(global_step, lr.dtype) / float(warmup_steps), 1.0)
    return lr + (scaled - lr) * progress
