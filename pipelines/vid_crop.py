"""SiamFC curation crop of ILSVRC2015-VID objects (docs/pipelines.md, "SiamFC curation crop").

Pixel-for-pixel the reference curation before JPEG encoding: inclusive box -> w, h, centre;
context 0.5; s_z, s_x; window side rounded half-to-even; window placed by rounding; the parts of the
window outside the frame filled with the frame's per-channel mean truncated to uint8; bilinear
(cv2 INTER_LINEAR) resize to 255x255.

What differs is only the cost: the reference pads the whole frame with np.pad for every object
that leaves it and recomputes the full-frame mean per object (~20 ms on 720p). Here the mean is
computed once per frame (exact integer channel sums, so the truncated value is identical) and only
the S x S window is materialised (a view when it lies inside the frame).
"""
from __future__ import absolute_import, division, print_function

import collections
import math

import cv2
import numpy as np

from schemas.vid_track import CONTEXT_AMOUNT, EXEMPLAR_SIDE as SIZE_Z, SEARCH_SIDE as SIZE_X

Geometry = collections.namedtuple(
    'Geometry', 'w h cx cy s_z s_x size x0 y0 x1 y1 pad_left pad_top pad_right pad_bottom')


def crop_geometry(xmin, ymin, xmax, ymax, frame_width, frame_height):
    """Window of the 255 search crop for an inclusive XML box, as the reference computes it."""
    w = xmax - xmin + 1
    h = ymax - ymin + 1
    cx = xmin + (w - 1) / 2.0
    cy = ymin + (h - 1) / 2.0
    p = CONTEXT_AMOUNT * (w + h)
    s_z = math.sqrt((w + p) * (h + p))
    scale_z = SIZE_Z / s_z
    pad = ((SIZE_X - SIZE_Z) / 2.0) / scale_z
    s_x = s_z + 2 * pad
    size = int(np.round(s_x))  # numpy rounds half to even, as the reference
    x0 = int(np.round(cx - (size - 1) / 2.0))
    y0 = int(np.round(cy - (size - 1) / 2.0))
    x1, y1 = x0 + size - 1, y0 + size - 1
    return Geometry(w, h, cx, cy, s_z, s_x, size, x0, y0, x1, y1,
                    max(0, -x0), max(0, -y0),
                    max(0, x1 - (frame_width - 1)), max(0, y1 - (frame_height - 1)))


def needs_padding(geometry):
    g = geometry
    return bool(g.pad_left or g.pad_top or g.pad_right or g.pad_bottom)


def frame_mean_pad_value(frame):
    """Per-channel mean of the frame truncated to uint8, as the reference's uint8 padding.

    cv2.sumElems gives exact integer sums (as float64); dividing by the pixel count is the same
    float64 operation as numpy's mean, so truncation gives the reference's value bit for bit.
    """
    count = float(frame.shape[0] * frame.shape[1])
    sums = cv2.sumElems(frame)[:frame.shape[2]]
    return np.array([int(s / count) for s in sums], np.uint8)


def crop_window(frame, geometry, pad_value):
    """The S x S source window, out-of-frame pixels set to pad_value (uint8 per channel).

    The in-frame part is a view; when the window leaves the frame, cv2.copyMakeBorder adds the
    constant border around it (numpy broadcasting a 3-value fill is ~20x slower on large windows).
    """
    g = geometry
    height, width = frame.shape[:2]
    if not needs_padding(g):
        return frame[g.y0:g.y1 + 1, g.x0:g.x1 + 1]
    sx0, sy0 = max(g.x0, 0), max(g.y0, 0)
    sx1, sy1 = min(g.x1, width - 1), min(g.y1, height - 1)
    value = [int(v) for v in pad_value]
    if sx0 > sx1 or sy0 > sy1:  # window entirely outside the frame: all padding
        window = np.empty((g.size, g.size, frame.shape[2]), np.uint8)
        window[...] = pad_value
        return window
    return cv2.copyMakeBorder(frame[sy0:sy1 + 1, sx0:sx1 + 1], sy0 - g.y0, g.y1 - sy1,
                              sx0 - g.x0, g.x1 - sx1, cv2.BORDER_CONSTANT, value=value)


def search_crop(frame, geometry, pad_value=None):
    """255x255 crop of `frame` (any channel order) for `geometry`; pad_value is needed only when
    the window leaves the frame (pass frame_mean_pad_value(frame), computed once per frame)."""
    if needs_padding(geometry) and pad_value is None:
        raise ValueError('window leaves the frame: pad_value required')
    window = crop_window(frame, geometry, pad_value)
    return cv2.resize(window, (SIZE_X, SIZE_X), interpolation=cv2.INTER_LINEAR)
