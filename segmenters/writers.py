"""Results in the official layouts.

* DAVIS (and a frames folder): OUT/<seq>/<frame>.png, palette PNGs (the DAVIS / PASCAL VOC
  palette) of object ids at the frame's original resolution: the folder the DAVIS toolkits and
  `python -m evaluation.davis --results OUT` read.
* YouTube-VOS: OUT/Annotations/<video>/<frame>.png for every frame of meta.json, and
  OUT/submission.zip holding the Annotations/ frames this run wrote (what the challenge server
  takes; frames left in OUT by earlier runs are not included); when some videos were rejected or
  only a subset was asked for, OUT/submission-incomplete.zip instead (not ready to upload).
* Optional per-object probabilities: OUT/probabilities/<seq>/<object id>/<frame>.npy (float32 at
  the network's resolution, the reference's --save_score layout).
"""
from __future__ import absolute_import, division, print_function

import io
import os
import zipfile

import numpy as np

from datasets import fileio
from datasets.palette import write_palette_png
from schemas.vos_video import YTVOS2018


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
    ANNOTATIONS = 'Annotations'

    def frame_path(self, video, t):
        return os.path.join(self.out_dir, self.ANNOTATIONS, video.name,
                            video.frame_names[t] + '.png')

    SUBMISSION = 'submission.zip'
    INCOMPLETE = 'submission-incomplete.zip'

    def finish(self, incomplete=None):
        """Zip this run's frames (entries Annotations/<video>/<frame>.png) for the server:
        SUBMISSION, or INCOMPLETE when `incomplete` says why some videos are missing; an
        earlier run's zip of either name is removed first."""
        for name in (self.SUBMISSION, self.INCOMPLETE):
            if os.path.isfile(os.path.join(self.out_dir, name)):
                os.remove(os.path.join(self.out_dir, name))
        path = os.path.join(self.out_dir, self.INCOMPLETE if incomplete else self.SUBMISSION)
        with fileio.replacing(path) as tmp:   # a full disk leaves no cut-short zip to upload
            with zipfile.ZipFile(tmp, 'w', zipfile.ZIP_DEFLATED) as archive:
                for frame in sorted(self.paths):
                    archive.write(frame, os.path.relpath(frame, self.out_dir).replace(os.sep,
                                                                                      '/'))
        return [os.path.join(self.out_dir, self.ANNOTATIONS), path]


def writer_for(dataset, out_dir, probabilities=False):
    return (YtvosWriter if dataset == YTVOS2018 else DavisWriter)(out_dir, probabilities)
