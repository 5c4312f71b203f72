"""OSMN input, built in tf.data from records (../shared/spec/osmn.md sections 2.4, 3.4-3.6, 5).

One sample = visual guide [224, 224, 3] (object crop, background at the mean colour), spatial guide
heatmap, main image and label at the batch size, as RGB 0..255; the graph turns images into BGR
minus the mean (104, 117, 123) (`to_network_input`), so the guide background becomes exactly 0.

COCO stage: per kept instance. Guide: the tight box cropped PIL-style (exclusive max, losing the
last row and column as the reference does), each side jittered by U(-10 %, +10 %) of the crop,
resized to 224 (bilinear image, nearest mask), rotated by U[-10, 10) degrees (nearest), flipped
with p 0.5, background set to 0. Main image and label: resized to S x S (the batch scale; aspect
not kept), flipped with p 0.5; the heatmap comes from the augmented label.

Video stage (DAVIS / YouTube-VOS): per object, pairs (t-1, t) over its non-blank frames (DAVIS) or
its listed frames (YouTube-VOS); guide frame uniform over the object's valid-guide frames
(`randomize_guide`, re-drawn every pass unlike the reference's fixed draw) or its first frame;
heatmap from the mask of t-1, label from t, no flip of the main image. Only the frames a sample
uses are decoded.

The crop, jitter and resize of the guide are one crop_and_resize whose sampling grid is PIL's
(pixel centres), so the whole guide is a few ops. Resizes use pixel-centre coordinates like PIL
but without PIL's antialiasing when downscaling (a small blur difference). The rotation turns
about the crop centre (W - 1) / 2 where OpenCV turns about W / 2: a half-pixel shift.
Heatmap (section 5.4): median centre and 1.4826 x MAD spread per axis (floor 5 px), computed from
the label's row and column histograms (exact, no sort of the pixels), perturbed in training by
+-0.2 sigma and x[1/1.4, 1.4], and the Gaussian built as an outer product of two 1-D ones.
"""
from __future__ import absolute_import, division, print_function

import math

from schemas import coco_instances, vos_video
from trainers import reader

MEAN_BGR = (104.0, 117.0, 123.0)
MEAN_RGB = MEAN_BGR[::-1]
GUIDE_SIZE = 224
MIN_SIGMA = 5.0


# -- primitives ---------------------------------------------------------------------------------

def weighted_median(values, counts):
    """numpy.median of a multiset given as sorted-or-not values with integer counts (float32)."""
    import tensorflow as tf
    order = tf.argsort(values)
    values = tf.gather(values, order)
    cumulative = tf.cumsum(tf.gather(counts, order))
    n = cumulative[-1]
    # 0-based order statistics (n - 1) // 2 and n // 2: the first value whose cumulative count
    # exceeds k
    low = tf.gather(values, tf.argmax(tf.cast(cumulative > tf.floor((n - 1) / 2), tf.int32)))
    high = tf.gather(values, tf.argmax(tf.cast(cumulative > tf.floor(n / 2), tf.int32)))
    return (low + high) / 2.0


def robust_moments(mask):
    """(cx, cy, sx, sy, has_foreground) of a [H, W] mask: medians and max(1.4826 MAD, 5)."""
    import tensorflow as tf
    mask = tf.cast(mask > 0, tf.float32)
    cols, rows = tf.reduce_sum(mask, 0), tf.reduce_sum(mask, 1)
    xs = tf.cast(tf.range(tf.shape(cols)[0]), tf.float32)
    ys = tf.cast(tf.range(tf.shape(rows)[0]), tf.float32)
    has = tf.reduce_sum(cols) > 0
    safe_cols = tf.where(has, cols, tf.ones_like(cols))  # avoid empty medians; masked out later
    safe_rows = tf.where(has, rows, tf.ones_like(rows))
    cx, cy = weighted_median(xs, safe_cols), weighted_median(ys, safe_rows)
    sx = tf.maximum(1.4826 * weighted_median(tf.abs(xs - cx), safe_cols), MIN_SIGMA)
    sy = tf.maximum(1.4826 * weighted_median(tf.abs(ys - cy), safe_rows), MIN_SIGMA)
    return cx, cy, sx, sy, has


def heatmap(mask, uniforms=None, centre_shift=0.2, spread=1.4, flip=None):
    """[H, W] mask -> [H, W, 1] Gaussian in [0, 1]; uniforms (4 values in [0, 1)) perturb it.
    flip (bool tensor): the heatmap of the horizontally flipped mask (the median of flipped
    columns is W - 1 - the median), without flipping any image."""
    import tensorflow as tf
    cx, cy, sx, sy, has = robust_moments(mask)
    if flip is not None:
        cx = tf.where(flip, tf.cast(tf.shape(mask)[1] - 1, tf.float32) - cx, cx)
    if uniforms is not None:
        cx += sx * (2.0 * uniforms[0] - 1.0) * centre_shift
        cy += sy * (2.0 * uniforms[1] - 1.0) * centre_shift
        sx *= 1.0 / spread + uniforms[2] * (spread - 1.0 / spread)
        sy *= 1.0 / spread + uniforms[3] * (spread - 1.0 / spread)
    height, width = tf.shape(mask)[0], tf.shape(mask)[1]
    gx = tf.exp(-tf.square(tf.cast(tf.range(width), tf.float32) - cx) / (2.0 * sx * sx))
    gy = tf.exp(-tf.square(tf.cast(tf.range(height), tf.float32) - cy) / (2.0 * sy * sy))
    out = tf.clip_by_value(gy[:, None] * gx[None, :], 0.0, 1.0)
    return tf.where(has, out, tf.zeros_like(out))[..., None]


def guide_region(box, jitter, ratio, pad=0.0):
    """The reference's guide box in image coordinates (y0, x0, y1, x1), exclusive max.

    box: tight mask box (xmin, ymin, xmax, ymax) inclusive, cropped PIL-style to
    [xmin, xmax) x [ymin, ymax); then each side moved by r_i ~ U(pad - ratio, pad + ratio) of the
    crop size (jitter: 4 uniforms in [0, 1)), truncated toward zero as Python's int()."""
    import tensorflow as tf
    box = tf.cast(box, tf.float32)
    w, h = box[2] - box[0], box[3] - box[1]
    r = pad + (2.0 * tf.cast(jitter, tf.float32) - 1.0) * ratio
    left, top = _trunc(-r[0] * w), _trunc(-r[1] * h)
    right, bottom = w + _trunc(r[2] * w), h + _trunc(r[3] * h)
    return tf.stack([box[1] + top, box[0] + left, box[1] + bottom, box[0] + right])


def _trunc(x):
    import tensorflow as tf
    return tf.where(x >= 0, tf.floor(x), tf.math.ceil(x))


def pil_box(region, height, width, out_height, out_width=None):
    """crop_and_resize box sampling `region` (y0, x0, y1, x1; exclusive) the way PIL resizes:
    output pixel i reads source coordinate y0 + (i + 0.5) * L / out - 0.5."""
    import tensorflow as tf
    out_width = out_width or out_height
    h, w = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
    region = tf.cast(region, tf.float32)
    ly, lx = region[2] - region[0], region[3] - region[1]
    y_start = region[0] + 0.5 * ly / out_height - 0.5
    x_start = region[1] + 0.5 * lx / out_width - 0.5
    y_end = y_start + (out_height - 1) * ly / out_height
    x_end = x_start + (out_width - 1) * lx / out_width
    return tf.stack([y_start / (h - 1), x_start / (w - 1), y_end / (h - 1), x_end / (w - 1)])


def visual_guide(image, mask, box, uniforms, cfg, training):
    """uint8 [H, W, 3] RGB image, [H, W] binary mask, tight box -> [224, 224, 3] RGB float with
    the background at the mean colour. uniforms: 6 values in [0, 1) (jitter x4, angle, flip)."""
    import tensorflow as tf
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    box = tf.cast(box, tf.float32)
    if training:
        region = guide_region(box, uniforms[:4], cfg['guide_jitter'])
    else:
        region = guide_region(box, tf.fill([4], 0.5), 0.0, pad=cfg['guide_test_pad'])
    crop_box = pil_box(region, height, width, GUIDE_SIZE)
    # uint8 in, float out: no full-image cast, only the 224 x 224 samples are computed
    guide = tf.image.crop_and_resize(image[None], crop_box[None], [0], [GUIDE_SIZE] * 2)[0]
    # the mask, nearest as PIL (source pixel floor(y0 + (i + 0.5) * L / 224)) by two gathers;
    # samples outside the PIL crop [xmin, xmax) x [ymin, ymax) are 0 (jitter pads with black,
    # and the crop loses the object's last row and column, as in the reference)
    step = tf.cast(tf.range(GUIDE_SIZE), tf.float32) + 0.5
    src_y = tf.floor(region[0] + step * (region[2] - region[0]) / GUIDE_SIZE)
    src_x = tf.floor(region[1] + step * (region[3] - region[1]) / GUIDE_SIZE)
    rows_ok = tf.logical_and(src_y >= box[1], src_y < box[3])
    cols_ok = tf.logical_and(src_x >= box[0], src_x < box[2])
    rows = tf.clip_by_value(tf.cast(src_y, tf.int32), 0, height - 1)
    cols = tf.clip_by_value(tf.cast(src_x, tf.int32), 0, width - 1)
    guide_mask = tf.gather(tf.gather(mask, rows), cols, axis=1)
    ok = tf.logical_and(rows_ok[:, None], cols_ok[None, :])
    guide_mask = tf.cast(tf.logical_and(ok, guide_mask > 0), tf.float32)[..., None]
    both = tf.concat([guide, guide_mask], -1)
    if training:
        angle = (2.0 * uniforms[4] - 1.0) * cfg['guide_rotation'] * math.pi / 180.0
        both = rotate_nearest(both, angle)
        both = tf.cond(uniforms[5] > 0.5, lambda: tf.reverse(both, [1]), lambda: both)
    # background = the mean colour, i.e. exactly 0 once the graph subtracts the mean
    return tf.where(tf.tile(both[..., 3:] > 0, [1, 1, 3]), both[..., :3],
                    tf.broadcast_to(tf.constant(MEAN_RGB), [GUIDE_SIZE, GUIDE_SIZE, 3]))


def rotate_nearest(image, angle):
    """[N, N, C] rotated counter-clockwise by `angle` radians about its centre, nearest
    neighbour, zeros outside: one gather (the contrib transform op costs 3x as much here)."""
    import tensorflow as tf
    n = image.shape.as_list()[0]
    centre = (n - 1) / 2.0
    yy, xx = tf.meshgrid(tf.range(n), tf.range(n), indexing='ij')
    yy = tf.cast(yy, tf.float32) - centre
    xx = tf.cast(xx, tf.float32) - centre
    cos, sin = tf.cos(angle), tf.sin(angle)
    # output (x, y) reads the source pixel rotated back by -angle (image y points down)
    sx = tf.cast(tf.floor(cos * xx - sin * yy + centre + 0.5), tf.int32)
    sy = tf.cast(tf.floor(sin * xx + cos * yy + centre + 0.5), tf.int32)
    ok = tf.logical_and(tf.logical_and(sx >= 0, sx < n), tf.logical_and(sy >= 0, sy < n))
    index = tf.clip_by_value(sy, 0, n - 1) * n + tf.clip_by_value(sx, 0, n - 1)
    flat = tf.gather(tf.reshape(image, [n * n, -1]), tf.reshape(index, [-1]))
    return tf.reshape(flat, image.shape) * tf.cast(ok, image.dtype)[..., None]


def resize_nearest(mask, height, width):
    """[H, W] mask -> [height, width, 1] float, nearest with pixel-centre (PIL) coordinates."""
    import tensorflow as tf
    return tf.cast(tf.compat.v1.image.resize_nearest_neighbor(
        mask[None, ..., None], [height, width], half_pixel_centers=True)[0], tf.float32)


def resize_pair(image, mask, height, width):
    """uint8 image (bilinear, float out) and mask (nearest) to (height, width), pixel-centre
    coordinates like PIL."""
    import tensorflow as tf
    out = tf.compat.v1.image.resize_bilinear(image[None], [height, width],
                                             half_pixel_centers=True)[0]
    return out, resize_nearest(mask, height, width)


def sample(image, mask, guide_image, guide_mask, guide_box, heat_mask, size, seed, cfg, training,
           flip_main):
    """One training sample (dict of static-shape tensors) at `size` = (height, width)."""
    import tensorflow as tf
    u = tf.random.stateless_uniform([11], seed=seed, dtype=tf.float32)
    main, label = resize_pair(image, mask, size[0], size[1])
    heat_source = (label if heat_mask is None else resize_nearest(heat_mask, *size))[..., 0]
    flip = None
    if training and flip_main:
        flip = u[10] > 0.5
        main = tf.cond(flip, lambda: tf.reverse(main, [1]), lambda: main)
        label = tf.cond(flip, lambda: tf.reverse(label, [1]), lambda: label)
    heat = heatmap(heat_source, u[6:10] if training else None, cfg['heatmap_shift'],
                   cfg['heatmap_spread'], flip=flip if heat_mask is None else None)
    out = {'image': main, 'label': label, 'heatmap': heat,
           'guide': visual_guide(guide_image, guide_mask, guide_box, u[:6], cfg, training)}
    out['image'].set_shape([size[0], size[1], 3])
    out['label'].set_shape([size[0], size[1], 1])
    out['heatmap'].set_shape([size[0], size[1], 1])
    out['guide'].set_shape([GUIDE_SIZE, GUIDE_SIZE, 3])
    return out


def to_network_input(rgb):
    """RGB 0..255 -> BGR minus (104, 117, 123): done in the graph (on the device), where it is
    nearly free, rather than per sample on the host."""
    import tensorflow as tf
    return tf.reverse(rgb, [-1]) - tf.constant(MEAN_BGR)


# -- COCO stage ---------------------------------------------------------------------------------

def coco_instances_of(pass_index, record):
    """(record, instance index) for every kept instance of an image record."""
    import tensorflow as tf
    count = tf.shape(coco_instances.decode(record, names=['object_ann_id'])['object_ann_id'])[0]
    return tf.data.Dataset.range(tf.cast(count, tf.int64)).map(
        lambda k: (pass_index, record, k))


def coco_sample(record, k, size, seed, cfg, training):
    import tensorflow as tf
    f = coco_instances.decode(record, names=['image_encoded', 'object_mask', 'object_mask_bbox'])
    image = tf.image.decode_jpeg(f['image_encoded'], channels=3, dct_method=cfg['dct_method'])
    mask = tf.image.decode_png(f['object_mask'][k], channels=1)[..., 0]
    box = f['object_mask_bbox'][k]
    return sample(image, mask, image, mask, box, None, size, seed, cfg, training, flip_main=True)


# -- video stage --------------------------------------------------------------------------------

def video_pairs(pass_index, record, seed, cfg):
    """All (guide, t-1, t) samples of a video for one pass, with the bytes they need."""
    import tensorflow as tf
    f = vos_video.decode(record, names=[
        'dataset', 'video_id', 'object_ids', 'object_first_frame', 'object_frames',
        'object_nonblank_frames', 'object_valid_guide_frames', 'frame_image', 'frame_mask',
        'frame_object_bbox'])
    use_nonblank = tf.not_equal(f['dataset'], b'ytvos2018')
    lists = tf.cond(use_nonblank,
                    lambda: (f['object_nonblank_frames'], f['object_nonblank_frames_row_lengths']),
                    lambda: (f['object_frames'], f['object_frames_row_lengths']))
    frames = tf.RaggedTensor.from_row_lengths(lists[0], lists[1])
    owner = frames.value_rowids()
    flat = frames.values
    first = tf.concat([[True], tf.not_equal(owner[1:], owner[:-1])], 0)
    keep = tf.logical_not(first)
    obj = tf.boolean_mask(owner, keep)
    cur = tf.boolean_mask(flat, keep)
    prev = tf.boolean_mask(tf.concat([[0], flat[:-1]], 0), keep)
    valid = tf.RaggedTensor.from_row_lengths(f['object_valid_guide_frames'],
                                             f['object_valid_guide_frames_row_lengths'])
    n_valid = tf.gather(valid.row_lengths(), obj)
    starts = tf.gather(valid.row_splits[:-1], obj)
    pairs = tf.shape(obj)[0]
    u = tf.random.stateless_uniform([pairs], seed=tf.stack([
        tf.strings.to_hash_bucket_fast(f['video_id'], 2 ** 62),
        reader.pass_seed(seed, pass_index)]), dtype=tf.float32)
    pick = tf.cast(tf.floor(u * tf.cast(n_valid, tf.float32)), tf.int64)
    fallback = tf.gather(frames.row_starts(), obj)  # first frame of the object's pair list
    first_listed = tf.gather(flat, fallback)
    random_guide = tf.where(n_valid > 0, tf.gather(valid.values, starts + tf.minimum(
        pick, tf.maximum(n_valid - 1, 0))), first_listed)
    guide = random_guide if cfg['randomize_guide'] else tf.gather(f['object_first_frame'], obj)
    ids = tf.gather(f['object_ids'], obj)
    boxes = tf.gather_nd(f['frame_object_bbox'], tf.stack([guide, obj], 1))
    return tf.data.Dataset.from_tensor_slices({
        'guide_image': tf.gather(f['frame_image'], guide),
        'guide_mask': tf.gather(f['frame_mask'], guide),
        'guide_box': boxes,
        'prev_mask': tf.gather(f['frame_mask'], prev),
        'image': tf.gather(f['frame_image'], cur),
        'mask': tf.gather(f['frame_mask'], cur),
        'object_id': ids})


def video_sample(pair, size, seed, cfg, training):
    import tensorflow as tf

    def object_mask(png):
        return tf.cast(tf.equal(tf.image.decode_png(png, channels=1)[..., 0],
                                tf.cast(pair['object_id'], tf.uint8)), tf.uint8)

    def decode(jpeg):
        return tf.image.decode_jpeg(jpeg, channels=3, dct_method=cfg['dct_method'])
    return sample(decode(pair['image']), object_mask(pair['mask']), decode(pair['guide_image']),
                  object_mask(pair['guide_mask']), pair['guide_box'],
                  object_mask(pair['prev_mask']), size, seed, cfg, training, flip_main=False)


# -- datasets -----------------------------------------------------------------------------------

def samples(records_dir, split, stage, size, cfg, seed, training):
    """Endless dataset of samples at one static size (height, width), not batched."""
    import tensorflow as tf
    schema = coco_instances.SCHEMA if stage == 'coco' else vos_video.SCHEMA
    info = reader.load_info(records_dir, schema)
    files, _ = reader.shard_files(records_dir, info, split)
    records = reader.record_passes(files, seed, cfg['cycle_length'], cfg['num_parallel_calls'],
                                   cfg['record_shuffle'], passes=None, shuffle=training)
    if stage == 'coco':
        items = records.flat_map(coco_instances_of)
        if training and cfg['sample_shuffle'] > 1:
            items = items.shuffle(cfg['sample_shuffle'], seed=seed + 3)
        items = tf.data.Dataset.zip((items, reader.element_seeds(seed + 5)))
        return items.map(lambda item, s: coco_sample(item[1], item[2], size, s, cfg, training),
                         num_parallel_calls=cfg['num_parallel_calls'])
    # many videos interleaved, so that a batch is not one video
    items = records.interleave(lambda p, r: video_pairs(p, r, seed, cfg),
                               cycle_length=cfg['video_cycle_length'], block_length=1,
                               num_parallel_calls=cfg['num_parallel_calls'])
    if training and cfg['sample_shuffle'] > 1:
        items = items.shuffle(cfg['sample_shuffle'], seed=seed + 3)
    items = tf.data.Dataset.zip((items, reader.element_seeds(seed + 5)))
    return items.map(lambda pair, s: video_sample(pair, size, s, cfg, training),
                     num_parallel_calls=cfg['num_parallel_calls'])


def batches(records_dir, split, stage, size, cfg, seed, training):
    return samples(records_dir, split, stage, size, cfg, seed, training).batch(
        cfg['batch_size'], drop_remainder=True).prefetch(cfg['prefetch'])
