"""Tiny ILSVRC2015-VID, COCO 2017, DAVIS 2017, YouTube-VOS 2018 / 2019, MOSE, GOT-10k and LaSOT
datasets (and the tracking benchmarks UAV123, NfS, TC128, TrackingNet, VOT2018:
sampledata.benchmarks) in their exact on-disk formats, rendered from synthetic scenes (textured
objects moving, occluding, entering and leaving over textured backgrounds). Deterministic for a seed.
`python -m sampledata --help`.
"""
from __future__ import absolute_import, division, print_function

import json
import os

from datasets import fileio
from sampledata import benchmarks, coco, fs_faults, tracking_sets, vid, vos, vos_more
from sampledata.common import BOM_CRLF_LISTS, Faults, bom_crlf, write_json

DATASETS = ('vid', 'coco', 'davis', 'ytvos', 'got10k', 'lasot', 'ytvos2019', 'mose',
            'benchmarks')
MANIFEST = 'sample_manifest.json'

# Frame sizes: "real" matches the released data, "small" keeps tests fast.
SIZES = {
    'real': {'vid': (1280, 720), 'coco': ((640, 480), (480, 640), (640, 427), (500, 375)),
             'davis': (854, 480), 'ytvos': (1280, 720), 'got10k': (1280, 720),
             'lasot': (1280, 720), 'ytvos2019': (1280, 720), 'mose': (1280, 720),
             'benchmarks': (1280, 720)},
    'small': {'vid': (320, 180), 'coco': ((160, 120), (120, 160), (160, 107)),
              'davis': (214, 120), 'ytvos': (320, 180), 'got10k': (192, 108),
              'lasot': (192, 108), 'ytvos2019': (320, 180), 'mose': (240, 136),
              'benchmarks': (192, 108)},
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
    'benchmarks': {'sequences': 2, 'frames': 8},     # UAV123: official lengths (109, 133)
}
# The writer of each dataset but COCO (which takes a list of frame sizes): (out_dir, seed, width,
# height, faults=..., **counts) -> manifest entry.
WRITERS = {'vid': vid.write, 'davis': vos.write_davis, 'ytvos': vos.write_ytvos,
           'got10k': tracking_sets.write_got10k, 'lasot': tracking_sets.write_lasot,
           'ytvos2019': vos_more.write_ytvos2019, 'mose': vos_more.write_mose,
           'benchmarks': benchmarks.write}


def _write_all(out_dir, seed, size, sizes, corrupt, datasets, counts):
    faults = Faults() if corrupt else None
    manifest = {'seed': seed, 'size': size, 'corrupt': corrupt, 'datasets': {}}
    for name in datasets:
        c = counts[name]
        if name == 'coco':
            entry = coco.write(out_dir, seed, sizes['coco'], faults=faults, **c)
        else:
            w, h = sizes[name]
            entry = WRITERS[name](out_dir, seed, w, h, faults=faults, **c)
        if faults is not None and name == 'vid':   # the file-system faults of VID's tree
            fs_faults.inject_vid(os.path.join(out_dir, entry['root']), faults)
        entry['counts_requested'] = c
        manifest['datasets'][name] = entry
    manifest['faults'] = faults.items if faults is not None else []
    manifest['tolerated'] = []
    if corrupt:
        for relative in BOM_CRLF_LISTS:
            if os.path.isfile(os.path.join(out_dir, relative)):
                bom_crlf(os.path.join(out_dir, relative))
                manifest['tolerated'].append({'kind': 'bom_crlf_list', 'path': relative})
    write_json(os.path.join(out_dir, MANIFEST), manifest, indent=1)
    return manifest


def generate(out_dir, seed=0, size='real', corrupt=False, datasets=DATASETS, counts=None,
             overwrite=False, frame_sizes=None):
    """Write the sample datasets to out_dir atomically (a temporary sibling renamed at the end).
    `frame_sizes` ({dataset: (width, height)}, any dataset but coco) overrides `size`'s.

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
        if name not in WRITERS:
            raise ValueError('frame sizes are for %s, not %r' % (', '.join(WRITERS), name))
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
