"""The one exception for unusable input: readers raise it, converters turn it into dead letters."""
from __future__ import absolute_import, division, print_function


class InputError(Exception):
    """An input that cannot be used; `reason` is its errors.jsonl reason, `detail` says why and
    `path`, when the reader knows it, names the file or folder at fault (the message then starts
    with it: one line a command can print as it is)."""

    def __init__(self, reason, detail, path=None):
        super(InputError, self).__init__('%s: %s' % (path, detail) if path else detail)
        self.reason, self.detail, self.path = reason, detail, path
