"""hccl_ops of the double: allreduce and broadcast across the in-process ranks of fake.World,
with the adapter's signatures (allreduce(tensor, reduction, ...); broadcast(list of tensors,
root_rank, ...) -> list). Every rank gets the same bits: values are combined in rank order."""
from __future__ import absolute_import, division, print_function

import numpy as np
import tensorflow as tf

from npu_bridge import fake

# The dtypes HcomAllReduce (and HcomReduce, HcomReduceScatter) accept (Ascend/tensorflow, branch
# development, tf_adapter/ops/hccl_ops.cc): anything else fails when the op is built.
ALL_REDUCE_DTYPES = (tf.int8, tf.int16, tf.int32, tf.float16, tf.float32)

_REDUCE = {'sum': np.add, 'max': np.maximum, 'min': np.minimum, 'prod': np.multiply}


def _key(kind):
    """The op's build index in this graph: equal on every rank (they build the same graph)."""
    graph = tf.compat.v1.get_default_graph()
    keys = graph.get_collection_ref('fake_hccl_keys')
    keys.append(kind)
    return '%s:%d' % (kind, len(keys))


def exchanged(tensors, combine, kind):
    """One op over `tensors`: every rank's values, combined by combine(list of per-rank value
    lists) -> list of arrays (one per tensor)."""
    world, rank = fake.current()
    key = _key(kind)
    dtypes = [t.dtype for t in tensors]

    def run(*values):
        combined = combine(world.exchange(key, rank, list(values)))
        return [np.asarray(v, dtype=d.as_numpy_dtype) for v, d in zip(combined, dtypes)]
    outputs = tf.compat.v1.py_func(run, list(tensors), dtypes, stateful=True,
                                   name='Fake' + kind.capitalize())
    for out, t in zip(outputs, tensors):
        out.set_shape(t.shape)
    return outputs


def check_dtype(tensor):
    """TypeError, as the adapter's op registration raises it, for a dtype HCCL does not move."""
    if tensor.dtype.base_dtype not in ALL_REDUCE_DTYPES:
        raise TypeError('Value passed to parameter \'input\' has DataType %s not in list of '
                        'allowed values: int8, int16, int32, float16, float32 (HcomAllReduce)'
                        % tensor.dtype.base_dtype.name)


def reduce_all(tensors, reduction):
    """All-reduce of several tensors in one op (the double's bookkeeping; the adapter issues one
    HcomAllReduce per tensor, see allreduce)."""
    for tensor in tensors:
        check_dtype(tf.convert_to_tensor(tensor))
    combine_one = _REDUCE[reduction]

    def combine(per_rank):
        out = list(per_rank[0])
        for values in per_rank[1:]:
            out = [combine_one(a, b) for a, b in zip(out, values)]
        return out
    return exchanged(tensors, combine, 'allreduce')


def allreduce(tensor, reduction, fusion=1, fusion_id=-1, group='hccl_world_group'):
    if reduction not in _REDUCE:
        raise ValueError('reduction must be one of %s' % sorted(_REDUCE))
    tensor = tf.convert_to_tensor(tensor)
    check_dtype(tensor)
    fake.CALLS.append((fake.current()[1], 'allreduce', {'reduction': reduction}))

    @tf.custom_gradient
    def reduced(x):
        def grad(dy):  # as the adapter registers for HcomAllReduce: the sum of the gradients
            return reduce_all([dy], 'sum')[0]
        return reduce_all([x], reduction)[0], grad
    return reduced(tensor)


def broadcast(tensor, root_rank, fusion=2, fusion_id=0, group='hccl_world_group'):
    tensors = list(tensor)
    fake.CALLS.append((fake.current()[1], 'broadcast', {'root_rank': root_rank,
                                                        'count': len(tensors)}))
    return exchanged(tensors, lambda per_rank: per_rank[root_rank], 'broadcast')
