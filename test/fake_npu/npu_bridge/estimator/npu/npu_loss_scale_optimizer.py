"""NPULossScaleOptimizer of the double: scaled gradients, and on overflow no update at all. With
is_distributed=True the overflow flag is all-reduced (HCCL), so every rank skips the same steps;
without it a rank skips its own overflow steps alone and the ranks drift apart, as on the 910.

The overflow flag is the chip's float status, one register for the whole step: any fp16 overflow
or saturation sets it, forward pass included, not only non-finite gradients (Ascend/tensorflow,
tf_adapter/python/npu_bridge/estimator/npu/npu_loss_scale_optimizer.py: apply_gradients reads
the status with npu_get_float_status after the gradients, then clears it). The double keeps it in
a variable that compute_gradients marks (the forward check: the loss not finite, or an output of
an op that mixed precision runs in fp16 past 65504, among the loss's inputs in its own
control-flow context) and apply_gradients reads and clears, adding non-finite gradients and the
injected overflows of fake.OVERFLOW. Backward fp16 saturation is not modelled (the double's
gradients are float32).

Adapters <= r1.6.0 (fake.ADAPTER) allocate the status tensor in compute_gradients and read it in
apply_gradients (branch r1.6.0 of the same file): a compute_gradients inside a cond branch hands
apply_gradients a tensor of that branch, dead on the iterations where the branch does not run,
and then neither the update nor anything after it runs.
"""
from __future__ import absolute_import, division, print_function

import tensorflow as tf

from npu_bridge import fake

FP16_MAX = 65504.0
# Ops allow_mix_precision runs in fp16 (matrix / convolution work on the cube unit).
FP16_OPS = frozenset(['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter', 'MatMul',
                      'BatchMatMul', 'BatchMatMulV2', 'DepthwiseConv2dNative'])
_STOP_TYPES = ('VariableV2', 'VarHandleOp', 'Placeholder', 'Const', 'IteratorGetNext')


def float_status_register():
    """The graph's float-status register (one per graph, outside any control flow)."""
    with tf.compat.v1.init_scope(), tf.compat.v1.variable_scope(
            tf.compat.v1.VariableScope(tf.compat.v1.AUTO_REUSE), auxiliary_name_scope=False):
        return tf.compat.v1.get_variable('npu_float_status', initializer=0.0, trainable=False)


def _forward_tensors(loss):
    """The loss and the fp16 ops' outputs among its inputs, in the loss's control-flow context."""
    context = loss.op._get_control_flow_context()
    seen, stack, out = set(), [loss.op], [loss]
    while stack:
        op = stack.pop()
        for t in op.inputs:
            if t.op in seen or t.op.type in _STOP_TYPES or \
                    t.op._get_control_flow_context() is not context:
                continue
            seen.add(t.op)
            stack.append(t.op)
            if t.op.type in FP16_OPS and t.dtype.is_floating:
                out.append(t)
    return out


def _overflows(tensor, fp16):
    x = tf.cast(tensor, tf.float32)
    bad = tf.logical_not(tf.reduce_all(tf.math.is_finite(x)))
    if fp16:
        bad = tf.logical_or(bad, tf.reduce_any(tf.abs(x) > FP16_MAX))
    return bad


class NPULossScaleOptimizer(tf.compat.v1.train.Optimizer):
    def __init__(self, opt, loss_scale_manager, is_distributed=False):
        super(NPULossScaleOptimizer, self).__init__(False, 'NPULossScaleOptimizer')
        self._opt = opt
        self._loss_scale_manager = loss_scale_manager
        self._schedule = fake.overflow_schedule()
        self._is_distributed = is_distributed
        self._rank = fake.rank_or_zero()
        self._allocated_status = None
        fake.CALLS.append((self._rank, 'NPULossScaleOptimizer', {'is_distributed': is_distributed}))
        with tf.compat.v1.variable_scope('fake_npu'):
            # every step the optimizer runs, skipped ones included (drives the injection)
            self._iteration = tf.compat.v1.get_variable('iteration', initializer=tf.constant(
                0, tf.int64), trainable=False)
        self._status = float_status_register()

    def compute_gradients(self, loss, var_list=None, **kwargs):
        scale = self._loss_scale_manager.get_loss_scale()
        if fake.status_allocated_in_compute_gradients():
            # npu_alloc_float_status of adapters <= r1.6.0: made here, in the caller's context
            self._allocated_status = tf.zeros([1], name='npu_alloc_float_status')
        forward = tf.reduce_any([_overflows(t, i > 0)
                                 for i, t in enumerate(_forward_tensors(loss))])
        mark = self._status.assign(tf.maximum(self._status, tf.cast(forward, tf.float32)))
        pairs = self._opt.compute_gradients(loss * scale, var_list=var_list, **kwargs)
        with tf.control_dependencies([mark]):
            return [(None if g is None else tf.identity(g / scale), v) for g, v in pairs]

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

    def _read_status(self, grads):
        """(overflow flag of the step, the op clearing the register after the read)."""
        with tf.control_dependencies(grads):
            status = self._status.read_value()
            if self._allocated_status is not None:  # the <= r1.6.0 dataflow
                status = status + tf.reduce_sum(self._allocated_status)
        overflow = tf.logical_or(status > 0.0, tf.logical_not(tf.reduce_all(
            [tf.reduce_all(tf.math.is_finite(g)) for g in grads])))
        overflow = tf.logical_or(overflow, self._injected_overflow())
        with tf.control_dependencies([overflow]):
            cleared = self._status.assign(0.0)
        return overflow, cleared

    def apply_gradients(self, grads_and_vars, global_step=None, name=None):
        grads_and_vars = list(grads_and_vars)
        overflow, cleared = self._read_status([g for g, _ in grads_and_vars if g is not None])
        finite = tf.logical_not(overflow)
        if self._is_distributed:
            from npu_bridge.hccl import hccl_ops
            overflows = hccl_ops.allreduce(tf.cast(overflow, tf.float32), 'sum', fusion=0)
            finite = tf.equal(overflows, 0.0)
        update_scale = self._loss_scale_manager.update_loss_scale(finite)
        with tf.control_dependencies([update_scale, cleared]):
            applied = tf.cond(finite,
                              lambda: tf.group(self._opt.apply_gradients(
                                  grads_and_vars, global_step=global_step)),
                              tf.no_op)
        with tf.control_dependencies([applied]):
            return self._iteration.assign_add(1).op
