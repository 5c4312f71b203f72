"""SA-Siam input pipeline and CPU training throughput (`make bench-sasiam`).

On vid_track records at full size (255x255 crops -> 239x239 pairs, batch 8), all cores:
  * ours: the trainer's input pipeline (online pair sampling, decode, augmentation parameters,
    batch), pairs/s delivered to the training graph; and the CPU cost of the augmentation itself
    (one batched crop_and_resize per image batch, which runs in the training graph);
  * naive: the reference's per-element composition (decode -> resize -> crop-or-pad -> random
    crop) on the same pairs, as a tf.data map;
  * decode-only: the same JPEG pairs decoded and batched, nothing else (the bound);
  * training steps/s on CPU for both branches at full width (random CaffeNet weights).
The records come from the VID benchmark's sample (built first when missing): tracks of ~200
crops as in ILSVRC2015-VID, so that reading a whole track chunk per pair costs what it costs on the
real data (short tracks made K = 1 look 3x faster).
"""
from __future__ import absolute_import, division, print_function

import argparse
import copy
import multiprocessing
import os
import subprocess
import sys

from bench.common import (ROOT, cpu_step_seconds, machine, median_rate, one_value_each,
                          write_result)
from bench.vid_bench import FRAMES, SNIPPETS, ensure_sample
from schemas import dataset_info


def ensure_records(workdir, snippets=SNIPPETS, frames=FRAMES):
    """vid_track records of the VID benchmark sample (one directory per sample size)."""
    out = os.path.join(workdir, 'records-%dx%d' % (snippets, frames))
    records = os.path.join(out, 'vid')
    if not os.path.isfile(dataset_info.info_path(records)):
        data, _ = ensure_sample(os.path.join(ROOT, 'data', 'bench-vid'), snippets, frames, 0)
        subprocess.check_call([sys.executable, '-m', 'pipelines', 'vid', '--data',
                               os.path.join(data, 'ILSVRC2015'), '--out', out, '--overwrite'],
                              cwd=ROOT)
    return records


def track_stats(records):
    """Training chunk records and their mean size (what one K = 1 pair reads); the sample's
    tracks and crops."""
    from schemas import vid_track
    from trainers import reader
    info = reader.load_info(records, vid_track.SCHEMA)
    train = info['splits']['train']
    return {'records': train['records'],
            'mean_record_mb': round(train['bytes'] / 1e6 / max(train['records'], 1), 2),
            'tracks_all_splits': info['counts']['tracks'],
            'crops_all_splits': info['counts']['crops']}


def _graph(fn):
    import tensorflow as tf
    graph = tf.Graph()
    with graph.as_default():
        return fn()


def ours(records, cfg, seconds):
    import tensorflow as tf
    from trainers.sasiam import data

    def run():
        ds = data.batches(records, 'train', cfg, 0, training=True)
        batch = tf.compat.v1.data.make_one_shot_iterator(ds).get_next()
        return median_rate(one_value_each(batch.values()), cfg['batch_size'], seconds)
    return _graph(run)


def augmentation_cost(records, cfg, seconds):
    """ms per batch of the fused crop_and_resize (both images of 8 pairs) on the CPU."""
    import numpy as np
    import tensorflow as tf
    from trainers.sasiam import data

    def run():
        b = cfg['batch_size']
        images = tf.constant(np.random.RandomState(0).randint(0, 255, (b, 255, 255, 3)),
                             tf.uint8)
        boxes = tf.stack([data.augment_box(*data.augment_params(
            tf.constant([i, 1], tf.int64))) for i in range(b)])
        out = tf.stack([data.fused_augment(images, boxes), data.fused_augment(images, boxes)])
        return 1000.0 * b / median_rate(out, b, seconds)
    return _graph(run)


def _jpeg_pairs(records, cfg, limit=2000):
    """JPEG bytes of sampled pairs (in memory), drawn by the trainer's own sampler."""
    import tensorflow as tf
    from trainers import reader
    from trainers.sasiam import data
    from schemas import vid_track

    def run():
        info = reader.load_info(records, vid_track.SCHEMA)
        files, _ = reader.shard_files(records, info, 'train')
        ds = reader.record_passes(files, 0, passes=None)
        ds = ds.map(lambda p, r: data.chunk_pairs(p, r, 0, cfg['max_frame_dist'], 1))
        ds = ds.apply(tf.data.experimental.unbatch()).filter(lambda z, x, o, g: o)
        element = tf.compat.v1.data.make_one_shot_iterator(ds.batch(limit)).get_next()
        with tf.compat.v1.Session() as sess:
            z, x, _, _ = sess.run(element)
        return list(z), list(x)
    return _graph(run)


def _pairs_from_memory(z, x):
    import tensorflow as tf
    return tf.data.Dataset.from_tensor_slices((z, x)).repeat()


def _batched_rate(pairs, cfg, seconds):
    import tensorflow as tf
    ds = pairs.batch(cfg['batch_size'], drop_remainder=True).prefetch(cfg['prefetch'])
    batch = tf.compat.v1.data.make_one_shot_iterator(ds).get_next()
    return median_rate(one_value_each(batch), cfg['batch_size'], seconds)


def naive(z, x, cfg, seconds):
    import tensorflow as tf
    from trainers.sasiam import data

    def one(jpeg, seed):
        size, y, x0 = data.augment_params(seed)
        return data.plain_augment(data._decode(jpeg), size, y, x0)

    def run():
        seeds = tf.data.experimental.RandomDataset(0).batch(2)
        return _batched_rate(tf.data.Dataset.zip((_pairs_from_memory(z, x), seeds, seeds)).map(
            lambda p, s1, s2: (one(p[0], s1), one(p[1], s2)),
            num_parallel_calls=cfg['num_parallel_calls']), cfg, seconds)
    return _graph(run)


def decode_only(z, x, cfg, seconds):
    from trainers.sasiam import data

    def run():
        return _batched_rate(_pairs_from_memory(z, x).map(
            lambda a, b: (data._decode(a), data._decode(b)),
            num_parallel_calls=cfg['num_parallel_calls']), cfg, seconds)
    return _graph(run)


def training_steps_per_s(records, branch, steps):
    """Steps/s of the full-width network on CPU, measured after two warm-up steps."""
    from trainers.sasiam import train
    return 1.0 / cpu_step_seconds(train, [
        '--records', records, '--branch', branch, '--device', 'cpu', '--random-init-for-tests',
        '--set', 'train.validation_batches=0'], steps, warmup=2)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--workdir', default=os.path.join(ROOT, 'data', 'bench-sasiam'))
    parser.add_argument('--seconds', type=float, default=15)
    parser.add_argument('--train-steps', type=int, default=5)
    args = parser.parse_args(argv)
    from trainers.sasiam import train
    records = ensure_records(args.workdir)
    cfg = copy.deepcopy(train.DEFAULTS['input'])
    result = {'machine': machine(), 'cores': multiprocessing.cpu_count(),
              'batch_size': cfg['batch_size'], 'goal_pairs_per_s': 800,
              'train_records': track_stats(records)}
    print('records: %s' % result['train_records'])
    result['ours_pairs_per_s'] = round(ours(records, cfg, args.seconds), 1)
    print('ours (AUTOTUNE): %.1f pairs/s' % result['ours_pairs_per_s'])
    fixed = dict(cfg, num_parallel_calls=2 * multiprocessing.cpu_count())
    result['ours_pairs_per_s_parallel_2x_cores'] = round(ours(records, fixed, args.seconds), 1)
    print('ours (num_parallel_calls %d): %.1f pairs/s' % (
        fixed['num_parallel_calls'], result['ours_pairs_per_s_parallel_2x_cores']))
    for k in (4, 8):
        rate = round(ours(records, dict(cfg, pairs_per_track=k), args.seconds), 1)
        result['ours_pairs_per_s_k%d' % k] = rate
        print('ours (%d pairs per track read): %.1f pairs/s' % (k, rate))
    result['fused_augment_ms_per_batch_cpu'] = round(augmentation_cost(records, cfg, 5), 2)
    print('fused crop_and_resize: %.2f ms per batch of %d pairs on the CPU'
          % (result['fused_augment_ms_per_batch_cpu'], cfg['batch_size']))
    z, x = _jpeg_pairs(records, cfg)
    result['naive_pairs_per_s'] = round(naive(z, x, cfg, args.seconds), 1)
    print('naive: %.1f pairs/s' % result['naive_pairs_per_s'])
    result['decode_only_pairs_per_s'] = round(decode_only(z, x, cfg, args.seconds), 1)
    print('decode only: %.1f pairs/s' % result['decode_only_pairs_per_s'])
    result['ours_over_decode_only'] = round(result['ours_pairs_per_s'] /
                                            result['decode_only_pairs_per_s'], 3)
    result['ours_over_naive'] = round(result['ours_pairs_per_s'] / result['naive_pairs_per_s'], 3)
    for branch in ('appearance', 'semantic'):
        rate = training_steps_per_s(records, branch, args.train_steps)
        result['cpu_train_steps_per_s_%s' % branch] = round(rate, 3)
        print('CPU training, %s branch, full width, batch 8: %.3f steps/s' % (branch, rate))
    write_result(args.workdir, result)
    return 0


if __name__ == '__main__':
    sys.exit(main())
