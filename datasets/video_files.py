"""Video files as tracking sequences (`make track-sasiam SEQ=clip.mp4 INIT=x,y,w,h`): the frames
of a video, decoded one at a time by OpenCV (cv2.VideoCapture), never all in memory.

A video's Sequence (datasets.tracking) holds a `VideoFrames` in place of the list of frame paths:
iterating it decodes the frames in order (RGB uint8); len() is the container's frame count, an
estimate that some formats get wrong, so a tracker reads until the video ends. A video that
OpenCV cannot open, one without a decodable frame, and one whose frame size changes are
SequenceErrors (one line naming the file, and the frame).
"""
from __future__ import absolute_import, division, print_function

import os

import numpy as np

from datasets.tracking import Sequence, SequenceError

VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mov', '.mkv', '.m4v', '.webm', '.mpg', '.mpeg', '.wmv')


def is_video_file(path):
    """True for an existing file named like a video (by extension)."""
    return os.path.isfile(path) and path.lower().endswith(VIDEO_EXTENSIONS)


def _capture(path):
    """An opened cv2.VideoCapture of `path`, or SequenceError."""
    import cv2
    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        capture.release()
        raise SequenceError('%s cannot be opened as a video (not a video, or a codec this '
                            'OpenCV lacks)' % path)
    return capture


class VideoFrames(object):
    """The frames of one video file, decoded on iteration (each iteration reads it afresh)."""

    def __init__(self, path):
        self.path = path
        import cv2
        capture = _capture(path)
        try:
            self.count = max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT)))
            decodable = capture.read()[0]   # refused before a tracker is built
        finally:
            capture.release()
        if not decodable:
            raise _no_frame(path)

    def __len__(self):
        return self.count

    def label(self, index):
        """How a message names frame `index`."""
        return '%s frame %d' % (self.path, index)

    def __iter__(self):
        import cv2
        capture = _capture(self.path)
        first_shape, index = None, 0
        try:
            while True:
                ok, image = capture.read()
                if not ok or image is None:
                    break
                first_shape = first_shape or image.shape
                if image.shape != first_shape:
                    raise SequenceError(
                        '%s: frame %d is %dx%d, but frame 0 is %dx%d: every frame of a sequence '
                        'must have one size' % (self.path, index, image.shape[1], image.shape[0],
                                                first_shape[1], first_shape[0]))
                yield cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
                index += 1
        finally:
            capture.release()
        if index == 0:
            raise _no_frame(self.path)


def _no_frame(path):
    return SequenceError('%s has no frame OpenCV can decode (an empty or truncated video?)'
                         % path)


def video_sequence(path, init_box):
    """The Sequence of a video file tracked from init_box (0-based x, y, w, h), named after the
    file."""
    if init_box is None:
        raise SequenceError('%s is a video: give the first box with --init x,y,w,h' % path)
    name = os.path.splitext(os.path.basename(path))[0]
    return Sequence(name, VideoFrames(path), np.asarray(init_box, np.float64)[None], 0)
