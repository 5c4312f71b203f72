"""Plumbing shared by every dataset pipeline: shard planning, shard writing, dead letters,
reconciled counts, dataset_info.json and the run itself.

A dataset pipeline supplies a `Converter` that turns one *unit* of its dataset (a VID snippet, a
batch of COCO images, one DAVIS video) into serialized records plus counts and rejections. This
module plans units into shards (deterministically: sorted units, round robin), runs one Beam task
per shard that converts its units in order and writes the shard file itself, and assembles the
output directory:

    OUT/<name>/<split>/<name>-<split>.tfrecord-SSSSS-of-NNNNN   split: train / validation
    OUT/<name>/errors.jsonl          one line per rejected input: path, reason, detail, ...
    OUT/<name>/dataset_info.json     schemas/dataset_info.py; written last

Shard writers write their own files instead of going through a GroupByKey of all record bytes:
the DirectRunner keeps grouped data in memory, and VID records are ~20 GB. Because a shard's
content is its units' records in unit order, a rerun on the same input gives byte-identical shards.
Output goes to a fixed work directory under a lock and is swapped into place (pipelines/output.py).

Bad input never stops a run: every unit is converted under a guard (and converters guard each
image and object with `UnitResult.guard`), so an unexpected exception becomes a dead letter with
the path, a stable reason and a detail without memory addresses. `--strict` stops at the first.
"""
from __future__ import absolute_import, division, print_function

import collections
import contextlib
import hashlib
import json
import multiprocessing
import os
import re
import sys
import time

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipelines import fileio
from datasets.errors import InputError
from schemas import dataset_info

PARTS_DIR = '_parts'
STOP_DIR = '_stop'  # markers of a task that stopped the run: a --strict stop, a failed write
ERRORS_FILE = 'errors.jsonl'
LEVELS = ('unit', 'image', 'object')  # what a rejection removed (image: an image or a frame)
UNEXPECTED = 'unexpected_error'       # the reason of an exception no converter anticipated


class BadInput(Exception):
    """A rejected input; raised to stop the run when --strict is given."""

    def __init__(self, level, reason, path, detail):
        super(BadInput, self).__init__('%s: %s (%s)' % (reason, path, detail))
        self.level, self.reason, self.path, self.detail = level, reason, path, detail


_ADDRESS = re.compile(r' at 0x[0-9a-fA-F]+')


def stable_detail(text, limit=300):
    """An error text that is the same on every run: no object addresses, bounded length."""
    text = _ADDRESS.sub('', str(text)).replace('\n', ' ').strip()
    return text if len(text) <= limit else text[:limit - 3] + '...'


def describe(error):
    """(reason, detail) of an exception met while converting."""
    if isinstance(error, InputError):
        return error.reason, stable_detail(error.detail)
    if isinstance(error, PermissionError):
        return 'unreadable_file', 'permission denied'
    if isinstance(error, FileNotFoundError):
        return 'missing_file', 'file does not exist'
    if isinstance(error, OSError):
        return 'unreadable_file', stable_detail(error.strerror or error)
    return UNEXPECTED, stable_detail('%s: %s' % (type(error).__name__, error))


class Guard(object):
    failed = False


class UnitResult(object):
    """What converting one unit produced: records (sort key, bytes), counts, rejections, and per
    level (unit, image, object) how many inputs were seen, written and filtered by a rule, so
    that seen = written + rejected + filtered can be checked."""

    def __init__(self, strict=False):
        self.strict = strict
        self.records = []
        self.counts = collections.Counter()
        self.rejections = []
        self.tally = {level: collections.Counter() for level in LEVELS}
        self.max_frame_size = [0, 0]  # largest height, largest width of the frames read

    def add_record(self, sort_key, serialized):
        self.records.append((sort_key, serialized))

    def seen(self, level, n=1):
        self.tally[level]['seen'] += n

    def written(self, level, n=1):
        self.tally[level]['written'] += n

    def filtered(self, level, reason, n=1):
        """Inputs left out by a rule (not bad input): counted, not dead-lettered."""
        self.tally[level]['filtered:' + reason] += n

    def frame_size(self, height, width):
        """Note the size of a frame that was read (for dataset_info's max_frame_size)."""
        self.max_frame_size = [max(self.max_frame_size[0], int(height)),
                               max(self.max_frame_size[1], int(width))]

    def reject(self, level, reason, path, detail, objects=0, images=None, **extra):
        """Record a rejected input: `level` says what was dropped (a whole unit, an image or
        video frame, or one object); `objects` and `images` how many seen objects and images
        went with it (images: 1 for an image-level dead letter, else 0 unless given), so that
        per level seen = written + rejected + filtered."""
        if level not in LEVELS:
            raise ValueError('level must be one of %s' % (LEVELS,))
        if images is None:
            images = 1 if level == 'image' else 0
        detail = stable_detail(detail)
        if self.strict:
            raise BadInput(level, reason, path, detail)
        entry = dict(extra, level=level, reason=reason, path=path, detail=detail, objects=objects,
                     images=images)
        self.rejections.append(entry)

    def warn(self, reason, path, detail, **extra):
        """Something suspicious that was still written (e.g. an XML naming another frame, a
        gap in frame numbers): an errors.jsonl line of level `warning`, counted apart."""
        self.rejections.append(dict(extra, level='warning', reason=reason, path=path,
                                    detail=stable_detail(detail), objects=0, images=0))

    @contextlib.contextmanager
    def guard(self, level, path, objects=0, images=None, **extra):
        """Run a per-image or per-object step; any exception (InputError or unexpected) becomes
        a rejection of `level` at `path`. Check `.failed` on the yielded object afterwards."""
        state = Guard()
        try:
            yield state
        except BadInput:
            raise
        except Exception as err:  # the one place converter exceptions become dead letters
            state.failed = True
            reason, detail = describe(err)
            self.reject(level, reason, path, detail, objects, images, **extra)


class Converter(object):
    """Turns one unit into records. Subclasses are pickled to Beam workers: keep state small and
    build heavy things in `setup` (called once per worker)."""

    name = 'dataset'           # output directory, file prefix and metrics namespace
    progress_unit = 'units'    # the count reported as progress and throughput

    def setup(self):
        pass

    def convert(self, unit, result):
        raise NotImplementedError

    def unit_path(self, unit):
        """The path a unit-level dead letter names."""
        return str(unit)


# -- splits and shard planning -----------------------------------------------------------------

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


def write_record(f, serialized):
    """One TFRecord (length, masked CRC-32C, data, masked CRC-32C), byte-identical to
    tf.io.TFRecordWriter's (a test compares), without importing TensorFlow in every worker."""
    from apache_beam.io.tfrecordio import _TFRecordUtil
    _TFRecordUtil.write_record(f, serialized)


# -- the Beam side -----------------------------------------------------------------------------

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
        """The unit's UnitResult; BadInput (--strict) propagates."""
        result = UnitResult(self.strict)
        try:
            self.converter.convert(unit, result)
        except BadInput:
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
        except BadInput as err:  # --strict: the first bad input stops the run
            self._leave_stop(task, 'strict', str(err))
            return
        except OSError as err:  # input is read under the unit guard: this is our writing
            self._leave_stop(task, 'write_failed', 'cannot write %s: %s' % (
                err.filename or self.work_dir, err.strerror or err))
            return
        yield part

    def _leave_stop(self, task, kind, message):
        fileio.write_json(fileio.join(self.work_dir, STOP_DIR, '%s-%05d.json' % (
            task.split, task.index)), {'kind': kind, 'message': message})

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


# -- dataset_info --------------------------------------------------------------------------------

def _merge_parts(work, tasks):
    parts, errors = [], []
    for task in tasks:
        data = fileio.read_json(fileio.join(
            work, PARTS_DIR, '%s-%05d.json' % (task.split, task.index)))
        parts.append(data['shard'])
        errors.extend(data['errors'])
    return parts, errors


def _sum_counters(dicts):
    total = collections.Counter()
    for d in dicts:
        total.update(d)
    return dict(total)


def reconcile(parts, rejected, objects_rejected, images_rejected):
    """Per level: seen, written, rejected and filtered (by reason) inputs, and whether
    seen = written + rejected + filtered holds. Rejected units are their dead letters; rejected
    images and objects are those the dead letters of every level took with them (a unit
    rejected as a whole takes its frames along)."""
    totals = {}
    for level in LEVELS:
        tally = _sum_counters(p['tally'].get(level, {}) for p in parts)
        filtered = {k.split(':', 1)[1]: v for k, v in tally.items() if k.startswith('filtered:')}
        took = {'object': objects_rejected, 'image': images_rejected}.get(level)
        rejected_n = sum((took if took is not None else rejected.get(level, {})).values())
        entry = {'seen': tally.get('seen', 0), 'written': tally.get('written', 0),
                 'rejected': rejected_n, 'filtered': filtered}
        entry['reconciled'] = entry['seen'] == (entry['written'] + rejected_n +
                                                sum(filtered.values()))
        totals[level] = entry
    return totals


def build_info(converter, schema, source, options, parts, wall_time, beam_options=None,
               source_splits=None):
    """dataset_info (schemas/dataset_info.py documents every key) from the shard parts."""
    splits = {}
    source_splits = source_splits or {}
    for part in sorted(parts, key=lambda p: (p['split'], p['index'])):
        split = splits.setdefault(part['split'], {
            'num_shards': part['count'], 'shards': [], 'records': 0, 'bytes': 0,
            'source_split': source_splits.get(part['split'], part['split'])})
        split['shards'].append({'file': part['file'], 'records': part['records'],
                                'bytes': part['bytes']})
        split['records'] += part['records']
        split['bytes'] += part['bytes']
    counts = _sum_counters(p['counts'] for p in parts)
    counts['records'] = sum(s['records'] for s in splits.values())
    counts['bytes'] = sum(s['bytes'] for s in splits.values())
    rejected = {level: _sum_counters(p['rejected'].get(level, {}) for p in parts)
                for level in LEVELS}
    warnings = _sum_counters(p['rejected'].get('warning', {}) for p in parts)
    objects_rejected = _sum_counters(p['objects_rejected'] for p in parts)
    images_rejected = _sum_counters(p['images_rejected'] for p in parts)
    done = counts.get(converter.progress_unit, 0)
    worker_seconds = sum(p['seconds'] for p in parts)
    return {
        'name': converter.name,
        'schema': {'name': schema.name, 'version': schema.version},
        'source': source,
        'options': options,
        'beam_options': beam_options or {},
        'max_frame_size': [max([p['max_frame_size'][0] for p in parts] or [0]),
                           max([p['max_frame_size'][1] for p in parts] or [0])],
        'splits': splits,
        'counts': counts,
        'totals': reconcile(parts, rejected, objects_rejected, images_rejected),
        'rejected': {k: v for k, v in rejected.items() if v},
        'objects_rejected': objects_rejected,
        'images_rejected': images_rejected,
        'warnings': warnings,  # written anyway; errors.jsonl lines of level `warning`
        'wall_time_s': round(wall_time, 3),
        # time spent inside shard tasks, summed over workers (excludes runner start-up)
        'worker_seconds': round(worker_seconds, 3),
        'throughput': {'%s_per_s' % converter.progress_unit: round(done / max(wall_time, 1e-9), 2),
                       'mb_per_s': round(counts['bytes'] / 1e6 / max(wall_time, 1e-9), 3)},
        'created_utc': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
    }


def reject_fraction(info):
    """The largest share of rejected inputs over the levels (units, images, objects)."""
    return max([t['rejected'] / float(t['seen']) for t in info['totals'].values() if t['seen']]
               or [0.0])


def verdict(info, max_reject_fraction):
    """None when the run is acceptable, else the one-line reason it is not."""
    if info['counts']['records'] == 0:
        return 'no records written (%s)' % totals_text(info)
    fraction = reject_fraction(info)
    if fraction > max_reject_fraction:
        return 'rejected %.1f %% of the inputs, more than --max-reject-fraction %g (%s); see %s' % (
            100 * fraction, max_reject_fraction, totals_text(info), ERRORS_FILE)
    broken = [level for level, t in sorted(info['totals'].items()) if not t['reconciled']]
    if broken:
        return 'counts do not reconcile for %s (%s): a pipeline bug, please report it' % (
            ', '.join(broken), totals_text(info))
    return None


def totals_text(info):
    return '; '.join('%ss seen %d, written %d, rejected %d, filtered %d' % (
        level, t['seen'], t['written'], t['rejected'], sum(t['filtered'].values()))
        for level, t in ((lv, info['totals'][lv]) for lv in LEVELS) if t['seen'])


# -- runner options ----------------------------------------------------------------------------

def _export_project_path():
    """Let DirectRunner worker processes import this project whatever the working directory
    (an installed package needs nothing; a checkout run with `python -m` does)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    paths = [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p]
    if root not in paths:
        os.environ['PYTHONPATH'] = os.pathsep.join([root] + paths)


def flag_value(args, flag):
    """The value of `flag` in a Beam argument list, in either form (`--flag=v`, `--flag v`);
    the last one given wins, None when absent."""
    value = None
    for i, arg in enumerate(args):
        if arg.startswith(flag + '='):
            value = arg.split('=', 1)[1]
        elif arg == flag and i + 1 < len(args):
            value = args[i + 1]
    return value


def _positive_int(text):
    try:
        return max(0, int(text))
    except (TypeError, ValueError):
        return 0


# Flags that say how many workers a runner will have: the DirectRunner's, Dataflow's
# (--max_num_workers bounds autoscaling, --num_workers starts with that many), Flink's and
# Spark's parallelism.
_REMOTE_WORKER_FLAGS = ('--max_num_workers', '--num_workers', '--parallelism')


def default_workers(beam_args):
    """Workers the run will have, for shard planning: on the DirectRunner (no --runner)
    --direct_num_workers (0 or absent: every core); on other runners --max_num_workers,
    --num_workers or --parallelism, else the local core count (a guess: say
    --min-shards for a cluster)."""
    runner = flag_value(beam_args, '--runner')
    if runner is None or 'direct' in runner.lower():
        flags = ('--direct_num_workers',)
    else:
        flags = _REMOTE_WORKER_FLAGS
    for flag in flags:
        workers = _positive_int(flag_value(beam_args, flag))
        if workers:
            return workers
    return multiprocessing.cpu_count()


# Up to this many units (snippets, image batches, videos) per worker, the DirectRunner runs worker
# threads instead of processes: each process pays seconds of start-up (Beam, OpenCV, TensorFlow
# imports; ~8 s on the loaded 2-core development VM) that a small input never earns back, while
# threads share the GIL for the Python parts (XML, record encoding), which costs on larger inputs
# (bench-vid, 16 snippets x 220 frames: processes 28 s, threads 51 s end to end in one
# measurement; 8 snippets x 77 frames: threads 7.4-8.4 s, processes ~14 s).
THREADS_UP_TO_UNITS_PER_WORKER = 4


def default_running_mode(num_units, workers):
    if num_units <= THREADS_UP_TO_UNITS_PER_WORKER * workers:
        return 'multi_threading'
    return 'multi_processing'


def pipeline_options(beam_args, num_units=None):
    """PipelineOptions from the pass-through Beam flags; with no --runner, the DirectRunner on
    all cores, in multi_processing mode, or multi_threading for small inputs (`num_units` units;
    unless those flags were given)."""
    from apache_beam.options.pipeline_options import PipelineOptions
    _export_project_path()
    args = list(beam_args)
    given = set(a.split('=')[0] for a in args if a.startswith('--'))  # both flag forms
    if '--runner' not in given:
        args.append('--runner=DirectRunner')
        workers = default_workers(args)
        if '--direct_running_mode' not in given:
            mode = ('multi_processing' if num_units is None else
                    default_running_mode(num_units, workers))
            args.append('--direct_running_mode=%s' % mode)
        if '--direct_num_workers' not in given:
            args.append('--direct_num_workers=%d' % workers)
    return PipelineOptions(args)


def recorded_beam_options(options):
    """The Beam options of a run as dataset_info records them: those not at their default."""
    return json.loads(json.dumps(options.get_all_options(drop_default=True), default=str,
                                 sort_keys=True))


# -- the driver --------------------------------------------------------------------------------

class StrictStop(Exception):
    """--strict met a bad input; the message names it."""


def run_conversion(transform, schema, out_root, beam_args, source, options, overwrite=False,
                   notes=None):
    """Run `transform` (a ConvertToShards) into OUT/<name> under the output lock and publish.

    Returns dataset_info (also written to OUT/<name>/dataset_info.json) and the Beam metrics.
    Raises output.OutputError (exists, busy, unwritable, a failed write) and StrictStop."""
    from pipelines import output
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
    from pipelines import output
    markers = stop_markers(work)
    if markers:
        stop = fileio.read_json(markers[0])
        raise (StrictStop if stop['kind'] == 'strict' else output.OutputError)(stop['message'])


def _convert_and_publish(transform, schema, work, final, beam_args, source, options):
    from pipelines import output
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


def summary_lines(info, counters, final):
    """Human summary from Beam metrics (what the workers counted) and dataset_info."""
    unit = info['throughput']
    lines = ['%s -> %s: %s' % (info['name'], final, ', '.join(
        '%s %d' % (k, v) for k, v in sorted(counters.items()) if not k.startswith('rejected_')))]
    for level, reasons in sorted(info['rejected'].items()):
        lines.append('  rejected %ss: %s' % (level, ', '.join(
            '%s %d' % kv for kv in sorted(reasons.items()))))
    if info['warnings']:
        lines.append('  warnings (written anyway): %s' % ', '.join(
            '%s %d' % kv for kv in sorted(info['warnings'].items())))
    lines.append('  %s' % totals_text(info))
    for split, s in sorted(info['splits'].items()):
        lines.append('  %s (source %s): %d records in %d shards, %.1f MB' % (
            split, s['source_split'], s['records'], s['num_shards'], s['bytes'] / 1e6))
    lines.append('  wall %.1f s, %s' % (info['wall_time_s'], ', '.join(
        '%s %.1f' % kv for kv in sorted(unit.items()))))
    return lines
