"""NPUDistributedOptimizer of the double: like the adapter's, with RANK_SIZE > 1 it sums every
gradient over the ranks with HCCL, one all-reduce per gradient, and divides by RANK_SIZE (a
mean); applying is the wrapped optimizer's. Read from the adapter's npu_optimizer.py (semantics only)."""
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
        # one all-reduce per gradient, as the adapter's _averaged_gradients (npu_optimizer.py)
        return [(None if g is None else hccl_ops.reduce_all([g], 'sum')[0] / float(size), v)
                for g, v in pairs]

    def apply_gradients(self, grads_and_vars, global_step=None, name=None):
        return self._optimizer.apply_gradients(grads_and_vars, global_step, name)

    def get_slot(self, *args, **kwargs):
        return self._optimizer.get_slot(*args, **kwargs)

    def get_slot_names(self, *args, **kwargs):
        return self._optimizer.get_slot_names(*args, **kwargs)

    def variables(self, *args, **kwargs):
        return self._optimizer.variables(*args, **kwargs)
