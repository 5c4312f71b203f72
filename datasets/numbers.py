"""Numbers and names read from annotation files, checked before any native library sees them.

A NaN polygon point makes pycocotools' rasteriser size its buffers from an undefined int cast (tens
of GB), 1e12 overflows it, RLE runs that do not sum to the image write past its mask, a NaN box
lands in the records. So every number an annotation gives is checked here first: a number (not a
bool, not a string), finite, and inside bounds of its image, which keeps what a worker allocates
for an annotation within a fixed multiple of the image's size:

* image sides: integers 1..MAX_IMAGE_SIDE (then they must still equal the decoded image's);
* boxes: finite, non-negative size, overlapping the image (`box_outside_frame`) and sticking out
  of it by at most BOX_MARGIN of its width/height on each side (`box_past_margin`). A box that
  sticks out within the margin is kept as the file gives it, unclipped (VID crops pad it, as the
  reference does; COCO's normalised box may then lie slightly outside [0, 1]);
* polygons: points inside the same margin, at most MAX_POLYGON_POINTS per annotation and a
  boundary of at most MAX_PERIMETER_FACTOR x (width + height) pixels (pycocotools allocates
  5 ints per boundary pixel);
* RLE: size == the image's, runs non-negative integers summing to height x width (the compressed
  string is decoded here, in Python, to check that);
* ids: integers 0..2**63-1 (int64 record fields).

Every check raises datasets.errors.InputError(reason, detail); the detail names the field and the
offending value. Paths an annotation names (`relative_name_problem`) must stay in their folder.
"""
from __future__ import absolute_import, division, print_function

import math
import posixpath

from datasets.errors import InputError

MAX_IMAGE_SIDE = 1 << 15           # pixels; larger than any image of the datasets read here
BOX_MARGIN = 0.5                   # share of the image side a box or polygon may stick out
MAX_POLYGON_POINTS = 10000         # per annotation (all its polygons); COCO's largest ~ 1,000
MAX_PERIMETER_FACTOR = 100         # boundary length bound, in image (width + height)s
MAX_ID = (1 << 63) - 1             # ids are int64 record fields
_RLE_CHUNKS = 6                    # 5-bit chunks of one compressed run (30 bits > any h x w)


def is_number(value):
    """An int or float from a parser; bools (JSON true) and strings are not numbers."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def is_finite(value):
    """A number that is neither NaN nor infinite (huge JSON integers count as infinite)."""
    try:
        return is_number(value) and math.isfinite(value)
    except OverflowError:
        return False


def show(value, limit=60):
    """A value as a detail names it: repr, bounded (a 10,000-point list is not one line)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + '...'


def check_id(value, field, reason):
    """The value when it is an integer 0..MAX_ID, else InputError(reason)."""
    if not is_int(value) or not 0 <= value <= MAX_ID:
        raise InputError(reason, '%s %s is not an integer 0..2**63-1' % (field, show(value)))
    return value


def check_image_size(width, height, reason='bad_image_size'):
    """(width, height) when both are integers 1..MAX_IMAGE_SIDE, else InputError(reason)."""
    for field, value in (('width', width), ('height', height)):
        if not is_int(value) or not 1 <= value <= MAX_IMAGE_SIDE:
            raise InputError(reason, 'image %s %s is not an integer 1..%d' % (
                field, show(value), MAX_IMAGE_SIDE))
    return width, height


def _margins(width, height):
    return BOX_MARGIN * width, BOX_MARGIN * height


def box_problem(x0, y0, x1, y1, width, height, box=None):
    """(reason, detail) of a box with continuous extent [x0, x1] x [y0, y1] in a width x height
    image that cannot be used, else None (see the module's rules). `box`: the box as its file
    gives it, for the detail (default: the extent)."""
    box = (x0, y0, x1, y1) if box is None else box
    if not all(is_finite(v) for v in (x0, y0, x1, y1)):
        return 'bad_bbox', 'box %s has a value that is not a finite number' % (show(box),)
    if x1 < x0 or y1 < y0:
        return 'zero_area_box', 'box %s has a negative width or height' % (show(box),)
    if x1 <= 0 or y1 <= 0 or x0 >= width or y0 >= height:
        return 'box_outside_frame', 'box %s does not overlap the %dx%d image' % (
            show(box), width, height)
    mx, my = _margins(width, height)
    if x0 < -mx or y0 < -my or x1 > width + mx or y1 > height + my:
        return 'box_past_margin', 'box %s sticks out of the %dx%d image by more than %g of ' \
            'its size' % (show(box), width, height, BOX_MARGIN)
    return None


def xywh_problem(row):
    """A one-line problem of an x, y, w, h box of a tracking ground-truth file (whose frames
    are not decoded to read it), else None: finite, w and h >= 0, inside the margin of the
    largest image (MAX_IMAGE_SIDE), so a tracker's crop of it stays bounded."""
    if not all(is_finite(v) for v in row):
        return 'box %s has a value that is not a finite number' % show(row)
    x, y, w, h = row
    if w < 0 or h < 0:
        return 'box %s has a negative width or height' % show(row)
    low, high = -BOX_MARGIN * MAX_IMAGE_SIDE, (1 + BOX_MARGIN) * MAX_IMAGE_SIDE
    if not (low <= x and low <= y and x + w <= high and y + h <= high):
        return 'box %s lies outside %g..%g, the margin of the largest image (%d px)' % (
            show(row), low, high, MAX_IMAGE_SIDE)
    return None


def check_polygons(polygons, height, width):
    """InputError('invalid_polygon') unless polygons is a list of [x1, y1, x2, y2, ...] lists
    with >= 3 finite points each, inside the margin, within the point and boundary bounds."""
    if not polygons:
        raise InputError('invalid_polygon', 'empty polygon list')
    for polygon in polygons:
        if not isinstance(polygon, list) or len(polygon) < 6 or len(polygon) % 2:
            raise InputError('invalid_polygon', 'polygon needs >= 3 (x, y) points, got %s' % (
                '%d numbers' % len(polygon) if isinstance(polygon, list) else show(polygon)))
    points = sum(len(polygon) // 2 for polygon in polygons)
    if points > MAX_POLYGON_POINTS:  # before any point is looked at: the count bounds the work
        raise InputError('invalid_polygon', '%d polygon points, more than %d'
                         % (points, MAX_POLYGON_POINTS))
    mx, my = _margins(width, height)
    boundary = 0.0
    for index, polygon in enumerate(polygons):
        for k, value in enumerate(polygon):
            side, margin = (width, mx) if k % 2 == 0 else (height, my)
            if not is_finite(value) or not -margin <= value <= side + margin:
                raise InputError('invalid_polygon', 'polygon %d %s[%d] = %s is not a finite '
                                 'number inside the %dx%d image and its margin (%g of a side)'
                                 % (index, 'xy'[k % 2], k // 2, show(value), width, height,
                                    BOX_MARGIN))
        # pycocotools walks each edge (closing one included) in max(|dx|, |dy|) steps
        boundary += sum(max(abs(polygon[k] - polygon[k - 2]),
                            abs(polygon[k + 1] - polygon[k - 1]))
                        for k in range(0, len(polygon), 2))
    if boundary > MAX_PERIMETER_FACTOR * (width + height):
        raise InputError('invalid_polygon', 'polygon boundary of %.0f pixels, more than %d x '
                         '(width + height)' % (boundary, MAX_PERIMETER_FACTOR))


def rle_string_runs(counts, limit):
    """The run lengths of a COCO compressed RLE string (6-bit chars from '0', 5 data bits, 0x20
    continues, 0x10 signs the last chunk, runs after the second stored as differences to the run
    two before); InputError('invalid_rle') for a character outside '0'..'o', a cut-short run, or
    more than `limit` runs."""
    runs, value, chunk = [], 0, 0
    for position, char in enumerate(counts):
        code = ord(char) - 48
        if not 0 <= code < 64:
            raise InputError('invalid_rle', 'RLE string: bad character %s at %d'
                             % (show(char), position))
        if chunk == _RLE_CHUNKS:
            raise InputError('invalid_rle', 'RLE string: run at %d is longer than %d bits'
                             % (position, 5 * _RLE_CHUNKS))
        value |= (code & 0x1f) << (5 * chunk)
        chunk += 1
        if code & 0x20:
            continue
        if code & 0x10:
            value -= 1 << (5 * chunk)
        if len(runs) > 2:
            value += runs[-2]
        runs.append(value)
        if len(runs) > limit:
            raise InputError('invalid_rle', 'RLE string has more than %d runs' % limit)
        value, chunk = 0, 0
    if chunk:
        raise InputError('invalid_rle', 'RLE string ends inside a run')
    return runs


def check_rle(rle, height, width):
    """InputError unless rle is {"size": [height, width], "counts": runs or string} whose runs
    are non-negative integers summing to height x width."""
    size = rle.get('size')
    if size != [height, width] or not all(is_int(v) for v in size):
        raise InputError('rle_wrong_size', 'RLE size %s, image is %dx%d (h x w)'
                         % (show(size), height, width))
    counts = rle.get('counts')
    if isinstance(counts, bytes):
        try:
            counts = counts.decode('ascii')
        except UnicodeDecodeError:
            raise InputError('invalid_rle', 'RLE counts bytes are not ASCII')
    pixels = height * width
    if isinstance(counts, str):
        runs = rle_string_runs(counts, pixels + 1)
    elif isinstance(counts, list):
        runs = counts
        if len(runs) > pixels + 1:
            raise InputError('invalid_rle', '%d RLE runs for %d pixels' % (len(runs), pixels))
    else:
        raise InputError('invalid_rle', 'RLE counts of type %s' % type(counts).__name__)
    bad = [run for run in runs if not is_int(run) or run < 0]
    if bad:
        raise InputError('invalid_rle', 'RLE run %s is not a non-negative integer'
                         % show(bad[0]))
    if sum(runs) != pixels:
        raise InputError('invalid_rle', 'RLE runs sum to %d, image has %d pixels'
                         % (sum(runs), pixels))


def relative_name_problem(name):
    """A one-line problem when a name read from an annotation would leave its folder (absolute,
    a `..` part, NUL) or is not a non-empty string, else None. A symlink inside the folder is
    followed: it is how datasets are assembled from shared stores."""
    if not isinstance(name, str) or not name:
        return 'name %s is not a non-empty string' % show(name)
    if '\x00' in name:
        return 'name %s holds a NUL character' % show(name)
    if name.startswith('/') or posixpath.isabs(name) or '://' in name:
        return 'name %s is an absolute path; it must stay inside its folder' % show(name)
    if '..' in name.replace('\\', '/').split('/'):
        return 'name %s leaves its folder (a .. part)' % show(name)
    return None
