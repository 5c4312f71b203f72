"""COCO and DAVIS pipeline throughput at real image sizes, with a per-image cost breakdown.

    python -m bench.convert_bench coco  [--images 300]     (make bench-coco)
    python -m bench.convert_bench davis [--videos 10 --frames 30]   (make bench-vos)

1. Writes (once; reused while the parameters match) a sample at the released sizes: COCO
   640x480 and the other COCO shapes, DAVIS 854x480.
2. Runs the pipeline (`python -m pipelines coco|davis`) in its own process on all cores, default
   runner: images/s (COCO images or DAVIS frames), input MB/s (bytes of the files it reads) and
   output MB/s (record bytes), end to end and in steady state (time inside shard tasks).
3. Times each step of the conversion on one core, per image, with the same functions the
   converters call: COCO JSON parse + index, JPEG validation, rasterisation (annToMask), PNG
   encoding of the masks, record encoding; DAVIS JPEG validation, mask PNG read, per-object
   statistics (boxes, areas, guide test), mask PNG re-encoding, record encoding.
"""
from __future__ import absolute_import, division, print_function

import argparse
import glob
import multiprocessing
import os
import shutil
import subprocess
import sys
import time

import cv2

from bench.common import ROOT, machine, write_result
from schemas import dataset_info


def ensure_sample(workdir, dataset, counts, seed=0):
    import sampledata
    data = os.path.join(workdir, 'data')
    try:
        manifest = sampledata.load_manifest(data)
        if manifest['datasets'][dataset]['counts_requested'] == counts[dataset]:
            return data
    except (IOError, OSError, KeyError, ValueError):
        pass
    print('writing the benchmark sample (%s %s, real size) ...' % (dataset, counts[dataset]))
    sampledata.generate(data, seed=seed, size='real', datasets=[dataset], counts=counts,
                        overwrite=True)
    return data


def run_pipeline(dataset, data_root, workdir, workers):
    out = os.path.join(workdir, 'out')
    shutil.rmtree(out, ignore_errors=True)
    start = time.time()
    with open(os.path.join(workdir, 'pipeline.log'), 'w') as log:
        subprocess.check_call([sys.executable, '-m', 'pipelines', dataset, '--data', data_root,
                               '--out', out, '--units-per-shard', '1',
                               '--direct_num_workers=%d' % workers], cwd=ROOT, stderr=log)
    wall = time.time() - start
    name = 'coco' if dataset == 'coco' else 'davis2017'
    return dataset_info.read(os.path.join(out, name)), wall


def _timed(totals, key, fn, *args):
    start = time.time()
    value = fn(*args)
    totals[key] = totals.get(key, 0.0) + time.time() - start
    return value


def coco_breakdown(data_root):
    """Seconds per image of each conversion step, on one core (train2017)."""
    from datasets import images
    from pipelines import coco
    totals = {}
    import tensorflow  # noqa: F401  (record encoding imports it: not part of any step's time)
    path = coco.annotation_file(data_root, 'train2017')
    api, screened = _timed(totals, 'json_parse_and_index', coco.load_coco, path)
    converter = coco.CocoConverter(data_root)
    converter.setup()
    n_images = n_masks = 0
    for image_id in sorted(api.imgs):
        info = api.imgs[image_id]
        data = _timed(totals, 'read_file', images.read_file,
                      os.path.join(data_root, 'train2017', info['file_name']))
        _timed(totals, 'jpeg_validate', images.decode_jpeg, data, cv2.IMREAD_UNCHANGED)
        masks = []
        for ann in api.imgToAnns[image_id]:
            mask = _timed(totals, 'rasterise', api.annToMask, ann)
            if not ann['iscrowd'] and mask.sum() > 0.03 * mask.size:
                masks.append(mask)
        for mask in masks:
            _timed(totals, 'png_encode', images.encode_png, mask)
            _timed(totals, 'tight_box', images.tight_box, mask)
        n_images += 1
        n_masks += len(masks)
    # the whole per-image conversion through the converter, with its record encoding timed apart
    result_counts = {}
    from pipelines.converter import UnitResult
    encode = converter._encode
    converter._encode = lambda *a: _timed(totals, 'record_encode', encode, *a)
    converter._cocos['train2017'] = api, screened  # parsed above, timed apart
    start = time.time()
    for image_id in sorted(api.imgs):
        result = UnitResult()
        converter.convert(coco.CocoUnit('train2017', (image_id,), False), result)
        for k, v in result.counts.items():
            result_counts[k] = result_counts.get(k, 0) + v
    totals['converter_total'] = time.time() - start
    per_image = {k: round(v / n_images * 1000, 3) for k, v in totals.items()}
    return {'images': n_images, 'kept_masks': n_masks, 'ms_per_image': per_image}


def davis_breakdown(data_root):
    import tensorflow  # noqa: F401  (record encoding imports it: not part of any step's time)
    from datasets import images
    from pipelines import vos
    from pipelines.converter import UnitResult
    totals = {}
    converter = vos.DavisConverter(data_root, '2017')
    converter.setup()
    frames = 0
    names = sorted(os.listdir(os.path.join(data_root, 'JPEGImages', '480p')))
    for name in names:
        for jpg in sorted(glob.glob(os.path.join(data_root, 'JPEGImages', '480p', name, '*.jpg'))):
            data = _timed(totals, 'read_file', images.read_file, jpg)
            _timed(totals, 'jpeg_validate', images.decode_jpeg, data)
            png = jpg.replace('JPEGImages', 'Annotations').replace('.jpg', '.png')
            labels = _timed(totals, 'mask_png_read', images.read_index_png, images.read_file(png))

            _timed(totals, 'object_stats', vos.object_stats, labels, images.label_ids(labels))
            _timed(totals, 'mask_png_encode', images.encode_png, labels)
            frames += 1
    start = time.time()
    for name in names:
        converter.convert(vos.Video('train', name), UnitResult())
    totals['converter_total'] = time.time() - start
    return {'frames': frames,
            'ms_per_frame': {k: round(v / frames * 1000, 3) for k, v in totals.items()}}


def input_bytes(data_root):
    return sum(os.path.getsize(p) for p in glob.glob(os.path.join(data_root, '**', '*'),
                                                     recursive=True) if os.path.isfile(p))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('dataset', choices=('coco', 'davis'))
    parser.add_argument('--images', type=int, default=300, help='COCO train images')
    parser.add_argument('--videos', type=int, default=10, help='DAVIS sequences')
    parser.add_argument('--frames', type=int, default=30, help='frames per DAVIS sequence')
    parser.add_argument('--workers', type=int, default=multiprocessing.cpu_count())
    parser.add_argument('--workdir', default=None)
    args = parser.parse_args(argv)
    workdir = args.workdir or os.path.join(ROOT, 'data', 'bench-' + args.dataset)
    if args.dataset == 'coco':
        counts = {'coco': {'train_images': args.images, 'val_images': max(1, args.images // 20)}}
        data_root = os.path.join(ensure_sample(workdir, 'coco', counts), 'coco')
        unit = 'images'
    else:
        counts = {'davis': {'train': args.videos - args.videos // 5, 'val': args.videos // 5,
                            'frames': args.frames}}
        data_root = os.path.join(ensure_sample(workdir, 'davis', counts), 'DAVIS')
        unit = 'frames'
    print('machine: %s' % machine())
    info, wall = run_pipeline(args.dataset, data_root, workdir, args.workers)
    done = info['counts'][unit]
    steady_s = info['worker_seconds'] / float(args.workers)
    read = input_bytes(data_root)
    result = {
        'dataset': args.dataset, 'machine': machine(), 'workers': args.workers, unit: done,
        'records': info['counts']['records'],
        'end_to_end': {'wall_s': round(wall, 2), '%s_per_s' % unit: round(done / wall, 1),
                       'input_mb_per_s': round(read / 1e6 / wall, 2),
                       'output_mb_per_s': round(info['counts']['bytes'] / 1e6 / wall, 2)},
        'steady': {'%s_per_s' % unit: round(done / steady_s, 1),
                   'input_mb_per_s': round(read / 1e6 / steady_s, 2),
                   'output_mb_per_s': round(info['counts']['bytes'] / 1e6 / steady_s, 2)},
    }
    if args.dataset == 'coco':
        result['instances_kept'] = info['counts']['instances_kept']
        result['breakdown_one_core'] = coco_breakdown(data_root)
    else:
        result['breakdown_one_core'] = davis_breakdown(data_root)
    write_result(workdir, result)
    return 0


if __name__ == '__main__':
    sys.exit(main())
