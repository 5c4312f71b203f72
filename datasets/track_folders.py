"""Labelled tracking sequences for training records: what the GOT-10k, LaSOT and generic folder
readers yield, the checks they share, and the generic reader itself.

A TrackSequence is one target in one sequence: its frame paths, one x, y, w, h box per frame in
the file's own convention (`origin`: the coordinate of the first pixel, 0 or 1, as in
datasets.tracking.Sequence), and per frame whether the target is `absent` (a frame that must
never be a training pair's member: GOT-10k absence / cover 0, LaSOT full occlusion / out of
view) and `occluded` (partly hidden; written to the records' occluded flag).

Generic folders (`track_folders`, `make track-records`), any depth up to two below the root:
    <seq>/img/0001.jpg ... + groundtruth.txt or groundtruth_rect.txt    OTB style, origin 1
    <seq>/00000001.jpg ... + groundtruth.txt                            GOT-10k style, origin 0
Boxes separated by commas, tabs or spaces (datasets.otb.read_boxes). Label files beside the
ground truth are used when present: absence.label / cover.label (GOT-10k), full_occlusion.txt /
out_of_view.txt (LaSOT).

Bad input raises TrackSequenceError (a datasets.errors.InputError) with a reason the pipeline
writes to errors.jsonl: box_count_mismatch, missing_label_file, bad_label_file, empty_sequence.
"""
from __future__ import absolute_import, division, print_function

import collections
import os
import re

import numpy as np

from datasets import fileio
from datasets.otb import ground_truth_files, read_boxes
from datasets.tracking import SequenceError, frame_number, list_images

TrackSequence = collections.namedtuple(
    'TrackSequence', 'name folder frames boxes origin absent occluded object_class')

GROUND_TRUTH = 'groundtruth.txt'


class TrackSequenceError(SequenceError):
    """A sequence that cannot become a track; `reason` names the kind, `images` how many frames
    the sequence has (they go to the dead letter with it)."""

    def __init__(self, reason, path, detail, images=0):
        super(TrackSequenceError, self).__init__('%s: %s' % (path, detail))
        self.reason, self.path, self.detail, self.images = reason, path, detail, images


def read_flags(path, count=None, reason_if_missing='missing_label_file'):
    """Integers of a label file (one per line, or one line separated by commas or white
    space), `count` of them (None: any number); TrackSequenceError when the file is missing,
    not integers or of another length."""
    if not fileio.exists(path):
        raise TrackSequenceError(reason_if_missing, path,
                                 'missing (label file missing or misnamed)', count or 0)
    try:
        lines = fileio.read_list_lines(path)
    except (OSError, UnicodeDecodeError) as err:
        raise TrackSequenceError('bad_label_file', path, 'cannot read: %s' % err, count or 0)
    values = [v for _, line in lines for v in re.split(r'[,\s]+', line) if v]
    try:
        flags = np.array([int(float(v)) for v in values], np.int64)
    except ValueError:
        raise TrackSequenceError('bad_label_file', path, 'not integers', count or 0)
    if count is not None and len(flags) != count:
        raise TrackSequenceError('label_count_mismatch', path, '%d labels but %d frames'
                                 % (len(flags), count), count)
    return flags


def missing_numbers(frames):
    """Frame numbers absent from 1..last (or first..last when numbering starts at 0)."""
    numbers = sorted(n for n in (frame_number(p) for p in frames) if n is not None)
    if not numbers:
        return []
    return sorted(set(range(min(numbers[0], 1), numbers[-1] + 1)) - set(numbers))


def check_counts(gt_path, frames, boxes, frames_from=None):
    """TrackSequenceError unless there is one box per frame (the message names missing frame
    numbers, the usual cause). frames_from: where the frames come from when that is not the
    ground truth's folder (a folder, or a benchmark's frame range)."""
    if not frames:
        raise TrackSequenceError('empty_sequence', frames_from or os.path.dirname(gt_path),
                                 'no frames')
    if len(boxes) != len(frames):
        gaps = missing_numbers(frames)
        hint = '; frame numbers missing: %s' % ', '.join(str(n) for n in gaps[:10]) if gaps \
            else ''
        where = ' (%s)' % frames_from if frames_from else ''
        raise TrackSequenceError('box_count_mismatch', gt_path, '%d boxes but %d frames%s%s'
                                 % (len(boxes), len(frames), where, hint), len(frames))


def load_boxes(gt_path, frames, first_only=False):
    """Boxes of a ground-truth file, one per frame (TrackSequenceError otherwise); first_only:
    its first box alone, for the first frame (a test split whose other boxes are not public, or
    a file that holds them all)."""
    if not fileio.exists(gt_path):
        raise TrackSequenceError('missing_label_file', gt_path, 'ground truth missing',
                                 len(frames))
    try:
        boxes = read_boxes(gt_path)   # NaN rows (absent): box_value_problem, per frame
    except SequenceError as err:
        raise TrackSequenceError('bad_label_file', gt_path, str(err), len(frames))
    if first_only:
        frames, boxes = frames[:1], boxes[:1]
    check_counts(gt_path, frames, boxes)
    return boxes


def box_value_problem(box):
    """(reason, detail) when an x, y, w, h box cannot describe a target, else None."""
    if not np.all(np.isfinite(box)):
        return 'nan_box', 'box %s is not finite' % _text(box)
    if box[2] <= 0 or box[3] <= 0:
        return 'zero_area_box', 'box %s has non-positive width or height' % _text(box)
    return None


def inclusive_box(box, origin):
    """An x, y, w, h box (first pixel at `origin`) as the inclusive 0-based integer
    (xmin, ymin, xmax, ymax) of a VID XML: edges rounded to whole pixels (half to even), so
    integer boxes map exactly and w = xmax - xmin + 1."""
    x0, y0 = box[0] - origin, box[1] - origin
    left, top = int(np.round(x0)), int(np.round(y0))
    right, bottom = int(np.round(x0 + box[2])), int(np.round(y0 + box[3]))
    return left, top, max(right - 1, left), max(bottom - 1, top)


def _text(box):
    return '(%s)' % ', '.join('%g' % v for v in box)


def optional_flags(seq_dir, count):
    """(absent, occluded) from whichever label files a generic folder holds (both all-zero
    when it holds none)."""
    absent = np.zeros(count, bool)
    occluded = np.zeros(count, np.int64)
    for name in ('absence.label', 'full_occlusion.txt', 'out_of_view.txt'):
        path = fileio.join(seq_dir, name)
        if fileio.exists(path):
            absent |= read_flags(path, count) == 1
    cover_path = fileio.join(seq_dir, 'cover.label')
    if fileio.exists(cover_path):
        cover = read_flags(cover_path, count)
        absent |= cover == 0
        occluded = (cover < 8).astype(np.int64)
    return absent, occluded


def sequence_folders(root):
    """Folders (relative to root, '.' for the root itself) up to two levels down holding a
    sequence: a ground-truth file and frames (img/ or beside it), sorted."""
    if not fileio.isdir(root):
        raise SequenceError('%s is not a directory' % root)
    found = []
    for pattern in ('', '*', '*/*'):
        for gt in fileio.glob(fileio.join(root, pattern, 'groundtruth*.txt')):
            folder = os.path.relpath(os.path.dirname(gt), root)
            if folder not in found:
                found.append(folder)
    if not found:
        raise SequenceError('%s holds no sequence folder (<seq>/img/*.jpg or <seq>/*.jpg with '
                            'groundtruth.txt)' % root)
    return sorted(found)


def folder_sequences(root, folder, origin=None):
    """The TrackSequences of one generic folder (several for OTB's groundtruth_rect.1.txt,
    .2, ...). origin None: 1 for the OTB style (img/), 0 for the GOT-10k style."""
    seq_dir = os.path.normpath(fileio.join(root, folder))
    otb_style = fileio.isdir(fileio.join(seq_dir, 'img'))
    frames = list_images(fileio.join(seq_dir, 'img') if otb_style else seq_dir)
    if origin is None:
        origin = 1 if otb_style else 0
    base = os.path.basename(os.path.abspath(seq_dir))
    out = []
    for name, gt_path in ground_truth_files(seq_dir, base):
        boxes = load_boxes(gt_path, frames)
        absent, occluded = optional_flags(seq_dir, len(frames))
        out.append(TrackSequence(name, folder, frames, boxes, origin, absent, occluded, ''))
    if not out:
        raise TrackSequenceError('missing_label_file', seq_dir, 'ground truth file empty',
                                 len(frames))
    return out
