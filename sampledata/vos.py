"""DAVIS 2017 and YouTube-VOS 2018 samples in their release layouts (docs/datasets.md).

    DAVIS/JPEGImages/480p/<seq>/00000.jpg
    DAVIS/Annotations/480p/<seq>/00000.png           palette PNG, pixel = object id, 255 = void
    DAVIS/ImageSets/{2016,2017}/{train,val}.txt

    youtube-vos/train/{JPEGImages,Annotations}/<video>/00000.{jpg,png}   every 5th frame
    youtube-vos/train/meta.json                       objects: category, frames
    youtube-vos/valid/JPEGImages/<video>/*.jpg
    youtube-vos/valid/Annotations/<video>/<first frame of an object>.png
    youtube-vos/valid/meta.json
"""
from __future__ import absolute_import, division, print_function

import os

import cv2
import numpy as np

from datasets.palette import VOID_LABEL, palette_png_bytes
from sampledata import fs_faults
from sampledata.common import jpeg_bytes, rng_for, write_bytes, write_json
from sampledata.render import Scene

DAVIS_ROOT = 'DAVIS'
YTVOS_ROOT = 'youtube-vos'
DAVIS_NAMES = ('drift-stripes', 'tiles-walk', 'orbit-duo', 'cross-traffic', 'star-hop',
               'check-slide', 'wave-pair', 'spin-dance', 'glide-three', 'bounce-lane')
YTVOS_CATEGORIES = ('person', 'dog', 'cat', 'horse', 'giant_panda', 'airplane', 'truck',
                    'skateboard', 'duck', 'turtle')
YTVOS_FRAME_STEP = 5   # the sample's own ground truth, not datasets.ytvos.FRAME_STEP
MIN_VISIBLE_PIXELS = 16


def render_video(rng, width, height, times, motions, speed):
    """[(rgb, labels)] at the given times; objects with < MIN_VISIBLE_PIXELS are erased from labels
    (the pixels stay in the image, as a few unannotated pixels in real data)."""
    scene = Scene(rng, width, height, max(times) + 1, motions, size_range=(0.1, 0.25), speed=speed)
    frames = []
    for t in times:
        rgb, labels, _ = scene.render(t)
        ids, counts = np.unique(labels, return_counts=True)
        for object_id, count in zip(ids, counts):
            if object_id and count < MIN_VISIBLE_PIXELS:
                labels[labels == object_id] = 0
        frames.append((rgb, labels))
    return frames


def _motions(rng, num_objects, late_object):
    motions = ['stay'] * num_objects
    if late_object:
        motions.append('enter')
    elif num_objects > 1 and rng.rand() < 0.5:
        motions[-1] = 'leave'
    return motions


# -- DAVIS ------------------------------------------------------------------------------------

def void_outline(labels):
    """`labels` with the background pixels that touch an object set to the void label: the thin
    "ignore" outline of real DAVIS 2017 masks (objects keep every pixel)."""
    grown = cv2.dilate((labels > 0).astype(np.uint8), np.ones((3, 3), np.uint8))
    return np.where((labels == 0) & (grown > 0), VOID_LABEL, labels).astype(np.uint8)


def _write_davis_sequence(root, seed, name, width, height, num_frames, late_object,
                          pattern='%05d', void=False):
    """Render and write one sequence; `void`: its masks get a void outline. Returns the object
    ids of frame 0."""
    rng = rng_for(seed, 'davis', name)
    frames = render_video(rng, width, height, list(range(num_frames)),
                          _motions(rng, rng.randint(1, 4), late_object), speed=0.01)
    for t, (rgb, labels) in enumerate(frames):
        stem = pattern % t
        write_bytes(os.path.join(root, 'JPEGImages', '480p', name, stem + '.jpg'), jpeg_bytes(rgb))
        write_bytes(os.path.join(root, 'Annotations', '480p', name, stem + '.png'),
                    palette_png_bytes(void_outline(labels) if void else labels))
    return sorted(set(np.unique(frames[0][1]).tolist()) - {0})


def _write_lines(path, names):
    write_bytes(path, ''.join(n + '\n' for n in names).encode('utf-8'))


def write_davis(out_dir, seed, width, height, train=4, val=2, frames=8, faults=None):
    """Write the DAVIS sample under out_dir/DAVIS; returns its manifest entry. The sequences
    that are DAVIS 2017 only (not listed for 2016) have a void outline in their masks, as the
    real 2017 annotations; the 2016 ones stay 0 / object ids."""
    root = os.path.join(out_dir, DAVIS_ROOT)
    names = {'train': list(DAVIS_NAMES[:train]), 'val': list(DAVIS_NAMES[train:train + val])}
    davis2016 = {'train': names['train'][:2], 'val': names['val'][:1]}
    counts = {}
    for split in ('train', 'val'):
        objects = 0
        for i, name in enumerate(names[split]):
            # the first train sequence has an object that enters after frame 0 (ignored by the
            # DAVIS 2017 protocol, which takes object ids from frame 0)
            objects += len(_write_davis_sequence(root, seed, name, width, height, frames,
                                                 late_object=(split == 'train' and i == 0),
                                                 void=name not in davis2016[split]))
        counts[split] = {'sequences': len(names[split]), 'frames': frames * len(names[split]),
                         'objects_in_frame0': objects}
    listed_train = list(names['train'])
    if faults is not None:
        listed_train += _inject_davis_faults(root, seed, width, height, frames, faults)
    _write_lines(os.path.join(root, 'ImageSets', '2017', 'train.txt'), listed_train)
    _write_lines(os.path.join(root, 'ImageSets', '2017', 'val.txt'), names['val'])
    # DAVIS 2016 is a subset of the 2017 sequences
    _write_lines(os.path.join(root, 'ImageSets', '2016', 'train.txt'), davis2016['train'])
    _write_lines(os.path.join(root, 'ImageSets', '2016', 'val.txt'), davis2016['val'])
    return {'root': DAVIS_ROOT, 'frame_size': [width, height], 'clean': counts,
            'davis2016': davis2016, 'void_outline': [n for split in ('train', 'val')
                                                       for n in names[split]
                                                       if n not in davis2016[split]]}


def _inject_davis_faults(root, seed, width, height, frames, faults):
    """One bad input per extra sequence; returns the names to list in ImageSets/2017/train.txt."""
    frames = max(frames, 3)
    names = ['fault-mask-size', 'fault-truncated-jpeg', 'fault-missing-frame', 'fault-empty']
    for name in names[:3]:
        _write_davis_sequence(root, seed, name, width, height, frames, late_object=False)
    mask = os.path.join('Annotations', '480p', names[0], '00001.png')
    labels = np.zeros((height // 2, width // 2), np.uint8)
    labels[5:15, 5:15] = 1
    write_bytes(os.path.join(root, mask), palette_png_bytes(labels))
    faults.add('davis', 'mask_wrong_size', mask, 'mask %dx%d, frame %dx%d'
               % (width // 2, height // 2, width, height))
    jpeg = os.path.join('JPEGImages', '480p', names[1], '00001.jpg')
    with open(os.path.join(root, jpeg), 'rb') as f:
        data = f.read()
    write_bytes(os.path.join(root, jpeg), data[:len(data) // 3])
    faults.add('davis', 'truncated_jpeg', jpeg, 'JPEG cut to a third')
    jpeg = os.path.join('JPEGImages', '480p', names[2], '00002.jpg')
    os.remove(os.path.join(root, jpeg))
    faults.add('davis', 'missing_frame', jpeg, 'mask present, JPEG absent')
    for tree in ('JPEGImages', 'Annotations'):
        os.makedirs(os.path.join(root, tree, '480p', names[3]))
    faults.add('davis', 'empty_sequence', os.path.join('JPEGImages', '480p', names[3]),
               'listed in ImageSets/2017/train.txt, no frames')
    return names + _more_davis_faults(root, seed, width, height, frames, faults)


def _more_davis_faults(root, seed, width, height, frames, faults):
    """A frame that exists but cannot be read, a gap in the frame numbers, a sequence listed in
    ImageSets that is not on disk at all."""
    frames = max(frames, 4)
    names = ['fault-unreadable', 'fault-gap', 'fault-not-on-disk']
    for name in names[:2]:
        _write_davis_sequence(root, seed, name, width, height, frames, late_object=False)
    jpeg = os.path.join('JPEGImages', '480p', names[0], '00001.jpg')
    os.remove(os.path.join(root, jpeg))
    os.makedirs(os.path.join(root, jpeg))  # a directory: tests may run as root
    faults.add('davis', 'unreadable_file', jpeg, 'frame path is a directory')
    for tree, ext in (('JPEGImages', '.jpg'), ('Annotations', '.png')):
        os.remove(os.path.join(root, tree, '480p', names[1], '00002' + ext))
    faults.add('davis', 'frame_gap', os.path.join('JPEGImages', '480p', names[1]),
               'frame 00002 absent (image and mask): written with a warning')
    faults.add('davis', 'empty_sequence', os.path.join('JPEGImages', '480p', names[2]),
               'listed in ImageSets/2017/train.txt, not on disk')
    mask = os.path.join('Annotations', '480p', names[0], '00003.png')
    os.remove(os.path.join(root, mask))
    faults.add('davis', 'missing_mask', mask, 'frame 00003 has no mask (written, has_mask 0)')
    # frames 0.jpg ... 10.jpg: ordered by number, 2 before 10 (not a fault: nothing reported)
    unpadded = 'fault-unpadded'
    _write_davis_sequence(root, seed, unpadded, width, height, 11, late_object=False,
                          pattern='%d')
    faults.add('davis', 'unpadded_frame_names', os.path.join('JPEGImages', '480p', unpadded),
               'frames 0 ... 10 without zero padding (written in number order, not reported)')
    _write_davis_sequence(root, seed, fs_faults.SEQUENCE, width, height, 8, late_object=False)
    fs_faults.inject_davis(root, faults)
    return names + [unpadded, fs_faults.SEQUENCE]


# -- YouTube-VOS ------------------------------------------------------------------------------

def _video_id(rng):
    return ''.join('0123456789abcdef'[i] for i in rng.randint(16, size=10))


def _render_ytvos_video(seed, split, index, width, height, num_frames):
    rng = rng_for(seed, 'ytvos', split, index)
    video = _video_id(rng)
    num_objects = rng.randint(1, 4)
    motions = _motions(rng, num_objects, late_object=rng.rand() < 0.5)
    names = ['%05d' % (YTVOS_FRAME_STEP * i) for i in range(num_frames)]
    frames = render_video(rng, width, height, [YTVOS_FRAME_STEP * i for i in range(num_frames)],
                          motions, speed=0.004)
    categories = [YTVOS_CATEGORIES[i] for i in rng.randint(len(YTVOS_CATEGORIES), size=len(motions))]
    objects = {}
    for k in range(len(motions)):
        listed = [n for n, (_, labels) in zip(names, frames) if (labels == k + 1).any()]
        if listed:
            objects[str(k + 1)] = {'category': categories[k], 'frames': listed}
    return video, names, frames, objects


def _write_ytvos_frames(root, split, video, names, frames, mask_frames):
    for name, (rgb, labels) in zip(names, frames):
        write_bytes(os.path.join(root, split, 'JPEGImages', video, name + '.jpg'), jpeg_bytes(rgb))
        if name in mask_frames:
            write_bytes(os.path.join(root, split, 'Annotations', video, name + '.png'),
                        palette_png_bytes(mask_frames[name](labels)))


def write_ytvos(out_dir, seed, width, height, train=4, valid=2, frames=6, faults=None,
                root_name=YTVOS_ROOT, render=None, inject=None):
    """Write the YouTube-VOS sample under out_dir/youtube-vos; returns its manifest entry.
    `root_name`, `render` (of _render_ytvos_video's signature) and `inject` (of
    _inject_ytvos_faults') make another release in the same layout (sampledata/vos_more.py)."""
    render, inject = render or _render_ytvos_video, inject or _inject_ytvos_faults
    root = os.path.join(out_dir, root_name)
    counts = {}
    for split, num_videos in (('train', train), ('valid', valid)):
        meta = {}
        for index in range(num_videos):
            video, names, rendered, objects = render(seed, split, index, width, height, frames)
            if split == 'train':
                masks = {n: (lambda labels: labels) for n in names}
            else:
                masks = _first_appearance_masks(objects)
            _write_ytvos_frames(root, split, video, names, rendered, masks)
            meta[video] = {'objects': objects}
        counts[split] = {'videos': len(meta), 'frames': frames * len(meta),
                         'objects': sum(len(v['objects']) for v in meta.values())}
        if faults is not None and split == 'train':
            inject(root, seed, width, height, frames, meta, faults)
        write_json(os.path.join(root, split, 'meta.json'), {'videos': meta})
    return {'root': root_name, 'frame_size': [width, height], 'frame_step': YTVOS_FRAME_STEP,
            'clean': counts}


def _first_appearance_masks(objects):
    """valid split: a mask only on each object's first frame, holding the objects that start there."""
    starts = {}
    for object_id, obj in objects.items():
        starts.setdefault(obj['frames'][0], []).append(int(object_id))

    def keep(ids):
        return lambda labels: np.where(np.isin(labels, ids), labels, 0).astype(np.uint8)
    return {name: keep(ids) for name, ids in starts.items()}


def _inject_ytvos_faults(root, seed, width, height, frames, meta, faults):
    frames = max(frames, 3)

    def add_video(index):
        video, names, rendered, objects = _render_ytvos_video(seed, 'train-faults', index, width,
                                                              height, frames)
        _write_ytvos_frames(root, 'train', video, names, rendered,
                            {n: (lambda labels: labels) for n in names})
        meta[video] = {'objects': objects}
        return video, names

    video, names = add_video(0)
    first_id = sorted(meta[video]['objects'], key=int)[0]
    del meta[video]['objects'][first_id]
    faults.add('ytvos', 'unknown_object_id', os.path.join('train', 'Annotations', video),
               'masks contain object id %s, meta.json does not list it' % first_id)

    video, names = add_video(1)
    some_id = sorted(meta[video]['objects'], key=int)[0]
    ghost = '%05d' % (YTVOS_FRAME_STEP * (frames + 2))
    meta[video]['objects'][some_id]['frames'].append(ghost)
    faults.add('ytvos', 'meta_frame_without_image',
               os.path.join('train', 'JPEGImages', video, ghost + '.jpg'),
               'meta.json lists frame %s of object %s, no image or mask' % (ghost, some_id))

    video, names = add_video(2)
    mask = os.path.join('train', 'Annotations', video, names[1] + '.png')
    small = np.zeros((height // 2, width // 2), np.uint8)
    small[2:10, 2:10] = int(sorted(meta[video]['objects'], key=int)[0])
    write_bytes(os.path.join(root, mask), palette_png_bytes(small))
    faults.add('ytvos', 'mask_wrong_size', mask, 'mask %dx%d, frame %dx%d'
               % (width // 2, height // 2, width, height))

    fs_faults.inject_ytvos(root, faults)
    video = _video_id(rng_for(seed, 'ytvos', 'train-faults', 'empty'))
    os.makedirs(os.path.join(root, 'train', 'JPEGImages', video))
    os.makedirs(os.path.join(root, 'train', 'Annotations', video))
    meta[video] = {'objects': {'1': {'category': YTVOS_CATEGORIES[0], 'frames': ['00000']}}}
    faults.add('ytvos', 'empty_sequence', os.path.join('train', 'JPEGImages', video),
               'video in meta.json with no frames')

    video = _video_id(rng_for(seed, 'ytvos', 'train-faults', 'not-on-disk'))
    meta[video] = {'objects': {'1': {'category': YTVOS_CATEGORIES[0], 'frames': ['00000']}}}
    faults.add('ytvos', 'empty_sequence', os.path.join('train', 'JPEGImages', video),
               'video in meta.json, no directory on disk')
    _more_ytvos_faults(root, add_video, meta, faults)


def _more_ytvos_faults(root, add_video, meta, faults):
    """A video missing its leading frame, one on disk but not in meta.json, object entries of
    meta.json that cannot be used."""
    video, names = add_video(3)
    for tree, ext in (('JPEGImages', '.jpg'), ('Annotations', '.png')):
        os.remove(os.path.join(root, 'train', tree, video, names[0] + ext))
    for obj in meta[video]['objects'].values():
        obj['frames'] = [n for n in obj['frames'] if n != names[0]]
    meta[video]['objects'] = {k: o for k, o in meta[video]['objects'].items() if o['frames']}
    faults.add('ytvos', 'frame_gap', os.path.join('train', 'JPEGImages', video),
               'frame %s absent (image and mask): written with a warning' % names[0])

    video, names = add_video(4)
    del meta[video]
    faults.add('ytvos', 'video_not_in_meta', os.path.join('train', 'JPEGImages', video),
               'video on disk, not listed in meta.json')

    video, names = add_video(5)
    objects = meta[video]['objects']
    objects['x1'] = {'category': YTVOS_CATEGORIES[0], 'frames': [names[0]]}
    objects['200'] = 'not an object entry'
    where = os.path.join('train', 'meta.json') + '#videos/%s/objects/' % video
    faults.add('ytvos', 'bad_object_id', where + 'x1', 'object key is not an integer')
    faults.add('ytvos', 'bad_meta_entry', where + '200', 'object entry is a string')
