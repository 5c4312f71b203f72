"""J&F on any ground-truth / results folder pair, and YouTube-VOS-style seen / unseen scores.

python -m evaluation.vos --gt <folder of <seq>/<frame>.png> --results <folder> [--out DIR]
    [--subset] [--keep-first-and-last] [--void-as-background] [--resize]
    [--meta meta.json (--holdout holdout.json | --unseen cat,cat)]

Without --meta: J&F as hkchengrex's `vos-benchmark` computes it (docs/segmentation.md, "J&F on any
folder pair"), with the per-frame J and F of `evaluation.davis` (one implementation):

* The sequences are the sub-folders of the ground truth, its frames its sorted PNGs, the first and
  the last of them not scored (`--keep-first-and-last`: all). No ImageSets; a folder holding
  Annotations/ (or Annotations/480p/, DAVIS) is read from there, ground truth and results alike.
* Object ids are the values in the masks (gaps allowed: ids 1, 3, 7). An object is scored from the
  first scored frame holding it in the ground truth or the prediction on, J = 1 and F = 1 on a
  frame where both are empty; objects only ever in the prediction are not reported. 255 is an id
  like any other (as vos-benchmark); `--void-as-background` makes it background in the ground
  truth, as davis2017-evaluation does for DAVIS.
* Per object: mean J and F over its scored frames (also recall and decay, as DAVIS); global: the
  means over all objects, J&F = (J-Mean + F-Mean) / 2.
* A results frame the ground truth has that is missing is an error naming it (vos-benchmark stops
  there too); a sequence missing from the results is an error naming it, unless `--subset`
  (vos-benchmark's default: score only the sequences both folders hold; the output says how many
  were left out). Results of another size are refused unless `--resize` (nearest).

With --meta (a YouTube-VOS meta.json: the category of every video's objects) and the unseen
categories (holdout.json's "unseen_categories", its "videos" choosing the videos; or --unseen):
the YouTube-VOS protocol. Each object's first annotated frame is its reference mask, not scored; it
is scored on every later annotated frame (the last included). J_seen, F_seen, J_unseen, F_unseen
are means over the objects of seen / unseen categories and G their mean.

(Both scorers stay in this one module, a little over 400 lines: they share the folder reading,
the per-object rows and the CLI.)
"""
from __future__ import absolute_import, division, print_function

import argparse
import collections
import json
import os
import sys

import numpy as np

from datasets import fileio
from datasets import ytvos as ytvos_data
from datasets.errors import InputError
from datasets.palette import VOID_LABEL, read_label_png
from evaluation import davis
from evaluation.davis import EvaluationError

SEEN_COLUMNS = ('G', 'J-seen', 'F-seen', 'J-unseen', 'F-unseen')
ANNOTATIONS = ('Annotations', '480p')   # descended into when present (YouTube-VOS, DAVIS roots)


# -- folders ------------------------------------------------------------------------------------

def label_root(folder):
    """The folder of <seq>/ folders: `folder`, or its Annotations/ (then Annotations/480p/)."""
    if not os.path.isdir(folder):
        raise EvaluationError('%s is not a folder' % folder)
    for name in ANNOTATIONS:
        if os.path.isdir(os.path.join(folder, name)):
            folder = os.path.join(folder, name)
    return folder


def sequence_names(root):
    return sorted(n for n in os.listdir(root) if os.path.isdir(os.path.join(root, n)))


def frame_names(folder):
    """Sorted frame names (no .png) of a sequence folder."""
    return sorted(n[:-4] for n in os.listdir(folder) if n.endswith('.png'))


def _named(names, most=5):
    names = sorted(names)
    return ', '.join(names[:most]) + (' and %d more' % (len(names) - most)
                                      if len(names) > most else '')


def choose_sequences(gt_root, results_root, wanted=None, subset=False):
    """(sequences to score, note or None): `wanted` (default every ground-truth sequence) must
    all be in the results, or with `subset` those that are."""
    available = set(sequence_names(gt_root))
    wanted = sorted(available) if wanted is None else list(wanted)
    absent = [s for s in wanted if s not in available]
    if absent:
        raise EvaluationError('%s has no ground truth for %d sequence(s): %s'
                              % (gt_root, len(absent), _named(absent)))
    predicted = set(sequence_names(results_root))
    missing = [s for s in wanted if s not in predicted]
    if missing and not subset:
        raise EvaluationError('%s lacks %d sequence(s) of the ground truth: %s (--subset scores '
                              'only the sequences it holds)' % (results_root, len(missing),
                                                                _named(missing)))
    chosen = [s for s in wanted if s in predicted]
    if not chosen:
        raise EvaluationError('%s holds none of the %d ground-truth sequences'
                              % (results_root, len(wanted)))
    note = ('scored %d of %d sequences (--subset: %d without results left out)'
            % (len(chosen), len(wanted), len(missing))) if missing else None
    return chosen, note


def read_ground_truth(path, void_as_background=False):
    labels = read_label_png(path)
    return np.where(labels == VOID_LABEL, 0, labels) if void_as_background else labels


# -- per-sequence scores ------------------------------------------------------------------------

def object_ids(labels):
    """Sorted non-zero values of an id map."""
    return [int(v) for v in np.unique(labels) if v != 0]


def frame_scores(gt, pred, obj):
    """(J, F) of one object on one frame."""
    g, p = gt == obj, pred == obj
    return davis.jaccard(g, p), davis.f_measure(g, p)


def benchmark_scores(pairs):
    """{object id: (J list, F list)} over the scored (gt, pred) id maps as vos-benchmark: an
    object counts from the first frame holding it in either map on; reported only when the
    ground truth holds it on some frame."""
    scores, in_gt = collections.OrderedDict(), set()
    for gt, pred in pairs:
        gt_ids = object_ids(gt)
        in_gt.update(gt_ids)
        for obj in set(gt_ids) | set(object_ids(pred)):
            scores.setdefault(obj, ([], []))
        for obj, (j, f) in scores.items():
            jv, fv = frame_scores(gt, pred, obj)
            j.append(jv)
            f.append(fv)
    return collections.OrderedDict((o, scores[o]) for o in sorted(scores) if o in in_gt)


def first_annotation_scores(gts, read_prediction):
    """YouTube-VOS protocol over a sequence's annotated id maps `gts`: {object: (J list, F
    list, names of its scored frames as indices)}; an object is scored on every frame after its
    first annotation. read_prediction(t) -> the id map of frame t, read only when needed."""
    first = {}
    for t, gt in enumerate(gts):
        for obj in object_ids(gt):
            first.setdefault(obj, t)
    scores = collections.OrderedDict((o, ([], [], [])) for o in sorted(first))
    for t, gt in enumerate(gts):
        active = [o for o in scores if first[o] < t]
        if not active:
            continue
        pred = read_prediction(t)
        for obj in active:
            jv, fv = frame_scores(gt, pred, obj)
            scores[obj][0].append(jv)
            scores[obj][1].append(fv)
            scores[obj][2].append(t)
    return scores


def object_row(sequence, obj, j, f, frames):
    """One object's report row: the columns of `evaluation.davis`, its per-frame values."""
    jm, jr, jd = davis.statistics(j)
    fm, fr, fd = davis.statistics(f)
    return collections.OrderedDict([
        ('sequence', sequence), ('object', obj), ('name', '%s_%d' % (sequence, obj)),
        ('J-Mean', jm), ('J-Recall', jr), ('J-Decay', jd),
        ('F-Mean', fm), ('F-Recall', fr), ('F-Decay', fd),
        ('J', list(j)), ('F', list(f)), ('frames', list(frames))])


# -- whole folders ------------------------------------------------------------------------------

def _sequence_reader(gt_root, results_root, sequence, void_as_background, resize):
    """(frame names, read_gt(name), read_pred(name, shape))."""
    predict = davis.folder_predictions(results_root, resize)
    folder = os.path.join(gt_root, sequence)
    names = frame_names(folder)
    if not names:
        raise EvaluationError('%s holds no PNG' % folder)

    def read_gt(name):
        return read_ground_truth(os.path.join(folder, name + '.png'), void_as_background)

    def read_pred(name, shape):
        return predict(sequence, [name], shape)[0]
    return names, read_gt, read_pred


def evaluate_folders(gt_root, results_root, sequences, skip_first_and_last=True,
                     void_as_background=False, resize=False):
    """vos-benchmark's J&F over `sequences`: {'objects': rows, 'global': DAVIS columns}."""
    objects = []
    for sequence in sequences:
        names, read_gt, read_pred = _sequence_reader(gt_root, results_root, sequence,
                                                     void_as_background, resize)
        scored = names[1:-1] if skip_first_and_last else names

        def pairs():
            for name in scored:
                gt = read_gt(name)
                yield gt, read_pred(name, gt.shape)
        for obj, (j, f) in benchmark_scores(pairs()).items():
            objects.append(object_row(sequence, obj, j, f, scored[len(scored) - len(j):]))
    if not objects:
        raise EvaluationError('no object in the scored ground-truth frames of %d sequence(s)'
                              % len(sequences))
    return {'objects': objects, 'global': davis.global_results(objects)}


def evaluate_held_out(gt_root, results_root, sequences, categories, unseen,
                      void_as_background=False, resize=False):
    """YouTube-VOS protocol: rows with 'category' and 'seen', 'seen_unseen' (G and the four
    means), 'unscored' (objects annotated only on the last frame)."""
    objects, unscored = [], []
    for sequence in sequences:
        names, read_gt, read_pred = _sequence_reader(gt_root, results_root, sequence,
                                                     void_as_background, resize)
        gts = [read_gt(n) for n in names]
        scores = first_annotation_scores(gts, lambda t: read_pred(names[t], gts[t].shape))
        for obj, (j, f, ts) in scores.items():
            key = (sequence, str(obj))
            if key not in categories:
                raise EvaluationError('%s object %d has no category in the meta.json%s' % (
                    sequence, obj, ' (void? --void-as-background)' if obj == VOID_LABEL else ''))
            if not j:
                unscored.append('%s_%s' % key)
                continue
            row = object_row(sequence, obj, j, f, [names[t] for t in ts])
            row['category'] = categories[key]
            row['seen'] = categories[key] not in unseen
            objects.append(row)
    return {'objects': objects, 'unscored': unscored, 'seen_unseen': seen_unseen(objects)}


def seen_unseen(objects):
    """{G, J-seen, F-seen, J-unseen, F-unseen, counts}: means over the objects of each group, G
    the mean of the four."""
    groups = {True: [o for o in objects if o['seen']], False: [o for o in objects if not o['seen']]}

    def mean(values):   # a group without objects has no score (nan, and so has G)
        return float(np.mean(values)) if values else float('nan')
    out = collections.OrderedDict()
    for seen, label in ((True, 'seen'), (False, 'unseen')):
        out['J-' + label] = mean([o['J-Mean'] for o in groups[seen]])
        out['F-' + label] = mean([o['F-Mean'] for o in groups[seen]])
    out['G'] = mean(list(out.values()))
    row = collections.OrderedDict((c, out[c]) for c in SEEN_COLUMNS)
    row['objects-seen'], row['objects-unseen'] = len(groups[True]), len(groups[False])
    return row


# -- categories ---------------------------------------------------------------------------------

def _read_json(path, what):
    try:
        return fileio.read_json(path)
    except (IOError, OSError, ValueError) as err:
        raise EvaluationError('%s: cannot read the %s: %s' % (path, what, err))


def category_table(meta_path, holdout_path=None, unseen=None):
    """({(video, object id str): category}, unseen categories, videos or None) from a YouTube-VOS
    meta.json and holdout.json (`pipelines --holdout`; its unseen list may be empty: the unseen
    scores and G are then nan) or a list of unseen categories."""
    meta = _read_json(meta_path, 'meta.json')
    videos = meta.get('videos') if isinstance(meta, dict) else None
    if not isinstance(videos, dict):
        raise EvaluationError('%s: not a YouTube-VOS meta.json ({"videos": {...}})' % meta_path)
    categories = {}   # entries the converter rejects are left out: their objects, if
    for video, entry in videos.items():   # scored, are then named as having no category
        if ytvos_data.meta_entry_problem(entry) is None:
            for obj, info in entry.get('objects', {}).items():
                if ytvos_data.meta_object_problem(obj, info) is None:
                    categories[(video, obj)] = info.get('category', '')
    chosen = None
    if holdout_path:
        holdout = _read_json(holdout_path, 'holdout.json')
        if not isinstance(holdout, dict) or 'unseen_categories' not in holdout:
            raise EvaluationError('%s: not a holdout.json ({"videos", "unseen_categories", ...})'
                                  % holdout_path)
        unseen = list(holdout['unseen_categories']) + list(unseen or [])
        chosen = holdout.get('videos')
        seen = holdout.get('seen_categories')
        if seen is not None:
            odd = sorted(set(c for (v, _), c in categories.items()
                             if chosen is None or v in chosen) - set(seen) - set(unseen))
            if odd:
                raise EvaluationError('%s: categories in neither seen_categories nor '
                                      'unseen_categories: %s' % (holdout_path, _named(odd)))
    elif not unseen:
        raise EvaluationError('seen / unseen scores need the unseen categories: --holdout '
                              'holdout.json or --unseen cat,cat')
    return categories, set(unseen), chosen


# -- outputs ------------------------------------------------------------------------------------

def benchmark_csv_lines(report):
    """vos-benchmark's results.csv: a global line, then a line per object, in percent."""
    g = report['global']
    lines = ['sequence,obj,J&F,J,F', 'Global score,,%.1f,%.1f,%.1f' % (
        100 * g['J&F-Mean'], 100 * g['J-Mean'], 100 * g['F-Mean'])]
    for o in report['objects']:
        lines.append('%s,%03d,%.1f,%.1f,%.1f' % (o['sequence'], o['object'], 50 * (
            o['J-Mean'] + o['F-Mean']), 100 * o['J-Mean'], 100 * o['F-Mean']))
    return lines


def seen_unseen_lines(report):
    """seen_unseen.csv: G and its four means, then a line per object."""
    row = report['seen_unseen']
    lines = [','.join(SEEN_COLUMNS), ','.join('%.3f' % row[c] for c in SEEN_COLUMNS),
             '', 'Sequence,Category,Seen,J-Mean,F-Mean,Frames']
    for o in report['objects']:
        lines.append('%s,%s,%d,%.3f,%.3f,%d' % (o['name'], o['category'], o['seen'],
                                                o['J-Mean'], o['F-Mean'], len(o['J'])))
    return lines


def write_outputs(report, out_dir):
    """Every output file of a report; returns their paths."""
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    if 'seen_unseen' in report:
        paths.append(os.path.join(out_dir, 'seen_unseen.csv'))
        davis.write_lines(paths[-1], seen_unseen_lines(report))
    else:
        paths.extend(davis.write_csvs(report, out_dir, None))
        paths.append(os.path.join(out_dir, 'results.csv'))
        davis.write_lines(paths[-1], benchmark_csv_lines(report))
    paths.append(os.path.join(out_dir, 'report.json'))
    fileio.write_atomic(paths[-1], json.dumps(report, indent=1).encode('utf-8'))
    return paths


def run(args):
    """Score per the parsed arguments, write the outputs; returns the report."""
    gt_root, results_root = label_root(args.gt), label_root(args.results)
    categories = unseen = wanted = None
    if args.meta:
        categories, unseen, wanted = category_table(args.meta, args.holdout, args.unseen)
    elif args.holdout or args.unseen:
        raise EvaluationError('--holdout / --unseen need --meta (the objects\' categories)')
    sequences, note = choose_sequences(gt_root, results_root, wanted, args.subset)
    if categories is None:
        report = evaluate_folders(gt_root, results_root, sequences, not args.keep_first_and_last,
                                  args.void_as_background, args.resize)
    else:
        report = evaluate_held_out(gt_root, results_root, sequences, categories, unseen,
                                   args.void_as_background, args.resize)
    report.update(ground_truth=gt_root, results=results_root, sequences=len(sequences),
                  note=note)
    report['written'] = write_outputs(report, args.out or os.path.join(args.results,
                                                                       'evaluation'))
    return report


def parse_args(argv):
    parser = argparse.ArgumentParser(prog='python -m evaluation.vos',
                                     description=__doc__.split('\n\n')[0])
    parser.add_argument('--gt', required=True, help='folder of <seq>/<frame>.png ground truth')
    parser.add_argument('--results', required=True, help='folder of <seq>/<frame>.png results')
    parser.add_argument('--out', help='output folder (default: RESULTS/evaluation)')
    parser.add_argument('--subset', action='store_true',
                        help='score only the sequences the results hold (vos-benchmark default)')
    parser.add_argument('--keep-first-and-last', action='store_true',
                        help='also score the first and last frames (not the DAVIS protocol)')
    parser.add_argument('--void-as-background', action='store_true',
                        help='ground-truth 255 is background (davis2017-evaluation), not an id')
    parser.add_argument('--resize', action='store_true',
                        help='resize results of another size to the ground truth (nearest)')
    parser.add_argument('--meta', help='YouTube-VOS meta.json: seen / unseen scores')
    parser.add_argument('--holdout', help='holdout.json: its videos and unseen categories')
    parser.add_argument('--unseen', type=lambda s: [c for c in s.split(',') if c],
                        help='comma-separated unseen categories (with --meta)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        report = run(args)
    except (EvaluationError, InputError) as err:
        sys.stderr.write('error: %s\n' % err)
        return 1
    if report['note']:
        print(report['note'])
    if 'seen_unseen' in report:
        row = report['seen_unseen']
        print('%d seen + %d unseen objects in %d sequences%s' % (
            row['objects-seen'], row['objects-unseen'], report['sequences'],
            '; not scored (annotated on the last frame only): %s' % _named(report['unscored'])
            if report['unscored'] else ''))
        print('  '.join('%s %.3f' % (c, row[c]) for c in SEEN_COLUMNS))
    else:
        g = report['global']
        print('%d objects in %d sequences' % (len(report['objects']), report['sequences']))
        print(davis.format_table(collections.OrderedDict([('method', g)])))
        print('as vos-benchmark prints it: J&F %.1f  J %.1f  F %.1f' % (
            100 * g['J&F-Mean'], 100 * g['J-Mean'], 100 * g['F-Mean']))
    print('written: %s' % ', '.join(report['written']))
    return 0


if __name__ == '__main__':
    sys.exit(main())
