"""File writing shared by the sample dataset writers: deterministic RNGs, JPEG, JSON (palette PNGs: datasets.palette)."""
from __future__ import absolute_import, division, print_function

import hashlib
import json
import os

import cv2
import numpy as np


def rng_for(seed, *names):
    """A RandomState that depends only on the seed and the names (not on call order)."""
    digest = hashlib.sha256(repr((seed,) + names).encode('utf-8')).digest()
    return np.random.RandomState(int.from_bytes(digest[:4], 'little'))


def ensure_dir(path):
    if not os.path.isdir(path):
        os.makedirs(path)
    return path


def jpeg_bytes(rgb, quality=90):
    """JPEG file bytes of an RGB (or single-channel) uint8 image."""
    image = rgb[..., ::-1] if rgb.ndim == 3 else rgb  # OpenCV writes BGR
    ok, buf = cv2.imencode('.jpg', np.ascontiguousarray(image), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError('JPEG encoding failed')
    return buf.tobytes()


def write_bytes(path, data):
    ensure_dir(os.path.dirname(path))
    with open(path, 'wb') as f:
        f.write(data)


def write_jpeg(path, rgb, quality=90):
    write_bytes(path, jpeg_bytes(rgb, quality))


def write_json(path, obj, indent=None):
    """Deterministic JSON (sorted keys) so a seed gives byte-identical files."""
    text = json.dumps(obj, sort_keys=True, indent=indent, separators=(',', ': ') if indent else (',', ':'))
    write_bytes(path, text.encode('utf-8'))


class Faults(object):
    """The list of injected bad inputs, written to the manifest for later tests to reconcile."""

    def __init__(self):
        self.items = []

    def add(self, dataset, kind, path, detail):
        self.items.append({'dataset': dataset, 'kind': kind, 'path': path, 'detail': detail})


# List files the corrupt variant rewrites with a UTF-8 byte order mark and CRLF line ends (as
# Windows editors save them): readers must give exactly the clean result, so the faults list does
# not name them; the manifest lists them under `tolerated`. Paths relative to the sample root.
BOM_CRLF_LISTS = ('DAVIS/ImageSets/2017/train.txt', 'DAVIS/ImageSets/2017/val.txt',
                  'GOT-10k/train/list.txt', 'GOT-10k/val/list.txt',
                  'benchmarks/vot2018/list.txt')


def bom_crlf(path):
    """Rewrite a text file with a UTF-8 BOM and CRLF line ends."""
    with open(path, 'rb') as f:
        lines = f.read().decode('utf-8').splitlines()
    write_bytes(path, ('\ufeff' + ''.join(line + '\r\n' for line in lines)).encode('utf-8'))
