"""Data-parallel training: the process topology and the two engines, behind one small API.

One process per device. Every rank builds the same graph, reads its own part of the data, and the
gradients are averaged across ranks before each update, so all ranks apply the same update and
keep bit-identical variables.

Engines (chosen from the environment by `from_env`):
  * `hccl`: Ascend. The CANN adapter's contract: RANK_TABLE_FILE, RANK_SIZE, RANK_ID, DEVICE_ID /
    ASCEND_DEVICE_ID, JOB_ID in the environment (`python -m trainers.launch --npus 8` sets them);
    the all-reduce is the adapter's NPUDistributedOptimizer (HCCL, mean) with the loss-scale
    optimizer built with is_distributed=True, both the device layer's business (trainers/device.py,
    which also gives the HCCL collectives the helpers here run on). Nothing NPU-specific lives
    here.
  * `collective`: CPU/GPU. TensorFlow 1.15's collective ops over gRPC, the runtime behind
    MultiWorkerMirroredStrategy: each rank runs a tf.distribute.Server of the cluster in TF_CONFIG,
    its session targets that server with rank 0 as the collective group leader, and
    `collective_ops.all_reduce` / `broadcast_send|recv` move gradients and initial variables.
  * `single`: one process; no server, the session config and learning rate stay as they are.

A collective whose peer has died never completes in TF 1.15 (a RunOptions deadline cancels the
step but the ring receive stays blocked; checked on this version), so a `Watchdog` thread bounds
every step: past the deadline it probes the peers' gRPC ports and stops the process with a message
naming the ranks that are gone (exit status EXIT_PEER_LOST).
"""
from __future__ import absolute_import, division, print_function

import collections
import contextlib
import functools
import json
import os
import socket
import sys
import threading
import time

ENGINES = ('single', 'collective', 'hccl')
EXIT_PEER_LOST = 75  # sysexits EX_TEMPFAIL: resume from rank 0's last checkpoint and retry
JOB = 'worker'

# Configuration as data: the trainers' `parallel` config section.
PARALLEL = {
    'startup_timeout_s': 900,    # first step: every rank must have started and built its graph
    'step_timeout_s': 300,       # later steps (a checkpoint or validation on rank 0 counts too)
    'lr_scaling': 'none',        # none (the reference's single-card schedule) | linear
    'warmup_steps': 0,           # linear: ramp from lr to ranks * lr over this many steps
    'communication': 'auto',     # collective engine: auto | ring | nccl (GPU)
    'pack_mb': 32,               # gradients are all-reduced in packs of at most this size
}
LR_SCALING = ('none', 'linear')
COMMUNICATION = ('auto', 'ring', 'nccl')


class ParallelError(ValueError):
    """A topology, rank table or launch request that cannot work; the message says why."""


class PeerLost(RuntimeError):
    pass


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


def check_config(cfg):
    """Checks the `parallel` config section (keys as in PARALLEL)."""
    if cfg['lr_scaling'] not in LR_SCALING:
        raise ParallelError('parallel.lr_scaling must be one of %s, got %r'
                            % (LR_SCALING, cfg['lr_scaling']))
    if cfg['communication'] not in COMMUNICATION:
        raise ParallelError('parallel.communication must be one of %s, got %r'
                            % (COMMUNICATION, cfg['communication']))
    if int(cfg['warmup_steps']) < 0 or cfg['step_timeout_s'] <= 0 or \
            cfg['startup_timeout_s'] <= 0 or cfg['pack_mb'] <= 0:
        raise ParallelError('parallel.warmup_steps must be >= 0 and the timeouts and pack_mb > 0')


# ---------------------------------------------------------------------------------------------
# Seeds and the learning rate


RANK_SEED_STRIDE = 1 << 32


def rank_seed(seed, rank):
    """A per-rank seed (int or int64 tensor) for element randomness: ranks draw different
    augmentations, rank 0 keeps the single-device seed (a one-rank run is the single-device run),
    and the 2**32 stride keeps every rank's seeds apart from the 31-bit named seeds
    (reader.derive_seed) and from the other ranks'."""
    return seed + rank * RANK_SEED_STRIDE


def scaled_learning_rate(lr, global_step, ranks, rule='none', warmup_steps=0):
    """The learning rate under data parallelism.

    'none' keeps the given (single-card) schedule: with averaged gradients each step then moves as
    far as a single-card step on a batch `ranks` times larger. 'linear' is the linear-scaling rule
    with gradual warm-up (Goyal et al. 2017, "Accurate, Large Minibatch SGD"): lr * ranks, reached
    by a linear ramp from lr over `warmup_steps` steps.
    """
    import tensorflow as tf
    if rule not in LR_SCALING:
        raise ParallelError('lr scaling must be one of %s, got %r' % (LR_SCALING, rule))
    if rule == 'none' or ranks == 1:
        return lr
    lr = tf.convert_to_tensor(lr)
    scaled = lr * float(ranks)
    if not warmup_steps:
        return scaled
    progress = tf.minimum(tf.cast(global_step, lr.dtype) / float(warmup_steps), 1.0)
    return lr + (scaled - lr) * progress


# ---------------------------------------------------------------------------------------------
# The collective engine (CPU/GPU)


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


def broadcast_variables(variables, collectives):
    """One op that sets every variable to rank 0's value (after initialisation or restore)."""
    import tensorflow as tf
    with tf.name_scope('broadcast_from_rank0'):
        values = collectives.broadcast_list([v.read_value() for v in variables])
        return tf.group(*[tf.compat.v1.assign(v, value) for v, value in zip(variables, values)])


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


def fingerprint(text):
    """Two int32 values (30 bits each) standing for `text`, e.g. the resolved config and the
    names and shapes of the variables: int32 because HCCL all-reduces and broadcasts no float64
    on a 910 (int8/int32/int64/fp16/fp32), and both engines move int32."""
    import hashlib
    digest = int(hashlib.sha1(text.encode('utf-8')).hexdigest()[:15], 16)
    return [digest >> 30, digest & ((1 << 30) - 1)]


def agreement_check(collectives, value):
    """Op giving the number of ranks whose `value` (a fingerprint) differs from rank 0's, run
    before anything else: ranks started with different settings build different graphs, whose
    collectives would never match and hang instead of failing. Its own collectives pair up
    whatever else the ranks built (reserved instance keys on CPU/GPU; on HCCL the run holds only
    these two ops)."""
    import tensorflow as tf
    local = tf.constant(value, tf.int32)
    differs = tf.cast(tf.reduce_any(tf.not_equal(
        collectives.broadcast(local, reserved=True), local)), tf.float32)
    return collectives.all_reduce(differs, 'sum', reserved=True)


def check_agreement(differing, what):
    """Raises ParallelError when agreement_check counted ranks that differ from rank 0."""
    if differing:
        raise ParallelError('%d rank(s) were started with %s different from rank 0\'s: start '
                            'every rank with the same command and configuration'
                            % (differing, what))


def stop_agreement(collectives):
    """(placeholder, agreed) for stopping together: a rank feeds 1.0 when it was asked to stop
    (SIGTERM); `agreed` > 0 on every rank in the same step, so all ranks save and leave after the
    same step instead of one leaving its peers blocked in the next all-reduce."""
    import tensorflow as tf
    flag = tf.compat.v1.placeholder_with_default(tf.constant(0.0), [], name='stop_requested')
    return flag, collectives.all_reduce(flag, 'sum')


# ---------------------------------------------------------------------------------------------
# Failure detection


def probe(address, timeout=2.0):
    """True when a TCP connection to host:port succeeds (a dead rank's port refuses)."""
    host, _, port = address.rpartition(':')
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def diagnose(topology, label, waited_s, reachable):
    """The one-line reason a step did not finish: which ranks are gone. `reachable` maps each
    peer rank to the probe's answer (empty when the engine has no ports to probe)."""
    lost = sorted(r for r, ok in reachable.items() if not ok)
    where = 'rank %d of %d' % (topology.rank, topology.size)
    if lost:
        names = ', '.join('rank %d (%s)' % (r, topology.workers[r]) if topology.workers
                          else 'rank %d' % r for r in lost)
        return ('%s stopped: %s no longer answer%s; %s did not finish after %.0f s. Restart all '
                '%d ranks: training resumes from rank 0\'s last checkpoint.'
                % (where, names, 's' if len(lost) == 1 else '', label, waited_s, topology.size))
    return ('%s stopped: %s did not finish after %.0f s although every rank %s; a rank is stuck '
            'or much slower (raise parallel.step_timeout_s if checkpoints or validation take '
            'that long). Restart all %d ranks to resume from rank 0\'s last checkpoint.'
            % (where, label, waited_s,
               'answers' if reachable else 'may still be running (see the per-rank logs)',
               topology.size))


class Watchdog(object):
    """Bounds the time of every collective step. `with watchdog.watch('step 12', 300): sess.run`
    arms a deadline; past it, the peers are probed and the process ends with EXIT_PEER_LOST and a
    message naming the lost ranks (os._exit: the blocked step cannot be interrupted otherwise).
    While every peer still answers, the wait is extended once by the same time before giving up.
    `on_timeout(message)` replaces the exit in tests."""

    def __init__(self, topology, on_timeout=None, probe_fn=probe, poll_s=0.5):
        self.topology = topology
        self._on_timeout = on_timeout or _exit_peer_lost
        self._probe = probe_fn
        self._poll = poll_s
        self._lock = threading.Condition()
        self._armed = None  # (label, start, timeout)
        self._closed = False
        self._thread = None
        if topology.distributed:
            self._thread = threading.Thread(target=self._run, name='parallel-watchdog')
            self._thread.daemon = True
            self._thread.start()

    def watch(self, label, timeout_s):
        return _Armed(self, label, timeout_s)

    def _arm(self, value):
        with self._lock:
            self._armed = value
            self._lock.notify()

    def close(self):
        with self._lock:
            self._closed = True
            self._lock.notify()

    def _peers_reachable(self):
        if not self.topology.workers:
            return {}
        return {r: self._probe(a) for r, a in enumerate(self.topology.workers)
                if r != self.topology.rank}

    def _run(self):
        while True:
            with self._lock:
                if self._closed:
                    return
                armed = self._armed
                if armed is None:
                    self._lock.wait()
                    continue
                label, start, timeout = armed
                waited = time.time() - start
                if waited < timeout:
                    self._lock.wait(min(self._poll, timeout - waited))
                    continue
            reachable = self._peers_reachable()
            if all(reachable.values()) and reachable and waited < 2 * timeout:
                with self._lock:
                    if self._armed is armed:
                        self._lock.wait(self._poll)
                continue
            with self._lock:
                if self._armed is not armed:  # the step finished while we probed
                    continue
            self._on_timeout(diagnose(self.topology, label, waited, reachable))
            with self._lock:
                self._armed = None


class _Armed(object):
    def __init__(self, watchdog, label, timeout_s):
        self.watchdog, self.label, self.timeout = watchdog, label, timeout_s

    def __enter__(self):
        if self.watchdog._thread is not None:
            self.watchdog._arm((self.label, time.time(), self.timeout))
        return self

    def __exit__(self, *exc):
        if self.watchdog._thread is not None:
            self.watchdog._arm(None)


def _exit_peer_lost(message):
    sys.stderr.write('error: %s\n' % message)
    sys.stderr.flush()
    sys.stdout.flush()
    os._exit(EXIT_PEER_LOST)


# ---------------------------------------------------------------------------------------------
# HCCL rank tables (Ascend)


def read_hccn_conf(text):
    """{device_id: device_ip} from /etc/hccn.conf ("address_<device>=<ip>" lines), where an
    Ascend host records the IP of each NPU's integrated NIC."""
    ips = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition('=')
        if sep and key.startswith('address_') and key[len('address_'):].isdigit():
            ips[int(key[len('address_'):])] = value.strip()
    return ips


def rank_table(servers):
    """An HCCL rank table (template version 1.0) for [(server_id, [(device_id, device_ip)])]:
    ranks are numbered server after server, device after device."""
    server_list, rank = [], 0
    for server_id, devices in servers:
        entries = []
        for device_id, device_ip in devices:
            entries.append({'device_id': str(device_id), 'device_ip': str(device_ip),
                            'rank_id': str(rank)})
            rank += 1
        server_list.append({'server_id': str(server_id), 'device': entries})
    return {'status': 'completed', 'version': '1.0', 'server_count': str(len(server_list)),
            'server_list': server_list}


def rank_table_devices(table, server_index=0):
    """[(rank_id, device_id)] of one server of a rank table, and the table's rank count."""
    try:
        servers = table['server_list']
        total = sum(len(s['device']) for s in servers)
        server = servers[server_index]
        devices = [(int(d['rank_id']), int(d['device_id'])) for d in server['device']]
    except (KeyError, TypeError, ValueError, IndexError) as err:
        raise ParallelError('rank table has no usable server %d (need server_list[].device[] '
                            'with device_id, device_ip, rank_id): %s' % (server_index, err))
    ranks = sorted(r for s in servers for r in (int(d['rank_id']) for d in s['device']))
    if ranks != list(range(total)):
        raise ParallelError('rank table rank_ids must be 0..%d, each once; got %s'
                            % (total - 1, ranks))
    return devices, total


# ---------------------------------------------------------------------------------------------
# Synchronised batch normalisation

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
