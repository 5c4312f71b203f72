"""OSMN input (docs/training.md, "OSMN samples"): the host decodes (this module),
the graph augments (trainers/osmn/augment.py).

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

from schemas import coco_instances, vos_video
from trainers import reader
from trainers.osmn.augment import UNIFORMS
from trainers.distributed.settings import rank_seed

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
    use_nonblank = tf.reduce_all(tf.not_equal(f['dataset'], tf.constant(
        [name.encode('ascii') for name in vos_video.META_LISTED])))
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
        items = items.shuffle(cfg['sample_shuffle'], seed=rank_seed(
            reader.derive_seed(seed, 'sample_shuffle'), shard[0]))
    items = tf.data.Dataset.zip((items, reader.element_seeds(rank_seed(
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
