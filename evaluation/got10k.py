"""GOT-10k: its result layout, its val numbers as got10k's ExperimentGOT10k.report computes them,
and its rule that test results come from models trained on GOT-10k train only.

Layout (got10k's: its report and the evaluation server read it):
  <dir>/<tracker>/<seq>/<seq>_001.txt    x,y,w,h per frame; _002, _003: more repetitions (got10k
                                         runs a non-deterministic tracker 3 times; ours is
                                         deterministic: one)
  <dir>/<tracker>/<seq>/<seq>_time.txt   seconds per frame, one column per repetition

Val numbers, per got10k: IoU (got10k.utils.metrics.rect_iou, boxes clipped to the frame given
by meta_info.ini's resolution) of frames 1.. (frame 0 is the given box) where cover.label > 0,
every repetition's IoUs concatenated; AO = their mean, SR0.5 = fraction > 0.5, SR0.75 =
fraction > 0.75 (got10k's success curve at 0.75), speed = mean of 1 / time over all timed
frames > 0; overall: all sequences' IoUs and times concatenated (not a mean of sequences).
A sequence without a times file has speed -1 (got10k's report would reuse the previous
sequence's times there).
"""
from __future__ import absolute_import, division, print_function

import glob
import os
import sys

import numpy as np

from datasets import fileio
from evaluation import ope
from evaluation.otb import EvaluationError, read_result_file

SUCCESS_THRESHOLDS = np.linspace(0, 1, 101)     # got10k's ExperimentGOT10k curve
TEST_SOURCE = 'got10k:train'


def result_path(layout_dir, tracker, name, repetition=1):
    return os.path.join(layout_dir, tracker, name, '%s_%03d.txt' % (name, repetition))


def times_path(layout_dir, tracker, name):
    return os.path.join(layout_dir, tracker, name, '%s_time.txt' % name)


def write_layout(results_dir, tracker, names, layout_dir):
    """Our results (<results>/<tracker>/<seq>.txt, times/<seq>_time.txt) as got10k's repetition
    1; sequences without a result are left out. Returns the names written."""
    written = []
    for name in names:
        source = os.path.join(results_dir, tracker, name + '.txt')
        if not os.path.isfile(source):
            continue
        times = os.path.join(results_dir, tracker, 'times', name + '_time.txt')
        if os.path.isfile(times):
            fileio.write_atomic(times_path(layout_dir, tracker, name), fileio.read_bytes(times))
        fileio.write_atomic(result_path(layout_dir, tracker, name), fileio.read_bytes(source))
        written.append(name)
    return written


def read_repetitions(layout_dir, tracker, sequence):
    """[boxes] of every repetition's result file, each checked against the ground truth."""
    pattern = os.path.join(layout_dir, tracker, sequence.name, '%s_[0-9]*.txt' % sequence.name)
    files = sorted(glob.glob(pattern))
    if not files:
        raise EvaluationError('%s: missing (tracker %s has no result for %s)' % (
            result_path(layout_dir, tracker, sequence.name), tracker, sequence.name))
    return [read_result_file(path, sequence) for path in files]


def read_times(layout_dir, tracker, name):
    path = times_path(layout_dir, tracker, name)
    if not os.path.isfile(path):
        return np.zeros(0)
    times = np.loadtxt(path, delimiter=',', ndmin=1).ravel()
    times = times[~np.isnan(times)]
    return times[times > 0]


def sequence_ious(runs, anno, meta):
    from got10k.utils.metrics import rect_iou
    cover = np.asarray(meta['cover'])[1:] > 0
    return np.concatenate([rect_iou(b[1:], anno[1:], bound=meta['resolution'])[cover]
                           for b in runs])


def summary(ious, times):
    curve = np.mean(ious[:, None] > SUCCESS_THRESHOLDS[None, :], axis=0)
    return {'ao': float(np.mean(ious)), 'sr': float(np.mean(ious > 0.5)),
            'sr75': float(curve[75]), 'speed_fps': float(np.mean(1.0 / times)) if len(times)
            else -1, 'succ_curve': curve.tolist()}


def tracker_performance(layout_dir, tracker, benchmark):
    seq_wise, all_ious, all_times = {}, [], []
    for sequence in benchmark.sequences:
        runs = read_repetitions(layout_dir, tracker, sequence)
        ious = sequence_ious(runs, sequence.boxes, benchmark.meta[sequence.name])
        times = read_times(layout_dir, tracker, sequence.name)
        seq_wise[sequence.name] = dict(summary(ious, times), length=len(sequence.boxes) - 1,
                                       repetitions=len(runs))
        all_ious.append(ious)
        all_times.append(times)
    overall = summary(np.concatenate(all_ious), np.concatenate(all_times))
    overall['sequences'] = len(benchmark.sequences)
    return {'overall': overall, 'seq_wise': seq_wise}


def evaluate_val(layout_dir, benchmark, trackers, report_dir):
    """AO, SR0.5, SR0.75, speed of trackers' results in got10k's layout on GOT-10k val;
    performance.json and success_plot.png in <report_dir>/<first tracker>/."""
    performance = {t: tracker_performance(layout_dir, t, benchmark) for t in trackers}
    folder = os.path.join(report_dir, trackers[0])
    ope.plot_curves(os.path.join(folder, 'success_plot.png'), SUCCESS_THRESHOLDS,
                    {t: (p['overall']['succ_curve'], p['overall']['ao'])
                     for t, p in performance.items()},
                    'Success plots on GOT-10k val', 'Overlap threshold', 'Success rate')
    fileio.write_json(os.path.join(folder, 'performance.json'), performance)
    return performance


def table(performance):
    rows = sorted(performance.items(), key=lambda kv: -kv[1]['overall']['ao'])
    width = max([len('tracker')] + [len(name) for name, _ in rows])
    lines = ['%-*s  %6s  %6s  %7s  %7s' % (width, 'tracker', 'AO', 'SR0.5', 'SR0.75', 'fps')]
    for name, p in rows:
        o = p['overall']
        lines.append('%-*s  %6.3f  %6.3f  %7.3f  %7.1f' % (width, name, o['ao'], o['sr'],
                                                           o['sr75'], o['speed_fps']))
    return '\n'.join(lines)


# -- the test split's rule -----------------------------------------------------------------------

def run_sources(run_dir):
    """The records' sources a run directory records (trainers.run_dir.run_sources: the union
    over the run's records history in run.json); None when it records none (an older or
    imported run) or its run.json cannot be read."""
    from trainers import config as config_lib
    from trainers import run_dir as run_dir_lib
    try:
        return run_dir_lib.run_sources(run_dir)
    except config_lib.ConfigError:
        return None


def source_warning(run_dirs):
    """One line when a run's records hold anything but GOT-10k train (or do not say), else None."""
    problems = []
    for run_dir in run_dirs:
        sources = run_sources(run_dir)
        if sources is None:
            problems.append('%s: unknown sources' % run_dir)
        elif set(sources) - {TEST_SOURCE}:
            problems.append('%s: sources include %s' % (
                run_dir, ', '.join(sorted(set(sources) - {TEST_SOURCE}))))
    if not problems:
        return None
    return ('warning: GOT-10k test results must come from models trained on %s only (%s)'
            % (TEST_SOURCE, '; '.join(problems)))


def warn_test_split(run_dirs, stream=None):
    line = source_warning(run_dirs)
    if line:
        (stream or sys.stderr).write(line + '\n')
    return line
