"""Palette ("P" mode) PNG masks of DAVIS and YouTube-VOS: the palette, the void label, writing.

DAVIS 2017 and YouTube-VOS store object ids as palette indices; colours are only for viewing. 255
is the void label ("ignore" in DAVIS 2017 ground truth, where it outlines objects).
"""
from __future__ import absolute_import, division, print_function

import io
import os

import numpy as np
from PIL import Image

VOID_LABEL = 255


def voc_palette():
    """The 256-colour PASCAL VOC / DAVIS palette as a flat [r0, g0, b0, r1, ...] list: index i gets
    the colour spelled by the bits of i."""
    palette = np.zeros((256, 3), np.uint8)
    for i in range(256):
        c, r, g, b = i, 0, 0, 0
        for bit in range(8):
            r |= ((c >> 0) & 1) << (7 - bit)
            g |= ((c >> 1) & 1) << (7 - bit)
            b |= ((c >> 2) & 1) << (7 - bit)
            c >>= 3
        palette[i] = (r, g, b)
    return palette.reshape(-1).tolist()


_PALETTE = voc_palette()


def palette_colours():
    """The palette as uint8 [256, 3] RGB rows."""
    return np.array(_PALETTE, np.uint8).reshape(256, 3)


def palette_png_bytes(labels):
    """Mode-P PNG whose pixel values are the object ids in `labels` (uint8 [H, W])."""
    image = Image.fromarray(np.asarray(labels, np.uint8), mode='P')
    image.putpalette(_PALETTE)
    buf = io.BytesIO()
    image.save(buf, format='PNG')
    return buf.getvalue()


def write_palette_png(path, labels):
    """Write `labels` as a palette PNG at `path`, creating its folder."""
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    with open(path, 'wb') as f:
        f.write(palette_png_bytes(labels))
