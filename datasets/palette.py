"""Palette ("P" mode) PNG masks of DAVIS and YouTube-VOS: the palette, the void label, writing.

DAVIS 2017 and YouTube-VOS store object ids as palette indices; colours are only for viewing.

The void label, 255, and what it means in the records: DAVIS 2017 ground truth uses 255 for
"ignore" (a thin outline around objects). The DAVIS 2017 and YouTube-VOS converters keep it as
255 in the stored masks (so a later consumer can still ignore it) but it is never an object:
not an object id, not in any box or area. The trainers select an object as `mask == id` and the
evaluator maps void to background, so for the loss and for J / F a void pixel is background of
every object, as the DAVIS toolkit counts it. DAVIS 2016 masks are binary 0/255: there 255 is
the object, so the DAVIS 2016 converter, evaluator and segmenter read any non-zero index as
object 1.
"""
from __future__ import absolute_import, division, print_function

import io

import numpy as np
from PIL import Image

from datasets import fileio
from datasets.errors import InputError

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


def _palette_codes():
    """(sorted 24-bit RGB codes of the palette, their indices)."""
    codes = np.dot(palette_colours().astype(np.int64), [1 << 16, 1 << 8, 1])
    order = np.argsort(codes, kind='stable')
    return codes[order], order.astype(np.uint8)


def colour_ids(rgb, path):
    """uint8 [H, W] ids of an RGB image [H, W, 3]: the palette index of every colour when all
    colours are palette colours, else the grey value when the image is grey (R = G = B);
    InputError naming `path` otherwise."""
    codes = np.dot(rgb.astype(np.int64), [1 << 16, 1 << 8, 1])
    sorted_codes, indices = _palette_codes()
    at = np.minimum(np.searchsorted(sorted_codes, codes), len(sorted_codes) - 1)
    found = sorted_codes[at] == codes
    if found.all():
        return indices[at]
    if (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all():
        return np.ascontiguousarray(rgb[..., 0], np.uint8)
    y, x = np.argwhere(~found)[0]
    raise InputError('bad_mask', 'an RGB PNG with colour %s at (x %d, y %d), not a DAVIS palette '
                     'colour: masks must be palette (P) or greyscale PNGs of object ids, or RGB '
                     'in the DAVIS palette' % (tuple(int(c) for c in rgb[y, x]), x, y), path)


def read_label_png(path):
    """Object ids of a PNG file, uint8 [H, W]: palette indices (P), grey values (L, 1), RGB(A)
    through colour_ids (alpha ignored); InputError naming the file for anything else."""
    try:  # read as bytes first: only a regular file, never a named pipe that blocks
        with Image.open(io.BytesIO(fileio.read_bytes(path))) as image:
            mode = image.mode
            pixels = np.array(image)
    except (IOError, OSError) as err:
        raise InputError('bad_mask', 'cannot read: %s' % (getattr(err, 'strerror', None) or err),
                         fileio.printable(path))
    if mode in ('P', 'L', '1'):
        return pixels.astype(np.uint8)
    if mode in ('RGB', 'RGBA'):
        return colour_ids(pixels[..., :3], path)
    raise InputError('bad_mask', 'PNG mode %s; masks must be palette (P) or greyscale (L) PNGs '
                     'of object ids, or RGB in the DAVIS palette' % mode, path)


def palette_png_bytes(labels):
    """Mode-P PNG whose pixel values are the object ids in `labels` (uint8 [H, W])."""
    image = Image.fromarray(np.asarray(labels, np.uint8), mode='P')
    image.putpalette(_PALETTE)
    buf = io.BytesIO()
    image.save(buf, format='PNG')
    return buf.getvalue()


def write_palette_png(path, labels):
    """Write `labels` as a palette PNG at `path` (whole or not at all), creating its folder."""
    fileio.write_atomic(path, palette_png_bytes(labels))
