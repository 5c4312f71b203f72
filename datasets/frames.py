"""Frame folders of the video segmentation datasets (DAVIS, YouTube-VOS): a JPEG and, where
annotated, a palette PNG per frame, named by frame number; their listing and ordering."""
from __future__ import absolute_import, division, print_function

import collections

from datasets import fileio

FRAME_EXT, MASK_EXT = '.jpg', '.png'

# One frame of a video on disk: its name, image path and mask path (None when not annotated).
FramePaths = collections.namedtuple('FramePaths', 'name image mask')


def frame_order(name):
    """Sort key of a frame name: by number when it is one (so 2 comes before 10, whatever the
    zero padding), names that are not numbers after them."""
    return (0, int(name), name) if name.isdigit() else (1, 0, name)


def frame_gaps(names, step):
    """Missing frame numbers of a sequence whose frames are every `step`-th from 0 (DAVIS 1,
    YouTube-VOS 5): (name before, name after) around each gap, (None, first name) when the
    sequence does not start at frame 0."""
    numbered = [(int(n), n) for n in names if n.isdigit()]
    gaps = [(None, numbered[0][1])] if numbered and numbered[0][0] > 0 else []
    return gaps + [(a[1], b[1]) for a, b in zip(numbered, numbered[1:]) if b[0] - a[0] > step]


def frame_paths(image_dir, mask_dir):
    """[FramePaths] over every frame that has an image or a mask, in frame-number order: a mask
    without its image is listed (the converter reports it as a missing frame), not skipped."""
    jpegs, masks = fileio.stems(image_dir, FRAME_EXT), fileio.stems(mask_dir, MASK_EXT)
    return [FramePaths(name, fileio.join(image_dir, name + FRAME_EXT),
                       fileio.join(mask_dir, name + MASK_EXT) if name in masks else None)
            for name in sorted(jpegs | masks, key=frame_order)]
