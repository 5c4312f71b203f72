"""MOSE on disk (the YouTube-VOS-like release of github henghuiding/MOSE-api): layout, listing.

    <root>/<split>/JPEGImages/<video>/00000.jpg      every frame (00000, 00001, ...)
    <root>/<split>/Annotations/<video>/00000.png     palette PNG, index = object id (train:
                                                     every frame; valid: the first frame only)
    <root>/<split>/meta.json                         optional: the release ships none; when
                                                     present it is read as YouTube-VOS's

Splits: train, valid (the train.tar.gz and valid.tar.gz of the release). Without meta.json the
objects are the palette ids of the masks, each from the first frame where it is non-blank, with
no category. Void (255) is never an object id (`datasets.palette`).
"""
from __future__ import absolute_import, division, print_function

from datasets import fileio
from datasets import ytvos

SPLITS = ('train', 'valid')
FRAME_STEP = 1   # every frame is shipped
# The OSMN network input: MOSE's frames are landscape video like YouTube-VOS's.
OSMN_SIZE = ytvos.OSMN_SIZE

image_dir = ytvos.image_dir
annotation_dir = ytvos.annotation_dir
meta_path = ytvos.meta_path


def _missing_split(root, split):
    """The FileNotFoundError of a split that is not there: names the splits that are."""
    present = [s for s in SPLITS if fileio.isdir(fileio.join(root, s, 'JPEGImages'))]
    return FileNotFoundError('%s/JPEGImages/ not found under %s; %s' % (
        split, root, 'pass --splits %s' % ','.join(present) if present else
        '--data must be the MOSE root holding train/ and valid/ (each with JPEGImages/ and '
        'Annotations/)'))


def read_meta(root, split):
    """{video id: entry} of <split>/meta.json when there is one (ytvos.read_meta's checks), else
    None: MOSE's release has none."""
    if not fileio.exists(meta_path(root, split)):
        return None
    return ytvos.read_meta(root, split)


def list_videos(root, split, meta=None):
    """Sorted video ids of a split: its JPEGImages/ and Annotations/ folders (and meta.json's
    when given; the converter reports a video one of them lacks)."""
    jpeg_dir = fileio.join(root, split, 'JPEGImages')
    if not fileio.isdir(jpeg_dir):
        raise _missing_split(root, split)
    names = set(fileio.listdir(jpeg_dir)) | set(meta or ())
    mask_dir = fileio.join(root, split, 'Annotations')
    if fileio.isdir(mask_dir):
        names |= set(fileio.listdir(mask_dir))
    return sorted(names)
