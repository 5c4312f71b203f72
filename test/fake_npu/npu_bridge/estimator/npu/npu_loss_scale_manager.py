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
    """x2 after incr_every_n_steps finite steps in a row (not past 3.4e38 / incr_ratio); x
    decr_ratio after decr_every_n_nan_or_inf overflowing steps (counted since the last change),
    never below 1: the adapter's floor, so a scale that keeps overflowing settles at 1."""

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

    def update_loss_scale(self, finite_grads):
        def on_finite():
            grow = self._good + 1 >= self._incr_every
            return tf.group(
                self._scale.assign(tf.where(tf.logical_and(grow, self._scale < 3.4e38 / self._incr),
                                            self._scale * self._incr, self._scale)),
                self._good.assign(tf.where(grow, 0, self._good + 1)), self._bad.assign(0))

        def on_overflow():
            shrink = self._bad + 1 >= self._decr_every
            return tf.group(
                self._scale.assign(tf.where(shrink, tf.maximum(1.0, self._scale * self._decr),
                                            self._scale)),
                self._bad.assign(tf.where(shrink, 0, self._bad + 1)), self._good.assign(0))
        return tf.cond(finite_grads, on_finite, on_overflow)
