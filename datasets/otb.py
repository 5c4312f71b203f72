"""OTB on disk: sequence folders, ground-truth files, sequence lists, the toolkit's frame ranges.

    <root>/<seq>/img/0001.jpg ...
    <root>/<seq>/groundtruth_rect.txt          x,y,w,h per frame, 1-based (origin 1)
    <root>/<seq>/groundtruth_rect.1.txt, .2    several targets (Jogging.1, Jogging.2)

A sequence list file names the sequences to read: `name` or `name first last` per line.
"""
from __future__ import absolute_import, division, print_function

import collections
import glob
import math
import os

import numpy as np

from datasets.numbers import xywh_problem
from datasets.tracking import (Sequence, SequenceError, frames_in_range, list_images,
                               read_list_file, read_number_rows)

# OTB sequences whose ground truth covers only part of img/ (first and last frame number,
# inclusive), as in the OTB toolkit's sequence table (and got10k's OTB loader, which, like this
# table, matches the sequence name case-insensitively). It applies to an OTB root's folders of
# these names unless switched off (load_otb(builtin_ranges=False), --no-otb-ranges); a sequence
# list line `name first last` overrides it and gives any other sequence's range; a count
# mismatch without a range is an error, never a guess.
OTB_FRAME_RANGES = {
    'David': (300, 770),
    'Football1': (1, 74),
    'Freeman3': (1, 460),
    'Freeman4': (1, 283),
    'Diving': (1, 215),
}


def read_boxes(path):
    """Boxes of a ground-truth file: one x,y,w,h per line, separated by commas, tabs or spaces;
    each finite, of non-negative size and inside bounds (datasets.numbers.xywh_problem), or
    all four NaN: the target is absent in that frame (UAV123's convention; got10k leaves such
    frames out of its scores, a training pipeline makes them frame dead letters, a tracker
    refuses to start on one). A partly NaN or infinite row is refused."""
    rows = []
    for number, _, row in read_number_rows(path):
        if len(row) != 4:
            raise SequenceError('%s:%d: expected 4 values (x,y,w,h), got %d'
                                % (path, number, len(row)))
        problem = None if all(math.isnan(v) for v in row) else xywh_problem(row)
        if problem:
            raise SequenceError('%s:%d: %s' % (path, number, problem))
        rows.append(row)
    if not rows:
        raise SequenceError('%s has no boxes' % path)
    return np.array(rows, np.float64)


def read_sequence_list(path):
    """{name: (first, last) or None} from a list file: one sequence per line, `name` or
    `name first last`; '#' starts a comment."""
    out = collections.OrderedDict()
    for number, line in read_list_file(path):
        parts = line.split('#', 1)[0].split()
        if not parts:
            continue
        if len(parts) == 1:
            out[parts[0]] = None
        elif len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            out[parts[0]] = (int(parts[1]), int(parts[2]))
        else:
            raise SequenceError('%s:%d: expected `name` or `name first last`, got %r'
                                % (path, number, line))
    return out


def _blank(path):
    return not read_list_file(path)


def ground_truth_files(seq_dir, base):
    """[(sequence name, ground-truth file)] of one OTB folder, named as got10k's OTB names them
    (so that results in its layout join): the folder's groundtruth*.txt in sorted order, empty
    ones skipped (Human4's groundtruth_rect.1.txt); one file left is the sequence `base`,
    several are `base.1`, `base.2`, ... in that order (Jogging.1, Jogging.2)."""
    files = [p for p in sorted(glob.glob(os.path.join(seq_dir, 'groundtruth*.txt')))
             if not _blank(p)]
    if len(files) == 1:
        return [(base, files[0])]
    return [('%s.%d' % (base, k), path) for k, path in enumerate(files, 1)]


def builtin_frame_range(name):
    """OTB_FRAME_RANGES' (first, last) of a sequence name (case-insensitive, as got10k), or None."""
    return {k.lower(): v for k, v in OTB_FRAME_RANGES.items()}.get(name.lower())


def otb_sequence(seq_dir, frame_range=None, name=None, builtin_ranges=True):
    """Sequences of one OTB folder (`img/0001.jpg ...` and its ground-truth files, see
    ground_truth_files). frame_range = (first, last) frame numbers the ground truth covers;
    without it, OTB_FRAME_RANGES' entry of the folder's name if builtin_ranges."""
    base = name or os.path.basename(os.path.abspath(seq_dir))
    images = list_images(os.path.join(seq_dir, 'img'))
    if not images:
        raise SequenceError('%s: no images in img/' % seq_dir)
    builtin = builtin_frame_range(base) if builtin_ranges and not frame_range else None
    frame_range = frame_range or builtin
    if frame_range:
        first, last = frame_range
        images = frames_in_range(images, first, last)
    targets = ground_truth_files(seq_dir, base)
    if not targets:
        raise SequenceError('%s: no ground truth (groundtruth_rect.txt, or a non-empty '
                            'groundtruth*.txt)' % seq_dir)
    out = []
    for seq_name, path in targets:
        boxes = read_boxes(path)
        if len(boxes) != len(images):
            where = ''
            if frame_range:
                where = ' in %d..%d%s' % (frame_range + (
                    ' (the built-in OTB range of %s; --no-otb-ranges turns it off)' % base
                    if builtin else '',))
            raise SequenceError(
                '%s: %d boxes but %d images%s; give the frame range of the ground truth in a '
                'sequence list line `%s <first> <last>`' % (
                    path, len(boxes), len(images), where, base))
        out.append(Sequence(seq_name, images, boxes, 1))
    return out


def _listed(root, name, frame_range, builtin_ranges):
    """The sequences of a list file's line: a folder (all its targets), or one target of a
    folder with several, by its got10k name (`Jogging.1`)."""
    seq_dir = os.path.join(root, name)
    if os.path.isdir(seq_dir):
        return otb_sequence(seq_dir, frame_range, name, builtin_ranges)
    folder, dot, number = name.rpartition('.')
    if dot and number.isdigit() and os.path.isdir(os.path.join(root, folder)):
        found = otb_sequence(os.path.join(root, folder), frame_range, folder, builtin_ranges)
        chosen = [s for s in found if s.name == name]
        if chosen:
            return chosen
        raise SequenceError('%s: listed sequence %s not found; %s holds %s' % (
            root, name, folder, ', '.join(s.name for s in found)))
    raise SequenceError('%s: listed sequence %s not found' % (root, name))


def load_otb(root, list_file=None, builtin_ranges=True):
    """Every OTB sequence under root (folders holding img/), or those of a sequence list file
    (folder names, or got10k names of single targets like Jogging.1). builtin_ranges: apply
    OTB_FRAME_RANGES to folders without a range of their own."""
    if not os.path.isdir(root):
        raise SequenceError('%s is not a directory' % root)
    if list_file:
        wanted = read_sequence_list(list_file)
    else:
        wanted = collections.OrderedDict(
            (name, None) for name in sorted(os.listdir(root))
            if os.path.isdir(os.path.join(root, name, 'img')))
    if not wanted:
        raise SequenceError('%s holds no OTB sequence (<seq>/img/ and groundtruth_rect.txt)'
                            % root)
    out = []
    for name, frame_range in wanted.items():
        out.extend(_listed(root, name, frame_range, builtin_ranges))
    return out
