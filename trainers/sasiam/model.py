"""SA-Siam networks, response and loss (docs/training.md, "SA-Siam branches"), TF 1.15 / slim.

Variable names follow the reference (`sa_siam/appearance_net/conv1/weights`,
`sa_siam/semantic_net/c1x1_conv4/...`, `detection/biases`), so its checkpoints map one to one.
`model.width` scales every channel count (1.0 = the paper's network) so tests can train a tiny one.

Differences from the reference, on purpose:
  * the cross-correlation of the whole batch is one depthwise convolution (batch folded into
    channels) instead of a per-example tf.map_fn / unrolled loop; test_sasiam proves they are equal;
  * no L2 regulariser on the frozen CaffeNet weights (the reference adds a constant, gradient-free
    offset to total_loss that way).
"""
from __future__ import absolute_import, division, print_function

import numpy as np

from trainers.distributed import sync_batch_norm

CAFFENET_MEAN_RGB = (123.0, 117.0, 104.0)
STRIDE = 8


def _slim():
    import tensorflow as tf
    return tf.contrib.slim


def channels(n, width):
    """n channels scaled by width, kept even (grouped layers split them in two)."""
    return max(2, int(round(n * width / 2.0)) * 2)


def _arg_scope(cfg, is_training):
    import tensorflow as tf
    slim = _slim()
    bn = dict(decay=cfg['bn_decay'], epsilon=cfg['bn_epsilon'], scale=True,
              updates_collections=None, is_training=is_training)
    return slim.arg_scope(
        [slim.conv2d], padding='VALID', activation_fn=tf.nn.relu,
        weights_initializer=slim.xavier_initializer(),
        weights_regularizer=slim.l2_regularizer(cfg['weight_decay']),
        normalizer_fn=sync_batch_norm.normalizer(slim.batch_norm), normalizer_params=bn)


def _grouped(net, out, kernel, scope, **kwargs):
    """Two-group convolution as in AlexNet/CaffeNet (scopes b1, b2)."""
    import tensorflow as tf
    slim = _slim()
    with tf.compat.v1.variable_scope(scope):
        a, b = tf.split(net, 2, axis=3)
        return tf.concat([slim.conv2d(a, out // 2, kernel, scope='b1', **kwargs),
                          slim.conv2d(b, out // 2, kernel, scope='b2', **kwargs)], 3)


def appearance_net(images, cfg, is_training, reuse):
    """AlexNet-like embedding trained from scratch; conv5 linear with bias, no BN."""
    import tensorflow as tf
    slim = _slim()
    w = cfg['width']
    with tf.compat.v1.variable_scope('appearance_net', reuse=reuse), _arg_scope(cfg, is_training):
        net = slim.conv2d(images, channels(96, w), [11, 11], 2, scope='conv1')
        net = slim.max_pool2d(net, [3, 3], 2, scope='pool1')
        net = _grouped(net, channels(256, w), [5, 5], 'conv2')
        net = slim.max_pool2d(net, [3, 3], 2, scope='pool2')
        net = slim.conv2d(net, channels(384, w), [3, 3], scope='conv3')
        net = _grouped(net, channels(384, w), [3, 3], 'conv4')
        return _grouped(net, channels(256, w), [3, 3], 'conv5', activation_fn=None,
                        normalizer_fn=None)


def caffenet(images, cfg, reuse):
    """Frozen CaffeNet (pool before LRN), conv1 stride 2, VALID, biases, no BN -> conv4, conv5."""
    import tensorflow as tf
    slim = _slim()
    w = cfg['width']
    with tf.compat.v1.variable_scope('semantic_net', reuse=reuse), slim.arg_scope(
            [slim.conv2d], padding='VALID', activation_fn=tf.nn.relu, normalizer_fn=None,
            trainable=False):
        net = (images - tf.constant(CAFFENET_MEAN_RGB))[..., ::-1]  # Caffe: BGR, mean removed

        def lrn(x):
            return tf.nn.local_response_normalization(x, depth_radius=2, alpha=2e-5, beta=0.75,
                                                      bias=1.0)
        net = slim.conv2d(net, channels(96, w), [11, 11], 2, scope='conv1')
        net = lrn(slim.max_pool2d(net, [3, 3], 2, scope='pool1'))
        net = _grouped(net, channels(256, w), [5, 5], 'conv2')
        net = lrn(slim.max_pool2d(net, [3, 3], 2, scope='pool2'))
        net = slim.conv2d(net, channels(384, w), [3, 3], scope='conv3')
        conv4 = _grouped(net, channels(384, w), [3, 3], 'conv4')
        conv5 = _grouped(conv4, channels(256, w), [3, 3], 'conv5')
        return {'conv4': conv4, 'conv5': conv5}


def crop_bounds(width, conv5_width, sz_conv5_z):
    """3x3 grid edges [0, left, left + c, width] of a layer's exemplar map (section 5.4)."""
    c = sz_conv5_z + (width - conv5_width)
    left = int((width - c) / 2.0 + 0.5)
    return [0, left, left + c, width]


def channel_attention(features, bounds, name):
    """xi = sigmoid(MLP(max-pool of the 9 grid cells)) + 0.5 per channel, in (0.5, 1.5)."""
    import tensorflow as tf
    slim = _slim()
    cells = [tf.reduce_max(features[:, bounds[i]:bounds[i + 1], bounds[j]:bounds[j + 1], :],
                           axis=[1, 2]) for i in range(3) for j in range(3)]
    pooled = tf.stack(cells, axis=2)                                    # [N, C, 9]
    num_channels = features.shape.as_list()[-1]
    hidden = slim.fully_connected(tf.reshape(pooled, [-1, 9]), 9, activation_fn=tf.nn.relu,
                                  scope='att_fc1_' + name)
    logits = slim.fully_connected(hidden, 1, activation_fn=None, scope='att_fc2_' + name)
    return tf.sigmoid(tf.reshape(logits, [-1, 1, 1, num_channels])) + 0.5


def semantic_features(layers, is_exemplar, cfg, reuse):
    """Attention (exemplar), centre crop (exemplar), layer factor, 1x1 conv, concat with padding."""
    import tensorflow as tf
    slim = _slim()
    conv5_width = layers['conv5'].shape.as_list()[1]
    out = {}
    n_each = channels(cfg['n_out'], cfg['width']) // len(cfg['semantic_layers'])
    with tf.compat.v1.variable_scope('semantic_net', reuse=reuse):
        for name in sorted(cfg['semantic_layers']):     # conv4, then conv5
            net = layers[name]
            if is_exemplar:
                width = net.shape.as_list()[1]
                b = crop_bounds(width, conv5_width, cfg['sz_conv5_z'])
                if cfg['attention']:
                    net = net * channel_attention(net, b, name)
                net = net[:, b[1]:b[2], b[1]:b[2], :]
            net = net * cfg['semantic_layers'][name]
            out[name] = slim.conv2d(
                net, n_each, [1, 1], activation_fn=None, normalizer_fn=None, padding='VALID',
                weights_initializer=slim.xavier_initializer(),
                weights_regularizer=slim.l2_regularizer(cfg['weight_decay']),
                scope='c1x1_' + name)
    size = max(t.shape.as_list()[1] for t in out.values())
    padded = []
    for name in sorted(out):
        pad = size - out[name].shape.as_list()[1]
        padded.append(tf.pad(out[name], [[0, 0], [pad // 2, pad - pad // 2],
                                         [pad // 2, pad - pad // 2], [0, 0]]))
    return tf.concat(padded, 3)


def xcorr(exemplar, instance):
    """Per-example valid cross-correlation of [B, h, w, C] with [B, H, W, C] -> [B, H', W'], as one
    depthwise convolution: batch folded into channels, then summed per example."""
    import tensorflow as tf
    b, h, w, c = exemplar.shape.as_list()
    _, big_h, big_w, _ = instance.shape.as_list()
    x = tf.reshape(tf.transpose(instance, [1, 2, 0, 3]), [1, big_h, big_w, b * c])
    z = tf.reshape(tf.transpose(exemplar, [1, 2, 0, 3]), [h, w, b * c, 1])
    out = tf.nn.depthwise_conv2d(x, z, [1, 1, 1, 1], 'VALID')
    out = tf.reshape(out, [big_h - h + 1, big_w - w + 1, b, c])
    return tf.transpose(tf.reduce_sum(out, axis=3), [2, 0, 1])


def embed(images, cfg, is_exemplar, is_training=False, reuse=False):
    """One branch's features of images (float 0..255, [B, S, S, 3]) under the reference's scopes:
    the exemplar map is centre-cropped (semantic: after its channel attention), so correlating it
    with a search map of the same image size gives a (S_feat - 16 + 1)-cell response."""
    import tensorflow as tf
    with tf.compat.v1.variable_scope('sa_siam', reuse=reuse):
        if cfg['branch'] == 'appearance':
            net = appearance_net(images, cfg, is_training, reuse)
            if is_exemplar:
                size = net.shape.as_list()[1]
                b = crop_bounds(size, size, cfg['sz_conv5_z'])
                net = net[:, b[1]:b[2], b[1]:b[2], :]
            return net
        if cfg['branch'] == 'semantic':
            return semantic_features(caffenet(images, cfg, reuse), is_exemplar, cfg, reuse)
    raise ValueError('model.branch must be appearance or semantic, got %r' % cfg['branch'])


def adjust(correlation, cfg, reuse=False, bias_name='biases'):
    """response = response_scale * correlation + detection/<bias_name> (a learned scalar)."""
    import tensorflow as tf
    with tf.compat.v1.variable_scope('detection', reuse=reuse):
        bias = tf.compat.v1.get_variable(bias_name, [], initializer=tf.zeros_initializer(),
                                         trainable=cfg['train_bias'])
    return cfg['response_scale'] * correlation + bias


def response(exemplar, instance, cfg, is_training, reuse=False):
    """Images (float 0..255, static shapes) -> response map [B, R, R] = scale * xcorr + bias."""
    z = embed(exemplar, cfg, True, is_training, reuse)
    x = embed(instance, cfg, False, is_training, True)
    return adjust(xcorr(z, x), cfg, reuse)


# Section 6.3: the reference scores a validation response by the distance of its peak from the
# centre cell, normalised by 50 px (= 6.25 cells at stride 8) and clipped to 1.
PEAK_DISTANCE_NORM_PX = 50.0


def peak_distance(response_map):
    """Euclidean distance in cells between each map's argmax and its centre ((R - 1) / 2): [B]."""
    import tensorflow as tf
    size = response_map.shape.as_list()[1]
    flat = tf.argmax(tf.reshape(response_map, [-1, size * size]), axis=1, output_type=tf.int32)
    centre = (size - 1) / 2.0
    dy = tf.cast(flat // size, tf.float32) - centre
    dx = tf.cast(flat % size, tf.float32) - centre
    return tf.sqrt(dy * dy + dx * dx)


def center_distance_error(response_map):
    """Mean over the batch of min(peak distance * stride / 50 px, 1): 0 when every peak is on the
    centre (the target), 1 when every peak is 50 px or more away.

    The reference reports 1 - the area under a recall curve of the predictions 1 - d, built from
    streaming counts at 100 thresholds; with all labels positive that area is a 100-step
    trapezoidal estimate of mean(1 - d), so this is the same quantity without the discretisation
    (and per validation pass, not a never-reset streaming mean)."""
    import tensorflow as tf
    d = peak_distance(response_map) * STRIDE / PEAK_DISTANCE_NORM_PX
    return tf.reduce_mean(tf.minimum(d, 1.0))


def labels_and_weights(size, r_pos_cells):
    """Centre diamond (L1 distance <= r_pos) of 1s and the balanced 0.5/n_pos, 0.5/n_neg weights."""
    centre = (size - 1) / 2.0
    yy, xx = np.mgrid[0:size, 0:size]
    labels = (np.abs(yy - centre) + np.abs(xx - centre) <= r_pos_cells).astype(np.float32)
    n_pos = labels.sum()
    weights = np.where(labels > 0, 0.5 / n_pos, 0.5 / (labels.size - n_pos)).astype(np.float32)
    return labels, weights


def balanced_loss(response_map, cfg):
    """Mean over the batch of the balanced logistic loss against the fixed centre label."""
    import tensorflow as tf
    size = response_map.shape.as_list()[1]
    labels, weights = labels_and_weights(size, cfg['r_pos'] / float(STRIDE))
    labels = tf.constant(labels)[None]
    ce = tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.tile(labels, [tf.shape(response_map)[0], 1, 1]), logits=response_map)
    return tf.reduce_mean(tf.reduce_sum(ce * tf.constant(weights)[None], axis=[1, 2]))


def caffenet_assignments(path, cfg):
    """[(variable, value)] loading a CaffeNet .npy into semantic_net (docs/training.md, "SA-Siam
    semantic branch weights").

    The file is a pickled dict {layer: {'weights': HWIO, 'biases': ...}} inside a 0-d object
    array; grouped layers (conv2, conv4, conv5) are split in halves on their last axis."""
    import tensorflow as tf
    from trainers.config import ConfigError
    try:
        layers = np.load(path, encoding='latin1', allow_pickle=True).item()
    except (IOError, OSError, ValueError, AttributeError) as err:
        raise ConfigError('cannot read CaffeNet weights %s: %s' % (path, err))
    by_name = {v.op.name: v for v in tf.compat.v1.global_variables()}
    out = []
    for layer in ('conv1', 'conv2', 'conv3', 'conv4', 'conv5'):
        if layer not in layers:
            raise ConfigError('%s has no %s' % (path, layer))
        for kind in ('weights', 'biases'):
            value = np.asarray(layers[layer][kind])
            half = value.shape[-1] // 2
            parts = ([('b1', value[..., :half]), ('b2', value[..., half:])]
                     if layer in ('conv2', 'conv4', 'conv5') else [(None, value)])
            for group, part in parts:
                name = '/'.join(p for p in ('sa_siam/semantic_net', layer, group, kind) if p)
                if name not in by_name:
                    raise ConfigError('CaffeNet %s: no variable %s in the graph' % (layer, name))
                var = by_name[name]
                if tuple(var.shape.as_list()) != part.shape:
                    raise ConfigError('CaffeNet %s: %s has shape %s, the model expects %s (is '
                                     'model.width 1.0?)' % (layer, name, part.shape,
                                                           tuple(var.shape.as_list())))
                out.append((var, part))
    return out


def branch_restore_map(branch, bias, variables):
    """{name in a branch run's checkpoint: variable of this graph} for one branch of a tracking
    graph (section 7.3): every sa_siam/<branch>_net/ variable keeps its name (weights and BN
    moving statistics), and this graph's per-branch bias takes the checkpoint's detection/biases.
    Variables of the other branch and the tracker's own state are left out."""
    prefix = 'sa_siam/%s_net/' % branch
    mapping = {v.op.name: v for v in variables if v.op.name.startswith(prefix)}
    if not mapping:
        raise ValueError('the graph has no %s variables' % prefix)
    mapping['detection/biases'] = bias
    return mapping
