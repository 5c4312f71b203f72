"""GOT-10k on disk: split lists, sequence folders, ground truth, per-frame labels, meta info.

    <root>/{train,val,test}/list.txt                  sequence names of the split, one a line
    <root>/<split>/<seq>/00000001.jpg ...
    <root>/<split>/<seq>/groundtruth.txt              x,y,w,h per frame (test: the first only)
    <root>/<split>/<seq>/absence.label                1: the target is not in the frame
    <root>/<split>/<seq>/cover.label                  visible share in eighths: 0 (none) .. 8
    <root>/<split>/<seq>/cut_by_image.label           1: the target is cut by the frame border
    <root>/<split>/<seq>/meta_info.ini                a header line, then `key: value` lines

Boxes are in pixels with the first pixel at 0 (origin 0: how the got10k toolkit draws and scores
them). A frame is absent when absence is 1 or cover is 0 (the target's visible share is nil);
it is occluded when cover < 8. The label files of train and val are required; test has none.
"""
from __future__ import absolute_import, division, print_function

import numpy as np

from datasets import fileio
from datasets.track_folders import (GROUND_TRUTH, TrackSequence, TrackSequenceError,
                                    load_boxes, read_flags)
from datasets.tracking import SequenceError, list_images, read_list_file, read_names

SPLITS = ('train', 'val', 'test')
ORIGIN = 0
LIST_FILE = 'list.txt'
LABEL_FILES = ('absence.label', 'cover.label', 'cut_by_image.label')
FULLY_VISIBLE = 8   # cover.label's highest level


def split_dir(root, split):
    return fileio.join(root, split)


def list_sequences(root, split):
    """Sequence names of a split's list.txt, in its order (SequenceError when it is missing)."""
    if split not in SPLITS:
        raise SequenceError('unknown GOT-10k split %r (one of %s)' % (split, ', '.join(SPLITS)))
    path = fileio.join(split_dir(root, split), LIST_FILE)
    if not fileio.exists(path):
        raise SequenceError('%s not found: the GOT-10k root (--data, --got10k) must hold '
                            '{train,val,test}/list.txt' % path)
    return read_names(path)


def read_meta(path):
    """{key: value} of a meta_info.ini (its first line is a header); {} when it is missing."""
    if not fileio.exists(path):
        return {}
    meta = {}
    for _, line in read_list_file(path)[1:]:
        key, sep, value = line.partition(':')
        if sep:
            meta[key.strip()] = value.strip()
    return meta


def read_sequence(root, split, name):
    """The TrackSequence of one GOT-10k sequence (test: its first box only, no labels)."""
    seq_dir = fileio.join(split_dir(root, split), name)
    if not fileio.isdir(seq_dir):
        raise TrackSequenceError('missing_sequence', seq_dir, 'listed in %s but not a folder'
                                 % LIST_FILE)
    frames = list_images(seq_dir)
    gt_path = fileio.join(seq_dir, GROUND_TRUTH)
    meta = read_meta(fileio.join(seq_dir, 'meta_info.ini'))
    if split == 'test':
        boxes = load_boxes(gt_path, frames, first_only=True)
        count = len(frames)
        return TrackSequence(name, '%s/%s' % (split, name), frames, boxes, ORIGIN,
                             np.zeros(count, bool), np.zeros(count, np.int64),
                             meta.get('object_class', ''))
    boxes = load_boxes(gt_path, frames)
    absence, cover, _ = [read_flags(fileio.join(seq_dir, label), len(frames))
                         for label in LABEL_FILES]
    bad = sorted(set(cover.tolist()) - set(range(FULLY_VISIBLE + 1)))
    if bad:
        raise TrackSequenceError('bad_label_file', fileio.join(seq_dir, 'cover.label'),
                                 'cover levels outside 0..8: %s' % bad, len(frames))
    return TrackSequence(name, '%s/%s' % (split, name), frames, boxes, ORIGIN,
                         (absence == 1) | (cover == 0), (cover < FULLY_VISIBLE).astype(np.int64),
                         meta.get('object_class', ''))
