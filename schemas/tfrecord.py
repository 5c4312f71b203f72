"""TFRecord files read without TensorFlow, every CRC checked, and the shard checksums.

A TFRecord file is a sequence of records, each framed as

    uint64 length (little-endian) | uint32 masked crc32c of those 8 bytes | data | uint32 masked
    crc32c of data

with masked(crc) = ((crc >> 15) | (crc << 17)) + 0xa282ead8 (mod 2**32). crc32c comes from crcmod
(a dependency of Apache Beam, with a C extension); tf.io.tf_record_iterator does the same checks.
"""
from __future__ import absolute_import, division, print_function

import hashlib
import struct

_HEADER = struct.Struct('<QI')
_FOOTER = struct.Struct('<I')
FRAMING_BYTES = _HEADER.size + _FOOTER.size  # 16 bytes of framing around every record
_CHUNK = 1 << 20


class RecordError(ValueError):
    """A record that cannot be read: `index` is its position in the file, `offset` its byte."""

    def __init__(self, index, offset, message):
        super(RecordError, self).__init__('record %d (byte %d): %s' % (index, offset, message))
        self.index, self.offset = index, offset


def _crc32c():
    import crcmod.predefined
    return crcmod.predefined.mkPredefinedCrcFun('crc-32c')


def masked_crc32c(data, crc32c=None):
    crc = (crc32c or _crc32c())(data)
    return (((crc >> 15) | (crc << 17)) + 0xa282ead8) & 0xffffffff


def iter_records(f):
    """Yield the data of every record of the open binary file `f`, checking both CRCs; raise
    RecordError naming the record at the first one that is cut short or fails a check."""
    crc32c = _crc32c()
    index = offset = 0
    while True:
        header = f.read(_HEADER.size)
        if not header:
            return
        if len(header) < _HEADER.size:
            raise RecordError(index, offset, 'file ends inside the length header (cut short)')
        length, length_crc = _HEADER.unpack(header)
        if masked_crc32c(header[:8], crc32c) != length_crc:
            raise RecordError(index, offset, 'length CRC mismatch (corrupt length)')
        body = f.read(length + _FOOTER.size)
        if len(body) < length + _FOOTER.size:
            raise RecordError(index, offset, 'file ends inside the record (cut short: %d of %d '
                              'bytes)' % (len(body), length + _FOOTER.size))
        data = body[:length]
        if masked_crc32c(data, crc32c) != _FOOTER.unpack(body[length:])[0]:
            raise RecordError(index, offset, 'data CRC mismatch (corrupt bytes)')
        yield data
        index += 1
        offset += _HEADER.size + length + _FOOTER.size


def read_records(path):
    """Every record of the local TFRecord file at `path` (a list of bytes); RecordError."""
    with open(path, 'rb') as f:
        return list(iter_records(f))


def file_checksum(f):
    """(hex sha256, byte size) of the open binary file `f`, read in 1 MiB pieces."""
    digest, size = hashlib.sha256(), 0
    for piece in iter(lambda: f.read(_CHUNK), b''):
        digest.update(piece)
        size += len(piece)
    return digest.hexdigest(), size
