"""Gradients averaged (or summed) over the ranks before each update, so every rank applies the
same update: packed all-reduces and the optimizer wrapper that runs them, on either engine's
collectives."""
from __future__ import absolute_import, division, print_function

import collections

def pack_groups(sizes_bytes, pack_bytes):
    """Consecutive index groups whose byte sizes add up to at most pack_bytes (a tensor larger
    than that is a group of its own): one all-reduce per group instead of one per tensor."""
    groups, current, filled = [], [], 0
    for index, size in enumerate(sizes_bytes):
        if current and filled + size > pack_bytes:
            groups.append(current)
            current, filled = [], 0
        current.append(index)
        filled += size
    if current:
        groups.append(current)
    return groups


def all_reduce_packed(tensors, collectives, reduction='mean', pack_mb=32):
    """All-reduce a list of tensors (None entries pass through), flattened and concatenated into
    packs of at most pack_mb per dtype: a few large transfers instead of many small ones."""
    import tensorflow as tf
    out = list(tensors)
    by_dtype = collections.OrderedDict()
    for index, tensor in enumerate(tensors):
        if tensor is not None:
            by_dtype.setdefault(tensor.dtype.base_dtype, []).append(index)
    with tf.name_scope('all_reduce'):
        for dtype, indices in by_dtype.items():
            sizes = [tensors[i].shape.num_elements() * dtype.size for i in indices]
            for group in pack_groups(sizes, pack_mb * 2 ** 20):
                members = [indices[g] for g in group]
                flat = tf.concat([tf.reshape(tensors[i], [-1]) for i in members], 0)
                reduced = collectives.all_reduce(flat, reduction)
                parts = tf.split(reduced, [tensors[i].shape.num_elements() for i in members])
                for i, part in zip(members, parts):
                    out[i] = tf.reshape(part, tensors[i].shape)
    return out


def reduce_gradients(grads_and_vars, collectives, reduction='mean', pack_mb=32):
    """grads_and_vars with every gradient all-reduced across the ranks (the loss's reduction over
    the batch decides: 'mean' for a per-example mean, 'sum' for a sum, so that a step of R ranks
    equals one step on the concatenation of their batches)."""
    import tensorflow as tf
    grads = [g for g, _ in grads_and_vars]
    if any(isinstance(g, tf.IndexedSlices) for g in grads):
        grads = [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g
                 for g in grads]
    reduced = all_reduce_packed(grads, collectives, reduction, pack_mb)
    return [(g, v) for g, (_, v) in zip(reduced, grads_and_vars)]


def distributed_optimizer(optimizer, collectives, reduction='mean', pack_mb=32):
    """`optimizer` with its gradients all-reduced across the ranks in compute_gradients (so
    minimize() works unchanged): the collective engine's counterpart of the CANN adapter's
    NPUDistributedOptimizer, which the device layer uses on Ascend."""
    return gradient_transform(
        optimizer, lambda gv: reduce_gradients(gv, collectives, reduction, pack_mb), 'Collective')


def gradient_transform(optimizer, transform, prefix):
    """`optimizer` whose compute_gradients passes its (gradient, variable) list through
    `transform`; applying, slots and variables are the wrapped optimizer's."""
    import tensorflow as tf

    class Transformed(tf.compat.v1.train.Optimizer):
        def __init__(self):
            super(Transformed, self).__init__(False, prefix + type(optimizer).__name__)

        def compute_gradients(self, *args, **kwargs):
            return transform(optimizer.compute_gradients(*args, **kwargs))

        def apply_gradients(self, *args, **kwargs):
            return optimizer.apply_gradients(*args, **kwargs)

        def get_slot(self, *args, **kwargs):
            return optimizer.get_slot(*args, **kwargs)

        def get_slot_names(self, *args, **kwargs):
            return optimizer.get_slot_names(*args, **kwargs)

        def variables(self, *args, **kwargs):
            return optimizer.variables(*args, **kwargs)

    return Transformed()
