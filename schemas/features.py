"""Declare a record schema once; encode, decode and document it from that one declaration.

(Over 400 lines on purpose: the declaration, the encoder, the TensorFlow decoder, the numpy reader
and the documentation interpret the same shape rules and must change together; split, each half
would re-state them.)

A schema is a list of `Field`s. Each field has a Python `name` (the key of the dicts that `encode`
takes and `decode` returns, so code outside `schemas/` never spells a serialized key) and the
serialized feature `key`. Shapes:

    ()              one value
    (4,)            exactly four values
    (None,)         any number of values
    ('ref',)        as many values as field `ref` has (e.g. one per object)
    ('ref', 4)      four values per element of `ref`, decoded as [len(ref), 4]

`ragged=True` stores a list of lists as flat `key` values plus `key + '_row_lengths'` (the layout
docs/pipelines.md, "Record kinds" describes); `decode` returns the flat values under `name` and
the lengths under `name + '_row_lengths'`.

In a SequenceExample, `sequence` fields describe one step (frame); decoding adds a leading
dimension T. Symbolic lengths in sequence fields refer to context fields.
"""
from __future__ import absolute_import, division, print_function

import collections

import numpy as np

BYTES = 'bytes'
INT64 = 'int64'
FLOAT = 'float32'
_DTYPES = (BYTES, INT64, FLOAT)
ROW_LENGTHS_SUFFIX = '_row_lengths'


class SchemaError(ValueError):
    """A value does not fit its schema (wrong name, type or length)."""


class Field(collections.namedtuple('Field', 'name key dtype shape doc ragged')):
    """One feature of a record: see the module docstring for shapes."""

    def __new__(cls, name, key, dtype, shape, doc, ragged=False):
        if dtype not in _DTYPES:
            raise ValueError('field %s: dtype must be one of %s' % (name, _DTYPES))
        shape = tuple(shape)
        if len(shape) > 2 or (len(shape) == 2 and not isinstance(shape[1], int)):
            raise ValueError('field %s: shape %r not supported' % (name, shape))
        if ragged and shape not in ((None,),) and not (len(shape) == 1 and isinstance(shape[0], str)):
            raise ValueError('field %s: a ragged field has shape (None,) or (ref,)' % name)
        return super(Field, cls).__new__(cls, name, key, dtype, shape, doc, ragged)

    @property
    def is_scalar(self):
        return self.shape == ()

    @property
    def fixed_length(self):
        """Number of values when it is known without looking at other fields, else None."""
        if self.is_scalar:
            return 1
        if len(self.shape) == 1 and isinstance(self.shape[0], int):
            return self.shape[0]
        return None

    @property
    def ref(self):
        """Name of the field whose length sets this field's length, or None."""
        return self.shape[0] if self.shape and isinstance(self.shape[0], str) else None

    @property
    def per_ref(self):
        return self.shape[1] if len(self.shape) == 2 else 1

    def shape_text(self):
        parts = []
        for dim in self.shape:
            parts.append('N' if dim is None else ('len(%s)' % dim if isinstance(dim, str) else str(dim)))
        text = '[' + ', '.join(parts) + ']' if parts else 'scalar'
        return ('ragged ' + text + ' of lists') if self.ragged else text


# ----------------------------------------------------------------------------------------------
# Python values -> protobuf

def _row(value):
    """A list of values from a list, tuple or array (any shape, flattened)."""
    return np.asarray(value).reshape(-1).tolist() if isinstance(value, np.ndarray) else list(value)


def _as_list(field, value):
    if field.is_scalar:
        if isinstance(value, (list, tuple)) or (isinstance(value, np.ndarray) and value.ndim):
            raise SchemaError('%s: expected one value, got a sequence' % field.name)
        return [value]
    if isinstance(value, (bytes, str)) or np.isscalar(value):
        raise SchemaError('%s: expected a list of values, got one value' % field.name)
    if len(field.shape) == 2 and not isinstance(value, np.ndarray):
        rows = [_row(r) for r in value]
        for r in rows:
            if len(r) != field.per_ref:
                raise SchemaError('%s: every row needs %d values, got %d'
                                  % (field.name, field.per_ref, len(r)))
        return [v for r in rows for v in r]
    return _row(value)


def _coerce(field, values):
    try:
        if field.dtype == BYTES:
            return [v.encode('utf-8') if isinstance(v, str) else bytes(v) for v in values]
        if field.dtype == INT64:
            out = []
            for v in values:
                if isinstance(v, (float, np.floating)) and float(v) != int(v):
                    raise TypeError('non-integral value %r' % (v,))
                out.append(int(v))
            return out
        return [float(v) for v in values]
    except (TypeError, ValueError) as err:
        raise SchemaError('%s (%s): %s' % (field.name, field.dtype, err))


def _fill(feature, dtype, values):
    """Set a tf.train.Feature (a message in place: no temporary copied in) to `values`."""
    if dtype == BYTES:
        feature.bytes_list.value.extend(values)
    elif dtype == INT64:
        feature.int64_list.value.extend(values)
    else:
        feature.float_list.value.extend(values)


def _flatten(field, value, ref_lengths):
    """Check one field's value against its shape; return its serialized value list(s)."""
    if field.ragged:
        rows = [_coerce(field, _row(r)) for r in value]
        _check_length(field, len(rows), ref_lengths, unit='rows')
        values = [v for r in rows for v in r]
        return values, [len(r) for r in rows]
    values = _coerce(field, _as_list(field, value))
    _check_length(field, len(values), ref_lengths)
    return values, None


def _check_length(field, n, ref_lengths, unit='values'):
    expected = field.fixed_length
    if field.ref is not None:
        if field.ref not in ref_lengths:
            raise SchemaError('%s: length refers to %s, which is missing' % (field.name, field.ref))
        expected = ref_lengths[field.ref] * (1 if field.ragged else field.per_ref)
    if expected is not None and n != expected:
        raise SchemaError('%s: expected %d %s, got %d' % (field.name, expected, unit, n))


def _ordered_by_dependency(fields):
    """Fields without a symbolic length first, so their lengths are known when checking others."""
    return sorted(fields, key=lambda f: f.ref is not None)


def _check_names(fields, values, what):
    names = set(f.name for f in fields)
    unknown = sorted(set(values) - names)
    missing = sorted(names - set(values))
    if unknown:
        raise SchemaError('%s: unknown field(s) %s' % (what, ', '.join(unknown)))
    if missing:
        raise SchemaError('%s: missing field(s) %s' % (what, ', '.join(missing)))


def _fill_features(feature_map, fields, values, ref_lengths):
    for field in _ordered_by_dependency(fields):
        flat, row_lengths = _flatten(field, values[field.name], ref_lengths)
        ref_lengths[field.name] = len(row_lengths) if field.ragged else len(flat) // field.per_ref
        _fill(feature_map[field.key], field.dtype, flat)
        if field.ragged:
            _fill(feature_map[field.key + ROW_LENGTHS_SUFFIX], INT64, row_lengths)


def encode_example(fields, values):
    """dict name -> value  ->  serialized tf.train.Example."""
    from tensorflow.core.example import example_pb2
    _check_names(fields, values, 'example')
    example = example_pb2.Example()
    _fill_features(example.features.feature, fields, values, {})
    # deterministic: map fields (features, feature lists) sorted by key -> byte-identical reruns
    return example.SerializeToString(deterministic=True)


def encode_sequence_example(context_fields, sequence_fields, context, steps):
    """context: dict name -> value; steps: dict name -> list with one value per step."""
    from tensorflow.core.example import example_pb2
    _check_names(context_fields, context, 'context')
    _check_names(sequence_fields, steps, 'sequence')
    lengths = set(len(v) for v in steps.values())
    if len(lengths) > 1:
        raise SchemaError('sequence fields have different numbers of steps: %s'
                          % {k: len(v) for k, v in sorted(steps.items())})
    example = example_pb2.SequenceExample()
    ref_lengths = {}
    _fill_features(example.context.feature, context_fields, context, ref_lengths)
    for field in sequence_fields:
        feature_list = example.feature_lists.feature_list[field.key]
        for step_value in steps[field.name]:
            flat, _ = _flatten(field, step_value, ref_lengths)
            _fill(feature_list.feature.add(), field.dtype, flat)
    # deterministic: map fields (features, feature lists) sorted by key -> byte-identical reruns
    return example.SerializeToString(deterministic=True)


# ----------------------------------------------------------------------------------------------
# serialized tensor -> dict of tensors (graph mode, for tf.data)

def _tf_dtype(tf, field):
    return {BYTES: tf.string, INT64: tf.int64, FLOAT: tf.float32}[field.dtype]


def parse_spec(tf, fields, sequence=False):
    """The tf.io parsing spec of `fields` (exposed for batched parse_example in readers)."""
    spec = {}
    for field in fields:
        dtype = _tf_dtype(tf, field)
        if field.ragged:
            spec[field.key] = tf.io.VarLenFeature(dtype)
            spec[field.key + ROW_LENGTHS_SUFFIX] = tf.io.VarLenFeature(tf.int64)
        elif field.fixed_length is not None:
            shape = [] if field.is_scalar else [field.fixed_length]
            spec[field.key] = (tf.io.FixedLenSequenceFeature(shape, dtype) if sequence
                               else tf.io.FixedLenFeature(shape, dtype))
        else:
            spec[field.key] = tf.io.VarLenFeature(dtype)
    return spec


def _densify(tf, field, tensor):
    if isinstance(tensor, tf.SparseTensor):
        default = '' if field.dtype == BYTES else 0
        tensor = tf.sparse.to_dense(tensor, default_value=tf.constant(default, tensor.dtype))
    return tensor


def _shape_values(tf, fields, parsed, out, sequence):
    for field in _ordered_by_dependency(fields):
        value = _densify(tf, field, parsed[field.key])
        if field.ragged:
            out[field.name] = value
            out[field.name + ROW_LENGTHS_SUFFIX] = _densify(
                tf, field, parsed[field.key + ROW_LENGTHS_SUFFIX])
            continue
        if len(field.shape) == 2:
            # The row count comes from the referenced (context) field, so empty records reshape
            # too: [0, -1, 4] cannot be inferred.
            rows = tf.shape(out[field.ref])[0]
            lead = [tf.shape(value)[0]] if sequence else []
            value = tf.reshape(value, lead + [rows, field.per_ref])
        out[field.name] = value


def decode_example(fields, serialized):
    """Scalar string tensor -> dict name -> dense tensor."""
    import tensorflow as tf
    parsed = tf.io.parse_single_example(serialized, parse_spec(tf, fields))
    out = {}
    _shape_values(tf, fields, parsed, out, sequence=False)
    return out


def _first_of_batch(tf, tensor):
    """Element 0 of a dense or sparse tensor with a leading batch dimension of 1."""
    if isinstance(tensor, tf.SparseTensor):
        return tf.SparseTensor(tensor.indices[:, 1:], tensor.values, tensor.dense_shape[1:])
    return tensor[0]


def decode_sequence_example(context_fields, sequence_fields, serialized):
    """Scalar string tensor -> dict name -> dense tensor; sequence fields get a leading T.

    Parsed as a batch of one: in TF 1.15 tf.io.parse_sequence_example runs the fast parser, which
    skips the features not asked for, while parse_single_sequence_example deserialises the whole
    proto first (on 200-crop vid_track chunks, 2 cores: 994 against 9,358 records/s)."""
    import tensorflow as tf
    context, steps, _ = tf.io.parse_sequence_example(
        serialized[None],
        context_features=parse_spec(tf, context_fields),
        sequence_features=parse_spec(tf, sequence_fields, sequence=True))
    context = {key: _first_of_batch(tf, value) for key, value in context.items()}
    steps = {key: _first_of_batch(tf, value) for key, value in steps.items()}
    out = {}
    _shape_values(tf, context_fields, context, out, sequence=False)
    _shape_values(tf, sequence_fields, steps, out, sequence=True)
    return out


# ----------------------------------------------------------------------------------------------
# serialized bytes -> dict of numpy arrays (no TensorFlow at all: schemas/example_proto.py; for
# pipelines, tests and inspection)

_NP_DTYPES = {BYTES: object, INT64: np.int64, FLOAT: np.float32}


def _feature_values(field, feature):
    if feature is None:
        return []
    kind = {BYTES: 'bytes_list', INT64: 'int64_list', FLOAT: 'float_list'}[field.dtype]
    return list(getattr(feature, kind).value)


def _np_value(field, values):
    arr = np.array(values, dtype=_NP_DTYPES[field.dtype])
    if field.is_scalar:
        if len(values) != 1:
            raise SchemaError('%s: expected one value, got %d' % (field.name, len(values)))
        return arr[0]
    if len(field.shape) == 2:
        return arr.reshape(-1, field.per_ref)
    return arr


def _read_map(fields, feature_map, out):
    for field in fields:
        feature = feature_map[field.key] if field.key in feature_map else None
        if field.ragged:
            lengths = (_feature_values(Field('', '', INT64, (None,), ''),
                                       feature_map[field.key + ROW_LENGTHS_SUFFIX])
                       if field.key + ROW_LENGTHS_SUFFIX in feature_map else [])
            values = _feature_values(field, feature)
            splits = np.cumsum([0] + lengths)
            out[field.name] = [np.array(values[a:b], dtype=_NP_DTYPES[field.dtype])
                               for a, b in zip(splits[:-1], splits[1:])]
        else:
            out[field.name] = _np_value(field, _feature_values(field, feature))


def read_example(fields, serialized):
    from schemas.example_proto import Example  # the same messages, without importing TF
    example = Example.FromString(serialized)
    out = {}
    _read_map(fields, example.features.feature, out)
    return out


def read_sequence_example(context_fields, sequence_fields, serialized):
    """Like decode_sequence_example, but numpy; ragged fields come back as lists of arrays."""
    from schemas.example_proto import SequenceExample
    example = SequenceExample.FromString(serialized)
    out = {}
    _read_map(context_fields, example.context.feature, out)
    lists = example.feature_lists.feature_list
    for field in sequence_fields:
        steps = lists[field.key].feature if field.key in lists else []
        out[field.name] = [_np_value(field, _feature_values(field, f)) for f in steps]
    return out


# ----------------------------------------------------------------------------------------------
# the schema object each record module builds

class Schema(object):
    """Name, version and fields of one record kind, with its encoder, decoders and docs."""

    def __init__(self, name, version, doc, fields=(), context=(), sequence=()):
        self.name = name
        self.version = version
        self.doc = doc
        self.is_sequence = bool(sequence)
        self.context = tuple(context or fields)
        self.sequence = tuple(sequence)
        self._validate()

    def _validate(self):
        names, keys = set(), set()
        for field in self.context + self.sequence:
            for seen, item in ((names, field.name), (keys, field.key)):
                if item in seen:
                    raise ValueError('%s: duplicate %r' % (self.name, item))
                seen.add(item)
        context_names = set(f.name for f in self.context)
        for field in self.context + self.sequence:
            if field.ref is not None and field.ref not in context_names:
                raise ValueError('%s: %s refers to unknown context field %s'
                                 % (self.name, field.name, field.ref))

    @property
    def record_type(self):
        return 'tf.train.SequenceExample' if self.is_sequence else 'tf.train.Example'

    def field(self, name):
        for f in self.context + self.sequence:
            if f.name == name:
                return f
        raise KeyError('%s has no field %r' % (self.name, name))

    def encode(self, context, steps=None):
        """Python values -> serialized record. `steps` only for sequence schemas."""
        if self.is_sequence:
            return encode_sequence_example(self.context, self.sequence, context, steps or {})
        if steps:
            raise SchemaError('%s is not a sequence schema' % self.name)
        return encode_example(self.context, context)

    def decode(self, serialized, names=None):
        """Scalar string tensor -> dict name -> tensor (use inside tf.data map).

        `names` limits parsing to those fields (and the fields their shapes refer to): a reader
        that needs two frames of a track chunk should not materialise every other feature."""
        context, sequence = self.context, self.sequence
        if names is not None:
            wanted = set(names)
            unknown = wanted - set(f.name for f in context + sequence)
            if unknown:
                raise KeyError('%s has no field(s) %s' % (self.name, ', '.join(sorted(unknown))))
            wanted |= set(f.ref for f in context + sequence if f.name in wanted and f.ref)
            context = tuple(f for f in context if f.name in wanted)
            sequence = tuple(f for f in sequence if f.name in wanted)
        if self.is_sequence:
            return decode_sequence_example(context, sequence, serialized)
        return decode_example(context, serialized)

    def read(self, serialized):
        """Serialized bytes -> dict name -> numpy value (no TF graph needed)."""
        if self.is_sequence:
            return read_sequence_example(self.context, self.sequence, serialized)
        return read_example(self.context, serialized)

    def describe_rows(self):
        """(level, key, type, shape, meaning) for every serialized key."""
        rows = []
        levels = (('context', self.context), ('per frame', self.sequence)) if self.is_sequence \
            else (('feature', self.context),)
        for level, fields in levels:
            for f in fields:
                rows.append((level, f.key, f.dtype, f.shape_text(), f.doc))
                if f.ragged:
                    rows.append((level, f.key + ROW_LENGTHS_SUFFIX, INT64, '[%s]' % (
                        'len(%s)' % f.ref if f.ref else 'rows'), 'row lengths of %s' % f.key))
        return rows
