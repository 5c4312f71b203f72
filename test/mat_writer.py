"""A level-5 .mat writer for tests (the venv has no scipy.io.savemat), written from MATLAB's
"MAT-File Format" document independently of datasets/mat_files.py, which the tests check with it.

write_mat(path, {name: value}, compress=False): a value is a numpy array (double, single, int32,
uint8), a str (char row), a dict (1x1 struct), a list of dicts (1xN struct array), or a list of
other values (1xN cell).
"""
from __future__ import absolute_import, division, print_function

import struct
import zlib

import numpy as np

CLASSES = {np.dtype('f8'): (6, 9), np.dtype('f4'): (7, 7), np.dtype('i4'): (12, 5),
           np.dtype('u1'): (9, 2)}   # numpy dtype -> (mx class, mi data type)


def _element(kind, payload):
    if 0 < len(payload) <= 4 and kind not in (14, 15):   # MATLAB's "small data element"
        return struct.pack('<HH', kind, len(payload)) + payload.ljust(4, b'\0')
    pad = (-len(payload)) % 8
    return struct.pack('<II', kind, len(payload)) + payload + b'\0' * pad


def _header(klass, shape, name):
    flags = _element(6, struct.pack('<II', klass, 0))
    dims = _element(5, struct.pack('<%di' % len(shape), *shape))
    return flags + dims + _element(1, name.encode('ascii'))


def _matrix(value, name=''):
    if isinstance(value, dict):
        return _structs([value], name)
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return _structs(value, name)
    if isinstance(value, list):
        body = _header(1, (1, len(value)), name) + b''.join(_matrix(v) for v in value)
        return _element(14, body)
    if isinstance(value, str):
        codes = np.array([ord(c) for c in value], '<u2')
        return _element(14, _header(4, (1, len(value)), name) + _element(4, codes.tobytes()))
    array = np.asarray(value)
    klass, kind = CLASSES[array.dtype]
    shape = array.shape if array.ndim >= 2 else (1, array.size)
    data = array.reshape(shape).flatten(order='F').astype(array.dtype.newbyteorder('<'))
    return _element(14, _header(klass, shape, name) + _element(kind, data.tobytes()))


def _structs(records, name):
    fields = list(records[0])
    width = max(len(f) for f in fields) + 1
    names = b''.join(f.encode('ascii').ljust(width, b'\0') for f in fields)
    body = (_header(2, (1, len(records)), name) + _element(5, struct.pack('<i', width)) +
            _element(1, names))
    for record in records:
        body += b''.join(_matrix(record[f]) for f in fields)
    return _element(14, body)


def write_mat(path, variables, compress=False):
    header = b'MATLAB 5.0 MAT-file, written by test/mat_writer.py'.ljust(116, b' ')
    out = header + b'\0' * 8 + struct.pack('<H', 0x0100) + b'IM'
    for name, value in variables.items():
        element = _matrix(value, name)
        if compress:
            packed = zlib.compress(element)
            element = struct.pack('<II', 15, len(packed)) + packed
        out += element
    with open(path, 'wb') as f:
        f.write(out)
    return path
