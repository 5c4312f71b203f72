"""GOT-10k, LaSOT and labelled sequence folders -> SA-Siam track records (`make got10k-records`,
`make lasot-records`, `make track-records`).

The same vid_track records as ILSVRC2015-VID's (pipelines/vid.py), through the same SiamFC
curation (pipelines.vid.curate: the crop code VID's records go through), one track per target:
  * a frame where the target is absent (GOT-10k absence 1 or cover 0, LaSOT full occlusion or
    out of view, a generic folder's label files) is left out of the track, as VID leaves out the
    frames where an object is not annotated; the sampler's pairs are drawn among the track's
    positions, so an absent frame is never a pair's member (frame numbers keep the gap);
  * a present frame whose box is NaN, of zero or negative size, or outside the frame is a dead
    letter of level object (the frame leaves the track the same way);
  * a sequence whose box count differs from its frame count, or with a label file missing or
    unreadable, is a dead letter of level unit (nothing of it is written);
  * boxes are turned into VID's inclusive 0-based integer boxes (datasets.track_folders.
    inclusive_box), which the records store as VID's do.
dataset_info.json says which data the train split was made from (`sources`, e.g.
["got10k:train"], schemas/dataset_info.py).

python -m pipelines got10k|lasot|track --data <root> --out <dir> [options] [Beam flags].
"""
from __future__ import absolute_import, division, print_function

import collections
import re

import cv2

from datasets import fileio, got10k, images, lasot, track_folders
from datasets.track_folders import TrackSequenceError, box_value_problem, inclusive_box
from datasets.tracking import SequenceError
from datasets.vid import VidObject, box_problem
from pipelines import cli
from pipelines.beam_steps import ConvertToShards
from pipelines.converter import Converter
from pipelines.vid import JPEG_QUALITY, TrackItem, assign_split, curate, emit_track
from schemas import vid_track

DEFAULT_VALIDATION_FRACTION = 0.1
SEQUENCES_PER_SHARD = {'got10k': 8, 'lasot': 1, 'track': 4}

# One sequence folder to convert: its split in the source, its name (GOT-10k, LaSOT) or folder
# relative to the root (generic), and the records' split (train / validation).
SequenceUnit = collections.namedtuple('SequenceUnit', 'source_split name split')


# -- readers (small, picklable: Beam sends them to the workers) ------------------------------

class Got10kReader(collections.namedtuple('Got10kReader', 'root')):
    def read(self, unit):
        return [got10k.read_sequence(self.root, unit.source_split, unit.name)]

    def path(self, unit):
        return fileio.join(self.root, unit.source_split, unit.name)


class LasotReader(collections.namedtuple('LasotReader', 'root')):
    def read(self, unit):
        return [lasot.read_sequence(self.root, unit.name)]

    def path(self, unit):
        return fileio.join(self.root, lasot.class_of(unit.name), unit.name)


class FolderReader(collections.namedtuple('FolderReader', 'root origin')):
    def read(self, unit):
        return track_folders.folder_sequences(self.root, unit.name, self.origin)

    def path(self, unit):
        return fileio.join(self.root, unit.name)


# -- conversion ------------------------------------------------------------------------------

def _reject_frame(result, problem, path, number):
    """A dead letter for a frame whose box (reason, detail) cannot be cropped."""
    result.reject('object', problem[0], path, 'frame %d: %s' % (number, problem[1]), objects=1)
    result.filtered('image', 'no_usable_object')


class TrackConverter(Converter):
    progress_unit = 'frames'

    def __init__(self, name, reader, anchors_per_chunk=vid_track.ANCHORS_PER_CHUNK,
                 max_frame_dist=vid_track.MAX_FRAME_DIST):
        self.name = name
        self.reader = reader
        self.anchors_per_chunk = anchors_per_chunk
        self.max_frame_dist = max_frame_dist

    def setup(self):
        cv2.setNumThreads(1)   # one worker per core already

    def unit_path(self, unit):
        return self.reader.path(unit)

    def convert(self, unit, result):
        try:
            sequences = self.reader.read(unit)
        except TrackSequenceError as err:
            result.seen('image', err.images)
            result.reject('unit', err.reason, err.path, err.detail, images=err.images)
            return
        result.counts['sequences'] += 1
        for trackid, sequence in enumerate(sequences):
            items, frame_size = self._track_items(sequence, result)
            if not items:
                result.warn('no_usable_frame', self.reader.path(unit),
                            '%s: no frame with the target present and usable'
                            % sequence.name, trackid=trackid)
                continue
            if len(items) == 1:
                result.counts['single_frame_tracks'] += 1
                result.warn('single_frame_track', items[0].xml_path,
                            '%s has one usable frame: no training pair can be drawn from it'
                            % sequence.name, trackid=trackid)
            context = dict(
                track_key='%s/%s/%02d' % (unit.source_split, sequence.name, trackid),
                video_name=sequence.name, video_folder=sequence.folder,
                source_split=unit.source_split, split=unit.split, object_trackid=trackid,
                object_class=sequence.object_class, orig_width=frame_size[0],
                orig_height=frame_size[1])
            emit_track(result, context, items, self.anchors_per_chunk, self.max_frame_dist)

    def _track_items(self, sequence, result):
        """([TrackItem] of the frames where the target is present and cropped, (width, height)
        of the last decoded frame)."""
        items, frame_size = [], None
        for index, path in enumerate(sequence.frames):
            result.counts['frames'] += 1
            result.seen('image')
            if sequence.absent[index]:
                result.counts['absent_frames'] += 1
                result.filtered('image', 'target_absent')
                continue
            item, size = self._crop_frame(sequence, index, path, result)
            frame_size = size or frame_size
            if item is None:
                continue
            items.append(item)
            result.written('image')
        return items, frame_size

    @staticmethod
    def _crop_frame(sequence, index, path, result):
        """(TrackItem or None after a dead letter, (width, height) when the frame was decoded)."""
        box = sequence.boxes[index]
        number = index + 1
        result.counts['objects'] += 1
        result.seen('object')
        problem = box_value_problem(box)
        if problem:
            _reject_frame(result, problem, path, number)
            return None, None
        with result.guard('image', path, objects=1) as step:
            image = images.decode_jpeg(images.read_file(path))
        if step.failed:
            return None, None
        height, width = image.shape[:2]
        result.frame_size(height, width)
        result.counts['frames_decoded'] += 1
        xyxy = inclusive_box(box, sequence.origin)
        problem = box_problem(xyxy, width, height)
        if problem:
            _reject_frame(result, problem, path, number)
            return None, (width, height)
        with result.guard('object', path, objects=1) as step:
            geometry, crop, _ = curate(image, xyxy)
        if step.failed:
            result.filtered('image', 'no_usable_object')
            return None, (width, height)
        result.counts['crops'] += 1
        result.written('object')
        obj = VidObject(0, sequence.object_class, xyxy, int(sequence.occluded[index]), 0)
        return TrackItem(number, obj, geometry, crop, path), (width, height)


# -- planning --------------------------------------------------------------------------------

def _hash_split(names, validation_fraction, source_split):
    """{records split: [SequenceUnit]}: a stable hash share of the names held out."""
    by_split = collections.defaultdict(list)
    for name in names:
        split = assign_split(source_split, name, 'hash', validation_fraction)
        by_split[split].append(SequenceUnit(source_split, name, split))
    return dict(by_split)


def plan_got10k(root, splits=('train', 'val')):
    """{source split: [SequenceUnit]}: GOT-10k train -> train, val -> validation."""
    if 'test' in splits:
        raise ValueError('GOT-10k test gives only the first box of each sequence: nothing to '
                         'train on; convert train and val')
    return {split: [SequenceUnit(split, name, 'train' if split == 'train' else 'validation')
                    for name in got10k.list_sequences(root, split)] for split in splits}


def plan_lasot(root, split='train', split_file=None,
               validation_fraction=DEFAULT_VALIDATION_FRACTION):
    return _hash_split(lasot.list_sequences(root, split, split_file), validation_fraction, split)


def plan_folders(root, validation_fraction=DEFAULT_VALIDATION_FRACTION):
    return _hash_split(track_folders.sequence_folders(root), validation_fraction, 'all')


class TrackRecords(ConvertToShards):
    """Composite transform: planned sequence units of one reader -> vid_track shards.

    units: {source split (GOT-10k) or records split (hash-split LaSOT, folders): [SequenceUnit]}.
    """

    def __init__(self, name, reader, units, units_per_shard, min_shards=1,
                 anchors_per_chunk=vid_track.ANCHORS_PER_CHUNK,
                 max_frame_dist=vid_track.MAX_FRAME_DIST, strict=False):
        units = {split: u for split, u in units.items() if u}
        if not units:
            raise FileNotFoundError('no sequences to convert under %s' % reader.root)
        super(TrackRecords, self).__init__(
            TrackConverter(name, reader, anchors_per_chunk, max_frame_dist), units,
            units_per_shard, min_shards, strict)
        # the source's own split of each records split (dataset_info's source_split, sources)
        self.source_splits = {u[0].split: u[0].source_split for u in units.values()}


# -- command lines ---------------------------------------------------------------------------

def _parser(name, data_help):
    parser = cli.argument_parser(name, __doc__.split('\n\n')[0], data_help, 'sequences',
                                 SEQUENCES_PER_SHARD[name])
    parser.add_argument('--anchors-per-chunk', type=int, default=vid_track.ANCHORS_PER_CHUNK,
                        help='exemplar positions per record chunk of a track')
    parser.add_argument('--max-frame-dist', type=int, default=vid_track.MAX_FRAME_DIST,
                        help='largest exemplar-instance gap (track positions) a chunk covers')
    return parser


def _run(parser, argv, plan, make_reader, name_of=None, extra_options=None):
    """cli.run for a reader: plan(args) -> units, make_reader(args) -> reader."""
    def build(args, beam_args):
        name = name_of(args) if name_of else parser.prog.split()[-1]
        if not re.match(r'^[A-Za-z0-9][A-Za-z0-9_.-]*$', name):
            raise ValueError('--name %r: use letters, digits, _ . - (it names the output '
                             'directory and its files)' % name)
        min_shards = cli.min_shards(args, beam_args)
        options = dict((extra_options or (lambda a: {}))(args),
                       anchors_per_chunk=args.anchors_per_chunk,
                       max_frame_dist=args.max_frame_dist, jpeg_quality=JPEG_QUALITY,
                       sequences_per_shard=args.units_per_shard, min_shards=min_shards)
        try:
            units = plan(args)
        except SequenceError as err:
            raise ValueError(str(err))
        return TrackRecords(name, make_reader(args), units, args.units_per_shard, min_shards,
                            args.anchors_per_chunk, args.max_frame_dist, args.strict), options
    return cli.run(parser, argv, build, vid_track.SCHEMA)


def got10k_main(argv=None):
    parser = _parser('got10k', 'GOT-10k root holding train/, val/ (and test/) with list.txt')
    parser.add_argument('--splits', default='train,val',
                        help='GOT-10k splits to convert: train -> train, val -> validation')
    return _run(parser, argv,
                lambda a: plan_got10k(a.data, tuple(s for s in a.splits.split(',') if s)),
                lambda a: Got10kReader(a.data), extra_options=lambda a: {'splits': a.splits})


def lasot_main(argv=None):
    parser = _parser('lasot', 'LaSOT root holding <class>/<class>-<n>/')
    parser.add_argument('--split', choices=lasot.SPLITS, default='train',
                        help='LaSOT split to convert (the benchmark protocol: train 1120, '
                             'test 280 sequences)')
    parser.add_argument('--split-file', default=None,
                        help="file of the split's sequence names, one a line, instead of the "
                             'built-in test list (default: the official split)')
    parser.add_argument('--validation-fraction', type=float,
                        default=DEFAULT_VALIDATION_FRACTION,
                        help='stable hash share of the sequences held out as validation')
    return _run(parser, argv,
                lambda a: plan_lasot(a.data, a.split, a.split_file, a.validation_fraction),
                lambda a: LasotReader(a.data), extra_options=lambda a: {
                    'split': a.split, 'split_file': a.split_file,
                    'validation_fraction': a.validation_fraction})


def folders_main(argv=None):
    parser = _parser('track', 'folder of sequences: <seq>/img/*.jpg or <seq>/*.jpg, each with '
                              'groundtruth.txt (up to two levels down)')
    parser.add_argument('--name', default='track',
                        help='output directory name and dataset name in dataset_info sources')
    parser.add_argument('--origin', type=int, choices=(0, 1), default=None,
                        help='coordinate of the first pixel in the boxes (default: 1 for '
                             '<seq>/img/ folders as OTB, 0 for frames beside groundtruth.txt '
                             'as GOT-10k)')
    parser.add_argument('--validation-fraction', type=float,
                        default=DEFAULT_VALIDATION_FRACTION,
                        help='stable hash share of the sequences held out as validation')
    return _run(parser, argv, lambda a: plan_folders(a.data, a.validation_fraction),
                lambda a: FolderReader(a.data, a.origin), name_of=lambda a: a.name,
                extra_options=lambda a: {'origin': a.origin,
                                         'validation_fraction': a.validation_fraction})
