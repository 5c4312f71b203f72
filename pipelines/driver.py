"""The run of one dataset conversion, and the output directory it assembles:

    OUT/<name>/<split>/<name>-<split>.tfrecord-SSSSS-of-NNNNN   split: train / validation
    OUT/<name>/errors.jsonl          one line per rejected input: path, reason, detail, ...
    OUT/<name>/dataset_info.json     schemas/dataset_info.py; written last

The pipeline (pipelines/beam_steps.py) writes into a fixed work directory under a lock; the driver
turns a task's stop marker into StrictStop or OutputError, merges the shards' parts into
errors.jsonl and dataset_info.json, and swaps the work directory into place (pipelines/output.py).
"""
from __future__ import absolute_import, division, print_function

import errno
import json
import os
import time

import apache_beam as beam

from datasets import fileio
from pipelines import output
from pipelines.beam_steps import PARTS_DIR, STOP_DIR, stop_markers
from pipelines.dead_letters import ERRORS_FILE, STRICT, StrictStop, read_stop
from pipelines.report import build_info
from pipelines.runner_options import pipeline_options, recorded_beam_options
from schemas import dataset_info


def run_conversion(transform, schema, out_root, beam_args, source, options, overwrite=False,
                   notes=None):
    """Run `transform` (a ConvertToShards) into OUT/<name> under the output lock and publish.

    Returns dataset_info (also written to OUT/<name>/dataset_info.json) and the Beam metrics.
    Raises output.OutputError (exists, busy, unwritable, a failed write) and StrictStop."""
    converter = transform.converter
    final = fileio.join(out_root, converter.name)
    lock = output.Lock(out_root, converter.name)
    lock.acquire()
    work = output.work_dir(out_root, converter.name)
    try:
        if notes is not None:
            notes.extend(lock.notes)
        # checked under the lock: another run may have published since this one started
        if fileio.exists(final) and not overwrite:
            raise output.OutputError('%s exists; pass --overwrite (make: OVERWRITE=1) to '
                                     'replace it' % final)
        transform.work_dir = work
        info, result = _convert_and_publish(transform, schema, work, final, beam_args, source,
                                            options)
    except BaseException:
        try:
            fileio.rmtree(work)
        except Exception:  # workers of an interrupted run may still write: the next run cleans
            pass
        raise
    finally:
        lock.release()
    return info, metrics_counters(result, converter.name)


def _raise_stop(work):
    """StrictStop or OutputError from the first STOP_DIR marker a task left, if any. A marker
    left empty by a full disk still stops the run, with what its name tells."""
    markers = stop_markers(work)
    if not markers:
        return
    kind, message, reason = read_stop(markers[0])
    if message is None:
        message = '%s: a worker stopped the run (%s) and could not write why into %s%s' % (
            work, kind, markers[0], ' (%s)' % reason if reason else
            ' (it is empty: is the disk full?)')
    if kind == STRICT:
        raise StrictStop(message)
    raise output.OutputError(message)


# What an OSError's text says when a worker failed to write (the runner may hand the driver
# only its text): the run stopped for the output's disk, not for a bug.
_WRITE_FAILURES = tuple(os.strerror(code) for code in (
    errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG, errno.EACCES))


def _raise_write_failure(work, err):
    """OutputError when the runner's exception is a worker's failed write (even its stop
    marker could not be written), naming the work directory and the reason."""
    text = str(err)
    found = [reason for reason in _WRITE_FAILURES if reason in text]
    if isinstance(err, fileio.WriteError):
        raise output.OutputError(str(err))
    if found:
        raise output.OutputError('cannot write into %s: %s' % (work, found[0]))


def _convert_and_publish(transform, schema, work, final, beam_args, source, options):
    converter = transform.converter
    start = time.time()
    fileio.makedirs(fileio.join(work, STOP_DIR))   # now: a full disk later may refuse a folder
    beam_options = pipeline_options(beam_args, sum(len(t.units) for t in transform.tasks))
    recorded = recorded_beam_options(beam_options)  # before a runner edits them
    pipeline = beam.Pipeline(options=beam_options)
    _ = pipeline | converter.name.capitalize() + 'Records' >> transform
    try:
        result = pipeline.run()
        result.wait_until_finish()
    except Exception as err:
        _raise_stop(work)
        _raise_write_failure(work, err)
        raise
    _raise_stop(work)
    wall = time.time() - start
    with _writing(work):
        parts, errors = _merge_parts(work, transform.tasks)
        info = build_info(converter, schema, source, options, parts, wall, recorded,
                          transform.source_splits)
        fileio.write_bytes(fileio.join(work, ERRORS_FILE), ''.join(
            json.dumps(e, sort_keys=True) + '\n' for e in errors).encode('utf-8'))
        fileio.rmtree(fileio.join(work, PARTS_DIR))
        fileio.rmtree(fileio.join(work, STOP_DIR))   # empty: no task stopped the run
        for name, data in sorted(transform.extra_files.items()):
            fileio.write_bytes(fileio.join(work, name), data)
        dataset_info.write(work, info)
        output.publish(work, final)
    return info, result


class _writing(object):
    """Context: a failed write while assembling the output (an OSError, or TensorFlow's error
    where dataset_info goes through tf.io.gfile) is the OutputError naming the work directory."""

    def __init__(self, work):
        self.work = work

    def __enter__(self):
        return self

    def __exit__(self, kind, err, tb):
        if isinstance(err, fileio.WriteError):
            raise output.OutputError(str(err))
        if isinstance(err, OSError) or type(err).__module__.startswith('tensorflow'):
            reason = getattr(err, 'strerror', None) or getattr(err, 'message', None) or err
            where = getattr(err, 'filename', None) or self.work
            raise output.OutputError('cannot write %s: %s' % (
                fileio.printable(where), reason))
        return False


def metrics_counters(result, namespace):
    from apache_beam.metrics.metric import MetricsFilter
    query = result.metrics().query(MetricsFilter().with_namespace(namespace))
    return {c.key.metric.name: c.committed for c in query['counters']}


def _merge_parts(work, tasks):
    parts, errors = [], []
    for task in tasks:
        data = fileio.read_json(fileio.join(
            work, PARTS_DIR, '%s-%05d.json' % (task.split, task.index)))
        parts.append(data['shard'])
        errors.extend(data['errors'])
    return parts, errors
