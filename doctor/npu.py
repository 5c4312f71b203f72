"""`make npu-doctor`: does the project work on this Ascend host? One verdict line per check.

python -m doctor [--vid-records out/sample/vid] [--coco-records out/sample/coco]
    [--work-dir DIR] [--steps 4] [--iterations-per-loop 2] [--detect]

Checks: the CANN / npu_bridge / TensorFlow versions and the visible devices; both training graphs
(SA-Siam, OSMN) built and trained a few steps at a tiny size on the NPU, at iterations_per_loop 1
and then > 1, with the steps loss scaling skipped; on two devices when two are visible (through
python -m trainers.launch); the tracking and segmentation device graphs; the op types of every
graph against CANN's npu_supported_ops.json (a missing type runs on the host and splits the
device loop). On a machine without an NPU it says so in one line and exits 1; exit 1 too when a
check fails.

The package sits above every other layer because it checks them all: it builds the trainers',
the tracker's and the segmenter's graphs, and nothing imports it.
"""
from __future__ import absolute_import, division, print_function

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile

from trainers import device as device_lib

SUPPORTED_OPS = os.path.join('framework', 'built-in', 'tensorflow', 'npu_supported_ops.json')
# Graph bookkeeping the adapter handles itself (not listed as NPU kernels).
FRAMEWORK_OPS = frozenset('''
    Const Placeholder PlaceholderWithDefault VariableV2 VarHandleOp Identity NoOp Assign
    AssignAdd AssignSub Switch Merge RefSwitch Enter Exit NextIteration LoopCond Timestamp
'''.split())
TINY = ['--device', 'npu', '--set', 'model.width=0.0625', '--set', 'input.batch_size=2',
        '--set', 'train.log_every=1', '--set', 'train.validation_batches=0',
        '--set', 'train.checkpoint_every=1000']
SASIAM_TINY = TINY + ['--set', 'input.pair_shuffle=4', '--set', 'input.record_shuffle=2']
OSMN_TINY = TINY + ['--stage', 'coco', '--random-init-for-tests',
                    '--set', 'input.input_scale=0.25', '--set', 'input.sample_shuffle=4',
                    '--set', 'input.scales=[0.8, 1.2]']


class Verdicts(object):
    """Prints `PASS|WARN|FAIL|SKIP  check: detail` lines and remembers failures."""

    def __init__(self, stream):
        self.stream, self.failed = stream, []

    def say(self, status, check, detail):
        self.stream.write('%-4s  %s: %s\n' % (status, check, detail))
        self.stream.flush()
        if status == 'FAIL':
            self.failed.append(check)


# -- the host ------------------------------------------------------------------------------------

def cann_version(environ=os.environ):
    """The CANN toolkit version from <toolkit>/version.cfg or ascend_toolkit_install.info."""
    roots = [environ.get(k) for k in ('ASCEND_TOOLKIT_HOME', 'ASCEND_HOME_PATH', 'ASCEND_HOME')]
    roots += ['/usr/local/Ascend/ascend-toolkit/latest']
    for root in filter(None, roots):
        for name in ('ascend_toolkit_install.info', 'version.cfg', 'version.info'):
            found = _version_in(os.path.join(root, name))
            if found:
                return found
    return None


def _version_in(path):
    try:
        with open(path) as f:
            for line in f:
                key, _, value = line.strip().partition('=')
                if key.strip().lower() in ('version', 'runtime_running_version', 'toolkit_version'):
                    return value.strip().strip('"[]').split(':')[0]
    except (IOError, OSError):
        return None
    return None


def adapter_version():
    import importlib
    try:
        import pkg_resources
        return pkg_resources.get_distribution('npu_bridge').version
    except Exception:  # not installed as a distribution (CANN's plugin path, the test double)
        module = importlib.import_module('npu_bridge')
        return getattr(module, '__version__', 'unknown (no distribution metadata)')


def visible_devices(environ=os.environ):
    """NPU ids this process may use: ASCEND_VISIBLE_DEVICES, else the /dev/davinciN nodes."""
    given = environ.get('ASCEND_VISIBLE_DEVICES', '').strip()
    if given:
        return [d.strip() for d in given.split(',') if d.strip()]
    nodes = glob.glob('/dev/davinci[0-9]*')
    return sorted((n[len('/dev/davinci'):] for n in nodes), key=int)


def supported_ops(environ=os.environ):
    """(op types CANN runs on the NPU, path) or (None, why not)."""
    opp = environ.get('ASCEND_OPP_PATH')
    if not opp:
        return None, '$ASCEND_OPP_PATH is not set (source CANN\'s set_env.sh)'
    path = os.path.join(opp, SUPPORTED_OPS)
    try:
        with open(path) as f:
            return frozenset(json.load(f)), path
    except (IOError, OSError, ValueError) as err:
        return None, 'cannot read %s: %s' % (path, err)


def host_ops(graph, supported):
    """Op types of a graph that CANN's list lacks: they run on the host."""
    return sorted(t for t in device_lib.op_types(graph)
                  if t not in supported and t not in FRAMEWORK_OPS)


def report_graph(verdicts, name, graph, supported):
    ops = device_lib.op_types(graph)
    size = '%d ops of %d types' % (sum(ops.values()), len(ops))
    if supported[0] is None:
        verdicts.say('PASS', name, '%s built (op support not checked: %s)' % (size, supported[1]))
        return
    fallback = host_ops(graph, supported[0])
    if fallback:
        verdicts.say('WARN', name, '%s built; on the host (not in %s): %s' % (
            size, supported[1], ', '.join(fallback)))
    else:
        verdicts.say('PASS', name, '%s built; every op type runs on the NPU' % size)


# -- the graphs and the steps ----------------------------------------------------------------

def _trainer(name):
    import importlib
    return importlib.import_module('trainers.%s.train' % name)


def _trainer_args(name, records, run_dir, steps, iterations):
    base = SASIAM_TINY if name == 'sasiam' else OSMN_TINY
    return ['--records', records, '--run-dir', run_dir, '--steps', str(steps),
            '--iterations-per-loop', str(iterations)] + base


def training_graph(name, records):
    """The trainer's NPU training graph at the doctor's tiny size."""
    import tensorflow as tf
    train = _trainer(name)
    cfg = train.config_from_args(train.parse_args(_trainer_args(name, records, '-', 1, 1)))
    graph = tf.Graph()
    with graph.as_default():
        train.build(cfg, 'npu')
    return graph


def run_summary(run_dir):
    try:
        with open(os.path.join(run_dir, 'summary.json')) as f:
            return json.load(f)
    except (IOError, OSError, ValueError):
        return None


def report_steps(verdicts, check, status, summary, log):
    """One verdict for a training run: its exit status and the steps loss scaling skipped."""
    if status != 0 or summary is None or summary.get('status') != 'completed':
        why = (summary or {}).get('error') or (summary or {}).get('status') or \
            'exit status %s, no summary.json' % status
        verdicts.say('FAIL', check, '%s (log: %s)' % (why, log))
        return
    iterations, steps = summary['iterations_this_run'], summary['steps_this_run']
    skipped = iterations - steps
    detail = '%d iterations, %d steps applied, loss %.4g' % (iterations, steps,
                                                             summary['final_train_loss'])
    if skipped:
        verdicts.say('WARN', check, '%s; %d skipped by loss scaling (overflow)' % (detail,
                                                                                   skipped))
    else:
        verdicts.say('PASS', check, detail)


def train_steps(verdicts, name, records, work, steps, iterations):
    """Runs of `steps` iterations at iterations_per_loop 1 and `iterations`; the last run dir."""
    train = _trainer(name)
    run_dir = None
    for n in (1, iterations):
        run_dir = os.path.join(work, '%s-loop%d' % (name, n))
        log = run_dir + '.log'
        total = max(steps, n) // n * n   # a whole number of device loops
        status = _quietly(log, lambda: train.main(_trainer_args(name, records, run_dir, total,
                                                                n)))
        report_steps(verdicts, '%s training, iterations_per_loop %d' % (name, n), status,
                     run_summary(run_dir), log)
    return run_dir


def _quietly(log, fn):
    """fn() with the process's stdout and stderr in `log` (TensorFlow writes to the fds)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(log, 'w') as f:
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
        try:
            return fn()
        except Exception as err:  # a crash of the trainer is the verdict, not the doctor's end
            sys.stderr.write('%s: %s\n' % (type(err).__name__, err))
            return 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def two_devices(verdicts, devices, records, work, steps):
    """SA-Siam on two NPUs through the launcher (HCCL, a rank table from /etc/hccn.conf)."""
    check = 'sasiam training on two devices'
    if len(devices) < 2:
        verdicts.say('SKIP', check, '%d device visible' % len(devices))
        return
    run_dir = os.path.join(work, 'sasiam-2npu')
    log = run_dir + '.log'
    command = [sys.executable, '-m', 'trainers.launch', '--npus', '2', '--log-dir',
               os.path.join(run_dir, 'ranks'), '--', sys.executable, '-m', 'trainers.sasiam'] + \
        _trainer_args('sasiam', records, run_dir, steps, 1)
    with open(log, 'w') as f:
        status = subprocess.call(command, stdout=f, stderr=subprocess.STDOUT)
    report_steps(verdicts, check, status, run_summary(run_dir), log)


def tracking_graph():
    """The SA-Siam tracker's device graph (both branches, untrained, tiny width)."""
    import tensorflow as tf
    from trackers import sasiam
    from trackers.sasiam_branches import untrained_branch
    branches = [untrained_branch('appearance', 0.0625)._replace(weight=0.3),
                untrained_branch('semantic', 0.0625)._replace(weight=0.7)]
    graph = tf.Graph()
    with graph.as_default():
        sasiam.TrackerGraph(branches, dict(sasiam.TRACK_DEFAULTS))
    return graph


def segmentation_graph(run_dir):
    """The OSMN segmenter's inference and fine-tuning graph of a doctor run, opened on the NPU."""
    from segmenters import osmn
    segmenter = osmn.OsmnSegmenter(run_dir, 'davis2017', 'npu', finetune_steps=1,
                                   max_frame_size=(64, 64))
    try:
        return segmenter.graph
    finally:
        segmenter.close()


def check_graph(verdicts, name, build, supported):
    try:
        graph = build()
    except Exception as err:  # the verdict names what failed; the doctor goes on
        verdicts.say('FAIL', name, '%s: %s' % (type(err).__name__, str(err).splitlines()[0]))
        return
    report_graph(verdicts, name, graph, supported)


# -- the command -----------------------------------------------------------------------------

def no_npu_reason():
    """Why this machine cannot run the NPU path, or None."""
    if not device_lib.npu_available():
        return 'npu_bridge (the CANN TensorFlow adapter) does not import'
    if not visible_devices():
        return 'no /dev/davinci* device and ASCEND_VISIBLE_DEVICES is not set'
    return None


def doctor(args, out=sys.stdout):
    """All checks; the exit status (0: no check failed)."""
    import tensorflow as tf
    verdicts = Verdicts(out)
    devices = visible_devices()
    verdicts.say('PASS' if tf.__version__.startswith('1.15') else 'FAIL', 'versions',
                 'CANN %s, npu_bridge %s, TensorFlow %s' % (
                     cann_version() or 'unknown', adapter_version(), tf.__version__))
    verdicts.say('PASS', 'devices', '%d visible: %s' % (len(devices), ', '.join(devices)))
    supported = supported_ops()
    records = {'sasiam': args.vid_records, 'osmn': args.coco_records}
    for name in ('sasiam', 'osmn'):
        check_graph(verdicts, '%s training graph' % name,
                    lambda: training_graph(name, records[name]), supported)
    last = {name: train_steps(verdicts, name, records[name], args.work_dir, args.steps,
                              args.iterations_per_loop) for name in ('sasiam', 'osmn')}
    two_devices(verdicts, devices, args.vid_records, args.work_dir, args.steps)
    check_graph(verdicts, 'tracking device graph', tracking_graph, supported)
    check_graph(verdicts, 'segmentation device graph', lambda: segmentation_graph(last['osmn']),
                supported)
    verdicts.say('FAIL' if verdicts.failed else 'PASS', 'verdict',
                 ('failed: ' + ', '.join(verdicts.failed)) if verdicts.failed else
                 'the project runs on this host (runs in %s)' % args.work_dir)
    return 1 if verdicts.failed else 0


def parse_args(argv):
    parser = argparse.ArgumentParser(prog='python -m doctor',
                                     description=__doc__.split('\n\n')[0])
    parser.add_argument('--vid-records', default=os.path.join('out', 'sample', 'vid'))
    parser.add_argument('--coco-records', default=os.path.join('out', 'sample', 'coco'))
    parser.add_argument('--work-dir', help='where the runs and their logs go (default: a new '
                                           'temporary directory, kept)')
    parser.add_argument('--steps', type=int, default=4)
    parser.add_argument('--iterations-per-loop', type=int, default=2)
    parser.add_argument('--detect', action='store_true',
                        help='only check that this machine has an NPU (exit 1 if not)')
    args = parser.parse_args(argv)
    if args.iterations_per_loop < 2 or args.steps < 1:
        parser.error('--iterations-per-loop must be > 1 and --steps >= 1')
    return args


def main(argv=None, out=sys.stdout):
    args = parse_args(argv)
    reason = no_npu_reason()
    if reason:
        out.write('no NPU on this machine: %s\n' % reason)
        return 1
    if args.detect:
        return 0
    args.work_dir = args.work_dir or tempfile.mkdtemp(prefix='npu-doctor-')
    os.makedirs(args.work_dir, exist_ok=True)
    return doctor(args, out)
