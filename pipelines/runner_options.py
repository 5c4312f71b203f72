"""Beam runner options: the pass-through Beam flags, the DirectRunner defaults (workers,
threads or processes) and the worker count shard planning aims at."""
from __future__ import absolute_import, division, print_function

import json
import multiprocessing
import os


def _export_project_path():
    """Let DirectRunner worker processes import this project whatever the working directory
    (an installed package needs nothing; a checkout run with `python -m` does)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    paths = [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p]
    if root not in paths:
        os.environ['PYTHONPATH'] = os.pathsep.join([root] + paths)


def flag_value(args, flag):
    """The value of `flag` in a Beam argument list, in either form (`--flag=v`, `--flag v`);
    the last one given wins, None when absent."""
    value = None
    for i, arg in enumerate(args):
        if arg.startswith(flag + '='):
            value = arg.split('=', 1)[1]
        elif arg == flag and i + 1 < len(args):
            value = args[i + 1]
    return value


def _positive_int(text):
    try:
        return max(0, int(text))
    except (TypeError, ValueError):
        return 0


# Flags that say how many workers a runner will have: the DirectRunner's, Dataflow's
# (--max_num_workers bounds autoscaling, --num_workers starts with that many), Flink's and
# Spark's parallelism.
_REMOTE_WORKER_FLAGS = ('--max_num_workers', '--num_workers', '--parallelism')


def default_workers(beam_args):
    """Workers the run will have, for shard planning: on the DirectRunner (no --runner)
    --direct_num_workers (0 or absent: every core); on other runners --max_num_workers,
    --num_workers or --parallelism, else the local core count (a guess: say
    --min-shards for a cluster)."""
    runner = flag_value(beam_args, '--runner')
    if runner is None or 'direct' in runner.lower():
        flags = ('--direct_num_workers',)
    else:
        flags = _REMOTE_WORKER_FLAGS
    for flag in flags:
        workers = _positive_int(flag_value(beam_args, flag))
        if workers:
            return workers
    return multiprocessing.cpu_count()


# Up to this many units (snippets, image batches, videos) per worker, the DirectRunner runs worker
# threads instead of processes: each process pays seconds of start-up (Beam, OpenCV, TensorFlow
# imports; ~8 s on the loaded 2-core development VM) that a small input never earns back, while
# threads share the GIL for the Python parts (XML, record encoding), which costs on larger inputs
# (bench-vid, 16 snippets x 220 frames: processes 28 s, threads 51 s end to end in one
# measurement; 8 snippets x 77 frames: threads 7.4-8.4 s, processes ~14 s).
THREADS_UP_TO_UNITS_PER_WORKER = 4


def default_running_mode(num_units, workers):
    if num_units <= THREADS_UP_TO_UNITS_PER_WORKER * workers:
        return 'multi_threading'
    return 'multi_processing'


def pipeline_options(beam_args, num_units=None):
    """PipelineOptions from the pass-through Beam flags; with no --runner, the DirectRunner on
    all cores, in multi_processing mode, or multi_threading for small inputs (`num_units` units;
    unless those flags were given)."""
    from apache_beam.options.pipeline_options import PipelineOptions
    _export_project_path()
    args = list(beam_args)
    given = set(a.split('=')[0] for a in args if a.startswith('--'))  # both flag forms
    if '--runner' not in given:
        args.append('--runner=DirectRunner')
        workers = default_workers(args)
        if '--direct_running_mode' not in given:
            mode = ('multi_processing' if num_units is None else
                    default_running_mode(num_units, workers))
            args.append('--direct_running_mode=%s' % mode)
        if '--direct_num_workers' not in given:
            args.append('--direct_num_workers=%d' % workers)
    return PipelineOptions(args)


def recorded_beam_options(options):
    """The Beam options of a run as dataset_info records them: those not at their default."""
    return json.loads(json.dumps(options.get_all_options(drop_default=True), default=str,
                                 sort_keys=True))
