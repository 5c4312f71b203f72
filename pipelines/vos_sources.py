"""YouTube-VOS 2018 / 2019 and MOSE -> vos_video records, and the seeded hold-out split.

Both build on the record assembly of pipelines/vos.py (docs/pipelines.md, "DAVIS and YouTube-VOS
records"). YouTube-VOS 2019 has 2018's layout and meta.json: only the dataset name differs.
MOSE (datasets/mose.py) has the same folders without meta.json: its objects are the ids of its
masks, each from its first non-blank frame, with every later frame listed; when a meta.json is
there it is read as YouTube-VOS's.

--holdout N moves N train videos to a `holdout` split (every annotated frame, as train), whole
categories with them: --holdout-unseen K categories leave train (every video holding one goes to
the hold-out set, at most N - 1 of them; its other videos are "seen": each of their categories
keeps a train video).
The choice is seeded (--holdout-seed, sha1 through pipelines.shards.hash_fraction) and listed in
dataset_info.json (options.holdout) and in holdout.json beside it; objects of unseen categories
have `object/unseen` 1.

python -m pipelines ytvos|mose --data <root> --out <dir> [--year 2019] [--holdout N ...]
"""
from __future__ import absolute_import, division, print_function

import json

from datasets import fileio
from datasets import mose as mose_data
from datasets import ytvos as ytvos_data
from datasets.images import object_ids
from pipelines import cli
from pipelines.beam_steps import ConvertToShards
from pipelines.shards import hash_fraction
from pipelines.vos import DEFAULT_VIDEOS_PER_SHARD, Video, VideoObject, YtvosConverter
from schemas import vos_video

HOLDOUT_FILE = 'holdout.json'
HOLDOUT_SOURCE = 'train'


# -- the hold-out choice ------------------------------------------------------------------------

class Holdout(object):
    """Which train videos a run holds out, and which categories only they have (unseen)."""

    def __init__(self, videos, unseen_categories, seen_categories, seed):
        self.videos = tuple(sorted(videos))
        self.unseen_categories = tuple(sorted(unseen_categories))
        self.seen_categories = tuple(sorted(seen_categories))
        self.seed = seed

    def holds(self, video):
        return video.split == HOLDOUT_SOURCE and video.name in self.videos

    def is_unseen(self, video, category):
        return self.holds(video) and category in self.unseen_categories

    def listing(self, categories):
        """The JSON of holdout.json and of dataset_info's options.holdout."""
        unseen = set(self.unseen_categories)
        return {'videos': list(self.videos), 'seed': self.seed, 'split': vos_video.HOLDOUT_SPLIT,
                'source_split': HOLDOUT_SOURCE,
                'unseen_videos': [v for v in self.videos if unseen & set(categories[v])],
                'unseen_categories': list(self.unseen_categories),
                'seen_categories': list(self.seen_categories)}


def _seeded_order(names, seed, kind):
    """`names` in an order set by the seed alone (not by the listing or the machine)."""
    return sorted(names, key=lambda n: (hash_fraction('holdout/%d/%s/%s' % (seed, kind, n)), n))


def _unseen_choice(categories, count, unseen, seed):
    """(unseen categories, their videos): `unseen` whole categories, in seeded order, whose
    videos fit in `count` - 1 (so the hold-out split has a seen video to score too) and leave
    train a video."""
    chosen, videos = [], set()
    names = sorted(set(c for found in categories.values() for c in found))
    if unseen and not names:
        raise ValueError('--holdout-unseen %d: the train split has no categories (MOSE without '
                         'meta.json): hold out seen videos only' % unseen)
    for category in _seeded_order(names, seed, 'category'):
        if len(chosen) == unseen:
            break
        grown = videos | set(v for v, found in categories.items() if category in found)
        if len(grown) < count and len(grown) < len(categories):
            chosen.append(category)
            videos = grown
    if len(chosen) < unseen:
        raise ValueError('--holdout %d cannot hold out %d whole categories (found %d whose '
                         'videos fit in %d, leaving a seen video): raise --holdout or lower '
                         '--holdout-unseen' % (count, unseen, len(chosen), count - 1))
    return chosen, videos


def pick_holdout(categories, count, unseen=0, seed=0):
    """A Holdout of `count` videos of {video: categories} (train), `unseen` categories unseen.

    Seen hold-out videos are taken (seeded order) only when each of their categories keeps a
    video in train; unseen categories are those of held-out videos that train no longer has.
    ValueError (one line) when the request cannot be met."""
    if not 1 <= count < len(categories):
        raise ValueError('--holdout %d: the train split has %d usable videos; hold out 1 to %d'
                         % (count, len(categories), len(categories) - 1))
    if unseen < 0:
        raise ValueError('--holdout-unseen must be >= 0, got %d' % unseen)
    _, held = _unseen_choice(categories, count, unseen, seed)
    left = {}
    for video in set(categories) - held:
        for category in categories[video]:
            left[category] = left.get(category, 0) + 1
    for video in _seeded_order(set(categories) - held, seed, 'video'):
        if len(held) == count:
            break
        if all(left[c] > 1 for c in categories[video]):
            held.add(video)
            for category in categories[video]:
                left[category] -= 1
    if len(held) < count:
        raise ValueError('--holdout %d: only %d videos can leave train with every seen category '
                         'still in it; lower --holdout' % (count, len(held)))
    seen = set(c for v in categories if v not in held for c in categories[v])
    unseen_names = set(c for v in held for c in categories[v]) - seen
    return Holdout(held, unseen_names, seen, seed)


def add_holdout_arguments(parser):
    parser.add_argument('--holdout', type=int, default=0, metavar='N',
                        help='move N train videos to a "holdout" split for local scoring '
                             '(0: none)')
    parser.add_argument('--holdout-unseen', type=int, default=0, metavar='K',
                        help='with --holdout: K whole categories leave train (all their videos '
                             'are held out, as "unseen")')
    parser.add_argument('--holdout-seed', type=int, default=0,
                        help='with --holdout: which videos and categories (same seed, same '
                             'choice)')


def holdout_of(args, categories):
    """(Holdout or None, its listing or None) for the parsed --holdout flags."""
    if not args.holdout:
        if args.holdout_unseen:
            raise ValueError('--holdout-unseen needs --holdout N')
        return None, None
    holdout = pick_holdout(categories, args.holdout, args.holdout_unseen, args.holdout_seed)
    return holdout, holdout.listing(categories)


def train_categories(root, meta):
    """{video: categories} of the train videos that have a frame folder (and, with a
    meta.json, a usable entry in it): the hold-out candidates."""
    jpeg_dir = fileio.join(root, HOLDOUT_SOURCE, 'JPEGImages')
    on_disk = set(n for n in fileio.listdir(jpeg_dir) if fileio.isdir(fileio.join(jpeg_dir, n))) \
        if fileio.isdir(jpeg_dir) else set()
    if meta is None:
        return {video: [] for video in on_disk}
    return {video: found for video, found in ytvos_data.video_categories(meta).items()
            if video in on_disk and ytvos_data.meta_entry_problem(meta[video]) is None}


# -- converters --------------------------------------------------------------------------------

class Ytvos2019Converter(YtvosConverter):
    name = vos_video.YTVOS2019


YTVOS_CONVERTERS = {'2018': YtvosConverter, '2019': Ytvos2019Converter}


class MoseConverter(YtvosConverter):
    """MOSE: YouTube-VOS's folders, every frame, meta.json optional (datasets/mose.py)."""
    name = vos_video.MOSE
    frame_step = mose_data.FRAME_STEP

    def meta(self, split):
        if split not in self._meta:
            self._meta[split] = mose_data.read_meta(self.data_root, split)
        return self._meta[split]

    def annotates_every_frame(self, video):
        return video.split == 'train'

    def listed_in(self, video):
        if self.meta(video.split) is not None:
            return super(MoseConverter, self).listed_in(video)
        return fileio.join(self.data_root, video.split, 'Annotations')

    def unit_problem(self, video):
        if self.meta(video.split) is not None:
            return super(MoseConverter, self).unit_problem(video)
        if not fileio.isdir(self.mask_dir(video)):
            return ('missing_annotations', self.mask_dir(video),
                    'video has frames but no mask folder: nothing names its objects')
        return None

    def objects(self, video, frames, dropped, result):
        if self.meta(video.split) is not None:
            return super(MoseConverter, self).objects(video, frames, dropped, result)
        first = {}
        for t, frame in enumerate(frames):
            if frame.labels is not None:
                for value in object_ids(frame.labels):   # void (255) is never an object
                    first.setdefault(value, t)
        if not first:
            result.warn('no_objects', self.mask_dir(video),
                        'no object id in any mask; written without objects')
        return [VideoObject(i, '', list(range(t, len(frames))), t)
                for i, t in sorted(first.items())]


# -- composite transforms -----------------------------------------------------------------------

class VosSourceRecords(ConvertToShards):
    """Composite transform: a YouTube-VOS or MOSE root -> vos_video shards, the holdout split
    (source split train) too when given a Holdout (its listing is written as holdout.json)."""

    def __init__(self, converter, list_videos, splits, holdout=None, listing=None,
                 videos_per_shard=DEFAULT_VIDEOS_PER_SHARD, min_shards=1, strict=False):
        plan = {split: [Video(split, name) for name in list_videos(converter.data_root, split)]
                for split in splits}
        names = {}
        if holdout is not None:
            if HOLDOUT_SOURCE not in plan:
                raise ValueError('--holdout takes train videos: add train to --splits')
            plan[HOLDOUT_SOURCE] = [v for v in plan[HOLDOUT_SOURCE] if not holdout.holds(v)]
            plan[vos_video.HOLDOUT_SPLIT] = [Video(HOLDOUT_SOURCE, n) for n in holdout.videos]
            names = {vos_video.HOLDOUT_SPLIT: vos_video.HOLDOUT_SPLIT}
            converter.holdout = holdout
        super(VosSourceRecords, self).__init__(converter, plan, videos_per_shard, min_shards,
                                               strict, split_names=names)
        if holdout is not None:
            self.source_splits[vos_video.HOLDOUT_SPLIT] = HOLDOUT_SOURCE
            self.extra_files[HOLDOUT_FILE] = (json.dumps(listing, indent=1, sort_keys=True)
                                              + '\n').encode('utf-8')


def ytvos_records(data_root, year='2018', splits=ytvos_data.SPLITS, holdout=None, listing=None,
                  **shard_options):
    return VosSourceRecords(YTVOS_CONVERTERS[year](data_root), ytvos_data.list_videos, splits,
                            holdout, listing, **shard_options)


def mose_records(data_root, splits=mose_data.SPLITS, holdout=None, listing=None,
                 **shard_options):
    return VosSourceRecords(MoseConverter(data_root), mose_data.list_videos, splits, holdout,
                            listing, **shard_options)


# -- entry points -------------------------------------------------------------------------------

def _parser(dataset, description, data_help, splits):
    parser = cli.argument_parser(dataset, description, data_help, 'videos',
                                 DEFAULT_VIDEOS_PER_SHARD)
    parser.add_argument('--splits', default=','.join(splits),
                        help='comma-separated splits (directories under --data)')
    add_holdout_arguments(parser)
    return parser


def _run(parser, argv, make_records, read_train_meta, extra_options):
    """cli.run with the options every source shares; make_records(args, splits, holdout,
    listing, shard options) -> the transform."""
    def build(args, beam_args):
        splits = tuple(s for s in args.splits.split(',') if s)
        shard_options = {'videos_per_shard': args.units_per_shard,
                         'min_shards': cli.min_shards(args, beam_args), 'strict': args.strict}
        holdout, listing = (None, None)
        if args.holdout or args.holdout_unseen:
            holdout, listing = holdout_of(args, train_categories(
                args.data, read_train_meta(args.data)))
        options = dict(extra_options(args), splits=list(splits), holdout=listing,
                       videos_per_shard=shard_options['videos_per_shard'],
                       min_shards=shard_options['min_shards'],
                       guide_size=list(YtvosConverter.guide_size))
        return make_records(args, splits, holdout, listing, shard_options), options
    return cli.run(parser, argv, build, vos_video.SCHEMA)


def ytvos_main(argv=None):
    parser = _parser('ytvos', 'YouTube-VOS 2018 / 2019 -> OSMN video records, one vos_video '
                     'record per video', 'YouTube-VOS root holding train/ and valid/',
                     ytvos_data.SPLITS)
    parser.add_argument('--year', choices=ytvos_data.YEARS, default='2018',
                        help='the release: names the records ytvos2018 or ytvos2019')
    return _run(parser, argv,
                lambda args, splits, holdout, listing, shard_options: ytvos_records(
                    args.data, args.year, splits, holdout, listing, **shard_options),
                lambda root: ytvos_data.read_meta(root, HOLDOUT_SOURCE),
                lambda args: {'year': args.year})


def mose_main(argv=None):
    parser = _parser('mose', 'MOSE -> OSMN video records, one vos_video record per video',
                     'MOSE root holding train/ and valid/ (each JPEGImages/, Annotations/)',
                     mose_data.SPLITS)
    return _run(parser, argv,
                lambda args, splits, holdout, listing, shard_options: mose_records(
                    args.data, splits, holdout, listing, **shard_options),
                lambda root: mose_data.read_meta(root, HOLDOUT_SOURCE), lambda args: {})
