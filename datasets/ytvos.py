"""YouTube-VOS 2018 and 2019 on disk: layout, meta.json reading and checks, video listing.

    <root>/<split>/JPEGImages/<video>/00000.jpg       every 5th frame (00000, 00005, ...)
    <root>/<split>/Annotations/<video>/00000.png      palette PNG, index = object id (train:
                                                      every frame; valid: each object's first)
    <root>/<split>/meta.json                          {"videos": {video: {"objects": {id:
                                                      {"category": str, "frames": [names]}}}}}

Splits: train, valid. Void (255) is never an object id (`datasets.palette`). The 2019 release has
the same layout and meta.json format (more videos and categories; its valid split has categories
train lacks, the "unseen" ones); only the dataset name in the records tells them apart.
"""
from __future__ import absolute_import, division, print_function

import json

from datasets import fileio
from datasets.images import Size
from datasets.palette import VOID_LABEL

SPLITS = ('train', 'valid')
YEARS = ('2018', '2019')
FRAME_STEP = 5   # YouTube-VOS 2018 ships every 5th frame
# The OSMN network input for YouTube-VOS (the reference's 448x256 training masks); the converter
# also tests guide validity on masks resized to it, as the reference does.
OSMN_SIZE = Size(height=256, width=448)


def image_dir(root, split, video):
    return fileio.join(root, split, 'JPEGImages', video)


def annotation_dir(root, split, video):
    return fileio.join(root, split, 'Annotations', video)


def meta_path(root, split):
    return fileio.join(root, split, 'meta.json')


def _missing_meta(root, split):
    """The FileNotFoundError of a split without meta.json: names the splits that exist."""
    path = meta_path(root, split)
    if not fileio.isdir(fileio.join(root, split)):
        present = [s for s in SPLITS if fileio.isdir(fileio.join(root, s))]
        return FileNotFoundError('%s/ not found under %s; %s' % (
            split, root, 'pass --splits %s' % ','.join(present) if present else
            '--data must be the YouTube-VOS root holding train/ and valid/'))
    return FileNotFoundError('%s not found: --data must be the YouTube-VOS root holding '
                             '<split>/meta.json, JPEGImages/ and Annotations/' % path)


def read_meta(root, split):
    """{video id: entry} of <split>/meta.json; FileNotFoundError or ValueError (one line)."""
    path = meta_path(root, split)
    if not fileio.exists(path):
        raise _missing_meta(root, split)
    try:
        meta = json.loads(fileio.read_bytes(path).decode('utf-8'))
    except ValueError as err:
        raise ValueError('%s is not a YouTube-VOS meta.json: %s' % (path, err))
    videos = meta.get('videos') if isinstance(meta, dict) else None
    if not isinstance(videos, dict):
        raise ValueError('%s is not a YouTube-VOS meta.json: "videos" must map video ids to '
                         'entries, found %s' % (path, type(videos).__name__))
    return videos


def meta_entry_problem(entry):
    """A one-line problem when a meta.json video entry is not {"objects": {id: {...}}}."""
    if not isinstance(entry, dict) or not isinstance(entry.get('objects', {}), dict):
        return 'the entry of the video must be {"objects": {id: {...}}}'
    return None


def meta_object_problem(key, obj):
    """(reason, detail) when a meta.json object entry cannot be used, else None: its key must
    be an object palette index (1-254; 255 is void), its entry {"category": str, "frames":
    [frame names]}."""
    if not (key.isascii() and key.isdigit() and 1 <= int(key) < VOID_LABEL):  # not '²', '١'
        return 'bad_object_id', ('object id %r is not an integer 1-%d (a mask palette index; '
                                 '%d is void)' % (key, VOID_LABEL - 1, VOID_LABEL))
    if not isinstance(obj, dict):
        return 'bad_meta_entry', 'object %s: entry is a %s, not an object' % (
            key, type(obj).__name__)
    frames = obj.get('frames', [])
    if not isinstance(frames, list) or not all(isinstance(n, str) for n in frames):
        return 'bad_meta_entry', 'object %s: "frames" must be a list of frame names' % key
    if not isinstance(obj.get('category', ''), str):
        return 'bad_meta_entry', 'object %s: "category" must be a string' % key
    return None


def list_videos(root, split, meta=None):
    """Sorted video ids of a split: those of meta.json and of JPEGImages/ (the converter reports
    a video that one of them lacks)."""
    names = set(read_meta(root, split) if meta is None else meta)
    jpeg_dir = fileio.join(root, split, 'JPEGImages')
    if fileio.isdir(jpeg_dir):
        names |= set(fileio.listdir(jpeg_dir))
    return sorted(names)


def video_categories(meta):
    """{video: sorted categories of its objects} of a meta.json's videos (entries or objects
    the converter rejects contribute nothing; an empty category is no category)."""
    found = {}
    for video, entry in meta.items():
        names = set()
        if meta_entry_problem(entry) is None:
            for key, obj in entry.get('objects', {}).items():
                if meta_object_problem(key, obj) is None and obj.get('category'):
                    names.add(obj['category'])
        found[video] = sorted(names)
    return found
