"""Image and mask helpers of the readers, converters, segmenters and evaluation: strict JPEG
checks, masks, PNG, tight boxes, label resizing."""
from __future__ import absolute_import, division, print_function

import collections
import io

import cv2
import numpy as np

from datasets.errors import InputError
from datasets.palette import VOID_LABEL

# An image or network size; the fields name the axis order that tuples of sizes leave implicit.
Size = collections.namedtuple('Size', 'height width')


def read_file(path, missing_reason='missing_frame'):
    """File bytes; InputError(missing_reason) when it does not exist (a dangling symbolic link
    too), InputError('not_regular_file') for a named pipe, device or socket, InputError
    ('unreadable_file') when it cannot be read for any other reason (a directory, permission,
    a symbolic link loop, an I/O error)."""
    from datasets import fileio
    try:
        return fileio.read_bytes(path)
    except FileNotFoundError:
        raise InputError(missing_reason, 'file does not exist')
    except IsADirectoryError:
        raise InputError('unreadable_file', 'is a directory')
    except fileio.NotRegularFileError as err:
        raise InputError('not_regular_file', err.strerror)
    except OSError as err:
        raise InputError('unreadable_file', err.strerror or str(err))


_MAGIC = ((b'\xff\xd8\xff', 'jpeg'), (b'\x89PNG\r\n\x1a\n', 'png'), (b'GIF8', 'gif'),
          (b'BM', 'bmp'), (b'RIFF', 'webp'))


def image_format(data):
    """'jpeg', 'png', ... from the file's first bytes (not its name); None when unknown."""
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    return None


def _jpeg_complete(data):
    """True when the data ends with the JPEG end-of-image marker (ignoring trailing padding)."""
    return data.rstrip(b'\0\r\n ')[-2:] == b'\xff\xd9'


def decode_jpeg(data, flags=cv2.IMREAD_COLOR):
    """JPEG bytes -> uint8 array (BGR by default); InputError when truncated or undecodable.

    OpenCV returns a half-grey image for a truncated JPEG with only a warning, so a JPEG without
    its end marker is checked strictly with PIL first. Files that are not JPEG whatever their
    name (a PNG named .jpg) are refused as `not_jpeg`."""
    if not data:
        raise InputError('truncated_jpeg', 'file is empty (0 bytes)')
    found = image_format(data)
    if found != 'jpeg':
        raise InputError('not_jpeg', 'file content is %s, not JPEG' % (found or 'not an image'))
    if not _jpeg_complete(data):
        from PIL import Image
        try:
            Image.open(io.BytesIO(data)).load()
        except Exception as err:  # PIL raises OSError / SyntaxError / ValueError variously
            raise InputError('truncated_jpeg', 'JPEG has no end marker: %s' % err)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if image is None:
        raise InputError('undecodable_jpeg', 'OpenCV could not decode %d bytes' % len(data))
    return image


def decode_png(data):
    """PNG bytes -> uint8 array as stored (grey, BGR or BGRA); InputError when undecodable."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise InputError('undecodable_image', 'OpenCV could not decode %d PNG bytes' % len(data))
    return image


def encode_jpeg(bgr, quality):
    ok, buf = cv2.imencode('.jpg', bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError('JPEG encoding failed')
    return buf.tobytes()


def encode_png(gray):
    """Single-channel uint8 PNG (values kept as they are: object ids or {0, 1})."""
    ok, buf = cv2.imencode('.png', np.ascontiguousarray(gray, np.uint8))
    if not ok:
        raise RuntimeError('PNG encoding failed')
    return buf.tobytes()


def read_index_png(data):
    """Palette (mode P) or grayscale PNG bytes -> uint8 [H, W] of the stored indices.

    PIL keeps palette indices; tf.image.decode_png would map them through the palette to colours,
    which is why the pipelines re-encode masks as single-channel index PNGs."""
    from PIL import Image
    try:
        image = Image.open(io.BytesIO(data))
        if image.mode not in ('P', 'L', '1'):
            raise InputError('bad_mask', 'mask PNG mode %s, expected P or L' % image.mode)
        return np.array(image, dtype=np.uint8)
    except InputError:
        raise
    except Exception as err:
        raise InputError('bad_mask', 'cannot read mask PNG: %s' % err)


def tight_box(mask):
    """Inclusive (xmin, ymin, xmax, ymax) of the non-zero pixels of a 2-D mask, None if empty
    (the OSMN mask box of docs/pipelines.md, "COCO records", without the reference's (0, 0, W, H)
    fallback, which callers decide on)."""
    cols = np.flatnonzero(mask.any(axis=0))
    if cols.size == 0:
        return None
    rows = np.flatnonzero(mask.any(axis=1))
    return int(cols[0]), int(rows[0]), int(cols[-1]), int(rows[-1])


def label_counts(labels):
    """Pixel count of every value 0..255 of a uint8 label map.

    cv2.calcHist is one SIMD pass (~0.1 ms on 854x480); np.unique sorts and np.bincount widens to
    int64 first (~2-3 ms). Its float32 counts are exact below 2**24 pixels per value."""
    labels = np.ascontiguousarray(labels, np.uint8)
    if labels.size >= 1 << 24:
        return np.bincount(labels.reshape(-1), minlength=256)
    hist = cv2.calcHist([labels], [0], None, [256], [0, 256])
    return hist.reshape(-1).astype(np.int64)


def label_ids(labels):
    """Sorted non-zero values present in a uint8 label map."""
    return [int(i) for i in np.flatnonzero(label_counts(labels)[1:]) + 1]


def object_ids(labels):
    """Sorted object ids of a palette label map: its values but background 0 and void 255."""
    return [i for i in label_ids(labels) if i != VOID_LABEL]


def resize_labels(labels, size):
    """Nearest-neighbour resize of an id map to (height, width), sampling pixel centres (PIL's
    nearest, the OSMN reference's resize of results): the segmenter's merged maps and the
    evaluator's `--resize`d results."""
    if labels.shape == tuple(size):
        return labels
    return cv2.resize(labels, (size[1], size[0]), interpolation=cv2.INTER_NEAREST_EXACT)
