"""Declared value types of configuration keys: what each key accepts, as data beside its default.

`integer(1)`, `number(above=0)`, `one_of('sgd', 'momentum')`, ... are `Accepts` objects (a test and
the words a refusal shows); `check(config, types)` walks a config and a dict of the same shape and
refuses the first value outside its declaration with one line naming the key, the value and what
is accepted. Numbers must be finite (JSON's 1e400 is Infinity, NaN parses too), integers must be
ints (not 2.5, not "12", not true).
"""
from __future__ import absolute_import, division, print_function

import json
import math

AUTOTUNE = -1  # tf.data.experimental.AUTOTUNE, kept here so configs stay plain JSON
INT32_MAX = 2 ** 31 - 1  # counts and sizes end up in int32/int64 tensors


class ConfigError(ValueError):
    """A configuration value, file or key that cannot be used; the message is one line."""


class Accepts(object):
    """A declared value type: `test(value) -> bool` and the words a refusal shows."""

    def __init__(self, test, words):
        self.test, self.words = test, words

    def __call__(self, value):
        return self.test(value)


def _is_number(value):
    # bool is an int in Python, but `true` for a step count is a mistake, not 1
    return isinstance(value, (int, float)) and not isinstance(value, bool) and \
        math.isfinite(value)


def _range_words(low, high, above, below):
    parts = []
    if above is not None:
        parts.append('> %r' % above)
    elif low is not None:
        parts.append('>= %r' % low)
    if below is not None:
        parts.append('< %r' % below)
    elif high is not None:
        parts.append('<= %r' % high)
    return ' and '.join(parts)


def _in_range(value, low, high, above, below):
    return ((low is None or value >= low) and (high is None or value <= high) and
            (above is None or value > above) and (below is None or value < below))


def integer(low=None, high=INT32_MAX):
    """An int (not a float such as 2.5 or 2.0, not a string such as "12", not a bool)."""
    words = 'an integer ' + _range_words(low, high, None, None)
    return Accepts(lambda v: isinstance(v, int) and not isinstance(v, bool) and
                   _in_range(v, low, high, None, None), words)


def number(low=None, high=None, above=None, below=None):
    """A finite int or float (not NaN, not 1e400 = Infinity) inside the given bounds."""
    words = 'a finite number ' + _range_words(low, high, above, below)
    return Accepts(lambda v: _is_number(v) and _in_range(v, low, high, above, below),
                   words.strip())


def one_of(*values):
    return Accepts(lambda v: any(v == x and type(v) is type(x) for x in values),
                   'one of %s' % ', '.join(json.dumps(x) for x in values))


def boolean():
    return Accepts(lambda v: isinstance(v, bool), 'true or false')


def text(empty=False):
    return Accepts(lambda v: isinstance(v, str) and (empty or bool(v.strip())),
                   'a string' if empty else 'a non-empty string')


def json_object_or_text():
    """A JSON object or its text (an adapter option such as profiling_options)."""
    return Accepts(lambda v: isinstance(v, dict) or (isinstance(v, str) and bool(v.strip())),
                   'a JSON object or its text')


def optional(accepts):
    """`accepts`, or null (None: a default filled in later)."""
    return Accepts(lambda v: v is None or accepts(v), 'null or %s' % accepts.words)


def list_of(accepts, length=None, min_length=1):
    size = ('%d' % length) if length else 'at least %d' % min_length
    return Accepts(lambda v: isinstance(v, list) and (
        len(v) == length if length else len(v) >= min_length) and all(accepts(x) for x in v),
        'a list of %s items, each %s' % (size, accepts.words))


def parallelism():
    """A tf.data parallelism knob: a count >= 1, or -1 (AUTOTUNE)."""
    return Accepts(lambda v: integer(1)(v) or integer(AUTOTUNE, AUTOTUNE)(v),
                   'an integer >= 1, or %d (AUTOTUNE)' % AUTOTUNE)


def shown(value):
    """A value as a refusal shows it: JSON (strings quoted, Infinity, NaN), at most 60 chars."""
    try:
        out = json.dumps(value)
    except (TypeError, ValueError):
        out = repr(value)
    return out if len(out) <= 60 else out[:57] + '...'


def check(config, types, path=''):
    """Refuse the first value of `config` outside its declaration in `types` (a dict of the same
    shape: a nested dict declares a section, an Accepts a value)."""
    missing = sorted(set(types) - set(config))
    if missing:
        raise ConfigError('%s lacks the keys %s' % (path or 'the configuration',
                                                     ', '.join(missing)))
    for key in sorted(config):
        value, where = config[key], '%s.%s' % (path, key) if path else key
        if key not in types:
            raise ConfigError('%s has no declared type (declare it beside its default)' % where)
        if isinstance(types[key], dict):
            if not isinstance(value, dict):
                raise ConfigError('%s = %s is not accepted: expected a section with the keys %s'
                                  % (where, shown(value), ', '.join(sorted(types[key]))))
            check(value, types[key], where)
        elif not types[key](value):
            raise ConfigError('%s = %s is not accepted: expected %s'
                              % (where, shown(value), types[key].words))
