"""Sequences a tracker runs on: a benchmark's (OTB, ILSVRC2015-VID val tracks: read by
`datasets.otb`, `datasets.vid`), or any folder of frames with a first box given on the command
line. `Sequence` and the readers are `datasets.tracking`'s; this module adds what only the
tracker's command line needs (parsing `--init`, picking one sequence) and frame decoding.
"""
from __future__ import absolute_import, division, print_function

import os

import numpy as np

from datasets import images
from datasets.errors import InputError
from datasets.fileio import printable
from datasets.numbers import xywh_problem
from datasets.otb import otb_sequence
from datasets.tracking import IMAGE_EXTENSIONS, Sequence, SequenceError, list_images


def parse_box(text):
    """'x,y,w,h' -> array of 4 floats (0-based pixels)."""
    try:
        box = np.array([float(v) for v in text.split(',')], np.float64)
    except ValueError:
        box = None
    if box is None or box.shape != (4,) or not (box[2] > 0 and box[3] > 0):
        raise SequenceError('--init must be x,y,w,h with a positive width and height, got %r'
                            % text)
    problem = xywh_problem(box.tolist())   # finite and bounded, as a ground-truth box
    if problem:
        raise SequenceError('--init %s: %s' % (text, problem))
    return box


def load_folder(folder, init_box):
    """A folder of frames and the first box (0-based x, y, w, h), named after the folder (the
    sequence folder for an OTB-style img/)."""
    images = list_images(folder)
    if not images:
        raise SequenceError('%s holds no images (%s)' % (folder, ', '.join(IMAGE_EXTENSIONS)))
    path = os.path.abspath(folder)
    name = os.path.basename(path)
    if name == 'img':
        name = os.path.basename(os.path.dirname(path))
    return Sequence(name, images, np.asarray(init_box, np.float64)[None], 0)


def load_sequence(path, init_box=None):
    """One sequence folder: OTB layout (img/ + ground truth) unless init_box is given or there is
    no ground truth, then a plain frame folder that needs init_box."""
    if os.path.isdir(os.path.join(path, 'img')) and init_box is None:
        return otb_sequence(path)
    if init_box is None:
        raise SequenceError('%s is not an OTB sequence (img/ + groundtruth_rect.txt): give the '
                            'first box with --init x,y,w,h' % path)
    folder = os.path.join(path, 'img') if os.path.isdir(os.path.join(path, 'img')) else path
    return [load_folder(folder, init_box)]


def select(sequences, name, source):
    """The sequence of that name among sequences (loaded from source), or a one-line error."""
    found = [s for s in sequences if s.name == name]
    if not found:
        names = [s.name for s in sequences]
        raise SequenceError('%s has no sequence %s (%d sequences: %s%s)' % (
            source, name, len(names), ', '.join(names[:5]), ', ...' if len(names) > 5 else ''))
    return found


def read_frame(path):
    """RGB uint8 frame in its stored pixel grid (the ground truth's: EXIF orientation ignored,
    warned about once per folder), or SequenceError naming the file and why: regular files
    only (a named pipe or a device is refused, never read), JPEGs checked strictly."""
    try:
        data = images.read_file(path)
        bgr = images.decode_frame(data)
    except InputError as err:
        raise SequenceError('cannot read frame %s: %s (%s)' % (printable(path), err.reason,
                                                              err.detail))
    if images.image_format(data) == 'jpeg':
        images.warn_orientation(data, path)
    return np.ascontiguousarray(bgr[..., ::-1])
