"""Segment videos with a trained OSMN run (`make segment-osmn`).

python -m segmenters --run runs/osmn-davis --out results/davis2017-val
    (--records out/davis2017 [--split validation] | --davis DAVIS [--year 2017] [--split val]
     | --ytvos youtube-vos [--split valid] | --frames <frames dir> --mask <first-frame PNG>)
    [--finetune-steps N [--finetune-scales] [--finetune-per-object]] [--object-batch B] [--size W H] [--device auto|npu|gpu|cpu]

Writes OUT/<seq>/<frame>.png (DAVIS layout, also for a frames folder) or
OUT/Annotations/<video>/<frame>.png + OUT/submission.zip (YouTube-VOS; submission-incomplete.zip
when videos were rejected or --videos chose some), OUT/errors.jsonl (one line per video that
could not be segmented: path, reason) and OUT/segment_summary.json (per video and total timing:
frames/s with and without I/O, network only, host share; rates count segmented frames, not the
first frame whose given masks are pasted).
"""
from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import sys

from datasets import fileio
from segmenters import osmn, sources, timing, writers
from trainers import device as device_lib
from trainers import reader


def parse_args(argv):
    parser = argparse.ArgumentParser(prog='python -m segmenters',
                                     description=__doc__.split('\n\n')[0])
    parser.add_argument('--run', required=True, help='OSMN run directory (config.json + ckpt)')
    parser.add_argument('--out', required=True, help='results folder')
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument('--records', help='vos_video records (make davis-records / ytvos-records)')
    where.add_argument('--davis', help='raw DAVIS root')
    where.add_argument('--ytvos', help='raw YouTube-VOS root')
    where.add_argument('--frames', help='folder of frames (needs --mask)')
    parser.add_argument('--mask', help='palette PNG of the first frame of --frames')
    parser.add_argument('--split', help='default: validation for --records (the source\'s name, '
                        'e.g. val, also works), val (DAVIS), valid (YouTube-VOS)')
    parser.add_argument('--year', default='2017', choices=('2016', '2017'))
    parser.add_argument('--videos', help='comma-separated subset of the videos')
    parser.add_argument('--finetune-steps', type=int,
                        help='online fine-tuning steps per object on its given mask (default 0: '
                             'off; %d, the reference\'s, with --finetune-scales or '
                             '--finetune-per-object)' % osmn.REFERENCE_FINETUNE_STEPS)
    parser.add_argument('--finetune-scales', action='store_true',
                        help='fine-tune at the reference\'s three scales %s of the network size '
                             '(default: at the network size)' % (osmn.FINETUNE_SCALES,))
    parser.add_argument('--finetune-per-object', action='store_true',
                        help='one fine-tuned copy per object, as the reference (default: one '
                             'copy per video, every object batched)')
    parser.add_argument('--finetune-lr', type=float, default=osmn.FINETUNE_LR)
    parser.add_argument('--object-batch', type=int, default=1,
                        help='objects of a frame per network run (static batch)')
    parser.add_argument('--size', type=int, nargs=2, metavar=('W', 'H'),
                        help='network input size before the run\'s input_scale (default: '
                             '854 480 DAVIS and frames folders, 448 256 YouTube-VOS; '
                             'YouTube-Objects: 640 360)')
    parser.add_argument('--max-frame-size', type=int, nargs=2, metavar=('H', 'W'),
                        default=list(osmn.DEFAULT_MAX_FRAME_SIZE),
                        help='largest frame (the padded static input)')
    parser.add_argument('--device', default='auto', choices=device_lib.DEVICES)
    parser.add_argument('--save-probabilities', action='store_true',
                        help='also OUT/probabilities/<seq>/<obj>/<frame>.npy')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    if args.finetune_steps is None:
        args.finetune_steps = (osmn.REFERENCE_FINETUNE_STEPS if args.finetune_scales or
                               args.finetune_per_object else 0)
    return args


def videos_of(args):
    names = args.videos.split(',') if args.videos else None
    if args.frames:
        if not args.mask:
            raise sources.SourceError(args.frames, '--frames needs --mask <first-frame PNG>')
        return [sources.folder_video(args.frames, args.mask)]
    if args.davis:
        return sources.davis_videos(args.davis, args.year, args.split or 'val', names)
    if args.ytvos:
        return sources.ytvos_videos(args.ytvos, args.split or 'valid', names)
    # records use the common split names; record_videos also takes the source's (`val`, `valid`)
    return sources.record_videos(args.records, args.split or 'validation', names)


def run(args):
    """Segment every video of the source; returns the summary (also OUT/segment_summary.json)."""
    os.makedirs(args.out, exist_ok=True)
    segmenter = writer = None
    done, rejected = [], []
    videos = videos_of(args)
    try:
        for video in videos:
            if isinstance(video, sources.SourceError):
                rejected.append({'path': video.path, 'reason': video.reason})
                sys.stderr.write('skipped: %s\n' % video)
                continue
            if segmenter is None:
                segmenter = osmn.OsmnSegmenter(
                    args.run, video.dataset, args.device, args.size, args.object_batch,
                    args.finetune_steps, args.finetune_lr, args.max_frame_size, args.seed,
                    args.finetune_scales, args.finetune_per_object)
                writer = writers.writer_for(video.dataset, args.out, args.save_probabilities)
            try:
                stats = segmenter.segment(video, writer)
            except sources.SourceError as err:
                rejected.append({'video': video.name, 'path': err.path, 'reason': err.reason})
                sys.stderr.write('skipped %s: %s\n' % (video.name, err))
                continue
            done.append(stats)
            sys.stderr.write('%s: %d frames, %d objects, %.1f s\n' % (
                video.name, stats['frames'], stats['objects'], stats['seconds']))
    finally:
        if segmenter is not None:
            segmenter.close()
    fileio.write_atomic(os.path.join(args.out, 'errors.jsonl'), ''.join(
        json.dumps(entry, sort_keys=True) + '\n' for entry in rejected).encode('utf-8'))
    incomplete = None
    if rejected:
        incomplete = '%d video(s) rejected (%s)' % (len(rejected),
                                                    os.path.join(args.out, 'errors.jsonl'))
    elif args.videos:
        incomplete = '--videos chose a subset'
    summary = dict(timing.summarize(done), rejected=len(rejected), run=args.run,
                   outputs=writer.finish(incomplete) if writer else [], per_video=done,
                   incomplete=incomplete, finetune_steps=args.finetune_steps,
                   finetune_scales=args.finetune_scales,
                   finetune_per_object=args.finetune_per_object,
                   object_batch=args.object_batch)
    fileio.write_atomic(os.path.join(args.out, 'segment_summary.json'),
                        json.dumps(summary, indent=1, sort_keys=True).encode('utf-8'))
    return summary


def main(argv=None):
    args = parse_args(argv)
    try:
        summary = run(args)
    except (osmn.SegmentError, sources.SourceError, reader.RecordsError,
            device_lib.DeviceError) as err:
        sys.stderr.write('error: %s\n' % err)
        return 1
    except OSError as err:   # a full, read-only or unwritable output folder
        sys.stderr.write('error: %s\n' % fileio.os_error_line(err))
        return 1
    counts = 'segmented %d videos (%d frames), %d rejected (%s)' % (
        summary['videos'], summary['frames'], summary['rejected'],
        os.path.join(args.out, 'errors.jsonl'))
    if not summary['videos']:   # no frame was timed: there is no rate to report
        sys.stderr.write('%s: nothing segmented, see the rejected list -> %s\n'
                         % (counts, args.out))
        return 1
    if summary['incomplete'] and summary['outputs'][-1].endswith('.zip'):
        sys.stderr.write('not ready to upload: %s holds only this run\'s videos, %s\n' % (
            summary['outputs'][-1], summary['incomplete']))
    if not summary['segmented_frames']:
        sys.stderr.write('%s: no frame after a first one, no rate -> %s\n' % (counts, args.out))
        return 0
    sys.stderr.write('%s; over the %d segmented frames (first frames excluded): %.2f frames/s, '
                     '%.2f without I/O, %.2f network only -> %s\n' % (
                         counts, summary['segmented_frames'], summary['frames_per_second'],
                         summary['frames_per_second_without_io'],
                         summary['frames_per_second_network_only'], args.out))
    return 0


if __name__ == '__main__':
    sys.exit(main())
