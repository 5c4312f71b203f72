"""Read the shards of a records folder back, record by record: what `inspect` counts and what
`verify` checks. One pass per shard: sha256 and size of the file, every record's CRCs (schemas/
tfrecord.py), every record decoded with its schema, and with images=True every JPEG and PNG.

Examples a record holds, per kind (`EXAMPLES`), and the dataset_info counts they must equal
(`INFO_COUNTS`): vid_track chunks hold crops of one track (a track's chunk 0 counts the track;
`crops` counts each crop once, as its owning chunk's anchors, `crops_stored` with the overlap);
coco_instances records are images with kept objects; vos_video records are videos with frames,
annotated frames (`masks`) and objects.
"""
from __future__ import absolute_import, division, print_function

import collections
import hashlib
import posixpath

import numpy as np

from schemas import dataset_info, tfrecord

# dataset_info counts key of each example count, per schema
INFO_COUNTS = {
    'vid_track': {'records': 'records', 'tracks': 'tracks', 'crops': 'crops'},
    'coco_instances': {'records': 'records', 'images': 'images_written',
                       'objects': 'instances_kept'},
    'vos_video': {'records': 'records', 'videos': 'videos', 'frames': 'frames_written',
                  'objects': 'objects'},
}

# (field, height field, width field, may be empty) of the encoded images of each schema
IMAGE_FIELDS = {
    'vid_track': (('frame_encoded', 'image_height', 'image_width', False),),
    'coco_instances': (('image_encoded', 'image_height', 'image_width', False),
                       ('object_mask', 'image_height', 'image_width', False)),
    'vos_video': (('frame_image', 'height', 'width', False),
                  ('frame_mask', 'height', 'width', True)),
}


def _text(value):
    return value.decode('utf-8', 'replace') if isinstance(value, bytes) else str(value)


def examples(schema_name, example):
    """(Counter of examples, source label) of one decoded record."""
    if schema_name == 'vid_track':
        owned = int(example['chunk_anchor_end'] - example['chunk_anchor_begin'])
        return collections.Counter(
            tracks=int(example['chunk_index'] == 0), crops=owned,
            crops_stored=len(example['frame_encoded'])), _text(example['source_split'])
    if schema_name == 'coco_instances':
        return collections.Counter(images=1, objects=len(example['object_ann_id'])), \
            _text(example['source_split'])
    if schema_name == 'vos_video':
        return collections.Counter(
            videos=1, frames=len(example['frame_image']),
            masks=int(np.sum(example['frame_has_mask'])),
            objects=len(example['object_ids'])), '%s %s' % (
                _text(example['dataset']), _text(example['source_split']))
    raise KeyError('no example counts for schema %r' % schema_name)


def _decoded_size(data):
    """(height, width) of JPEG or PNG bytes, or None when they do not decode."""
    import cv2
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    return None if image is None else image.shape[:2]


def image_problems(schema_name, example):
    """Messages for the encoded images of one decoded record that do not decode, or decode to
    another size than the record states."""
    problems = []
    for field, height_field, width_field, may_be_empty in IMAGE_FIELDS.get(schema_name, ()):
        value = example[field]
        items = [value] if isinstance(value, bytes) else list(value)
        expected = (int(example[height_field]), int(example[width_field]))
        for i, data in enumerate(items):
            if not data and may_be_empty:
                continue
            size = _decoded_size(data)
            where = field if isinstance(value, bytes) else '%s[%d]' % (field, i)
            if size is None:
                problems.append('%s does not decode as an image' % where)
            elif tuple(size) != expected:
                problems.append('%s decodes to %dx%d, the record says %dx%d'
                                % ((where,) + tuple(size[::-1]) + expected[::-1]))
    return problems


class ShardScan(object):
    """What one pass over one shard found; `problems` are (record index or None, message)."""

    def __init__(self, path):
        self.path = path
        self.exists = False
        self.sha256 = self.file_bytes = None
        self.records = self.payload_bytes = 0
        self.examples = collections.Counter()
        self.sources = set()
        self.problems = []

    def problem(self, message, index=None):
        self.problems.append((index, message))


class _HashingReader(object):
    """A binary file whose bytes read so far are hashed and counted (one pass for both)."""

    def __init__(self, f):
        self.f, self.digest, self.size = f, hashlib.sha256(), 0

    def read(self, n=-1):
        data = self.f.read(n)
        self.digest.update(data)
        self.size += len(data)
        return data


def scan_shard(path, schema, images=False):
    """One pass over the shard at `path`: checksum, records with their CRCs, each record decoded
    by `schema` (and its images with images=True), examples and sources counted."""
    scan = ShardScan(path)
    gfile = dataset_info._gfile(path)
    if not gfile.exists(path):
        scan.problem('missing: dataset_info.json lists it, the file does not exist')
        return scan
    scan.exists = True
    with gfile.GFile(path, 'rb') as f:
        reader = _HashingReader(f)
        records = tfrecord.iter_records(reader)
        while True:
            try:
                record = next(records)
            except StopIteration:
                break
            except tfrecord.RecordError as err:
                scan.problem(str(err), err.index)
                break
            _scan_record(scan, schema, record, images)
        while reader.read(1 << 20):  # the rest of a damaged file, for its checksum
            pass
    scan.sha256, scan.file_bytes = reader.digest.hexdigest(), reader.size
    return scan


def _scan_record(scan, schema, record, images):
    index = scan.records
    scan.records += 1
    scan.payload_bytes += len(record)
    try:
        example = schema.read(record)
        counts, source = examples(schema.name, example)
    except Exception as err:  # any decoding failure of a bad record is reported, not raised
        scan.problem('record %d does not decode as %s: %s: %s' % (
            index, schema.name, type(err).__name__, str(err).split('\n')[0]), index)
        return
    scan.examples.update(counts)
    scan.sources.add(source)
    if images:
        for message in image_problems(schema.name, example):
            scan.problem('record %d: %s' % (index, message), index)


def listed_shards(dataset_dir, info):
    """[(split, shard entry, path)] of every shard dataset_info lists, in split order."""
    return [(split, shard, posixpath.join(dataset_dir, shard['file']))
            for split, entry in sorted(info['splits'].items()) for shard in entry['shards']]


class ShardError(ValueError):
    """A shard that cannot be read to its end (the message names it and the record)."""


def shard_records(path):
    """Yield (index, record bytes) of the shard at `path`; ShardError naming the shard and the
    record at the first damaged one."""
    gfile = dataset_info._gfile(path)
    if not gfile.exists(path):
        raise ShardError('%s: missing (python -m schemas verify lists every problem)' % path)
    with gfile.GFile(path, 'rb') as f:
        try:
            for index, record in enumerate(tfrecord.iter_records(f)):
                yield index, record
        except tfrecord.RecordError as err:
            raise ShardError('%s: %s (python -m schemas verify lists every problem)'
                             % (path, err))


def iter_examples(dataset_dir, info, schema, split=None):
    """Yield (split, shard path, record index, decoded record) of every record, in shard order
    (one split only when `split` is given); ShardError on a damaged shard."""
    for name, _, path in listed_shards(dataset_dir, info):
        if split is not None and name != dataset_info.split_name(info, split):
            continue
        for index, record in shard_records(path):
            yield name, path, index, schema.read(record)
