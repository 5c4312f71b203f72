"""Reference implementations the tests check production code against; no production module
uses them."""
from __future__ import absolute_import, division, print_function

from trainers.distributed.gradients import all_reduce_packed


def reference_pair_probabilities(n, max_frame_dist):
    """{(s, d): probability} of the reference pair rule for one track of n frames: the gap d
    uniform in 1..min(n, max_frame_dist) clipped to n - 1, the exemplar s uniform in 0..n-1-d."""
    if n == 1:
        return {(0, 0): 1.0}
    span = min(n, max_frame_dist)
    probs = {}
    for drawn in range(1, span + 1):
        d = min(drawn, n - 1)
        for s in range(n - d):
            probs[(s, d)] = probs.get((s, d), 0.0) + 1.0 / span / (n - d)
    return probs


def average_variables(variables, collectives, pack_mb=32):
    """One op replacing each variable by its mean over the ranks. For statistics every rank
    updates from its own batch (batch-norm moving mean/variance): averaging right after the update
    equals updating from the rank-averaged batch statistics, and keeps them identical."""
    import tensorflow as tf
    if not variables:
        return tf.no_op()
    with tf.name_scope('average_statistics'):
        values = [v.read_value() for v in variables]
        means = all_reduce_packed(values, collectives, 'mean', pack_mb)
        return tf.group(*[tf.compat.v1.assign(v, m) for v, m in zip(variables, means)])


# -- hkchengrex/vos-benchmark, its published definitions reproduced independently (numpy only) --

def vos_benchmark_boundary(mask):
    """1-pixel boundary (davis2017-evaluation's seg2bmap, which vos-benchmark uses): a pixel
    differs from its east, south or south-east neighbour; the last row compares east only, the
    last column south only, the corner nothing."""
    import numpy as np
    m = np.asarray(mask, bool)
    h, w = m.shape
    padded = np.zeros((h + 1, w + 1), bool)
    padded[:h, :w] = m
    east, south, south_east = padded[:h, 1:], padded[1:, :w], padded[1:, 1:]
    out = (m != east) | (m != south) | (m != south_east)
    out[h - 1, :] = m[h - 1, :] != east[h - 1, :]
    out[:, w - 1] = m[:, w - 1] != south[:, w - 1]
    out[h - 1, w - 1] = False
    return out


def vos_benchmark_dilate(bmap, radius):
    """Binary dilation by the disk x^2 + y^2 <= radius^2, as shifted ORs."""
    import numpy as np
    h, w = bmap.shape
    out = np.zeros_like(bmap)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            if dy * dy + dx * dx > radius * radius:
                continue
            ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h),
                                                                        slice(0, h + dy))
            xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w),
                                                                        slice(0, w + dx))
            out[yd, xd] |= bmap[ys, xs]
    return out


def vos_benchmark_frame(gt, pred, obj):
    """(J, F) of one object on one frame by vos-benchmark's definitions."""
    import numpy as np
    g, p = gt == obj, pred == obj
    inter, total = int(np.sum(g & p)), int(g.sum() + p.sum())
    j = 1.0 if total == 0 else inter / float(total - inter)
    radius = int(np.ceil(0.008 * np.sqrt(gt.shape[0] ** 2 + gt.shape[1] ** 2)))
    gb, pb = vos_benchmark_boundary(g), vos_benchmark_boundary(p)
    n_g, n_p = int(gb.sum()), int(pb.sum())
    if n_p == 0 and n_g == 0:
        precision = recall = 1.0
    elif n_p == 0 or n_g == 0:
        precision, recall = float(n_p == 0), float(n_g == 0)
    else:
        precision = np.sum(pb & vos_benchmark_dilate(gb, radius)) / float(n_p)
        recall = np.sum(gb & vos_benchmark_dilate(pb, radius)) / float(n_g)
    f = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return j, f


def vos_benchmark(gt_root, mask_root, skip_first_and_last=True):
    """(J&F, J, F in percent, {video: {object: (J, F)}}) of vos-benchmark over two folders of
    <video>/<frame>.png: frames = sorted ground-truth PNGs (first and last skipped); an object
    enters the running set when either map holds it and is scored on every later frame; the
    report keeps the objects of the ground truth; global = mean over all objects."""
    import os

    import numpy as np
    from PIL import Image
    per_video, all_j, all_f = {}, [], []
    for video in sorted(os.listdir(gt_root)):
        files = sorted(os.listdir(os.path.join(gt_root, video)))
        if skip_first_and_last:
            files = files[1:-1]
        running, in_gt, values = set(), set(), {}
        for name in files:
            gt = np.array(Image.open(os.path.join(gt_root, video, name)))
            pred = np.array(Image.open(os.path.join(mask_root, video, name)))
            gt_objects = set(np.unique(gt).tolist()) - {0}
            in_gt |= gt_objects
            running |= gt_objects | (set(np.unique(pred).tolist()) - {0})
            for obj in running:
                values.setdefault(obj, []).append(vos_benchmark_frame(gt, pred, obj))
        per_video[video] = {}
        for obj in sorted(in_gt):
            j = 100 * np.mean([v[0] for v in values[obj]])
            f = 100 * np.mean([v[1] for v in values[obj]])
            per_video[video][obj] = (j, f)
            all_j.append(j)
            all_f.append(f)
    j, f = float(np.mean(all_j)), float(np.mean(all_f))
    return (j + f) / 2, j, f, per_video
