"""What a rejected input becomes: a dead letter (an errors.jsonl line with path, a stable reason
and a detail without memory addresses), or under --strict the stop of the run.

Bad input never stops a run: every unit is converted under a guard (and converters guard each
image and object with `UnitResult.guard`, pipelines/converter.py), so an unexpected exception
becomes a dead letter too. Readers raise datasets.errors.InputError for input they cannot use;
`describe` turns it, or any other exception, into (reason, detail).
"""
from __future__ import absolute_import, division, print_function

import errno as errno_names
import json
import os
import re

from datasets import fileio, images
from datasets.errors import InputError

ERRORS_FILE = 'errors.jsonl'
LEVELS = ('unit', 'image', 'object')  # what a rejection removed (image: an image or a frame)
UNEXPECTED = 'unexpected_error'       # the reason of an exception no converter anticipated
NON_UTF8_NAME = 'non_utf8_name'       # a file or folder name that records and JSON cannot hold


class StrictStop(Exception):
    """Control flow, not a kind of bad input: --strict stops the run at the first rejected input.
    Raised where the input is rejected, it passes every guard (which would otherwise turn it into
    a dead letter) up to the shard task, and the driver raises it again from the task's stop
    marker. The message names the input; `rejected` is its InputError where it was raised."""

    def __init__(self, message, rejected=None):
        super(StrictStop, self).__init__(message)
        self.rejected = rejected


def strict_stop(rejected):
    """The StrictStop for a rejected input (an InputError with its level and path)."""
    return StrictStop('%s: %s (%s)' % (rejected.reason, fileio.printable(rejected.path),
                                       rejected.detail), rejected)


STRICT, WRITE_FAILED = 'strict', 'write_failed'   # the kinds of stop marker


def leave_stop(stop_dir, task_name, kind, message, code=None):
    """Leave the marker of a task that stops the run, STOP_DIR/<task>.<kind>[.<ERRNO>].json
    holding the message. The marker may have to be written to the disk that just filled up:
    it is written whole or not at all (write_atomic), and if even that fails, created empty,
    its name still saying the kind and the error (`code`, an errno); only when that fails too
    does the write error propagate (into the runner, which the driver then reports)."""
    suffix = '.' + errno_names.errorcode.get(code, str(code)) if code else ''
    path = fileio.join(stop_dir, '%s.%s%s.json' % (task_name, kind, suffix))
    try:
        fileio.write_atomic(path, json.dumps({'kind': kind, 'message': message},
                                             sort_keys=True).encode('utf-8'))
    except OSError:
        if not fileio.is_local(path):
            raise
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))   # no data block needed


def read_stop(path):
    """(kind, message, reason) of a stop marker; message None when the marker is empty or cut
    short (its disk was full), reason then the strerror its name records (or None). Never
    raises for what the marker holds."""
    parts = os.path.basename(path).split('.')[1:-1]   # <task>.<kind>[.<ERRNO>].json
    kind = parts[0] if parts else WRITE_FAILED
    code = getattr(errno_names, parts[1], None) if len(parts) > 1 else None
    reason = os.strerror(code) if code else None
    try:
        stop = json.loads(fileio.read_bytes(path).decode('utf-8'))
        return stop['kind'], str(stop['message']), reason
    except (OSError, ValueError, KeyError, TypeError):  # empty, cut short, unreadable
        return kind, None, reason


EXIF_ORIENTATION = 'exif_orientation'   # the warning of a frame whose EXIF rotation is ignored


def flag_orientation(result, path, data):
    """A counted warning (errors.jsonl, level warning) for JPEG bytes carrying an EXIF rotation:
    the frame is used as stored, in the grid of its annotations (datasets.images)."""
    note = images.orientation_note(data)
    if note:
        result.warn(EXIF_ORIENTATION, path, note)


_ADDRESS = re.compile(r' at 0x[0-9a-fA-F]+')


def stable_detail(text, limit=300):
    """An error text that is the same on every run: no object addresses, bounded length, the
    bytes of file names that are not UTF-8 escaped (fileio.printable)."""
    text = _ADDRESS.sub('', fileio.printable(str(text))).replace('\n', ' ').strip()
    return text if len(text) <= limit else text[:limit - 3] + '...'


def name_problem(path):
    """(NON_UTF8_NAME, path, detail) for a file or folder whose name is not UTF-8 (the bytes
    escaped as \\xNN: records, JSON and logs cannot hold them as they are), else None."""
    if fileio.is_utf8_name(path):
        return None
    return (NON_UTF8_NAME, fileio.printable(path),
            'the name holds bytes that are not UTF-8 (shown as \\xNN)')


def describe(error):
    """(reason, detail) of an exception met while converting."""
    if isinstance(error, InputError):
        return error.reason, stable_detail(error.detail)
    if 'surrogates not allowed' in str(error):   # a name from the disk that is not UTF-8
        return NON_UTF8_NAME, stable_detail('a name holds bytes that are not UTF-8 (%s: %s)' % (
            type(error).__name__, error))
    if isinstance(error, fileio.NotRegularFileError):
        return 'not_regular_file', error.strerror
    if isinstance(error, PermissionError):
        return 'unreadable_file', 'permission denied'
    if isinstance(error, FileNotFoundError):
        return 'missing_file', 'file does not exist'
    if isinstance(error, OSError):
        return 'unreadable_file', stable_detail(error.strerror or error)
    return UNEXPECTED, stable_detail('%s: %s' % (type(error).__name__, error))
