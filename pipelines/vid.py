"""ILSVRC2015-VID -> SA-Siam track records (`make vid-records`).

Replaces the reference's preprocess_VID_data.py + build_VID2015_imdb.py
(../shared/spec/sa-siam.md sections 1-3, 11-12) and fixes their listed bugs:
  * the train/validation split is a stable hash of the snippet name (10 % validation), not the
    first 10 % of an os.listdir order that differs between machines;
  * frames are ordered by their numeric frame number, tracks by their integer trackid (no glob
    that mixes track 01 with 101, no reliance on zero padding);
  * the frame is decoded once and its mean computed once per frame (exactly, so the padding value
    is the reference's truncated uint8 mean);
  * bad inputs are rejected with a reason in errors.jsonl instead of crashing or silently writing
    half files, and the output appears only when complete;
  * records embed the crop bytes, so data can move (no absolute paths baked into an index).

Unit of work: one snippet (all its frames and tracks), so tracks are assembled without a shuffle.
python -m pipelines vid --data <ILSVRC2015 root> --out <dir> [Beam flags such as --runner].
"""
from __future__ import absolute_import, division, print_function

import collections
import posixpath

import cv2

from pipelines import cli, fileio, images
from pipelines.beam_steps import ConvertToShards
from pipelines.converter import Converter
from pipelines.shards import hash_fraction
from datasets.errors import InputError
from pipelines.vid_crop import (SIZE_X, crop_geometry, frame_mean_pad_value, needs_padding,
                                search_crop)
from schemas import vid_track

NAME = 'vid'
JPEG_QUALITY = 90
DEFAULT_SNIPPETS_PER_SHARD = 8

Snippet = collections.namedtuple('Snippet', 'source_split folder name split')
VidObject = collections.namedtuple('VidObject', 'trackid name box occluded generated')
Annotation = collections.namedtuple('Annotation', 'folder filename width height objects')


# -- parsing ---------------------------------------------------------------------------------

def _text(node, path):
    value = node.findtext(path)
    if value is None or not value.strip():
        raise InputError('bad_annotation', 'missing <%s>' % path)
    return value.strip()


def _int(node, path):
    value = _text(node, path)
    try:
        return int(value)
    except ValueError:
        raise InputError('bad_annotation', '<%s> is not an integer: %r' % (path, value))


def parse_annotation(data):
    """VID frame XML bytes -> Annotation; raises InputError(reason, detail)."""
    from lxml import etree
    try:
        root = etree.fromstring(data)
    except etree.XMLSyntaxError as err:
        raise InputError('malformed_xml', str(err))
    objects = []
    for node in root.findall('object'):
        box = tuple(_int(node, 'bndbox/' + k) for k in ('xmin', 'ymin', 'xmax', 'ymax'))
        objects.append(VidObject(_int(node, 'trackid'), _text(node, 'name'), box,
                                 int(node.findtext('occluded') or 0),
                                 int(node.findtext('generated') or 0)))
    return Annotation(_text(root, 'folder'), _text(root, 'filename'), _int(root, 'size/width'),
                      _int(root, 'size/height'), objects)


def box_problem(box, width, height):
    """(reason, detail) when a box cannot be cropped, else None. Boxes that only stick out of the
    frame are kept (the curation pads them), as the reference does."""
    xmin, ymin, xmax, ymax = box
    if xmax < xmin or ymax < ymin:
        return 'zero_area_box', 'box %s has non-positive width or height' % (box,)
    if xmax < 0 or ymax < 0 or xmin > width - 1 or ymin > height - 1:
        return 'box_outside_frame', 'box %s does not overlap the %dx%d frame' % (box, width, height)
    return None


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
        return fileio.join(self.data_root, 'Annotations', 'VID', snippet.source_split,
                           snippet.folder)

    def _data_dir(self, snippet):
        return fileio.join(self.data_root, 'Data', 'VID', snippet.source_split, snippet.folder)

    @staticmethod
    def _frame_list(ann_dir, data_dir, result):
        """[(number, stem, XML path or None)] in frame-number order, over every frame that has
        an XML or a JPEG: a JPEG without its XML is reported, not skipped unseen."""
        xmls, jpegs = fileio.stems(ann_dir, '.xml'), fileio.stems(data_dir, '.JPEG')
        frames = []
        for stem in sorted(xmls | jpegs):
            xml = fileio.join(ann_dir, stem + '.xml') if stem in xmls else None
            if stem.isdigit():
                frames.append((int(stem), stem, xml))
            else:
                result.seen('image')
                result.reject('image', 'bad_frame_name',
                              xml or fileio.join(data_dir, stem + '.JPEG'),
                              'frame name is not a number')
        return sorted(frames)

    def convert(self, snippet, result):
        ann_dir = self._ann_dir(snippet)
        data_dir = self._data_dir(snippet)
        if not fileio.isdir(ann_dir):
            jpegs = len(fileio.stems(data_dir, '.JPEG'))
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
        for number, stem, xml_path in frames:
            result.counts['frames'] += 1
            result.seen('image')
            if xml_path is None:
                result.reject('image', 'missing_annotation',
                              fileio.join(data_dir, stem + '.JPEG'),
                              'frame has no XML under Annotations/VID')
                continue
            with result.guard('image', xml_path) as step:
                ann = parse_annotation(fileio.read_bytes(xml_path))
            if step.failed:
                continue
            result.counts['objects'] += len(ann.objects)
            result.seen('object', len(ann.objects))
            if not ann.objects:
                result.filtered('image', 'no_objects')
                continue  # nothing to crop: the frame is not even read, as in the reference
            # The frame is the one the annotation's own path names; the XML's <folder> and
            # <filename> are only checked (an XML naming another frame must not crop it).
            image_path = fileio.join(data_dir, stem + '.JPEG')
            named = posixpath.normpath('%s/%s' % (ann.folder, ann.filename))
            if named not in (posixpath.normpath('%s/%s' % (snippet.folder, stem)),
                             posixpath.normpath('%s/%s' % (snippet.name, stem))):
                result.warn('xml_names_other_frame', xml_path,
                            'XML names %s; used the frame of its own path, %s/%s.JPEG'
                            % (named, snippet.folder, stem))
            with result.guard('image', image_path, objects=len(ann.objects)) as step:
                frame = images.decode_jpeg(images.read_file(image_path))
            if step.failed:
                continue
            height, width = frame.shape[:2]
            result.frame_size(height, width)
            if (width, height) != (ann.width, ann.height):
                result.reject('image', 'size_mismatch', xml_path,
                              'XML size %dx%d, image %dx%d'
                              % (ann.width, ann.height, width, height),
                              objects=len(ann.objects))
                continue
            frame_size = (width, height)
            result.counts['frames_decoded'] += 1
            pad_value, cropped = None, 0
            for obj in ann.objects:
                problem = box_problem(obj.box, width, height)
                if problem:
                    result.reject('object', problem[0], xml_path, problem[1], objects=1,
                                  trackid=obj.trackid)
                    continue
                with result.guard('object', xml_path, objects=1, trackid=obj.trackid) as step:
                    geometry = crop_geometry(obj.box[0], obj.box[1], obj.box[2], obj.box[3],
                                             width, height)
                    if pad_value is None and needs_padding(geometry):
                        pad_value = frame_mean_pad_value(frame)
                    crop = images.encode_jpeg(search_crop(frame, geometry, pad_value),
                                              JPEG_QUALITY)
                if step.failed:
                    continue
                tracks[obj.trackid].append((number, obj, geometry, crop, xml_path))
                result.counts['crops'] += 1
                result.written('object')
                cropped += 1
            if cropped:
                result.written('image')
            else:
                result.filtered('image', 'no_usable_object')
        for trackid in sorted(tracks):
            self._emit_track(snippet, trackid, [item[:4] for item in tracks[trackid]],
                             frame_size, result)
            self._check_track(trackid, tracks[trackid], result)

    @staticmethod
    def _check_track(trackid, items, result):
        """Warn (the track is written) where SA-Siam would silently misuse a track."""
        names = [obj.name for _, obj, _, _, _ in items]
        changes = [(items[i][4], names[i - 1], names[i]) for i in range(1, len(items))
                   if names[i] != names[i - 1]]
        if changes:
            path, before, after = changes[0]
            result.warn('track_class_changed', path,
                        'track %d changes class %s -> %s (%d change(s)); the record keeps %s'
                        % (trackid, before, after, len(changes), names[0]), trackid=trackid)
        if len(items) == 1:
            result.counts['single_frame_tracks'] += 1
            result.warn('single_frame_track', items[0][4],
                        'track %d has one usable frame: no training pair can be drawn from it'
                        % trackid, trackid=trackid)

    def _emit_track(self, snippet, trackid, items, frame_size, result):
        n = len(items)
        chunks = vid_track.chunk_bounds(n, self.anchors_per_chunk, self.max_frame_dist)
        result.counts['tracks'] += 1
        context = dict(
            track_key='%s/%s/%02d' % (snippet.source_split, snippet.name, trackid),
            track_num_frames=n, chunk_count=len(chunks), chunk_max_frame_dist=self.max_frame_dist,
            video_name=snippet.name, video_folder=snippet.folder,
            source_split=snippet.source_split, split=snippet.split, object_trackid=trackid,
            object_class=items[0][1].name, orig_width=frame_size[0], orig_height=frame_size[1],
            image_format='jpeg', image_height=SIZE_X, image_width=SIZE_X)
        for index, (anchor_begin, anchor_end, first, end) in enumerate(chunks):
            part = items[first:end]
            steps = dict(
                frame_encoded=[crop for _, _, _, crop in part],
                frame_position=list(range(first, end)),
                frame_number=[number for number, _, _, _ in part],
                frame_occluded=[obj.occluded for _, obj, _, _ in part],
                frame_generated=[obj.generated for _, obj, _, _ in part],
                frame_bbox=[list(obj.box) for _, obj, _, _ in part],
                crop_s_z=[g.s_z for _, _, g, _ in part],
                crop_s_x=[g.s_x for _, _, g, _ in part],
                crop_window=[[g.x0, g.y0, g.x1, g.y1] for _, _, g, _ in part],
                crop_pad=[[g.pad_left, g.pad_top, g.pad_right, g.pad_bottom]
                          for _, _, g, _ in part],
                crop_scale=[SIZE_X / float(g.size) for _, _, g, _ in part],
                target_size=[[g.w * SIZE_X / float(g.size), g.h * SIZE_X / float(g.size)]
                             for _, _, g, _ in part])
            record = vid_track.encode(dict(context, chunk_index=index,
                                           chunk_anchor_begin=anchor_begin,
                                           chunk_anchor_end=anchor_end), steps)
            result.add_record((trackid, index), record)
            result.counts['chunks'] += 1


# -- planning --------------------------------------------------------------------------------

SPLIT_MODES = ('hash', 'ilsvrc')


def list_snippets(data_root):
    """Snippets of the annotation and frame trees (their union: a snippet with frames and no
    annotations is reported, not skipped) as (source_split, folder, name), sorted."""
    found = set()
    for tree in ('Annotations', 'Data'):
        base = fileio.join(data_root, tree, 'VID')
        if not fileio.isdir(base):
            raise FileNotFoundError('%s not found: --data must be the ILSVRC2015 root holding '
                                    'Annotations/VID and Data/VID' % base)
        for pattern, source_split in (('train/*/*', 'train'), ('val/*', 'val')):
            for path in fileio.glob(fileio.join(base, pattern)):
                if fileio.isdir(path):
                    folder = posixpath.relpath(path, fileio.join(base, source_split))
                    found.add((source_split, folder, posixpath.basename(path)))
    return sorted(found)


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

