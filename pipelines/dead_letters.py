"""What a rejected input becomes: a dead letter (an errors.jsonl line with path, a stable reason
and a detail without memory addresses), or under --strict the stop of the run.

Bad input never stops a run: every unit is converted under a guard (and converters guard each
image and object with `UnitResult.guard`, pipelines/converter.py), so an unexpected exception
becomes a dead letter too. Readers raise datasets.errors.InputError for input they cannot use;
`describe` turns it, or any other exception, into (reason, detail).
"""
from __future__ import absolute_import, division, print_function

import re

from datasets.errors import InputError

ERRORS_FILE = 'errors.jsonl'
LEVELS = ('unit', 'image', 'object')  # what a rejection removed (image: an image or a frame)
UNEXPECTED = 'unexpected_error'       # the reason of an exception no converter anticipated


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
    return StrictStop('%s: %s (%s)' % (rejected.reason, rejected.path, rejected.detail), rejected)


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
