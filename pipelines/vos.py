"""DAVIS 2016 / 2017 and YouTube-VOS 2018 -> OSMN video records, one `vos_video` record per video.

The layouts, listings and meta.json checks are `datasets.davis`, `datasets.ytvos` and
`datasets.frames`; this module is the record assembly they share and the Beam plumbing. Over
400 lines because the shared converter and its two dataset subclasses are one family (a subclass
only answers the hooks of the shared one).

DAVIS (docs/pipelines.md, "DAVIS and YouTube-VOS records"): DAVIS 2017 takes its object ids from
frame 0, as the reference does (ids that appear later are ignored and counted); DAVIS 2016 is one
object, id 1 = every non-zero palette index (its stored masks are binary). Void (255) is never an
object and stays 255 in DAVIS 2017 / YouTube-VOS masks (datasets/palette.py says why).

YouTube-VOS 2018 (sections 3.2, 3.5): objects, categories and frame lists from <split>/meta.json;
masks from Annotations where they exist (valid: only each object's first frame; other frames get
has_mask 0). Guide validity is tested on masks resized to 448x256 (nearest), as the reference.

Per object: listed frames, non-blank frames, and valid-guide frames (area > 0.3 % of the image and
> 0.2 x its box area, with the reference's box area (xmax - xmin) * (ymax - ymin)). Masks are
stored as single-channel PNGs of palette indices (tf.image.decode_png would turn palette PNGs into
colours). Unit of work: one video.
python -m pipelines davis|ytvos --data <root> --out <dir>
YouTube-VOS 2019, MOSE, the composite transforms of both and --holdout: pipelines/vos_sources.py.
"""
from __future__ import absolute_import, division, print_function

import collections

import cv2
import numpy as np

from datasets import davis as davis_data
from datasets import fileio, images
from datasets import ytvos as ytvos_data
from datasets.errors import InputError
from datasets.frames import frame_gaps, frame_order, frame_paths
from datasets.numbers import relative_name_problem
from pipelines import cli
from pipelines.beam_steps import ConvertToShards
from pipelines.converter import Converter
from pipelines.dead_letters import describe, flag_orientation, name_problem
from schemas import dataset_info, vos_video

LABEL_VALID_RATIO = 0.003
BBOX_VALID_RATIO = 0.2
DEFAULT_VIDEOS_PER_SHARD = 8

Video = collections.namedtuple('Video', 'split name')
# One usable frame: its name, JPEG bytes and mask as the record stores it (None: not annotated).
Frame = collections.namedtuple('Frame', 'name data labels')
VideoObject = collections.namedtuple('VideoObject', 'id category frames first_frame')


def valid_guide(area, box, image_area):
    """The reference's guide test for one object mask (section 3.4)."""
    if box is None:
        return False
    box_area = (box[2] - box[0]) * (box[3] - box[1])
    return area > LABEL_VALID_RATIO * image_area and area > BBOX_VALID_RATIO * box_area


def _resize_nearest(labels, size):
    from PIL import Image
    return np.array(Image.fromarray(labels).resize(size, Image.NEAREST))


def _boxes_and_areas(labels, object_ids):
    counts = images.label_counts(labels)
    boxes, areas = [], []
    for object_id in object_ids:
        area = int(counts[object_id])
        boxes.append(images.tight_box(labels == object_id) if area else None)
        areas.append(area)
    return boxes, areas


def object_stats(labels, object_ids, guide_size=None):
    """Per object of one frame: tight box (None if absent), pixel area, and whether the frame is
    a valid guide for it (tested on the mask resized to guide_size when given, as YouTube-VOS)."""
    boxes, areas = _boxes_and_areas(labels, object_ids)
    if guide_size is None:
        guide_boxes, guide_areas, guide_pixels = boxes, areas, labels.size
    else:
        small = _resize_nearest(labels, guide_size)
        guide_boxes, guide_areas = _boxes_and_areas(small, object_ids)
        guide_pixels = small.size
    valid = [valid_guide(a, b, float(guide_pixels)) for a, b in zip(guide_areas, guide_boxes)]
    return boxes, areas, valid


class VosConverter(Converter):
    """The video assembly both datasets share; subclasses list frames and objects."""

    progress_unit = 'frames'
    guide_size = None  # (width, height) to test guide validity at; None: native
    frame_step = 1     # the dataset's step between frame numbers (YouTube-VOS: every 5th)
    every_frame_annotated = False  # a frame without its mask is a warning (DAVIS 480p)
    holdout = None     # pipelines.vos_sources.Holdout: train videos written to the holdout split

    def __init__(self, data_root):
        self.data_root = data_root

    def setup(self):
        cv2.setNumThreads(1)

    # -- dataset specifics ----------------------------------------------------------------------
    def frame_paths(self, video, result):
        """[(name, image path, mask path or None)] in frame order."""
        raise NotImplementedError

    def objects(self, video, frames, dropped, result):
        """[VideoObject] with frame indices into `frames`; `dropped`: names of frames rejected
        while reading (already reported). May reject more with `result`."""
        raise NotImplementedError

    def stored_labels(self, labels):
        """A frame's palette indices as the record stores them (DAVIS 2016: binary)."""
        return labels

    def unit_problem(self, video):
        """(reason, path, detail) when the video cannot be converted at all, else None."""
        return name_problem(self.video_path(video))

    def annotates_every_frame(self, video):
        """Whether a frame of this video without its mask is a warning (MOSE: train only)."""
        return self.every_frame_annotated

    def record_split(self, video):
        """The record's split: the common name of the video's, or the holdout split."""
        if self.holdout is not None and self.holdout.holds(video):
            return vos_video.HOLDOUT_SPLIT
        return dataset_info.canonical_split(video.split)

    def unseen(self, video, obj):
        """1 when the object's category is held out of train (a --holdout run), else 0."""
        return int(self.holdout is not None and self.holdout.is_unseen(video, obj.category))

    # -- shared ---------------------------------------------------------------------------------
    def _read_frame(self, image_path, mask_path, size, result):
        """(JPEG bytes, labels or None, frame size); InputError names the file at fault."""
        data = images.read_file(image_path)
        height, width = images.decode_jpeg(data).shape[:2]
        flag_orientation(result, image_path, data)
        result.frame_size(height, width)
        if size is not None and (height, width) != size:
            raise InputError('frame_size_mismatch', 'frame is %dx%d, video is %dx%d'
                             % (width, height, size[1], size[0]))
        size = (height, width)
        labels = None
        if mask_path is not None:
            try:
                labels = images.read_index_png(images.read_file(mask_path, 'missing_mask'))
                if labels.shape != size:
                    raise InputError('mask_wrong_size', 'mask is %dx%d, frame is %dx%d' % (
                        labels.shape[1], labels.shape[0], size[1], size[0]))
            except InputError as err:
                err.path = mask_path
                raise
        return data, labels, size

    def _read_frames(self, video, paths, result):
        frames, size, dropped = [], None, set()
        _warn_gaps([name for name, _, _ in paths], self.frame_step, self.video_path(video),
                   result)
        if self.annotates_every_frame(video):
            _warn_missing_masks(paths, self.mask_dir(video), result)
        for name, image_path, mask_path in paths:
            result.counts['frames'] += 1
            result.seen('image')
            try:
                data, labels, size = self._read_frame(image_path, mask_path, size, result)
            except Exception as err:  # InputError, unreadable file or anything unexpected
                reason, detail = describe(err)
                result.reject('image', reason, getattr(err, 'path', None) or image_path, detail)
                dropped.add(name)
                continue
            if labels is None:
                result.counts['frames_without_mask'] += 1
            else:   # as stored: boxes, areas and guides are of the record's own masks
                labels = self.stored_labels(labels)
            frames.append(Frame(name, data, labels))
        return frames, size, dropped

    def unit_path(self, video):
        return self.video_path(video)

    def convert(self, video, result):
        unsafe = relative_name_problem(video.name)
        if unsafe:  # a listed name that would lead out of the dataset: nothing under it is read
            result.reject('unit', 'unsafe_video_name', self.listed_in(video), unsafe)
            return
        if not fileio.isdir(self.video_path(video)):
            result.reject('unit', 'empty_sequence', self.video_path(video),
                          'listed in %s but its frame directory does not exist'
                          % self.listed_in(video))
            return
        paths = self.frame_paths(video, result)
        problem = self.unit_problem(video)
        if problem:  # the video's frames go with it
            result.seen('image', len(paths))
            result.reject('unit', problem[0], problem[1], problem[2], images=len(paths))
            return
        frames, size, dropped = self._read_frames(video, paths, result)
        if not frames:
            result.reject('unit', 'empty_sequence', self.video_path(video),
                          'no usable frames')
            return
        objects = self.objects(video, frames, dropped, result)
        result.counts['videos'] += 1
        result.counts['objects'] += len(objects)
        result.counts['frames_written'] += len(frames)
        result.written('image', len(frames))
        result.seen('object', len(objects))
        result.written('object', len(objects))
        result.add_record(video.name, self._encode(video, frames, size, objects))

    def _encode(self, video, frames, size, objects):
        height, width = size
        k = len(objects)
        boxes = np.full((len(frames), k, 4), -1, np.int64)
        areas = np.zeros((len(frames), k), np.int64)
        valid = [[] for _ in objects]
        ids = [obj.id for obj in objects]
        for t, frame in enumerate(frames):
            if frame.labels is None:
                continue
            frame_boxes, frame_areas, frame_valid = object_stats(frame.labels, ids,
                                                                 self.guide_size)
            for j in range(k):
                if frame_boxes[j] is not None:
                    boxes[t, j] = frame_boxes[j]
                    areas[t, j] = frame_areas[j]
                if frame_valid[j]:
                    valid[j].append(t)
        context = dict(
            dataset=self.name, split=self.record_split(video),
            source_split=video.split, video_id=video.name, height=height,
            width=width, num_frames=len(frames),
            object_ids=[obj.id for obj in objects],
            object_category=[obj.category for obj in objects],
            object_unseen=[self.unseen(video, obj) for obj in objects],
            object_first_frame=[obj.first_frame for obj in objects],
            object_frames=[obj.frames for obj in objects],
            object_nonblank_frames=[[t for t in obj.frames if areas[t, j] > 0]
                                    for j, obj in enumerate(objects)],
            object_valid_guide_frames=[sorted(set(valid[j]) & set(obj.frames))
                                       for j, obj in enumerate(objects)])
        steps = dict(
            frame_name=[f.name for f in frames],
            frame_image=[f.data for f in frames],
            frame_mask=[images.encode_png(f.labels) if f.labels is not None else b''
                        for f in frames],
            frame_has_mask=[int(f.labels is not None) for f in frames],
            frame_object_bbox=[boxes[t] for t in range(len(frames))],
            frame_object_area=[areas[t] for t in range(len(frames))])
        return vos_video.encode(context, steps)

    def video_path(self, video):
        raise NotImplementedError


def _warn_gaps(names, step, where, result):
    gaps = frame_gaps(names, step)
    if gaps:
        before, after = gaps[0]
        first = 'before %s' % after if before is None else 'between %s and %s' % (before, after)
        result.warn('frame_gap', where, '%d gap(s) in the frame numbers (step %d), first %s'
                    % (len(gaps), step, first))


def _warn_missing_masks(paths, mask_dir, result):
    """One warning per video whose frames lack masks where the dataset annotates every frame
    (the frames are written, has_mask 0)."""
    missing = [name for name, _, mask_path in paths if mask_path is None]
    if missing:
        result.warn('missing_mask', fileio.join(mask_dir, missing[0] + '.png'),
                    '%d frame(s) without a mask, first %s; written with has_mask 0'
                    % (len(missing), missing[0]))


# -- DAVIS ------------------------------------------------------------------------------------

class DavisConverter(VosConverter):
    every_frame_annotated = True

    def __init__(self, data_root, year):
        super(DavisConverter, self).__init__(data_root)
        self.year = year
        self.name = vos_video.DAVIS2016 if year == '2016' else vos_video.DAVIS2017

    def video_path(self, video):
        return davis_data.image_dir(self.data_root, video.name)

    def listed_in(self, video):
        return davis_data.split_listing(self.data_root, self.year, video.split)[0]

    def mask_dir(self, video):
        return davis_data.annotation_dir(self.data_root, video.name)

    def frame_paths(self, video, result):
        return frame_paths(self.video_path(video), self.mask_dir(video))

    def stored_labels(self, labels):
        return (labels > 0).astype(np.uint8) if self.year == '2016' else labels

    def objects(self, video, frames, dropped, result):
        everywhere = list(range(len(frames)))
        # the first annotated frame: frame 0 unless its mask is missing (a warning)
        start = next((t for t, f in enumerate(frames) if f.labels is not None), None)
        if start is None:
            return []
        if self.year == '2016':
            return [VideoObject(1, '', everywhere, start)]
        ids = images.object_ids(frames[start].labels)   # void (255) is never an object
        later = set()
        for frame in frames:
            if frame.labels is not None:
                later |= set(images.object_ids(frame.labels)) - set(ids)
        # the DAVIS 2017 protocol: objects first appearing after frame 0 are not targets
        result.counts['objects_ignored_after_frame0'] += len(later)
        result.seen('object', len(later))
        result.filtered('object', 'after_frame0', len(later))
        return [VideoObject(i, '', everywhere, start) for i in ids]


class DavisVideoRecords(ConvertToShards):
    """Composite transform: a DAVIS root -> vos_video shards (davis2016 or davis2017)."""

    def __init__(self, data_root, year='2017', videos_per_shard=DEFAULT_VIDEOS_PER_SHARD,
                 min_shards=1, strict=False):
        super(DavisVideoRecords, self).__init__(
            DavisConverter(data_root, year), davis_plan(data_root, year), videos_per_shard,
            min_shards, strict)


def davis_plan(data_root, year):
    """{split: [Video]} from the split listings (either DAVIS layout: datasets.davis)."""
    by_split = {}
    for split in davis_data.SPLITS:
        try:
            names = davis_data.split_listing(data_root, year, split)[1]
        except InputError as err:
            if err.reason == 'empty_listing':
                names = []   # an empty split: no records for it (not an error here)
            elif err.reason == 'missing_listing':
                raise FileNotFoundError('%s not found: --data must be the DAVIS root holding '
                                        'ImageSets/, JPEGImages/480p and Annotations/480p'
                                        % err.path)
            else:
                raise ValueError(str(err))
        by_split[split] = [Video(split, name) for name in sorted(names)]
    return by_split



# -- YouTube-VOS ------------------------------------------------------------------------------

class YtvosConverter(VosConverter):
    name = vos_video.YTVOS2018
    guide_size = (ytvos_data.OSMN_SIZE.width, ytvos_data.OSMN_SIZE.height)  # PIL's order
    frame_step = ytvos_data.FRAME_STEP

    def setup(self):
        super(YtvosConverter, self).setup()
        self._meta = {}

    def meta(self, split):
        if split not in self._meta:
            self._meta[split] = ytvos_data.read_meta(self.data_root, split)
        return self._meta[split]

    def video_path(self, video):
        return ytvos_data.image_dir(self.data_root, video.split, video.name)

    def mask_dir(self, video):
        return ytvos_data.annotation_dir(self.data_root, video.split, video.name)

    def listed_in(self, video):
        return ytvos_data.meta_path(self.data_root, video.split)

    def frame_paths(self, video, result):
        return frame_paths(self.video_path(video), self.mask_dir(video))

    def unit_problem(self, video):
        entry = self.meta(video.split).get(video.name)
        if name_problem(self.video_path(video)):   # meta.json (UTF-8) cannot list it
            return name_problem(self.video_path(video))
        if entry is None:
            return ('video_not_in_meta', self.video_path(video),
                    'video has frames but %s does not list it' % self.listed_in(video))
        problem = ytvos_data.meta_entry_problem(entry)
        if problem:
            return ('bad_meta_entry', '%s#videos/%s' % (self.listed_in(video), video.name),
                    problem)
        return None

    def objects(self, video, frames, dropped, result):
        objects = self.meta(video.split)[video.name].get('objects', {})
        index = {f.name: t for t, f in enumerate(frames)}
        listed = {}
        for key in sorted(objects, key=frame_order):
            where = '%s#videos/%s/objects/%s' % (self.listed_in(video), video.name, key)
            with result.guard('object', where, objects=1) as step:
                obj = self._meta_object(video, key, objects[key], index, dropped, result)
            if step.failed:
                result.seen('object')  # the written ones are counted with the video
            else:
                listed[obj.id] = obj
        seen = {}
        for frame in frames:
            if frame.labels is not None:
                for value in images.object_ids(frame.labels):
                    seen.setdefault(value, frame.name)
        for value in sorted(set(seen) - set(listed)):
            result.seen('object')
            result.reject('object', 'unknown_object_id',
                          fileio.join(self.mask_dir(video), seen[value] + '.png'),
                          'mask value %d is not an object of meta.json' % value, objects=1)
        return [listed[k] for k in sorted(listed)]

    def _meta_object(self, video, key, obj, index, dropped, result):
        """VideoObject of one meta.json object entry; InputError when it is unusable."""
        problem = ytvos_data.meta_object_problem(key, obj)
        if problem:
            raise InputError(*problem)
        present = []
        for name in obj['frames']:
            if name in index:
                present.append(index[name])
            elif name not in dropped:
                result.seen('image')
                result.reject('image', 'meta_frame_without_image',
                              fileio.join(self.video_path(video), name + '.jpg'),
                              'meta.json lists frame %s of object %s' % (name, key))
        if not present:
            raise InputError('object_without_frames',
                             'object %s has no listed frame with an image' % key)
        return VideoObject(int(key), obj.get('category', ''), sorted(present), min(present))


# -- entry points -----------------------------------------------------------------------------

def davis_main(argv=None):
    parser = cli.argument_parser('davis', __doc__.split('\n\n')[0],
                                 'DAVIS root holding ImageSets/, JPEGImages/480p and '
                                 'Annotations/480p', 'videos', DEFAULT_VIDEOS_PER_SHARD)
    parser.add_argument('--year', choices=('2016', '2017'), default='2017',
                        help='2017: multi-object (davis2017); 2016: one object (davis2016)')

    def build(args, beam_args):
        per_shard = args.units_per_shard
        min_shards = cli.min_shards(args, beam_args)
        options = {'year': args.year, 'videos_per_shard': per_shard, 'min_shards': min_shards}
        return DavisVideoRecords(args.data, args.year, per_shard, min_shards,
                                 args.strict), options
    return cli.run(parser, argv, build, vos_video.SCHEMA)


def ytvos_main(argv=None):
    """`python -m pipelines ytvos`: pipelines/vos_sources.py (--year 2019, --holdout)."""
    from pipelines import vos_sources  # imported here: it builds on this module
    return vos_sources.ytvos_main(argv)
