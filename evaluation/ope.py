"""One-pass evaluation (OPE) with pysot-toolkit's definitions, per-attribute scores and plots.

pysot-toolkit's OPEBenchmark (the field's LaSOT numbers), per sequence:
  success      IoU > t for t in 0, 0.05, ..., 1.0; a frame whose ground truth has any of
               x, y, w, h <= 0 has IoU -1 (a miss at every threshold);
  precision    centre distance <= d for d in 0..50 px (centre x + (w - 1) / 2);
  normalised   both centres divided by the ground truth's (w, h) + 1e-16, distance <= 0..0.5;
  precision    for both precisions a frame whose (normalised) ground-truth centre is not
               positive in x and y has distance -1 (a hit at every threshold);
  LaSOT        only the frames where the target is visible are scored, but every curve is
               divided by the number of all frames (pysot's `absent` rule: an occluded or
               out-of-view frame counts as a miss whatever the tracker reports).
Scores: success AUC = mean of the curve, precision at 20 px, normalised precision at 0.2,
success rate at IoU 0.5, each averaged over sequences (equal to the mean of the averaged curve
at that point). Result files are read as they are: pysot does not replace frame 0.
"""
from __future__ import absolute_import, division, print_function

import os

import numpy as np

from datasets import fileio

SUCCESS_THRESHOLDS = np.arange(0, 1.05, 0.05)
PRECISION_THRESHOLDS = np.arange(0, 51, 1).astype(np.float64)
NORM_PRECISION_THRESHOLDS = np.arange(0, 51, 1) / 100.0
AT_20 = 20                  # index of 20 px and of 0.2 in the precision thresholds
AT_HALF = 10                # index of IoU 0.5 in SUCCESS_THRESHOLDS
CURVES = ('success_curve', 'precision_curve', 'norm_precision_curve')


def centres(boxes):
    return boxes[:, :2] + (boxes[:, 2:] - 1) / 2.0


def overlap(a, b):
    """IoU of x,y,w,h rows (no +1 on the sides), clipped to [0, 1]."""
    lo = np.maximum(a[:, :2], b[:, :2])
    hi = np.minimum(a[:, :2] + a[:, 2:], b[:, :2] + b[:, 2:])
    inter = np.prod(np.maximum(0, hi - lo), axis=1)
    union = np.prod(a[:, 2:], axis=1) + np.prod(b[:, 2:], axis=1) - inter
    with np.errstate(divide='ignore', invalid='ignore'):
        return np.clip(inter / union, 0, 1)


def success_curve(boxes, anno, n_frames):
    scored = np.all(anno > 0, axis=1)
    iou = np.full(len(anno), -1.0)
    iou[scored] = overlap(boxes[scored], anno[scored])
    with np.errstate(invalid='ignore'):
        return np.sum(iou[:, None] > SUCCESS_THRESHOLDS[None, :], axis=0) / float(n_frames)


def _distance_curve(truth, tracked, thresholds, n_frames):
    scored = np.all(truth > 0, axis=1)
    distance = np.full(len(truth), -1.0)
    distance[scored] = np.sqrt(np.sum((truth[scored] - tracked[scored]) ** 2, axis=1))
    with np.errstate(invalid='ignore'):
        return np.sum(distance[:, None] <= thresholds[None, :], axis=0) / float(n_frames)


def precision_curve(boxes, anno, n_frames):
    return _distance_curve(centres(anno), centres(boxes), PRECISION_THRESHOLDS, n_frames)


def norm_precision_curve(boxes, anno, n_frames=None):
    scale = anno[:, 2:] + 1e-16
    return _distance_curve(centres(anno) / scale, centres(boxes) / scale,
                           NORM_PRECISION_THRESHOLDS, len(anno) if n_frames is None else n_frames)


def sequence_curves(boxes, anno, visible=None):
    """{success_curve, precision_curve, norm_precision_curve} of one sequence; `visible`: the
    frames to score (the others count as misses)."""
    boxes, anno = np.asarray(boxes, np.float64), np.asarray(anno, np.float64)
    n_frames = len(anno)
    if visible is not None:
        boxes, anno = boxes[visible], anno[visible]
    return {'success_curve': success_curve(boxes, anno, n_frames),
            'precision_curve': precision_curve(boxes, anno, n_frames),
            'norm_precision_curve': norm_precision_curve(boxes, anno, n_frames)}


def scores(curves):
    """The scores of (averaged) curves, as plain floats and lists for JSON."""
    out = {k: np.asarray(v, np.float64).tolist() for k, v in curves.items()}
    out.update(success_score=float(np.mean(curves['success_curve'])),
               success_rate=float(curves['success_curve'][AT_HALF]),
               precision_score=float(curves['precision_curve'][AT_20]),
               norm_precision_score=float(curves['norm_precision_curve'][AT_20]))
    return out


def mean_curves(entries):
    return {k: np.mean([e[k] for e in entries], axis=0) for k in CURVES}


def sequence_speed(results_dir, tracker, name):
    """Mean of 1 / seconds over the frames timed > 0 (got10k's speed), -1 without a times file."""
    path = os.path.join(results_dir, tracker, 'times', name + '_time.txt')
    if not os.path.isfile(path):
        return -1
    times = np.loadtxt(path, ndmin=1)
    times = times[times > 0]
    return float(np.mean(1.0 / times)) if len(times) else -1


def pysot_performance(results, sequences, visible, speeds):
    """{overall, seq_wise} of one tracker: results[i] the boxes of sequences[i]."""
    seq_wise = {}
    for sequence, boxes in zip(sequences, results):
        entry = scores(sequence_curves(boxes, sequence.boxes, visible.get(sequence.name)))
        entry.update(speed_fps=speeds[sequence.name], frames=len(sequence.boxes))
        seq_wise[sequence.name] = entry
    overall = scores(mean_curves(list(seq_wise.values())))
    timed = [s for s in speeds.values() if s > 0]
    overall.update(speed_fps=float(np.mean(timed)) if timed else -1,
                   sequences=len(sequences), frames=int(sum(len(s.boxes) for s in sequences)))
    return {'overall': overall, 'seq_wise': seq_wise}


def attribute_scores(seq_wise, attributes):
    """{attribute: scores of its sequences' mean curves + `sequences`} over the sequences of
    seq_wise that have attributes."""
    members = {}
    for name, names in attributes.items():
        if name in seq_wise:
            for attribute in names:
                members.setdefault(attribute, []).append(name)
    out = {}
    for attribute, names in sorted(members.items()):
        out[attribute] = scores(mean_curves([seq_wise[n] for n in names]))
        out[attribute]['sequences'] = len(names)
    return out


def plot_curves(path, thresholds, curves, title, xlabel, ylabel):
    """A PNG of one curve per tracker ({name: (curve, score)}, best score first in the legend)."""
    import matplotlib
    matplotlib.use('Agg')
    from matplotlib import pyplot as plt
    fig, ax = plt.subplots()
    for name, (curve, score) in sorted(curves.items(), key=lambda kv: -kv[1][1]):
        ax.plot(thresholds, curve, label='%s: [%.3f]' % (name, score))
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title, xlim=(thresholds[0], thresholds[-1]),
           ylim=(0, 1))
    ax.grid(True)
    ax.legend(loc='center left', bbox_to_anchor=(1, 0.5), fontsize=7)
    fileio.makedirs(os.path.dirname(path))
    fig.savefig(path + '.%d.tmp.png' % os.getpid(), bbox_inches='tight', dpi=150)
    plt.close(fig)
    os.replace(path + '.%d.tmp.png' % os.getpid(), path)
    return path


def plot_attributes(report_dir, performance):
    """attributes/success_<attribute>.png: the trackers' success curves on each attribute's
    sequences."""
    first = next(iter(performance.values()))
    for attribute in first.get('attributes', {}):
        curves = {t: (p['attributes'][attribute]['success_curve'],
                      p['attributes'][attribute]['success_score'])
                  for t, p in performance.items()}
        safe = ''.join(c if c.isalnum() or c in '-_' else '_' for c in attribute)
        plot_curves(os.path.join(report_dir, 'attributes', 'success_%s.png' % safe),
                    SUCCESS_THRESHOLDS, curves, 'Success plots of OPE - %s (%d)' % (
                        attribute, first['attributes'][attribute]['sequences']),
                    'Overlap threshold', 'Success rate')


def add_attributes(performance, attributes, report_dir):
    """Per-attribute scores into every tracker's performance, and their plots."""
    if not attributes:
        return
    for entry in performance.values():
        entry['attributes'] = attribute_scores(entry['seq_wise'], attributes)
    plot_attributes(report_dir, performance)


def evaluate(results_dir, benchmark, trackers, report_dir, load_result):
    """pysot-toolkit's OPE of trackers on a benchmark (LaSOT: its visibility), per-attribute
    scores, plots and <report_dir>/<first tracker>/performance.json; returns the performance."""
    sequences = benchmark.sequences
    performance = {}
    for tracker in trackers:
        results = [load_result(results_dir, tracker, s) for s in sequences]
        speeds = {s.name: sequence_speed(results_dir, tracker, s.name) for s in sequences}
        performance[tracker] = pysot_performance(results, sequences, benchmark.visible, speeds)
    folder = os.path.join(report_dir, trackers[0])
    add_attributes(performance, benchmark.attributes, folder)
    for key, thresholds, score, xlabel in (
            ('success', SUCCESS_THRESHOLDS, 'success_score', 'Overlap threshold'),
            ('precision', PRECISION_THRESHOLDS, 'precision_score', 'Location error threshold'),
            ('norm_precision', NORM_PRECISION_THRESHOLDS, 'norm_precision_score',
             'Normalised location error threshold')):
        curves = {t: (p['overall'][key + '_curve'], p['overall'][score])
                  for t, p in performance.items()}
        plot_curves(os.path.join(folder, '%s_plots.png' % key), thresholds, curves,
                    '%s plots of OPE on %s' % (key.replace('_', ' ').capitalize(),
                                               benchmark.name), xlabel,
                    'Success rate' if key == 'success' else 'Precision')
    fileio.write_json(os.path.join(folder, 'performance.json'), performance)
    return performance
