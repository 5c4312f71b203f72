"""Import SiamFC's released network (MatConvNet, e.g. the SiamFC-3s `2016-08-17.net.mat`) as an
appearance-branch run directory the tracker uses as it is (`make import-siamfc MAT=... RUN_DIR=...`,
then `make track-sasiam RUN=RUN_DIR ...`): a known model to check the tracker against.

python -m trainers.sasiam.import_siamfc NET.mat RUN_DIR

The file holds a struct `net` whose `params` are (name, value) pairs; names are the layer's name
plus f / b (conv filters, biases) or m / b / x (batch norm gain, bias, moments), optionally with
the training code's `br_` prefix. The appearance branch at width 1.0 is SiamFC's network
(docs/tracking.md, "SiamFC's weights"), so every parameter maps one to one:
  convNf  H x W x Cin x Cout      -> sa_siam/appearance_net/convN[/b1|b2]/weights (two groups in
                                     conv2, 4, 5: output halves, as MatConvNet splits them)
  convNb  (N = 5)                 -> .../conv5/b1|b2/biases
  convNb  (N < 5, before a BN)    -> folded into the moving mean (BN(x + b) = BN'(x) with
                                     mean' = mean - b)
  bnNm, bnNb                      -> .../convN/BatchNorm/gamma, beta
  bnNx    C x 2 = [mean, sigma]   -> moving_mean, moving_variance = sigma^2 - model.bn_epsilon
                                     (MatConvNet's sigma already holds its own epsilon:
                                     sigma = sqrt(var + eps); TF adds model.bn_epsilon again)
  adjust_f, adjust_b              -> model.response_scale (config.json), detection/biases
  (or fin_adjust_bn m/b/x: a batch norm of the score map, folded the same way into scale, bias)
A parameter that maps nowhere, one missing, or one of another shape: one line naming each.
The run directory gets config.json (the trainer's defaults, model.width 1.0 and the imported
response scale), a checkpoint (model.ckpt-0) and run.json naming the file and its SHA-256.
"""
from __future__ import absolute_import, division, print_function

import argparse
import copy
import os
import sys

import numpy as np

from datasets import fileio, mat_files
from trainers import checkpoints
from trainers import run_dir as run_dir_lib
from trainers.sasiam import model, train

# SiamFC's branch (training/vid_create_net.m of its code): filter shape, batch norm, groups,
# stride
LAYERS = (('conv1', (11, 11, 3, 96), True, 1, 2), ('conv2', (5, 5, 48, 256), True, 2, 1),
          ('conv3', (3, 3, 256, 384), True, 1, 1), ('conv4', (3, 3, 192, 384), True, 2, 1),
          ('conv5', (3, 3, 192, 256), False, 2, 1))
POOLING = {'size': 3, 'stride': 2}
PREFIX = 'br_'
SCOPE = 'sa_siam/appearance_net/'


class ImportFailed(ValueError):
    """A .mat that is not SiamFC's network, or a run directory that cannot be written."""


# -- reading the .mat ---------------------------------------------------------------------------

def read_net(path):
    """(params {name without br_: array}, layers [dict]) of the file's `net` struct."""
    try:
        variables = mat_files.read_mat(path)
    except (IOError, OSError) as err:
        raise ImportFailed('cannot read %s: %s' % (path, err))
    except mat_files.MatFileError as err:
        raise ImportFailed(str(err))
    net = variables.get('net')
    if not (isinstance(net, list) and len(net) == 1 and isinstance(net[0].get('params'), list)):
        raise ImportFailed('%s holds no MatConvNet network (a struct `net` with `params`); its '
                           'variables: %s' % (path, ', '.join(sorted(variables)) or 'none'))
    params = {}
    for entry in net[0]['params']:
        name = _unprefixed(str(entry.get('name', '')))
        if name in params:
            raise ImportFailed('%s: parameter %s appears twice' % (path, name))
        params[name] = np.asarray(entry.get('value'), np.float64)
    layers = net[0].get('layers')
    return params, layers if isinstance(layers, list) else []


def _unprefixed(name):
    return name[len(PREFIX):] if name.startswith(PREFIX) else name


def expected_shapes():
    """{parameter name: shape} of SiamFC's branch (vectors as 1-d)."""
    out = {}
    for layer, shape, bn, _, _ in LAYERS:
        n, channels = layer[len('conv'):], shape[-1]
        out[layer + 'f'], out[layer + 'b'] = shape, (channels,)
        if bn:
            out.update({'bn%sm' % n: (channels,), 'bn%sb' % n: (channels,),
                        'bn%sx' % n: (channels, 2)})
    return out


ADJUST_CONV = ('adjust_f', 'adjust_b')
ADJUST_BN = ('fin_adjust_bnm', 'fin_adjust_bnb', 'fin_adjust_bnx')


def _fitted(value, shape):
    """value in `shape` (MatConvNet's C x 1 vectors as C; 2 x C moments as C x 2), or None."""
    if value.shape == shape:
        return value
    if len(shape) == 1 and value.size == shape[0] and max(value.shape) == shape[0]:
        return value.reshape(shape)
    if len(shape) == 2 and value.shape == shape[::-1]:
        return value.T
    return None


def checked_params(params, path):
    """The parameters in SiamFC's shapes, or ImportFailed naming every one that is missing, of
    another shape, or maps nowhere."""
    expected = expected_shapes()
    adjust = ADJUST_BN if any(n in params for n in ADJUST_BN) else ADJUST_CONV
    expected.update({name: (2,) if name.endswith('x') else () for name in adjust})
    problems, out = [], {}
    for name in sorted(expected):
        if name not in params:
            problems.append('no parameter %s' % name)
            continue
        value = _fitted(params[name], expected[name]) if expected[name] else (
            params[name].reshape(()) if params[name].size == 1 else None)
        if value is None:
            problems.append('%s has shape %s, SiamFC\'s is %s' % (
                name, params[name].shape, expected[name] or 'a scalar'))
        out[name] = value
    problems += ['%s maps to no variable of the appearance branch' % name
                 for name in sorted(set(params) - set(expected))]
    if problems:
        raise ImportFailed('%s is not SiamFC\'s network as the appearance branch has it: %s'
                           % (path, '; '.join(problems)))
    return out


def check_layers(layers, path):
    """Strides, padding and pooling of the file's layers (when it lists them) as SiamFC's."""
    strides = {layer + 'f': stride for layer, _, _, _, stride in LAYERS}
    problems = []
    for layer in layers:
        block = layer.get('block')
        block = block[0] if isinstance(block, list) and block else {}
        if not isinstance(block, dict):
            continue
        names = [_unprefixed(p) for p in layer.get('params') or [] if isinstance(p, str)]
        want = [strides[n] for n in names if n in strides]
        if 'poolSize' in block:
            want_size = [POOLING['size']] * 2
            if np.ravel(block['poolSize']).tolist() != want_size:
                problems.append('%s pools %s' % (layer.get('name'), block['poolSize']))
            want = [POOLING['stride']]
        if want and 'stride' in block and set(np.ravel(block['stride']).tolist()) != set(want):
            problems.append('%s has stride %s, SiamFC\'s is %d' % (
                layer.get('name'), np.ravel(block['stride']).tolist(), want[0]))
        if want and 'pad' in block and np.any(np.ravel(block['pad'])):
            problems.append('%s pads %s, SiamFC pads nothing' % (
                layer.get('name'), np.ravel(block['pad']).tolist()))
    if problems:
        raise ImportFailed('%s: layers differ from SiamFC\'s: %s' % (path, '; '.join(problems)))


# -- SiamFC's parameters -> the appearance branch's variables ------------------------------------

def adjust_scale_bias(p):
    """(response scale, bias) of the score adjustment: a 1x1 conv, or a batch norm folded."""
    if 'fin_adjust_bnm' in p:
        mean, sigma = p['fin_adjust_bnx']
        scale = float(p['fin_adjust_bnm']) / float(sigma)
        return scale, float(p['fin_adjust_bnb']) - scale * float(mean)
    return float(p['adjust_f']), float(p['adjust_b'])


def _groups(value, groups):
    """Output-channel halves (b1, b2) of a grouped layer, or the whole value."""
    if groups == 1:
        return [('', value)]
    half = value.shape[-1] // 2
    return [('b1/', value[..., :half]), ('b2/', value[..., half:])]


def variable_values(p, bn_epsilon):
    """{appearance-branch variable name: float32 value} from the checked parameters."""
    out = {}
    for layer, _, bn, groups, _ in LAYERS:
        n = layer[len('conv'):]
        filters = p[layer + 'f']
        parts = {'weights': filters}
        if bn:
            mean, sigma = p['bn%sx' % n][:, 0], p['bn%sx' % n][:, 1]
            parts.update({'BatchNorm/gamma': p['bn%sm' % n], 'BatchNorm/beta': p['bn%sb' % n],
                          'BatchNorm/moving_mean': mean - p[layer + 'b'],
                          'BatchNorm/moving_variance': np.maximum(sigma ** 2 - bn_epsilon, 0)})
        else:
            parts['biases'] = p[layer + 'b']
        for suffix, value in parts.items():
            for group, part in _groups(value, groups):
                out[SCOPE + layer + '/' + group + suffix] = part.astype(np.float32)
    return out


def model_config(response_scale):
    cfg = dict(train.DEFAULTS['model'], branch='appearance', width=1.0)
    if not response_scale > 0:
        raise ImportFailed('the score adjustment scales by %r: the tracker needs a positive '
                           'scale' % response_scale)
    cfg['response_scale'] = response_scale
    return cfg


def write_checkpoint(values, bias, model_cfg, run_dir):
    """model.ckpt-0 of the appearance branch (built at width 1.0) holding `values` and the
    bias; every variable of the branch must get one, of its shape."""
    import tensorflow as tf
    graph = tf.Graph()
    with graph.as_default():
        exemplar = tf.compat.v1.placeholder(tf.float32, [1, 127, 127, 3])
        instance = tf.compat.v1.placeholder(tf.float32, [1, 255, 255, 3])
        model.response(exemplar, instance, model_cfg, is_training=False)
        tf.compat.v1.train.get_or_create_global_step()
        variables = {v.op.name: v for v in tf.compat.v1.global_variables()}
        values = dict(values, **{'detection/biases': np.float32(bias)})
        branch = set(n for n in variables if n.startswith(SCOPE)) | {'detection/biases'}
        problems = ['%s gets no value' % n for n in sorted(branch - set(values))] + [
            '%s is %s, the .mat gives %s' % (n, variables[n].shape.as_list(), values[n].shape)
            for n in sorted(branch & set(values))
            if tuple(variables[n].shape.as_list()) != values[n].shape]
        if problems:
            raise ImportFailed('the appearance branch does not fit SiamFC: %s'
                               % '; '.join(problems))
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            for name, value in values.items():
                variables[name].load(value, sess)
            # the state file names checkpoints relative to the folder (renamed when published)
            checkpoints.save(tf.compat.v1.train.Saver(), sess, run_dir, 0, keep=1)
            return 0


def import_siamfc(mat_path, run_dir):
    """Write the run directory; returns its run.json contents."""
    if os.path.exists(run_dir) and (not os.path.isdir(run_dir) or os.listdir(run_dir)):
        raise ImportFailed('%s exists and is not empty: import into a new run directory'
                           % run_dir)
    params, layers = read_net(mat_path)
    checked = checked_params(params, mat_path)
    check_layers(layers, mat_path)
    scale, bias = adjust_scale_bias(checked)
    model_cfg = model_config(scale)
    values = variable_values(checked, model_cfg['bn_epsilon'])
    config = copy.deepcopy(train.DEFAULTS)
    config['model'] = model_cfg
    config['train']['run_dir'] = run_dir
    run = {'imported': {'format': 'SiamFC MatConvNet network', 'file': os.path.basename(mat_path),
                        'sha256': fileio.sha256_files([mat_path]), 'parameters': len(params),
                        'checkpoint': checkpoints.name(0),
                        'adjust': 'batch norm' if 'fin_adjust_bnm' in checked else '1x1 conv',
                        'response_scale': scale, 'bias': bias}}
    run_dir_lib.write_imported(run_dir, config, run,
                               lambda folder: write_checkpoint(values, bias, model_cfg, folder))
    return run


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m trainers.sasiam.import_siamfc',
                                     description=__doc__.split('\n\n')[0])
    parser.add_argument('mat', help="SiamFC's network, e.g. 2016-08-17.net.mat")
    parser.add_argument('run_dir', help='the run directory to write (new or empty)')
    args = parser.parse_args(argv)
    try:
        run = import_siamfc(args.mat, args.run_dir)
    except ImportFailed as err:
        sys.stderr.write('error: %s\n' % err)
        return 1
    print('imported %s (%d parameters, sha256 %s) into %s; track with make track-sasiam RUN=%s'
          % (args.mat, run['imported']['parameters'], run['imported']['sha256'][:12],
             args.run_dir, args.run_dir))
    return 0


if __name__ == '__main__':
    sys.exit(main())
