"""`python -m schemas inspect DIR`: what is in a records folder, shard by shard.

Per split and shard: records, examples (tracks and crops, images and objects, videos, frames and
objects), payload and file bytes, the sources the records came from; each figure followed by the
one dataset_info.json gives, `(info N)`, and `!` where they differ (examples per shard have no
dataset_info figure; their totals do). Reads every record once
(schemas/shards.py), without decoding images: `verify` does that.
"""
from __future__ import absolute_import, division, print_function

import collections
import sys

import schemas
from schemas import dataset_info, shards


def _versus(found, expected):
    """'12 (info 12)', '12 (info 13) !' when they differ, '12' when dataset_info has no figure."""
    if expected is None:
        return '%d' % found
    return '%d (info %s)%s' % (found, expected, '' if found == expected else ' !')


def _examples_text(counter):
    return ', '.join('%s %d' % kv for kv in sorted(counter.items())) or 'none'


def shard_lines(shard, scan):
    """Lines for one shard and its scan."""
    if not scan.exists:
        return ['  %s: MISSING' % shard['file']]
    lines = ['  %s' % shard['file'],
             '    records %s, bytes %s payload / %s file' % (
                 _versus(scan.records, shard['records']),
                 _versus(scan.payload_bytes, shard.get('bytes')),
                 _versus(scan.file_bytes, shard.get('file_bytes'))),
             '    examples: %s' % _examples_text(scan.examples),
             '    sources: %s' % (', '.join(sorted(scan.sources)) or 'none')]
    lines += ['    problem: %s' % message for _, message in scan.problems]
    return lines


def totals_lines(info, totals):
    """Example totals against the dataset_info counts they should equal."""
    mapping = shards.INFO_COUNTS.get(info['schema']['name'], {})
    parts = []
    for name in sorted(set(totals) | set(mapping)):
        expected = info['counts'].get(mapping[name]) if name in mapping else None
        parts.append('%s %s' % (name, _versus(totals[name], expected)))
    return ['total: %s' % ', '.join(parts)]


def inspect(dataset_dir):
    """The report's lines; raises DatasetInfoError (one line) when dataset_info.json is bad."""
    info = dataset_info.read(dataset_dir)
    schema = schemas.by_name(info['schema']['name'])
    lines = ['%s: %s records version %d (%s), from %s' % (
        dataset_dir, schema.name, schema.version, schema.record_type, info['source'])]
    totals = collections.Counter()
    for split, entry in sorted(info['splits'].items()):
        scans = [(shard, shards.scan_shard(path, schema))
                 for _, shard, path in shards.listed_shards(dataset_dir, {'splits': {
                     split: entry}})]
        split_records = sum(scan.records for _, scan in scans)
        split_examples = sum((scan.examples for _, scan in scans), collections.Counter())
        lines.append('%s (source %s): %d shards, records %s; %s' % (
            split, entry.get('source_split', split), len(scans),
            _versus(split_records, entry['records']), _examples_text(split_examples)))
        for shard, scan in scans:
            lines += shard_lines(shard, scan)
        totals.update(split_examples)
        totals['records'] += split_records
    return lines + totals_lines(info, totals)


def main(dataset_dirs):
    status = 0
    for dataset_dir in dataset_dirs:
        try:
            print('\n'.join(inspect(dataset_dir)))
        except dataset_info.DatasetInfoError as err:
            sys.stderr.write('error: %s\n' % err)
            status = 1
    return status
