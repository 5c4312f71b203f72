"""The data-parallel side of one training run, as the graph builders and the loop see it.

`DataParallel` is what a trainer's build() is given: its part of the input, the optimizer
wrapping (HCCL on Ascend in the device layer, TensorFlow's collectives on CPU/GPU), batch norm over
the global batch, loss reductions. `Cluster` holds the collective ops the loop adds to a
distributed graph (start-up agreement, broadcast of rank 0's variables, stop agreement, the
global batch's loss) and runs every session.run under the peer watchdog. For a single process
both are pass-throughs. The engines and the pieces used here are the other modules of
trainers/distributed/.
"""
from __future__ import absolute_import, division, print_function

import contextlib
import hashlib
import json
import sys

from trainers import device as device_lib
from trainers.distributed import agreement, settings, sync_batch_norm
from trainers.distributed.topology import SINGLE, ParallelError
from trainers.distributed.watchdog import Watchdog

RANKS_VARIABLE = 'data_parallel_ranks'


class DataParallel(object):
    """The data-parallel side of one run, as a trainer's graph and the loop see it: the topology,
    the collectives of its engine (collective_engine.Collectives on CPU/GPU, the device layer's
    HCCL ones on Ascend; None for one process), the `parallel` config section and the session
    target.
    DataParallel() is the single-device run, where every method leaves things as they are."""

    def __init__(self, topology=SINGLE, collectives=None, cfg=None, target=''):
        self.topology = topology
        self.collectives = collectives
        self.cfg = dict(settings.PARALLEL, **(cfg or {}))
        self.target = target
        self.reduction = 'mean'  # how the ranks' losses combine; set by optimizer()
        if topology.distributed and collectives is None:
            raise ParallelError('%d ranks need collectives' % topology.size)

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
        'linear' (settings.scaled_learning_rate)."""
        return settings.scaled_learning_rate(lr, global_step, self.topology.size,
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
        distributed (sync_batch_norm.synced_batch_norm), else slim's own."""
        if not self.distributed:
            return contextlib.contextmanager(lambda: (yield))()
        return sync_batch_norm.synced_batch_norm(self.collectives)

    def total(self, tensor):
        """`tensor` summed over the ranks."""
        return self.collectives.all_reduce(tensor, 'sum') if self.distributed else tensor

    def global_loss(self, loss):
        """The loss of the global batch from the ranks' losses (what the divergence guard and
        the log see): their mean or their sum, as optimizer() was told."""
        if not self.distributed:
            return loss
        return self.collectives.all_reduce(loss, self.reduction)


class Cluster(object):
    """The collective ops the loop of a distributed run adds to the graph, built before the
    session and in the same order on every rank (collective instance keys follow build order):
    the start-up agreement check, the broadcast of rank 0's variables, the stop agreement and the
    rank-averaged loss. For one process only the saved rank count (RANKS_VARIABLE, in every
    run's checkpoints); every other method is a pass-through."""

    def __init__(self, dp, trainable, config):
        import tensorflow as tf
        self.dp = dp
        self.watchdog = Watchdog(dp.topology)
        self.warm = False  # a training step has finished (graph compiled, every rank running)
        # saved with every checkpoint: a run resumes with the rank count that wrote it (the
        # input position counts each rank's batches)
        self.ranks_variable = tf.compat.v1.Variable(
            dp.topology.size, dtype=tf.int64, trainable=False, name=RANKS_VARIABLE)
        if not dp.distributed:
            return
        coll = dp.collectives
        variables = tf.compat.v1.global_variables()
        what = json.dumps(config, sort_keys=True) + ''.join(
            '%s%s' % (v.op.name, v.shape.as_list()) for v in variables)
        self.agree = agreement.agreement_check(coll, agreement.fingerprint(what))
        self.broadcast = agreement.broadcast_variables(variables, coll)
        self.stop_flag, self.stop_agreed = agreement.stop_agreement(coll)
        self.global_loss = dp.global_loss(trainable.loss)

    def run(self, sess, fetches, label, feed_dict=None):
        """sess.run under the watchdog: a rank whose peer died stops within the timeout. Until
        the first training step has finished (start-up checks, the broadcast and that step,
        whose graph compiles first: minutes on an NPU) the start-up timeout applies."""
        timeout = self.dp.cfg['step_timeout_s' if self.warm else 'startup_timeout_s']
        with self.watchdog.watch(label, timeout):
            return sess.run(fetches, feed_dict=feed_dict)

    def step(self, sess, fetches, label, stop_requested):
        """One training run: the step's fetches, with the global batch's loss as 'loss' and
        'stop' > 0 when any rank was asked to stop."""
        if self.dp.distributed:
            fetches = dict(fetches, global_loss=self.global_loss, stop=self.stop_agreed)
            out = self.run(sess, fetches, label, {self.stop_flag: 1.0 if stop_requested else 0.0})
            out['loss'] = out.pop('global_loss')
        else:
            out = sess.run(fetches)
        self.warm = True
        return out

    def start(self, sess):
        """Every rank must run the same configuration; then all take rank 0's variables."""
        if not self.dp.distributed:
            return
        agreement.check_agreement(int(round(self.run(sess, self.agree, 'the start-up check'))),
                                  'a configuration or model')
        self.run(sess, self.broadcast, 'the broadcast of rank 0\'s variables')

    def close(self):
        self.watchdog.close()

    def check_resume(self, checkpoint):
        """Refuse to resume `checkpoint` with another rank count than the one that wrote it
        (checked by rank 0 before any session, so no rank waits on a broken start)."""
        if not checkpoint:
            return
        import tensorflow as tf
        reader = tf.train.load_checkpoint(checkpoint)
        if not reader.has_tensor(RANKS_VARIABLE):
            return  # written before the rank count was saved
        saved = int(reader.get_tensor(RANKS_VARIABLE))
        if saved != self.dp.topology.size:
            raise ParallelError(
                '%s was written by a run of %d rank(s); resume it with %d (the saved input '
                'position counts each rank\'s batches), or start a new --run-dir'
                % (checkpoint, saved, saved))

    def report_digest(self, sess):
        """Ranks print the digest of their variables at the end: equal on every rank, or they
        drifted apart (the tests compare them). Computed for distributed runs only (it reads
        every variable to the host)."""
        if not self.dp.distributed:
            return None
        digest = variables_digest(sess)
        sys.stderr.write('rank %d: variables sha1 %s\n' % (self.dp.topology.rank, digest))
        return digest


def variables_digest(sess):
    """SHA-1 of every global variable's name and bytes."""
    import tensorflow as tf
    variables = sorted(tf.compat.v1.global_variables(), key=lambda v: v.op.name)
    digest = hashlib.sha1()
    for variable, value in zip(variables, sess.run(variables)):
        digest.update(variable.op.name.encode('utf-8'))
        digest.update(value.tobytes())
    return digest.hexdigest()
