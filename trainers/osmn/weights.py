"""Starting weights: what a fresh start of the trainer reads (start_checkpoint: a previous stage,
ImageNet VGG-16, or random for tests; start_assignments: what it assigns), and from which files:
one reader interface (TF's checkpoint reader:
get_variable_to_shape_map() and get_tensor(name)) over a TF checkpoint or a Keras VGG-16 .h5.

A Keras VGG-16 file (`vgg16_weights_tf_dim_ordering_tf_kernels[_notop].h5`, a `save_weights`
file, or a whole `model.save` file whose weights sit under `model_weights`) is presented under
the TF-slim vgg_16 names, so model.vgg16_assignments maps either onto the model:
block<b>_conv<i> kernel / bias -> vgg_16/conv<b>/conv<b>_<i>/weights / biases; fc1 / fc2 (dense,
"include_top" files) -> vgg_16/fc6 / fc7 as 7x7 and 1x1 convolutions (Keras flattens the 7x7x512
pool in height, width, channel order, the order of a [7, 7, 512, 4096] kernel's rows);
`predictions` (1000 classes) is left out like slim's fc8. Keras 2 names weights `kernel:0` /
`bias:0`, Keras 1 `<layer>_W_1:0` / `<layer>_b_1:0`; both are read. Kernels must be in TF
order [h, w, in, out] (a Theano-ordered file is refused by name).

Channel order: Keras' VGG-16 weights (converted from Caffe) take BGR input, which is what OSMN
feeds (BGR minus (104, 117, 123)); TF-slim's take RGB and the reference fed them BGR anyway.
Either file is used as it is.
"""
from __future__ import absolute_import, division, print_function

import re

import numpy as np

from trainers import config as config_lib
from trainers.osmn import model

HDF5_SIGNATURE = b'\x89HDF\r\n\x1a\n'
_CONV = re.compile(r'^block(\d)_conv(\d)$')
_DENSE = {'fc1': ('fc6', (7, 7)), 'fc2': ('fc7', (1, 1))}
_KIND = (('kernel', 'weights'), ('_W', 'weights'), ('bias', 'biases'), ('_b', 'biases'))


class WeightsError(ValueError):
    """A weights file that cannot be read or is not what it should be (one line)."""


class ArrayReader(object):
    """TF's checkpoint-reader interface over {name: numpy array}."""

    def __init__(self, arrays):
        self._arrays = dict(arrays)

    def get_variable_to_shape_map(self):
        return {name: list(value.shape) for name, value in self._arrays.items()}

    def get_tensor(self, name):
        return self._arrays[name]


def is_hdf5(path):
    try:
        with open(path, 'rb') as f:
            return f.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE
    except (IOError, OSError):
        return False


def _kind(weight_name):
    leaf = weight_name.split('/')[-1].split(':')[0]
    for marker, kind in _KIND:
        if leaf == marker or leaf.endswith(marker) or re.search(marker + r'_\d+$', leaf):
            return kind
    return None


def slim_name(layer, weight_name):
    """The vgg_16 name of a Keras VGG-16 weight, or None for a layer slim does not have."""
    kind = _kind(weight_name)
    conv = _CONV.match(layer)
    if kind is None:
        return None
    if conv:
        block, index = conv.groups()
        return 'vgg_16/conv%s/conv%s_%s/%s' % (block, block, index, kind)
    if layer in _DENSE:
        return 'vgg_16/%s/%s' % (_DENSE[layer][0], kind)
    return None


def _as_slim(layer, value):
    """A Keras dense kernel [in, out] as the equivalent slim convolution kernel."""
    if layer in _DENSE and value.ndim == 2:
        h, w = _DENSE[layer][1]
        return value.reshape(h, w, value.shape[0] // (h * w), value.shape[1])
    return value


def keras_vgg16(path):
    """ArrayReader of a Keras VGG-16 .h5 under the TF-slim vgg_16 names."""
    import h5py
    arrays = {}
    try:
        with h5py.File(path, 'r') as f:
            root = f['model_weights'] if 'model_weights' in f else f
            for layer in root:
                group = root[layer]
                if not isinstance(group, h5py.Group):
                    continue
                names = [n.decode() if isinstance(n, bytes) else str(n)
                         for n in group.attrs.get('weight_names', [])]
                if not names:   # no attribute: every dataset below the layer
                    names = []
                    group.visititems(lambda n, obj: names.append(n) if isinstance(
                        obj, h5py.Dataset) else None)
                for weight in names:
                    value = np.asarray(group[weight] if weight in group else root[weight])
                    target = slim_name(layer, weight)
                    if target is None:
                        continue
                    if _CONV.match(layer) and target.endswith('weights') and (
                            value.ndim != 4 or value.shape[:2] != (3, 3)):
                        raise WeightsError('%s: %s/%s has shape %s, not a 3x3 kernel in TF order '
                                           '[h, w, in, out] (a Theano-ordered file?)'
                                           % (path, layer, weight, value.shape))
                    arrays[target] = _as_slim(layer, value).astype(np.float32)
    except (IOError, OSError, KeyError) as err:
        raise WeightsError('cannot read the Keras weights %s: %s' % (path, err))
    if not arrays:
        raise WeightsError('%s holds no Keras VGG-16 layer (block<b>_conv<i>, fc1, fc2)' % path)
    return ArrayReader(arrays)


def open_weights(path):
    """A reader of a TF checkpoint (a prefix, or a folder: its latest) or a Keras .h5."""
    import tensorflow as tf
    if is_hdf5(path):
        return keras_vgg16(path)
    try:
        return tf.train.load_checkpoint(path)
    except (tf.errors.OpError, ValueError) as err:   # not found, not a table (DataLoss), ...
        raise WeightsError('cannot read %s as a TF checkpoint or a Keras .h5: %s'
                           % (path, str(err).splitlines()[0] if str(err) else err))


# -- a fresh start's weights (the trainer's) ----------------------------------------------------

def start_checkpoint(cfg):
    """The checkpoint a fresh start reads (checked before any graph is built), or None: a
    previous stage's, or ImageNet VGG-16 as a TF-slim checkpoint or a Keras .h5 (weights.py)."""
    import tensorflow as tf
    m = cfg['model']
    if m['init_from']:
        path = tf.train.latest_checkpoint(m['init_from']) or m['init_from']
        try:
            return tf.train.load_checkpoint(path)
        except (tf.errors.OpError, ValueError) as err:
            raise config_lib.ConfigError('cannot read --init-from %s: %s' % (m['init_from'], err))
    if m['vgg16']:
        try:
            return open_weights(m['vgg16'])
        except WeightsError as err:
            raise config_lib.ConfigError('the VGG-16 weights: %s' % err)
    if m['random_init_for_tests']:
        return None
    raise config_lib.ConfigError(
        'OSMN starts from ImageNet VGG-16 weights: pass --vgg16 vgg_16.ckpt (TF-slim '
        'vgg_16_2016_08_28) or a Keras vgg16_weights_tf_dim_ordering_tf_kernels*.h5, or '
        '--init-from a previous stage, or --random-init-for-tests for a smoke run that learns '
        'nothing useful')


def start_assignments(cfg, ckpt):
    """Fresh-start weights: a whole previous-stage checkpoint, or ImageNet VGG-16."""
    import tensorflow as tf
    m = cfg['model']
    if ckpt is None:
        return []
    if m['init_from']:
        path = m['init_from']
        shapes = ckpt.get_variable_to_shape_map()
        out = []
        for var in tf.compat.v1.global_variables():
            name = var.op.name
            if not name.startswith('osmn/') or '/Adam' in name:
                continue
            if name not in shapes:
                raise config_lib.ConfigError('%s has no %s' % (path, name))
            if list(shapes[name]) != var.shape.as_list():
                raise config_lib.ConfigError('%s: %s has shape %s, the model expects %s' % (
                    path, name, shapes[name], var.shape.as_list()))
            out.append((var, ckpt.get_tensor(name)))
        return out
    return model.vgg16_assignments(ckpt, m)
