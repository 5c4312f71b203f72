"""What a tracking benchmark reader yields, and choosing one on a command line.

A Sequence holds its frame paths, its boxes (N x 4, x, y, w, h in the file's own convention;
only the first row is needed to track, all rows to evaluate) and `origin`, the coordinate of the
first pixel in that convention (OTB: 1, VID XML and `--init` boxes: 0). Trackers work in 0-based
pixels; results are written back in the file's convention, the layout got10k and the OTB
toolkits compare against the ground truth as it is. Readers: `datasets.otb`, `datasets.vid`,
`datasets.benchmarks` (UAV123, NfS, TC128, LaSOT, GOT-10k, TrackingNet).
"""
from __future__ import absolute_import, division, print_function

import collections
import glob
import os
import re

from datasets import fileio
from datasets.errors import InputError

Sequence = collections.namedtuple('Sequence', 'name frames boxes origin')

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp')


class SequenceError(InputError):
    """A sequence that cannot be read: the message names the path and the reason."""

    def __init__(self, message):
        super(SequenceError, self).__init__('bad_sequence', message)


def read_list_file(path):
    """fileio.read_list_lines of a reader's list or text file, its errors a SequenceError naming
    the file (the one way the tracking readers open their text files)."""
    try:
        return fileio.read_list_lines(path)
    except (IOError, OSError, UnicodeDecodeError) as err:
        raise SequenceError('cannot read %s: %s' % (path, err))


def read_names(path):
    """The names of a list file, one a line, in its order (GOT-10k list.txt, split files)."""
    return [line for _, line in read_list_file(path)]


def read_number_rows(path):
    """[(line number, line, floats)] of a ground-truth file: numbers separated by commas, tabs
    or spaces (the OTB, GOT-10k, LaSOT and VOT files); a word among them is a SequenceError
    naming the line."""
    rows = []
    for number, line in read_list_file(path):
        try:
            rows.append((number, line, [float(v) for v in re.split(r'[,\s]+', line) if v]))
        except ValueError:
            raise SequenceError('%s:%d: not numbers: %r' % (path, number, line))
    return rows


def frame_number(path):
    """The last number in a frame file's name (None when it has none)."""
    digits = re.findall(r'\d+', os.path.splitext(os.path.basename(path))[0])
    return int(digits[-1]) if digits else None


def list_images(folder):
    """Images of a folder in frame-number order (names without a number sort by name)."""
    files = [p for p in glob.glob(os.path.join(folder, '*'))
             if p.lower().endswith(IMAGE_EXTENSIONS)]
    return sorted(files, key=lambda p: (frame_number(p) is None, frame_number(p) or 0, p))


def frames_in_range(frames, first, last):
    """The frames numbered first..last (inclusive): the part of a folder a ground truth covers
    (OTB's frame ranges, UAV123's sequences, TC128's _frames.txt)."""
    return [p for p in frames if frame_number(p) is not None and first <= frame_number(p) <= last]


# The benchmark options beside --otb and --vid: (option, what it reads), see datasets.benchmarks.
BENCHMARK_OPTIONS = (
    ('uav123', 'UAV123 root (data_seq/UAV123, anno/UAV123)'),
    ('nfs', 'NfS root (<seq>/30/<seq>/*.jpg, <seq>/30/<seq>.txt): 30 fps'),
    ('tc128', 'Temple-color-128 root (<seq>/img, <seq>_gt.txt, <seq>_frames.txt)'),
    ('lasot', 'LaSOT root: its test split (testing_set.txt, else the official 280)'),
    ('got10k', 'GOT-10k root: its --split (val or test)'),
    ('trackingnet', 'TrackingNet root: its TEST split (a submission zip)'),
)


def add_source_arguments(parser):
    """--otb / --vid / a benchmark (one of them), --list and --no-otb-ranges, --split, for
    load_benchmark."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--vot', help='VOT2016/2017/2018 root (list.txt, <seq>/groundtruth.txt): '
                                      'the reset protocol (datasets.vot, evaluation.vot)')
    source.add_argument('--otb', help='OTB root (<seq>/img, groundtruth_rect.txt)')
    source.add_argument('--vid', help='ILSVRC2015 root: tracks of its val split')
    for option, text in BENCHMARK_OPTIONS:
        source.add_argument('--' + option, help=text)
    parser.add_argument('--split', choices=('val', 'test'),
                        help='GOT-10k split (default val; only with --got10k)')
    parser.add_argument('--list', help='OTB sequence list: `name` or `name first last` per line '
                                       '(name: a folder, or one target such as Jogging.1)')
    parser.add_argument('--no-otb-ranges', action='store_true',
                        help="don't apply the OTB toolkit's built-in frame ranges (David "
                             "300-770, Football1, Freeman3, Freeman4, Diving) to folders of "
                             "those names")


def load_benchmark(args):
    """datasets.benchmarks.Benchmark of add_source_arguments' options."""
    if getattr(args, 'vot', None):
        raise SequenceError('--vot sequences are scored by the VOT reset protocol: python -m '
                            'trackers eval --vot ROOT, or python -m evaluation.vot')
    from datasets import benchmarks, otb, vid   # they build on this module
    given = next(o for o in ('otb', 'vid') + tuple(o for o, _ in BENCHMARK_OPTIONS)
                 if getattr(args, o, None))
    if given != 'otb' and (args.list or args.no_otb_ranges):
        raise SequenceError('--list and --no-otb-ranges apply to --otb, not to --%s' % given)
    if given != 'got10k' and getattr(args, 'split', None):
        raise SequenceError('--split chooses a GOT-10k split: it applies to --got10k, not to --%s'
                            % given)
    if args.otb:
        return benchmarks.benchmark('otb', otb.load_otb(args.otb, args.list,
                                                        not args.no_otb_ranges))
    if args.vid:
        return benchmarks.benchmark('vid', vid.track_sequences(args.vid))
    readers = {'uav123': benchmarks.load_uav123, 'nfs': benchmarks.load_nfs,
               'tc128': benchmarks.load_tc128, 'lasot': benchmarks.load_lasot,
               'got10k': lambda root: benchmarks.load_got10k(root, args.split or 'val'),
               'trackingnet': benchmarks.load_trackingnet}
    root = getattr(args, given)
    if not os.path.isdir(root):
        raise SequenceError('%s is not a directory (--%s)' % (root, given))
    return readers[given](root)

