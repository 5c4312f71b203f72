"""LaSOT on disk: class and sequence folders, ground truth, occlusion / out-of-view flags, and the
official train / test split.

    <root>/<class>/<class>-<n>/img/00000001.jpg ...
    <root>/<class>/<class>-<n>/groundtruth.txt        x,y,w,h per frame, comma separated, 1-based
    <root>/<class>/<class>-<n>/full_occlusion.txt     one line of comma-separated 0/1 per frame
    <root>/<class>/<class>-<n>/out_of_view.txt        the same
    <root>/<class>/<class>-<n>/nlp.txt                a sentence describing the target (not read)

A frame is absent when it is fully occluded or out of view. The split is the benchmark's
protocol: its test set is the 280 sequences below (4 of the 20 of each of the 70 classes,
`testing_set.txt` of the release), its train set the other 1120. A split file (one sequence
name a line) replaces that list, e.g. for an extended release; evaluation (test_sequences)
takes the root's `testing_set.txt` as that file when the root has one.
"""
from __future__ import absolute_import, division, print_function

import numpy as np

from datasets import fileio
from datasets.track_folders import GROUND_TRUTH, TrackSequence, load_boxes, read_flags
from datasets.tracking import SequenceError, list_images, read_names

ORIGIN = 1
SPLITS = ('train', 'test')
FLAG_FILES = ('full_occlusion.txt', 'out_of_view.txt')
ROOT_TEST_LIST = 'testing_set.txt'   # the release's copy of the test list, beside the classes

# The test split: `<class> <sequence numbers>` per class.
_TEST_SET = """
    airplane 1 9 13 15; basketball 1 6 7 11; bear 2 4 6 17; bicycle 2 7 9 18
    bird 2 3 15 17; boat 3 4 12 17; book 3 10 11 19; bottle 1 12 14 18
    bus 2 5 17 19; car 2 6 9 17; cat 1 3 18 20; cattle 2 7 12 13
    chameleon 3 6 11 20; coin 3 6 7 18; crab 3 6 12 18; crocodile 3 4 10 14
    cup 1 4 7 17; deer 4 8 10 14; dog 1 7 15 19; drone 2 7 13 15
    electricfan 1 10 18 20; elephant 1 12 16 18; flag 2 3 5 9; fox 2 3 5 20
    frog 3 4 9 20; gametarget 1 2 7 13; gecko 1 5 16 19; giraffe 2 10 13 15
    goldfish 3 7 8 10; gorilla 4 6 9 13; guitar 3 8 10 16; hand 2 3 9 16
    hat 1 2 5 18; helmet 5 11 13 19; hippo 1 7 9 20; horse 1 4 12 15
    kangaroo 2 5 11 14; kite 4 6 10 15; leopard 1 7 16 20; licenseplate 6 12 13 15
    lion 1 5 12 20; lizard 1 3 6 13; microphone 2 6 14 16; monkey 3 4 9 17
    motorcycle 1 3 9 18; mouse 1 8 9 17; person 1 5 10 12; pig 2 10 13 18
    pool 3 7 12 15; rabbit 10 13 17 19; racing 10 15 16 20; robot 1 5 8 19
    rubicCube 1 6 14 19; sepia 6 8 13 16; shark 2 3 5 6; sheep 3 5 7 9
    skateboard 3 8 16 19; spider 14 16 18 20; squirrel 8 11 13 19; surfboard 4 5 8 12
    swing 10 14 17 20; tank 6 9 14 16; tiger 4 6 12 18; train 1 7 11 20
    truck 3 6 7 16; turtle 5 8 9 16; umbrella 2 9 17 19; volleyball 1 13 18 19
    yoyo 7 15 17 19; zebra 10 14 16 17
"""


def test_set():
    """The 280 names of the official test split (`airplane-1`, ...), sorted."""
    names = []
    for entry in _TEST_SET.replace('\n', ';').split(';'):
        parts = entry.split()
        if parts:
            names.extend('%s-%s' % (parts[0], n) for n in parts[1:])
    return sorted(names)


def class_of(name):
    """`airplane` of `airplane-13`."""
    return name.rsplit('-', 1)[0]


def list_sequences(root, split='train', split_file=None):
    """Names of the sequences of `split` found under root: the official test list (or those of
    `split_file`) for test, every other sequence for train; split_file's names for either."""
    if split not in SPLITS:
        raise SequenceError('unknown LaSOT split %r (one of %s)' % (split, ', '.join(SPLITS)))
    found = _sequence_names(root)
    if not found:
        raise SequenceError('%s holds no LaSOT sequence (<class>/<class>-<n>/img/)' % root)
    if split_file:
        wanted = read_names(split_file)
        missing = sorted(set(wanted) - set(found))
        if missing:
            raise SequenceError('%s lists %d sequence(s) not under %s, e.g. %s'
                                % (split_file, len(missing), root, missing[0]))
        return wanted
    test = set(test_set())
    return [name for name in found if (name in test) == (split == 'test')]


def test_sequences(root):
    """The test split evaluation reads: the names of the root's testing_set.txt when it has one,
    else the official test sequences found under root."""
    listed = fileio.join(root, ROOT_TEST_LIST)
    return list_sequences(root, 'test', listed if fileio.exists(listed) else None)


def _sequence_names(root):
    if not fileio.isdir(root):
        raise SequenceError('%s is not a directory' % root)
    names = []
    for img in fileio.glob(fileio.join(root, '*', '*', 'img')):
        seq_dir = img.rstrip('/')[:-len('/img')]
        name = seq_dir.rsplit('/', 1)[-1]
        if class_of(name) == seq_dir.rsplit('/', 2)[-2]:
            names.append(name)
    return sorted(names)


def read_sequence(root, name):
    """The TrackSequence of one LaSOT sequence (`airplane-1`)."""
    folder = '%s/%s' % (class_of(name), name)
    seq_dir = fileio.join(root, folder)
    frames = list_images(fileio.join(seq_dir, 'img'))
    boxes = load_boxes(fileio.join(seq_dir, GROUND_TRUTH), frames)
    occlusion, out_of_view = [read_flags(fileio.join(seq_dir, f), len(frames))
                              for f in FLAG_FILES]
    absent = (occlusion == 1) | (out_of_view == 1)
    # no partial-occlusion label: present frames are not flagged occluded
    return TrackSequence(name, folder, frames, boxes, ORIGIN, absent,
                         np.zeros(len(frames), np.int64), class_of(name))
