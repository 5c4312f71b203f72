"""Reference implementations the tests check production code against; no production module
uses them."""
from __future__ import absolute_import, division, print_function

from trainers.distributed.gradients import all_reduce_packed


def reference_pair_probabilities(n, max_frame_dist):
    """{(s, d): probability} of the reference pair rule for one track of n frames: the gap d
    uniform in 1..min(n, max_frame_dist) clipped to n - 1, the exemplar s uniform in 0..n-1-d."""
    if n == 1:
        return {(0, 0): 1.0}
    span = min(n, max_frame_dist)
    probs = {}
    for drawn in range(1, span + 1):
        d = min(drawn, n - 1)
        for s in range(n - d):
            probs[(s, d)] = probs.get((s, d), 0.0) + 1.0 / span / (n - d)
    return probs


def average_variables(variables, collectives, pack_mb=32):
    """One op replacing each variable by its mean over the ranks. For statistics every rank
    updates from its own batch (batch-norm moving mean/variance): averaging right after the update
    equals updating from the rank-averaged batch statistics, and keeps them identical."""
    import tensorflow as tf
    if not variables:
        return tf.no_op()
    with tf.name_scope('average_statistics'):
        values = [v.read_value() for v in variables]
        means = all_reduce_packed(values, collectives, 'mean', pack_mb)
        return tf.group(*[tf.compat.v1.assign(v, m) for v, m in zip(variables, means)])
