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


# -- VOT: pysot-toolkit's definitions, written again from reading its sources --------------------
# (pysot/utils/src/region.c compute_polygon_overlap and rasterize_polygon as its region.pyx calls
# them; pysot/utils/statistics.py; pysot/evaluation/ar_benchmark.py, eao_benchmark.py), plainly
# and slowly: one scan line, one fragment, one length at a time. The tests hold evaluation.vot and
# datasets.vot to them.

def _vot_f32(v):
    import numpy as np
    return float(np.float32(v))


def _vot_corners(region):
    """[(x, y)] in single precision: a box x,y,w,h as its 4 corners, a polygon as given."""
    r = [float(v) for v in region]
    if len(r) == 4:
        x, y, w, h = r
        r = [x, y, x + w, y, x + w, y + h, x, y + h]
    return [(_vot_f32(r[k]), _vot_f32(r[k + 1])) for k in range(0, len(r), 2)]


def _vot_c_round(v):
    import math
    return math.floor(v + 0.5) if v >= 0 else -math.floor(-v + 0.5)


def vot_raster(corners, width, height):
    """{(row, col)} the region library's non-legacy scan-line rasteriser sets."""
    pts = [(_vot_c_round(x), _vot_c_round(y)) for x, y in corners]
    pixels = set()
    for row in range(height):
        nodes = []
        for i in range(len(pts)):
            xi, yi = pts[i]
            xj, yj = pts[i - 1]
            within = (yi <= row < yj) or (yj <= row < yi) or (yi < row <= yj) or \
                (yj < row <= yi) or (yi == yj == row)
            if within and yj != yi:
                nodes.append(int(xi + (row - yi) / (yj - yi) * (xj - xi)))
        nodes.sort()
        i = 0
        while i < len(nodes) - 1:
            if nodes[i] == nodes[i + 1]:
                i += 1
                continue
            if nodes[i] >= width:
                break
            if nodes[i + 1] >= 0:
                for col in range(max(nodes[i], 0), min(nodes[i + 1], width - 1) + 1):
                    pixels.add((row, col))
            i += 2
    return pixels


def vot_overlap(region1, region2, bound=None):
    """pysot-toolkit's vot_overlap(region1, region2, bound): NaN for a 1-number line."""
    import math
    import numpy as np
    if len(region1) == 1 or len(region2) == 1:
        return float('nan')
    c1, c2 = _vot_corners(region1), _vot_corners(region2)
    top, bottom, left, right = (0.0, float(bound[1]), 0.0, float(bound[0])) if bound else \
        (-math.inf, math.inf, -math.inf, math.inf)

    def box(c):    # left, top, right, bottom: rounded outwards, then cut to the bounds
        return (max(math.floor(min(x for x, _ in c)), left), max(math.floor(min(y for _, y in c)),
                top), min(math.ceil(max(x for x, _ in c)), right),
                min(math.ceil(max(y for _, y in c)), bottom))
    b1, b2 = box(c1), box(c2)
    x0, y0 = min(b1[0], b2[0]), min(b1[1], b2[1])
    width = int(_vot_f32(max(b1[2], b2[2]) - x0)) + 1
    height = int(_vot_f32(max(b1[3], b2[3]) - y0)) + 1
    a1 = _vot_f32((b1[2] - b1[0]) * (b1[3] - b1[1]))
    a2 = _vot_f32((b2[2] - b2[0]) * (b2[3] - b2[1]))
    with np.errstate(divide='ignore', invalid='ignore'):
        if np.float64(a1) / a2 < 1e-10 or np.float64(a2) / a1 < 1e-10 or width < 1 or \
                height < 1:
            return 0.0
        inter = _vot_f32((min(b1[2], b2[2]) - max(b1[0], b2[0])) *
                         (min(b1[3], b2[3]) - max(b1[1], b2[1])))
        if np.float32(inter) / np.float32(a1 + a2 - inter) <= 0:    # NaN goes on
            return 0.0

    def shift(c):
        return [(_vot_f32(x - x0), _vot_f32(y - y0)) for x, y in c]
    p1, p2 = vot_raster(shift(c1), width, height), vot_raster(shift(c2), width, height)
    with np.errstate(divide='ignore', invalid='ignore'):
        return float(np.float32(len(p1 & p2)) / np.float32(len(p1 | p2)))


def vot_overlaps(trajectory, regions, bound, burnin=0):
    """calculate_accuracy's per-frame overlaps: burnin frames from each [1] are set to [0]."""
    rows = [list(r) for r in trajectory]
    for i, r in enumerate(trajectory):
        if list(r) == [1]:
            for j in range(burnin):
                if i + j < len(rows):
                    rows[i + j] = [0]
    return [vot_overlap(r, g, bound) for r, g in zip(rows, regions)]


def vot_accuracy_robustness(trajectories, regions, sizes):
    """(accuracy, robustness, lost number) as AccuracyRobustnessBenchmark + show_result:
    trajectories {seq: [repetitions]}, regions {seq: ground truth}, sizes {seq: (w, h)}."""
    import numpy as np
    overlaps, failures = {}, {}
    for name, reps in trajectories.items():
        per = [vot_overlaps(t, regions[name], sizes[name], 10) for t in reps]
        overlaps[name] = [np.nanmean([p[k] for p in per]) if any(
            not np.isnan(p[k]) for p in per) else np.nan for k in range(len(per[0]))]
        failures[name] = [sum(1 for r in t if list(r) == [2]) for t in reps]
    pooled = [v for name in overlaps for v in overlaps[name]]
    lost = [sum(failures[n][k] for n in failures) for k in range(len(next(iter(
        failures.values()))))]
    return (float(np.nanmean(pooled)), float(np.mean([x / len(pooled) for x in lost]) * 100),
            float(np.mean(lost)))


def vot_eao(trajectories, regions, sizes, tags, low, high, skipping=5):
    """EAOBenchmark._calculate_eao for one tag: tags {seq: per-frame 0/1}."""
    import numpy as np
    runs = []
    for name, reps in trajectories.items():
        w, h = sizes[name]
        for t in reps:
            runs.append((name, vot_overlaps(t, regions[name], (w - 1, h - 1)),
                         [i for i, r in enumerate(t) if list(r) == [2]]))
    max_len = max(len(o) for _, o, _ in runs)
    fragments, weights = [], []
    for name, overlaps, fails in runs:
        tag = list(tags[name])
        if not fails:
            fragments.append(list(overlaps) + [np.nan] * (max_len - len(overlaps)))
            weights.append(sum(tag[:len(overlaps)]) / len(overlaps))
            continue
        points = [0] + [f + skipping for f in fails if f + skipping <= len(overlaps)]
        for i, start in enumerate(points):
            if i < len(points) - 1:
                part = [0.0 if np.isnan(v) else v for v in overlaps[start:points[i + 1] + 1]]
                fragments.append(part + [0.0] * (max_len - len(part)))
                weights.append(sum(tag[start:points[i + 1] + 1]) /
                               (points[i + 1] - start + 1))
            else:
                part = [0.0 if np.isnan(v) else v for v in overlaps[start:]]
                fragments.append(part + [np.nan] * (max_len - len(part)))
                weights.append(sum(tag[start:len(overlaps)]) /
                               (len(regions[name]) - start + 1e-16))
    curve = [1.0]
    for i in range(1, max_len):
        reach = [k for k, f in enumerate(fragments) if not np.isnan(f[i])]
        if not reach:
            curve.append(0.0)
            continue
        means = [sum(fragments[k][1:i + 1]) / i for k in reach]
        total = sum(weights[k] for k in reach)
        value = sum(m * weights[k] for m, k in zip(means, reach)) / total if total else np.nan
        curve.append(float(np.float32(value)))
    picked = [curve[n - 1] for n in range(low, high + 1) if n <= max_len and
              not np.isnan(curve[n - 1])]
    return float(np.mean(picked)) if picked else float('nan')


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
