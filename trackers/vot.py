"""The VOT supervised reset protocol (baseline experiment), as pysot's VOT tracking loop runs it.

For every frame, in order:
  * the initialisation frame (frame 0, and the 5th frame after each failure): the tracker starts
    on the ground truth's axis-aligned box (datasets.vot.init_box); the result line is `1`;
  * a frame after it: the tracker's box, written `x,y,w,h` (%.4f, in the ground truth's
    coordinates) when it overlaps the ground truth (the VOT overlap within the image), else a
    failure `2`; the tracker then rests: the next 4 frames are `0` (not decoded) and the 5th is
    an initialisation frame again.
Burn-in (10 frames after each initialisation, left out of accuracy) is the evaluation's
business (evaluation.vot). Result layout, pysot-toolkit's (one repetition, the tracker is
deterministic):
  <results>/<tracker>/baseline/<seq>/<seq>_001.txt
"""
from __future__ import absolute_import, division, print_function

import os
import sys
import time

import numpy as np

from datasets import fileio
from datasets.vot import init_box, region_overlap, result_path, tracking_polygon
from trackers.run import check_frame_size
from trackers.sequences import read_frame

INIT, FAILURE, SKIPPED = 1, 2, 0
SKIP_FRAMES = 5        # pysot: frame_counter = failure + 5 is the next initialisation frame


def reset_protocol(tracker, sequence, read=read_frame):
    """([result line: INIT, FAILURE, SKIPPED or a box x,y,w,h in the sequence's coordinates],
    seconds spent in tracked frames, number of tracked frames) of one sequence. The tracker
    works in 0-based pixels (sequence.origin is subtracted and added back)."""
    origin = np.array([sequence.origin, sequence.origin, 0, 0], np.float64)
    lines, seconds, tracked = [], 0.0, 0
    restart, first_shape = 0, None
    for index, path in enumerate(sequence.frames):
        if index < restart:
            lines.append(SKIPPED)
            continue
        start = time.time()
        frame = read(path)
        first_shape = first_shape or frame.shape[:2]
        check_frame_size(sequence, index, frame.shape[:2], first_shape)
        truth = tracking_polygon(sequence.regions[index])
        if index == restart:
            tracker.init(frame, init_box(truth) - origin)
            lines.append(INIT)
            continue
        box = np.asarray(tracker.update(frame), np.float64) + origin
        seconds, tracked = seconds + time.time() - start, tracked + 1
        if region_overlap(box, truth, (frame.shape[1], frame.shape[0])) > 0:
            lines.append(box)
        else:
            lines.append(FAILURE)
            restart = index + SKIP_FRAMES
    return lines, seconds, tracked


def result_text(lines):
    """The result file: `1`, `2`, `0` or x,y,w,h at %.4f of the single-precision value (pysot
    writes each number through a C float)."""
    out = []
    for line in lines:
        if isinstance(line, int):
            out.append('%d' % line)
        else:
            out.append(','.join('%.4f' % float(np.float32(v)) for v in line))
    return ('\n'.join(out) + '\n').encode('utf-8')


def run_tracker(tracker, sequences, results_dir, strips_dir=None, skip_existing=False):
    """The reset protocol over every sequence, each result file written whole; {'frames',
    'fps', 'failures'} over the tracked frames. strips_dir is not used (the OPE runner's
    signature); skip_existing keeps result files that exist."""
    seconds, tracked, failures = 0.0, 0, 0
    for number, sequence in enumerate(sequences, 1):
        path = result_path(results_dir, tracker.name, sequence.name)
        if skip_existing and os.path.isfile(path):
            continue
        lines, spent, count = reset_protocol(tracker, sequence)
        fileio.write_atomic(path, result_text(lines))
        seconds, tracked = seconds + spent, tracked + count
        failures += sum(1 for line in lines if isinstance(line, int) and line == FAILURE)
        if len(sequences) > 1:
            sys.stderr.write('[%s %d/%d] %s: %d frames\n' % (
                tracker.name, number, len(sequences), sequence.name, len(sequence.frames)))
    speed = {'frames': tracked, 'failures': failures}
    if seconds > 0:
        speed['fps'] = tracked / seconds
    return speed
