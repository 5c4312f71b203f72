"""The one exception for unusable input: readers raise it, converters turn it into dead letters."""
from __future__ import absolute_import, division, print_function


class InputError(Exception):
    """An input that cannot be used; `reason` is its errors.jsonl reason, `detail` says why."""

    def __init__(self, reason, detail):
        super(InputError, self).__init__(detail)
        self.reason, self.detail = reason, detail
