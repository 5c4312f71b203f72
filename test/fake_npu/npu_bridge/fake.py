"""Controls and records of the npu_bridge test double (see the package docstring)."""
from __future__ import absolute_import, division, print_function

import collections
import contextlib
import os
import threading

# Overflow injection, read when a loss-scale optimizer builds its graph. An iteration i (0-based,
# counted by the optimizer over every step it runs, skipped ones included) overflows when
# period > 0 and i % period == phase, or when `from_iteration` is set and i >= from_iteration.
# `ranks`: the ranks it applies to (None: all; in-process HCCL ranks, see World).
OVERFLOW = {'period': 0, 'phase': 0, 'from_iteration': None, 'ranks': None}

# The adapter release the double behaves as (its Python-side dataflow differs between releases):
# up to r1.6.0, NPULossScaleOptimizer.compute_gradients allocates the float-status tensor and
# apply_gradients reads it (Ascend/tensorflow, branch r1.6.0,
# tf_adapter/python/npu_bridge/estimator/npu/npu_loss_scale_optimizer.py); from r1.7.0 the
# allocation is in apply_gradients. FAKE_NPU_ADAPTER="1.6.0" sets it for subprocesses.
ADAPTER = {'version': (1, 15, 0)}

# (session config, iterations_per_loop) of every set_iteration_per_loop call.
SESSIONS = []

# What the distributed wrappers were built with: (rank, name, details) per construction, e.g.
# (1, 'NPULossScaleOptimizer', {'is_distributed': True}) or (0, 'broadcast', {'root_rank': 0}).
CALLS = []


def overflow_schedule():
    """OVERFLOW, overridden by FAKE_NPU_OVERFLOW="period,phase[,from]" for subprocesses."""
    text = os.environ.get('FAKE_NPU_OVERFLOW')
    if not text:
        return dict(OVERFLOW)
    parts = [int(p) for p in text.split(',')]
    return {'period': parts[0], 'phase': parts[1],
            'from_iteration': parts[2] if len(parts) > 2 else None, 'ranks': None}


def adapter_version():
    """ADAPTER['version'], overridden by FAKE_NPU_ADAPTER="major.minor.patch"."""
    text = os.environ.get('FAKE_NPU_ADAPTER')
    if not text:
        return tuple(ADAPTER['version'])
    return tuple(int(p) for p in text.split('.'))


def status_allocated_in_compute_gradients():
    """True for adapters <= r1.6.0 (see ADAPTER)."""
    return adapter_version() <= (1, 6, 0)


def reset():
    ADAPTER['version'] = (1, 15, 0)
    OVERFLOW.update({'period': 0, 'phase': 0, 'from_iteration': None, 'ranks': None})
    del SESSIONS[:]
    del CALLS[:]
    _WORLD['world'] = None


# -- in-process HCCL ranks ---------------------------------------------------------------------
# HCCL connects one process per NPU. The double runs R ranks as R threads of one process, each
# building and running its own graph and session; its collectives (npu_bridge.hccl.hccl_ops)
# meet in a World. A rank's identity is bound to the thread that builds its graph
# (bind_rank) and baked into the ops it builds, since TensorFlow runs them on its own threads.

_STATE = threading.local()
_WORLD = {'world': None}


class World(object):
    """Rendezvous of R in-process ranks: every rank hands in its value for the n-th execution of
    collective `key` (the key is the op's build index in the rank's graph, equal on all ranks
    because they build the same graph) and gets every rank's value back, in rank order."""

    def __init__(self, size, timeout_s=120.0):
        self.size = size
        self.timeout_s = timeout_s
        self._cond = threading.Condition()
        self._runs = collections.Counter()   # (key, rank) -> executions so far
        self._slots = {}                      # (key, execution) -> {rank: value}
        self._readers = collections.Counter()

    def exchange(self, key, rank, value):
        with self._cond:
            execution = self._runs[(key, rank)]
            self._runs[(key, rank)] += 1
            slot = self._slots.setdefault((key, execution), {})
            slot[rank] = value
            self._cond.notify_all()
            if not self._cond.wait_for(lambda: len(slot) == self.size, self.timeout_s):
                raise RuntimeError('fake HCCL: rank %d waited %.0f s in collective %s (execution '
                                   '%d) for ranks %s' % (rank, self.timeout_s, key, execution,
                                                         sorted(set(range(self.size)) -
                                                                set(slot))))
            values = [slot[r] for r in range(self.size)]
            self._readers[(key, execution)] += 1
            if self._readers[(key, execution)] == self.size:
                del self._slots[(key, execution)], self._readers[(key, execution)]
        return values


@contextlib.contextmanager
def hccl_world(size):
    """R in-process ranks for the duration of the block (the threads call bind_rank)."""
    _WORLD['world'] = World(size)
    try:
        yield _WORLD['world']
    finally:
        _WORLD['world'] = None


def bind_rank(rank):
    """The calling thread builds rank `rank`'s graph."""
    _STATE.rank = rank


def current():
    """(world, rank) of the calling thread; an error outside hccl_world/bind_rank."""
    world, rank = _WORLD['world'], getattr(_STATE, 'rank', None)
    if world is None or rank is None:
        raise RuntimeError('fake HCCL ops need fake.hccl_world(size) and fake.bind_rank(rank) '
                           '(the real adapter reads the rank table)')
    return world, rank


def rank_or_zero():
    return getattr(_STATE, 'rank', 0) or 0
