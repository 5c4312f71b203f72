"""OSMN input throughput at full size and CPU training step time (`make bench-osmn`).

  * COCO stage: samples/s of the trainer's input pipeline (guide crop + jitter + rotation + flip,
    heatmap from median/MAD, main image and label at 400x400 x {0.8, 1, 1.2}, batch 8), on all
    cores, in total and per host core, with the default AUTOTUNE parallelism and with 2 x cores;
  * DAVIS stage: the same at 854x480, batch 4 (pairs t-1, t and a random valid guide per sample);
  * CPU training step time for the tiny (width 1/16, quarter-size inputs) and the full network.
Goal: >= 100 samples/s per host core on the COCO stage. An Ascend 910 at half its fp16 peak would
consume ~500 samples/s (about 195 GFLOP per 400x400 sample, forward and backward of two VGG-16s);
the result says how many host cores feed that. Records come from the COCO/DAVIS benchmark
samples (built first when missing).
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
from bench.convert_bench import ensure_sample

DEVICE_DEMAND = 500.0  # samples/s an Ascend 910 at half its fp16 peak would consume


def ensure_records(workdir, dataset):
    name = 'coco' if dataset == 'coco' else 'davis2017'
    records = os.path.join(workdir, 'records', name)
    if not os.path.isfile(os.path.join(records, 'dataset_info.json')):
        if dataset == 'coco':
            counts = {'coco': {'train_images': 300, 'val_images': 15}}
        else:
            counts = {'davis': {'train': 8, 'val': 2, 'frames': 30}}
        data = ensure_sample(os.path.join(ROOT, 'data', 'bench-' + dataset), dataset, counts)
        root = os.path.join(data, 'coco' if dataset == 'coco' else 'DAVIS')
        subprocess.check_call([sys.executable, '-m', 'pipelines', dataset, '--data', root,
                               '--out', os.path.join(workdir, 'records'), '--overwrite'], cwd=ROOT)
    return records


def input_rate(records, stage, size, cfg, seconds):
    """Median samples/s of the trainer's batches at one size."""
    import tensorflow as tf
    from trainers.osmn import data
    with tf.Graph().as_default():
        split = 'train2017' if stage == 'coco' else 'train'
        batch = tf.compat.v1.data.make_one_shot_iterator(
            data.batches(records, split, stage, size, cfg, 0, True)).get_next()
        return median_rate(one_value_each(batch.values()), cfg['batch_size'], seconds)


def step_time(records, overrides, steps):
    """Seconds per training step on the CPU (after one warm-up step), one scale."""
    from trainers.osmn import train
    args = ['--stage', 'coco', '--records', records, '--device', 'cpu', '--single-scale',
            '--random-init-for-tests', '--set', 'train.validation_batches=0']
    for key, value in overrides.items():
        args += ['--set', '%s=%s' % (key, value)]
    return cpu_step_seconds(train, args, steps)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--workdir', default=os.path.join(ROOT, 'data', 'bench-osmn'))
    parser.add_argument('--seconds', type=float, default=12)
    parser.add_argument('--skip-full-network', action='store_true')
    args = parser.parse_args(argv)
    from trainers.osmn import train
    cores = multiprocessing.cpu_count()
    result = {'machine': machine(), 'cores': cores, 'goal_samples_per_s_per_core': 100,
              'device_demand_samples_per_s': DEVICE_DEMAND}
    coco = ensure_records(args.workdir, 'coco')
    davis = ensure_records(args.workdir, 'davis')
    base = copy.deepcopy(train.DEFAULTS['input'])
    for label, parallel in (('autotune', base['num_parallel_calls']), ('2x_cores', 2 * cores)):
        cfg = dict(base, num_parallel_calls=parallel, batch_size=8)
        rates = {}
        for scale in (0.8, 1.0, 1.2):
            side = int(400 * scale)
            rates[side] = input_rate(coco, 'coco', (side, side), cfg, args.seconds)
            print('COCO %dx%d, parallel %s: %.1f samples/s' % (side, side, label, rates[side]))
        mean = sum(rates.values()) / len(rates)
        result['coco_%s' % label] = {
            'samples_per_s_by_size': {'%dx%d' % (k, k): round(v, 1) for k, v in rates.items()},
            'samples_per_s': round(mean, 1), 'per_core': round(mean / cores, 1),
            'cores_to_feed_device': round(DEVICE_DEMAND / (mean / cores), 1)}
        davis_cfg = dict(base, num_parallel_calls=parallel, batch_size=4)
        rate = input_rate(davis, 'davis', (480, 854), davis_cfg, args.seconds)
        result['davis_%s' % label] = {'samples_per_s': round(rate, 1),
                                      'per_core': round(rate / cores, 1)}
        print('DAVIS 854x480, parallel %s: %.1f samples/s' % (label, rate))
    tiny = step_time(coco, {'model.width': 0.0625, 'input.input_scale': 0.25,
                            'input.batch_size': 8}, 5)
    result['cpu_step_s_tiny_width1_16_100x100_batch8'] = round(tiny, 3)
    print('CPU step, tiny network: %.3f s' % tiny)
    if not args.skip_full_network:
        full = step_time(coco, {'input.batch_size': 8}, 1)
        result['cpu_step_s_full_400x400_batch8'] = round(full, 2)
        print('CPU step, full network 400x400 batch 8: %.2f s' % full)
    write_result(args.workdir, result)
    return 0


if __name__ == '__main__':
    sys.exit(main())
