"""Videos to segment, each with its objects' given masks (docs/segmentation.md, "Sources").

Sources: `vos_video` records (DAVIS 2016 / 2017, YouTube-VOS), a raw DAVIS root
(JPEGImages/480p, Annotations/480p and the split listing of the DAVIS 2017 trainval release or,
for 2016, of the original DAVIS 2016 release: datasets.davis.split_listing), a raw YouTube-VOS
split (<split>/meta.json, JPEGImages, Annotations with each object's first mask), or a folder of
frames (JPEG or PNG, told apart by content) plus one palette mask of its first frame (which may
lie in the same folder). Every source yields `Video`s whose frames are decoded only when the
segmenter asks for them, or a `SourceError` (path, reason) for a video that cannot be
segmented.

Objects: DAVIS 2017 and a frames folder take the ids present in the first mask (later ids are
not targets, the DAVIS protocol); DAVIS 2016 is one object, every non-zero index; YouTube-VOS
objects come from meta.json and start at their first listed frame, whose mask is given.
"""
from __future__ import absolute_import, division, print_function

import collections
import io
import os

import numpy as np

from datasets import davis as davis_data
from datasets import fileio, images
from datasets import ytvos as ytvos_data
from datasets.errors import InputError
from schemas.vos_video import DAVIS2016, DAVIS2017, META_LISTED, YTVOS2018

FRAME_EXTENSIONS = ('.jpg', '.jpeg', '.png')

VideoObject = collections.namedtuple('VideoObject', [
    'id',            # palette index written for this object
    'first_frame',   # index of the frame whose mask is given
    'mask',          # uint8 {0, 1} [H, W]: the given mask, at the frame's resolution
])


class SourceError(ValueError):
    """A video (or source) that cannot be segmented: `path` and a one-line `reason`."""

    def __init__(self, path, reason):
        super(SourceError, self).__init__('%s: %s' % (path, reason))
        self.path, self.reason = path, reason


class Video(object):
    """One video: frame names, size, objects, lazily decoded frames.

    read_frame(t) -> encoded image bytes; output_frames: indices whose result is written
    (YouTube-VOS: the frames of meta.json; otherwise every frame)."""

    def __init__(self, name, dataset, frame_names, size, objects, read_frame, where,
                 output_frames=None):
        self.name, self.dataset, self.frame_names = name, dataset, list(frame_names)
        self.size, self.objects, self._read, self.where = tuple(size), objects, read_frame, where
        self.output_frames = set(range(len(self.frame_names)) if output_frames is None
                                 else output_frames)

    def image(self, t):
        """Frame t as RGB uint8 [H, W, 3]; SourceError when it is unreadable or of another size."""
        try:
            bgr = images.decode_frame(self._read(t))
        except InputError as err:
            raise SourceError('%s frame %s' % (self.where, self.frame_names[t]),
                              '%s (%s)' % (err.reason, err.detail))
        if bgr.shape[:2] != self.size:
            raise SourceError('%s frame %s' % (self.where, self.frame_names[t]),
                              'frame is %dx%d, the video is %dx%d' % (
                                  bgr.shape[1], bgr.shape[0], self.size[1], self.size[0]))
        return bgr[..., ::-1]


def _each(items, build):
    """build(item) for every item; a SourceError is yielded in place of its video, so that one
    bad video does not end the others (errors listing the source itself are raised)."""
    for item in items:
        try:
            yield build(item)
        except SourceError as err:
            yield err


def _objects_from_labels(labels, binary, where):
    """Objects of a first-frame id map: DAVIS 2016 one object (any non-zero); else each id."""
    if binary:
        ids = [1] if (labels > 0).any() else []
        return [VideoObject(1, 0, (labels > 0).astype(np.uint8))] if ids else []
    ids = images.object_ids(labels)   # void (255) is never an object
    if not ids:
        raise SourceError(where, 'the first-frame mask has no object')
    return [VideoObject(i, 0, (labels == i).astype(np.uint8)) for i in ids]


def _read_bytes(path):
    """A frame's or mask's bytes (regular files only: a named pipe never blocks), warning once
    per folder about frames whose EXIF rotation is ignored; SourceError naming the path."""
    try:
        data = fileio.read_bytes(path)
    except (IOError, OSError) as err:
        raise SourceError(fileio.printable(path), 'cannot read: %s' % (err.strerror or err))
    if images.image_format(data) == 'jpeg':
        images.warn_orientation(data, path)
    return data


def _mask(path):
    try:
        return images.read_index_png(_read_bytes(path))
    except InputError as err:
        raise SourceError(path, '%s (%s)' % (err.reason, err.detail))


def _frames_in(folder, besides=None):
    """Sorted frame file names of a folder, without the file `besides` (a mask kept there)."""
    if not os.path.isdir(folder):
        raise SourceError(folder, 'frame folder does not exist')
    skip = os.path.realpath(besides) if besides else None
    names = sorted(n for n in os.listdir(folder) if n.lower().endswith(FRAME_EXTENSIONS)
                   and os.path.realpath(os.path.join(folder, n)) != skip)
    if not names:
        raise SourceError(folder, 'no frames (%s)' % ', '.join(FRAME_EXTENSIONS))
    return names


def _image_size(path):
    """(height, width) of the stored pixel grid (PIL does not apply EXIF orientation)."""
    from PIL import Image
    data = _read_bytes(path)
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size[1], image.size[0]
    except (IOError, OSError) as err:
        raise SourceError(path, 'unreadable image: %s' % err)


def _check_size(mask, size, where):
    if mask.shape != tuple(size):
        raise SourceError(where, 'mask is %dx%d, the frames are %dx%d' % (
            mask.shape[1], mask.shape[0], size[1], size[0]))


def folder_video(frames_dir, mask_path, name=None):
    """A folder of frames (sorted by name) and the palette mask of its first frame (not a frame
    when it lies in the folder)."""
    files = _frames_in(frames_dir, besides=mask_path)
    paths = [os.path.join(frames_dir, n) for n in files]
    size = _image_size(paths[0])
    labels = _mask(mask_path)
    _check_size(labels, size, mask_path)
    return Video(name or os.path.basename(os.path.normpath(frames_dir)), 'frames',
                 [os.path.splitext(n)[0] for n in files], size,
                 _objects_from_labels(labels, False, mask_path),
                 lambda t: _read_bytes(paths[t]), frames_dir)


def davis_videos(root, year='2017', split='val', names=None):
    """Videos of a raw DAVIS split (480p), objects from each sequence's first annotation; the
    split listing of either DAVIS layout (the evaluator's)."""
    try:
        _, sequences = davis_data.split_listing(root, year, split)
    except InputError as err:
        raise SourceError(err.path, err.detail)

    def build(sequence):
        frames_dir = davis_data.image_dir(root, sequence)
        files = _frames_in(frames_dir)
        first = os.path.join(davis_data.annotation_dir(root, sequence),
                             os.path.splitext(files[0])[0] + '.png')
        paths = [os.path.join(frames_dir, n) for n in files]
        size = _image_size(paths[0])
        labels = _mask(first)
        _check_size(labels, size, first)
        return Video(sequence, DAVIS2016 if year == '2016' else DAVIS2017, [os.path.splitext(n)[0] for n in files], size,
                     _objects_from_labels(labels, year == '2016', first),
                     lambda t: _read_bytes(paths[t]), frames_dir)
    return _each(names or sequences, build)


def ytvos_videos(root, split='valid', names=None):
    """Videos of a raw YouTube-VOS split: meta.json objects, each from its first listed frame."""
    try:
        meta = ytvos_data.read_meta(root, split)
    except (IOError, OSError, ValueError) as err:
        raise SourceError(ytvos_data.meta_path(root, split), str(err))

    def build(video):
        if video not in meta:
            raise SourceError(ytvos_data.meta_path(root, split), 'no video %s' % video)
        frames_dir = ytvos_data.image_dir(root, split, video)
        files = _frames_in(frames_dir)
        stems = [os.path.splitext(n)[0] for n in files]
        paths = [os.path.join(frames_dir, n) for n in files]
        size = _image_size(paths[0])
        objects, listed = [], set()
        for key, obj in sorted(meta[video]['objects'].items(), key=lambda kv: int(kv[0])):
            listed |= set(obj['frames'])
            first = obj['frames'][0]
            if first not in stems:
                raise SourceError(frames_dir, 'object %s starts at %s, which has no frame' % (
                    key, first))
            path = os.path.join(ytvos_data.annotation_dir(root, split, video), first + '.png')
            labels = _mask(path)
            _check_size(labels, size, path)
            objects.append(VideoObject(int(key), stems.index(first),
                                       (labels == int(key)).astype(np.uint8)))
        return Video(video, YTVOS2018, stems, size, objects,
                     lambda t: _read_bytes(paths[t]), frames_dir,
                     [i for i, s in enumerate(stems) if s in listed])
    return _each(names or sorted(meta), build)


def _ragged(record, name):
    """Per-object rows of a ragged field of a decoded vos_video record."""
    values = record[name]
    lengths = record.get(name + '_row_lengths')
    if lengths is None:
        return [np.asarray(v) for v in values]
    splits = np.concatenate([[0], np.cumsum(lengths)]).astype(int)
    return [np.asarray(values[splits[i]:splits[i + 1]]) for i in range(len(lengths))]


def _text(value):
    return value.decode('utf-8') if isinstance(value, bytes) else str(value)


def record_video(record, where):
    """A Video from one decoded vos_video record (schemas.vos_video.read)."""
    name = _text(record['video_id'])
    dataset = _text(record['dataset'])
    size = (int(record['height']), int(record['width']))
    frames = list(record['frame_image'])
    masks = list(record['frame_mask'])
    objects, listed = [], set()
    for obj_id, first, rows in zip(record['object_ids'], record['object_first_frame'],
                                   _ragged(record, 'object_frames')):
        listed |= set(int(t) for t in rows)
        if not masks[first]:
            raise SourceError('%s video %s' % (where, name),
                              'object %d has no mask at its first frame' % obj_id)
        labels = images.read_index_png(masks[first])
        objects.append(VideoObject(int(obj_id), int(first), (labels == obj_id).astype(np.uint8)))
    if not objects:
        raise SourceError('%s video %s' % (where, name), 'no object to segment')
    output = sorted(listed) if dataset in META_LISTED else None
    return Video(name, dataset, [_text(n) for n in record['frame_name']], size, objects,
                 lambda t: frames[t], '%s video %s' % (where, name), output)


def record_videos(records_dir, split, names=None):
    """Videos of a vos_video records split (`make davis-records`, `make ytvos-records`)."""
    import tensorflow as tf
    from schemas import vos_video
    from trainers import reader
    info = reader.load_info(records_dir, vos_video.SCHEMA)
    files, _ = reader.shard_files(records_dir, info, split)
    wanted = set(names or ())

    def records():
        for path in files:
            for serialized in tf.compat.v1.io.tf_record_iterator(path):
                record = vos_video.read(serialized)
                if not wanted or _text(record['video_id']) in wanted:
                    yield path, record
    return _each(records(), lambda item: record_video(item[1], item[0]))
