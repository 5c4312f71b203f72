"""`python -m schemas verify DIR`: are these records intact and what dataset_info.json says?

Re-reads every shard once (schemas/shards.py): TFRecord CRCs, the sha256 and size recorded in
dataset_info.json, record and payload-byte counts per shard and split, every record decoded with
its schema, every JPEG and PNG decoded (and of the size the record states), the dataset's example
counts against dataset_info's, and files in the folder that dataset_info.json does not list (a
shard added or left from another run). Each problem names its shard, and its record when there
is one. The trainers run the same check with --verify-records.
"""
from __future__ import absolute_import, division, print_function

import collections
import os
import posixpath

import schemas
from schemas import dataset_info, shards


def _unlisted_shard(rel):
    """Whether an unlisted file is in a shard's place: in a split folder, or named like one
    (top-level files are the folder's metadata: dataset_info.json, README.md, errors.jsonl,
    COCO's label_map.pbtxt)."""
    return '/' in rel or '.tfrecord' in rel

NO_CHECKSUMS = 'no checksums recorded (written before checksums existed): CRCs, counts and ' \
               'decoding checked only'


class Report(object):
    """problems: [(path, record index or None, message)]; notes: what was not checked."""

    def __init__(self, dataset_dir):
        self.dataset_dir = dataset_dir
        self.problems = []
        self.notes = []
        self.scans = []

    def problem(self, path, message, index=None):
        self.problems.append((path, index, message))

    @property
    def ok(self):
        return not self.problems

    def lines(self):
        out = ['%s: %s' % (path, message) for path, _, message in self.problems]
        out += ['note: %s' % note for note in self.notes]
        records = sum(s.records for s in self.scans)
        out.append('%s: %s, %d shards, %d records' % (
            self.dataset_dir, 'OK' if self.ok else '%d problem(s)' % len(self.problems),
            len(self.scans), records))
        return out


def _check_shard(report, shard, scan):
    if not scan.exists:
        return
    if 'sha256' in shard:
        if scan.file_bytes != shard.get('file_bytes'):
            report.problem(scan.path, 'size %d bytes, dataset_info.json says %s (cut short or '
                           'grown)' % (scan.file_bytes, shard.get('file_bytes')))
        if scan.sha256 != shard['sha256']:
            report.problem(scan.path, 'sha256 %s..., dataset_info.json says %s... (the file '
                           'changed since it was written)' % (scan.sha256[:12],
                                                              shard['sha256'][:12]))
    if scan.records != shard['records']:
        report.problem(scan.path, '%d records read, dataset_info.json says %d'
                       % (scan.records, shard['records']))
    elif 'bytes' in shard and scan.payload_bytes != shard['bytes']:
        report.problem(scan.path, '%d payload bytes read, dataset_info.json says %d'
                       % (scan.payload_bytes, shard['bytes']))


def _check_splits(report, info):
    for split, entry in sorted(info['splits'].items()):
        listed = sum(s['records'] for s in entry['shards'])
        if listed != entry['records']:
            report.problem(dataset_info.info_path(report.dataset_dir), 'split %s: its shards '
                           'list %d records, the split says %d' % (split, listed, entry['records']))
        if 'num_shards' in entry and entry['num_shards'] != len(entry['shards']):
            report.problem(dataset_info.info_path(report.dataset_dir), 'split %s lists %d '
                           'shards of %d' % (split, len(entry['shards']), entry['num_shards']))


def _check_counts(report, info, totals):
    for name, key in sorted(shards.INFO_COUNTS.get(info['schema']['name'], {}).items()):
        if key in info['counts'] and totals[name] != info['counts'][key]:
            report.problem(report.dataset_dir, '%d %s in the records, dataset_info.json counts '
                           '%s %d' % (totals[name], name, key, info['counts'][key]))


def _walk_files(root):
    """Relative paths of every file under `root` (local or tf.io.gfile)."""
    if '://' in root:
        import tensorflow as tf
        walk, join = tf.io.gfile.walk, posixpath.join
    else:
        walk, join = os.walk, os.path.join
    found = []
    for folder, _, files in walk(root):
        found += [os.path.relpath(join(folder, name), root).replace(os.sep, '/')
                  for name in files]
    return sorted(found)


def _check_unlisted(report, info):
    listed = set(s['file'] for e in info['splits'].values() for s in e['shards'])
    for rel in _walk_files(report.dataset_dir):
        if rel not in listed and _unlisted_shard(rel):
            report.problem(posixpath.join(report.dataset_dir, rel), 'not listed in '
                           'dataset_info.json (a shard added, or left from another run)')


def verify(dataset_dir, images=True):
    """Report on the records folder `dataset_dir` (see the module docstring)."""
    report = Report(dataset_dir)
    try:
        info = dataset_info.read(dataset_dir)
        schema = schemas.by_name(info['schema']['name'])
    except (dataset_info.DatasetInfoError, KeyError) as err:
        report.problem(dataset_dir, str(err).strip('"\''))
        return report
    totals = collections.Counter()
    listed = shards.listed_shards(dataset_dir, info)
    if listed and not any('sha256' in shard for _, shard, _ in listed):
        report.notes.append(NO_CHECKSUMS)
    for _, shard, path in listed:
        scan = shards.scan_shard(path, schema, images=images)
        report.scans.append(scan)
        for index, message in scan.problems:
            report.problem(path, message, index)
        _check_shard(report, shard, scan)
        totals.update(scan.examples)
    totals['records'] = sum(s.records for s in report.scans)
    _check_splits(report, info)
    if not report.problems:  # example counts only mean something when every record was read
        _check_counts(report, info, totals)
    _check_unlisted(report, info)
    return report


def main(dataset_dirs):
    """Verify each folder, print its problems and a summary line; 0 when all are intact."""
    status = 0
    for dataset_dir in dataset_dirs:
        report = verify(dataset_dir)
        print('\n'.join(report.lines()))
        status = status or (0 if report.ok else 1)
    return status
