"""OSMN networks and loss (docs/training.md, "OSMN model"), TF 1.15 / slim.

Scope `osmn`: `modulator` (VGG-16 on the 224x224 visual guide -> one scale per channel of
conv3_1..conv5_3; fc8 starts at weights 0 / biases 1, i.e. identity), `modulator_sp` (pooled
spatial-guide heatmap -> 1x1 conv, BN, ReLU -> per-pixel biases for the same layers) and `seg`
(OSVOS VGG-16 whose modulated layers compute gamma * ReLU(conv) + beta, four side outputs
upsampled by frozen bilinear transposed convolutions, centre-cropped and fused to one logit map).
Variable names follow the reference so its checkpoints and the TF-slim `vgg_16.ckpt` map onto them.
`width` scales every channel count (1.0 = the paper's network) so tests can train a tiny one.
"""
from __future__ import absolute_import, division, print_function

import math

import numpy as np

from trainers.distributed import sync_batch_norm

VGG_BLOCKS = ((1, 64, 2), (2, 128, 2), (3, 256, 3), (4, 512, 3), (5, 512, 3))
MODULATED_BLOCKS = (3, 4, 5)
SIDE_BLOCKS = (2, 3, 4, 5)   # side output on each block's last conv
SIDE_CHANNELS = 16
BN_DECAY = 0.99
BN_EPSILON = 1e-3


def _slim():
    import tensorflow as tf
    return tf.contrib.slim


def width_channels(n, width):
    return max(1, int(round(n * width)))


def modulated_layers(width):
    """[(block, index, channels)] of the modulated conv layers, in the order of the fc8 vector."""
    return [(block, i, width_channels(ch, width)) for block, ch, count in VGG_BLOCKS
            if block in MODULATED_BLOCKS for i in range(1, count + 1)]


def modulation_size(width):
    return sum(c for _, _, c in modulated_layers(width))


def _arg_scope(cfg):
    import tensorflow as tf
    slim = _slim()
    return slim.arg_scope(
        [slim.conv2d, slim.conv2d_transpose], padding='SAME', activation_fn=tf.nn.relu,
        weights_initializer=tf.random_normal_initializer(stddev=0.001),
        biases_initializer=tf.zeros_initializer(),
        weights_regularizer=slim.l2_regularizer(cfg['weight_decay']))


def stateless_dropout(net, keep_prob, seed, part=(0, 1)):
    """Dropout whose mask is a function of `seed` (an int64 [2] tensor) alone, so replaying a step
    (an exactly resumed run) draws the same mask. part=(rank, ranks): this rank's rows of the mask
    drawn for the global batch, so R ranks together drop what one device would on the
    concatenation of their batches."""
    import tensorflow as tf
    rank, ranks = part
    rows = tf.shape(net)[0]
    u = tf.random.stateless_uniform(tf.concat([[rows * ranks], tf.shape(net)[1:]], 0), seed=seed)
    keep = tf.cast(u[rank * rows:(rank + 1) * rows] < keep_prob, net.dtype)
    return net * keep / keep_prob


def visual_modulator(guide, cfg, is_training, dropout=None):
    """[B, 224, 224, 3] guide -> [B, modulation_size] channel scales (1 at initialisation).
    dropout=(seed, part) in training makes the dropout masks stateless (stateless_dropout);
    without it, TF's stateful dropout (fine-tuning at inference, model tests)."""
    import tensorflow as tf
    slim = _slim()
    w = cfg['width']
    with tf.compat.v1.variable_scope('modulator'), _arg_scope(cfg):
        net = guide
        for block, ch, count in VGG_BLOCKS:
            net = slim.repeat(net, count, slim.conv2d, width_channels(ch, w), [3, 3],
                              scope='conv%d' % block)
            net = slim.max_pool2d(net, [2, 2], padding='SAME', scope='pool%d' % block)
        fc = width_channels(4096, w)
        net = slim.conv2d(net, fc, net.shape.as_list()[1:3], padding='VALID', scope='fc6')
        def drop(net, layer):
            if not is_training or dropout is None:
                return slim.dropout(net, 0.5, is_training=is_training, scope='dropout%d' % layer)
            seed, part = dropout
            return stateless_dropout(net, 0.5, seed + tf.constant([0, layer], tf.int64), part)
        net = drop(net, 6)
        net = slim.conv2d(net, fc, [1, 1], scope='fc7')
        net = drop(net, 7)
        net = slim.conv2d(net, modulation_size(w), [1, 1], activation_fn=None,
                          weights_initializer=tf.zeros_initializer(),
                          biases_initializer=tf.ones_initializer(), scope='fc8')
        return tf.squeeze(net, [1, 2])


def spatial_modulator(heatmap, cfg, is_training):
    """[B, H, W, 1] heatmap -> {block: [B, H/2^(block-1), W/..., 3 * channels]} biases (>= 0)."""
    import tensorflow as tf
    slim = _slim()
    bn = dict(decay=BN_DECAY, epsilon=BN_EPSILON, scale=True, updates_collections=None,
              is_training=is_training and not cfg['fix_bn'])
    out = {}
    with tf.compat.v1.variable_scope('modulator_sp'), _arg_scope(cfg):
        net = heatmap
        for block, ch, count in VGG_BLOCKS:
            if block > 1:
                net = slim.avg_pool2d(net, [2, 2], padding='SAME', scope='pool%d' % (block - 1))
            if block in MODULATED_BLOCKS:
                out[block] = slim.conv2d(net, count * width_channels(ch, cfg['width']), [1, 1],
                                         biases_initializer=None,
                                         normalizer_fn=sync_batch_norm.normalizer(slim.batch_norm),
                                         normalizer_params=bn, scope='conv%d' % block)
    return out


def bilinear_kernel(size, channels):
    """Diagonal bilinear upsampling kernel [k, k, C, C] (the reference's interp surgery)."""
    factor = int(math.ceil(size / 2.0))
    centre = factor - 1 if size % 2 == 1 else factor - 0.5
    og = np.ogrid[:size, :size]
    taps = (1 - abs(og[0] - centre) / factor) * (1 - abs(og[1] - centre) / factor)
    kernel = np.zeros((size, size, channels, channels), np.float32)
    for c in range(channels):
        kernel[:, :, c, c] = taps
    return kernel


def _centre_crop(net, height, width):
    import tensorflow as tf
    h, w = net.shape.as_list()[1:3]
    top, left = (h - height) // 2, (w - width) // 2
    return tf.slice(net, [0, top, left, 0], [-1, height, width, -1])


def segmentation(image, scales, biases, cfg):
    """[B, H, W, 3] BGR-minus-mean image, modulation -> logits [B, H, W, 1]."""
    import tensorflow as tf
    slim = _slim()
    height, width = image.shape.as_list()[1:3]
    w = cfg['width']
    offset = 0
    sides = []
    with tf.compat.v1.variable_scope('seg'), _arg_scope(cfg):
        net = image
        for block, ch, count in VGG_BLOCKS:
            channels = width_channels(ch, w)
            if block > 1:
                net = slim.max_pool2d(net, [2, 2], padding='SAME', scope='pool%d' % (block - 1))
            with tf.compat.v1.variable_scope('conv%d' % block):
                for i in range(1, count + 1):
                    net = slim.conv2d(net, channels, [3, 3], scope='conv%d_%d' % (block, i))
                    if block in MODULATED_BLOCKS:
                        gamma = scales[:, offset:offset + channels]
                        beta = biases[block][..., (i - 1) * channels:i * channels]
                        net = net * gamma[:, None, None, :] + beta
                        offset += channels
            if block in SIDE_BLOCKS:
                side = slim.conv2d(net, SIDE_CHANNELS, [3, 3], activation_fn=None,
                                   scope='conv%d_%d_16' % (block, count))
                stride = 2 ** (block - 1)
                up = slim.conv2d_transpose(
                    side, SIDE_CHANNELS, [2 * stride, 2 * stride], stride, padding='VALID',
                    activation_fn=None, biases_initializer=None, weights_regularizer=None,
                    trainable=False, scope='score-multi%d-up' % block)
                sides.append(_centre_crop(up, height, width))
        return slim.conv2d(tf.concat(sides, 3), 1, [1, 1], activation_fn=None,
                           scope='upscore-fuse')


def modulator_scales(guide, cfg, is_training, dropout=None):
    """The visual modulator under scope osmn (inference runs it once per object)."""
    import tensorflow as tf
    with tf.compat.v1.variable_scope('osmn', reuse=tf.compat.v1.AUTO_REUSE):
        return visual_modulator(guide, cfg, is_training, dropout)


def modulated_logits(image, scales, heatmap, cfg, is_training):
    """Spatial modulator and segmentation net under scope osmn, given the channel scales (at
    inference, the cached output of modulator_scales fed back in)."""
    import tensorflow as tf
    with tf.compat.v1.variable_scope('osmn', reuse=tf.compat.v1.AUTO_REUSE):
        biases = spatial_modulator(heatmap, cfg, is_training)
        return segmentation(image, scales, biases, cfg)


def logits(image, guide, heatmap, cfg, is_training, dropout=None):
    """The full OSMN forward pass under scope osmn (dropout: see visual_modulator)."""
    return modulated_logits(image, modulator_scales(guide, cfg, is_training, dropout), heatmap,
                            cfg, is_training)


def interp_surgery_ops():
    """Assign ops setting every frozen upsampling kernel to its bilinear value (run after init
    and after every restore, as the reference does)."""
    import tensorflow as tf
    ops = []
    for var in tf.compat.v1.global_variables():
        if '-up/' in var.op.name and var.op.name.endswith('weights'):
            k, _, c, _ = var.shape.as_list()
            ops.append(tf.compat.v1.assign(var, bilinear_kernel(k, c)))
    return tf.group(*ops) if ops else tf.no_op()


def balanced_loss(logit_map, label, count_total=None):
    """(sum, per-pixel mean) of the class-balanced sigmoid cross-entropy over the batch (7.1):
    (N-/N) * L+ + (N+/N) * L-, with L+/- summed over positive/negative pixels.

    count_total: a function summing the pixel counts over the ranks of a data-parallel run
    (DataParallel.total); the balance and the per-pixel mean are then those of the global batch,
    and the ranks' losses add up to the loss of their concatenated batches."""
    import tensorflow as tf
    y = tf.cast(label > 0.5, tf.float32)
    z = logit_map
    positive = tf.cast(z >= 0, tf.float32)
    loglik = z * (y - positive) - tf.math.log(1 + tf.exp(z - 2 * z * positive))
    n_pos = tf.reduce_sum(y)
    n_neg = tf.reduce_sum(1.0 - y)
    if count_total is not None:
        n_pos, n_neg = count_total(n_pos), count_total(n_neg)
    total = n_pos + n_neg
    loss_pos = -tf.reduce_sum(y * loglik)
    loss_neg = -tf.reduce_sum((1.0 - y) * loglik)
    summed = n_neg / total * loss_pos + n_pos / total * loss_neg
    return summed, summed / total


def vgg16_assignments(reader_or_path, cfg):
    """[(variable, value)] restoring a TF-slim vgg_16 checkpoint into both VGG-16s (7.3): the
    leading scope vgg_16 becomes osmn/modulator and osmn/seg; a tensor is used only where a
    variable of that name exists, and a shape mismatch is an error naming it (fc8 is skipped)."""
    import tensorflow as tf
    from trainers.config import ConfigError
    try:
        reader = (tf.train.load_checkpoint(reader_or_path)
                  if isinstance(reader_or_path, str) else reader_or_path)
    except (tf.errors.NotFoundError, ValueError) as err:
        raise ConfigError('cannot read the VGG-16 checkpoint %s: %s' % (reader_or_path, err))
    source = reader_or_path if isinstance(reader_or_path, str) else 'the VGG-16 checkpoint'
    variables = {v.op.name: v for v in tf.compat.v1.global_variables()}
    out = []
    for name in sorted(reader.get_variable_to_shape_map()):
        if not name.startswith('vgg_16/') or '/fc8/' in name:
            continue
        for scope in ('osmn/modulator/', 'osmn/seg/'):
            target = scope + name[len('vgg_16/'):]
            if target not in variables:
                continue
            value = reader.get_tensor(name)
            shape = tuple(variables[target].shape.as_list())
            if value.shape != shape:
                raise ConfigError('vgg_16 %s has shape %s, the model expects %s for %s (is '
                                  'model.width 1.0?)' % (name, value.shape, shape, target))
            out.append((variables[target], value))
    if not out:
        raise ConfigError('no vgg_16/* tensor of %s matched the model' % source)
    return out
