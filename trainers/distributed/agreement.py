"""What the ranks of a run must agree on, checked or made true with collectives: the same
configuration and model at start-up, rank 0's variables everywhere, and stopping after the same
step."""
from __future__ import absolute_import, division, print_function

from trainers.distributed.topology import ParallelError


def broadcast_variables(variables, collectives):
    """One op that sets every variable to rank 0's value (after initialisation or restore)."""
    import tensorflow as tf
    with tf.name_scope('broadcast_from_rank0'):
        values = collectives.broadcast_list([v.read_value() for v in variables])
        return tf.group(*[tf.compat.v1.assign(v, value) for v, value in zip(variables, values)])


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
