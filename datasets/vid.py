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

from datasets import fileio
from datasets.errors import InputError

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
