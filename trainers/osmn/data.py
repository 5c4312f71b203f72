"""OSMN input (../shared/spec/osmn.md sections 2.4, 3.4-3.6, 5): the host decodes, the graph
augments.

The host side (tf.data) only parses records, decodes the JPEG frames and PNG masks a sample uses,
pads them to a fixed size (static shapes) and draws the sample's random numbers; everything
per pixel happens on the batch in the training graph, on the device (`assemble`), because on the
host it cost ~13 of 17 ms per COCO sample (see README, Performance):

* main image and label: resized to the batch size (bilinear / nearest, PIL's pixel-centre
  coordinates) with one crop_and_resize each; COCO samples flipped with p 0.5;
* spatial guide: Gaussian heatmap from the median centre and 1.4826 x MAD spread (5 px floor) of
  the label (COCO) or of the previous frame's mask (video), computed exactly from row and column
  histograms, perturbed in training by +-0.2 sigma and x[1/1.4, 1.4];
* visual guide: the tight box cropped PIL-style (exclusive max, losing the object's last row and
  column as the reference does), each side jittered by U(-10 %, +10 %) of the crop, resized to
  224 (bilinear image, nearest mask), rotated by U[-10, 10) degrees (nearest), flipped with p 0.5,
  background 0 after BGR / mean;
* images become BGR minus (104, 117, 123).

Video stage (DAVIS / YouTube-VOS): per object, pairs (t-1, t) over its non-blank frames (DAVIS) or
its listed frames (YouTube-VOS); guide frame uniform over the object's valid-guide frames
(`randomize_guide`, re-drawn every pass unlike the reference's fixed draw) or its first frame.

Differences from PIL / OpenCV, all sub-pixel: no antialiasing when downscaling; sampling grids are
clamped to the frame (PIL clamps each sample); the rotation turns about (W - 1) / 2 where OpenCV
turns about W / 2.
"""
from __future__ import absolute_import, division, print_function

import math

from schemas import coco_instances, vos_video
from trainers import parallel, reader

MEAN_BGR = (104.0, 117.0, 123.0)
GUIDE_SIZE = 224
MIN_SIGMA = 5.0
# A sample's augmentation draws: one row of UNIFORMS uniforms, columns named here (draws()).
UNIFORM_COLUMNS = (('guide_jitter', 4), ('guide_angle', 1), ('guide_flip', 1), ('heatmap', 4),
                   ('flip', 1))
UNIFORMS = sum(width for _, width in UNIFORM_COLUMNS)
_UNIFORM_START = dict((name, sum(w for _, w in UNIFORM_COLUMNS[:k]))
                      for k, (name, _) in enumerate(UNIFORM_COLUMNS))


def draws(uniforms, name):
    """The named columns of a batch of draws [B, UNIFORMS]: [B, width], or [B] for width 1."""
    start, width = _UNIFORM_START[name], dict(UNIFORM_COLUMNS)[name]
    return uniforms[:, start] if width == 1 else uniforms[:, start:start + width]


# -- batched primitives (graph side) -----------------------------------------------------------

def weighted_median(values, counts):
    """numpy.median per row of a multiset given as values [B, K] with integer counts [B, K]."""
    import tensorflow as tf
    order = tf.argsort(values, axis=-1)
    values = tf.gather(values, order, batch_dims=1)
    # counted in int32: a float cumsum of pixel counts (up to H x W = 160,000 at 400x400) would
    # overflow fp16 (max 65,504) under the NPU's allow_mix_precision; integers are never cast
    cumulative = tf.cumsum(tf.cast(tf.round(tf.gather(counts, order, batch_dims=1)), tf.int32),
                           axis=-1)
    n = cumulative[:, -1:]
    # 0-based order statistics (n - 1) // 2 and n // 2: the first value whose cumulative count
    # exceeds k

    def order_statistic(k):
        at = tf.argmax(tf.cast(cumulative > k, tf.int32), axis=-1, output_type=tf.int32)
        return tf.gather(values, at[:, None], batch_dims=1)[:, 0]
    return (order_statistic((n - 1) // 2) + order_statistic(n // 2)) / 2.0


def robust_moments(masks):
    """(cx, cy, sx, sy, has_foreground), each [B], of masks [B, H, W]: medians and
    max(1.4826 MAD, 5)."""
    import tensorflow as tf
    masks = tf.cast(masks > 0, tf.float32)
    cols, rows = tf.reduce_sum(masks, 1), tf.reduce_sum(masks, 2)
    batch = tf.shape(masks)[0]
    xs = tf.tile(tf.cast(tf.range(tf.shape(cols)[1]), tf.float32)[None], [batch, 1])
    ys = tf.tile(tf.cast(tf.range(tf.shape(rows)[1]), tf.float32)[None], [batch, 1])
    has = tf.reduce_sum(cols, 1) > 0
    cols = tf.where(has, cols, tf.ones_like(cols))  # empty masks: any finite value, zeroed later
    rows = tf.where(has, rows, tf.ones_like(rows))
    cx, cy = weighted_median(xs, cols), weighted_median(ys, rows)
    sx = tf.maximum(1.4826 * weighted_median(tf.abs(xs - cx[:, None]), cols), MIN_SIGMA)
    sy = tf.maximum(1.4826 * weighted_median(tf.abs(ys - cy[:, None]), rows), MIN_SIGMA)
    return cx, cy, sx, sy, has


def heatmaps(masks, uniforms=None, centre_shift=0.2, spread=1.4, flip=None):
    """masks [B, H, W] -> [B, H, W, 1] Gaussians in [0, 1]; uniforms [B, 4] perturb them; flip [B]
    gives the heatmap of the horizontally flipped mask (median of flipped columns = W - 1 - the
    median) without flipping anything."""
    import tensorflow as tf
    cx, cy, sx, sy, has = robust_moments(masks)
    width = tf.shape(masks)[2]
    if flip is not None:
        cx = tf.where(flip, tf.cast(width - 1, tf.float32) - cx, cx)
    if uniforms is not None:
        cx += sx * (2.0 * uniforms[:, 0] - 1.0) * centre_shift
        cy += sy * (2.0 * uniforms[:, 1] - 1.0) * centre_shift
        sx *= 1.0 / spread + uniforms[:, 2] * (spread - 1.0 / spread)
        sy *= 1.0 / spread + uniforms[:, 3] * (spread - 1.0 / spread)
    xs = tf.cast(tf.range(width), tf.float32)[None]
    ys = tf.cast(tf.range(tf.shape(masks)[1]), tf.float32)[None]
    gx = tf.exp(-tf.square(xs - cx[:, None]) / (2.0 * (sx * sx)[:, None]))
    gy = tf.exp(-tf.square(ys - cy[:, None]) / (2.0 * (sy * sy)[:, None]))
    out = tf.clip_by_value(gy[:, :, None] * gx[:, None, :], 0.0, 1.0)
    return tf.where(has, out, tf.zeros_like(out))[..., None]


def _trunc(x):
    import tensorflow as tf
    return tf.where(x >= 0, tf.floor(x), tf.math.ceil(x))


def guide_regions(boxes, jitter, ratio, pad=0.0):
    """The reference's guide boxes in image coordinates [B, 4] = (y0, x0, y1, x1), exclusive max.

    boxes [B, 4]: tight mask boxes (xmin, ymin, xmax, ymax) inclusive, cropped PIL-style to
    [xmin, xmax) x [ymin, ymax); then each side moved by r_i ~ U(pad - ratio, pad + ratio) of the
    crop size (jitter [B, 4] uniforms in [0, 1)), truncated toward zero as Python's int()."""
    import tensorflow as tf
    boxes = tf.cast(boxes, tf.float32)
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    r = pad + (2.0 * tf.cast(jitter, tf.float32) - 1.0) * ratio
    left, top = _trunc(-r[:, 0] * w), _trunc(-r[:, 1] * h)
    right, bottom = w + _trunc(r[:, 2] * w), h + _trunc(r[:, 3] * h)
    return tf.stack([boxes[:, 1] + top, boxes[:, 0] + left, boxes[:, 1] + bottom,
                     boxes[:, 0] + right], 1)


def pil_boxes(regions, tensor_height, tensor_width, out_height, out_width, clamp_to=None):
    """crop_and_resize boxes [B, 4] sampling `regions` (y0, x0, y1, x1; exclusive) the way PIL
    resizes: output pixel i reads y0 + (i + 0.5) * L / out - 0.5. clamp_to ([B, 2] frame heights,
    widths) keeps the grid inside the frame, as PIL clamps its samples (the padding is black)."""
    import tensorflow as tf
    ly, lx = regions[:, 2] - regions[:, 0], regions[:, 3] - regions[:, 1]
    y0 = regions[:, 0] + 0.5 * ly / out_height - 0.5
    x0 = regions[:, 1] + 0.5 * lx / out_width - 0.5
    y1 = y0 + (out_height - 1) * ly / out_height
    x1 = x0 + (out_width - 1) * lx / out_width
    if clamp_to is not None:
        limit = tf.cast(clamp_to, tf.float32) - 1.0
        y0, y1 = tf.clip_by_value(y0, 0.0, limit[:, 0]), tf.clip_by_value(y1, 0.0, limit[:, 0])
        x0, x1 = tf.clip_by_value(x0, 0.0, limit[:, 1]), tf.clip_by_value(x1, 0.0, limit[:, 1])
    th, tw = float(tensor_height - 1), float(tensor_width - 1)
    return tf.stack([y0 / th, x0 / tw, y1 / th, x1 / tw], 1)


def rotate_nearest(images, angles):
    """[B, N, N, C] each rotated counter-clockwise by angles [B] (radians) about its centre,
    nearest neighbour, zeros outside: one gather."""
    import tensorflow as tf
    batch, n, _, channels = images.shape.as_list()
    centre = (n - 1) / 2.0
    yy, xx = tf.meshgrid(tf.range(n), tf.range(n), indexing='ij')
    yy = tf.cast(yy, tf.float32)[None] - centre
    xx = tf.cast(xx, tf.float32)[None] - centre
    cos, sin = tf.cos(angles)[:, None, None], tf.sin(angles)[:, None, None]
    # output (x, y) reads the source pixel rotated back by -angle (image y points down)
    sx = tf.cast(tf.floor(cos * xx - sin * yy + centre + 0.5), tf.int32)
    sy = tf.cast(tf.floor(sin * xx + cos * yy + centre + 0.5), tf.int32)
    ok = tf.logical_and(tf.logical_and(sx >= 0, sx < n), tf.logical_and(sy >= 0, sy < n))
    index = (tf.range(batch)[:, None, None] * n * n + tf.clip_by_value(sy, 0, n - 1) * n +
             tf.clip_by_value(sx, 0, n - 1))
    flat = tf.gather(tf.reshape(images, [batch * n * n, channels]), tf.reshape(index, [-1]))
    return tf.reshape(flat, [batch, n, n, channels]) * tf.cast(ok, images.dtype)[..., None]


def _flip_where(flip, images):
    import tensorflow as tf
    return tf.where(flip, tf.reverse(images, [2]), images)


def to_network_input(rgb):
    """RGB 0..255 -> BGR minus (104, 117, 123)."""
    import tensorflow as tf
    return tf.reverse(rgb, [-1]) - tf.constant(MEAN_BGR)


def _crop_and_resize(images, boxes, index, size, method='bilinear'):
    """tf.image.crop_and_resize on float32 input. Frames and masks arrive as uint8; CropAndResize
    on uint8 (above all with `nearest`) is a dtype the NPU kernels may not cover, which would leave
    the op on the host and split the device loop (trainers/device.py, TRAINING_OP_REVIEW). The
    cast is exact and the op computes in float32 either way, so the output is unchanged."""
    import tensorflow as tf
    return tf.image.crop_and_resize(tf.cast(images, tf.float32), boxes, index, size,
                                    method=method)


def visual_guides(images, masks, boxes, uniforms, cfg, training):
    """Padded uint8 images [B, H, W, 3], masks [B, H, W], tight boxes [B, 4], uniforms [B, UNIFORMS]
    -> guides [B, 224, 224, 3], BGR minus the mean, background 0."""
    import tensorflow as tf
    batch, height, width = images.shape.as_list()[:3]
    boxes = tf.cast(boxes, tf.float32)
    if training:
        regions = guide_regions(boxes, draws(uniforms, 'guide_jitter'), cfg['guide_jitter'])
    else:
        regions = guide_regions(boxes, tf.fill([batch, 4], 0.5), 0.0, pad=cfg['guide_test_pad'])
    crop = pil_boxes(regions, height, width, GUIDE_SIZE, GUIDE_SIZE)
    index = tf.range(batch)
    size = [GUIDE_SIZE, GUIDE_SIZE]
    guide = _crop_and_resize(images, crop, index, size)
    mask = _crop_and_resize(masks[..., None], crop, index, size, method='nearest')
    # PIL's nearest source pixel floor(y0 + (i + 0.5) * L / 224) must lie inside the PIL crop
    # [xmin, xmax) x [ymin, ymax): jitter pads with black and the last row / column is lost
    step = (tf.cast(tf.range(GUIDE_SIZE), tf.float32)[None] + 0.5) / GUIDE_SIZE
    src_y = tf.floor(regions[:, :1] + step * (regions[:, 2:3] - regions[:, :1]))
    src_x = tf.floor(regions[:, 1:2] + step * (regions[:, 3:4] - regions[:, 1:2]))
    rows_ok = tf.logical_and(src_y >= boxes[:, 1:2], src_y < boxes[:, 3:4])
    cols_ok = tf.logical_and(src_x >= boxes[:, :1], src_x < boxes[:, 2:3])
    ok = tf.logical_and(rows_ok[:, :, None], cols_ok[:, None, :])
    mask = tf.cast(tf.logical_and(ok[..., None], mask > 0), tf.float32)
    both = tf.concat([guide, mask], -1)
    if training:
        angles = ((2.0 * draws(uniforms, 'guide_angle') - 1.0) * cfg['guide_rotation'] *
                  math.pi / 180.0)
        both = _flip_where(draws(uniforms, 'guide_flip') > 0.5, rotate_nearest(both, angles))
    return to_network_input(both[..., :3]) * both[..., 3:]


def frame_boxes(images, frame_sizes, size):
    """crop_and_resize boxes resizing the frame in the top-left frame_sizes [B, 2] of each
    padded image [B, H, W, C] to size = (height, width), PIL-style."""
    import tensorflow as tf
    count, height, width = images.shape.as_list()[:3]
    frames = tf.cast(frame_sizes, tf.float32)
    full = tf.concat([tf.zeros([count, 2]), frames], 1)
    return pil_boxes(full, height, width, size[0], size[1], clamp_to=frames)


def assemble(batch, size, cfg, training):
    """A host batch -> the network's inputs at `size` = (height, width): image (BGR - mean),
    label, heatmap, guide; static shapes."""
    import tensorflow as tf
    images = batch['image']
    count = images.shape.as_list()[0]
    boxes = frame_boxes(images, batch['frame_size'], size)
    index = tf.range(count)
    main = _crop_and_resize(images, boxes, index, size)
    label = _crop_and_resize(batch['mask'][..., None], boxes, index, size, method='nearest')
    u = batch['uniforms']
    video = 'prev_mask' in batch
    if video:
        source = _crop_and_resize(batch['prev_mask'][..., None], boxes, index, size,
                                  method='nearest')[..., 0]
        flip = None
    else:
        source = label[..., 0]
        flip = draws(u, 'flip') > 0.5 if training else None
        if flip is not None:
            main, label = _flip_where(flip, main), _flip_where(flip, label)
    heat = heatmaps(source, draws(u, 'heatmap') if training else None, cfg['heatmap_shift'],
                    cfg['heatmap_spread'], flip=flip)
    guide_images = batch['guide_image'] if video else images
    guide_masks = batch['guide_mask'] if video else batch['mask']
    guide = visual_guides(guide_images, guide_masks, batch['guide_box'], u, cfg, training)
    return {'image': to_network_input(main), 'label': tf.cast(label > 0, tf.float32),
            'heatmap': heat, 'guide': guide}


# -- host side (tf.data) ------------------------------------------------------------------------

def _padded(image, max_size):
    """Pad a decoded frame at the bottom / right to the fixed max_size [height, width]."""
    import tensorflow as tf
    shape = tf.shape(image)
    checks = [tf.debugging.assert_less_equal(
        shape[:2], tf.constant(max_size), message='frame larger than input.max_frame_size')]
    with tf.control_dependencies(checks):
        # two concatenations with zeros: memcpy speed (tf.pad of uint8 costs ~10x as much here)
        tail = image.shape.as_list()[2:]
        channels = tf.constant(tail, tf.int32, shape=[len(tail)])
        right = tf.zeros(tf.concat([tf.stack([shape[0], max_size[1] - shape[1]]), channels], 0),
                         image.dtype)
        out = tf.concat([image, right], 1)
        bottom = tf.zeros(tf.concat([tf.stack([max_size[0] - shape[0], max_size[1]]), channels],
                                    0), image.dtype)
        out = tf.concat([out, bottom], 0)
    out.set_shape(list(max_size) + image.shape.as_list()[2:])
    return out


def _decode_jpeg(jpeg, cfg):
    import tensorflow as tf
    return tf.image.decode_jpeg(jpeg, channels=3, dct_method=cfg['dct_method'])


def _host_sample(image, mask, box, seed, cfg, **extra):
    import tensorflow as tf
    max_size = cfg['max_frame_size']
    out = {'image': _padded(image, max_size), 'mask': _padded(mask, max_size),
           'frame_size': tf.shape(image)[:2], 'guide_box': tf.cast(box, tf.int64),
           'uniforms': tf.random.stateless_uniform([UNIFORMS], seed=seed, dtype=tf.float32)}
    for name, value in extra.items():
        out[name] = _padded(value, max_size)
    return out


def coco_instances_of(pass_index, record):
    """(record, instance index) for every kept instance of an image record."""
    import tensorflow as tf
    count = tf.shape(coco_instances.decode(record, names=['object_ann_id'])['object_ann_id'])[0]
    return tf.data.Dataset.range(tf.cast(count, tf.int64)).map(
        lambda k: (pass_index, record, k))


def coco_sample(record, k, seed, cfg):
    """Host side of one COCO instance: decoded, padded image and mask, box, random numbers."""
    import tensorflow as tf
    f = coco_instances.decode(record, names=['image_encoded', 'object_mask', 'object_mask_bbox'])
    image = _decode_jpeg(f['image_encoded'], cfg)
    mask = tf.image.decode_png(f['object_mask'][k], channels=1)[..., 0]
    return _host_sample(image, mask, f['object_mask_bbox'][k], seed, cfg)


def video_pairs(pass_index, record, seed, cfg):
    """All (guide, t-1, t) samples of a video for one pass, with the bytes they need."""
    import tensorflow as tf
    f = vos_video.decode(record, names=[
        'dataset', 'video_id', 'object_ids', 'object_first_frame', 'object_frames',
        'object_nonblank_frames', 'object_valid_guide_frames', 'frame_image', 'frame_mask',
        'frame_object_bbox'])
    use_nonblank = tf.not_equal(f['dataset'], vos_video.YTVOS2018.encode('ascii'))
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


def video_sample(pair, seed, cfg):
    """Host side of one video pair: frame t and its object mask, the guide frame and mask, the
    mask of t-1 (for the heatmap), decoded and padded."""
    import tensorflow as tf

    def object_mask(png):
        return tf.cast(tf.equal(tf.image.decode_png(png, channels=1)[..., 0],
                                tf.cast(pair['object_id'], tf.uint8)), tf.uint8)
    return _host_sample(_decode_jpeg(pair['image'], cfg), object_mask(pair['mask']),
                        pair['guide_box'], seed, cfg,
                        guide_image=_decode_jpeg(pair['guide_image'], cfg),
                        guide_mask=object_mask(pair['guide_mask']),
                        prev_mask=object_mask(pair['prev_mask']))


# -- datasets -----------------------------------------------------------------------------------

def schema_of(stage):
    """The record schema a training stage reads."""
    return coco_instances.SCHEMA if stage == 'coco' else vos_video.SCHEMA


def samples(records_dir, split, stage, cfg, seed, training, shard=(0, 1), skip=None):
    """Endless dataset of host samples (not batched); shard=(rank, ranks): this rank's part of
    every pass (reader.record_passes), shuffled and augmented with the rank's own seed; skip:
    samples to drop (a resume), before their frames are decoded."""
    import tensorflow as tf
    info = reader.load_info(records_dir, schema_of(stage))
    files, _ = reader.shard_files(records_dir, info, split)
    records = reader.record_passes(files, seed, cfg['cycle_length'], cfg['num_parallel_calls'],
                                   cfg['record_shuffle'], passes=None, shuffle=training,
                                   shard=shard)
    if stage == 'coco':
        items = records.flat_map(coco_instances_of)

        def build(item, element_seed):
            return coco_sample(item[1], item[2], element_seed, cfg)
    else:
        # many videos interleaved, so that a batch is not one video
        items = records.interleave(lambda p, r: video_pairs(p, r, seed, cfg),
                                   cycle_length=cfg['video_cycle_length'], block_length=1,
                                   num_parallel_calls=cfg['num_parallel_calls'])

        def build(pair, element_seed):
            return video_sample(pair, element_seed, cfg)
    if training and cfg['sample_shuffle'] > 1:
        items = items.shuffle(cfg['sample_shuffle'], seed=parallel.rank_seed(
            reader.derive_seed(seed, 'sample_shuffle'), shard[0]))
    items = tf.data.Dataset.zip((items, reader.element_seeds(parallel.rank_seed(
        reader.derive_seed(seed, 'sample'), shard[0]))))
    if skip is not None:
        items = items.skip(skip)
    return items.map(build, num_parallel_calls=cfg['num_parallel_calls'])


def batches(records_dir, split, stage, cfg, seed, training, shard=(0, 1), skip=None):
    """Batches of host samples, `skip` batches dropped (a resume: reader.resumable_iterator)."""
    size = cfg['batch_size']
    return samples(records_dir, split, stage, cfg, seed, training, shard,
                   None if skip is None else skip * size).batch(
        size, drop_remainder=True).prefetch(cfg['prefetch'])
