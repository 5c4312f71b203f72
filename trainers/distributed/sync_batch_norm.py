"""Batch normalisation over the global batch of every rank (synchronised batch norm), which the
models take through normalizer()."""
from __future__ import absolute_import, division, print_function

import contextlib
import functools
import threading

FUSED_MIN_EPSILON = 1.001e-5  # tf.nn.fused_batch_norm raises a smaller epsilon to this
_SYNC = threading.local()


@contextlib.contextmanager
def synced_batch_norm(collectives):
    """Within this context, normalizer() gives batch_norm over every rank's batch: a trainer
    builds its training tower inside it when the run is distributed."""
    stack = _SYNC.__dict__.setdefault('stack', [])
    stack.append(collectives)
    try:
        yield
    finally:
        stack.pop()


@contextlib.contextmanager
def plain_batch_norm():
    """Within this context normalizer() gives slim's own batch norm even inside
    synced_batch_norm: for towers whose ops never run (OSMN's variable-creating tower), whose
    updates must not join the chain of the towers that do (_ordered_update)."""
    with synced_batch_norm(None):
        yield


def normalizer(default):
    """The normaliser a model passes to slim.conv2d: `default` (slim.batch_norm), or inside
    synced_batch_norm(collectives) the global-batch batch_norm below."""
    stack = getattr(_SYNC, 'stack', None)
    if not stack or stack[-1] is None:
        return default
    return functools.partial(batch_norm, collectives=stack[-1])


def batch_norm(inputs, collectives, decay=0.999, center=True, scale=False, epsilon=0.001,
               is_training=True, updates_collections=None, reuse=None, scope=None, **unused):
    """slim.batch_norm as the models call it (NHWC, fused), with training-mode statistics taken
    over the concatenation of every rank's batch (synced_moments). Same variables, names and
    initialisers as slim's, so checkpoints move between one and R ranks; the same numbers as
    slim's fused kernel: epsilon at least FUSED_MIN_EPSILON, normalised with the batch's biased
    variance, the moving variance fed the unbiased one (n / (n - 1), n counted over the global
    batch), moving averages updated in place when updates_collections is None."""
    import tensorflow as tf
    params_shape = inputs.shape[-1:]
    axes = list(range(inputs.shape.ndims - 1))
    with tf.compat.v1.variable_scope(scope, 'BatchNorm', [inputs], reuse=reuse):
        beta = tf.contrib.framework.model_variable(
            'beta', shape=params_shape, initializer=tf.compat.v1.zeros_initializer(),
            trainable=True) if center else None
        gamma = tf.contrib.framework.model_variable(
            'gamma', shape=params_shape, initializer=tf.compat.v1.ones_initializer(),
            trainable=True) if scale else None
        moving_mean = tf.contrib.framework.model_variable(
            'moving_mean', shape=params_shape, initializer=tf.compat.v1.zeros_initializer(),
            trainable=False)
        moving_variance = tf.contrib.framework.model_variable(
            'moving_variance', shape=params_shape, initializer=tf.compat.v1.ones_initializer(),
            trainable=False)
        epsilon = max(epsilon, FUSED_MIN_EPSILON)
        if not is_training:
            return tf.nn.batch_normalization(inputs, moving_mean, moving_variance, beta, gamma,
                                             epsilon)
        mean, variance = synced_moments(inputs, axes, collectives)
        outputs = tf.nn.batch_normalization(inputs, mean, variance, beta, gamma, epsilon)
        count = inputs.shape[:-1].num_elements() * collectives.topology.size
        unbiased = variance * (count / max(count - 1.0, 1.0))
        updates = [_ordered_update(moving, value, decay)
                   for moving, value in ((moving_mean, mean), (moving_variance, unbiased))]
        if updates_collections is None:
            with tf.control_dependencies(updates):
                return tf.identity(outputs)
        for update in updates:
            tf.compat.v1.add_to_collections(updates_collections, update)
        return outputs


def _ordered_update(moving, value, decay):
    """moving -= (1 - decay) * (moving - value), after this variable's earlier updates in the
    same control-flow context. A layer applied twice per step (SA-Siam's exemplar and instance)
    updates its statistics twice; unordered, the two updates land in either order and ranks
    drift apart. Updates in different branches of a cond (OSMN's scales) are not chained: only
    one branch runs, and a dependency on another would pull it in (or fail on its dead output)."""
    import tensorflow as tf
    context = tf.compat.v1.get_default_graph()._get_control_flow_context()  # TF 1.x: no public API
    key = 'synced_batch_norm_updates/%s/%s' % (moving.op.name, id(context) if context else 'top')
    earlier = tf.compat.v1.get_collection(key)
    with tf.control_dependencies(earlier[-1:]):
        update = tf.compat.v1.assign_sub(moving, (moving - tf.stop_gradient(value)) *
                                         (1.0 - decay))
    tf.compat.v1.add_to_collection(key, update)
    return update


def differentiable_mean(tensor, collectives):
    """Mean of `tensor` over the ranks, with a gradient (TF 1.15 registers none for collectives):
    every rank's loss depends on the mean, so the gradient reaching each rank's input is the mean
    of the ranks' incoming gradients."""
    import tensorflow as tf

    @tf.custom_gradient
    def mean(x):
        def grad(dy):
            return collectives.all_reduce(dy, 'mean')
        return collectives.all_reduce(x, 'mean'), grad
    return mean(tensor)


def synced_moments(x, axes, collectives):
    """(mean, variance) of `x` over `axes` and over every rank's batch (equal batch sizes): the
    statistics of the concatenated global batch, computed as tf.nn.moments does (mean, then the
    mean squared deviation from it). Batch normalisation on these makes a step of R ranks equal
    one single-device step on the concatenation; with per-rank statistics it is not (each rank
    normalises with its own batch's statistics, as a single card of the reference did)."""
    import tensorflow as tf
    mean = differentiable_mean(tf.reduce_mean(x, axes), collectives)
    deviation = tf.math.squared_difference(x, tf.stop_gradient(mean))
    return mean, differentiable_mean(tf.reduce_mean(deviation, axes), collectives)
