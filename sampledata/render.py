"""Synthetic scenes: textured objects moving over a textured, panning background.

Each object is a polygon (ellipse, rotated rectangle or star) filled with its own texture that
moves, turns and scales with it. Objects overlap in a fixed depth order (occlusion), and some enter
or leave the frame. `Scene.render(t)` returns the RGB frame and a label map (0 = background,
k = object k, after occlusion), from which every dataset writer derives its annotations, so boxes
and masks always agree with the pixels.
"""
from __future__ import absolute_import, division, print_function

import cv2
import numpy as np

_SUBPIXEL_BITS = 4


def smooth_noise(rng, height, width, cells, channels=3):
    """Band-limited noise in [0, 1]: a coarse random grid upsampled with bicubic interpolation."""
    grid = rng.rand(cells[0] + 1, cells[1] + 1, channels).astype(np.float32)
    out = cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
    out = out.reshape(height, width, channels)
    lo, hi = out.min(), out.max()
    return (out - lo) / max(hi - lo, 1e-6)


def background_texture(rng, height, width):
    """Muted, natural-looking texture: several octaves of smooth noise around a random tint."""
    tint = rng.uniform(60, 170, size=3)
    tex = np.zeros((height, width, 3), np.float32)
    for cells, weight in ((3, 1.0), (9, 0.5), (27, 0.25), (81, 0.12)):
        tex += weight * (smooth_noise(rng, height, width, (cells, cells * width // height + 1)) - 0.5)
    tex = tint + 70 * tex
    return np.clip(tex, 0, 255).astype(np.uint8)


def object_texture(rng, size):
    """Saturated, high-contrast pattern (stripes or checks over noise) that stands out."""
    base = rng.uniform(0, 255, size=3)
    other = 255 - base + rng.uniform(-40, 40, size=3)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    period = rng.uniform(size / 8.0, size / 3.0)
    angle = rng.uniform(0, np.pi)
    phase = (xx * np.cos(angle) + yy * np.sin(angle)) / period
    if rng.rand() < 0.5:
        pattern = 0.5 + 0.5 * np.sin(2 * np.pi * phase)
    else:
        pattern = ((np.floor(xx / period) + np.floor(yy / period)) % 2).astype(np.float32)
    pattern = 0.75 * pattern + 0.25 * smooth_noise(rng, size, size, (4, 4), 1)[..., 0]
    tex = base[None, None, :] * (1 - pattern[..., None]) + other[None, None, :] * pattern[..., None]
    return np.clip(tex, 0, 255).astype(np.uint8)


def _unit_polygon(rng, kind):
    if kind == 'ellipse':
        a = np.linspace(0, 2 * np.pi, 48, endpoint=False)
        return np.stack([np.cos(a), np.sin(a)], 1)
    if kind == 'rect':
        return np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float64)
    points = rng.randint(5, 8)
    a = np.linspace(0, 2 * np.pi, 2 * points, endpoint=False)
    r = np.where(np.arange(2 * points) % 2 == 0, 1.0, rng.uniform(0.45, 0.7))
    return np.stack([r * np.cos(a), r * np.sin(a)], 1)


class Sprite(object):
    """One moving object. Positions are in frame pixels, time in frames."""

    def __init__(self, rng, width, height, duration, motion='stay', size_range=(0.08, 0.2),
                 speed=0.006):
        short = min(width, height)
        self.kind = ['ellipse', 'rect', 'star'][rng.randint(3)]
        self.polygon = _unit_polygon(rng, self.kind)
        self.radii = rng.uniform(size_range[0], size_range[1], size=2) * short
        self.texture = object_texture(rng, 128)
        self.angle0 = rng.uniform(0, 2 * np.pi)
        self.spin = rng.uniform(-0.03, 0.03)
        self.growth = rng.uniform(-0.2, 0.2) / max(duration, 1)
        margin = self.radii.max()
        speed = speed * short
        if motion == 'enter':
            # start beyond the left or right edge, cross into the frame during the clip
            side = 1 if rng.rand() < 0.5 else -1
            self.start = np.array([width / 2.0 - side * (width / 2.0 + margin * 1.2),
                                   rng.uniform(0.3, 0.7) * height])
            travel = (width / 2.0 + margin * 1.2 - rng.uniform(0.1, 0.3) * width)
            self.velocity = np.array([side * travel / max(duration * 0.5, 1), 0.0])
        elif motion == 'leave':
            side = 1 if rng.rand() < 0.5 else -1
            self.start = np.array([width / 2.0 + side * rng.uniform(0.1, 0.25) * width,
                                   rng.uniform(0.3, 0.7) * height])
            travel = width / 2.0 + margin * 1.5
            self.velocity = np.array([side * travel / max(duration * 0.6, 1), 0.0])
        else:
            self.start = np.array([rng.uniform(margin, width - margin),
                                   rng.uniform(margin, height - margin)])
            direction = rng.uniform(0, 2 * np.pi)
            self.velocity = speed * np.array([np.cos(direction), np.sin(direction)])
        # a 'stay' object bounces off the frame edges, so it stays in view in long clips
        self.bounds = None
        if motion == 'stay':
            self.bounds = (np.array([margin, margin]), np.array([width - margin, height - margin]))

    def centre_at(self, t):
        """Centre in frame coordinates at time t."""
        centre = self.start + self.velocity * t
        if self.bounds is None:
            return centre
        lo, hi = self.bounds
        span = np.maximum(hi - lo, 1e-9)
        folded = np.mod(centre - lo, 2 * span)  # a triangle wave between lo and hi
        return lo + np.where(folded > span, 2 * span - folded, folded)

    def polygon_at(self, t):
        """Vertices in frame coordinates at time t."""
        scale = max(0.3, 1.0 + self.growth * t)
        angle = self.angle0 + self.spin * t
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        pts = (self.polygon * self.radii * scale).dot(rot.T)
        return pts + self.centre_at(t), scale, angle

    def footprint(self, t):
        """(x0, y0, mask, texture) of the whole object at t, in a local box that may leave the frame."""
        pts, scale, angle = self.polygon_at(t)
        x0, y0 = np.floor(pts.min(0)).astype(int) - 1
        x1, y1 = np.ceil(pts.max(0)).astype(int) + 1
        w, h = x1 - x0 + 1, y1 - y0 + 1
        mask = np.zeros((h, w), np.uint8)
        local = np.round((pts - [x0, y0]) * (1 << _SUBPIXEL_BITS)).astype(np.int32)
        cv2.fillPoly(mask, [local], 1, lineType=cv2.LINE_8, shift=_SUBPIXEL_BITS)
        # texture coordinates follow the object: rotate and scale about its centre
        centre = self.centre_at(t) - [x0, y0]
        size = self.texture.shape[0]
        k = 2.0 * self.radii.max() * scale / size
        c, s = np.cos(angle) * k, np.sin(angle) * k
        tex_to_local = np.array([[c, -s, centre[0] - (c - s) * size / 2.0],
                                 [s, c, centre[1] - (s + c) * size / 2.0]])
        tex = cv2.warpAffine(self.texture, tex_to_local, (w, h), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REFLECT)
        return x0, y0, mask.astype(bool), tex


class Scene(object):
    """A background that pans slowly and sprites drawn back to front (index 0 is the deepest)."""

    def __init__(self, rng, width, height, duration, motions, size_range=(0.08, 0.2),
                 speed=0.006, pan=0.05):
        self.width, self.height = width, height
        self.pad = int(np.ceil(pan * max(width, height))) + 1
        self.background = background_texture(rng, height + 2 * self.pad, width + 2 * self.pad)
        direction = rng.uniform(0, 2 * np.pi)
        self.pan_velocity = (self.pad - 1) / max(duration, 1) * np.array(
            [np.cos(direction), np.sin(direction)])
        self.sprites = [Sprite(rng, width, height, duration, m, size_range, speed) for m in motions]
        self.depth = list(rng.permutation(len(self.sprites)))

    def render(self, t):
        """(rgb uint8 [H, W, 3], labels uint8 [H, W], full_areas) at time t.

        labels[y, x] = k + 1 where sprite k is visible; full_areas[k] is the sprite's area before
        occlusion and frame clipping (for occlusion flags).
        """
        dx, dy = np.clip(np.round(self.pan_velocity * t), -(self.pad - 1), self.pad - 1).astype(int)
        y, x = self.pad + dy, self.pad + dx
        frame = self.background[y:y + self.height, x:x + self.width].copy()
        labels = np.zeros((self.height, self.width), np.uint8)
        full_areas = [0] * len(self.sprites)
        for k in self.depth:
            x0, y0, mask, tex = self.sprites[k].footprint(t)
            full_areas[k] = int(mask.sum())
            fx0, fy0 = max(x0, 0), max(y0, 0)
            fx1, fy1 = min(x0 + mask.shape[1], self.width), min(y0 + mask.shape[0], self.height)
            if fx0 >= fx1 or fy0 >= fy1:
                continue
            local = (slice(fy0 - y0, fy1 - y0), slice(fx0 - x0, fx1 - x0))
            m = mask[local]
            frame[fy0:fy1, fx0:fx1][m] = tex[local][m]
            labels[fy0:fy1, fx0:fx1][m] = k + 1
        return frame, labels, full_areas


def visible_box(labels, label):
    """Inclusive (xmin, ymin, xmax, ymax) and pixel count of `label` in a label map (None, 0 if
    absent). OpenCV's bounding rectangle, not datasets.images.tight_box: the sample's ground
    truth must not come from the code it tests."""
    mask = (labels == label).astype(np.uint8)
    count = int(np.count_nonzero(mask))
    if not count:
        return None, 0
    x, y, w, h = cv2.boundingRect(mask)
    return (x, y, x + w - 1, y + h - 1), count
