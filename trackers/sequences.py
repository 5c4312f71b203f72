"""Sequences a tracker runs on: OTB layout, ILSVRC2015-VID val tracks, any folder of frames.

A Sequence holds its frame paths, its boxes (N x 4, x, y, w, h in the file's own convention;
only the first row is needed to track, all rows to evaluate) and `origin`, the coordinate of the
first pixel in that convention (OTB: 1, VID XML and `--init` boxes: 0). Trackers work in 0-based
pixels; results are written back in the file's convention, the layout got10k and the OTB
toolkits compare against the ground truth as it is.
"""
from __future__ import absolute_import, division, print_function

import collections
import glob
import os
import re

import numpy as np

Sequence = collections.namedtuple('Sequence', 'name frames boxes origin')

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp')

# OTB sequences whose ground truth covers only part of img/ (first and last frame number,
# inclusive), as in the OTB toolkit's sequence table (and got10k's OTB loader, which, like this
# table, matches the sequence name case-insensitively). It applies to an OTB root's folders of
# these names unless switched off (load_otb(builtin_ranges=False), --no-otb-ranges); a sequence
# list line `name first last` overrides it and gives any other sequence's range; a count
# mismatch without a range is an error, never a guess.
OTB_FRAME_RANGES = {
    'David': (300, 770),
    'Football1': (1, 74),
    'Freeman3': (1, 460),
    'Freeman4': (1, 283),
    'Diving': (1, 215),
}


class SequenceError(ValueError):
    """A sequence that cannot be read: the message names the path and the reason."""


def read_boxes(path):
    """Boxes of a ground-truth file: one x,y,w,h per line, separated by commas, tabs or spaces."""
    rows = []
    try:
        with open(path) as f:
            for number, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                values = [v for v in re.split(r'[,\s]+', line) if v]
                try:
                    row = [float(v) for v in values]
                except ValueError:
                    raise SequenceError('%s:%d: not numbers: %r' % (path, number, line))
                if len(row) != 4:
                    raise SequenceError('%s:%d: expected 4 values (x,y,w,h), got %d'
                                        % (path, number, len(row)))
                rows.append(row)
    except (IOError, OSError) as err:
        raise SequenceError('cannot read %s: %s' % (path, err))
    if not rows:
        raise SequenceError('%s has no boxes' % path)
    return np.array(rows, np.float64)


def parse_box(text):
    """'x,y,w,h' -> array of 4 floats (0-based pixels)."""
    try:
        box = np.array([float(v) for v in text.split(',')], np.float64)
    except ValueError:
        box = None
    if box is None or box.shape != (4,) or not (box[2] > 0 and box[3] > 0):
        raise SequenceError('--init must be x,y,w,h with a positive width and height, got %r'
                            % text)
    return box


def _frame_number(path):
    digits = re.findall(r'\d+', os.path.splitext(os.path.basename(path))[0])
    return int(digits[-1]) if digits else None


def list_images(folder):
    """Images of a folder in frame-number order (names without a number sort by name)."""
    files = [p for p in glob.glob(os.path.join(folder, '*'))
             if p.lower().endswith(IMAGE_EXTENSIONS)]
    return sorted(files, key=lambda p: (_frame_number(p) is None, _frame_number(p) or 0, p))


def read_sequence_list(path):
    """{name: (first, last) or None} from a list file: one sequence per line, `name` or
    `name first last`; '#' starts a comment."""
    out = collections.OrderedDict()
    with open(path) as f:
        for number, line in enumerate(f, 1):
            parts = line.split('#', 1)[0].split()
            if not parts:
                continue
            if len(parts) == 1:
                out[parts[0]] = None
            elif len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
                out[parts[0]] = (int(parts[1]), int(parts[2]))
            else:
                raise SequenceError('%s:%d: expected `name` or `name first last`, got %r'
                                    % (path, number, line.strip()))
    return out


def _blank(path):
    try:
        with open(path) as f:
            return not f.read().strip()
    except (IOError, OSError) as err:
        raise SequenceError('cannot read %s: %s' % (path, err))


def ground_truth_files(seq_dir, base):
    """[(sequence name, ground-truth file)] of one OTB folder, named as got10k's OTB names them
    (so that results in its layout join): the folder's groundtruth*.txt in sorted order, empty
    ones skipped (Human4's groundtruth_rect.1.txt); one file left is the sequence `base`,
    several are `base.1`, `base.2`, ... in that order (Jogging.1, Jogging.2)."""
    files = [p for p in sorted(glob.glob(os.path.join(seq_dir, 'groundtruth*.txt')))
             if not _blank(p)]
    if len(files) == 1:
        return [(base, files[0])]
    return [('%s.%d' % (base, k), path) for k, path in enumerate(files, 1)]


def builtin_frame_range(name):
    """OTB_FRAME_RANGES' (first, last) of a sequence name (case-insensitive, as got10k), or None."""
    return {k.lower(): v for k, v in OTB_FRAME_RANGES.items()}.get(name.lower())


def otb_sequence(seq_dir, frame_range=None, name=None, builtin_ranges=True):
    """Sequences of one OTB folder (`img/0001.jpg ...` and its ground-truth files, see
    ground_truth_files). frame_range = (first, last) frame numbers the ground truth covers;
    without it, OTB_FRAME_RANGES' entry of the folder's name if builtin_ranges."""
    base = name or os.path.basename(os.path.abspath(seq_dir))
    images = list_images(os.path.join(seq_dir, 'img'))
    if not images:
        raise SequenceError('%s: no images in img/' % seq_dir)
    builtin = builtin_frame_range(base) if builtin_ranges and not frame_range else None
    frame_range = frame_range or builtin
    if frame_range:
        first, last = frame_range
        images = [p for p in images if _frame_number(p) is not None and
                  first <= _frame_number(p) <= last]
    targets = ground_truth_files(seq_dir, base)
    if not targets:
        raise SequenceError('%s: no ground truth (groundtruth_rect.txt, or a non-empty '
                            'groundtruth*.txt)' % seq_dir)
    out = []
    for seq_name, path in targets:
        boxes = read_boxes(path)
        if len(boxes) != len(images):
            where = ''
            if frame_range:
                where = ' in %d..%d%s' % (frame_range + (
                    ' (the built-in OTB range of %s; --no-otb-ranges turns it off)' % base
                    if builtin else '',))
            raise SequenceError(
                '%s: %d boxes but %d images%s; give the frame range of the ground truth in a '
                'sequence list line `%s <first> <last>`' % (
                    path, len(boxes), len(images), where, base))
        out.append(Sequence(seq_name, images, boxes, 1))
    return out


def _listed(root, name, frame_range, builtin_ranges):
    """The sequences of a list file's line: a folder (all its targets), or one target of a
    folder with several, by its got10k name (`Jogging.1`)."""
    seq_dir = os.path.join(root, name)
    if os.path.isdir(seq_dir):
        return otb_sequence(seq_dir, frame_range, name, builtin_ranges)
    folder, dot, number = name.rpartition('.')
    if dot and number.isdigit() and os.path.isdir(os.path.join(root, folder)):
        found = otb_sequence(os.path.join(root, folder), frame_range, folder, builtin_ranges)
        chosen = [s for s in found if s.name == name]
        if chosen:
            return chosen
        raise SequenceError('%s: listed sequence %s not found; %s holds %s' % (
            root, name, folder, ', '.join(s.name for s in found)))
    raise SequenceError('%s: listed sequence %s not found' % (root, name))


def load_otb(root, list_file=None, builtin_ranges=True):
    """Every OTB sequence under root (folders holding img/), or those of a sequence list file
    (folder names, or got10k names of single targets like Jogging.1). builtin_ranges: apply
    OTB_FRAME_RANGES to folders without a range of their own."""
    if not os.path.isdir(root):
        raise SequenceError('%s is not a directory' % root)
    if list_file:
        wanted = read_sequence_list(list_file)
    else:
        wanted = collections.OrderedDict(
            (name, None) for name in sorted(os.listdir(root))
            if os.path.isdir(os.path.join(root, name, 'img')))
    if not wanted:
        raise SequenceError('%s holds no OTB sequence (<seq>/img/ and groundtruth_rect.txt)'
                            % root)
    out = []
    for name, frame_range in wanted.items():
        out.extend(_listed(root, name, frame_range, builtin_ranges))
    return out


def load_vid(root, subset='val'):
    """ILSVRC2015-VID tracks as sequences named <snippet>.<trackid>, as got10k's ImageNetVID: the
    frames where the track is annotated, boxes x, y, w, h with w = xmax - xmin + 1; tracks with
    fewer than two boxes are skipped. Frames are ordered by the number in their XML file name."""
    from datasets.errors import InputError
    from pipelines.vid import parse_annotation
    anno_root = os.path.join(root, 'Annotations', 'VID', subset)
    if not os.path.isdir(anno_root):
        raise SequenceError('%s not found: the VID root must hold Annotations/VID/%s and '
                            'Data/VID/%s' % (anno_root, subset, subset))
    out = []
    snippets = sorted(os.path.relpath(os.path.dirname(p), anno_root) for p in glob.glob(
        os.path.join(anno_root, '**', '*.xml'), recursive=True))
    for snippet in sorted(set(snippets)):
        tracks = collections.defaultdict(list)
        xmls = glob.glob(os.path.join(anno_root, snippet, '*.xml'))
        for path in sorted(xmls, key=lambda p: (_frame_number(p), p)):
            try:
                with open(path, 'rb') as f:
                    annotation = parse_annotation(f.read())
            except InputError as err:
                raise SequenceError('%s: %s' % (path, err))
            stem = os.path.splitext(os.path.basename(path))[0]
            frame = os.path.join(root, 'Data', 'VID', subset, snippet, stem + '.JPEG')
            for obj in annotation.objects:
                xmin, ymin, xmax, ymax = obj.box
                tracks[obj.trackid].append(
                    (frame, [xmin, ymin, xmax - xmin + 1, ymax - ymin + 1]))
        for trackid in sorted(tracks):
            if len(tracks[trackid]) < 2:
                continue
            frames, boxes = zip(*tracks[trackid])
            out.append(Sequence('%s.%d' % (snippet.replace(os.sep, '_'), trackid), list(frames),
                                np.array(boxes, np.float64), 0))
    if not out:
        raise SequenceError('%s: no track with two or more annotated frames' % anno_root)
    return out


def load_folder(folder, init_box):
    """A folder of frames and the first box (0-based x, y, w, h), named after the folder (the
    sequence folder for an OTB-style img/)."""
    images = list_images(folder)
    if not images:
        raise SequenceError('%s holds no images (%s)' % (folder, ', '.join(IMAGE_EXTENSIONS)))
    path = os.path.abspath(folder)
    name = os.path.basename(path)
    if name == 'img':
        name = os.path.basename(os.path.dirname(path))
    return Sequence(name, images, np.asarray(init_box, np.float64)[None], 0)


def load_sequence(path, init_box=None):
    """One sequence folder: OTB layout (img/ + ground truth) unless init_box is given or there is
    no ground truth, then a plain frame folder that needs init_box."""
    if os.path.isdir(os.path.join(path, 'img')) and init_box is None:
        return otb_sequence(path)
    if init_box is None:
        raise SequenceError('%s is not an OTB sequence (img/ + groundtruth_rect.txt): give the '
                            'first box with --init x,y,w,h' % path)
    folder = os.path.join(path, 'img') if os.path.isdir(os.path.join(path, 'img')) else path
    return [load_folder(folder, init_box)]


def select(sequences, name, source):
    """The sequence of that name among sequences (loaded from source), or a one-line error."""
    found = [s for s in sequences if s.name == name]
    if not found:
        names = [s.name for s in sequences]
        raise SequenceError('%s has no sequence %s (%d sequences: %s%s)' % (
            source, name, len(names), ', '.join(names[:5]), ', ...' if len(names) > 5 else ''))
    return found


def add_source_arguments(parser):
    """--otb / --vid (one of them), --list and --no-otb-ranges, for load_source."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--otb', help='OTB root (<seq>/img, groundtruth_rect.txt)')
    source.add_argument('--vid', help='ILSVRC2015 root: tracks of its val split')
    parser.add_argument('--list', help='OTB sequence list: `name` or `name first last` per line '
                                       '(name: a folder, or one target such as Jogging.1)')
    parser.add_argument('--no-otb-ranges', action='store_true',
                        help="don't apply the OTB toolkit's built-in frame ranges (David "
                             "300-770, Football1, Freeman3, Freeman4, Diving) to folders of "
                             "those names")


def load_source(args):
    """The sequences of add_source_arguments' options."""
    if args.vid and (args.list or args.no_otb_ranges):
        raise SequenceError('--list and --no-otb-ranges apply to --otb, not to --vid')
    if args.otb:
        return load_otb(args.otb, args.list, not args.no_otb_ranges)
    return load_vid(args.vid)


def read_frame(path):
    """RGB uint8 frame, or SequenceError naming the file."""
    import cv2
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise SequenceError('cannot decode frame %s' % path)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
