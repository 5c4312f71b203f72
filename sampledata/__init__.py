"""Tiny ILSVRC2015-VID, COCO 2017, DAVIS 2017, YouTube-VOS 2018 / 2019, MOSE, GOT-10k and LaSOT
datasets in their exact on-disk formats, rendered from synthetic scenes (textured objects moving,
occluding, entering and leaving over textured backgrounds). Deterministic for a seed.
`python -m sampledata --help`.
"""
from __future__ import absolute_import, division, print_function

import json
import os

from datasets import fileio
from sampledata import coco, fs_faults, tracking_sets, vid, vos, vos_more
from sampledata.common import Faults, write_json

DATASETS = ('vid', 'coco', 'davis', 'ytvos', 'got10k', 'lasot', 'ytvos2019', 'mose')
MANIFEST = 'sample_manifest.json'

# Frame sizes: "real" matches the released data, "small" keeps tests fast.
SIZES = {
    'real': {'vid': (1280, 720), 'coco': ((640, 480), (480, 640), (640, 427), (500, 375)),
             'davis': (854, 480), 'ytvos': (1280, 720), 'got10k': (1280, 720),
             'lasot': (1280, 720), 'ytvos2019': (1280, 720), 'mose': (1280, 720)},
    'small': {'vid': (320, 180), 'coco': ((160, 120), (120, 160), (160, 107)),
              'davis': (214, 120), 'ytvos': (320, 180), 'got10k': (192, 108),
              'lasot': (192, 108), 'ytvos2019': (320, 180), 'mose': (240, 136)},
}

# How much of each dataset to write (defaults: seconds at real size).
COUNTS = {
    'vid': {'train_snippets': 4, 'val_snippets': 2, 'frames': 10, 'max_objects': 3},
    'coco': {'train_images': 8, 'val_images': 3},
    'davis': {'train': 4, 'val': 2, 'frames': 8},
    'ytvos': {'train': 4, 'valid': 2, 'frames': 6},
    'got10k': {'train': 3, 'val': 2, 'test': 2, 'frames': 8},
    'lasot': {'classes': 2, 'per_class': 2, 'frames': 8},
    'ytvos2019': {'train': 6, 'valid': 2, 'frames': 4},
    'mose': {'train': 4, 'valid': 2, 'frames': 5},
}
# The writers of the datasets added with issue 22 (the others are dispatched below).
MORE_WRITERS = {'ytvos2019': vos_more.write_ytvos2019, 'mose': vos_more.write_mose}


def _write_all(out_dir, seed, size, sizes, corrupt, datasets, counts):
    faults = Faults() if corrupt else None
    manifest = {'seed': seed, 'size': size, 'corrupt': corrupt, 'datasets': {}}
    for name in datasets:
        c = counts[name]
        if name == 'vid':
            w, h = sizes['vid']
            entry = vid.write(out_dir, seed, w, h, faults=faults, **c)
        elif name == 'coco':
            entry = coco.write(out_dir, seed, sizes['coco'], faults=faults, **c)
        elif name in ('got10k', 'lasot'):
            w, h = sizes[name]
            writer = tracking_sets.write_got10k if name == 'got10k' else tracking_sets.write_lasot
            entry = writer(out_dir, seed, w, h, faults=faults, **c)
        elif name in MORE_WRITERS:
            w, h = sizes[name]
            entry = MORE_WRITERS[name](out_dir, seed, w, h, faults=faults, **c)
        elif name == 'davis':
            w, h = sizes['davis']
            entry = vos.write_davis(out_dir, seed, w, h, faults=faults, **c)
        else:
            w, h = sizes['ytvos']
            entry = vos.write_ytvos(out_dir, seed, w, h, faults=faults, **c)
        if faults is not None and name == 'vid':   # the file-system faults of VID's tree
            fs_faults.inject_vid(os.path.join(out_dir, entry['root']), faults)
        entry['counts_requested'] = c
        manifest['datasets'][name] = entry
    manifest['faults'] = faults.items if faults is not None else []
    write_json(os.path.join(out_dir, MANIFEST), manifest, indent=1)
    return manifest


def generate(out_dir, seed=0, size='real', corrupt=False, datasets=DATASETS, counts=None,
             overwrite=False, frame_sizes=None):
    """Write the sample datasets to out_dir atomically (a temporary sibling renamed at the end).
    `frame_sizes` ({dataset: (width, height)}, vid / davis / ytvos / got10k / lasot) overrides
    `size`'s.

    Returns the manifest (also written to out_dir/sample_manifest.json): per-dataset roots and
    clean counts, and with corrupt=True the list of injected bad inputs (dataset, kind, path
    relative to the dataset root, detail).
    """
    unknown = sorted(set(datasets) - set(DATASETS))
    if unknown:
        raise ValueError('unknown dataset(s) %s; choose from %s' % (unknown, DATASETS))
    if size not in SIZES:
        raise ValueError('size must be one of %s' % sorted(SIZES))
    sizes = dict(SIZES[size])
    for name, wh in (frame_sizes or {}).items():
        if name not in ('vid', 'davis', 'ytvos', 'got10k', 'lasot') + tuple(MORE_WRITERS):
            raise ValueError('frame sizes are for vid, davis, ytvos, got10k, lasot, ytvos2019 and '
                             'mose, not %r'
                             % name)
        sizes[name] = tuple(int(v) for v in wh)
    merged = {k: dict(v) for k, v in COUNTS.items()}
    for name, override in (counts or {}).items():
        merged[name].update(override)
    out_dir = os.path.abspath(out_dir)
    if os.path.exists(out_dir) and not overwrite:
        raise FileExistsError('%s exists; pass overwrite=True (--overwrite) to replace it'
                              % out_dir)
    with fileio.published_whole(out_dir) as tmp:
        manifest = _write_all(tmp, seed, size, sizes, corrupt, tuple(datasets), merged)
    return manifest


def load_manifest(out_dir):
    with open(os.path.join(out_dir, MANIFEST)) as f:
        return json.load(f)
