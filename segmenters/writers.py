"""Results in the official layouts.

* DAVIS (and a frames folder): OUT/<seq>/<frame>.png, palette PNGs (the DAVIS / PASCAL VOC
  palette) of object ids at the frame's original resolution: the folder the DAVIS toolkits and
  `python -m evaluation.davis --results OUT` read.
* YouTube-VOS 2018 / 2019 and MOSE (the datasets with an Annotations/ pack in
  `segmenters.submission.PACKS`): OUT/Annotations/<video>/<frame>.png for every frame of the
  source, and OUT/submission.zip holding the Annotations/ frames this run wrote (what the challenge
  server takes; frames left in OUT by earlier runs are not included); when some videos were
  rejected or only a subset was asked for, OUT/submission-incomplete.zip instead (not ready to
  upload). `python -m segmenters.submission` checks a results folder against the frames a server
  wants and builds the zip of any pack, DAVIS 2017 test-dev included.
* Optional per-object probabilities: OUT/probabilities/<seq>/<object id>/<frame>.npy (float32 at
  the network's resolution, the reference's --save_score layout).
"""
from __future__ import absolute_import, division, print_function

import io
import os

import numpy as np

from datasets import fileio
from datasets.palette import write_palette_png
from segmenters import submission


class DavisWriter(object):
    layout = 'davis'

    def __init__(self, out_dir, probabilities=False):
        self.out_dir, self.probabilities = out_dir, probabilities
        self.paths = []   # result PNGs written by this run, in order

    def frame_path(self, video, t):
        return os.path.join(self.out_dir, video.name, video.frame_names[t] + '.png')

    def write(self, video, t, labels, probabilities=None):
        """labels: uint8 [H, W] object ids; probabilities: {object id: float [h, w]}."""
        if t not in video.output_frames:
            return
        path = self.frame_path(video, t)
        write_palette_png(path, labels)
        self.paths.append(path)
        if self.probabilities and probabilities:
            for obj_id, prob in probabilities.items():
                folder = os.path.join(self.out_dir, 'probabilities', video.name, str(obj_id))
                data = io.BytesIO()
                np.save(data, np.asarray(prob, np.float32))
                fileio.write_atomic(os.path.join(folder, video.frame_names[t] + '.npy'),
                                    data.getvalue())

    def finish(self, incomplete=None):
        """Paths worth telling the user about; `incomplete`: why not every video was segmented
        (None: all were)."""
        return [self.out_dir]


class YtvosWriter(DavisWriter):
    layout = 'ytvos'
    ANNOTATIONS = submission.ANNOTATIONS
    SUBMISSION = submission.SUBMISSION
    INCOMPLETE = submission.INCOMPLETE

    def frame_path(self, video, t):
        return os.path.join(self.out_dir, self.ANNOTATIONS, video.name,
                            video.frame_names[t] + '.png')

    def finish(self, incomplete=None):
        """Zip this run's frames (entries Annotations/<video>/<frame>.png) for the server:
        SUBMISSION, or INCOMPLETE when `incomplete` says why some videos are missing; an
        earlier run's zip of either name is removed first."""
        entries = [(frame, os.path.relpath(frame, self.out_dir).replace(os.sep, '/'))
                   for frame in self.paths]
        path = submission.write_zip(self.out_dir, entries, not incomplete)
        return [os.path.join(self.out_dir, self.ANNOTATIONS), path]


def writer_for(dataset, out_dir, probabilities=False):
    """YtvosWriter for a dataset whose pack is Annotations/ (YouTube-VOS, MOSE), else DAVIS's."""
    pack = submission.PACKS.get(dataset)
    annotations = pack is not None and pack.prefix == submission.ANNOTATIONS + '/'
    return (YtvosWriter if annotations else DavisWriter)(out_dir, probabilities)
