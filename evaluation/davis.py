"""DAVIS semi-supervised evaluation: J (region), F (boundary), J&F, the official CSVs.

python -m evaluation.davis --results <folder of <seq>/<frame>.png> --davis <DAVIS root>
    [--year 2016|2017] [--split val] [--out DIR] [--sequences a,b] [--overlay-frames 4] [--resize]

Semantics are those of the official davis2017-evaluation toolkit (docs/segmentation.md, "DAVIS
evaluation"), reimplemented here with OpenCV morphology:

* J: IoU of the object's ground-truth and predicted masks, 1 when both are empty.
* F: boundary maps (a pixel differs from its right, lower or lower-right neighbour; on the last
  row only the right, on the last column only the lower neighbour counts), dilated by a disk of
  radius ceil(0.008 * image diagonal); precision / recall of boundary pixels inside the other's
  dilated boundary; an empty boundary counts as precision (or recall) 1 and the other 0, both
  empty as 1 / 1; F = 0 when P + R = 0.
* Per object over frames 1 .. n-2 (first and last excluded): mean, recall (fraction of frames
  > 0.5) and decay (mean of the first minus mean of the last of 4 overlapping bins); global
  numbers are means over objects; J&F = (J-Mean + F-Mean) / 2.
* Ground truth: palette index k is object k for k = 1 .. max index of the first frame; 255 is
  void and counts as background. DAVIS 2016 is binary: any non-zero index is the object.
* A result PNG holds object ids: palette indices (mode P), grey values (L), or RGB colours of the
  DAVIS palette (mapped back to their indices). A 2017 result holding an id above the sequence's
  object count (255 included) is refused, as the toolkit refuses it. A result of another size is
  refused too, unless `--resize` (nearest, pixel centres: `resize_labels`, the segmenter's own
  resize; the OSMN reference resized).
* Layouts (read by `datasets.davis`): the DAVIS 2017 trainval release (ImageSets/<year>/<split>.txt, sequence names; 2016
  = the union of the 2017 objects) and, for 2016, the original DAVIS 2016 release
  (ImageSets/480p/<split>.txt, lines of "<image> <mask>" paths; 0/255 masks).

Differences from the toolkit, none of which changes a number it can produce: its decay bin
indices are uint8 (wrong beyond 256 frames, here plain integers); it exits without a message on a
missing result frame or an id above the object count (here: an error naming the file or
sequence); it reads only the 2017 layout.

Also written: the OSMN reference's J-only number (`iou.txt`, the per-object J means and their
mean: by construction J-Mean, without the reference's string-sorted object folders), the same
report for the "copy the first-frame mask" baseline, and per-sequence overlay strips.
"""
from __future__ import absolute_import, division, print_function

import argparse
import collections
import json
import math
import os
import sys

import cv2
import numpy as np

from datasets import davis as davis_data
from datasets import fileio
from datasets.errors import InputError
from datasets.images import encode_png, resize_labels
from datasets.palette import VOID_LABEL, palette_colours, read_label_png

BOUNDARY_RATIO = 0.008
DECAY_BINS = 4
RECALL_THRESHOLD = 0.5
GLOBAL_COLUMNS = ('J&F-Mean', 'J-Mean', 'J-Recall', 'J-Decay', 'F-Mean', 'F-Recall', 'F-Decay')


class EvaluationError(ValueError):
    pass


# -- per-frame measures -------------------------------------------------------------------------

def jaccard(gt, pred):
    """Region similarity J of two boolean masks; 1 when both are empty."""
    gt, pred = np.asarray(gt, bool), np.asarray(pred, bool)
    union = np.count_nonzero(gt | pred)
    return 1.0 if union == 0 else np.count_nonzero(gt & pred) / float(union)


def boundary_map(mask):
    """1-pixel boundary of a boolean mask: the pixel differs from its right, lower or lower-right
    neighbour (outside the image counts as background except along the last row / column)."""
    seg = np.asarray(mask, bool)
    right, below, diag = np.zeros_like(seg), np.zeros_like(seg), np.zeros_like(seg)
    right[:, :-1] = seg[:, 1:]
    below[:-1, :] = seg[1:, :]
    diag[:-1, :-1] = seg[1:, 1:]
    out = (seg ^ right) | (seg ^ below) | (seg ^ diag)
    out[-1, :] = seg[-1, :] ^ right[-1, :]
    out[:, -1] = seg[:, -1] ^ below[:, -1]
    out[-1, -1] = False
    return out


def boundary_tolerance(shape, ratio=BOUNDARY_RATIO):
    """Dilation radius in pixels: ceil(ratio * diagonal) (8 at 854x480)."""
    return int(math.ceil(ratio * math.hypot(shape[0], shape[1])))


def disk(radius):
    """uint8 structuring element of the pixels with x^2 + y^2 <= radius^2."""
    r = np.arange(-radius, radius + 1)
    return (r[:, None] ** 2 + r[None, :] ** 2 <= radius ** 2).astype(np.uint8)


def f_measure(gt, pred, radius=None):
    """Boundary F of two boolean masks with the DAVIS tolerance (or `radius` pixels)."""
    gt_b, pred_b = boundary_map(gt), boundary_map(pred)
    n_gt, n_pred = np.count_nonzero(gt_b), np.count_nonzero(pred_b)
    if n_gt == 0 or n_pred == 0:
        # empty prediction boundary: precision 1, recall 0 (and the converse); both empty: 1
        return 1.0 if n_gt == n_pred else 0.0
    kernel = disk(boundary_tolerance(gt_b.shape) if radius is None else radius)
    gt_dil = cv2.dilate(gt_b.astype(np.uint8), kernel) > 0
    pred_dil = cv2.dilate(pred_b.astype(np.uint8), kernel) > 0
    precision = np.count_nonzero(pred_b & gt_dil) / float(n_pred)
    recall = np.count_nonzero(gt_b & pred_dil) / float(n_gt)
    if precision + recall == 0:
        return 0.0
    return 2.0 * precision * recall / (precision + recall)


# -- per-object statistics ----------------------------------------------------------------------

def decay_bins(count, bins=DECAY_BINS):
    """[(start, stop)] of the toolkit's decay bins over `count` values (neighbours share their
    edge value): edges round(linspace(1, count, bins + 1)) - 1."""
    edges = (np.round(np.linspace(1, count, bins + 1) + 1e-10) - 1).astype(int)
    return [(int(edges[i]), int(edges[i + 1]) + 1) for i in range(bins)]


def statistics(values):
    """(mean, recall, decay) of one object's per-frame scores. NaNs are left out of means but
    count as failures in the recall (as the toolkit's nanmean(values > 0.5))."""
    values = np.asarray(values, np.float64)
    if values.size == 0:
        return float('nan'), float('nan'), float('nan')
    valid = values[~np.isnan(values)]
    mean = float(np.mean(valid)) if valid.size else float('nan')
    with np.errstate(invalid='ignore'):
        recall = float(np.mean(values > RECALL_THRESHOLD))
    bins = [values[a:b] for a, b in decay_bins(len(values))]

    def nanmean(v):
        v = v[~np.isnan(v)]
        return float(np.mean(v)) if v.size else float('nan')
    return mean, recall, nanmean(bins[0]) - nanmean(bins[-1])


def sequence_scores(gt, pred, num_objects):
    """J and F [num_objects, frames] of ground-truth and predicted id maps [frames, H, W]."""
    j = np.zeros((num_objects, len(gt)))
    f = np.zeros((num_objects, len(gt)))
    for t in range(len(gt)):
        for k in range(num_objects):
            g, p = gt[t] == k + 1, pred[t] == k + 1
            j[k, t], f[k, t] = jaccard(g, p), f_measure(g, p)
    return j, f


# -- datasets and result folders ----------------------------------------------------------------

def ground_truth(davis_root, sequence, year):
    """(frame names, object id maps [frames, H, W], number of objects) of a DAVIS sequence with
    the 3 annotated frames the protocol needs (the first and last are not evaluated)."""
    return davis_data.ground_truth(davis_root, sequence, year, min_frames=3)


def folder_predictions(results_dir, resize=False):
    """predict(sequence, frame names, (H, W)) -> id maps read from results_dir/<seq>/<frame>.png;
    a result of another size than the ground truth is refused (as the toolkit), or with `resize`
    resized by resize_labels."""
    def predict(sequence, names, shape):
        out = []
        for name in names:
            path = os.path.join(results_dir, sequence, name + '.png')
            if not os.path.isfile(path):
                raise EvaluationError('missing result %s: the results folder needs '
                                      '<seq>/<frame>.png for every evaluated frame' % path)
            labels = read_label_png(path)
            if labels.shape != tuple(shape) and not resize:
                raise EvaluationError('%s is %dx%d, the ground truth %dx%d: write results at '
                                      'the annotations\' size, or evaluate with --resize '
                                      '(nearest)' % (path, labels.shape[1], labels.shape[0],
                                                     shape[1], shape[0]))
            out.append(resize_labels(labels, shape))
        return np.stack(out)
    return predict


def evaluate(davis_root, year, split, predict, sequences=None, binary_results=None):
    """Per-object J / F statistics of predict(seq, names, shape) over a DAVIS split.

    binary_results: any non-zero result pixel is the object (default: for 2016)."""
    if year not in davis_data.YEARS:
        raise EvaluationError('year must be one of %s' % (davis_data.YEARS,))
    binary = year == '2016' if binary_results is None else binary_results
    names = sequences or davis_data.split_listing(davis_root, year, split)[1]
    objects = []
    for sequence in names:
        frames, gt, count = ground_truth(davis_root, sequence, year)
        evaluated = frames[1:-1]
        pred = predict(sequence, evaluated, gt.shape[1:])
        if binary:
            pred = (pred > 0).astype(np.uint8)
        highest = int(pred.max())
        if highest > count:
            raise EvaluationError(_id_error(sequence, pred, count))
        j, f = sequence_scores(gt[1:-1], pred, count)
        for k in range(count):
            jm, jr, jd = statistics(j[k])
            fm, fr, fd = statistics(f[k])
            objects.append(collections.OrderedDict([
                ('sequence', sequence), ('object', k + 1), ('name', '%s_%d' % (sequence, k + 1)),
                ('J-Mean', jm), ('J-Recall', jr), ('J-Decay', jd),
                ('F-Mean', fm), ('F-Recall', fr), ('F-Decay', fd),
                ('J', j[k].tolist()), ('F', f[k].tolist()), ('frames', evaluated)]))
    return {'year': year, 'split': split, 'objects': objects, 'global': global_results(objects)}


def _id_error(sequence, pred, count):
    """The one-line refusal of results holding an id above the object count."""
    ids = np.flatnonzero(np.bincount(pred.reshape(-1), minlength=256)[1:]) + 1
    hint = ''
    if ids.tolist() == [VOID_LABEL]:
        hint = ('; the masks look binary (0/255): for single-object (DAVIS 2016) results '
                'evaluate with --year 2016 (make eval-osmn DAVIS_YEAR=2016)')
    return ('results of %s hold object id %d, the ground truth has %d object%s (ids 1..%d)%s'
            % (sequence, int(ids[-1]), count, '' if count == 1 else 's', count, hint))


def global_results(objects):
    """The toolkit's global row: means over objects (every object weighs the same)."""
    if not objects:
        raise EvaluationError('no object to evaluate')
    row = collections.OrderedDict()
    for column in GLOBAL_COLUMNS[1:]:
        row[column] = float(np.mean([o[column] for o in objects]))
    row['J&F-Mean'] = (row['J-Mean'] + row['F-Mean']) / 2.0
    return collections.OrderedDict((c, row[c]) for c in GLOBAL_COLUMNS)


def first_mask_predictions(davis_root, year):
    """The "copy the first-frame mask" baseline as a predict function."""
    def predict(sequence, names, shape):
        first = davis_data.mask_names(davis_root, sequence)[0]
        labels = davis_data.object_labels(read_label_png(os.path.join(
            davis_data.annotation_dir(davis_root, sequence), first + '.png')), year)
        return np.repeat(labels[None], len(names), axis=0)
    return predict


# -- outputs ------------------------------------------------------------------------------------

def write_lines(path, lines):
    """Lines written whole (atomically), each ending with a newline."""
    fileio.write_atomic(path, ''.join(line + '\n' for line in lines).encode('utf-8'))


def write_csvs(report, out_dir, split):
    """global_results-<split>.csv and per-sequence_results-<split>.csv as the toolkit writes
    them (3 decimals; split None: no suffix); returns their paths."""
    os.makedirs(out_dir, exist_ok=True)
    suffix = '-%s' % split if split else ''
    global_path = os.path.join(out_dir, 'global_results%s.csv' % suffix)
    write_lines(global_path, [','.join(GLOBAL_COLUMNS),
                             ','.join('%.3f' % report['global'][c] for c in GLOBAL_COLUMNS)])
    sequence_path = os.path.join(out_dir, 'per-sequence_results%s.csv' % suffix)
    write_lines(sequence_path, ['Sequence,J-Mean,F-Mean'] + [
        '%s,%.3f,%.3f' % (o['name'], o['J-Mean'], o['F-Mean']) for o in report['objects']])
    return global_path, sequence_path


def write_reference_iou(report, out_dir):
    """iou.txt as the OSMN reference's davis_eval.py writes it: '<seq>/<obj>\\t<J mean>' lines
    (2016: '<seq>\\t<J mean>'), then 'all\\t<mean over objects>'; returns that mean."""
    lines = []
    for o in report['objects']:
        key = o['sequence'] if report['year'] == '2016' else '%s/%d' % (o['sequence'], o['object'])
        lines.append('%s\t%.6f' % (key, o['J-Mean']))
    mean = float(np.mean([o['J-Mean'] for o in report['objects']]))
    write_lines(os.path.join(out_dir, 'iou.txt'), lines + ['all\t%.6f' % mean])
    return mean


def overlay(rgb, labels, alpha=0.5):
    """RGB image with every object id blended in its DAVIS palette colour."""
    colours = palette_colours()[labels]
    out = rgb.astype(np.float32)
    fg = labels > 0
    out[fg] = (1 - alpha) * out[fg] + alpha * colours[fg]
    return out.astype(np.uint8)


def overlay_strip(images, gts, preds, width=320):
    """One PNG-ready RGB strip: a column per frame, prediction on top, ground truth below."""
    columns = []
    for rgb, gt, pred in zip(images, gts, preds):
        height = int(round(rgb.shape[0] * width / float(rgb.shape[1])))
        tiles = []
        for labels, title in ((pred, 'prediction'), (gt, 'ground truth')):
            tile = cv2.resize(overlay(rgb, labels), (width, height),
                              interpolation=cv2.INTER_AREA)
            cv2.putText(tile, title, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1)
            tiles.append(tile)
        columns.append(np.concatenate(tiles, 0))
    return np.concatenate(columns, 1)


def write_overlays(davis_root, year, report, predict, out_dir, frames_per_sequence=4):
    """out_dir/<seq>.png: a few evenly spaced evaluated frames per sequence."""
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for sequence in collections.OrderedDict((o['sequence'], 1) for o in report['objects']):
        names, gt, _ = ground_truth(davis_root, sequence, year)
        evaluated = list(range(1, len(names) - 1))
        picks = [evaluated[i] for i in np.linspace(0, len(evaluated) - 1, min(
            frames_per_sequence, len(evaluated))).round().astype(int)]
        pred = predict(sequence, [names[i] for i in picks], gt.shape[1:])
        if year == '2016':
            pred = (pred > 0).astype(np.uint8)
        images = []
        for i in picks:
            path = os.path.join(davis_data.image_dir(davis_root, sequence), names[i] + '.jpg')
            bgr = cv2.imread(path, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION) \
                if os.path.isfile(path) else None   # the masks' grid: EXIF rotation ignored
            images.append(np.zeros(gt.shape[1:] + (3,), np.uint8) if bgr is None
                          else cv2.resize(bgr, (gt.shape[2], gt.shape[1]))[..., ::-1])
        strip = overlay_strip(images, gt[picks], pred)
        path = os.path.join(out_dir, sequence + '.png')
        fileio.write_atomic(path, encode_png(strip[..., ::-1]))   # imwrite hides failures
        written.append(path)
    return written


def format_table(rows):
    """Plain-text table of {label: global row}."""
    lines = ['%-22s' % '' + ''.join('%10s' % c for c in GLOBAL_COLUMNS)]
    for label, row in rows.items():
        lines.append('%-22s' % label + ''.join('%10.3f' % row[c] for c in GLOBAL_COLUMNS))
    return '\n'.join(lines)


def run(results_dir, davis_root, year, split, out_dir, sequences=None, overlay_frames=4,
        baseline=True, resize=False):
    """Evaluate a results folder, write every output under out_dir; returns the report."""
    if not os.path.isdir(results_dir):
        raise EvaluationError('results folder %s does not exist' % results_dir)
    predict = folder_predictions(results_dir, resize)
    report = evaluate(davis_root, year, split, predict, sequences)
    write_csvs(report, out_dir, split)
    report['reference_J'] = write_reference_iou(report, out_dir)
    tables = collections.OrderedDict([('method', report['global'])])
    if baseline:
        base = evaluate(davis_root, year, split, first_mask_predictions(davis_root, year),
                        sequences)
        write_csvs(base, os.path.join(out_dir, 'baseline-first-mask'), split)
        report['baseline_first_mask'] = base['global']
        tables['first-mask baseline'] = base['global']
    if overlay_frames:
        report['overlays'] = write_overlays(davis_root, year, report, predict,
                                            os.path.join(out_dir, 'overlays'), overlay_frames)
    report['table'] = format_table(tables)
    fileio.write_atomic(os.path.join(out_dir, 'report.json'),
                        json.dumps(report, indent=1).encode('utf-8'))
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m evaluation.davis',
                                     description=__doc__.split('\n\n')[0])
    parser.add_argument('--results', required=True, help='folder of <seq>/<frame>.png')
    parser.add_argument('--davis', required=True, help='DAVIS root (ImageSets, Annotations)')
    parser.add_argument('--year', default='2017', choices=davis_data.YEARS)
    parser.add_argument('--split', default='val')
    parser.add_argument('--out', help='output folder (default: the results folder, as the '
                                      'official toolkit)')
    parser.add_argument('--sequences', help='comma-separated subset of the split')
    parser.add_argument('--overlay-frames', type=int, default=4,
                        help='frames per overlay strip (0: none)')
    parser.add_argument('--no-baseline', action='store_true')
    parser.add_argument('--resize', action='store_true',
                        help='resize results of another size to the ground truth (nearest); '
                             'default: refuse them, as the official toolkit')
    args = parser.parse_args(argv)
    out = args.out or args.results
    try:
        report = run(args.results, args.davis, args.year, args.split, out,
                     args.sequences.split(',') if args.sequences else None,
                     args.overlay_frames, not args.no_baseline, args.resize)
    except (EvaluationError, InputError) as err:
        sys.stderr.write('error: %s\n' % err)
        return 1
    except OSError as err:   # a full, read-only or unwritable output folder
        sys.stderr.write('error: %s\n' % fileio.os_error_line(err))
        return 1
    print('DAVIS %s %s, %d objects' % (args.year, args.split, len(report['objects'])))
    print(report['table'])
    print('reference J-only number (iou.txt): %.4f' % report['reference_J'])
    print('written: %s' % out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
