"""VOT 2016-2018 accuracy, robustness and EAO of reset-protocol result folders, as pysot-toolkit.

python -m evaluation.vot --results OUT/results --vot ROOT [--vot-year 2016|2017|2018]
    [--trackers NAME ...] [--report FILE]

Reads <results>/<tracker>/baseline/<seq>/<seq>_NNN.txt (lines `1` init, `2` failure, `0`
skipped, or a region: 4 or 8 numbers), any tracker's (pysot's layout). Like pysot-toolkit: 15
repetition files are all read, otherwise only the first. The definitions are pysot-toolkit's
(AccuracyRobustnessBenchmark, EAOBenchmark, utils.statistics), overlaps by the VOT toolkit's
rasterised region overlap (datasets.vot.region_overlap):
  accuracy    mean overlap over every valid frame of every sequence pooled (frames weigh the
              same, not sequences); a frame's overlap is averaged over repetitions first; not
              valid: the special lines and the 10 burn-in frames from each initialisation on;
              bounds (width, height) of the image;
  lost number failures (`2` lines) summed over sequences, averaged over repetitions;
  robustness  lost number / frames of all sequences * 100 (failures per 100 frames);
  EAO         expected average overlap over sequence lengths [low, high]: VOT2016 108-371,
              VOT2017 and VOT2018 100-356; fragments from each initialisation (the first frame,
              then each failure + 5) to the next one, zero after a failure, the last one open;
              bounds (width - 1, height - 1) as pysot-toolkit's EAO uses; per tag (TAGS) the
              fragments are weighted by their share of tagged frames, as EAOBenchmark(tags=...).
Output: the report JSON (default <results>/../reports/vot.json) and a table.
"""
from __future__ import absolute_import, division, print_function

import argparse
import collections
import glob
import json
import os
import re
import sys
import warnings

import numpy as np

from datasets import fileio
from datasets.errors import InputError
from datasets.vot import (EXPERIMENT, TAGS, frame_size, load_vot, region_overlap, result_folder,
                          year_of)
from evaluation.otb import EvaluationError

EAO_RANGES = {2016: (108, 371), 2017: (100, 356), 2018: (100, 356)}
BURNIN = 10
SKIPPING = 5
REPETITIONS = 15                  # pysot reads all repetition files only when there are 15
SPECIAL = {0: 'skipped', 1: 'init', 2: 'failure'}


def eao_range(year):
    if year not in EAO_RANGES:
        raise EvaluationError('unknown VOT year %r: one of %s' % (year, sorted(EAO_RANGES)))
    return EAO_RANGES[year]


def resolve_year(year, root):
    """The given year, else the one the root's name says, else a one-line error."""
    year = year or year_of(root)
    if year is None:
        raise EvaluationError('%s: say which VOT year it is (--vot-year 2016|2017|2018, make '
                              'VOT_YEAR=...): the EAO range depends on it' % root)
    eao_range(year)
    return year


# -- result files ------------------------------------------------------------------------------

def read_trajectory(path):
    """[tuple of floats] per line of a result file; a one-number line must be 0, 1 or 2."""
    try:
        lines = fileio.read_list_lines(path)
    except (IOError, OSError, UnicodeDecodeError) as err:
        raise EvaluationError('cannot read %s: %s' % (path, err))
    out = []
    for number, line in lines:
        try:
            row = tuple(float(v) for v in line.split(','))
        except ValueError:
            raise EvaluationError('%s:%d: not numbers: %r' % (path, number, line))
        if len(row) not in (1, 4, 8) or (len(row) == 1 and row[0] not in SPECIAL):
            raise EvaluationError('%s:%d: expected 0, 1, 2 or a region (4 or 8 numbers), got %r'
                                  % (path, number, line))
        out.append(row)
    return out


def load_trajectories(results_dir, tracker, sequence):
    """The repetitions of one sequence: all 15 if there are 15 files, else the first."""
    folder = result_folder(results_dir, tracker, sequence.name)
    pattern = re.compile(re.escape(sequence.name) + r'_\d{3}\.txt$')
    files = sorted(p for p in glob.glob(os.path.join(folder, '*.txt'))
                   if pattern.match(os.path.basename(p)))
    if not files:
        raise EvaluationError('%s: no result file %s_001.txt' % (folder, sequence.name))
    files = files if len(files) == REPETITIONS else files[:1]
    out = []
    for path in files:
        trajectory = read_trajectory(path)
        if len(trajectory) != len(sequence.regions):
            raise EvaluationError('%s: %d lines but the sequence has %d frames'
                                  % (path, len(trajectory), len(sequence.regions)))
        out.append(trajectory)
    return out


# -- pysot-toolkit's statistics ----------------------------------------------------------------

def failure_frames(trajectory):
    return [i for i, row in enumerate(trajectory) if row == (2.0,)]


def frame_overlaps(trajectory, regions, bound, burnin=0):
    """Overlap per frame (NaN for special lines and for the burnin frames from each `1` on)."""
    rows = list(trajectory)
    for i, row in enumerate(trajectory):
        if row == (1.0,):
            for j in range(i, min(i + burnin, len(rows))):
                rows[j] = (0.0,)
    return np.array([region_overlap(row, region, bound) for row, region in zip(rows, regions)],
                    np.float64)


def accuracy_robustness(sequence_overlaps, sequence_failures):
    """pysot's show_result numbers from {seq: per-frame overlaps (averaged over repetitions)}
    and {seq: [failures of each repetition]}."""
    pooled = np.concatenate([np.asarray(v, np.float64) for v in sequence_overlaps.values()])
    length = len(pooled)
    counts = {len(v) for v in sequence_failures.values()}
    if len(counts) != 1:
        raise EvaluationError('sequences have different numbers of repetitions (%s): pysot sums '
                              'failures per repetition across sequences' % sorted(counts))
    per_repetition = np.sum(np.array(list(sequence_failures.values()), np.float64), axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', category=RuntimeWarning)
        accuracy = float(np.nanmean(pooled))
    return {'accuracy': accuracy, 'lost_number': float(np.mean(per_repetition)),
            'robustness': float(np.mean(per_repetition / length) * 100), 'frames': length}


def eao_fragments(overlaps, failures, tag, max_len, skipping=SKIPPING):
    """(fragment rows [k, max_len], weights [k]) of one trajectory, as EAOBenchmark builds them:
    from each initialisation to the next one (failure + skipping, included), zeros after it; the
    last fragment open (NaN after it); weight: the fragment's share of frames with the tag.
    pysot also multiplies every weight by 1 / repetitions, a constant that cancels out."""
    n = len(overlaps)
    rows, weights = [], []
    if not failures:
        row = np.full(max_len, np.nan)
        row[:n] = overlaps                      # pysot keeps these NaN (frame 0 is never used)
        return [row], [np.sum(tag[:n]) / n]
    points = [0] + [f + skipping for f in failures if f + skipping <= n]
    for i, start in enumerate(points):
        last = i == len(points) - 1
        end = n if last else points[i + 1] + 1
        fragment = np.nan_to_num(np.array(overlaps[start:end], np.float64), nan=0.0)
        row = np.full(max_len, np.nan) if last else np.zeros(max_len)
        row[:len(fragment)] = fragment
        rows.append(row)
        weights.append(np.sum(tag[start:end]) / ((n - start + 1e-16) if last else (end - start)))
    return rows, weights


def expected_overlaps(fragments, weights):
    """Expected overlap (float32, as pysot) for each length: at length i, over the fragments
    that reach column i, the weighted mean of their mean overlap over columns 1..i."""
    fragments = np.asarray(fragments, np.float64)
    weights = np.asarray(weights, np.float64)[:, None]
    curve = np.zeros(fragments.shape[1], np.float32)
    curve[0] = 1
    reach = ~np.isnan(fragments[:, 1:])
    means = np.cumsum(fragments[:, 1:], axis=1) / np.arange(1, fragments.shape[1])
    with np.errstate(invalid='ignore', divide='ignore'):
        numerator = np.sum(np.where(reach, means * weights, 0.0), axis=0)
        denominator = np.sum(np.where(reach, weights, 0.0), axis=0)
        values = numerator / denominator
    some = reach.any(axis=0)
    curve[1:][some] = values[some]
    return curve


def average_eao(curve, low, high):
    """Mean of the expected-overlap curve over lengths low..high (1-based, those it has)."""
    weight = np.zeros(len(curve))
    weight[low - 1:high] = 1
    valid = ~np.isnan(curve)
    total = np.sum(weight[valid])
    return float(np.sum(curve[valid] * weight[valid]) / total) if total > 0 else float('nan')


def eao_by_tag(trajectories, low, high, tags=('all',) + TAGS):
    """{tag: EAO} over [(overlaps, failures, {tag: per-frame 0/1})] of every trajectory."""
    max_len = max(len(o) for o, _, _ in trajectories)
    out = collections.OrderedDict()
    for tag in tags:
        fragments, weights = [], []
        for overlaps, failures, frame_tags in trajectories:
            rows, w = eao_fragments(overlaps, failures, frame_tags[tag], max_len)
            fragments += rows
            weights += w
        out[tag] = average_eao(expected_overlaps(fragments, weights), low, high)
    return out


# -- a results folder ----------------------------------------------------------------------------

def evaluate_tracker(results_dir, tracker, sequences, sizes, year):
    """The report of one tracker: A, R, lost number, EAO (and per tag), per sequence A and lost."""
    low, high = eao_range(year)
    overlaps, failures, for_eao = collections.OrderedDict(), collections.OrderedDict(), []
    for sequence in sequences:
        width, height = sizes[sequence.name]
        frame_tags = dict(sequence.tags, all=np.ones(len(sequence.regions), np.int64))
        repetitions = load_trajectories(results_dir, tracker, sequence)
        per_repetition = []
        for trajectory in repetitions:
            per_repetition.append(frame_overlaps(trajectory, sequence.regions, (width, height),
                                                 BURNIN))
            lost = failure_frames(trajectory)
            for_eao.append((frame_overlaps(trajectory, sequence.regions,
                                           (width - 1, height - 1)), lost, frame_tags))
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', category=RuntimeWarning)
            overlaps[sequence.name] = np.nanmean(per_repetition, axis=0)
        failures[sequence.name] = [len(failure_frames(t)) for t in repetitions]
    report = accuracy_robustness(overlaps, failures)
    tags = eao_by_tag(for_eao, low, high)
    report.update({'eao': tags['all'], 'eao_tags': tags, 'eao_range': [low, high],
                   'year': year, 'repetitions': len(failures[sequences[0].name])})
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', category=RuntimeWarning)
        report['sequences'] = collections.OrderedDict(
            (name, {'accuracy': float(np.nanmean(overlaps[name])),
                    'lost_number': float(np.mean(failures[name]))}) for name in overlaps)
    return report


def evaluate(results_dir, sequences, trackers, year):
    """{tracker: evaluate_tracker's report}; frame sizes read once."""
    if not sequences:
        raise EvaluationError('no sequences to evaluate')
    sizes = {s.name: frame_size(s) for s in sequences}
    return collections.OrderedDict(
        (t, evaluate_tracker(results_dir, t, sequences, sizes, year)) for t in trackers)


def _json_number(value):
    return None if isinstance(value, float) and np.isnan(value) else value


def write_report(path, report):
    def clean(obj):
        if isinstance(obj, dict):
            return collections.OrderedDict((k, clean(v)) for k, v in obj.items())
        if isinstance(obj, list):
            return [clean(v) for v in obj]
        return _json_number(obj)
    fileio.write_atomic(path, (json.dumps(clean(report), indent=1) + '\n').encode('utf-8'))


def table(report):
    """Trackers by EAO: accuracy, robustness, lost number, EAO (pysot's columns)."""
    width = max([len(n) for n in report] + [12])
    lines = ['%-*s  %8s  %10s  %11s  %6s' % (width, 'tracker', 'accuracy', 'robustness',
                                              'lost number', 'EAO')]
    order = sorted(report, key=lambda n: -np.nan_to_num(report[n]['eao'], nan=-1.0))
    for name in order:
        r = report[name]
        lines.append('%-*s  %8.3f  %10.3f  %11.1f  %6.3f' % (
            width, name, r['accuracy'], r['robustness'], r['lost_number'], r['eao']))
    return '\n'.join(lines)


def summary_line(name, r, sequences):
    return ('VOT%d %s: accuracy %.3f, robustness %.3f (%g lost in %d frames), EAO %.3f over '
            'lengths %d-%d, %d sequences' % (
                r['year'], name, r['accuracy'], r['robustness'], r['lost_number'], r['frames'],
                r['eao'], r['eao_range'][0], r['eao_range'][1], sequences))


def result_trackers(results_dir):
    """Tracker folders of a results folder that hold a baseline/ (sorted)."""
    if not os.path.isdir(results_dir):
        raise EvaluationError('%s is not a directory' % results_dir)
    return [n for n in sorted(os.listdir(results_dir))
            if os.path.isdir(os.path.join(results_dir, n, EXPERIMENT))]


def parse_args(argv):
    parser = argparse.ArgumentParser(prog='python -m evaluation.vot',
                                     description=__doc__.split('\n\n')[0])
    parser.add_argument('--results', required=True, help='folder of <tracker>/baseline/<seq>/')
    parser.add_argument('--vot', required=True, help='VOT root (list.txt, <seq>/groundtruth.txt)')
    parser.add_argument('--vot-year', type=int, choices=sorted(EAO_RANGES),
                        help='VOT edition (its EAO range); default: the year in the root name')
    parser.add_argument('--trackers', nargs='+', help='default: every tracker with a baseline/')
    parser.add_argument('--report', help='report JSON (default <results>/../reports/vot.json)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    report_path = args.report or os.path.join(
        os.path.dirname(os.path.abspath(args.results)), 'reports', 'vot.json')
    try:
        year = resolve_year(args.vot_year, args.vot)
        sequences = load_vot(args.vot)
        trackers = args.trackers or result_trackers(args.results)
        if not trackers:
            raise EvaluationError('%s holds no <tracker>/baseline/ folder' % args.results)
        report = evaluate(args.results, sequences, trackers, year)
    except (EvaluationError, InputError) as err:
        sys.stderr.write('error: %s\n' % err)
        return 1
    write_report(report_path, report)
    print(table(report))
    for name in trackers:
        print(summary_line(name, report[name], len(sequences)))
    print('report: %s' % report_path)
    return 0


if __name__ == '__main__':
    sys.exit(main())
