"""Tracking benchmarks on disk, read into datasets.tracking.Sequence (plus what evaluation needs
beyond the boxes: attributes, per-frame visibility, GOT-10k's meta data).

    UAV123       <root>/data_seq/UAV123/<folder>/000001.jpg, anno/UAV123/<seq>.txt (NaN rows:
                 target absent), anno/UAV123/att/<seq>.txt (12 attribute flags); a sequence is
                 a frame range of a folder, as the official list gives it (got10k's copy,
                 got10k/datasets/uav123.json, read from the installed package)
    NfS (30 fps) <root>/<seq>/30/<seq>/*.jpg, <root>/<seq>/30/<seq>.txt (x1 y1 x2 y2 in columns
                 2-5; a 240 fps annotation is subsampled every 8th row, as got10k does)
    TC128        <root>/<seq>/img/0001.jpg, <seq>/<seq>_gt.txt, <seq>/<seq>_frames.txt (first,last)
    LaSOT test   datasets.lasot's layout; the split: <root>/testing_set.txt, else the official
                 test list built into datasets.lasot (lasot.test_sequences)
    GOT-10k      datasets.got10k's layout (<root>/<split>/list.txt, <seq>/..., test: the first
                 box only); val also meta_info.ini's resolution and cover.label per frame
    TrackingNet  <root>/TEST/frames/<seq>/0.jpg ..., TEST/anno/<seq>.txt (the first box)

LaSOT and GOT-10k are read by their dataset modules (datasets.lasot, datasets.got10k, the ones
the training records use); this module only adapts their TrackSequences to evaluation. Origins
(Sequence.origin) follow each benchmark's files: 1 for the MATLAB-made UAV123, TC128 and LaSOT,
0 for NfS, GOT-10k and TrackingNet. A layout that does not fit raises SequenceError naming the
path and the reason.
"""
from __future__ import absolute_import, division, print_function

import collections
import glob
import importlib.util
import json
import os
import re

import numpy as np

from datasets import got10k, lasot
from datasets.numbers import xywh_problem
from datasets.otb import read_boxes
from datasets.track_folders import GROUND_TRUTH, check_counts, read_flags
from datasets.tracking import (Sequence, SequenceError, frames_in_range, list_images,
                               read_list_file)

# What evaluation needs of a benchmark besides its sequences (empty dicts where it has none):
# attributes {seq: [names]}, visible {seq: bool per frame} (LaSOT), meta {seq: {resolution,
# cover}} (GOT-10k val); ground_truth: False where only the first box is public (submissions).
Benchmark = collections.namedtuple(
    'Benchmark', 'name split sequences attributes visible meta ground_truth')

# The 12 attributes of UAV123's att/<seq>.txt flags, in the order of the official toolkit.
UAV123_ATTRIBUTES = ('Scale Variation', 'Aspect Ratio Change', 'Low Resolution', 'Fast Motion',
                     'Full Occlusion', 'Partial Occlusion', 'Out-of-View', 'Background Clutter',
                     'Illumination Variation', 'Viewpoint Change', 'Camera Motion',
                     'Similar Object')
NFS_SUBSAMPLE = 8        # 240 fps annotation rows per 30 fps frame


def benchmark(name, sequences, split=None, attributes=None, visible=None, meta=None,
              ground_truth=True):
    return Benchmark(name, split, list(sequences), attributes or {}, visible or {}, meta or {},
                     ground_truth)


def _startable(sequence, gt_path):
    """The sequence, once its first box (the one a tracker starts from) passes
    datasets.numbers.xywh_problem; later rows may be NaN (UAV123's absent target)."""
    problem = xywh_problem(sequence.boxes[0])
    if problem:
        raise SequenceError('%s:1: the first box, where tracking starts: %s' % (gt_path, problem))
    return sequence


def _checked(name, frames, boxes, origin, gt_path, frames_from):
    """The Sequence, once track_folders.check_counts finds one box per frame."""
    check_counts(gt_path, frames, boxes, frames_from)
    return _startable(Sequence(name, frames, boxes, origin), gt_path)


def _evaluation_sequence(track, gt_path):
    """A datasets.track_folders.TrackSequence as the Sequence evaluation reads."""
    return _startable(Sequence(track.name, track.frames, track.boxes, track.origin), gt_path)


# -- UAV123 ------------------------------------------------------------------------------------

def uav123_ranges(version='UAV123'):
    """{seq: (folder, first, last)} of got10k's copy of the official sequence list."""
    spec = importlib.util.find_spec('got10k')   # its location only: importing it loads plots
    if spec is None or not spec.submodule_search_locations:
        raise SequenceError('the got10k package (its datasets/uav123.json lists UAV123\'s frame '
                            'ranges) is not installed')
    path = os.path.join(list(spec.submodule_search_locations)[0], 'datasets', 'uav123.json')
    with open(path) as f:
        metas = json.load(f)[version]
    return {name: (m['folder_name'], m['start_frame'], m['end_frame'])
            for name, m in metas.items()}


def load_uav123(root, version='UAV123'):
    anno_dir = os.path.join(root, 'anno', version)
    anno_files = sorted(glob.glob(os.path.join(anno_dir, '*.txt')))
    if not anno_files:
        raise SequenceError('%s: no <seq>.txt annotations (UAV123 layout: data_seq/%s/<seq>/, '
                            'anno/%s/<seq>.txt)' % (anno_dir, version, version))
    ranges = uav123_ranges(version)
    sequences, attributes = [], {}
    for path in anno_files:
        name = os.path.basename(path)[:-4]
        if name not in ranges:
            raise SequenceError('%s: %s is not a sequence of the official %s list'
                                % (path, name, version))
        folder, first, last = ranges[name]
        frames_dir = os.path.join(root, 'data_seq', version, folder)
        frames = frames_in_range(list_images(frames_dir), first, last)
        boxes = read_boxes(path)   # rows of four NaN: the target is absent
        sequences.append(_checked(name, frames, boxes, 1, path,
                                  '%s, frames %d-%d' % (frames_dir, first, last)))
        att = os.path.join(anno_dir, 'att', name + '.txt')
        if os.path.isfile(att):
            flags = read_flags(att)
            if len(flags) != len(UAV123_ATTRIBUTES):
                raise SequenceError('%s: %d attribute flags, UAV123 has %d'
                                    % (att, len(flags), len(UAV123_ATTRIBUTES)))
            attributes[name] = [a for a, f in zip(UAV123_ATTRIBUTES, flags) if f]
    return benchmark('uav123', sequences, attributes=attributes)


# -- NfS ---------------------------------------------------------------------------------------

def read_nfs_boxes(path):
    """x,y,w,h of an NfS annotation (columns 2-5 are x1 y1 x2 y2; w = x2 - x1 as got10k)."""
    rows = []
    for number, line in read_list_file(path):
        parts = line.split()
        try:
            x1, y1, x2, y2 = [float(v) for v in parts[1:5]]
        except ValueError:
            raise SequenceError('%s:%d: expected `id x1 y1 x2 y2 ...`, got %r'
                                % (path, number, line))
        rows.append([x1, y1, x2 - x1, y2 - y1])
    return np.array(rows, np.float64).reshape(-1, 4)


def nfs_sequence(root, name, fps=30):
    """One NfS sequence: a 240 fps annotation on 30 fps frames keeps every 8th row, and a count
    that still differs by one is cut to the shorter, both as got10k's NfS reader does."""
    anno = os.path.join(root, name, str(fps), name + '.txt')
    frames = list_images(os.path.join(root, name, str(fps), name))
    boxes = read_nfs_boxes(anno)
    if frames and len(boxes) != len(frames):
        if abs(len(boxes) / float(len(frames)) - NFS_SUBSAMPLE) < 1:
            boxes = boxes[::NFS_SUBSAMPLE]
        if abs(len(frames) - len(boxes)) == 1:
            n = min(len(frames), len(boxes))
            frames, boxes = frames[:n], boxes[:n]
    return _checked(name, frames, boxes, 0, anno, os.path.join(root, name, str(fps), name))


def load_nfs(root, fps=30):
    names = sorted(os.path.basename(os.path.dirname(os.path.dirname(p)))
                   for p in glob.glob(os.path.join(root, '*', str(fps), '*.txt')))
    if not names:
        raise SequenceError('%s: no NfS sequence (<seq>/%d/<seq>.txt)' % (root, fps))
    return benchmark('nfs', [nfs_sequence(root, n, fps) for n in names])


# -- TC128 -------------------------------------------------------------------------------------

def load_tc128(root):
    gt_files = sorted(glob.glob(os.path.join(root, '*', '*_gt.txt')))
    if not gt_files:
        raise SequenceError('%s: no TC128 sequence (<seq>/<seq>_gt.txt)' % root)
    sequences = []
    for path in gt_files:
        seq_dir = os.path.dirname(path)
        name = os.path.basename(seq_dir)
        ranges = glob.glob(os.path.join(seq_dir, '*_frames.txt'))
        if not ranges:
            raise SequenceError('%s: no <seq>_frames.txt (the frame range of the ground truth)'
                                % seq_dir)
        first_last = read_flags(ranges[0])
        if len(first_last) != 2:
            raise SequenceError('%s: expected `first,last`' % ranges[0])
        first, last = first_last
        frames_dir = os.path.join(seq_dir, 'img')
        frames = frames_in_range(list_images(frames_dir), first, last)
        sequences.append(_checked(name, frames, read_boxes(path), 1,
                                  path, '%s, frames %d-%d' % (frames_dir, first, last)))
    return benchmark('tc128', sequences)


# -- LaSOT (test split) ------------------------------------------------------------------------

def load_lasot(root):
    """LaSOT's test split; visible: frames neither fully occluded nor out of view (the frames
    pysot-toolkit's LaSOT evaluation scores); attributes: each sequence's class."""
    names = lasot.test_sequences(root)
    if not names:
        raise SequenceError('%s: no LaSOT test sequence (none of the official test list, and no '
                            '%s)' % (root, lasot.ROOT_TEST_LIST))
    sequences, attributes, visible = [], {}, {}
    for name in names:
        track = lasot.read_sequence(root, name)
        sequences.append(_evaluation_sequence(track, os.path.join(root, track.folder,
                                                                  GROUND_TRUTH)))
        attributes[name] = [track.object_class]
        visible[name] = ~track.absent
    return benchmark('lasot', sequences, attributes=attributes, visible=visible)


# -- GOT-10k (val, test) -----------------------------------------------------------------------

def got10k_meta(seq_dir, count):
    """{resolution: (w, h), cover: flags per frame} of a GOT-10k val sequence."""
    ini = os.path.join(seq_dir, 'meta_info.ini')
    if not os.path.isfile(ini):
        raise SequenceError('%s: missing (GOT-10k meta data: the resolution)' % ini)
    numbers = re.findall(r'\d+', got10k.read_meta(ini).get('resolution', ''))
    if len(numbers) != 2:
        raise SequenceError('%s: no `resolution: (w, h)` line' % ini)
    cover = read_flags(os.path.join(seq_dir, 'cover.label'), count)
    return {'resolution': (int(numbers[0]), int(numbers[1])), 'cover': cover}


def load_got10k(root, split):
    """A GOT-10k split as datasets.got10k reads it (test: the first box only, no labels)."""
    sequences, meta = [], {}
    for name in got10k.list_sequences(root, split):
        track = got10k.read_sequence(root, split, name)
        seq_dir = os.path.join(root, track.folder)
        sequences.append(_evaluation_sequence(track, os.path.join(seq_dir, GROUND_TRUTH)))
        if split != 'test':
            meta[name] = got10k_meta(seq_dir, len(track.frames))
    return benchmark('got10k', sequences, split=split, meta=meta,
                     ground_truth=split != 'test')


# -- TrackingNet (test) ------------------------------------------------------------------------

def load_trackingnet(root, split='TEST'):
    anno_files = sorted(glob.glob(os.path.join(root, split, 'anno', '*.txt')))
    if not anno_files:
        raise SequenceError('%s: no <seq>.txt (TrackingNet layout: %s/anno/<seq>.txt, '
                            '%s/frames/<seq>/0.jpg ...)' % (os.path.join(root, split, 'anno'),
                                                            split, split))
    sequences = []
    for path in anno_files:
        name = os.path.basename(path)[:-4]
        frames = list_images(os.path.join(root, split, 'frames', name))
        if not frames:
            raise SequenceError('%s: no images' % os.path.join(root, split, 'frames', name))
        sequences.append(Sequence(name, frames, read_boxes(path)[:1], 0))
    return benchmark('trackingnet', sequences, split=split.lower(), ground_truth=False)
