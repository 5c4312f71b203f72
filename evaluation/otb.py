"""One-pass evaluation (OPE) of tracker result folders, OTB style, through the got10k toolkit.

python -m evaluation.otb --results OUT/results (--otb DIR [--list FILE] | --vid ROOT | --uav123 DIR
    | --nfs DIR | --tc128 DIR | --lasot DIR | --got10k DIR [--split val|test] | --trackingnet DIR)
    --trackers NAME [NAME ...] [--report OUT/reports] [--no-otb-ranges]

(every benchmark through evaluation.benchmarks; this module is the got10k OTB-style one, used
for OTB, VID, UAV123, NfS and TC128)

Works on any tracker's results in the layout <results>/<tracker>/<seq>.txt (x,y,w,h per frame,
comma separated) with optional <results>/<tracker>/times/<seq>_time.txt.

The numbers are got10k's: its ExperimentOTB.report runs on our local sequences (its constructor
downloads OTB, so the experiment object is made without it and given the sequences), i.e.
got10k.utils.metrics.rect_iou / center_error per frame, the success curve over 21 IoU thresholds
(IoU > t), the precision curve over 0..50 px (error <= d), per-sequence curves averaged over
sequences, success score = mean of the averaged success curve (AUC), precision score = the
averaged curve at 20 px, success rate = at IoU 0.5, fps = mean over sequences of the mean
1/time. Like got10k, frame 0 of every result is replaced by the ground truth.
got10k has no normalised precision; it is added here with pysot-toolkit's definition (centres
divided by the ground-truth width and height, their distance; a frame whose normalised
ground-truth centre is not positive in x and y counts as a hit at every threshold (pysot's
distance -1); thresholds 0..0.5 in steps of 0.01, score at 0.2), the same per-sequence then
overall averaging. A one-frame sequence is refused (got10k's report cannot read a one-row result
file, and OPE replaces frame 0 by the ground truth: nothing would be measured).
UAV123 uses got10k's ExperimentUAV123 (frames whose ground truth is NaN are left out; the
normalised precision leaves them out too). Output: performance.json, success_plots.png and
precision_plots.png (one curve per tracker, score in the legend) in <report>/<first tracker>/,
and per attribute (evaluation.ope) attributes/success_<attribute>.png.
"""
from __future__ import absolute_import, division, print_function

import argparse
import os
import sys

import numpy as np

from datasets import tracking
from datasets import fileio
from datasets.errors import InputError
from evaluation import ope

# got10k's experiment of each benchmark (its sequences are ours): UAV123's leaves out the frames
# whose ground truth is NaN (target absent); the others are OTB's.
EXPERIMENTS = {'otb': 'ExperimentOTB', 'vid': 'ExperimentOTB', 'uav123': 'ExperimentUAV123',
               'nfs': 'ExperimentNfS', 'tc128': 'ExperimentTColor128'}


class EvaluationError(ValueError):
    """Missing or malformed result files (the message names the file and the reason)."""


def _experiment_class(benchmark):
    import matplotlib
    matplotlib.use('Agg')   # no display: got10k's plots go to PNG files only
    from got10k import experiments
    return getattr(experiments, EXPERIMENTS[benchmark])


class GroundTruth(object):
    """got10k's dataset protocol (seq_names, len, [i] -> (img_files, anno)) over sequences
    (anything with .name, .frames and .boxes holding every frame's ground truth)."""

    def __init__(self, sequences):
        self.sequences = list(sequences)
        self.seq_names = [s.name for s in self.sequences]

    def __len__(self):
        return len(self.sequences)

    def __getitem__(self, index):
        s = self.sequences[index]
        return list(s.frames), np.asarray(s.boxes, np.float64)


def check_sequences(sequences):
    """EvaluationError for sequences OPE cannot score: one frame (frame 0 is replaced by the
    ground truth, and got10k's report reads a one-row result file as one 1-D box and fails)."""
    short = [s.name for s in sequences if len(s.boxes) < 2]
    if short:
        raise EvaluationError('%d sequence(s) with a single frame (%s): OPE scores frames after '
                              'the first; leave them out (a --list file)' % (
                                  len(short), ', '.join(short[:5])))


def load_result(results_dir, tracker, sequence):
    """The boxes of one result file, checked against the sequence's length."""
    path = os.path.join(results_dir, tracker, sequence.name + '.txt')
    if not os.path.isfile(path):
        raise EvaluationError('%s: missing (tracker %s has no result for %s)'
                              % (path, tracker, sequence.name))
    return read_result_file(path, sequence)


def read_result_file(path, sequence):
    """The boxes of a result file (comma-separated x,y,w,h rows), one per frame of sequence."""
    try:
        boxes = np.loadtxt(path, delimiter=',', ndmin=2)
    except ValueError as err:
        raise EvaluationError('%s: not comma-separated x,y,w,h rows: %s' % (path, err))
    if boxes.shape != (len(sequence.boxes), 4):
        raise EvaluationError('%s: %d rows of %d values, the ground truth has %d frames'
                              % (path, boxes.shape[0], boxes.shape[1] if boxes.ndim == 2 else 0,
                                 len(sequence.boxes)))
    return boxes


def evaluate(results_dir, sequences, trackers, report_dir, benchmark='otb', attributes=None):
    """got10k's OPE report (the experiment of `benchmark`, see EXPERIMENTS) of trackers over
    sequences plus normalised precision and per-attribute scores ({seq: [attribute]}); returns
    the performance dict written to <report_dir>/<trackers[0]>/performance.json."""
    experiment_class = _experiment_class(benchmark)
    trackers = list(trackers)
    if not trackers:
        raise EvaluationError('no tracker to evaluate')
    sequences = list(sequences)
    check_sequences(sequences)
    results = {t: [load_result(results_dir, t, s) for s in sequences] for t in trackers}
    experiment = experiment_class.__new__(experiment_class)   # skip the constructor's download
    experiment.dataset = GroundTruth(sequences)
    experiment.result_dir = results_dir
    experiment.report_dir = report_dir
    experiment.nbins_iou, experiment.nbins_ce = 21, 51
    performance = experiment.report(trackers)
    for tracker in trackers:
        curves = []
        for sequence, boxes in zip(sequences, results[tracker]):
            curve = norm_precision(boxes, sequence.boxes)
            curves.append(curve)
            entry = performance[tracker]['seq_wise'][sequence.name]
            entry.update(norm_precision_curve=curve.tolist(),
                         norm_precision_score=float(curve[ope.AT_20]),
                         frames=len(sequence.boxes))
        overall = np.mean(curves, axis=0)
        performance[tracker]['overall'].update(
            norm_precision_curve=overall.tolist(),
            norm_precision_score=float(overall[ope.AT_20]),
            sequences=len(sequences), frames=int(sum(len(s.boxes) for s in sequences)))
    ope.add_attributes(performance, attributes, os.path.join(report_dir, trackers[0]))
    path = os.path.join(report_dir, trackers[0], 'performance.json')
    fileio.write_json(path, performance)
    return performance


def norm_precision(boxes, anno):
    """pysot's normalised precision curve (evaluation.ope) on got10k's terms: frame 0 replaced
    by the ground truth, frames whose ground truth is NaN left out (as got10k's UAV123)."""
    boxes, anno = np.array(boxes, np.float64), np.asarray(anno, np.float64)
    boxes[0] = anno[0]
    valid = ~np.any(np.isnan(anno), axis=1)
    return ope.norm_precision_curve(boxes[valid], anno[valid])


def table(performance):
    """A short text table of the overall numbers, best success score first."""
    rows = sorted(performance.items(), key=lambda kv: -kv[1]['overall']['success_score'])
    width = max([len('tracker')] + [len(name) for name, _ in rows])
    lines = ['%-*s  %7s  %7s  %8s  %7s  %7s' % (width, 'tracker', 'success', 'prec@20',
                                               'normprec', 'SR@0.5', 'fps')]
    for name, p in rows:
        o = p['overall']
        lines.append('%-*s  %7.3f  %7.3f  %8.3f  %7.3f  %7.1f' % (
            width, name, o['success_score'], o['precision_score'], o['norm_precision_score'],
            o['success_rate'], o['speed_fps']))
    return '\n'.join(lines)


def parse_args(argv):
    parser = argparse.ArgumentParser(prog='python -m evaluation.otb',
                                     description=__doc__.split('\n\n')[0])
    parser.add_argument('--results', required=True, help='folder of <tracker>/<seq>.txt')
    tracking.add_source_arguments(parser)
    parser.add_argument('--trackers', nargs='+', required=True)
    parser.add_argument('--report', help='report folder (default: <results>/../reports)')
    return parser.parse_args(argv)


def main(argv=None):
    from evaluation import benchmarks
    args = parse_args(argv)
    out = os.path.dirname(os.path.abspath(args.results))
    try:
        lines = benchmarks.evaluate(tracking.load_benchmark(args), args.results, args.trackers,
                                    out, args.report)
    except (EvaluationError, InputError) as err:
        sys.stderr.write('error: %s\n' % err)
        return 1
    except OSError as err:   # a full, read-only or unwritable report folder
        sys.stderr.write('error: %s\n' % fileio.os_error_line(err))
        return 1
    print('\n'.join(lines))
    return 0


if __name__ == '__main__':
    sys.exit(main())
