"""Splits and shard planning: which split a unit goes to, which units go into which shard file,
and the shard files' names. Deterministic (sorted units, round robin, sha1 split hashes), so a
rerun on the same input plans the same shards."""
from __future__ import absolute_import, division, print_function

import collections
import hashlib


def hash_fraction(key):
    """Stable number in [0, 1) from a string (sha1; independent of machine and listing order)."""
    digest = hashlib.sha1(key.encode('utf-8')).hexdigest()
    return int(digest[:12], 16) / float(16 ** 12)


ShardTask = collections.namedtuple('ShardTask', 'split index count units')


def plan_shards(units_by_split, units_per_shard, min_shards=1):
    """Deterministic shard tasks: units sorted, dealt round robin (which spreads long and short
    units) into ceil(n / units_per_shard) shards per split, or more when the whole input would
    otherwise make fewer than `min_shards` shards: each split then gets its share of
    min_shards (at most one shard per unit), so small inputs still keep every worker busy."""
    if units_per_shard < 1:
        raise ValueError('units_per_shard must be >= 1')
    total = sum(len(units) for units in units_by_split.values())
    tasks = []
    for split in sorted(units_by_split):
        units = sorted(units_by_split[split])
        if not units:
            continue
        count = -(-len(units) // units_per_shard)
        count = max(count, min(len(units), -(-min_shards * len(units) // total)))
        for index in range(count):
            tasks.append(ShardTask(split, index, count, tuple(units[index::count])))
    return tasks


def shard_relpath(name, split, index, count):
    return '%s/%s-%s.tfrecord-%05d-of-%05d' % (split, name, split, index, count)
