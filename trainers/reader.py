"""Input reader shared by the trainers: dataset_info.json -> shard files -> pass-after-pass record
stream (files reshuffled per pass, parallel interleave, small record shuffle), all seeded.

Model-specific sampling, decoding and augmentation plug in after `record_passes`; trainers then
batch with drop_remainder=True (static shapes, an NPU requirement) and prefetch.
"""
from __future__ import absolute_import, division, print_function

import json
import os

INFO_FILE = 'dataset_info.json'


class RecordsError(ValueError):
    """Records that cannot be read: missing, corrupt, or of another schema or version."""


def _gfile():
    import tensorflow as tf  # gfile: records may live on gs:// or hdfs:// as well as locally
    return tf.io.gfile


def load_info(records_dir, schema):
    """dataset_info.json of a pipeline output, checked against the schema the trainer reads."""
    path = os.path.join(records_dir, INFO_FILE)
    if not _gfile().exists(path):
        raise RecordsError('%s not found: point the trainer at a directory written by the '
                           'pipelines (e.g. out/vid from `make vid-records`)' % path)
    try:
        with _gfile().GFile(path) as f:
            info = json.loads(f.read())
        found = (info['schema']['name'], int(info['schema']['version']))
        info['splits'].items()
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise RecordsError('%s is not a valid dataset_info.json: %s' % (path, err))
    if found != (schema.name, schema.version):
        raise RecordsError('%s describes %s records version %d; this trainer reads %s version %d '
                           '(rebuild the records with this checkout\'s pipelines)'
                           % (path, found[0], found[1], schema.name, schema.version))
    return info


def shard_files(records_dir, info, split):
    """(files, record count) of one split; shards without records are left out."""
    splits = info['splits']
    if split not in splits:
        raise RecordsError('%s has no split %r (it has %s)' % (
            os.path.join(records_dir, INFO_FILE), split, ', '.join(sorted(splits)) or 'none'))
    files = []
    for shard in splits[split]['shards']:
        path = os.path.join(records_dir, shard['file'])
        if not _gfile().exists(path):
            raise RecordsError('%s lists %s, which does not exist' % (
                os.path.join(records_dir, INFO_FILE), path))
        if shard['records']:
            files.append(path)
    if not files:
        raise RecordsError('split %r of %s has no records' % (split, records_dir))
    return files, splits[split]['records']


def pass_seed(seed, pass_index):
    """An int64 seed per (run seed, pass): files are reshuffled differently every pass."""
    import tensorflow as tf
    return tf.cast(seed, tf.int64) * 1000003 + tf.cast(pass_index, tf.int64)


def record_passes(files, seed, cycle_length=16, num_parallel_calls=-1, record_shuffle=64,
                  passes=None, shuffle=True):
    """Dataset of (pass index, serialized record), pass after pass (forever when passes is None).

    Every pass lists every file once, in an order shuffled with a pass-specific seed; the files of
    all passes are read as one stream (interleaved deterministically, block 1) and the records go
    through a small shuffle buffer. One stream rather than one dataset per pass: a per-pass
    interleave and shuffle buffer fill and drain at every pass boundary, which halved the read
    rate on the SA-Siam benchmark's 26 records per pass (small datasets such as DAVIS 2017, 60
    training videos, pay it every pass too). Records near a
    boundary mix with the next pass's; each is still read exactly once per pass, tagged with it.
    Records are large (whole track chunks or videos), so most of the mixing is left to the
    model's element shuffle.
    """
    import tensorflow as tf
    counter = (tf.data.Dataset.range(passes) if passes is not None
               else tf.data.experimental.Counter())
    cycle = max(1, min(cycle_length, len(files)))
    # interleave refuses more parallel calls than open files
    interleave_calls = num_parallel_calls if num_parallel_calls < 0 else min(num_parallel_calls,
                                                                             cycle)

    def pass_files(pass_index):
        names = tf.data.Dataset.from_tensor_slices(list(files))
        if shuffle:
            names = names.shuffle(len(files), seed=pass_seed(seed, pass_index))
        return names.map(lambda name: (pass_index, name))

    def read(pass_index, name):
        return tf.data.TFRecordDataset(name).map(lambda record: (pass_index, record))

    records = counter.flat_map(pass_files).interleave(
        read, cycle_length=cycle, block_length=1, num_parallel_calls=interleave_calls)
    if shuffle and record_shuffle > 1:
        records = records.shuffle(record_shuffle, seed=pass_seed(seed, -1))  # no pass is -1
    return records


def element_seeds(seed):
    """Dataset of int64[2] seeds for stateless random ops, one per element: zipped with the
    element stream *before* a parallel map, so every element's randomness is fixed by the run
    seed and its position, not by thread timing (the reference's racy global RNG)."""
    import tensorflow as tf
    return tf.data.experimental.RandomDataset(seed=seed).batch(2, drop_remainder=True)

