"""Puts the npu_bridge test double (test/fake_npu) on sys.path for the duration of a test; checks
the op types of a training graph against the device layer's review."""
from __future__ import absolute_import, division, print_function

import contextlib
import os
import sys

import tensorflow as tf

from trainers import device

FAKE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fake_npu')


def _drop_modules():
    for name in [n for n in sys.modules if n == 'npu_bridge' or n.startswith('npu_bridge.')]:
        del sys.modules[name]


@contextlib.contextmanager
def fake_npu(period=0, phase=0, from_iteration=None, adapter=None):
    """Yields the double's `fake` module, with overflow injected on iterations i where
    i % period == phase (period > 0) or i >= from_iteration; `adapter` (e.g. (1, 6, 0)): the
    adapter release whose dataflow the double follows (fake.ADAPTER)."""
    _drop_modules()
    sys.path.insert(0, FAKE_DIR)
    try:
        from npu_bridge import fake
        fake.reset()
        fake.OVERFLOW.update(period=period, phase=phase, from_iteration=from_iteration)
        if adapter is not None:
            fake.ADAPTER['version'] = tuple(adapter)
        yield fake
    finally:
        sys.path.remove(FAKE_DIR)
        _drop_modules()


def assert_ops_reviewed(graph):
    """Every op type of the training graph is plain or reviewed for the NPU (device.py), and the
    reviewed ones run on the dtypes chosen there."""
    unreviewed = device.unreviewed_op_types(graph)
    assert unreviewed == [], unreviewed
    assert 'CropAndResize' in device.not_plain_ops(graph)
    dtypes = {op.type: set() for op in graph.get_operations()}
    for op in graph.get_operations():
        if op.inputs:
            dtypes[op.type].add(op.inputs[0].dtype)
    assert dtypes['CropAndResize'] == {tf.float32}
    assert dtypes.get('Cumsum', {tf.int32}) == {tf.int32}  # fp16-safe counts
