"""Compare two training runs at equal global_step (e.g. the same config on a GPU and on an NPU).

python -m trainers.compare RUN_A RUN_B [--rtol 0.02] [--atol 1e-6] [--plot FILE] [--rows 20]
python -m trainers.compare golden sasiam|osmn DUMP_DIR -- TRAINER FLAGS (--device cpu|gpu ...)

Reads each run's train_log.jsonl; for the training loss and every validation metric both runs
logged, prints a table of the two values and their relative difference at the steps both
logged, writes a plot (one panel per metric) and ends with one verdict line per metric and one
overall: identical, within the tolerance (max |a - b| / max(|a|, |b|, atol) <= rtol), or
different. Exit status 0 when every metric is within the tolerance, 1 when one differs, 2 when
the runs cannot be compared (no log, no common step). The acceptance test of Huawei's SA-Siam
port was such a table (GPU loss 0.265, NPU 0.268: 1.1 %).

`golden` runs one training step of a trainer on the CPU or a GPU, on the first batch of its
seeded input (from the run directory's checkpoint when it has one, else freshly initialised),
and saves every float tensor the step computes outside control flow (without the values that
differ between two runs of the same step: the clock, racing variable updates) as
`<op name, / as _>.<output index>.<microseconds>.npy` in DUMP_DIR: the file names of tfdbg's
numpy dumps, the GPU side that Ascend's accuracy comparison tools (msaccucmp) match by op name
against an NPU data dump of the same step (device.npu.enable_dump, dump_step 0; see
docs/ascend-host.md). OSMN: pass --single-scale (the scale switch is control flow).
"""
from __future__ import absolute_import, division, print_function

import argparse
import json
import math
import os
import sys

LOG = 'train_log.jsonl'
TRAIN_METRICS = ('loss', 'total_loss')
VALIDATION_PREFIX = 'validation_'


class CompareError(ValueError):
    pass


def read_series(run_dir):
    """{metric: {step: value}} of a run's log (a resumed run's later record of a step wins)."""
    path = os.path.join(run_dir, LOG)
    series = {}
    try:
        with open(path) as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    step = int(record['step'])
                except (ValueError, KeyError, TypeError):
                    raise CompareError('%s line %d is not a log record' % (path, number))
                for key, value in record.items():
                    if (key in TRAIN_METRICS or key.startswith(VALIDATION_PREFIX)) and \
                            isinstance(value, (int, float)):
                        series.setdefault(key, {})[step] = float(value)
    except (IOError, OSError) as err:
        raise CompareError('cannot read %s: %s' % (path, err.strerror or err))
    return series


def relative_difference(a, b, atol):
    if a == b:
        return 0.0
    if not (math.isfinite(a) and math.isfinite(b)):
        return math.inf
    return abs(a - b) / max(abs(a), abs(b), atol)


def compare(series_a, series_b, rtol, atol):
    """[(metric, [(step, a, b, relative difference)], verdict)] for the metrics both runs have
    at one step or more; verdict: identical | within | different."""
    out = []
    for metric in sorted(set(series_a) & set(series_b)):
        steps = sorted(set(series_a[metric]) & set(series_b[metric]))
        if not steps:
            continue
        rows = [(s, series_a[metric][s], series_b[metric][s],
                 relative_difference(series_a[metric][s], series_b[metric][s], atol))
                for s in steps]
        worst = max(r[3] for r in rows)
        out.append((metric, rows, 'identical' if worst == 0 else
                    'within' if worst <= rtol else 'different'))
    if not out:
        raise CompareError('the runs have no metric logged at a common global_step')
    return out


def thinned(rows, count):
    """At most `count` rows, evenly spread, always the first and the last."""
    if len(rows) <= count:
        return rows
    picks = sorted({round(i * (len(rows) - 1) / (count - 1)) for i in range(count)})
    return [rows[i] for i in picks]


def table(metric, rows, count):
    lines = ['%s' % metric, '%10s  %14s  %14s  %10s' % ('step', 'A', 'B', 'rel diff')]
    lines += ['%10d  %14.6g  %14.6g  %9.3g%%' % (s, a, b, 100.0 * d)
              for s, a, b, d in thinned(rows, count)]
    return '\n'.join(lines)


def verdict_line(metric, rows, verdict, rtol):
    worst = max(rows, key=lambda r: r[3])
    if verdict == 'identical':
        return 'identical  %s: %d common steps, equal values' % (metric, len(rows))
    return '%s  %s: %d common steps, largest difference %.3g%% at step %d (tolerance %.3g%%)' % (
        'within   ' if verdict == 'within' else 'DIFFERENT', metric, len(rows),
        100.0 * worst[3], worst[0], 100.0 * rtol)


def plot(results, names, path):
    import matplotlib
    matplotlib.use('Agg')   # no display: a PNG file only
    from matplotlib import pyplot
    figure, axes = pyplot.subplots(len(results), 1, figsize=(7, 2.6 * len(results)),
                                   squeeze=False)
    for ax, (metric, rows, verdict) in zip(axes[:, 0], results):
        steps = [r[0] for r in rows]
        ax.plot(steps, [r[1] for r in rows], label=names[0])
        ax.plot(steps, [r[2] for r in rows], '--', label=names[1])
        ax.set_title('%s (%s)' % (metric, verdict))
        ax.set_xlabel('global_step')
        ax.legend()
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)


def dump_name(tensor, stamp):
    op_name, index = tensor.name.rsplit(':', 1)
    return '%s.%s.%d.npy' % (op_name.replace('/', '_'), index, stamp)


def _unstable_ops(graph):
    """Ops whose values differ between two runs of the same step: the Timestamp ops (the
    input-wait clock), variables assigned by more than one op in the step (e.g. a batch-norm
    moving mean updated by two towers, in either order), and every op computed from them."""
    writers = {}
    for op in graph.get_operations():
        if op.type.startswith('Assign') and op.inputs and op.inputs[0].dtype._is_ref_dtype:
            writers.setdefault(op.inputs[0].op, []).append(op)
    found = set(op for op in graph.get_operations() if op.type == 'Timestamp')
    found |= set(var for var, ops in writers.items() if len(ops) > 1)
    stack = list(found)
    while stack:
        for t in stack.pop().outputs:
            for consumer in t.consumers():
                if consumer not in found:
                    found.add(consumer)
                    stack.append(consumer)
    return found


def dumped_tensors(graph):
    """Float outputs of the graph's ops outside control flow and the input pipeline, without
    variable references (read while the step updates them) and _unstable_ops."""
    out = []
    unstable = _unstable_ops(graph)
    for op in graph.get_operations():
        if op._get_control_flow_context() is not None or 'Dataset' in op.type or \
                'Iterator' in op.type or op in unstable or \
                op.type in ('Placeholder', 'PlaceholderWithDefault'):
            continue
        out += [t for t in op.outputs if t.dtype.is_floating and not t.dtype._is_ref_dtype]
    return out


def golden(trainer, dump_dir, trainer_args):
    """One training step of `trainer` with every float tensor saved to dump_dir; the count."""
    import importlib
    import time
    import numpy as np
    import tensorflow as tf
    from trainers import device as device_lib
    from trainers import checkpoints
    train = importlib.import_module('trainers.%s.train' % trainer)
    cfg = train.config_from_args(train.parse_args(trainer_args))
    device = device_lib.resolve(cfg['device']['device'])
    if device == 'npu':
        raise CompareError('golden runs the CPU/GPU side: on the NPU dump the same step with '
                           '--set device.npu.enable_dump=true --set device.npu.dump_path=DIR '
                           '--set device.npu.dump_step=0')
    graph = tf.Graph()
    with graph.as_default():
        trainable, cfg = train.build(cfg, device)
        tensors = dumped_tensors(graph)
        with tf.compat.v1.Session(config=device_lib.session_config(device)) as sess:
            checkpoints.restore_or_init(sess, tf.compat.v1.train.Saver(), trainable,
                                        cfg['train']['run_dir'])
            sess.run(trainable.train_init, feed_dict=None if trainable.input_skip is None else
                     {trainable.input_skip: 0})
            values = sess.run([tensors, trainable.train_op])[0]
    os.makedirs(dump_dir, exist_ok=True)
    stamp = int(time.time() * 1e6)
    for tensor, value in zip(tensors, values):
        np.save(os.path.join(dump_dir, dump_name(tensor, stamp)), value)
    return len(tensors)


def golden_main(argv, out):
    parser = argparse.ArgumentParser(prog='python -m trainers.compare golden')
    parser.add_argument('trainer', choices=('sasiam', 'osmn'))
    parser.add_argument('dump_dir')
    parser.add_argument('trainer_args', nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    rest = args.trainer_args[1:] if args.trainer_args[:1] == ['--'] else args.trainer_args
    try:
        count = golden(args.trainer, args.dump_dir, rest)
    except CompareError as err:
        sys.stderr.write('error: %s\n' % err)
        return 2
    out.write('%d tensors of one %s step in %s\n' % (count, args.trainer, args.dump_dir))
    return 0


def parse_args(argv):
    parser = argparse.ArgumentParser(prog='python -m trainers.compare',
                                     description=__doc__.split('\n\n')[0])
    parser.add_argument('run_a')
    parser.add_argument('run_b')
    parser.add_argument('--rtol', type=float, default=0.02,
                        help='largest relative difference that still agrees (default 2%%)')
    parser.add_argument('--atol', type=float, default=1e-6,
                        help='values below this count as this small (no division by ~0)')
    parser.add_argument('--plot', help='PNG to write (default RUN_A/compare-with-<RUN_B>.png)')
    parser.add_argument('--rows', type=int, default=20, help='table rows per metric')
    return parser.parse_args(argv)


def main(argv=None, out=sys.stdout):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ['golden']:
        return golden_main(argv[1:], out)
    args = parse_args(argv)
    try:
        results = compare(read_series(args.run_a), read_series(args.run_b), args.rtol,
                          args.atol)
    except CompareError as err:
        sys.stderr.write('error: %s\n' % err)
        return 2
    names = [os.path.basename(os.path.normpath(r)) for r in (args.run_a, args.run_b)]
    out.write('A = %s\nB = %s\n\n' % (args.run_a, args.run_b))
    for metric, rows, _ in results:
        out.write(table(metric, rows, args.rows) + '\n\n')
    path = args.plot or os.path.join(args.run_a, 'compare-with-%s.png' % names[1])
    plot(results, names, path)
    for metric, rows, verdict in results:
        out.write(verdict_line(metric, rows, verdict, args.rtol) + '\n')
    differing = [m for m, _, v in results if v == 'different']
    out.write('verdict: %s (plot: %s)\n' % (
        ('the runs differ in ' + ', '.join(differing)) if differing else
        'identical' if all(v == 'identical' for _, _, v in results) else
        'the runs agree within %.3g%%' % (100.0 * args.rtol), path))
    return 1 if differing else 0


if __name__ == '__main__':
    sys.exit(main())
