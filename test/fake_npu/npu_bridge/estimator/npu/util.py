"""set_iteration_per_loop of the double: one looped `IterationOp` per graph, in a session whose
config runs on the NPU (recorded in fake.SESSIONS for every call, N = 1 included)."""
from __future__ import absolute_import, division, print_function

import tensorflow as tf

from npu_bridge import fake

LOOP_NAME = 'IterationOp'


def _config_iterations(config):
    for custom in config.graph_options.rewrite_options.custom_optimizers:
        if custom.name == 'NpuOptimizer' and 'iterations_per_loop' in custom.parameter_map:
            return custom.parameter_map['iterations_per_loop'].i
    return 1


def _is_npu_config(config):
    return config is not None and any(
        c.name == 'NpuOptimizer' and c.parameter_map['use_off_line'].b
        for c in config.graph_options.rewrite_options.custom_optimizers)


def set_iteration_per_loop(sess, train_op, iterations_per_loop=1):
    config = getattr(sess, '_config', None)
    fake.SESSIONS.append((config, iterations_per_loop))
    if not _is_npu_config(config):
        raise AssertionError('the session does not run on the NPU: its config lacks the '
                             'NpuOptimizer custom optimizer with use_off_line')
    if iterations_per_loop == 1:
        return train_op
    if _config_iterations(config) != iterations_per_loop:
        raise AssertionError('the session config must set NpuOptimizer iterations_per_loop=%d '
                             '(it has %s)' % (iterations_per_loop,
                                              config and _config_iterations(config)))
    with sess.graph.as_default():
        loop_op = tf.group(train_op, name=LOOP_NAME)
    if loop_op.name != LOOP_NAME:
        raise AssertionError('a second IterationOp (%s) in one graph: the adapter loops only the '
                             'op named %s, so this one would run once per session.run'
                             % (loop_op.name, LOOP_NAME))
    _loop_session(sess, loop_op, train_op, iterations_per_loop)
    return loop_op


def _contains(fetches, op):
    if fetches is op:
        return True
    if isinstance(fetches, dict):
        return any(_contains(v, op) for v in fetches.values())
    if isinstance(fetches, (list, tuple)):
        return any(_contains(v, op) for v in fetches)
    return False


def _loop_session(sess, loop_op, train_op, n):
    """The GeOp's device loop: a run fetching IterationOp runs the whole graph of that run (every
    fetch: summaries, metrics, the loop's own checks) n times (Ascend/tensorflow,
    tf_adapter/kernels/geop_npu.cc: the loop repeats the compiled graph); what it returns comes
    from the last iteration."""
    plain_run = sess.run

    def run(fetches, feed_dict=None, options=None, run_metadata=None):
        if _contains(fetches, loop_op):
            for _ in range(n - 1):
                plain_run(fetches, feed_dict=feed_dict)
        return plain_run(fetches, feed_dict=feed_dict, options=options,
                         run_metadata=run_metadata)
    sess.run = run
