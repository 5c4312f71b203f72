"""OSMN input throughput at full size and CPU training step time (`make bench-osmn`).

  * host pipeline samples/s (records -> decoded, padded frames and random numbers; COCO batch 8,
    DAVIS pairs t-1, t with a random valid guide, batch 4), on all cores, in total and per host
    core, with the default AUTOTUNE parallelism and with 2 x cores;
  * the graph-side augmentation (resizes to 400x400 x {0.8, 1, 1.2} or 854x480, heatmaps,
    guides) in ms per batch when it runs on this CPU instead of the device;
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
from schemas import dataset_info

DEVICE_DEMAND = 500.0  # samples/s an Ascend 910 at half its fp16 peak would consume


def ensure_records(workdir, dataset):
    name = 'coco' if dataset == 'coco' else 'davis2017'
    records = os.path.join(workdir, 'records', name)
    if not os.path.isfile(dataset_info.info_path(records)):
        if dataset == 'coco':
            counts = {'coco': {'train_images': 300, 'val_images': 15}}
        else:
            counts = {'davis': {'train': 8, 'val': 2, 'frames': 30}}
        data = ensure_sample(os.path.join(ROOT, 'data', 'bench-' + dataset), dataset, counts)
        root = os.path.join(data, 'coco' if dataset == 'coco' else 'DAVIS')
        subprocess.check_call([sys.executable, '-m', 'pipelines', dataset, '--data', root,
                               '--out', os.path.join(workdir, 'records'), '--overwrite'], cwd=ROOT)
    return records


def input_rate(records, stage, cfg, seconds):
    """Median samples/s of the host pipeline (decoded, padded frames and random numbers)."""
    import tensorflow as tf
    from trainers.osmn import data
    with tf.Graph().as_default():
        batch = tf.compat.v1.data.make_one_shot_iterator(
            data.batches(records, 'train', stage, cfg, 0, True)).get_next()
        return median_rate(one_value_each(batch.values()), cfg['batch_size'], seconds)


def assemble_ms(records, stage, size, cfg, seconds):
    """ms per batch of the graph-side augmentation (resizes, heatmaps, guides) run on the CPU,
    measured on a cached batch so that the host pipeline is not counted."""
    import tensorflow as tf
    from trainers.osmn import augment, data
    with tf.Graph().as_default():
        batch = tf.compat.v1.data.make_one_shot_iterator(
            data.batches(records, 'train', stage, cfg, 0, True).take(1).cache().repeat()).get_next()
        inputs = augment.assemble(batch, size, cfg, training=True)
        rate = median_rate(one_value_each(inputs.values()), 1, seconds)
    return 1000.0 / rate


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
    stages = {stage: dict(base, batch_size=train.STAGES[stage]['batch_size'],
                          max_frame_size=train.STAGES[stage]['max_frame_size'])
              for stage in ('coco', 'davis')}
    for label, parallel in (('autotune', base['num_parallel_calls']), ('2x_cores', 2 * cores)):
        for stage, records in (('coco', coco), ('davis', davis)):
            cfg = dict(stages[stage], num_parallel_calls=parallel)
            rate = input_rate(records, stage, cfg, args.seconds)
            entry = {'samples_per_s': round(rate, 1), 'per_core': round(rate / cores, 1)}
            if stage == 'coco':
                entry['cores_to_feed_device'] = round(DEVICE_DEMAND / (rate / cores), 1)
            result['%s_host_%s' % (stage, label)] = entry
            print('%s host pipeline, parallel %s: %.1f samples/s (%.1f per core)'
                  % (stage, label, rate, rate / cores))
    for stage, records, sizes in (('coco', coco, [(320, 320), (400, 400), (480, 480)]),
                                  ('davis', davis, [(480, 854)])):
        for size in sizes:
            ms = assemble_ms(records, stage, size, stages[stage], 6)
            result['%s_graph_augment_ms_per_batch_cpu_%dx%d' % ((stage,) + size)] = round(ms, 1)
            print('%s graph-side augmentation at %dx%d on the CPU: %.1f ms per batch'
                  % ((stage,) + size + (ms,)))
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
