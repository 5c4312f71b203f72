"""The one exception for unusable input: readers raise it, converters turn it into dead letters."""
from __future__ import absolute_import, division, print_function


class InputError(Exception):
    """An input that cannot be used; `reason` is its errors.jsonl reason, `detail` says why.
    `path` (the file or folder at fault; the message then starts with it: one line a command can
    print as it is) and `level` (what a rejection removes: unit, image or object) are filled in by
    whoever knows them, the reader or the converter that rejects the input."""

    def __init__(self, reason, detail, path=None, level=None):
        super(InputError, self).__init__('%s: %s' % (path, detail) if path else detail)
        self.reason, self.detail, self.path, self.level = reason, detail, path, level
