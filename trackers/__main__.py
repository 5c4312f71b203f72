"""SA-Siam tracking and its OTB-style evaluation (`make track-sasiam`, `make eval-sasiam`).

python -m trackers track --run RUN[,RUN] --seq DIR [--init x,y,w,h] [--out DIR]
python -m trackers track --run RUN[,RUN] --seq VIDEO.mp4 --init x,y,w,h [--out DIR]
python -m trackers track --run RUN[,RUN] --vid ROOT --seq SNIPPET.TRACKID [--out DIR]
python -m trackers eval  --run RUN[,RUN] (--otb DIR [--list FILE] | --vid ROOT | --uav123 DIR | --nfs DIR
                         | --tc128 DIR | --lasot DIR | --got10k DIR [--split val|test]
                         | --trackingnet DIR) [--out DIR]
                         [--compare RUN[,RUN] ...]
python -m trackers eval  --run RUN[,RUN] --vot ROOT [--vot-year 2016|2017|2018] [--out DIR]
                         (the VOT reset protocol, then accuracy, robustness, EAO: trackers/vot.py)

RUN is a training run directory of `make train-sasiam` (config.json + checkpoints; the newest
checkpoint is used) or a checkpoint prefix inside one; `appearance_run,semantic_run` tracks with
both branches combined (0.3 / 0.7). `--run pixel_pool` uses the non-learned pixel embedding (no
weights; a mechanics check, not a tracker to report). A tracker is named after its run
directory (`<run>-<step>` for a checkpoint prefix, `a+b` for a pair); results go to
results/<name>/, so trackers of one evaluation must have different names (else: an error).
"""
from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import sys

from datasets import fileio, tracking, vid, video_files
from trackers import run as run_lib
from trackers import sasiam
from trackers import sequences as seq_lib
from trackers.sasiam_branches import (PIXEL_POOL, TrackerError, branches_from_runs,
                                      pixel_pool_branch, tracker_name)


def parse_args(argv):
    parser = argparse.ArgumentParser(prog='python -m trackers', description=__doc__.split('\n\n')[0])
    sub = parser.add_subparsers(dest='command')
    sub.required = True
    for name in ('track', 'eval'):
        p = sub.add_parser(name)
        p.add_argument('--run', required=True, help='RUN or APPEARANCE_RUN,SEMANTIC_RUN')
        p.add_argument('--device', default='auto', help='auto | npu | gpu | cpu')
        p.add_argument('--set', action='append', default=[], metavar='KEY=VALUE',
                       help='override a tracking constant, e.g. --set window_influence=0.2')
        p.add_argument('--out', help='output folder (default out/tracking/%s)' % name)
    track = sub.choices['track']
    track.add_argument('--seq', required=True, help='an OTB sequence folder, a folder of frames '
                                                    'or a video file (with --vid: a val track, '
                                                    'SNIPPET.TRACKID)')
    track.add_argument('--init', help='first box x,y,w,h in 0-based pixels (frame folders, '
                                      'videos)')
    track.add_argument('--vid', help='ILSVRC2015 root: track its val track named by --seq')
    evaluate = sub.choices['eval']
    tracking.add_source_arguments(evaluate)
    evaluate.add_argument('--compare', nargs='*', default=[], metavar='RUN[,RUN]',
                          help='more runs to track and plot beside --run')
    evaluate.add_argument('--limit', type=int, help='only the first N sequences (by name)')
    evaluate.add_argument('--strips', action='store_true',
                          help='also write a PNG strip of 8 frames per sequence to OUT/strips')
    evaluate.add_argument('--skip-existing', action='store_true',
                          help='keep result files already in OUT/results (resume a long run)')
    evaluate.add_argument('--vot-year', type=int, choices=(2016, 2017, 2018),
                          help='with --vot: the VOT edition (EAO range); default: the year in '
                               'the root folder name')
    return parser.parse_args(argv)


def track_config(assignments):
    from trainers import config as config_lib
    return config_lib.resolve(sasiam.TRACK_DEFAULTS, assignments=assignments)


def branches_of(spec, cfg):
    runs = [r for r in spec.split(',') if r]
    if runs == [PIXEL_POOL]:
        return [pixel_pool_branch()]
    if not 1 <= len(runs) <= 2:
        raise TrackerError('--run takes one run or appearance_run,semantic_run, got %r'
                           % spec)
    return branches_from_runs(runs, cfg)


def speed_line(name, speed):
    if 'fps' not in speed:
        return '%s: too few frames to time' % name

    def rate(key):
        return '%.1f' % speed[key] if speed.get(key) else 'n/a'
    return ('%s: %.1f frames/s (network + host work alone %s, decoding inline %s), host work '
            '%.1f %% of a frame, %d frames' % (name, speed['fps'], rate('fps_without_decode'),
                                               rate('fps_decode_inline'),
                                               100 * speed['host_fraction'], speed['frames']))


def run_tracker(tracker, sequences, results_dir, strips_dir=None, skip_existing=False):
    """Track every sequence, write its results; the speed summary over the tracked ones. With
    skip_existing, sequences that already have a result file are left as they are."""
    stats = []
    for number, sequence in enumerate(sequences, 1):
        if skip_existing and os.path.isfile(
                os.path.join(results_dir, tracker.name, sequence.name + '.txt')):
            continue
        keep = run_lib.strip_indices(len(sequence.frames)) if strips_dir else ()
        boxes, stat = run_lib.track_sequence(tracker, sequence, keep)
        run_lib.write_results(results_dir, tracker.name, sequence.name, boxes, stat['times'])
        if strips_dir:
            origin = [sequence.origin, sequence.origin, 0, 0]
            layers = [(boxes - origin, run_lib.TRACKER_COLOUR)]
            if len(sequence.boxes) == len(boxes):
                layers.insert(0, (sequence.boxes - origin, run_lib.GROUND_TRUTH_COLOUR))
            path = run_lib.frame_strip(stat['frames'], layers, os.path.join(
                strips_dir, '%s_%s.png' % (tracker.name, sequence.name)))
            print('%s: %s' % (sequence.name, path))
        stats.append(stat)
        if len(sequences) > 1:
            sys.stderr.write('[%s %d/%d] %s: %d frames\n' % (
                tracker.name, number, len(sequences), sequence.name, len(sequence.frames)))
    return run_lib.speed(stats)


def distinct_trackers(specs, cfg):
    """[branches] of each --run / --compare spec; refuses two trackers of one name (their
    result files would overwrite each other) or one named as the static baseline."""
    owners = {run_lib.STATIC_BASELINE: 'the static baseline'}
    out = []
    for spec in specs:
        branches = branches_of(spec, cfg)
        name = tracker_name(branches)
        if name in owners:
            raise TrackerError(
                'two trackers are named %s (%s and %s): their results would overwrite each other '
                'in results/%s/; rename a run directory' % (name, owners[name], spec, name))
        owners[name] = spec
        out.append(branches)
    return out


def _track_specs(specs, cfg, device, sequences, results_dir, strips_dir=None,
                 skip_existing=False):
    speeds = {}
    for branches in distinct_trackers(specs, cfg):
        with sasiam.open_tracker(branches, cfg, device) as tracker:
            speeds[tracker.name] = run_tracker(tracker, sequences, results_dir, strips_dir,
                                               skip_existing)
        print(speed_line(tracker.name, speeds[tracker.name]))
    return speeds


def command_track(args, cfg):
    if args.vid:
        if args.init:
            raise seq_lib.SequenceError('--init is for frame folders; a --vid track starts at '
                                        'its annotated box')
        sequences = seq_lib.select(vid.track_sequences(args.vid), args.seq, args.vid)
    else:
        init = seq_lib.parse_box(args.init) if args.init else None
        sequences = ([video_files.video_sequence(args.seq, init)]
                     if video_files.is_video_file(args.seq) else
                     seq_lib.load_sequence(args.seq, init))
    out = args.out or os.path.join('out', 'tracking', 'track')
    _track_specs([args.run], cfg, args.device, sequences, os.path.join(out, 'results'), out)
    print('results: %s' % os.path.join(out, 'results'))
    return 0


def command_eval_vot(args, cfg):
    """--vot: the reset protocol for every tracker and the static baseline, then A, R, EAO."""
    from datasets.vot import load_vot
    from evaluation import vot as vot_eval
    from trackers import vot as vot_run
    year = vot_eval.resolve_year(args.vot_year, args.vot)
    if args.strips:
        raise TrackerError('--strips is for OPE evaluations, not --vot')
    sequences = load_vot(args.vot)[:args.limit or None]
    out = args.out or os.path.join('out', 'tracking', 'eval')
    results_dir = os.path.join(out, 'results')
    names = []
    for branches in distinct_trackers([args.run] + list(args.compare), cfg):
        with sasiam.open_tracker(branches, cfg, args.device) as tracker:
            speed = vot_run.run_tracker(tracker, sequences, results_dir,
                                        skip_existing=args.skip_existing)
        names.append(tracker.name)
        print('%s: %s frames/s, %d failures' % (tracker.name, '%.1f' % speed['fps'] if 'fps' in
                                                speed else 'n/a', speed['failures']))
    vot_run.run_tracker(run_lib.StaticTracker(), sequences, results_dir)
    report = vot_eval.evaluate(results_dir, sequences, names + [run_lib.STATIC_BASELINE], year)
    path = os.path.join(out, 'reports', 'vot.json')
    vot_eval.write_report(path, report)
    print(vot_eval.table(report))
    print(vot_eval.summary_line(names[0], report[names[0]], len(sequences)))
    print('report: %s' % path)
    return 0


def run_dirs(specs):
    """The run directories of --run / --compare specs (a checkpoint prefix: its folder)."""
    runs = [r for spec in specs for r in spec.split(',') if r and r != PIXEL_POOL]
    return [r if os.path.isdir(r) else os.path.dirname(r) or '.' for r in runs]


def command_eval(args, cfg):
    from evaluation import benchmarks, got10k, otb
    if getattr(args, 'vot', None):
        return command_eval_vot(args, cfg)
    benchmark = tracking.load_benchmark(args)
    sequences = benchmark.sequences[:args.limit] if args.limit else benchmark.sequences
    if benchmark.ground_truth:      # a submission is checked against the whole split
        benchmark = benchmark._replace(sequences=sequences)
    specs = [args.run] + list(args.compare)
    if benchmark.name == 'got10k' and benchmark.split == 'test':
        got10k.warn_test_split(run_dirs(specs))
    if benchmark.ground_truth:
        otb.check_sequences(sequences)      # before hours of tracking
    out = args.out or os.path.join('out', 'tracking', 'eval')
    results_dir = os.path.join(out, 'results')
    speeds = _track_specs(specs, cfg, args.device, sequences,
                          results_dir, os.path.join(out, 'strips') if args.strips else None,
                          args.skip_existing)
    if benchmark.ground_truth:      # submissions hold the trackers only
        baseline = run_lib.StaticTracker()
        speeds[baseline.name] = run_tracker(baseline, sequences, results_dir)
    fileio.write_atomic(os.path.join(out, 'speed.json'),
                        json.dumps(speeds, indent=1, sort_keys=True).encode('utf-8'))
    print('\n'.join(benchmarks.evaluate(benchmark, results_dir, list(speeds), out)))
    print('%d sequences, %d frames' % (len(sequences), sum(len(s.frames) for s in sequences)))
    return 0


def main(argv=None):
    from evaluation.otb import EvaluationError
    from trainers.config import ConfigError
    from trainers.device import DeviceError
    args = parse_args(argv)
    try:
        cfg = track_config(args.set)
        return (command_track if args.command == 'track' else command_eval)(args, cfg)
    except (TrackerError, seq_lib.SequenceError, EvaluationError, ConfigError,
            DeviceError) as err:
        sys.stderr.write('error: %s\n' % err)
        return 1
    except OSError as err:   # a full, read-only or unwritable results folder
        sys.stderr.write('error: %s\n' % fileio.os_error_line(err))
        return 1


if __name__ == '__main__':
    sys.exit(main())
