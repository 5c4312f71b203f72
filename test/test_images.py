"""Shared image helpers: strict JPEG checks, index PNGs, label statistics, tight boxes."""
from __future__ import absolute_import, division, print_function

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from datasets import images
from datasets.errors import InputError
from datasets.palette import palette_png_bytes
from sampledata.common import jpeg_bytes


def test_truncated_and_garbage_jpegs_are_rejected_with_a_reason():
    rng = np.random.RandomState(0)
    data = jpeg_bytes(rng.randint(0, 255, (64, 96, 3)).astype(np.uint8))
    assert images.decode_jpeg(data).shape == (64, 96, 3)
    assert images.decode_jpeg(data + b'\0\0').shape == (64, 96, 3)  # trailing padding is fine
    with pytest.raises(InputError) as err:
        images.decode_jpeg(data[:len(data) // 2])
    assert err.value.reason == 'truncated_jpeg'
    with pytest.raises(InputError) as err:
        images.decode_jpeg(b'\xff\xd8\xff' + b'not a jpeg at all' + b'\xff\xd9')
    assert err.value.reason == 'undecodable_jpeg'
    png = palette_png_bytes(np.zeros((4, 4), np.uint8))
    for bad, reason, detail in ((png, 'not_jpeg', 'file content is png, not JPEG'),
                                (b'', 'truncated_jpeg', 'file is empty (0 bytes)'),
                                (b'hello', 'not_jpeg', 'not an image')):
        with pytest.raises(InputError) as err:
            images.decode_jpeg(bad)
        assert (err.value.reason, detail in err.value.detail) == (reason, True)
    assert [images.image_format(d) for d in (data, png, b'')] == ['jpeg', 'png', None]
    gray = jpeg_bytes(rng.randint(0, 255, (8, 8)).astype(np.uint8))
    assert images.decode_jpeg(gray, cv2.IMREAD_UNCHANGED).ndim == 2


def test_missing_and_unreadable_file_reasons(tmpdir):
    with pytest.raises(InputError) as err:
        images.read_file(str(tmpdir.join('nope.jpg')), 'missing_image')
    assert err.value.reason == 'missing_image'
    # any other read failure (permission, I/O error; a directory here, since tests may run as
    # root, which reads any file) is a dead letter too, not a crash
    tmpdir.mkdir('frame.jpg')
    with pytest.raises(InputError) as err:
        images.read_file(str(tmpdir.join('frame.jpg')))
    assert (err.value.reason, err.value.detail) == ('unreadable_file', 'is a directory')


def test_guard_turns_any_exception_into_a_stable_dead_letter():
    from pipelines.converter import UnitResult
    from pipelines.dead_letters import StrictStop
    result = UnitResult()
    with result.guard('image', 'a.jpg') as step:
        images.decode_jpeg(b'')
    assert step.failed
    with result.guard('object', 'b.json#annotation=3', objects=1) as step:
        raise TypeError('cannot handle <_io.BytesIO object at 0x7f3a2c1b5e08>')
    with result.guard('image', 'c.jpg') as fine:
        pass
    assert not fine.failed
    assert [(r['level'], r['reason'], r['path'], r['detail'], r['objects'])
            for r in result.rejections] == [
        ('image', 'truncated_jpeg', 'a.jpg', 'file is empty (0 bytes)', 0),
        ('object', 'unexpected_error', 'b.json#annotation=3',
         'TypeError: cannot handle <_io.BytesIO object>', 1)]
    strict = UnitResult(strict=True)
    with pytest.raises(StrictStop, match='truncated_jpeg: a.jpg') as stop:
        with strict.guard('image', 'a.jpg'):
            images.decode_jpeg(b'')
    assert (stop.value.rejected.level, stop.value.rejected.path) == ('image', 'a.jpg')


def test_index_png_round_trip_keeps_palette_indices():
    labels = np.zeros((20, 30), np.uint8)
    labels[2:5, 3:9] = 1
    labels[10:15, 20:25] = 7
    np.testing.assert_array_equal(images.read_index_png(palette_png_bytes(labels)), labels)
    np.testing.assert_array_equal(
        cv2.imdecode(np.frombuffer(images.encode_png(labels), np.uint8), cv2.IMREAD_UNCHANGED),
        labels)
    buf = io.BytesIO()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(buf, format='PNG')
    with pytest.raises(InputError) as err:
        images.read_index_png(buf.getvalue())
    assert err.value.reason == 'bad_mask'
    with pytest.raises(InputError):
        images.read_index_png(b'garbage')


def test_label_statistics_and_tight_box():
    rng = np.random.RandomState(1)
    for shape in ((480, 854), (3, 7), (1, 1)):
        labels = rng.randint(0, 256, shape).astype(np.uint8)
        np.testing.assert_array_equal(images.label_counts(labels),
                                      np.bincount(labels.ravel(), minlength=256))
    labels = np.zeros((10, 12), np.uint8)
    labels[2:4, 5:11] = 3
    labels[9, 0] = 1
    assert images.label_ids(labels) == [1, 3]
    assert images.tight_box(labels == 3) == (5, 2, 10, 3)  # inclusive max
    assert images.tight_box(labels == 1) == (0, 9, 0, 9)
    assert images.tight_box(labels == 2) is None
