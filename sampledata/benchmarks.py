"""Tiny trees of the tracking benchmarks in their release layouts (docs/tracking.md, Benchmarks),
rendered from the same synthetic scenes as the VID, GOT-10k and LaSOT samples
(sampledata.tracking_sets.render_track), under out_dir/benchmarks/:

    UAV123/data_seq/UAV123/<seq>/000001.jpg ...  anno/UAV123/<seq>.txt (x,y,w,h 1-based),
        anno/UAV123/att/<seq>.txt (12 flags); the sequences are the
        shortest of the official list (uav6: 109 frames, uav2: 133) at their full official
        length, so got10k's own UAV123 reader (which lists every frame of the range) reads them
    NfS/<seq>/30/<seq>/00001.jpg ...             <seq>/30/<seq>.txt: the 240 fps annotation
        (VATIC rows `id x1 y1 x2 y2 frame lost occluded generated "label"`, 8 rows a 30 fps frame)
    Temple-color-128/<seq>/img/0001.jpg ...      <seq>_gt.txt (x,y,w,h 1-based), <seq>_frames.txt
        (first,last; the second sequence's range starts at frame 3 of its folder)
    TrackingNet/TEST/frames/<seq>/0.jpg ...      TEST/anno/<seq>.txt (the first box only)
    vot2018/list.txt, <seq>/color/00000001.jpg   (15 frames: accuracy skips 10 burn-in frames)
                                                 <seq>/groundtruth.txt (rotated rectangles,
        x1,y1,...,x4,y4 1-based: cv2.minAreaRect of the target's visible pixels), <tag>.tag

The target stays in view in every sequence: NfS, TC128, TrackingNet and VOT files have no way to
say "absent", and UAV123's NaN rows are refused by datasets.otb.read_boxes today.
Each manifest entry lists every sequence's frame count and first box (0-based x,y,w,h).
"""
from __future__ import absolute_import, division, print_function

import os
import shutil

import cv2
import numpy as np

from datasets.benchmarks import NFS_SUBSAMPLE as NFS_RATE, UAV123_ATTRIBUTES, uav123_ranges
from datasets.vot import TAGS as VOT_TAGS
from sampledata.common import rng_for, write_bytes, write_jpeg
from sampledata.render import Scene, visible_box
from sampledata.tracking_sets import MIN_VISIBLE_PIXELS, render_track

ROOT = 'benchmarks'
UAV123, NFS, TC128, TRACKINGNET, VOT = ('UAV123', 'NfS', 'Temple-color-128', 'TrackingNet',
                                        'vot2018')
NFS_NAMES = ('ball_1', 'car_1')
TC128_NAMES = ('Ball_ce1', 'Car_ce')
TRACKINGNET_NAMES = ('sample-clip-a_0', 'sample-clip-b_1')
VOT_NAMES = ('ball', 'car')
TC128_SKIPPED = 2                  # frames of the second TC128 folder before its range
VOT_FRAMES = 15                    # at least: more than the 10 burn-in frames after an init,
                                   # so a VOT accuracy has frames to average
PARTIAL = 0.75                     # visible share below which a frame counts as occluded


def _text(lines):
    return ''.join(line + '\n' for line in lines).encode('utf-8')


def _xywh(box):
    """0-based x, y, w, h of an inclusive (xmin, ymin, xmax, ymax) box."""
    return [box[0], box[1], box[2] - box[0] + 1, box[3] - box[1] + 1]


def _visible_track(seed, bench, name, width, height, frames, index):
    """render_track of a sequence whose target stays in view (index 2 of every 4: 'stay', no
    curtain); an absent frame would have no box these formats can write: an error."""
    track = render_track(seed, bench, name, width, height, frames, 2 + 4 * index)
    if any(box is None for _, box, _, _ in track):
        raise RuntimeError('sample %s/%s: the target is hidden in a frame' % (bench, name))
    return track


def _entry(root, sequences):
    return {'root': root, 'sequences': sequences,
            'clean': {'sequences': len(sequences),
                      'frames': sum(s['frames'] for s in sequences.values())}}


def _record(track):
    return {'frames': len(track), 'first_box': _xywh(track[0][1])}


# -- UAV123 ------------------------------------------------------------------------------------

def uav123_shortest(count):
    """The `count` shortest sequences of the official UAV123 list: [(name, folder, first, last)]."""
    ranges = uav123_ranges('UAV123')
    names = sorted(ranges, key=lambda n: (ranges[n][2] - ranges[n][1], n))[:count]
    return [(n,) + tuple(ranges[n]) for n in names]


def _uav123_flags(track):
    present = {'Partial Occlusion': any(share < PARTIAL for _, _, share, _ in track),
               'Camera Motion': True}          # the background pans in every scene
    return [int(present.get(name, False)) for name in UAV123_ATTRIBUTES]


def write_uav123(root, seed, width, height, sequences):
    out = {}
    for index, (name, folder, first, last) in enumerate(uav123_shortest(sequences)):
        track = _visible_track(seed, 'uav123', name, width, height, last - first + 1, index)
        for t, (rgb, _, _, _) in enumerate(track):
            write_jpeg(os.path.join(root, 'data_seq', 'UAV123', folder, '%06d.jpg' % (first + t)),
                       rgb)
        rows = ['%d,%d,%d,%d' % tuple(v + o for v, o in zip(_xywh(box), (1, 1, 0, 0)))
                for _, box, _, _ in track]
        write_bytes(os.path.join(root, 'anno', 'UAV123', name + '.txt'), _text(rows))
        write_bytes(os.path.join(root, 'anno', 'UAV123', 'att', name + '.txt'),
                    _text([','.join(str(f) for f in _uav123_flags(track))]))
        out[name] = _record(track)
    return _entry(UAV123, out)


# -- NfS ---------------------------------------------------------------------------------------

def nfs_rows(boxes):
    """240 fps annotation rows of 30 fps inclusive boxes: every 8th row a frame's box (x2 = xmax
    + 1, so x2 - x1 is its width), the rows between interpolated, as the 240 fps video has them."""
    corners = np.array([[b[0], b[1], b[2] + 1, b[3] + 1] for b in boxes], np.float64)
    rows = []
    for k in range((len(corners) - 1) * NFS_RATE + 1):
        i, step = divmod(k, NFS_RATE)
        c = corners[i] if step == 0 else corners[i] + (corners[i + 1] - corners[i]) * (
            step / float(NFS_RATE))
        rows.append('1 %d %d %d %d %d 0 0 %d "object"' % (
            tuple(int(round(v)) for v in c) + (k, int(step != 0))))
    return rows


def write_nfs(root, seed, width, height, sequences, frames):
    out = {}
    for index, name in enumerate(NFS_NAMES[:sequences]):
        track = _visible_track(seed, 'nfs', name, width, height, frames, index)
        for t, (rgb, _, _, _) in enumerate(track):
            write_jpeg(os.path.join(root, name, '30', name, '%05d.jpg' % (t + 1)), rgb)
        write_bytes(os.path.join(root, name, '30', name + '.txt'),
                    _text(nfs_rows([box for _, box, _, _ in track])))
        out[name] = _record(track)
    return _entry(NFS, out)


# -- TC128 -------------------------------------------------------------------------------------

def write_tc128(root, seed, width, height, sequences, frames):
    """The second sequence's folder holds TC128_SKIPPED frames before its range (as some TC128
    folders do); its ground truth covers the range only."""
    out = {}
    for index, name in enumerate(TC128_NAMES[:sequences]):
        skipped = TC128_SKIPPED if index == 1 else 0
        track = _visible_track(seed, 'tc128', name, width, height, frames + skipped, index)
        for t, (rgb, _, _, _) in enumerate(track):
            write_jpeg(os.path.join(root, name, 'img', '%04d.jpg' % (t + 1)), rgb)
        rows = ['%d,%d,%d,%d' % tuple(v + o for v, o in zip(_xywh(box), (1, 1, 0, 0)))
                for _, box, _, _ in track[skipped:]]
        write_bytes(os.path.join(root, name, name + '_gt.txt'), _text(rows))
        write_bytes(os.path.join(root, name, name + '_frames.txt'),
                    _text(['%d,%d' % (skipped + 1, skipped + frames)]))
        out[name] = dict(_record(track[skipped:]), first_frame=skipped + 1)
    return _entry(TC128, out)


# -- TrackingNet -------------------------------------------------------------------------------

def write_trackingnet(root, seed, width, height, sequences, frames):
    out = {}
    for index, name in enumerate(TRACKINGNET_NAMES[:sequences]):
        track = _visible_track(seed, 'trackingnet', name, width, height, frames, index)
        for t, (rgb, _, _, _) in enumerate(track):
            write_jpeg(os.path.join(root, 'TEST', 'frames', name, '%d.jpg' % t), rgb)
        write_bytes(os.path.join(root, 'TEST', 'anno', name + '.txt'),
                    _text(['%d,%d,%d,%d' % tuple(_xywh(track[0][1]))]))
        out[name] = _record(track)
    return _entry(TRACKINGNET, out)


# -- VOT 2018 ----------------------------------------------------------------------------------

def rotated_polygon(mask):
    """x1,y1,...,x4,y4 (1-based pixel indices, VOT's convention) of the smallest rotated
    rectangle around the mask's pixels."""
    ys, xs = np.nonzero(mask)
    points = np.stack([xs, ys], 1).astype(np.float32)
    corners = cv2.boxPoints(cv2.minAreaRect(points)).astype(np.float64)
    return (corners + 1).reshape(-1)


def vot_track(seed, name, width, height, frames, index):
    """[(rgb, polygon, inclusive box, visible share)] of one VOT sequence (target = object 0,
    both objects staying in view)."""
    rng = rng_for(seed, 'vot', name)
    scene = Scene(rng, width, height, frames, ['stay', 'stay'], size_range=(0.15, 0.25),
                  speed=0.01)
    out = []
    for t in range(frames):
        rgb, labels, full_areas = scene.render(t)
        box, visible = visible_box(labels, 1)
        if visible < MIN_VISIBLE_PIXELS:
            raise RuntimeError('sample vot/%s: the target is hidden in frame %d' % (name, t + 1))
        out.append((rgb, rotated_polygon(labels == 1), box, visible / float(full_areas[0])))
    return out


def vot_tags(track):
    """{tag: 0/1 per frame}: camera motion everywhere (the background pans), occlusion where less
    than PARTIAL of the target shows, size change where its box area differs from the previous
    frame's by more than 10 %; no illumination or motion changes in these scenes."""
    areas = [(b[2] - b[0] + 1) * (b[3] - b[1] + 1) for _, _, b, _ in track]
    size = [0] + [int(abs(a / float(p) - 1) > 0.1) for p, a in zip(areas, areas[1:])]
    return {'camera_motion': [1] * len(track), 'illum_change': [0] * len(track),
            'motion_change': [0] * len(track), 'size_change': size,
            'occlusion': [int(share < PARTIAL) for _, _, _, share in track]}


def write_vot(root, seed, width, height, sequences, frames):
    out = {}
    names = VOT_NAMES[:sequences]
    for index, name in enumerate(names):
        track = vot_track(seed, name, width, height, max(frames, VOT_FRAMES), index)
        for t, (rgb, _, _, _) in enumerate(track):
            write_jpeg(os.path.join(root, name, 'color', '%08d.jpg' % (t + 1)), rgb)
        write_bytes(os.path.join(root, name, 'groundtruth.txt'), _text(
            [','.join('%.2f' % v for v in polygon) for _, polygon, _, _ in track]))
        tags = vot_tags(track)
        for tag in VOT_TAGS:
            write_bytes(os.path.join(root, name, tag + '.tag'), _text(str(v) for v in tags[tag]))
        out[name] = {'frames': len(track), 'first_box': _xywh(track[0][2]),
                     'first_polygon': [round(v, 2) for v in track[0][1]]}
    write_bytes(os.path.join(root, 'list.txt'), _text(names))
    return _entry(VOT, out)


def write(out_dir, seed, width, height, sequences=2, frames=8, faults=None):
    """Write every benchmark sample under out_dir/benchmarks; returns the manifest entry:
    {root, frame_size, clean: {benchmark: counts}, benchmarks: {benchmark: {root, sequences}}}."""
    base = os.path.join(out_dir, ROOT)
    entries = {
        'uav123': write_uav123(os.path.join(base, UAV123), seed, width, height, sequences),
        'nfs': write_nfs(os.path.join(base, NFS), seed, width, height, sequences, frames),
        'tc128': write_tc128(os.path.join(base, TC128), seed, width, height, sequences, frames),
        'trackingnet': write_trackingnet(os.path.join(base, TRACKINGNET), seed, width, height,
                                         sequences, frames),
        'vot': write_vot(os.path.join(base, VOT), seed, width, height, sequences, frames),
    }
    if faults is not None:
        _inject_faults(base, seed, width, height, frames, faults)
    return {'root': ROOT, 'frame_size': [width, height],
            'clean': {k: e.pop('clean') for k, e in entries.items()},
            'benchmarks': {k: dict(e, root='/'.join((ROOT, e['root'])))
                           for k, e in entries.items()}}


def _inject_faults(base, seed, width, height, frames, faults):
    """A VOT sequence with a NaN region (listed in list.txt) and a TC128 sequence with one box
    more than its frame range: each reader must refuse its root with one line naming the file."""
    vot_root = os.path.join(base, VOT)
    write_vot(os.path.join(base, 'vot-fault'), seed, width, height, 1, frames)
    os.rename(os.path.join(base, 'vot-fault', VOT_NAMES[0]), os.path.join(vot_root, 'nan_region'))
    shutil.rmtree(os.path.join(base, 'vot-fault'))
    gt = os.path.join(vot_root, 'nan_region', 'groundtruth.txt')
    lines = open(gt).read().splitlines()
    lines[2] = ','.join(['nan'] * 8)
    write_bytes(gt, _text(lines))
    write_bytes(os.path.join(vot_root, 'list.txt'), _text(VOT_NAMES + ('nan_region',)))
    faults.add('benchmarks', 'nan_region', '%s/nan_region/groundtruth.txt' % VOT,
               'frame 3 region is NaN')
    tc128_root = os.path.join(base, TC128)
    write_tc128(os.path.join(base, 'tc128-fault'), seed, width, height, 1, frames)
    bad = os.path.join(tc128_root, 'Bad_ce')
    os.rename(os.path.join(base, 'tc128-fault', TC128_NAMES[0]), bad)
    shutil.rmtree(os.path.join(base, 'tc128-fault'))
    for suffix in ('_gt.txt', '_frames.txt'):
        os.rename(os.path.join(bad, TC128_NAMES[0] + suffix), os.path.join(bad, 'Bad_ce' + suffix))
    gt = os.path.join(bad, 'Bad_ce_gt.txt')
    lines = open(gt).read().splitlines()
    write_bytes(gt, _text(lines + lines[-1:]))
    faults.add('benchmarks', 'box_count_mismatch', '%s/Bad_ce/Bad_ce_gt.txt' % TC128,
               'one box more than the frames of Bad_ce_frames.txt')
    _resized_frame(base, seed, width, height, frames, faults)


RESIZED_CLIP = 'resized-clip_9'


def _resized_frame(base, seed, width, height, frames, faults):
    """A TrackingNet test sequence whose frame 3 is 16 pixels wider than the others: its reader
    (first box only) takes it, a tracker must refuse it at that frame, never track on in mixed
    coordinates."""
    scratch = os.path.join(base, 'trackingnet-fault')
    write_trackingnet(scratch, seed, width, height, 1, frames)
    for part, suffix in (('frames', ''), ('anno', '.txt')):
        os.rename(os.path.join(scratch, 'TEST', part, TRACKINGNET_NAMES[0] + suffix),
                  os.path.join(base, TRACKINGNET, 'TEST', part, RESIZED_CLIP + suffix))
    shutil.rmtree(scratch)
    frame = os.path.join(base, TRACKINGNET, 'TEST', 'frames', RESIZED_CLIP, '3.jpg')
    write_jpeg(frame, cv2.resize(cv2.imread(frame)[..., ::-1], (width + 16, height)))
    faults.add('benchmarks', 'frame_size_change',
               '%s/TEST/frames/%s/3.jpg' % (TRACKINGNET, RESIZED_CLIP),
               'frame 3 is %dx%d, the others %dx%d' % (width + 16, height, width, height))
