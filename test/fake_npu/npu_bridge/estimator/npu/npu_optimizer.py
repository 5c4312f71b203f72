"""NPUDistributedOptimizer of the double: like the adapter's, with RANK_SIZE > 1 it sums every
gradient over the ranks with HCCL and divides by RANK_SIZE (a mean); applying is the wrapped
optimizer's. Read from the adapter's npu_optimizer.py (semantics only)."""
from __future__ import absolute_import, division, print_function

import os

import tensorflow as tf

from npu_bridge import fake
from npu_bridge.hccl import hccl_ops


class NPUDistributedOptimizer(tf.compat.v1.train.Optimizer):
    def __init__(self, optimizer, is_weight_update_sharding=False, name=None):
        if is_weight_update_sharding:
            raise NotImplementedError('the double models plain gradient all-reduce only')
        super(NPUDistributedOptimizer, self).__init__(
            False, name or 'Distributed' + type(optimizer).__name__)
        self._optimizer = optimizer
        fake.CALLS.append((fake.rank_or_zero(), 'NPUDistributedOptimizer', {}))

    def compute_gradients(self, *args, **kwargs):
        pairs = self._optimizer.compute_gradients(*args, **kwargs)
        size = int(os.environ.get('RANK_SIZE', '1'))
        if size <= 1:
            return pairs
        present = [(g, v) for g, v in pairs if g is not None]
        summed = hccl_ops.reduce_all([g for g, _ in present], 'sum')
        averaged = dict((id(v), s / float(size)) for (_, v), s in zip(present, summed))
        return [(averaged.get(id(v)) if g is not None else None, v) for g, v in pairs]

    def apply_gradients(self, grads_and_vars, global_step=None, name=None):
        return self._optimizer.apply_gradients(grads_and_vars, global_step, name)

    def get_slot(self, *args, **kwargs):
        return self._optimizer.get_slot(*args, **kwargs)

    def get_slot_names(self, *args, **kwargs):
        return self._optimizer.get_slot_names(*args, **kwargs)

    def variables(self, *args, **kwargs):
        return self._optimizer.variables(*args, **kwargs)
