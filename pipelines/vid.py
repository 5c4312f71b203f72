"""ILSVRC2015-VID -> SA-Siam track records (`make vid-records`).

Replaces the reference's preprocess_VID_data.py + build_VID2015_imdb.py
(docs/pipelines.md, "VID records") and fixes their listed bugs:
  * the train/validation split is a stable hash of the snippet name (10 % validation), not the
    first 10 % of an os.listdir order that differs between machines;
  * frames are ordered by their numeric frame number, tracks by their integer trackid (no glob
    that mixes track 01 with 101, no reliance on zero padding);
  * the frame is decoded once and its mean computed once per frame (exactly, so the padding value
    is the reference's truncated uint8 mean);
  * bad inputs are rejected with a reason in errors.jsonl instead of crashing or silently writing
    half files, and the output appears only when complete;
  * records embed the crop bytes, so data can move (no absolute paths baked into an index).

The layout, listing and XML parsing are `datasets.vid`'s; this module crops and encodes.
Unit of work: one snippet (all its frames and tracks), so tracks are assembled without a shuffle.
python -m pipelines vid --data <ILSVRC2015 root> --out <dir> [Beam flags such as --runner].
"""
from __future__ import absolute_import, division, print_function

import collections

import cv2

from datasets import fileio, images
from datasets import vid as vid_data
from datasets.vid import Snippet, box_problem, list_snippets, parse_annotation
from pipelines import cli
from pipelines.beam_steps import ConvertToShards
from pipelines.converter import Converter
from pipelines.dead_letters import flag_orientation
from pipelines.shards import hash_fraction
from pipelines.vid_crop import (SIZE_X, crop_geometry, frame_mean_pad_value, needs_padding,
                                search_crop)
from schemas import vid_track

NAME = 'vid'
JPEG_QUALITY = 90
DEFAULT_SNIPPETS_PER_SHARD = 8

# One cropped object of a track: its frame number, the XML object, the crop window and the crop's
# JPEG bytes, and the XML it came from (named in warnings).
TrackItem = collections.namedtuple('TrackItem', 'number obj geometry crop xml_path')


# -- conversion ------------------------------------------------------------------------------

class VidConverter(Converter):
    name = NAME
    progress_unit = 'frames'

    def __init__(self, data_root, anchors_per_chunk=vid_track.ANCHORS_PER_CHUNK,
                 max_frame_dist=vid_track.MAX_FRAME_DIST):
        self.data_root = data_root
        self.anchors_per_chunk = anchors_per_chunk
        self.max_frame_dist = max_frame_dist

    def setup(self):
        # one OpenCV thread per worker process: the runner already runs one worker per core
        cv2.setNumThreads(1)

    def unit_path(self, snippet):
        return self._ann_dir(snippet)

    def _ann_dir(self, snippet):
        return vid_data.annotation_dir(self.data_root, snippet.source_split, snippet.folder)

    def _data_dir(self, snippet):
        return vid_data.data_dir(self.data_root, snippet.source_split, snippet.folder)

    @staticmethod
    def _frame_list(ann_dir, data_dir, result):
        """The snippet's [FrameFiles] in frame-number order; frames whose name is not a number
        are reported."""
        frames, unnumbered = vid_data.snippet_frames(ann_dir, data_dir)
        for stem in unnumbered:
            xml = fileio.join(ann_dir, stem + vid_data.ANNOTATION_EXT)
            result.seen('image')
            result.reject('image', 'bad_frame_name',
                          xml if fileio.exists(xml)
                          else fileio.join(data_dir, stem + vid_data.FRAME_EXT),
                          'frame name is not a number')
        return frames

    def convert(self, snippet, result):
        ann_dir, data_dir = self._ann_dir(snippet), self._data_dir(snippet)
        if not fileio.isdir(ann_dir):
            jpegs = len(fileio.stems(data_dir, vid_data.FRAME_EXT))
            result.seen('image', jpegs)
            result.reject('unit', 'missing_annotations', ann_dir,
                          'snippet has %d frames under Data/VID but no annotation folder' % jpegs,
                          images=jpegs)
            return
        frames = self._frame_list(ann_dir, data_dir, result)
        if not frames:
            result.reject('unit', 'empty_sequence', ann_dir, 'snippet has no frames')
            return
        result.counts['snippets'] += 1
        tracks = collections.defaultdict(list)
        frame_size = None
        for frame in frames:
            items, size = self._convert_frame(snippet, frame, data_dir, result)
            frame_size = size or frame_size
            for item in items:
                tracks[item.obj.trackid].append(item)
        for trackid in sorted(tracks):
            self._emit_track(snippet, trackid, tracks[trackid], frame_size, result)
            self._check_track(trackid, tracks[trackid], result)

    def _convert_frame(self, snippet, frame, data_dir, result):
        """([TrackItem] of one frame's usable objects, (width, height) or None when the frame
        was not decoded)."""
        result.counts['frames'] += 1
        result.seen('image')
        if frame.xml is None:
            result.reject('image', 'missing_annotation',
                          fileio.join(data_dir, frame.stem + vid_data.FRAME_EXT),
                          'frame has no XML under Annotations/VID')
            return [], None
        with result.guard('image', frame.xml) as step:
            ann = parse_annotation(fileio.read_bytes(frame.xml))
        if step.failed:
            return [], None
        result.counts['objects'] += len(ann.objects)
        result.seen('object', len(ann.objects))
        if not ann.objects:
            result.filtered('image', 'no_objects')
            return [], None  # nothing to crop: the frame is not even read, as in the reference
        image = self._read_frame(snippet, frame, ann, data_dir, result)
        if image is None:
            return [], None
        items = self._crop_objects(image, ann, frame, result)
        if items:
            result.written('image')
        else:
            result.filtered('image', 'no_usable_object')
        return items, (image.shape[1], image.shape[0])

    @staticmethod
    def _read_frame(snippet, frame, ann, data_dir, result):
        """The decoded frame of an annotated XML, or None after rejecting it. The frame is the
        one the XML's own path names; its <folder>/<filename> are only checked (an XML naming
        another frame must not crop it)."""
        image_path = fileio.join(data_dir, frame.stem + vid_data.FRAME_EXT)
        named = vid_data.names_other_frame(ann, snippet, frame.stem)
        if named:
            result.warn('xml_names_other_frame', frame.xml,
                        'XML names %s; used the frame of its own path, %s/%s.JPEG'
                        % (named, snippet.folder, frame.stem))
        with result.guard('image', image_path, objects=len(ann.objects)) as step:
            data = images.read_file(image_path)
            image = images.decode_jpeg(data)
            flag_orientation(result, image_path, data)
        if step.failed:
            return None
        height, width = image.shape[:2]
        result.frame_size(height, width)
        if (width, height) != (ann.width, ann.height):
            result.reject('image', 'size_mismatch', frame.xml, 'XML size %dx%d, image %dx%d'
                          % (ann.width, ann.height, width, height), objects=len(ann.objects))
            return None
        result.counts['frames_decoded'] += 1
        return image

    @staticmethod
    def _crop_objects(image, ann, frame, result):
        """[TrackItem] of the frame's objects that can be cropped; the others are rejected."""
        height, width = image.shape[:2]
        pad_value, items = None, []
        for obj in ann.objects:
            problem = box_problem(obj.box, width, height)
            if problem:
                result.reject('object', problem[0], frame.xml, problem[1], objects=1,
                              trackid=obj.trackid)
                continue
            with result.guard('object', frame.xml, objects=1, trackid=obj.trackid) as step:
                geometry, crop, pad_value = curate(image, obj.box, pad_value)
            if step.failed:
                continue
            items.append(TrackItem(frame.number, obj, geometry, crop, frame.xml))
            result.counts['crops'] += 1
            result.written('object')
        return items

    @staticmethod
    def _check_track(trackid, items, result):
        """Warn (the track is written) where SA-Siam would silently misuse a track."""
        names = [item.obj.name for item in items]
        changes = [(items[i].xml_path, names[i - 1], names[i]) for i in range(1, len(items))
                   if names[i] != names[i - 1]]
        if changes:
            path, before, after = changes[0]
            result.warn('track_class_changed', path,
                        'track %d changes class %s -> %s (%d change(s)); the record keeps %s'
                        % (trackid, before, after, len(changes), names[0]), trackid=trackid)
        if len(items) == 1:
            result.counts['single_frame_tracks'] += 1
            result.warn('single_frame_track', items[0].xml_path,
                        'track %d has one usable frame: no training pair can be drawn from it'
                        % trackid, trackid=trackid)

    def _emit_track(self, snippet, trackid, items, frame_size, result):
        context = dict(
            track_key='%s/%s/%02d' % (snippet.source_split, snippet.name, trackid),
            video_name=snippet.name, video_folder=snippet.folder,
            source_split=snippet.source_split, split=snippet.split, object_trackid=trackid,
            object_class=items[0].obj.name, orig_width=frame_size[0], orig_height=frame_size[1])
        emit_track(result, context, items, self.anchors_per_chunk, self.max_frame_dist)


def curate(image, box, pad_value=None):
    """(Geometry, JPEG bytes of the 255x255 curation crop, pad value) of an inclusive 0-based
    (xmin, ymin, xmax, ymax) box in a decoded frame. The frame's mean pad value is computed the
    first time a window leaves the frame; pass it back for the frame's next object."""
    geometry = crop_geometry(box[0], box[1], box[2], box[3], image.shape[1], image.shape[0])
    if pad_value is None and needs_padding(geometry):
        pad_value = frame_mean_pad_value(image)
    crop = images.encode_jpeg(search_crop(image, geometry, pad_value), JPEG_QUALITY)
    return geometry, crop, pad_value


def emit_track(result, context, items, anchors_per_chunk, max_frame_dist):
    """The vid_track records of one track's TrackItems (context: the per-track fields but the
    chunking and crop format), added to `result` keyed (trackid, chunk index)."""
    n = len(items)
    chunks = vid_track.chunk_bounds(n, anchors_per_chunk, max_frame_dist)
    result.counts['tracks'] += 1
    context = dict(context, track_num_frames=n, chunk_count=len(chunks),
                   chunk_max_frame_dist=max_frame_dist, image_format='jpeg',
                   image_height=SIZE_X, image_width=SIZE_X)
    for index, (anchor_begin, anchor_end, first, end) in enumerate(chunks):
        record = vid_track.encode(dict(context, chunk_index=index,
                                       chunk_anchor_begin=anchor_begin,
                                       chunk_anchor_end=anchor_end),
                                  chunk_steps(items[first:end], first))
        result.add_record((context['object_trackid'], index), record)
        result.counts['chunks'] += 1


def chunk_steps(part, first):
    """The per-frame fields of a chunk's TrackItems (`first`: the chunk's first position)."""
    geometries = [item.geometry for item in part]
    return dict(
        frame_encoded=[item.crop for item in part],
        frame_position=list(range(first, first + len(part))),
        frame_number=[item.number for item in part],
        frame_occluded=[item.obj.occluded for item in part],
        frame_generated=[item.obj.generated for item in part],
        frame_bbox=[list(item.obj.box) for item in part],
        crop_s_z=[g.s_z for g in geometries],
        crop_s_x=[g.s_x for g in geometries],
        crop_window=[[g.x0, g.y0, g.x1, g.y1] for g in geometries],
        crop_pad=[[g.pad_left, g.pad_top, g.pad_right, g.pad_bottom] for g in geometries],
        crop_scale=[SIZE_X / float(g.size) for g in geometries],
        target_size=[[g.w * SIZE_X / float(g.size), g.h * SIZE_X / float(g.size)]
                     for g in geometries])


# -- planning --------------------------------------------------------------------------------

SPLIT_MODES = ('hash', 'ilsvrc')


def assign_split(source_split, name, mode, validation_fraction):
    if mode == 'ilsvrc':
        return 'validation' if source_split == 'val' else 'train'
    return 'validation' if hash_fraction(name) < validation_fraction else 'train'


def plan(data_root, mode='hash', validation_fraction=0.1):
    """{split: [Snippet]} (split: `train` / `validation`, the common names)."""
    if mode not in SPLIT_MODES:
        raise ValueError('split mode must be one of %s' % (SPLIT_MODES,))
    by_split = collections.defaultdict(list)
    for source_split, folder, name in list_snippets(data_root):
        split = assign_split(source_split, name, mode, validation_fraction)
        by_split[split].append(Snippet(source_split, folder, name, split))
    return dict(by_split)


class VidTrackRecords(ConvertToShards):
    """Composite transform: an ILSVRC2015-VID root -> vid_track shards."""

    def __init__(self, data_root, mode='hash', validation_fraction=0.1,
                 snippets_per_shard=DEFAULT_SNIPPETS_PER_SHARD, min_shards=1,
                 anchors_per_chunk=vid_track.ANCHORS_PER_CHUNK,
                 max_frame_dist=vid_track.MAX_FRAME_DIST, strict=False):
        units = plan(data_root, mode, validation_fraction)
        if not units:
            raise FileNotFoundError('no snippets under %s/Annotations/VID' % data_root)
        super(VidTrackRecords, self).__init__(
            VidConverter(data_root, anchors_per_chunk, max_frame_dist), units,
            snippets_per_shard, min_shards, strict)
        # hash mode pools ILSVRC train and val into both splits
        if mode == 'hash':
            self.source_splits = {split: 'train+val' for split in self.source_splits}
        else:
            self.source_splits = {'train': 'train', 'validation': 'val'}


def main(argv=None):
    parser = cli.argument_parser('vid', __doc__.split('\n\n')[0],
                                 'ILSVRC2015 root (Data/VID, Annotations/VID)', 'snippets',
                                 DEFAULT_SNIPPETS_PER_SHARD)
    parser.add_argument('--split-by', choices=SPLIT_MODES, default='hash',
                        help='hash: pool ILSVRC train+val and hold out a stable hash share of '
                             'snippets; ilsvrc: train = ILSVRC train, validation = ILSVRC val')
    parser.add_argument('--validation-fraction', type=float, default=0.1,
                        help='share of snippets held out with --split-by hash')
    parser.add_argument('--anchors-per-chunk', type=int, default=vid_track.ANCHORS_PER_CHUNK,
                        help='exemplar positions per record chunk of a track')
    parser.add_argument('--max-frame-dist', type=int, default=vid_track.MAX_FRAME_DIST,
                        help='largest exemplar-instance gap (track positions) a chunk covers')

    def build(args, beam_args):
        per_shard = args.units_per_shard
        min_shards = cli.min_shards(args, beam_args)
        options = {'split_by': args.split_by, 'validation_fraction': args.validation_fraction,
                   'anchors_per_chunk': args.anchors_per_chunk,
                   'max_frame_dist': args.max_frame_dist, 'jpeg_quality': JPEG_QUALITY,
                   'snippets_per_shard': per_shard, 'min_shards': min_shards}
        return VidTrackRecords(args.data, args.split_by, args.validation_fraction, per_shard,
                               min_shards, args.anchors_per_chunk, args.max_frame_dist,
                               args.strict), options
    return cli.run(parser, argv, build, vid_track.SCHEMA)

