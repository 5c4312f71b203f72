"""OSMN inference speed at full size on this CPU (`make bench-segment`).

The network (random weights: speed does not depend on them) segments the first frames of a
DAVIS benchmark sample video (854x480, 3 objects) at 854x480, after one warm-up pass, for each
object batch, at full width (the CPU's network time) and at width 1/16 (a fast network, as on an
accelerator, so the host work shows). Per segmented frame (frames 1 .. n-1: frame 0 only gets
its given masks pasted, no network, so it is not counted; its cost is): the time without the
modulator (which runs once per object and is reported per object), the segmentation net's
sess.run time, the wait for frame reads / result writes (done on threads while the network runs)
and the other host work (padding copy, merge, resize, feeds). Goal: host work <= 15 % of the
frame time, so that on an NPU inference runs at the network's speed (paper: 0.14 s per frame on
a GPU).
"""
from __future__ import absolute_import, division, print_function

import argparse
import os
import shutil
import sys

from bench.common import ROOT, machine, write_result
from bench.convert_bench import ensure_sample

HOST_GOAL = 0.15


def random_run(run_dir, width=1.0, input_scale=1.0):
    """A run directory (config.json + model.ckpt-0) of a randomly initialised OSMN: what the
    segmenter reads, without training (weights do not change its speed)."""
    import tensorflow as tf
    from trainers import config as config_lib
    from trainers.osmn import model, train
    cfg = train.resolved(config_lib.merge(train.DEFAULTS, {
        'input': {'stage': 'davis', 'input_scale': input_scale},
        'model': {'width': width, 'random_init_for_tests': True}}))
    with tf.Graph().as_default():
        model.logits(tf.zeros([1, 32, 32, 3]), tf.zeros([1, 224, 224, 3]),
                     tf.zeros([1, 32, 32, 1]), cfg['model'], False)
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            sess.run(model.interp_surgery_ops())
            os.makedirs(run_dir, exist_ok=True)
            tf.compat.v1.train.Saver().save(sess, os.path.join(run_dir, 'model.ckpt'),
                                            global_step=0)
    config_lib.dump(cfg, os.path.join(run_dir, 'config.json'))
    return run_dir


def clipped(video, frames):
    """The video's first `frames` frames."""
    from segmenters.sources import Video
    return Video(video.name, video.dataset, video.frame_names[:frames], video.size,
                 [o for o in video.objects if o.first_frame < frames], video._read, video.where)


def measure(run_dir, video, object_batch, out_dir):
    """One warm-up pass, then a measured pass of the video. Per segmented frame (the network ran
    on it; not the first): the frame time without the modulator (it runs once per object,
    reported per object), the segmentation net's share, the time spent waiting for frame reads /
    result writes, and the other host work."""
    from segmenters import osmn, writers
    segmenter = osmn.OsmnSegmenter(run_dir, video.dataset, 'cpu', object_batch=object_batch)
    try:
        writer = writers.DavisWriter(out_dir)
        segmenter.segment(video, writer)                 # warm-up (first runs allocate)
        stats = segmenter.segment(video, writer)
    finally:
        segmenter.close()
    frames, objects = stats['segmented_frames'], stats['objects']
    modulator = stats.get('modulator_seconds', 0.0)
    frame_s = (stats['seconds'] - modulator) / frames
    network_s = stats.get('network_seconds', 0.0) / frames
    io_s = stats.get('io_seconds', 0.0) / frames
    return {
        'object_batch': object_batch, 'segmented_frames': frames, 'objects': objects,
        'frames_per_s': round(frames / stats['seconds'], 3),
        'modulator_ms_per_object': round(1000 * modulator / objects, 1),
        'ms_per_frame': round(1000 * frame_s, 1),
        'network_ms_per_frame': round(1000 * network_s, 1),
        'io_wait_ms_per_frame': round(1000 * io_s, 1),
        'other_host_ms_per_frame': round(1000 * (frame_s - network_s - io_s), 1),
        'host_share': round((frame_s - network_s) / frame_s, 4),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--workdir', default=os.path.join(ROOT, 'data', 'bench-segment'))
    parser.add_argument('--frames', type=int, default=4, help='frames of the video measured')
    parser.add_argument('--object-batches', default='1,3')
    parser.add_argument('--widths', default='1,0.0625',
                        help='model widths: 1 = the paper (the CPU network time); 1/16 makes '
                             'the network fast, as on an accelerator, to expose the host work')
    args = parser.parse_args(argv)
    if args.frames < 2:
        parser.error('--frames must be at least 2 (frame 0 is not segmented)')
    from segmenters import sources
    data = ensure_sample(os.path.join(ROOT, 'data', 'bench-davis'), 'davis',
                         {'davis': {'train': 8, 'val': 2, 'frames': 30}})
    videos = [v for v in sources.davis_videos(os.path.join(data, 'DAVIS'), '2017', 'val')]
    video = clipped(max(videos, key=lambda v: len(v.objects)), args.frames)
    result = {'machine': machine(), 'video': video.name, 'frame_size': list(video.size),
              'network_size': [480, 854], 'host_goal': HOST_GOAL, 'runs': []}
    for width in [float(w) for w in args.widths.split(',')]:
        run_dir = random_run(os.path.join(args.workdir, 'run-width%g' % width), width)
        for batch in [int(b) for b in args.object_batches.split(',')]:
            out = os.path.join(args.workdir, 'results-width%g-batch%d' % (width, batch))
            shutil.rmtree(out, ignore_errors=True)
            entry = dict(measure(run_dir, video, batch, out), width=width)
            result['runs'].append(entry)
            print('width %g, object batch %d, %d segmented frames (frame 0 not counted): %.3f '
                  'frames/s; modulator %.0f ms per object; per frame %.0f ms = network %.0f + '
                  'I/O wait %.1f + other host %.1f; host share %.1f %% (goal <= %.0f %%)' % (
                      width, batch, entry['segmented_frames'], entry['frames_per_s'],
                      entry['modulator_ms_per_object'],
                      entry['ms_per_frame'], entry['network_ms_per_frame'],
                      entry['io_wait_ms_per_frame'], entry['other_host_ms_per_frame'],
                      100 * entry['host_share'], 100 * HOST_GOAL))
    write_result(args.workdir, result)
    return 0


if __name__ == '__main__':
    sys.exit(main())
