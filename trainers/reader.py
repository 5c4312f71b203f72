"""Input reader shared by the trainers: dataset_info.json -> shard files -> pass-after-pass record
stream (files reshuffled per pass, parallel interleave, small record shuffle), all seeded.

Model-specific sampling, decoding and augmentation plug in after `record_passes`; trainers then
batch with drop_remainder=True (static shapes, an NPU requirement) and prefetch.
"""
from __future__ import absolute_import, division, print_function

import hashlib
import os

from schemas import dataset_info, tfrecord
from trainers.distributed.settings import rank_seed


class RecordsError(ValueError):
    """Records that cannot be read: missing, corrupt, or of another schema or version."""


def _gfile():
    import tensorflow as tf  # gfile: records may live on gs:// or hdfs:// as well as locally
    return tf.io.gfile


def records_dirs(records):
    """The records folders of `input.records`: one folder, or several separated by commas
    ("out/vid,out/got10k": multi-source training, trainers/sasiam/data.py), in that order."""
    dirs = [part.strip() for part in str(records).split(',')]
    if not all(dirs):
        raise RecordsError('input.records %r names an empty folder (a stray comma?)' % records)
    if len(set(dirs)) != len(dirs):
        raise RecordsError('input.records %r names a folder twice (give it more weight with '
                           'input.source_weights instead)' % records)
    return dirs


def load_info(records_dir, schema):
    """dataset_info.json of a pipeline output (schemas/dataset_info.py), checked against the
    schema the trainer reads."""
    try:
        return dataset_info.read(records_dir, schema)
    except dataset_info.DatasetInfoError as err:
        raise RecordsError(str(err))


def shard_files(records_dir, info, split):
    """(files, record count) of one split; shards without records are left out. Every listed
    shard must have the byte size dataset_info.json records (a shard cut short, even at a record
    boundary, is refused before training rather than met as a DataLossError mid-run)."""
    try:
        files, records = dataset_info.shard_files(records_dir, info, split)
        name = dataset_info.split_name(info, split)
    except dataset_info.DatasetInfoError as err:
        raise RecordsError(str(err))
    for shard in info['splits'][name]['shards']:
        if shard.get('bytes') is None or not shard['records']:
            continue
        path = os.path.join(records_dir, shard['file'])
        expected = tfrecord_file_size(shard['bytes'], shard['records'])
        found = _gfile().stat(path).length
        if found != expected:
            raise RecordsError(
                '%s has %d bytes, but %s lists %d records of %d bytes (a %d-byte file): the shard '
                'was cut short or replaced; copy it again or rebuild the records' % (
                    path, found, dataset_info.info_path(records_dir), shard['records'],
                    shard['bytes'], expected))
    return files, records


def tfrecord_file_size(payload_bytes, records):
    """Size of an uncompressed TFRecord file holding `records` records of `payload_bytes` in all
    (dataset_info.json lists the payload)."""
    return payload_bytes + tfrecord.FRAMING_BYTES * records


def find_corrupt_file(files):
    """(path, record index, error) of the first file that does not read to its end, or None.
    Only called after a read error: it reads every file."""
    import tensorflow as tf
    for path in files:
        index = 0
        try:
            for _ in tf.compat.v1.io.tf_record_iterator(path):
                index += 1
        except (tf.errors.DataLossError, IOError) as err:
            return path, index, str(err).split('\n')[0]
    return None


def derive_seed(seed, purpose):
    """A named seed: a stable 31-bit int from (run seed, purpose), e.g. derive_seed(0, 'validation')
    (instead of seed + 1, seed + 3, ... which collide across purposes and runs)."""
    digest = hashlib.sha256(('%d:%s' % (int(seed), purpose)).encode('utf-8')).digest()
    return int.from_bytes(digest[:4], 'big') & 0x7FFFFFFF


def resumable_iterator(make_dataset):
    """(initializable iterator, int64 placeholder of batches to skip when it is initialised):
    the loop feeds the saved input position, so a resumed run continues the same stream.
    make_dataset(skip) builds the stream with `skip` batches dropped as early as it can (before
    any decoding: a resume still reads and samples the records it skips, but decodes nothing)."""
    import tensorflow as tf
    skip = tf.compat.v1.placeholder_with_default(tf.constant(0, tf.int64), [], name='input_skip')
    iterator = tf.compat.v1.data.make_initializable_iterator(make_dataset(skip))
    return iterator, skip


def next_batch(iterator, timed):
    """iterator.get_next() and, when `timed`, the seconds the step waited for it (timestamps on
    the host before and after GetNext: the input wait, logged as input_wait_s); else None. Not on
    the NPU, where GetNext sinks into the device graph and host timestamps would split it."""
    import tensorflow as tf
    if not timed:
        return iterator.get_next(), None
    start = tf.timestamp()
    with tf.control_dependencies([start]):
        batch = iterator.get_next()
    with tf.control_dependencies(tf.nest.flatten(batch)):
        return batch, tf.cast(tf.timestamp() - start, tf.float32)


def pass_seed(seed, pass_index):
    """An int64 seed per (run seed, pass): files are reshuffled differently every pass."""
    import tensorflow as tf
    return tf.cast(seed, tf.int64) * 1000003 + tf.cast(pass_index, tf.int64)


def record_passes(files, seed, cycle_length=16, num_parallel_calls=-1, record_shuffle=64,
                  passes=None, shuffle=True, shard=(0, 1)):
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

    shard=(rank, ranks) for data-parallel training (rank_part): every rank shuffles the file
    list with the same pass seed and keeps its own part of it, so in every pass the ranks read
    disjoint files that together are the whole split; with fewer files than ranks, each rank
    reads every file and keeps every ranks-th record instead. `seed` must be the run seed on every
    rank (it orders the files); the record shuffle uses rank_seed, so ranks mix
    differently.
    """
    import tensorflow as tf
    counter = (tf.data.Dataset.range(passes) if passes is not None
               else tf.data.experimental.Counter())
    cycle = max(1, min(cycle_length, len(files)))
    # interleave refuses more parallel calls than open files
    interleave_calls = num_parallel_calls if num_parallel_calls < 0 else min(num_parallel_calls,
                                                                             cycle)

    rank, ranks = shard
    by_file = rank_part(len(files), ranks) == 'files'

    def pass_files(pass_index):
        names = tf.data.Dataset.from_tensor_slices(list(files))
        if shuffle:
            names = names.shuffle(len(files), seed=pass_seed(seed, pass_index))
        if by_file and ranks > 1:
            names = names.shard(ranks, rank)
        return names.map(lambda name: (pass_index, name))

    def read(pass_index, name):
        return tf.data.TFRecordDataset(name).map(lambda record: (pass_index, record))

    records = counter.flat_map(pass_files).interleave(
        read, cycle_length=cycle, block_length=1, num_parallel_calls=interleave_calls)
    if not by_file:  # deterministic interleave: every rank sees the same record order
        records = records.shard(ranks, rank)
    if shuffle and record_shuffle > 1:
        records = records.shuffle(record_shuffle, seed=rank_seed(
            derive_seed(seed, 'record_shuffle'), rank))
    return without_autotune_model(records)


def rank_part(files, ranks):
    """How a pass is divided among data-parallel ranks: 'files' when every rank gets at least one
    file (reading only its own), else 'records' (every rank reads all files, keeps its records)."""
    return 'files' if files >= ranks else 'records'


def without_autotune_model(dataset):
    """The dataset, and every dataset built on it (tf.data merges options downstream), without
    tf.data's autotuning model.

    Why: in TF 1.15 destroying an iterator (Session.close, or re-initialising the validation
    iterator) races with the parallel interleave's pooled threads, which unregister their nodes
    from the autotuning model as it is torn down: a SIGSEGV in `model::Model::RemoveNode` (gdb
    backtrace; 1 crash in about 70 open-read-close cycles of the SA-Siam input, and it failed CI
    once). Without the model: 0 crashes in 400 cycles. AUTOTUNE in `num_parallel_calls` then
    means a fixed parallelism of one call per host core (the kernels' fallback,
    `runner_threadpool_size`), and a prefetch buffer of AUTOTUNE keeps its own autotuner, which
    is independent of the model."""
    import tensorflow as tf
    options = tf.data.Options()
    options.experimental_optimization.autotune = False
    return dataset.with_options(options)


def element_seeds(seed):
    """Dataset of int64[2] seeds for stateless random ops, one per element: zipped with the
    element stream *before* a parallel map, so every element's randomness is fixed by the run
    seed and its position, not by thread timing (the reference's racy global RNG)."""
    import tensorflow as tf
    return without_autotune_model(
        tf.data.experimental.RandomDataset(seed=seed).batch(2, drop_remainder=True))

