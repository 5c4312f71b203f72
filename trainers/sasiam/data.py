"""SA-Siam input: online pair sampling from vid_track records and the SiamFC augmentation.

Pairs (docs/training.md, "SA-Siam input"): every pass visits every track; for a track of n
annotated frames the gap d is uniform in 1..min(n, max_frame_dist), clipped to n - 1, the
exemplar position s uniform in 0..n-1-d, exemplar before instance, positions counted in the track
list; one-frame tracks give the same crop twice. A record holds one chunk of a track (see
schemas/vid_track.py). Each chunk regenerates its track's K draws for the pass from a stateless
seed (track key, pass) and keeps the draws whose exemplar it owns, so every track yields exactly K
pairs per pass (K = 1: the reference) with the reference distribution however it was chunked.

Augmentation (section 4.4), both images independently: stretch by s ~ U(0.95, 1.05) (bilinear
resize of the 255 crop to round(255 s)), centre crop or zero pad to 247, random 239 crop at an
offset in 0..7 per axis. The composition is one bilinear sample of the 255 crop on a regular grid,
so it is computed as a single crop_and_resize box per image (samples that fall outside the crop
read 0, as the zero padding does). The input pipeline only draws the boxes (per batch); the
crop_and_resize of the whole batch runs in the training graph (on the device), or on the host
with input.augment_in_graph false. Validation pairs stay 255 and unaugmented.
"""
from __future__ import absolute_import, division, print_function

from schemas import vid_track
from trainers import reader
from trainers.accepts import ConfigError
from trainers.distributed.settings import rank_seed

CROP = vid_track.SEARCH_SIDE   # stored crop side
CENTER = 247     # CenterCrop after the stretch
OUT = 239        # RandomCrop size: what the networks see in training
HASH_BUCKETS = 2 ** 62


# -- pair sampling ----------------------------------------------------------------------------

def sample_pairs(num_frames, anchor_begin, anchor_end, max_frame_dist, k, seed):
    """K reference draws (s, d) for a track of num_frames, and which of them this chunk owns.

    seed: int64[2] for stateless ops; equal for all chunks of a track within a pass."""
    import tensorflow as tf
    n = tf.cast(num_frames, tf.int64)
    u = tf.random.stateless_uniform([2, k], seed=seed, dtype=tf.float64)
    span = tf.minimum(n, max_frame_dist)
    gap = 1 + tf.cast(tf.floor(u[0] * tf.cast(span, tf.float64)), tf.int64)
    gap = tf.minimum(gap, n - 1)  # the reference decrements d > n - 1 down to n - 1
    start = tf.cast(tf.floor(u[1] * tf.cast(n - gap, tf.float64)), tf.int64)
    owned = tf.logical_and(start >= anchor_begin, start < anchor_end)
    return start, gap, owned


def _track_seed(track_key, pass_seed):
    import tensorflow as tf
    return tf.stack([tf.strings.to_hash_bucket_fast(track_key, HASH_BUCKETS), pass_seed])


def chunk_pairs(pass_index, serialized, seed, max_frame_dist, pairs_per_track):
    """One record -> (exemplar JPEGs [K], instance JPEGs [K], owned [K], gaps [K])."""
    import tensorflow as tf
    f = vid_track.decode(serialized, names=['track_key', 'track_num_frames', 'chunk_anchor_begin',
                                            'chunk_anchor_end', 'frame_encoded'])
    start, gap, owned = sample_pairs(
        f['track_num_frames'], f['chunk_anchor_begin'], f['chunk_anchor_end'], max_frame_dist,
        pairs_per_track, _track_seed(f['track_key'], reader.pass_seed(seed, pass_index)))
    # positions are relative to the chunk's first stored frame, its first owned anchor; draws it
    # does not own are clamped into range and dropped by the caller
    last = tf.cast(tf.shape(f['frame_encoded'])[0] - 1, tf.int64)
    z_at = tf.clip_by_value(start - f['chunk_anchor_begin'], 0, last)
    x_at = tf.clip_by_value(start + gap - f['chunk_anchor_begin'], 0, last)
    return (tf.gather(f['frame_encoded'], z_at), tf.gather(f['frame_encoded'], x_at), owned, gap)


# -- augmentation -----------------------------------------------------------------------------

def augment_params(seed, max_stretch=0.05, count=None):
    """(stretched size, y offset, x offset) from an int64[2] stateless seed: scalars, or vectors
    of `count` images (drawn per batch: a few ops per batch instead of per image)."""
    import tensorflow as tf
    u = tf.random.stateless_uniform([3] if count is None else [count, 3], seed=seed,
                                    dtype=tf.float32)
    scale = 1.0 - max_stretch + 2.0 * max_stretch * u[..., 0]
    size = tf.cast(tf.round(CROP * scale), tf.int32)
    # TF int uniform [0, 247 - 239) as the reference: offsets 0..7, shift -4..+3 from centre
    offsets = tf.cast(tf.floor(u[..., 1:] * (CENTER - OUT)), tf.int32)
    return size, offsets[..., 0], offsets[..., 1]


def augment_box(size, y_offset, x_offset):
    """crop_and_resize box (normalised y1, x1, y2, x2 on the 255 crop) equal to: resize to size
    (bilinear, TF1 legacy coordinates src = dst * 255 / size), centre crop/pad to 247, crop 239
    at (y_offset, x_offset). Elementwise: scalars give [4], vectors [N, 4]."""
    import tensorflow as tf
    size = tf.cast(size, tf.float32)
    step = CROP / size                                         # source pixels per output pixel
    centre = tf.where(size >= CENTER, tf.math.floordiv(size - CENTER, 2.0),   # crop offset
                      -tf.math.floordiv(CENTER - size, 2.0))                  # or -pad offset
    y0 = (tf.cast(y_offset, tf.float32) + centre) * step
    x0 = (tf.cast(x_offset, tf.float32) + centre) * step
    extent = (OUT - 1) * step
    return tf.stack([y0, x0, y0 + extent, x0 + extent], axis=-1) / (CROP - 1)


def fused_augment(images, boxes):
    """[B, 255, 255, 3] uint8/float images and [B, 4] boxes -> [B, 239, 239, 3] float32, in one
    batched op (it can run in the training graph, on the device)."""
    import tensorflow as tf
    return tf.image.crop_and_resize(tf.cast(images, tf.float32), boxes,
                                    tf.range(tf.shape(images)[0]), [OUT, OUT])


def plain_augment(image, size, y_offset, x_offset):
    """The reference's composition, op by op (for tests and the naive benchmark)."""
    import tensorflow as tf
    resized = tf.compat.v1.image.resize_images(tf.cast(image, tf.float32), [size, size],
                                               method=tf.image.ResizeMethod.BILINEAR)
    centred = tf.image.resize_with_crop_or_pad(resized, CENTER, CENTER)
    return centred[y_offset:y_offset + OUT, x_offset:x_offset + OUT]


# -- datasets ---------------------------------------------------------------------------------

def _decode(jpeg):
    import tensorflow as tf
    image = tf.image.decode_jpeg(jpeg, channels=3, dct_method='INTEGER_ACCURATE')
    image.set_shape([CROP, CROP, 3])
    return image


def drawn_pairs(files, cfg, seed, training, shard=(0, 1)):
    """Endless dataset of (exemplar JPEG, instance JPEG, owned) of one records folder, shuffled
    when training; not decoded yet (a resume skips pairs before decoding them)."""
    import tensorflow as tf
    k = int(cfg['pairs_per_track'])
    # validation: the same pairs every time it is re-initialised (no shuffling, fixed seed),
    # repeated so that V batches exist even on a small validation split
    records = reader.record_passes(files, seed, cfg['cycle_length'], cfg['num_parallel_calls'],
                                   cfg['record_shuffle'], passes=None, shuffle=training,
                                   shard=shard)
    def sample(pass_index, record):
        z, x, owned, gap = chunk_pairs(pass_index, record, seed, cfg['max_frame_dist'], k)
        # K = 1 (the reference): scalars, so no unbatch stage (a sequential per-element cost)
        return (z[0], x[0], owned[0]) if k == 1 else (z, x, owned)
    candidates = records.map(sample, num_parallel_calls=cfg['num_parallel_calls'])
    if k > 1:
        candidates = candidates.apply(tf.data.experimental.unbatch())
    drawn = candidates.filter(lambda z, x, owned: owned)
    if training and cfg['pair_shuffle'] > 1:
        drawn = drawn.shuffle(cfg['pair_shuffle'], seed=rank_seed(
            reader.derive_seed(seed, 'pair_shuffle'), shard[0]))
    return drawn


def decoded(drawn, cfg, skip=None):
    """{'exemplar', 'instance'} uint8 [255, 255, 3] of a drawn-pair stream, `skip` pairs
    dropped first (before their JPEGs are decoded)."""
    if skip is not None:
        drawn = drawn.skip(skip)
    return drawn.map(lambda z, x, owned: {'exemplar': _decode(z), 'instance': _decode(x)},
                     num_parallel_calls=cfg['num_parallel_calls'])


def pairs(files, cfg, seed, training, shard=(0, 1), skip=None):
    """Endless dataset of dicts: exemplar, instance (uint8 [255, 255, 3]).

    shard=(rank, ranks): this rank's part of every pass (reader.record_passes). The pairs a track
    yields depend on (run seed, pass, track) only, so R ranks together draw exactly the pairs of
    a single device; shuffles use the rank's own seed. skip: pairs to drop (a resume), before
    their JPEGs are decoded."""
    return decoded(drawn_pairs(files, cfg, seed, training, shard), cfg, skip)


def mixed_drawn(file_lists, weights, cfg, seed, shard=(0, 1)):
    """Training pairs of several records folders (multi-source), not decoded: each folder's own
    stream, drawn as `drawn_pairs` does with a seed of its own, and pair after pair a folder
    picked with probability weights[i] / sum(weights) by a seeded selector (tf.data's
    sample_from_datasets). Every stream is fixed by the run seed, so the mixture is too, and a
    resume that skips the mixed pairs it trained on sees what an uninterrupted run sees."""
    import tensorflow as tf
    streams = [drawn_pairs(files, cfg, reader.derive_seed(seed, 'source-%d' % index), True,
                           shard) for index, files in enumerate(file_lists)]
    total = float(sum(weights))
    mixed = tf.data.experimental.sample_from_datasets(
        streams, [w / total for w in weights],
        seed=rank_seed(reader.derive_seed(seed, 'source_sampling'), shard[0]))
    return reader.without_autotune_model(mixed)


def add_augment_boxes(batch, seeds, max_stretch):
    """Training batches get one independent augmentation box per image, drawn for the whole batch
    at once from a per-batch stateless seed."""
    import tensorflow as tf
    count = batch['exemplar'].shape.as_list()[0]
    out = dict(batch)
    for name, offset in (('exemplar_box', 0), ('instance_box', 1)):
        out[name] = augment_box(*augment_params(
            tf.stack([seeds[0], seeds[1] + offset]), max_stretch, count))
    return out


# Options of vid_track records that shape the pairs and crops: folders trained on together must
# agree. max_frame_dist has the schema's default when a folder does not list it; the crop
# geometry is the schema's constants (fixed by its version), and is compared as well where a
# converter lists it among its options.
SHAPING_OPTIONS = ('max_frame_dist', 'context_amount', 'exemplar_side', 'search_side')


def source_infos(records, schema=vid_track.SCHEMA):
    """[(folder, dataset_info)] of `input.records` (one folder or a comma list), refused in one
    line when the folders' schema versions or SHAPING_OPTIONS differ."""
    infos = [(folder, reader.load_info(folder, schema)) for folder in reader.records_dirs(records)]
    first_folder, first = infos[0]
    for folder, info in infos[1:]:
        for key in ('schema',) + SHAPING_OPTIONS:
            mine, theirs = _shaping_value(first, key), _shaping_value(info, key)
            if mine != theirs:
                raise reader.RecordsError(
                    'the records at %s and %s differ in %s (%s vs %s): multi-source training '
                    'needs folders built alike; rebuild one of them' % (
                        first_folder, folder, key, mine, theirs))
    return infos


def _shaping_value(info, key):
    if key == 'schema':
        return '%s v%s' % (info['schema'].get('name'), info['schema'].get('version'))
    defaults = {'max_frame_dist': vid_track.MAX_FRAME_DIST, 'context_amount':
                vid_track.CONTEXT_AMOUNT, 'exemplar_side': vid_track.EXEMPLAR_SIDE,
                'search_side': vid_track.SEARCH_SIDE}
    return info.get('options', {}).get(key, defaults[key])


def source_weights(cfg, count):
    """The sampling weight of each of `count` records folders: input.source_weights, or equal."""
    weights = cfg.get('source_weights')
    if weights is None:
        return [1.0] * count
    if len(weights) != count:
        raise ConfigError(
            'input.source_weights lists %d weights for %d records folders (one weight per '
            'folder of input.records, in its order)' % (len(weights), count))
    return [float(w) for w in weights]


def batches(records_dir, split, cfg, seed, training, shard=(0, 1), skip=None):
    """Batched, prefetched dataset for one split of a vid_track output directory, or of several
    (a comma list: mixed_pairs), this rank's part of it (see pairs), `skip` batches dropped (a
    resume: reader.resumable_iterator)."""
    import tensorflow as tf
    infos = source_infos(records_dir)
    written = int(_shaping_value(infos[0][1], 'max_frame_dist'))
    if cfg['max_frame_dist'] > written:
        raise reader.RecordsError(
            'input.max_frame_dist %d exceeds the %d the records were chunked with: pairs could '
            'span two chunks (rebuild with --max-frame-dist %d)'
            % (cfg['max_frame_dist'], written, cfg['max_frame_dist']))
    file_lists = [reader.shard_files(folder, info, split)[0] for folder, info in infos]
    batch = cfg['batch_size']
    pair_skip = None if skip is None else skip * batch
    if training:  # also refuses weights that do not fit the folders when there is one
        weights = source_weights(cfg, len(infos))
    if len(file_lists) == 1:
        dataset = pairs(file_lists[0], cfg, seed, training, shard, pair_skip)
    elif training:
        dataset = decoded(mixed_drawn(file_lists, weights, cfg, seed, shard), cfg, pair_skip)
    else:
        raise reader.RecordsError('validation reads one records folder, not %s' % records_dir)
    dataset = dataset.batch(batch, drop_remainder=True)
    if training:
        seeds = reader.element_seeds(rank_seed(reader.derive_seed(seed, 'augment'),
                                               shard[0]))
        dataset = tf.data.Dataset.zip((dataset, seeds if skip is None else seeds.skip(skip))).map(
            lambda batch, seeds: add_augment_boxes(batch, seeds, cfg['max_stretch']))
        if not cfg['augment_in_graph']:
            dataset = dataset.map(augmented, num_parallel_calls=cfg['num_parallel_calls'])
    return dataset.prefetch(cfg['prefetch'])


def augmented(batch):
    """Apply the drawn boxes: float32 [B, 239, 239, 3] exemplars and instances."""
    return {name: fused_augment(batch[name], batch[name + '_box'])
            for name in ('exemplar', 'instance')}
