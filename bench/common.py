"""What every benchmark shares: the machine description and the result file."""
from __future__ import absolute_import, division, print_function

import json
import multiprocessing
import os
import platform

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def machine():
    import cv2
    model = ''
    try:
        with open('/proc/cpuinfo') as f:
            model = next(line.split(':', 1)[1].strip() for line in f
                         if line.startswith('model name'))
    except (IOError, StopIteration):
        pass
    return '%s, %d cores, %s, Python %s, OpenCV %s' % (
        model or platform.processor(), multiprocessing.cpu_count(), platform.system(),
        platform.python_version(), cv2.__version__)


def write_result(workdir, result):
    """WORKDIR/result.json, and the same JSON on stdout."""
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, 'result.json'), 'w') as f:
        json.dump(result, f, indent=1, sort_keys=True)
    print(json.dumps(result, indent=1, sort_keys=True))


def median_rate(fetch, items_per_run, seconds, warmup=3, trials=3):
    """Items/s of sess.run(fetch) in the default graph: the median of `trials` windows of
    seconds / trials each (this VM's speed varies run to run)."""
    import time
    import tensorflow as tf
    rates = []
    with tf.compat.v1.Session() as sess:
        for _ in range(warmup):
            sess.run(fetch)
        for _ in range(trials):
            n, start = 0, time.time()
            while time.time() - start < seconds / trials:
                sess.run(fetch)
                n += 1
            rates.append(n * items_per_run / (time.time() - start))
    return sorted(rates)[trials // 2]


def one_value_each(tensors):
    """One element of each tensor: fetching it makes the graph produce the whole batch, as for
    training, without copying it into Python (that copy is not part of a training step)."""
    return [t[(0,) * t.shape.ndims] for t in tensors]


def cpu_step_seconds(train_module, argv, steps, warmup=1):
    """Seconds per training step on the CPU of a trainer (trainers.sasiam.train or
    trainers.osmn.train) configured by `argv`, after `warmup` steps (first variant)."""
    import time
    import tensorflow as tf
    from trainers import device
    cfg = train_module.config_from_args(train_module.parse_args(list(argv)))
    with tf.Graph().as_default():
        trainable, _ = train_module.build(cfg, 'cpu')
        op = trainable.train_op[0] if isinstance(trainable.train_op, list) else trainable.train_op
        with tf.compat.v1.Session(config=device.session_config('cpu')) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            sess.run(trainable.train_init)
            for _ in range(warmup):
                sess.run(op)
            start = time.time()
            for _ in range(steps):
                sess.run(op)
            return (time.time() - start) / steps
