"""Loss-scale managers of the double, with the adapter's update rule."""
from __future__ import absolute_import, division, print_function

import tensorflow as tf


class FixedLossScaleManager(object):
    def __init__(self, loss_scale):
        self._scale = tf.constant(float(loss_scale))

    def get_loss_scale(self):
        return self._scale

    def update_loss_scale(self, finite_grads):
        return tf.no_op()


class ExponentialUpdateLossScaleManager(object):
    """The adapter's update rule (Ascend/tensorflow, tf_adapter/python/npu_bridge/estimator/npu/
    npu_loss_scale_manager.py, update_loss_scale): a finite step counts a good step (the bad-step
    count is kept); incr_every_n_steps good ones in a row multiply the scale by incr_ratio (not
    past 3.4e38 / incr_ratio) and reset both counts. An overflowing step counts a bad step and
    resets the good ones; decr_every_n_nan_or_inf bad ones (not necessarily in a row) multiply
    the scale by decr_ratio, never below 1, and reset both counts."""

    def __init__(self, init_loss_scale, incr_every_n_steps, decr_every_n_nan_or_inf=2,
                 incr_ratio=2, decr_ratio=0.8):
        self._incr_every, self._decr_every = incr_every_n_steps, decr_every_n_nan_or_inf
        self._incr, self._decr = float(incr_ratio), float(decr_ratio)
        with tf.compat.v1.variable_scope('loss_scale'):
            self._scale = tf.compat.v1.get_variable(
                'loss_scale', initializer=float(init_loss_scale), trainable=False)
            self._good = tf.compat.v1.get_variable('good_steps', initializer=0, trainable=False)
            self._bad = tf.compat.v1.get_variable('bad_steps', initializer=0, trainable=False)

    def get_loss_scale(self):
        return self._scale

    def _reset_stats(self):
        return tf.group(self._good.assign(0), self._bad.assign(0))

    def update_loss_scale(self, finite_grads):
        def on_finite():
            def grow():
                scale = tf.where(self._scale < 3.4e38 / self._incr, self._scale * self._incr,
                                 self._scale)
                return tf.group(self._scale.assign(scale), self._reset_stats())
            return tf.cond(self._good + 1 >= self._incr_every, grow,
                           lambda: self._good.assign_add(1).op)

        def on_overflow():
            def shrink():
                return tf.group(self._scale.assign(tf.maximum(1.0, self._scale * self._decr)),
                                self._reset_stats())
            return tf.cond(self._bad + 1 >= self._decr_every, shrink,
                           lambda: tf.group(self._bad.assign_add(1), self._good.assign(0)))
        return tf.cond(finite_grads, on_finite, on_overflow)
