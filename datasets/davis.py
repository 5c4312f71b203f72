"""DAVIS 2016 / 2017 on disk: layout, split listings of both releases, ground-truth object maps.

    <root>/JPEGImages/480p/<seq>/00000.jpg
    <root>/Annotations/480p/<seq>/00000.png      palette PNG, index k = object k, 255 = void
    <root>/ImageSets/<year>/<split>.txt          2017 trainval release: a sequence name a line
    <root>/ImageSets/480p/<split>.txt            original DAVIS 2016 release: "<image> <mask>"
                                                 paths a frame; its masks are 0/255

DAVIS 2016 in the 2017 release is a subset of the sequences, one object: the union of the 2017
objects. Void (255) and the two years' meanings of it: `datasets.palette`.
"""
from __future__ import absolute_import, division, print_function

import numpy as np

from datasets import fileio
from datasets.errors import InputError
from datasets.images import Size
from datasets.palette import VOID_LABEL, read_label_png

YEARS = ('2016', '2017')
SPLITS = ('train', 'val')
RESOLUTION = '480p'
FRAME_STEP = 1   # every frame is annotated
# The OSMN network input for DAVIS (the reference's 854x480 frames).
OSMN_SIZE = Size(height=480, width=854)


def image_dir(root, sequence):
    return fileio.join(root, 'JPEGImages', RESOLUTION, sequence)


def annotation_dir(root, sequence):
    return fileio.join(root, 'Annotations', RESOLUTION, sequence)


def listing_candidates(root, year, split):
    """Listing files of a split, in the order they are tried: the 2017 trainval release's, then
    (2016 only) the original DAVIS 2016 release's."""
    candidates = [fileio.join(root, 'ImageSets', year, split + '.txt')]
    if year == '2016':
        candidates.append(fileio.join(root, 'ImageSets', RESOLUTION, split + '.txt'))
    return candidates


def listed_names(text):
    """Sequence names of a listing's text in first-seen order: "<seq>" lines (2017 layout) or
    "/JPEGImages/480p/<seq>/00000.jpg /Annotations/..." lines (original 2016 layout)."""
    names = []
    for _, line in fileio.list_lines(text):
        fields = line.split()
        if not fields:
            continue
        parts = fields[0].replace('\\', '/').rstrip('/').split('/')
        name = parts[-2] if len(parts) > 1 else parts[0]
        if name not in names:
            names.append(name)
    return names


def split_listing(root, year, split):
    """(listing path, sequence names) of a DAVIS split in either layout; InputError naming the
    listing when there is none or it lists nothing."""
    if year not in YEARS:
        raise InputError('bad_year', 'DAVIS year must be one of %s, got %r' % (YEARS, year), root)
    candidates = listing_candidates(root, year, split)
    path = next((c for c in candidates if fileio.exists(c) and not fileio.isdir(c)), None)
    if path is None:
        raise InputError('missing_listing', 'not found%s: the DAVIS root must hold ImageSets/, '
                         'JPEGImages/480p/ and Annotations/480p/' % (
                             ' (nor %s, the original DAVIS 2016 layout)' % candidates[1]
                             if len(candidates) > 1 else ''), candidates[0])
    try:
        names = listed_names(fileio.read_bytes(path).decode('utf-8'))
    except UnicodeDecodeError as err:
        raise InputError('bad_listing', 'not UTF-8 text: %s' % err, path)
    if not names:
        raise InputError('empty_listing', 'lists no sequence', path)
    return path, names


def object_labels(labels, year):
    """Ground-truth palette indices -> object ids: void (255) is background; 2016 is binary
    (any non-zero index, 255 included, is object 1)."""
    labels = np.asarray(labels)
    if year == '2016':
        return (labels > 0).astype(np.uint8)
    return np.where(labels == VOID_LABEL, 0, labels).astype(np.uint8)


def mask_names(root, sequence):
    """Sorted frame names of a sequence's annotations ([] when the folder is missing)."""
    folder = annotation_dir(root, sequence)
    if not fileio.isdir(folder):
        return []
    return sorted(n[:-4] for n in fileio.listdir(folder) if n.endswith('.png'))


def ground_truth(root, sequence, year, min_frames=1):
    """(frame names, object id maps [frames, H, W], number of objects) of a sequence: the
    objects are ids 1 .. the largest id of the first frame; InputError below min_frames."""
    names = mask_names(root, sequence)
    if len(names) < min_frames:
        raise InputError('too_few_masks', '%d annotated frames, needs at least %d'
                         % (len(names), min_frames), annotation_dir(root, sequence))
    folder = annotation_dir(root, sequence)
    labels = np.stack([object_labels(read_label_png(fileio.join(folder, n + '.png')), year)
                       for n in names])
    return names, labels, int(labels[0].max())
