"""The CPU/GPU engine: TensorFlow 1.15's collective ops over gRPC, the runtime behind
MultiWorkerMirroredStrategy. Each rank runs a tf.distribute.Server of the cluster in TF_CONFIG,
its session targets that server with rank 0 as the collective group leader, and
`collective_ops.all_reduce` / `broadcast_send|recv` move gradients and initial variables. On
Ascend the device layer gives the same interface on HCCL (trainers/device.py, HcclCollectives).
"""
from __future__ import absolute_import, division, print_function

from trainers.distributed.topology import JOB, ParallelError

def cluster_session_config(base, topology, communication='auto'):
    """A copy of the session ConfigProto `base` for one rank of the collective engine: rank 0 leads
    the collective group, and the device filter keeps the session to this rank's own devices (the
    ranks meet only inside the collective ops)."""
    import copy
    config = copy.deepcopy(base)
    if topology.engine != 'collective':
        return config
    config.experimental.collective_group_leader = '/job:%s/replica:0/task:0' % JOB
    del config.device_filters[:]
    config.device_filters.append('/job:%s/task:%d' % (JOB, topology.rank))
    if communication == 'nccl':
        config.experimental.collective_nccl = True
    return config


def start_server(topology, config):
    """This rank's gRPC server (the session target); None outside the collective engine."""
    if topology.engine != 'collective':
        return None
    import tensorflow as tf
    cluster = tf.train.ClusterSpec({JOB: list(topology.workers)})
    return tf.distribute.Server(cluster, job_name=JOB, task_index=topology.rank, config=config,
                                start=True)


# Instance keys below this go to collectives that must pair up even between ranks whose graphs
# differ (the start-up agreement check, which runs before anything else and is what detects such
# ranks), in the order they are built; every other collective gets a key from here on.
RESERVED_KEYS = 100


class Collectives(object):
    """Builds the collective ops of one graph. Every rank builds the same graph in the same order,
    so the instance keys handed out here agree across ranks without any exchange; the agreement
    check takes reserved keys (below RESERVED_KEYS), so it pairs up whatever else the ranks
    built."""

    def __init__(self, topology, communication='auto', group_key=1):
        if topology.engine != 'collective':
            raise ParallelError('Collectives need the collective engine (TF_CONFIG), not %s'
                                % topology.engine)
        self.topology = topology
        self.group_key = group_key
        self.hint = {'auto': 'auto', 'ring': 'ring', 'nccl': 'nccl'}[communication]
        self._next_key = {False: RESERVED_KEYS, True: 1}

    def _key(self, reserved=False):
        key = self._next_key[reserved]
        if reserved and key >= RESERVED_KEYS:
            raise ParallelError('more than %d reserved collectives in one graph'
                                % (RESERVED_KEYS - 1))
        self._next_key[reserved] = key + 1
        return key

    def device(self, tensor):
        """Where a collective on `tensor` runs: the tensor's own device (CPU when it has none)
        on this rank's task. Collective ops refuse to be placed implicitly."""
        import tensorflow as tf
        spec = tf.compat.v1.DeviceSpec.from_string(self.topology.task_device)
        spec.merge_from(tf.compat.v1.DeviceSpec.from_string(tensor.device or '/device:CPU:0'))
        if spec.device_type is None:
            spec.merge_from(tf.compat.v1.DeviceSpec.from_string('/device:CPU:0'))
        return spec.to_string()

    def all_reduce(self, tensor, reduction='mean', reserved=False):
        """Sum or mean of `tensor` over the ranks; every rank gets the same bits (the ring's
        final values are forwarded, not recomputed, and the division is local and exact-same).
        reserved: take the next reserved instance key (see RESERVED_KEYS)."""
        import tensorflow as tf
        from tensorflow.python.ops import collective_ops
        if reduction not in ('mean', 'sum'):
            raise ValueError('reduction must be mean or sum, got %r' % reduction)
        with tf.device(self.device(tensor)):
            tensor = tf.identity(tensor)  # the op checks its input's device, not the scope
            return collective_ops.all_reduce(
                tensor, self.topology.size, self.group_key, self._key(reserved), 'Add',
                'Div' if reduction == 'mean' else 'Id', communication_hint=self.hint)

    def broadcast(self, tensor, reserved=False):
        """Rank 0's value of `tensor` on every rank (reserved: as in all_reduce)."""
        import tensorflow as tf
        from tensorflow.python.ops import collective_ops
        key = self._key(reserved)
        with tf.device(self.device(tensor)):
            tensor = tf.identity(tensor)
            if self.topology.rank == 0:
                return collective_ops.broadcast_send(tensor, tensor.shape, tensor.dtype,
                                                     self.topology.size, self.group_key, key,
                                                     communication_hint=self.hint)
            return collective_ops.broadcast_recv(tensor.shape, tensor.dtype, self.topology.size,
                                                 self.group_key, key,
                                                 communication_hint=self.hint)

    def broadcast_list(self, tensors):
        """Rank 0's values of several tensors (one collective each)."""
        return [self.broadcast(t) for t in tensors]
