"""Exemplar / search pairs as the SA-Siam trainer samples them, augmentation off and on.

python -m trainers.sasiam.show_pairs OUT/vid --out pairs.png [--n 8] [--seed S] [--split train]

One row per pair, drawn by the trainer's own input pipeline (data.batches: the reference pair rule
over track chunks, the seeded shuffles) with its own augmentation (data.augmented: stretch, centre
crop / pad to 247, random 239 crop): exemplar and search crop as stored (255, the 127 exemplar
region outlined), then both as the network sees them in training (239). Same seed, same sheet.
`python -m schemas show` draws the records themselves.
"""
from __future__ import absolute_import, division, print_function

import argparse
import copy
import sys

import numpy as np

from schemas import sheets, vid_track
from trainers import reader
from trainers.sasiam import data
from trainers.sasiam.train import DEFAULTS


def sample_pairs(records_dir, split, n, seed):
    """(stored exemplars, stored instances, augmented exemplars, augmented instances) of n
    training pairs: uint8 [n, 255, 255, 3] twice, float32 [n, 239, 239, 3] twice."""
    import tensorflow as tf
    cfg = copy.deepcopy(DEFAULTS['input'])
    written = reader.load_info(records_dir, vid_track.SCHEMA)['options'].get('max_frame_dist')
    # the trainer's default gap, or the records' own when they were chunked for a smaller one
    cfg.update(batch_size=n, num_parallel_calls=1, prefetch=1, augment_in_graph=True,
               max_frame_dist=min(cfg['max_frame_dist'], written or cfg['max_frame_dist']))
    graph = tf.Graph()
    with graph.as_default():
        batch = tf.compat.v1.data.make_one_shot_iterator(
            data.batches(records_dir, split, cfg, seed, training=True)).get_next()
        augmented = data.augmented(batch)
        with tf.compat.v1.Session(graph=graph) as sess:
            return sess.run((batch['exemplar'], batch['instance'], augmented['exemplar'],
                             augmented['instance']))


def _stored_tile(image, text, outline):
    import cv2
    tile = np.ascontiguousarray(image)
    if outline:
        side = vid_track.EXEMPLAR_SIDE  # the centred target + context square of the crop
        lo = (sheets.VID_TILE - side) // 2
        cv2.rectangle(tile, (lo, lo), (lo + side - 1, lo + side - 1), (0, 255, 0), 1)
    return sheets.label(tile, text)


def _augmented_tile(image, text):
    tile = np.full((sheets.VID_TILE, sheets.VID_TILE, 3), sheets.BACKGROUND, np.uint8)
    offset = (sheets.VID_TILE - data.OUT) // 2
    tile[offset:offset + data.OUT, offset:offset + data.OUT] = np.clip(image, 0, 255).round()
    return sheets.label(tile, text)


def render(records_dir, split='train', n=8, seed=0):
    """The sheet: a row per pair, 4 tiles (stored exemplar, stored search, augmented both)."""
    z, x, z_aug, x_aug = sample_pairs(records_dir, split, n, seed)
    tiles = []
    for k in range(n):
        tiles += [_stored_tile(z[k], 'exemplar %d (off)' % k, True),
                  _stored_tile(x[k], 'search %d (off)' % k, False),
                  _augmented_tile(z_aug[k], 'exemplar %d (on, 239)' % k),
                  _augmented_tile(x_aug[k], 'search %d (on, 239)' % k)]
    return sheets.grid(tiles, 4)


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m trainers.sasiam.show_pairs',
                                     description=__doc__.split('\n\n')[0])
    parser.add_argument('records', help='vid_track records folder (OUT/vid)')
    parser.add_argument('--out', required=True, help='PNG file to write')
    parser.add_argument('--n', type=int, default=8, help='pairs (rows)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--split', default='train')
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error('--n must be at least 1')
    from PIL import Image
    try:
        sheet = render(args.records, args.split, args.n, args.seed)
    except reader.RecordsError as err:
        sys.stderr.write('error: %s\n' % err)
        return 1
    Image.fromarray(sheet).save(args.out)
    print('%s: %dx%d, %d exemplar / search pairs of %s as the trainer samples them, '
          'augmentation off (left) and on (right), seed %d'
          % (args.out, sheet.shape[1], sheet.shape[0], args.n, args.records, args.seed))
    return 0


if __name__ == '__main__':
    sys.exit(main())
