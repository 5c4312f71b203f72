"""Where this process stands among the ranks of one data-parallel run, read from its environment.

Engines (chosen from the environment by `from_env`):
  * `hccl`: Ascend. The CANN adapter's contract: RANK_TABLE_FILE, RANK_SIZE, RANK_ID, DEVICE_ID /
    ASCEND_DEVICE_ID, JOB_ID in the environment (`python -m trainers.launch --npus 8` sets them).
  * `collective`: CPU/GPU. TensorFlow 1.15's collective ops over gRPC (collective_engine.py); each
    rank is one task of the worker cluster in TF_CONFIG.
  * `single`: one process.
"""
from __future__ import absolute_import, division, print_function

import collections
import json
import os

JOB = 'worker'


class ParallelError(ValueError):
    """A topology, rank table or launch request that cannot work; the message says why."""


class Topology(collections.namedtuple('Topology', [
        'rank', 'size', 'local_rank', 'engine',
        'workers',      # collective: 'host:port' of every rank, in rank order
        'rank_table'])):  # hccl: path of the rank table
    """Where this process stands among the ranks of one training run."""

    @property
    def is_chief(self):
        """Rank 0 alone writes checkpoints, summaries and summary.json."""
        return self.rank == 0

    @property
    def distributed(self):
        return self.size > 1

    @property
    def task_device(self):
        return '/job:%s/replica:0/task:%d' % (JOB, self.rank)


SINGLE = Topology(0, 1, 0, 'single', (), None)


def _int_env(environ, name, minimum=0):
    raw = environ.get(name)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ParallelError('%s must be an integer, got %r' % (name, raw))
    if value < minimum:
        raise ParallelError('%s must be >= %d, got %d' % (name, minimum, value))
    return value


def _hccl_topology(environ):
    size = _int_env(environ, 'RANK_SIZE', 1)
    if 'RANK_ID' not in environ:
        raise ParallelError('RANK_SIZE=%d but RANK_ID is not set (start the ranks with '
                            '`python -m trainers.launch --npus N`)' % size)
    rank = _int_env(environ, 'RANK_ID')
    if rank >= size:
        raise ParallelError('RANK_ID %d is not below RANK_SIZE %d' % (rank, size))
    device_var = 'DEVICE_ID' if 'DEVICE_ID' in environ else 'ASCEND_DEVICE_ID'
    if device_var not in environ:
        raise ParallelError('RANK_SIZE=%d but neither DEVICE_ID nor ASCEND_DEVICE_ID is set'
                            % size)
    table = environ.get('RANK_TABLE_FILE')
    if size > 1 and not table:
        raise ParallelError('RANK_SIZE=%d needs RANK_TABLE_FILE (the HCCL rank table; '
                            '`python -m trainers.launch --npus N` writes one for one host)' % size)
    if table and not os.path.isfile(table):
        raise ParallelError('RANK_TABLE_FILE %s does not exist' % table)
    return Topology(rank, size, _int_env(environ, device_var), 'hccl', (), table)


def _collective_topology(raw, environ):
    try:
        spec = json.loads(raw)
        cluster, task = spec['cluster'], spec['task']
        # MultiWorkerMirroredStrategy's convention: an optional 'chief' task is rank 0
        workers = list(cluster.get('chief', [])) + list(cluster.get('worker', []))
        offset = len(cluster.get('chief', [])) if task['type'] == 'worker' else 0
        if task['type'] not in ('chief', 'worker'):
            raise ParallelError('TF_CONFIG task type %r: data-parallel training has only chief '
                                'and worker tasks' % task['type'])
        rank = offset + int(task['index'])
    except (ValueError, KeyError, TypeError) as err:
        if isinstance(err, ParallelError):
            raise
        raise ParallelError('TF_CONFIG is not valid JSON of the form {"cluster": {"worker": '
                            '["host:port", ...]}, "task": {"type": "worker", "index": i}}: %s'
                            % err)
    if not workers or not 0 <= rank < len(workers):
        raise ParallelError('TF_CONFIG task index %s is outside its %d workers'
                            % (task.get('index'), len(workers)))
    for address in workers:
        host, _, port = str(address).rpartition(':')
        if not host or not port.isdigit():
            raise ParallelError('TF_CONFIG worker address %r is not host:port' % (address,))
    if 'LOCAL_RANK' in environ:
        local = _int_env(environ, 'LOCAL_RANK')
    else:  # position among the workers on the same host
        host = workers[rank].rpartition(':')[0]
        local = [w.rpartition(':')[0] for w in workers[:rank]].count(host)
    return Topology(rank, len(workers), local, 'collective', tuple(workers), None)


def from_env(environ=None):
    """The topology this process was started into: TF_CONFIG (collective engine), RANK_SIZE > 1
    (HCCL), else a single process. Both at once is refused: which engine would be meant?"""
    environ = os.environ if environ is None else environ
    raw = environ.get('TF_CONFIG', '').strip()
    hccl = 'RANK_SIZE' in environ and _int_env(environ, 'RANK_SIZE', 1) > 1
    if raw and hccl:
        raise ParallelError('both TF_CONFIG and RANK_SIZE > 1 are set: unset TF_CONFIG for HCCL '
                            'on Ascend, or RANK_SIZE for the CPU/GPU collective engine')
    if hccl:
        return _hccl_topology(environ)
    if raw:
        topology = _collective_topology(raw, environ)
        return topology if topology.size > 1 else SINGLE
    return SINGLE


def tf_config(workers, rank):
    """The TF_CONFIG value of one rank of a worker cluster."""
    return json.dumps({'cluster': {JOB: list(workers)}, 'task': {'type': JOB, 'index': rank}})


def check_device(topology, device):
    """The engine must match the resolved device: HCCL is for NPUs, collectives for CPU/GPU."""
    if topology.engine == 'hccl' and device != 'npu':
        raise ParallelError('RANK_SIZE=%d asks for HCCL, which needs --device npu (got %s); for '
                            'CPU/GPU ranks start with `python -m trainers.launch --workers N`'
                            % (topology.size, device))
    if topology.engine == 'collective' and device == 'npu':
        raise ParallelError('TF_CONFIG asks for the CPU/GPU collective engine but the device is '
                            'npu; Ascend ranks use HCCL: `python -m trainers.launch --npus N`')
