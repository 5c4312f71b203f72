"""ILSVRC2015-VID on disk: layout, snippet listing, frame ordering, frame XML parsing.

    <root>/Annotations/VID/train/<ILSVRC2015_VID_train_000x>/<snippet>/<frame>.xml
    <root>/Annotations/VID/val/<snippet>/<frame>.xml
    <root>/Data/VID/{train/<batch>,val}/<snippet>/<frame>.JPEG

Frames are ordered by their numeric name (no reliance on zero padding), boxes are inclusive
(xmin, ymin, xmax, ymax) in 0-based pixels as the XML stores them.
"""
from __future__ import absolute_import, division, print_function

import collections
import posixpath
import re

from datasets import fileio, numbers
from datasets.errors import InputError
from datasets.numbers import MAX_ID, MAX_IMAGE_SIDE, show

SOURCE_SPLITS = ('train', 'val')   # the release's folders (train is grouped in batches)
ANNOTATION_EXT, FRAME_EXT = '.xml', '.JPEG'

Snippet = collections.namedtuple('Snippet', 'source_split folder name split')
VidObject = collections.namedtuple('VidObject', 'trackid name box occluded generated')
Annotation = collections.namedtuple('Annotation', 'folder filename width height objects')
# One frame of a snippet: its number, file stem, and XML path (None when only the JPEG exists).
FrameFiles = collections.namedtuple('FrameFiles', 'number stem xml')


def annotation_dir(root, source_split, folder):
    return fileio.join(root, 'Annotations', 'VID', source_split, folder)


def data_dir(root, source_split, folder):
    return fileio.join(root, 'Data', 'VID', source_split, folder)


def _text(node, path):
    value = node.findtext(path)
    if value is None or not value.strip():
        raise InputError('bad_annotation', 'missing <%s>' % path)
    return value.strip()


_INTEGER = re.compile(r'[-+]?[0-9]+\Z')
_FLAGS = (0, 1)


def _int(node, path, low=None, high=None):
    """The integer text of an element, within low..high; InputError naming the element and its
    text otherwise (`nan`, `1e3`, `1_000` and non-ASCII digits are not integers here)."""
    value = _text(node, path)
    if not _INTEGER.match(value):
        raise InputError('bad_annotation', '<%s> is not an integer: %s' % (path, show(value)))
    number = int(value)
    if low is not None and not low <= number <= high:
        raise InputError('bad_annotation', '<%s> %d is not within %d..%d'
                         % (path, number, low, high))
    return number


def _flag(node, path):
    """An optional 0/1 element (occluded, generated): 0 when absent or empty."""
    return _int(node, path, *_FLAGS) if (node.findtext(path) or '').strip() else 0


def parse_annotation(data):
    """VID frame XML bytes -> Annotation; raises InputError(reason, detail). Every number is an
    integer: frame sides 1..MAX_IMAGE_SIDE, trackids 0..2**63-1, box coordinates within
    MAX_IMAGE_SIDE of the frame (box_problem then bounds them by the frame itself)."""
    from lxml import etree
    try:
        root = etree.fromstring(data)
    except etree.XMLSyntaxError as err:
        raise InputError('malformed_xml', str(err))
    width = _int(root, 'size/width', 1, MAX_IMAGE_SIDE)
    height = _int(root, 'size/height', 1, MAX_IMAGE_SIDE)
    objects = []
    for node in root.findall('object'):
        box = tuple(_int(node, 'bndbox/' + k, -MAX_IMAGE_SIDE, 2 * MAX_IMAGE_SIDE)
                    for k in ('xmin', 'ymin', 'xmax', 'ymax'))
        objects.append(VidObject(_int(node, 'trackid', 0, MAX_ID), _text(node, 'name'), box,
                                 _flag(node, 'occluded'), _flag(node, 'generated')))
    return Annotation(_text(root, 'folder'), _text(root, 'filename'), width, height, objects)


def box_problem(box, width, height):
    """(reason, detail) when an inclusive (xmin, ymin, xmax, ymax) box cannot be cropped, else
    None: datasets.numbers.box_problem on its pixel extent. Boxes that stick out of the frame
    within the margin are kept (the curation pads them), as the reference does."""
    xmin, ymin, xmax, ymax = box
    if xmax < xmin or ymax < ymin:
        return 'zero_area_box', 'box %s has non-positive width or height' % (box,)
    return numbers.box_problem(xmin, ymin, xmax + 1, ymax + 1, width, height, box)


def list_snippets(root):
    """Snippets of the annotation and frame trees (their union: a snippet with frames and no
    annotations is reported by the converter, not skipped) as (source_split, folder, name),
    sorted; FileNotFoundError when the root lacks either tree."""
    found = set()
    for tree in ('Annotations', 'Data'):
        base = fileio.join(root, tree, 'VID')
        if not fileio.isdir(base):
            raise FileNotFoundError('%s not found: --data must be the ILSVRC2015 root holding '
                                    'Annotations/VID and Data/VID' % base)
        for pattern, source_split in (('train/*/*', 'train'), ('val/*', 'val')):
            for path in fileio.glob(fileio.join(base, pattern)):
                if fileio.isdir(path):
                    folder = posixpath.relpath(path, fileio.join(base, source_split))
                    found.add((source_split, folder, posixpath.basename(path)))
    return sorted(found)


def snippet_frames(ann_dir, frames_dir):
    """([FrameFiles] in frame-number order, [stems that are not numbers]) over every frame
    that has an XML or a JPEG: a JPEG without its XML is listed, not skipped unseen."""
    xmls = fileio.stems(ann_dir, ANNOTATION_EXT)
    jpegs = fileio.stems(frames_dir, FRAME_EXT)
    frames, unnumbered = [], []
    for stem in sorted(xmls | jpegs):
        if stem.isdigit():
            xml = fileio.join(ann_dir, stem + ANNOTATION_EXT) if stem in xmls else None
            frames.append(FrameFiles(int(stem), stem, xml))
        else:
            unnumbered.append(stem)
    return sorted(frames), unnumbered


def names_other_frame(annotation, snippet, stem):
    """The frame an XML's <folder>/<filename> names when it is not its own (folder or snippet
    name + stem), else None: the converter crops the frame of the XML's path and warns."""
    named = posixpath.normpath('%s/%s' % (annotation.folder, annotation.filename))
    own = (posixpath.normpath('%s/%s' % (snippet.folder, stem)),
           posixpath.normpath('%s/%s' % (snippet.name, stem)))
    return None if named in own else named


def _snippet_tracks(root, subset, anno_root, snippet):
    """{trackid: [(frame path, [x, y, w, h])]} of one snippet, frames in XML-number order."""
    from datasets.tracking import SequenceError, frame_number
    tracks = collections.defaultdict(list)
    xmls = fileio.glob(fileio.join(anno_root, snippet, '*' + ANNOTATION_EXT))
    for path in sorted(xmls, key=lambda p: (frame_number(p), p)):
        try:
            annotation = parse_annotation(fileio.read_bytes(path))
        except InputError as err:
            raise SequenceError('%s: %s' % (path, err))
        stem = posixpath.splitext(posixpath.basename(path))[0]
        frame = fileio.join(data_dir(root, subset, snippet), stem + FRAME_EXT)
        for obj in annotation.objects:
            problem = box_problem(obj.box, annotation.width, annotation.height)
            if problem:
                raise SequenceError('%s: trackid %d: %s' % (path, obj.trackid, problem[1]))
            xmin, ymin, xmax, ymax = obj.box
            tracks[obj.trackid].append((frame, [xmin, ymin, xmax - xmin + 1, ymax - ymin + 1]))
    return tracks


def track_sequences(root, subset='val'):
    """ILSVRC2015-VID tracks as tracking Sequences named <snippet>.<trackid>, as got10k's
    ImageNetVID: the frames where the track is annotated, boxes x, y, w, h with
    w = xmax - xmin + 1 (origin 0); tracks with fewer than two boxes are skipped."""
    import numpy as np
    from datasets.tracking import Sequence, SequenceError
    anno_root = fileio.join(root, 'Annotations', 'VID', subset)
    if not fileio.isdir(anno_root):
        raise SequenceError('%s not found: the VID root must hold Annotations/VID/%s and '
                            'Data/VID/%s' % (anno_root, subset, subset))
    snippets = set(posixpath.relpath(posixpath.dirname(p), anno_root)
                   for p in fileio.walk_files(anno_root) if p.endswith(ANNOTATION_EXT))
    out = []
    for snippet in sorted(snippets):
        tracks = _snippet_tracks(root, subset, anno_root, snippet)
        for trackid in sorted(tracks):
            if len(tracks[trackid]) < 2:
                continue
            frames, boxes = zip(*tracks[trackid])
            out.append(Sequence('%s.%d' % (snippet.replace('/', '_'), trackid), list(frames),
                                np.array(boxes, np.float64), 0))
    if not out:
        raise SequenceError('%s: no track with two or more annotated frames' % anno_root)
    return out
