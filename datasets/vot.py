"""VOT 2016-2018 (short-term, baseline experiment) on disk, and the region geometry of its toolkit.

    <root>/list.txt                      sequence names, one a line (else: every folder holding
                                         a groundtruth.txt, by name)
    <root>/<seq>/color/00000001.jpg ...  frames (VOT2017+ layout), or <root>/<seq>/00000001.jpg
    <root>/<seq>/groundtruth.txt         one region a line: 8 numbers x1,y1,...,x4,y4 (rotated
                                         polygon) or 4 numbers x,y,w,h; 1-based pixels
    <root>/<seq>/<tag>.tag               one 0/1 a frame for each of TAGS; a missing file: all 0

Regions stay as the file gives them: pysot-toolkit compares results with the raw ground truth.
The geometry below follows the VOT toolkit's region library (the `region` extension that
pysot-toolkit builds): `region_overlap` does not measure exact areas but rasterises both regions
(corners rounded to whole pixels, scan lines filled end pixels included) within the image bounds
and divides the pixel counts (intersection / union) in single precision, as that library does;
`init_box` is pysot's get_axis_aligned_bbox, the box a tracker starts from on a polygon.
"""
from __future__ import absolute_import, division, print_function

import collections
import os
import re

import numpy as np

from datasets.tracking import (SequenceError, list_images, read_list_file, read_names,
                               read_number_rows)

TAGS = ('camera_motion', 'illum_change', 'motion_change', 'size_change', 'occlusion')

# regions: N x 8 or N x 4 float64 as in groundtruth.txt; tags: {tag: N int array}; origin 1
VotSequence = collections.namedtuple('VotSequence', 'name frames regions tags origin')

F32 = np.float32


# -- reading -----------------------------------------------------------------------------------

def read_regions(path):
    """N x 8 (polygons) or N x 4 (boxes) float64 of a groundtruth.txt; one count per file."""
    rows = []
    for number, line, row in read_number_rows(path):
        if len(row) not in (4, 8):
            raise SequenceError('%s:%d: expected 4 (x,y,w,h) or 8 (x1,y1,...,x4,y4) values, '
                                'got %d' % (path, number, len(row)))
        if rows and len(row) != len(rows[0]):
            raise SequenceError('%s:%d: %d values, but line 1 has %d' % (
                path, number, len(row), len(rows[0])))
        if not np.all(np.isfinite(row)):
            raise SequenceError('%s:%d: a region with NaN or infinite values: %r'
                                % (path, number, line))
        rows.append(row)
    if not rows:
        raise SequenceError('%s has no regions' % path)
    return np.array(rows, np.float64)


def read_tag(path, count):
    """0/1 per frame of a .tag file (count lines), all 0 when the file does not exist."""
    if not os.path.exists(path):
        return np.zeros(count, np.int64)
    values = []
    for number, line in read_list_file(path):
        if line not in ('0', '1'):
            raise SequenceError('%s:%d: expected 0 or 1, got %r' % (path, number, line))
        values.append(int(line))
    if len(values) != count:
        raise SequenceError('%s: %d lines but the sequence has %d frames'
                            % (path, len(values), count))
    return np.array(values, np.int64)


def vot_sequence(seq_dir, name=None):
    """One VOT sequence folder (frames in color/ or in the folder itself)."""
    name = name or os.path.basename(os.path.abspath(seq_dir))
    colour = os.path.join(seq_dir, 'color')
    frames = list_images(colour if os.path.isdir(colour) else seq_dir)
    if not frames:
        raise SequenceError('%s: no images (in color/ or in the folder)' % seq_dir)
    gt_path = os.path.join(seq_dir, 'groundtruth.txt')
    if not os.path.isfile(gt_path):
        raise SequenceError('%s: no groundtruth.txt' % seq_dir)
    regions = read_regions(gt_path)
    if len(regions) != len(frames):
        raise SequenceError('%s: %d regions but %d frames' % (gt_path, len(regions), len(frames)))
    tags = collections.OrderedDict(
        (tag, read_tag(os.path.join(seq_dir, tag + '.tag'), len(frames))) for tag in TAGS)
    return VotSequence(name, frames, regions, tags, 1)


def sequence_names(root):
    """Names of list.txt, else every folder of root holding a groundtruth.txt (sorted)."""
    list_file = os.path.join(root, 'list.txt')
    if os.path.isfile(list_file):
        return read_names(list_file)
    return [n for n in sorted(os.listdir(root))
            if os.path.isfile(os.path.join(root, n, 'groundtruth.txt'))]


def load_vot(root):
    """Every sequence of a VOT root (list.txt order)."""
    if not os.path.isdir(root):
        raise SequenceError('%s is not a directory' % root)
    names = sequence_names(root)
    if not names:
        raise SequenceError('%s holds no VOT sequence (list.txt, <seq>/groundtruth.txt)' % root)
    missing = [n for n in names if not os.path.isdir(os.path.join(root, n))]
    if missing:
        raise SequenceError('%s: listed sequence %s not found' % (root, missing[0]))
    return [vot_sequence(os.path.join(root, n), n) for n in names]


# -- results (pysot-toolkit's layout: trackers.vot writes it, evaluation.vot reads it) -----------

EXPERIMENT = 'baseline'


def result_folder(results_dir, tracker, sequence_name):
    """<results>/<tracker>/baseline/<seq>/, the folder of a sequence's repetitions."""
    return os.path.join(results_dir, tracker, EXPERIMENT, sequence_name)


def result_path(results_dir, tracker, sequence_name, repetition=1):
    """<seq>_001.txt (the repetition's number, 3 digits) in result_folder."""
    return os.path.join(result_folder(results_dir, tracker, sequence_name),
                        '%s_%03d.txt' % (sequence_name, repetition))


def year_of(root):
    """2016, 2017 or 2018 when the root's folder name says it (vot2018, VOT2016, ...), else None."""
    found = re.findall(r'(201[678])', os.path.basename(os.path.abspath(root)))
    return int(found[-1]) if found else None


def frame_size(sequence):
    """(width, height) of the sequence's first frame: the bounds of every region overlap."""
    import cv2
    image = cv2.imread(sequence.frames[0], cv2.IMREAD_UNCHANGED)
    if image is None:
        raise SequenceError('cannot decode frame %s' % sequence.frames[0])
    return image.shape[1], image.shape[0]


# -- region geometry ---------------------------------------------------------------------------

def tracking_polygon(region):
    """The polygon pysot's VOT loop tracks against: 8 numbers as they are; a box x,y,w,h becomes
    its corners x..x+w-1, y..y+h-1 (pixel indices of the last column and row)."""
    r = np.asarray(region, np.float64)
    if r.size == 8:
        return r
    x, y, w, h = r
    return np.array([x, y, x, y + h - 1, x + w - 1, y + h - 1, x + w - 1, y])


def axis_aligned_box(region):
    """(cx, cy, w, h) of a region as pysot's get_axis_aligned_bbox: a polygon's box keeps the
    polygon's area (side lengths of its first two edges) and its extent's aspect ratio, plus 1;
    a box x,y,w,h: its centre x + w/2."""
    r = np.asarray(region, np.float64)
    if r.size != 8:
        x, y, w, h = r
        return x + w / 2, y + h / 2, w, h
    xs, ys = r[0::2], r[1::2]
    area = np.linalg.norm(r[0:2] - r[2:4]) * np.linalg.norm(r[2:4] - r[4:6])
    extent = (xs.max() - xs.min()) * (ys.max() - ys.min())
    s = np.sqrt(area / extent)
    return xs.mean(), ys.mean(), s * (xs.max() - xs.min()) + 1, s * (ys.max() - ys.min()) + 1


def init_box(region):
    """x, y, w, h (the region's coordinates) a tracker is initialised on, as pysot's VOT loop."""
    cx, cy, w, h = axis_aligned_box(tracking_polygon(region))
    return np.array([cx - (w - 1) / 2, cy - (h - 1) / 2, w, h])


def region_corners(region):
    """float32 (k, 2) corners of a result or ground-truth region: a box x,y,w,h as (x,y),
    (x+w,y), (x+w,y+h), (x,y+h) (sums in double, then single precision as the toolkit stores)."""
    r = np.asarray(region, np.float64)
    if r.size == 4:
        x, y, w, h = r
        r = np.array([x, y, x + w, y, x + w, y + h, x, y + h])
    return r.reshape(-1, 2).astype(F32)


def _round_half_away(v):
    """C's round() of single-precision values (halves away from zero; numpy's round is to even)."""
    v = np.asarray(v, np.float64)
    return np.sign(v) * np.floor(np.abs(v) + 0.5)


def rasterize(corners, width, height):
    """Boolean (height, width) mask of a polygon (float32 corners relative to the mask's origin)
    as the toolkit's scan-line rasteriser: corners rounded; for each row, the x of every edge
    crossing it (an edge counts when the row lies within its rows, ends included; horizontal
    edges give none), truncated, sorted, then filled pairwise end pixels included, equal
    neighbours skipped one at a time, clipped to the mask."""
    p = _round_half_away(corners)
    xi, yi = p[:, 0], p[:, 1]
    xj, yj = np.roll(xi, 1), np.roll(yi, 1)        # edge from the previous corner
    rows = np.arange(height, dtype=np.float64)[:, None]
    crossing = (((yi <= rows) & (yj > rows)) | ((yj <= rows) & (yi > rows)) |
                ((yi < rows) & (yj >= rows)) | ((yj < rows) & (yi >= rows)) |
                ((yi == yj) & (yi == rows))) & (yj != yi)
    with np.errstate(divide='ignore', invalid='ignore'):
        x = np.trunc(xi + (rows - yi) / (yj - yi) * (xj - xi))
    nodes = np.sort(np.where(crossing, x, np.inf), axis=1)
    count = crossing.sum(axis=1)
    return _fill_rows(nodes, count, width)


def _fill_rows(nodes, count, width):
    """The fill loop of the rasteriser, one step for all rows at a time."""
    height, k = nodes.shape
    diff = np.zeros((height, width + 1), np.int64)
    at = np.zeros(height, np.int64)
    active = np.ones(height, bool)
    every = np.arange(height)
    for _ in range(k):
        active &= at < count - 1
        a = nodes[every, np.minimum(at, k - 1)]
        b = nodes[every, np.minimum(at + 1, k - 1)]
        same = active & (a == b)
        active &= same | (a < width)               # a run starting right of the mask: row done
        pair = active & ~same
        fill = pair & (b >= 0)
        lo = np.maximum(a[fill], 0).astype(np.int64)
        hi = np.minimum(b[fill], width - 1).astype(np.int64)
        np.add.at(diff, (every[fill], lo), 1)
        np.add.at(diff, (every[fill], hi + 1), -1)
        at += np.where(same, 1, np.where(pair, 2, 0))
    return np.cumsum(diff, axis=1)[:, :width] > 0


def _bounds(corners):
    """(left, top, right, bottom) float32 of corners, rounded outwards to whole pixels."""
    return np.array([np.floor(corners[:, 0].min()), np.floor(corners[:, 1].min()),
                     np.ceil(corners[:, 0].max()), np.ceil(corners[:, 1].max())], F32)


def _clip(b, bounds):
    return np.array([max(b[0], bounds[0]), max(b[1], bounds[1]),
                     min(b[2], bounds[2]), min(b[3], bounds[3])], F32)


def _area(b):
    return F32(b[2] - b[0]) * F32(b[3] - b[1])


def region_overlap(region1, region2, bound=None):
    """The VOT toolkit's overlap (pysot-toolkit's vot_overlap) of two regions (4 or 8 numbers;
    a 1-number special line (0, 1, 2): NaN) within bound = (width, height) of the image (the
    regions are cut to 0..width, 0..height) or without bounds (None). A region with a NaN or
    infinite number (a tracker's broken box): 0, a failure."""
    if np.size(region1) == 1 or np.size(region2) == 1:
        return float('nan')
    c1, c2 = region_corners(region1), region_corners(region2)
    if not (np.all(np.isfinite(c1)) and np.all(np.isfinite(c2))):
        return 0.0     # the C library: NaN bounds give sizes below 1 (x86), overlap 0
    inf = F32(np.inf)
    limits = np.array([0, 0, bound[0], bound[1]], F32) if bound is not None else \
        np.array([-inf, -inf, inf, inf], F32)
    b1, b2 = _clip(_bounds(c1), limits), _clip(_bounds(c2), limits)
    x, y = min(b1[0], b2[0]), min(b1[1], b2[1])
    width = int(F32(max(b1[2], b2[2]) - x)) + 1
    height = int(F32(max(b1[3], b2[3]) - y)) + 1
    a1, a2 = float(_area(b1)), float(_area(b2))
    with np.errstate(divide='ignore', invalid='ignore'):
        tiny = np.float64(a1) / a2 < 1e-10 or np.float64(a2) / a1 < 1e-10
    if tiny or width < 1 or height < 1:
        return 0.0
    inter = _area(_clip(b1, b2))
    with np.errstate(divide='ignore', invalid='ignore'):
        box_iou = inter / F32(_area(b1) + _area(b2) - inter)
    if box_iou <= 0:                               # bounding boxes apart: no pixel shared
        return 0.0
    offset = np.array([x, y], F32)
    m1 = rasterize(c1 - offset, width, height)
    m2 = rasterize(c2 - offset, width, height)
    both, either = int(np.sum(m1 & m2)), int(np.sum(m1 | m2))
    with np.errstate(divide='ignore', invalid='ignore'):
        return float(F32(both) / F32(either))
