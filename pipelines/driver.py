"""The run of one dataset conversion, and the output directory it assembles:

    OUT/<name>/<split>/<name>-<split>.tfrecord-SSSSS-of-NNNNN   split: train / validation
    OUT/<name>/errors.jsonl          one line per rejected input: path, reason, detail, ...
    OUT/<name>/dataset_info.json     schemas/dataset_info.py; written last

The pipeline (pipelines/beam_steps.py) writes into a fixed work directory under a lock; the driver
turns a task's stop marker into StrictStop or OutputError, merges the shards' parts into
errors.jsonl and dataset_info.json, and swaps the work directory into place (pipelines/output.py).
"""
from __future__ import absolute_import, division, print_function

import json
import time

import apache_beam as beam

from datasets import fileio
from pipelines import output
from pipelines.beam_steps import PARTS_DIR, stop_markers
from pipelines.dead_letters import ERRORS_FILE, StrictStop
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
    """StrictStop or OutputError from the first STOP_DIR marker a task left, if any."""
    markers = stop_markers(work)
    if markers:
        stop = fileio.read_json(markers[0])
        raise (StrictStop if stop['kind'] == 'strict' else output.OutputError)(stop['message'])


def _convert_and_publish(transform, schema, work, final, beam_args, source, options):
    converter = transform.converter
    start = time.time()
    fileio.makedirs(work)
    beam_options = pipeline_options(beam_args, sum(len(t.units) for t in transform.tasks))
    recorded = recorded_beam_options(beam_options)  # before a runner edits them
    pipeline = beam.Pipeline(options=beam_options)
    _ = pipeline | converter.name.capitalize() + 'Records' >> transform
    try:
        result = pipeline.run()
        result.wait_until_finish()
    except Exception:
        _raise_stop(work)
        raise
    _raise_stop(work)
    wall = time.time() - start
    parts, errors = _merge_parts(work, transform.tasks)
    info = build_info(converter, schema, source, options, parts, wall, recorded,
                      transform.source_splits)
    fileio.write_bytes(fileio.join(work, ERRORS_FILE), ''.join(
        json.dumps(e, sort_keys=True) + '\n' for e in errors).encode('utf-8'))
    fileio.rmtree(fileio.join(work, PARTS_DIR))
    for name, data in sorted(transform.extra_files.items()):
        fileio.write_bytes(fileio.join(work, name), data)
    dataset_info.write(work, info)
    output.publish(work, final)
    return info, result


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
