"""YouTube-VOS 2019 and MOSE samples in their release layouts (docs/datasets.md), rendered as the
YouTube-VOS 2018 sample (sampledata/vos.py).

    youtube-vos-2019/{train,valid}/...   the 2018 layout; categories set per video so that one
                                         ('lizard') is in one train video only, and valid has one
                                         ('turtle') that train lacks
    MOSE/train/{JPEGImages,Annotations}/<video>/00000.{jpg,png}   every frame, every mask
    MOSE/valid/JPEGImages/<video>/*.jpg, MOSE/valid/Annotations/<video>/00000.png   first mask
    (no meta.json: MOSE ships none)
"""
from __future__ import absolute_import, division, print_function

import os
import shutil

import numpy as np

from datasets.palette import palette_png_bytes
from sampledata import vos
from sampledata.common import jpeg_bytes, rng_for, write_bytes

YTVOS2019_ROOT = 'youtube-vos-2019'
MOSE_ROOT = 'MOSE'
# The first object's category per train video (in turn), the others' per object index: 'lizard'
# is only ever a sixth video's first object, 'turtle' only in valid.
FIRST_CATEGORIES = ('person', 'dog', 'person', 'cat', 'dog', 'lizard')
OTHER_CATEGORIES = ('person', 'dog', 'cat')
VALID_ONLY_CATEGORY = 'turtle'


def _ytvos2019_video(seed, split, index, width, height, frames):
    video, names, rendered, objects = vos._render_ytvos_video(
        seed, 'ytvos2019-' + split, index, width, height, frames)
    for key, obj in objects.items():
        k = int(key) - 1
        if split == 'valid' and k == 0:
            obj['category'] = VALID_ONLY_CATEGORY
        elif k == 0:
            obj['category'] = FIRST_CATEGORIES[index % len(FIRST_CATEGORIES)]
        else:
            obj['category'] = OTHER_CATEGORIES[k % len(OTHER_CATEGORIES)]
    return video, names, rendered, objects


def write_ytvos2019(out_dir, seed, width, height, train=6, valid=2, frames=4, faults=None):
    """Write the YouTube-VOS 2019 sample under out_dir/youtube-vos-2019; its manifest entry."""
    return vos.write_ytvos(out_dir, seed, width, height, train, valid, frames, faults,
                           YTVOS2019_ROOT, _ytvos2019_video, _ytvos2019_faults)


def _ytvos2019_faults(root, seed, width, height, frames, meta, faults):
    """A mask painted with an id meta.json does not list, a frame of another size, a listed
    video without frames (the 2018 sample has the other kinds)."""
    rendered = {}
    for index in range(2):
        video, names, frames_of, objects = _ytvos2019_video(seed, 'train-faults', index, width,
                                                            height, max(frames, 3))
        vos._write_ytvos_frames(root, 'train', video, names, frames_of,
                                {n: (lambda labels: labels) for n in names})
        meta[video] = {'objects': objects}
        rendered[index] = (video, names, frames_of)
    video, names, frames_of = rendered[0]
    labels = frames_of[0][1].copy()
    labels[:4, :4] = 9
    mask = os.path.join('train', 'Annotations', video, names[0] + '.png')
    write_bytes(os.path.join(root, mask), palette_png_bytes(labels))
    faults.add('ytvos2019', 'unknown_object_id', mask, 'mask holds id 9, meta.json lists '
               'objects %s' % ', '.join(sorted(meta[video]['objects'], key=int)))
    video, names, frames_of = rendered[1]
    frame = os.path.join('train', 'JPEGImages', video, names[1] + '.jpg')
    write_bytes(os.path.join(root, frame), jpeg_bytes(
        np.ascontiguousarray(frames_of[1][0][::2, ::2])))
    faults.add('ytvos2019', 'frame_size_mismatch', frame, 'frame %dx%d, video %dx%d'
               % ((width + 1) // 2, (height + 1) // 2, width, height))
    video = vos._video_id(rng_for(seed, 'ytvos2019', 'train-faults', 'not-on-disk'))
    meta[video] = {'objects': {'1': {'category': 'person', 'frames': ['00000']}}}
    faults.add('ytvos2019', 'empty_sequence', os.path.join('train', 'JPEGImages', video),
               'video in meta.json, no directory on disk')


# -- MOSE ---------------------------------------------------------------------------------------

def _mose_video(seed, split, index, width, height, frames):
    """(video name, frame names, [(rgb, labels)]): objects all in frame 0, every frame."""
    rng = rng_for(seed, 'mose', split, index)
    video = vos._video_id(rng)[:8]
    motions = vos._motions(rng, rng.randint(1, 4), late_object=False)
    names = ['%05d' % t for t in range(frames)]
    return video, names, vos.render_video(rng, width, height, list(range(frames)), motions,
                                          speed=0.01)


def _write_mose_video(root, split, video, names, rendered, masked):
    """Frames and the masks of the frames in `masked`."""
    vos._write_ytvos_frames(root, split, video, names, rendered,
                            {n: (lambda labels: labels) for n in names if n in masked})


def write_mose(out_dir, seed, width, height, train=4, valid=2, frames=5, faults=None):
    """Write the MOSE sample under out_dir/MOSE; returns its manifest entry."""
    root = os.path.join(out_dir, MOSE_ROOT)
    counts = {}
    for split, num_videos in (('train', train), ('valid', valid)):
        objects = 0
        for index in range(num_videos):
            video, names, rendered = _mose_video(seed, split, index, width, height, frames)
            _write_mose_video(root, split, video, names, rendered,
                              names if split == 'train' else names[:1])
            objects += len(set(np.unique(rendered[0][1])) - {0})
        counts[split] = {'videos': num_videos, 'frames': frames * num_videos,
                         'objects': objects}
    if faults is not None:
        _mose_faults(root, seed, width, height, frames, faults)
    return {'root': MOSE_ROOT, 'frame_size': [width, height], 'frame_step': 1, 'clean': counts}


def _mose_faults(root, seed, width, height, frames, faults):
    """A mask of another size, a train frame without its mask, a video without its mask folder,
    a mask folder without frames."""
    def add_video(index):
        video, names, rendered = _mose_video(seed, 'train-faults', index, width, height,
                                             max(frames, 3))
        _write_mose_video(root, 'train', video, names, rendered, names)
        return video, names

    video, names = add_video(0)
    mask = os.path.join('train', 'Annotations', video, names[1] + '.png')
    write_bytes(os.path.join(root, mask), palette_png_bytes(
        np.ones((height // 2, width // 2), np.uint8)))
    faults.add('mose', 'mask_wrong_size', mask, 'mask %dx%d, frame %dx%d'
               % (width // 2, height // 2, width, height))
    video, names = add_video(1)
    mask = os.path.join('train', 'Annotations', video, names[2] + '.png')
    os.remove(os.path.join(root, mask))
    faults.add('mose', 'missing_mask', mask, 'a train frame without its mask (a warning)')
    video, names = add_video(2)
    shutil.rmtree(os.path.join(root, 'train', 'Annotations', video))
    faults.add('mose', 'missing_annotations', os.path.join('train', 'Annotations', video),
               'frames without a mask folder')
    video, names = add_video(3)
    shutil.rmtree(os.path.join(root, 'train', 'JPEGImages', video))
    faults.add('mose', 'empty_sequence', os.path.join('train', 'JPEGImages', video),
               'masks without frames')
