"""Image and mask helpers of the readers, converters, segmenters and evaluation: strict JPEG
checks, masks, PNG, tight boxes, label resizing.

EXIF orientation is never applied: the annotations of VID, COCO and DAVIS are in the stored
pixel grid, which TensorFlow's decode_jpeg and PIL give, while OpenCV would rotate a JPEG that
carries an orientation tag. Every decoder here asks OpenCV to ignore it; frames carrying a
rotation are flagged (exif_orientation) so a user knows they are used as stored."""
from __future__ import absolute_import, division, print_function

import collections
import io
import os
import warnings

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
    a symbolic link loop, an I/O error), InputError('non_utf8_name') for a name holding bytes
    that are not UTF-8 (its records could not name it)."""
    from datasets import fileio
    if not fileio.is_utf8_name(path):
        raise InputError('non_utf8_name', 'the file name holds bytes that are not UTF-8: %s'
                         % fileio.printable(os.path.basename(path)))
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


EXIF_ORIENTATION_TAG = 0x0112
STORED_ORIENTATION = 1   # the EXIF value of "no rotation, no mirror"


class ExifOrientationWarning(UserWarning):
    """Frames carry an EXIF rotation that is ignored (module docstring)."""


def exif_orientation(data):
    """The EXIF orientation (1-8) of JPEG bytes; 1 when there is none or it cannot be read."""
    if b'Exif' not in data[:65536]:   # the APP1 segment comes first: skip PIL for most files
        return STORED_ORIENTATION
    from PIL import Image
    try:
        value = Image.open(io.BytesIO(data)).getexif().get(EXIF_ORIENTATION_TAG)
    except Exception:  # a broken EXIF block: the pixels are what counts
        return STORED_ORIENTATION
    return value if isinstance(value, int) and 2 <= value <= 8 else STORED_ORIENTATION


def orientation_note(data):
    """The one-line note for frames whose EXIF orientation is ignored; None when it is 1."""
    orientation = exif_orientation(data)
    if orientation == STORED_ORIENTATION:
        return None
    return ('EXIF orientation %d ignored: used as stored, the pixel grid the annotations are '
            'in' % orientation)


def warn_orientation(data, path):
    """An ExifOrientationWarning when the frame at `path` carries a rotation: shown once per
    folder (the warning's text names the folder, the file only as its first example)."""
    note = orientation_note(data)
    if note:
        from datasets.fileio import printable
        warnings.warn('frames in %s: %s (first: %s)' % (
            printable(os.path.dirname(path)), note, printable(os.path.basename(path))),
            ExifOrientationWarning, stacklevel=2)


def decode_jpeg(data, flags=cv2.IMREAD_COLOR):
    """JPEG bytes -> uint8 array (BGR by default) in the stored pixel grid (EXIF orientation
    ignored); InputError when truncated or undecodable.

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
    if flags != cv2.IMREAD_UNCHANGED:   # UNCHANGED never rotates; the others do unless told
        flags |= cv2.IMREAD_IGNORE_ORIENTATION
    image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if image is None:
        raise InputError('undecodable_jpeg', 'OpenCV could not decode %d bytes' % len(data))
    return image


def decode_png(data):
    """PNG (or BMP) bytes -> uint8 array as stored (grey, BGR or BGRA); InputError when
    undecodable."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise InputError('undecodable_image', 'OpenCV could not decode %d %s bytes' % (
            len(data), (image_format(data) or 'image').upper()))
    return image


def decode_frame(data):
    """JPEG, PNG or BMP bytes (told apart by content, not by name) -> BGR uint8 [H, W, 3]: the
    frames of trackers and segmenters; JPEGs with the pipelines' strict checks; InputError
    otherwise."""
    if image_format(data) not in ('png', 'bmp'):
        return decode_jpeg(data)   # JPEG, or its one-line refusal of anything else
    image = decode_png(data)
    if image.dtype != np.uint8:
        raise InputError('bad_frame', 'frame of %s samples, expected 8 bits' % image.dtype)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    return image[..., :3] if image.shape[2] == 4 else image


def encode_jpeg(bgr, quality):
    ok, buf = cv2.imencode('.jpg', bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError('JPEG encoding failed')
    return buf.tobytes()


def encode_png(gray):
    """uint8 PNG: single-channel values kept as they are (object ids or {0, 1}); 3 channels
    are BGR (overlay strips)."""
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
