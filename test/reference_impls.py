"""Reference implementations the tests check production code against; no production module
uses them."""
from __future__ import absolute_import, division, print_function

import math

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


def pysot_ope_reference(gt, pred, visible=None):
    """pysot-toolkit's OPEBenchmark curves of one sequence, from its published definitions,
    frame by frame: (success over IoU thresholds 0, 0.05, .., 1; precision over 0..50 px;
    normalised precision over 0..0.5). With `visible` (LaSOT's pysot `absent` field, 1 = in
    view) only those frames are scored, every curve still divided by all frames."""
    import numpy as np
    total = float(len(gt))
    frames = [i for i in range(len(gt)) if visible is None or visible[i]]
    iou_thresholds = [0.05 * k for k in range(21)]
    px_thresholds = list(range(51))
    norm_thresholds = [k / 100.0 for k in range(51)]

    def centre(b):
        return (b[0] + (b[2] - 1) / 2.0, b[1] + (b[3] - 1) / 2.0)

    ious, dists, norm_dists = [], [], []
    for i in frames:
        g, p = [float(v) for v in gt[i]], [float(v) for v in pred[i]]
        if all(v > 0 for v in g):
            w = max(0.0, min(g[0] + g[2], p[0] + p[2]) - max(g[0], p[0]))
            h = max(0.0, min(g[1] + g[3], p[1] + p[3]) - max(g[1], p[1]))
            ious.append(min(1.0, max(0.0, w * h / (g[2] * g[3] + p[2] * p[3] - w * h))))
        else:
            ious.append(-1.0)
        (gx, gy), (px, py) = centre(g), centre(p)
        dists.append(math.hypot(gx - px, gy - py) if gx > 0 and gy > 0 else -1.0)
        sw, sh = g[2] + 1e-16, g[3] + 1e-16
        if gx / sw > 0 and gy / sh > 0:
            norm_dists.append(math.hypot(gx / sw - px / sw, gy / sh - py / sh))
        else:
            norm_dists.append(-1.0)
    success = [sum(v > t for v in ious) / total for t in iou_thresholds]
    precision = [sum(d <= t for d in dists) / total for t in px_thresholds]
    norm = [sum(d <= t for d in norm_dists) / total for t in norm_thresholds]
    return np.array(success), np.array(precision), np.array(norm)
