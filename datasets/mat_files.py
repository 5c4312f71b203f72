"""MATLAB level-5 .mat files (the format of `save -v7`, MatConvNet's networks), read with numpy
and zlib alone: the venv has no scipy (scipy.io.loadmat), and h5py reads only v7.3 (HDF5) files.

`read_mat(path) -> {variable: value}` where a value is
  * a numeric or logical matrix: a numpy array of its MATLAB shape (column-major data reordered),
  * a char array: a str (rows joined),
  * a cell array: a list of its values in MATLAB's (column-major) order,
  * a struct array (or an object's fields): a list of {field: value} dicts, in that order.
Sparse and function-handle values are refused. Every problem is a MatFileError naming the file.
Layout: MATLAB's "MAT-File Format" (level 5): a 128-byte header, then data elements, each an
8-byte tag (type, byte count; or a 4-byte "small element" tag holding up to 4 bytes of data),
padded to 8 bytes; miCOMPRESSED elements hold one zlib-compressed element.
"""
from __future__ import absolute_import, division, print_function

import struct
import zlib

import numpy as np

HEADER_BYTES = 128
MI_MATRIX, MI_COMPRESSED = 14, 15
# data element types -> numpy dtype (without byte order)
MI_TYPES = {1: 'i1', 2: 'u1', 3: 'i2', 4: 'u2', 5: 'i4', 6: 'u4', 7: 'f4', 9: 'f8', 12: 'i8',
            13: 'u8', 16: 'u1', 17: 'u2', 18: 'u4'}
CELL, STRUCT, OBJECT, CHAR, SPARSE = 1, 2, 3, 4, 5
NUMERIC_CLASSES = {6: 'f8', 7: 'f4', 8: 'i1', 9: 'u1', 10: 'i2', 11: 'u2', 12: 'i4', 13: 'u4',
                   14: 'i8', 15: 'u8'}


class MatFileError(ValueError):
    """A .mat file that cannot be read; one line naming the file."""


def read_mat(path):
    """{variable name: value} of a level-5 .mat file (see the module docstring)."""
    with open(path, 'rb') as f:
        raw = f.read()
    if raw[:8] == b'\x89HDF\r\n\x1a\n' or raw[512:520] == b'\x89HDF\r\n\x1a\n':
        raise MatFileError('%s is a MATLAB v7.3 (HDF5) file: save it again with -v7 to read it '
                           'here' % path)
    if len(raw) < HEADER_BYTES or raw[126:128] not in (b'IM', b'MI'):
        raise MatFileError('%s is not a level-5 MATLAB .mat file (no MAT header)' % path)
    reader = _Reader(raw, '<' if raw[126:128] == b'IM' else '>', path)
    out = {}
    try:
        offset = HEADER_BYTES
        while offset < len(raw):
            (name, value), offset = reader.element(raw, offset, top=True)
            if name is not None:
                out[name] = value
    except (struct.error, zlib.error, ValueError, IndexError) as err:
        if isinstance(err, MatFileError):
            raise
        raise MatFileError('%s is truncated or corrupt: %s' % (path, err))
    return out


class _Reader(object):
    def __init__(self, raw, order, path):
        self.order, self.path = order, path

    def tag(self, data, offset):
        """(type, byte count, data offset, next element offset) of the element at offset."""
        first, = struct.unpack_from(self.order + 'I', data, offset)
        if first >> 16:   # small data element: type and count in one word, data in the next 4
            return first & 0xFFFF, first >> 16, offset + 4, offset + 8
        kind, count = struct.unpack_from(self.order + 'II', data, offset)
        start = offset + 8
        if start + count > len(data):
            raise MatFileError('%s is truncated: an element of %d bytes at byte %d runs past '
                               'its end' % (self.path, count, offset))
        padded = count if kind == MI_COMPRESSED else (count + 7) // 8 * 8
        return kind, count, start, start + padded

    def numbers(self, data, offset):
        """(1-d numpy array, next offset) of a numeric data element."""
        kind, count, start, end = self.tag(data, offset)
        if kind not in MI_TYPES:
            raise MatFileError('%s: data element type %d where numbers were expected'
                               % (self.path, kind))
        dtype = np.dtype(MI_TYPES[kind]).newbyteorder(self.order)
        return np.frombuffer(data[start:start + count], dtype).copy(), end

    def element(self, data, offset, top=False):
        """((name, value), next offset) of a miMATRIX or miCOMPRESSED element."""
        kind, count, start, end = self.tag(data, offset)
        if kind == MI_COMPRESSED:
            inner = zlib.decompress(data[start:start + count])
            return self.element(inner, 0, top)[0], end
        if kind != MI_MATRIX:
            raise MatFileError('%s: element type %d at byte %d, expected a matrix'
                               % (self.path, kind, offset))
        if count == 0:   # an empty cell or field
            return (None, np.zeros((0, 0))), end
        return self.matrix(data[start:start + count]), end

    def matrix(self, body):
        flags, at = self.numbers(body, 0)
        klass, is_complex = int(flags[0]) & 0xFF, bool(int(flags[0]) & 0x800)
        dims, at = self.numbers(body, at)
        shape = tuple(int(d) for d in dims)
        name, at = self.numbers(body, at)
        name = bytes(bytearray(name.astype(np.uint8))).decode('ascii') or None
        if klass in NUMERIC_CLASSES:
            real, at = self.numbers(body, at)
            value = real.astype(NUMERIC_CLASSES[klass]).reshape(shape, order='F')
            if is_complex:
                imag, at = self.numbers(body, at)
                value = value + 1j * imag.reshape(shape, order='F')
            if int(flags[0]) & 0x200:  # logical
                value = value.astype(bool)
            return name, value
        if klass == CHAR:
            codes, _ = self.numbers(body, at)
            chars = codes.reshape(shape, order='F') if codes.size else np.zeros((0, 0), int)
            return name, '\n'.join(''.join(chr(c) for c in row) for row in chars)
        if klass == CELL:
            items = []
            for _ in range(int(np.prod(shape))):
                (_, value), at = self.element(body, at)
                items.append(value)
            return name, items
        if klass in (STRUCT, OBJECT):
            return name, self.structs(body, at, shape, klass == OBJECT)
        raise MatFileError('%s: variable %s is of MATLAB class %d (sparse, function handle, '
                           '...), which this reader does not read' % (self.path, name, klass))

    def structs(self, body, at, shape, is_object):
        if is_object:   # the class name, then the fields as a struct's
            _, at = self.numbers(body, at)
        length, at = self.numbers(body, at)
        names, at = self.numbers(body, at)
        width = int(length[0])
        raw = bytes(bytearray(names.astype(np.uint8)))
        fields = [raw[i:i + width].split(b'\0')[0].decode('ascii')
                  for i in range(0, len(raw), width)] if width else []
        out = []
        for _ in range(int(np.prod(shape))):
            record = {}
            for field in fields:
                (_, value), at = self.element(body, at)
                record[field] = value
            out.append(record)
        return out
