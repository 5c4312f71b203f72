"""The run directory's life: refuse before the first write, fix the records at the start, and
end every failure with one line, summary.json and the last good step saved where it can be.

Order of `open_run` (rank 0): every check that can refuse the run (the records it was started on,
a readable checkpoint, the checkpoint fitting this model and rank count) runs before anything is
written, so a refused command leaves the run directory byte-identical. Then: unreadable newer
checkpoints moved to RUN/unreadable/, config.json, run.json (the records' identity), and a
summary.json saying "running" that also reserves the space its final version needs (a full disk
still gets the reason the run stopped).
"""
from __future__ import absolute_import, division, print_function

import hashlib
import json
import os
import sys

from datasets import fileio
from schemas import dataset_info
from trainers import checkpoints
from trainers import config as config_lib
from trainers import guard as guard_lib
from trainers import reader

RUN_FILE = 'run.json'
SUMMARY_FILE = 'summary.json'
# summary.json is written at the start padded to this size: its final version (status, error,
# steps, metrics) overwrites those bytes in place when the disk is full
SUMMARY_RESERVE = 8192


class RunFailed(RuntimeError):
    """A run ended by an error other than divergence or unreadable records; one line."""


# -- the records a run reads ---------------------------------------------------------------------

def records_identity(records):
    """{records, name, schema, dataset_info_sha256, sources} of what a run was started on (a
    rebuild writes a new dataset_info.json, so the digest changes). `records`: one pipeline
    output, or several separated by commas (multi-source training): then `name` joins their
    names with '+', the digest is over theirs in order, `folders` lists each one's identity, and
    all must share one schema."""
    folders = [_folder_identity(folder) for folder in reader.records_dirs(records)]
    if len(folders) == 1:
        return folders[0]
    schemas = set(json.dumps(f['schema'], sort_keys=True) for f in folders)
    if len(schemas) > 1:
        raise reader.RecordsError('the records folders of %s are of different schemas (%s)' % (
            records, ', '.join(_describe(f) for f in folders)))
    digest = hashlib.sha256('\n'.join(f['dataset_info_sha256'] for f in folders).encode())
    return {'records': records, 'name': '+'.join(str(f['name']) for f in folders),
            'schema': folders[0]['schema'], 'dataset_info_sha256': digest.hexdigest(),
            'sources': sorted(set(s for f in folders for s in f['sources'])),
            'folders': folders}


def _folder_identity(records_dir):
    """records_identity of one folder; `sources` are its dataset_info.json's ("<dataset>:<split>"
    strings), or its name when it lists none (records written before sources were recorded)."""
    import tensorflow as tf  # gfile: records may live on gs:// or hdfs://
    path = dataset_info.info_path(records_dir)
    try:
        with tf.io.gfile.GFile(path, 'rb') as f:
            raw = f.read()
        info = json.loads(raw.decode('utf-8'))
        sources = info.get('sources') or [str(info.get('name'))]
        return {'records': records_dir, 'name': info.get('name'), 'schema': info.get('schema'),
                'dataset_info_sha256': hashlib.sha256(raw).hexdigest(),
                'sources': sorted(set(str(s) for s in sources))}
    except (tf.errors.OpError, ValueError, AttributeError, TypeError) as err:
        raise reader.RecordsError('%s cannot be read: %s' % (path, _first_line(err)))


def run_sources(run_dir):
    """The sources ("<dataset>:<split>") of every records folder a run trained on, from its
    run.json (the union over its records history), or None for a run that records none (an
    imported or older run). Evaluation reads it (GOT-10k test results must come from GOT-10k
    train alone)."""
    return (_read_run_file(run_dir) or {}).get('sources') or None


def _describe(identity, where=True):
    """'[RECORDS: ]name (schema vN, dataset_info.json sha256 0123456789ab)'."""
    schema = identity.get('schema') or {}
    return '%s%s (%s v%s, dataset_info.json sha256 %s)' % (
        '%s: ' % identity.get('records') if where else '', identity.get('name'),
        schema.get('name'), schema.get('version'), str(identity.get('dataset_info_sha256'))[:12])


def _read_run_file(run_dir):
    path = os.path.join(run_dir, RUN_FILE)
    if not os.path.exists(path):
        return None  # a run directory of an earlier version: adopted as it is
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as err:
        raise config_lib.ConfigError('%s cannot be read (%s): restore it or start a new '
                                     '--run-dir' % (path, _first_line(err)))


def check_records(run_dir, identity, allow_changed):
    """Refuse a resume on records other than the run's (ConfigError) unless allowed; returns the
    run file's contents with the records in use added to its history."""
    run = _read_run_file(run_dir) or {}
    started = run.get('records')
    if started and started.get('schema') != identity['schema']:
        raise config_lib.ConfigError(
            '%s was started on the records at %s, this run reads the records at %s: another '
            'trainer\'s or schema\'s run directory; start a new --run-dir'
            % (run_dir, _describe(started), _describe(identity)))
    if started and started.get('dataset_info_sha256') != identity['dataset_info_sha256']:
        what = ('%s was trained on the records at %s; %s now holds %s: the records changed '
                'since the run started (rebuilt or replaced%s)' % (
                    run_dir, _describe(started), identity['records'], _describe(identity, False),
                    _changed_folders(started, identity)))
        if not allow_changed:
            raise config_lib.ConfigError(
                what + '. Resume with --allow-changed-records to continue on them, or start a '
                'new --run-dir')
        sys.stderr.write('note: %s; continuing on them as asked (--allow-changed-records)\n'
                         % what)
    history = run.get('records_history', [started] if started else [])
    if not history or _key(history[-1]) != _key(identity):
        history = history + [identity]
    return _run_file(identity, history)


def _key(identity):
    return identity.get('records'), identity.get('dataset_info_sha256')


def _changed_folders(started, identity):
    """'; changed: FOLDER, ...' for multi-source records of the same folders, else ''."""
    before, now = started.get('folders') or [started], identity.get('folders') or [identity]
    if [f.get('records') for f in before] != [f.get('records') for f in now]:
        return ''
    changed = [b['records'] for b, n in zip(before, now)
               if b.get('dataset_info_sha256') != n.get('dataset_info_sha256')]
    return '; changed: %s' % ', '.join(changed) if len(now) > 1 else ''


def _run_file(identity, history):
    """run.json: the records in use, the history of records trained on, and the union of their
    sources (run_sources)."""
    sources = sorted(set(s for entry in history for s in (entry or {}).get('sources') or []))
    return {'records': identity, 'records_history': history, 'sources': sources}


# -- opening a run -------------------------------------------------------------------------------

def open_run(config, check_checkpoint):
    """Rank 0's start of a run: every refusal, then the first writes. check_checkpoint(path)
    raises when the resume checkpoint does not fit this model or rank count. Returns the records'
    identity (compared again when the run fails)."""
    train = config['train']
    run_dir = train['run_dir']
    records_dir = config.get('input', {}).get('records')
    identity = records_identity(records_dir) if records_dir else None
    checkpoint, unreadable = (checkpoints.newest_readable(run_dir) if os.path.isdir(run_dir)
                              else (None, []))
    if unreadable and checkpoint is None:
        raise config_lib.ConfigError(
            'no checkpoint in %s reads whole (%s): move them away to start afresh, or restore '
            'a copy' % (run_dir, '; '.join('%s: %s' % (os.path.basename(p), r)
                                            for p, r in unreadable)))
    run_file = {}
    if checkpoint:
        if identity:
            run_file = check_records(run_dir, identity, train['allow_changed_records'])
        check_checkpoint(checkpoint)
    elif identity:
        run_file = _run_file(identity, [identity])
    try:  # nothing above wrote; from here on the run directory changes
        _start(config, run_dir, checkpoint, unreadable, run_file)
    except OSError as err:
        raise RunFailed('cannot write the run directory %s: %s' % (run_dir, err))
    return identity


def _start(config, run_dir, checkpoint, unreadable, run_file):
    """open_run's writes."""
    os.makedirs(run_dir, exist_ok=True)
    if unreadable:
        checkpoints.set_aside(run_dir, [p for p, _ in unreadable])
        sys.stderr.write('resuming from %s, the newest checkpoint that reads whole: %s; moved to '
                         '%s\n' % (os.path.basename(checkpoint), '; '.join(
                             '%s is unreadable (%s)' % (os.path.basename(p), r)
                             for p, r in unreadable),
                                   os.path.join(run_dir, checkpoints.UNREADABLE_DIR)))
    write_json(os.path.join(run_dir, 'config.json'), config)  # trackers read it: whole or old
    write_json(os.path.join(run_dir, RUN_FILE), run_file)
    write_summary(run_dir, {'status': 'running (or killed: no final summary was written)'},
                  reserve=SUMMARY_RESERVE)


# -- writing ---------------------------------------------------------------------------------------

def write_json(path, value, reserve=0):
    """`path` replaced whole (a temporary file renamed over it), padded with spaces to `reserve`
    bytes; a failed write leaves the old file."""
    text = json.dumps(value, indent=1, sort_keys=True) + '\n'
    text += ' ' * max(0, reserve - len(text))
    fileio.write_atomic(path, text.encode('utf-8'))


def write_summary(run_dir, summary, reserve=0):
    """summary.json, replaced whole; on a full disk (no room for the temporary file) written
    into the bytes the running summary reserved, padded with spaces (still valid JSON)."""
    path = os.path.join(run_dir, SUMMARY_FILE)
    try:
        write_json(path, summary, reserve)
    except OSError:
        text = json.dumps(summary, indent=1, sort_keys=True) + '\n'
        size = os.path.getsize(path) if os.path.exists(path) else 0
        if len(text) > size:
            raise
        with open(path, 'r+') as f:  # the reserved blocks: no new space needed
            f.write(text + ' ' * (size - len(text)))


def write_imported(run_dir, config, record, write_checkpoint):
    """A run directory of weights trained elsewhere (the import commands), published whole (a
    refused or failed import leaves nothing): write_checkpoint(folder) writes model.ckpt-<step>
    there and returns its step; then config.json, run.json (`record`: where the weights came
    from) and summary.json (status imported)."""
    with fileio.published_whole(run_dir) as folder:
        step = write_checkpoint(folder)
        write_json(os.path.join(folder, 'config.json'), config)
        write_json(os.path.join(folder, RUN_FILE), record)
        write_summary(folder, {'status': 'imported', 'step': step})


# -- failing -------------------------------------------------------------------------------------

def _first_line(err):
    message = getattr(err, 'message', None) or str(err) or type(err).__name__
    return message.strip().split('\n')[0]


def _attempt(action, what):
    """action()'s result, or what went wrong with it in words (the run is failing already: the
    first error stays the one raised)."""
    try:
        return action()
    except Exception as err:  # noqa: B902 - a second failure must not hide the first
        return '%s (%s: %s)' % (what, type(err).__name__, _first_line(err))


def _records_note(identity):
    """Words on records that changed during the run, or ''."""
    if not identity:
        return ''
    try:
        now = records_identity(identity['records'])
    except reader.RecordsError as err:
        return '; the records the run started on are gone: %s' % err
    if now['dataset_info_sha256'] != identity['dataset_info_sha256']:
        return ('; the records at %s were replaced during the run (dataset_info.json changed): '
                'resume with --allow-changed-records to train on the new ones'
                % identity['records'])
    return ''


def fail(err, step, save, close, summary, identity=None):
    """The exception a failed run raises, after: the last good step saved where it can be
    (save() -> words; not after divergence, and read errors have saved already), the session's
    writers closed, summary.json saying why. Divergence and read errors keep their class;
    anything else (a TF error, a full or read-only disk) becomes RunFailed; every message is
    one line."""
    if isinstance(err, (guard_lib.TrainingDiverged, reader.RecordsError)):
        message, kind = str(err).split('\n')[0], type(err)
    else:
        message = '%s at step %d: %s; %s' % (
            type(err).__name__, step, _first_line(err),
            _attempt(save, 'no checkpoint could be written'))
        kind = RunFailed
    message += _records_note(identity)
    _attempt(close, '')
    problem = _attempt(lambda: summary(failure=kind(message)) and None, 'not written')
    if problem:  # None when summary.json was written
        message += '; %s %s' % (SUMMARY_FILE, problem)
    return kind(message)
