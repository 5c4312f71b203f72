"""dataset_info.json: the one definition of the file every pipeline output carries, writer and
reader.

A pipeline output directory holds its shards, `errors.jsonl` and `dataset_info.json`, written
last. Readers (trainers, benchmarks, tests) find everything through this file:

    {
     "name": "vid",                            output directory name
     "schema": {"name": "vid_track", "version": 1},
     "source": "<dataset root the records came from>",
     "options": {...},                          converter options (thresholds, chunking, ...)
     "beam_options": {...},                     the Beam pipeline options of the run (runner, ...)
     "max_frame_size": [height, width],         largest frame height and largest frame width seen
     "splits": {"train": {"source_split": "train2017", "num_shards": N, "records": R,
                          "bytes": B, "shards": [{"file": "train/...-00000-of-0000N",
                                                  "records": r, "bytes": b, "sha256": "<hex>",
                                                  "file_bytes": f}, ...]}, ...},
     "counts": {...}, "rejected": {level: {reason: n}}, "objects_rejected": {reason: n},
     "images_rejected": {reason: n},           images and objects the dead letters took along
     "totals": {level: {"seen", "written", "rejected", "filtered", "reconciled"}},
     "wall_time_s": ..., "worker_seconds": ..., "throughput": {...}, "created_utc": "...",
     "sources": ["vid:train", "vid:val"]       what the train split was made from
    }

`bytes` counts record payloads; `file_bytes` (the file's size, payload plus 16 bytes of framing a
record) and `sha256` (of the whole file) are added by `write` from the files in the output
directory, in the same step that writes dataset_info.json (outputs written before they existed
have neither; `python -m schemas verify` says so). `write` also puts the dataset card, README.md
(schemas/card.py), beside it.

`sources` lists the data a model trained on the records has seen: the "<dataset>:<split>" of
the source data behind the `train` split (its `source_split`, `+`-joined when pooled: VID's
default hash split is ["vid:train", "vid:val"], GOT-10k's ["got10k:train"], LaSOT's
["lasot:train"], a folder of sequences ["<name>:all"]); every split also lists its own. The
pipelines add them (`add_sources`, from pipelines/report.py); `sources(info)` derives them the
same way for records written before the key existed (an evaluation warns when GOT-10k test
results come from a model trained on anything but ["got10k:train"]).

Split names are the same for every dataset: `train` and `validation` (SPLITS). Each split
records the name its source used (`source_split`: COCO `train2017` / `val2017`, DAVIS `val`,
YouTube-VOS `valid`, ILSVRC `val`), and `shard_files` accepts either name.

API: `write(out_dir, info)`, `read(dataset_dir, schema=None) -> dict`,
`shard_files(dataset_dir, info, split) -> (files, records)`, `max_frame_size(info) -> (h, w)`,
`split_name(info, split)`, `canonical_split(source_split)`, `sources(info)`,
`add_sources(info)`. Paths go through tf.io.gfile, so gs:// and hdfs:// work; bad or missing
files raise `DatasetInfoError` with a one-line message.
"""
from __future__ import absolute_import, division, print_function

import json
import os
import posixpath

INFO_FILE = 'dataset_info.json'
SPLITS = ('train', 'validation')

# The sources' own split names -> the common name.
_SOURCE_TO_SPLIT = {'train': 'train', 'train2017': 'train', 'val': 'validation',
                    'val2017': 'validation', 'valid': 'validation', 'validation': 'validation'}

# Keys every dataset_info.json must have (write checks them; read checks what readers rely on).
REQUIRED = ('name', 'schema', 'source', 'options', 'beam_options', 'max_frame_size', 'splits',
            'counts', 'rejected', 'objects_rejected')


class DatasetInfoError(ValueError):
    """A dataset_info.json that is missing, malformed, of another schema, or lacks a split."""


class _LocalFiles(object):
    """The part of tf.io.gfile used here, for local paths (no TensorFlow import needed)."""
    exists = staticmethod(os.path.exists)
    GFile = staticmethod(open)

    @staticmethod
    def makedirs(path):
        os.makedirs(path, exist_ok=True)


def _gfile(path):
    if '://' not in path:
        return _LocalFiles
    import tensorflow as tf  # lazily: gs:// and hdfs:// paths work wherever TF does
    return tf.io.gfile


def canonical_split(source_split):
    """The common split name (`train` / `validation`) of a source's own split name."""
    try:
        return _SOURCE_TO_SPLIT[source_split]
    except KeyError:
        raise DatasetInfoError('unknown split %r (known source splits: %s)'
                               % (source_split, ', '.join(sorted(_SOURCE_TO_SPLIT))))


def info_path(dataset_dir):
    return posixpath.join(dataset_dir, INFO_FILE)


def check(info, where=INFO_FILE):
    """Raise DatasetInfoError unless `info` has every required key in the expected shape."""
    missing = [key for key in REQUIRED if key not in info]
    if missing:
        raise DatasetInfoError('%s lacks %s (written by an older checkout? rebuild the records)'
                               % (where, ', '.join(missing)))
    try:
        int(info['schema']['version'])
        str(info['schema']['name'])
        height, width = (int(v) for v in info['max_frame_size'])
        for split, entry in info['splits'].items():
            for shard in entry['shards']:
                str(shard['file'])
                int(shard['records'])
            int(entry['records'])
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise DatasetInfoError('%s is not a valid dataset_info.json: %s: %s'
                               % (where, type(err).__name__, err))
    return info


def add_checksums(out_dir, info):
    """Set `sha256` and `file_bytes` of every listed shard that exists under `out_dir` (in
    place; a shard not on disk is left without, and `verify` reports it missing)."""
    from schemas import tfrecord
    for entry in info['splits'].values():
        for shard in entry['shards']:
            path = posixpath.join(out_dir, shard['file'])
            if _gfile(path).exists(path):
                with _gfile(path).GFile(path, 'rb') as f:
                    shard['sha256'], shard['file_bytes'] = tfrecord.file_checksum(f)
    return info


def write(out_dir, info, card=True):
    """Write OUT_DIR/dataset_info.json (checked first) with the shard checksums (added to `info`
    in place) and, unless card=False, the dataset card README.md before it; returns its path."""
    path = info_path(out_dir)
    check(info, path)
    _gfile(out_dir).makedirs(out_dir)
    add_checksums(out_dir, info)
    if card:
        from schemas import card as card_lib  # lazily: the card imports every schema module
        card_lib.write(out_dir, info)
    with _gfile(path).GFile(path, 'wb') as f:
        f.write((json.dumps(info, indent=1, sort_keys=True) + '\n').encode('utf-8'))
    return path


def read(dataset_dir, schema=None):
    """dataset_info of a pipeline output; with `schema` (a schemas.features.Schema), also checks
    that the records are of that schema name and version."""
    path = info_path(dataset_dir)
    if not _gfile(path).exists(path):
        raise DatasetInfoError('%s not found: point at a directory written by the pipelines '
                               '(e.g. out/vid from `make vid-records`)' % path)
    try:
        with _gfile(path).GFile(path, 'rb') as f:
            info = json.loads(f.read().decode('utf-8'))
    except ValueError as err:
        raise DatasetInfoError('%s is not a valid dataset_info.json: %s' % (path, err))
    if not isinstance(info, dict):
        raise DatasetInfoError('%s is not a valid dataset_info.json: not an object' % path)
    check(info, path)
    if schema is not None:
        found = (info['schema']['name'], int(info['schema']['version']))
        if found != (schema.name, schema.version):
            raise DatasetInfoError(
                '%s describes %s records version %d; expected %s version %d (rebuild the '
                'records with this checkout\'s pipelines)'
                % (path, found[0], found[1], schema.name, schema.version))
    return info


def split_name(info, split):
    """The split of `info` that `split` names: a common name (`validation`) or the source's own
    (`val2017`, `valid`, `val`). Raises DatasetInfoError naming the splits there are."""
    splits = info['splits']
    if split in splits:
        return split
    for name, entry in splits.items():
        if entry.get('source_split') == split:
            return name
    raise DatasetInfoError('%s has no split %r (it has %s)' % (
        info.get('name', 'dataset'), split, ', '.join(sorted(splits)) or 'none'))


def shard_files(dataset_dir, info, split):
    """(files, record count) of one split; shards without records are left out. Raises
    DatasetInfoError when the split is unknown, a listed shard is missing, or nothing is left."""
    name = split_name(info, split)
    files = []
    for shard in info['splits'][name]['shards']:
        path = posixpath.join(dataset_dir, shard['file'])
        if not _gfile(path).exists(path):
            raise DatasetInfoError('%s lists %s, which does not exist' % (
                info_path(dataset_dir), path))
        if shard['records']:
            files.append(path)
    if not files:
        raise DatasetInfoError('split %r of %s has no records' % (name, dataset_dir))
    return files, info['splits'][name]['records']


def max_frame_size(info):
    """(height, width): the largest frame height and the largest frame width in the dataset
    (not necessarily of one frame), e.g. to size padded input buffers."""
    height, width = info['max_frame_size']
    return int(height), int(width)


def split_sources(info, split):
    """["<dataset>:<source split>", ...] of one split of `info` (a pooled `train+val` gives
    one entry each)."""
    entry = info['splits'][split]
    return ['%s:%s' % (info['name'], part)
            for part in str(entry.get('source_split') or split).split('+') if part]


def sources(info):
    """What the train split was made from: `sources` as written, or for records written before
    the key existed the same derivation (`split_sources` of `train`; of every split when there
    is no train split)."""
    if info.get('sources') is not None:
        return list(info['sources'])
    splits = ['train'] if 'train' in info['splits'] else sorted(info['splits'])
    found = []
    for split in splits:
        found.extend(s for s in split_sources(info, split) if s not in found)
    return found


def add_sources(info):
    """Set `sources` and each split's `sources` where missing (in place)."""
    for split, entry in info['splits'].items():
        entry.setdefault('sources', split_sources(info, split))
    info.setdefault('sources', sources(info))
    return info
