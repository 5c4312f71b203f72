"""NPULossScaleOptimizer of the double: scaled gradients, and on overflow no update at all. With
is_distributed=True the overflow flag is all-reduced (HCCL), so every rank skips the same steps;
without it a rank skips its own overflow steps alone and the ranks drift apart, as on the 910."""
from __future__ import absolute_import, division, print_function

import tensorflow as tf

from npu_bridge import fake


class NPULossScaleOptimizer(tf.compat.v1.train.Optimizer):
    def __init__(self, opt, loss_scale_manager, is_distributed=False):
        super(NPULossScaleOptimizer, self).__init__(False, 'NPULossScaleOptimizer')
        self._opt = opt
        self._loss_scale_manager = loss_scale_manager
        self._schedule = fake.overflow_schedule()
        self._is_distributed = is_distributed
        self._rank = fake.rank_or_zero()
        fake.CALLS.append((self._rank, 'NPULossScaleOptimizer', {'is_distributed': is_distributed}))
        with tf.compat.v1.variable_scope('fake_npu'):
            # every step the optimizer runs, skipped ones included (drives the injection)
            self._iteration = tf.compat.v1.get_variable('iteration', initializer=tf.constant(
                0, tf.int64), trainable=False)

    def compute_gradients(self, loss, var_list=None, **kwargs):
        scale = self._loss_scale_manager.get_loss_scale()
        pairs = self._opt.compute_gradients(loss * scale, var_list=var_list, **kwargs)
        return [(None if g is None else g / scale, v) for g, v in pairs]

    def _injected_overflow(self):
        s, i = self._schedule, self._iteration
        out = tf.constant(False)
        if s.get('ranks') is not None and self._rank not in s['ranks']:
            return out
        if s['period']:
            out = tf.logical_or(out, tf.equal(i % s['period'], s['phase']))
        if s['from_iteration'] is not None:
            out = tf.logical_or(out, i >= s['from_iteration'])
        return out

    def apply_gradients(self, grads_and_vars, global_step=None, name=None):
        grads_and_vars = list(grads_and_vars)
        finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(g))
                                for g, _ in grads_and_vars if g is not None])
        finite = tf.logical_and(finite, tf.logical_not(self._injected_overflow()))
        if self._is_distributed:
            from npu_bridge.hccl import hccl_ops
            overflows = hccl_ops.allreduce(1.0 - tf.cast(finite, tf.float32), 'sum')
            finite = tf.equal(overflows, 0.0)
        update_scale = self._loss_scale_manager.update_loss_scale(finite)
        with tf.control_dependencies([update_scale]):
            applied = tf.cond(finite,
                              lambda: tf.group(self._opt.apply_gradients(
                                  grads_and_vars, global_step=global_step)),
                              tf.no_op)
        with tf.control_dependencies([applied]):
            return self._iteration.assign_add(1).op
