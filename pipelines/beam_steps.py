"""The Beam side of a conversion: `ConvertToShards` plans the shard tasks and runs one
`WriteShardFn` task per shard, which converts its units in order and writes the shard file itself,
plus a part file of its counts and dead letters (merged by the driver, pipelines/driver.py).

Shard writers write their own files instead of going through a GroupByKey of all record bytes:
the DirectRunner keeps grouped data in memory, and VID records are ~20 GB. Because a shard's
content is its units' records in unit order, a rerun on the same input gives byte-identical shards.
"""
from __future__ import absolute_import, division, print_function

import collections
import json
import sys
import time

import apache_beam as beam
from apache_beam.metrics import Metrics

from datasets import fileio
from pipelines.converter import UnitResult
from pipelines.dead_letters import (LEVELS, STRICT, WRITE_FAILED, StrictStop, describe,
                                   leave_stop)
from pipelines.shards import plan_shards, shard_relpath
from schemas import dataset_info

PARTS_DIR = '_parts'
STOP_DIR = '_stop'  # markers of a task that stopped the run: a --strict stop, a failed write


def write_record(f, serialized):
    """One TFRecord (length, masked CRC-32C, data, masked CRC-32C), byte-identical to
    tf.io.TFRecordWriter's (a test compares), without importing TensorFlow in every worker."""
    from apache_beam.io.tfrecordio import _TFRecordUtil
    _TFRecordUtil.write_record(f, serialized)


class _Stopped(Exception):
    """Another task stopped the run; this one skips its remaining units."""


def stop_markers(work_dir):
    """The STOP_DIR markers tasks left in `work_dir`, sorted (the first one is reported)."""
    return fileio.glob(fileio.join(work_dir, STOP_DIR, '*.json'))


def _unit_tally(result):
    """The unit level of a converted unit: rejected (by a unit-level dead letter), written (it
    produced records) or filtered (no records and nothing wrong, e.g. no object in it)."""
    result.seen('unit')
    if any(entry['level'] == 'unit' for entry in result.rejections):
        return
    if result.records:
        result.written('unit')
    else:
        result.filtered('unit', 'no_records')


class WriteShardFn(beam.DoFn):
    """Converts the units of one shard task in order and writes the shard file and its parts.

    Nothing is raised into the runner for what the run itself decides: a --strict stop or a
    failed write leaves a marker in STOP_DIR and the task returns (the other tasks see the
    marker and skip their remaining units); the driver turns the first marker into one line.
    An exception inside a runner is logged with tracebacks by every worker and job service
    (DirectRunner threads or processes, remote workers) before the driver sees it."""

    def __init__(self, converter, work_dir, strict):
        super(WriteShardFn, self).__init__()
        self.converter = converter
        self.work_dir = work_dir
        self.strict = strict

    def setup(self):
        self.converter.setup()
        self.done = 0
        self.started = None

    def _count(self, name, value):
        if value:
            Metrics.counter(self.converter.name, name).inc(value)

    def _convert(self, unit):
        """The unit's UnitResult; StrictStop (--strict) propagates."""
        result = UnitResult(self.strict)
        try:
            self.converter.convert(unit, result)
        except StrictStop:
            raise
        except Exception as err:  # a unit the converter could not handle at all
            reason, detail = describe(err)
            result = UnitResult(self.strict)
            result.reject('unit', reason, self.converter.unit_path(unit), detail)
        _unit_tally(result)
        return result

    def process(self, task):
        if stop_markers(self.work_dir):
            return
        try:
            part = self._write_shard(task)
        except _Stopped:
            return
        except StrictStop as err:  # --strict: the first bad input stops the run
            self._leave_stop(task, STRICT, str(err))
            return
        except OSError as err:  # input is read under the unit guard: this is our writing
            failed = fileio.WriteError(err.errno, err.strerror or str(err),
                                       err.filename or self.work_dir)
            self._leave_stop(task, WRITE_FAILED, str(failed), err.errno)
            return
        yield part

    def _leave_stop(self, task, kind, message, code=None):
        leave_stop(fileio.join(self.work_dir, STOP_DIR), '%s-%05d' % (task.split, task.index),
                   kind, message, code)

    def _write_shard(self, task):
        name = self.converter.name
        relpath = shard_relpath(name, task.split, task.index, task.count)
        counts = collections.Counter()
        tally = {level: collections.Counter() for level in LEVELS}
        rejected = {level: collections.Counter() for level in LEVELS + ('warning',)}
        took = {'objects': collections.Counter(), 'images': collections.Counter()}
        errors = []
        records = num_bytes = 0
        max_size = [0, 0]
        shard_start = time.time()
        if self.started is None:
            self.started = shard_start
        with fileio.open_write(fileio.join(self.work_dir, relpath)) as f:
            for unit in task.units:
                if stop_markers(self.work_dir):
                    raise _Stopped()
                result = self._convert(unit)
                for _, serialized in sorted(result.records, key=lambda r: r[0]):
                    write_record(f, serialized)
                    records += 1
                    num_bytes += len(serialized)
                counts.update(result.counts)
                for level in LEVELS:
                    tally[level].update(result.tally[level])
                max_size = [max(a, b) for a, b in zip(max_size, result.max_frame_size)]
                for entry in result.rejections:
                    rejected[entry['level']][entry['reason']] += 1
                    for kind in took:
                        took[kind][entry['reason']] += entry[kind]
                    errors.append(dict(entry, split=task.split))
                for key, value in result.counts.items():
                    self._count(key, value)
                self._progress(task, result.counts.get(self.converter.progress_unit, 0))
        self._count('records', records)
        self._count('bytes', num_bytes)
        part = {'split': task.split, 'index': task.index, 'count': task.count, 'file': relpath,
                'records': records, 'bytes': num_bytes, 'counts': dict(counts),
                'tally': {k: dict(v) for k, v in tally.items()},
                'max_frame_size': max_size,
                'seconds': time.time() - shard_start,
                'rejected': {k: dict(v) for k, v in rejected.items() if v},
                'objects_rejected': {k: v for k, v in took['objects'].items() if v},
                'images_rejected': {k: v for k, v in took['images'].items() if v}}
        fileio.write_bytes(
            fileio.join(self.work_dir, PARTS_DIR, '%s-%05d.json' % (task.split, task.index)),
            json.dumps({'shard': part, 'errors': errors}, sort_keys=True).encode('utf-8'))
        return part

    def _progress(self, task, amount):
        self.done += amount
        elapsed = max(time.time() - self.started, 1e-9)
        sys.stderr.write('[%s] %s shard %d/%d: worker has done %d %s (%.1f %s/s)\n' % (
            self.converter.name, task.split, task.index + 1, task.count, self.done,
            self.converter.progress_unit, self.done / elapsed, self.converter.progress_unit))
        sys.stderr.flush()


class ConvertToShards(beam.PTransform):
    """Units per split -> shard files written into `work_dir` (set by run_conversion before the
    pipeline is built); outputs one stats dict per shard. Splits come keyed by the source's own
    names (`val2017`, `valid`); shards, directories and dataset_info keys use the common names
    (`split_names`, else schemas/dataset_info.canonical_split) so readers see one convention."""

    def __init__(self, converter, units_by_split, units_per_shard, min_shards=1, strict=False,
                 split_names=None):
        super(ConvertToShards, self).__init__()
        self.converter, self.strict = converter, strict
        split_names = split_names or {}
        common = {split: split_names.get(split) or dataset_info.canonical_split(split)
                  for split in units_by_split}
        if len(set(common.values())) < len(common):
            # e.g. COCO --splits val,val2017: two sources would share one directory
            raise ValueError('splits %s name the same split twice' % ', '.join(sorted(common)))
        # common split name -> the source's own name (dataset_info records both)
        self.source_splits = {common[split]: split for split in units_by_split}
        self.tasks = plan_shards({common[s]: u for s, u in units_by_split.items()},
                                 units_per_shard, min_shards)
        self.work_dir = None
        self.extra_files = {}  # file name -> bytes, written next to dataset_info.json

    def expand(self, pbegin):
        if self.work_dir is None:
            raise ValueError('work_dir is set by run_conversion')
        return (pbegin
                | 'PlanShards' >> beam.Create(self.tasks)
                | 'SpreadShards' >> beam.Reshuffle()
                | 'ConvertAndWrite' >> beam.ParDo(
                    WriteShardFn(self.converter, self.work_dir, self.strict)))
