"""Train OSMN on coco_instances or vos_video records (`make train-osmn`).

python -m trainers.osmn --stage coco|davis|ytvos --records out/coco --run-dir runs/osmn-coco
    [--vgg16 vgg_16.ckpt | --init-from runs/osmn-coco] [--steps N] [--device ...]
    [--single-scale] [--set train.lr=1e-6 ...]

Stages (osmn.md section 1): coco (400x400 x {0.8, 1, 1.2}, batch 8, Adam 1e-5; the second stage at
1e-6 is a resume of the same run directory with --set train.lr=1e-6), davis (854x480 x
{0.5, 0.8, 1}, batch 4, 1e-6, BN fixed, randomized guides, from the COCO stage via --init-from),
ytvos (448x256, batch 8, 1e-5). Every scale is its own static-shape graph; the graphs share
variables and the scale of each step is drawn from the run seed and the step, so a resumed run
continues the same sequence.
"""
from __future__ import absolute_import, division, print_function

import argparse
import copy
import random
import sys

from trainers import cli, loop, reader
from trainers import config as config_lib
from trainers import device as device_lib
from trainers.osmn import data, model

# max_frame_size: [height, width] frames are padded to on the host (static shapes)
STAGES = {
    'coco': {'size': [400, 400], 'scales': [0.8, 1.0, 1.2], 'batch_size': 8, 'lr': 1e-5,
             'fix_bn': False, 'split': 'train2017', 'validation_split': 'val2017',
             'max_frame_size': [640, 640]},
    'davis': {'size': [854, 480], 'scales': [0.5, 0.8, 1.0], 'batch_size': 4, 'lr': 1e-6,
              'fix_bn': True, 'split': 'train', 'validation_split': 'val',
              'max_frame_size': [480, 854]},
    'ytvos': {'size': [448, 256], 'scales': [1.0], 'batch_size': 8, 'lr': 1e-5, 'fix_bn': False,
              'split': 'train', 'validation_split': None, 'max_frame_size': [720, 1280]},
}

DEFAULTS = {
    'model': {
        'width': 1.0,                 # channel multiplier (tests use a tiny network)
        'weight_decay': 2e-4,
        'fix_bn': None,               # None: the stage's default
        'loss': 'sum',                # sum (the reference) | mean (per pixel)
        'vgg16': None,                # TF-slim vgg_16.ckpt for a fresh start
        'init_from': None,            # checkpoint (or run directory) of a previous stage
        'random_init_for_tests': False,
    },
    'input': {
        'stage': 'coco',
        'records': None,              # default: out/coco, out/davis2017, out/ytvos2018
        'train_split': None,          # None: the stage's default
        'validation_split': None,
        'size': None,                 # [width, height] before scaling; None: the stage's
        'scales': None,
        'input_scale': 1.0,           # multiplies every size (tests run small images)
        'max_frame_size': None,       # [height, width] of the host's padded frames
        'batch_size': None,
        'guide_jitter': 0.1,
        'guide_rotation': 10.0,
        'guide_test_pad': 0.03,
        'heatmap_shift': 0.2,
        'heatmap_spread': 1.4,
        'randomize_guide': True,
        'dct_method': 'INTEGER_FAST',
        'cycle_length': 16,
        'video_cycle_length': 16,
        'record_shuffle': 16,
        'sample_shuffle': 64,
        'num_parallel_calls': config_lib.AUTOTUNE,
        'prefetch': config_lib.AUTOTUNE,
    },
    'train': dict(loop.TRAIN_DEFAULTS, **{
        'run_dir': 'runs/osmn-coco',
        'steps': 200000,
        'lr': None,                   # None: the stage's default
        'checkpoint_every': 1000,
        'keep_checkpoints': 2,
        'log_every': 20,
        'summary_every': 100,
        'validate_every': 5000,
        'validation_batches': 20,
    }),
    'device': copy.deepcopy(config_lib.DEVICE),
}

RECORDS = {'coco': 'out/coco', 'davis': 'out/davis2017', 'ytvos': 'out/ytvos2018'}


def resolved(cfg):
    """Fill the stage defaults (None values) into a copy of the config."""
    cfg = copy.deepcopy(cfg)
    stage = cfg['input']['stage']
    if stage not in STAGES:
        raise config_lib.ConfigError('input.stage must be one of %s' % sorted(STAGES))
    defaults = STAGES[stage]
    i, m, t = cfg['input'], cfg['model'], cfg['train']
    i['records'] = i['records'] or RECORDS[stage]
    i['train_split'] = i['train_split'] or defaults['split']
    if i['validation_split'] is None:
        i['validation_split'] = defaults['validation_split']
    i['size'] = i['size'] or defaults['size']
    i['scales'] = i['scales'] or defaults['scales']
    i['batch_size'] = i['batch_size'] or defaults['batch_size']
    i['max_frame_size'] = i['max_frame_size'] or defaults['max_frame_size']
    m['fix_bn'] = defaults['fix_bn'] if m['fix_bn'] is None else m['fix_bn']
    t['lr'] = t['lr'] or defaults['lr']
    return cfg


def batch_sizes(cfg):
    """Static (height, width) per scale: int(size * scale * input_scale), as the reference."""
    width, height = cfg['input']['size']
    k = cfg['input']['input_scale']
    return [(int(height * s * k), int(width * s * k)) for s in cfg['input']['scales']]


def _init_checkpoint(cfg):
    """The checkpoint a fresh start reads (checked before any graph is built), or None."""
    import tensorflow as tf
    m = cfg['model']
    if m['init_from'] or m['vgg16']:
        given = m['init_from'] or m['vgg16']
        path = (tf.train.latest_checkpoint(given) or given) if m['init_from'] else given
        try:
            return tf.train.load_checkpoint(path)
        except (tf.errors.NotFoundError, ValueError) as err:
            what = '--init-from' if m['init_from'] else 'the VGG-16 checkpoint'
            raise config_lib.ConfigError('cannot read %s %s: %s' % (what, given, err))
    if m['random_init_for_tests']:
        return None
    raise config_lib.ConfigError(
        'OSMN starts from ImageNet VGG-16 weights: pass --vgg16 vgg_16.ckpt (TF-slim '
        'vgg_16_2016_08_28), or --init-from a previous stage, or --random-init-for-tests for a '
        'smoke run that learns nothing useful')


def _restore_assignments(cfg, ckpt):
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


def build(cfg, device):
    import tensorflow as tf
    cfg = resolved(cfg)
    i, m, t = cfg['input'], cfg['model'], cfg['train']
    ckpt = _init_checkpoint(cfg)
    seed = int(t['seed'])
    tf.compat.v1.set_random_seed(seed)
    input_seed = tf.compat.v1.placeholder_with_default(tf.constant(seed, tf.int64), [],
                                                       name='input_seed')
    global_step = tf.compat.v1.train.get_or_create_global_step()
    optimizer = device_lib.wrap_optimizer(tf.compat.v1.train.AdamOptimizer(t['lr']), device,
                                          cfg['device']['loss_scale'])
    # one host pipeline (decoded, padded frames): every scale's graph augments the same batch
    with tf.device('/cpu:0'):
        iterator = tf.compat.v1.data.make_initializable_iterator(
            data.batches(i['records'], i['train_split'], i['stage'], i, input_seed, True))
        batch = iterator.get_next()
    train_ops, losses, totals, means = [], [], [], []
    for size in batch_sizes(cfg):
        with tf.name_scope('train_%dx%d' % size):
            inputs = data.assemble(batch, size, i, training=True)
            logit_map = model.logits(inputs['image'], inputs['guide'], inputs['heatmap'], m, True)
            summed, mean = model.balanced_loss(logit_map, inputs['label'])
            loss = summed if m['loss'] == 'sum' else mean
            total = loss + tf.compat.v1.losses.get_regularization_loss()
        update = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)
        with tf.control_dependencies(update):
            train_ops.append(optimizer.minimize(total, global_step=global_step))
        losses.append(loss)
        totals.append(total)
        means.append(mean)
    validation_loss = validation_init = None
    if i['validation_split'] and t['validation_batches']:
        size = batch_sizes(dict(cfg, input=dict(i, scales=[1.0])))[0]
        try:
            with tf.device('/cpu:0'):
                validation = tf.compat.v1.data.make_initializable_iterator(data.batches(
                    i['records'], i['validation_split'], i['stage'], i, seed + 1, False))
                vbatch = validation.get_next()
        except reader.RecordsError as err:
            sys.stderr.write('validation disabled: %s\n' % err)
        else:
            validation_init = validation.initializer
            with tf.name_scope('validation'):
                inputs = data.assemble(vbatch, size, i, training=False)
                logit_map = model.logits(inputs['image'], inputs['guide'], inputs['heatmap'], m,
                                         False)
                summed, mean = model.balanced_loss(logit_map, inputs['label'])
                validation_loss = summed if m['loss'] == 'sum' else mean
    assignments = _restore_assignments(cfg, ckpt)
    surgery = model.interp_surgery_ops()

    def init_fn(sess):
        for var, value in assignments:
            var.load(value, sess)
        sess.run(surgery)

    def choose_variant(step):
        return random.Random(seed * 1000003 + step).randrange(len(train_ops))

    return loop.Trainable(train_ops, losses, totals, tf.constant(t['lr']), global_step,
                          i['batch_size'], iterator.initializer, validation_loss, validation_init,
                          init_fn, input_seed, {'pixel_loss': means}, choose_variant), cfg


def parse_args(argv):
    parser = argparse.ArgumentParser(prog='python -m trainers.osmn',
                                     description=__doc__.split('\n\n')[0])
    parser.add_argument('--stage', choices=sorted(STAGES))
    parser.add_argument('--records')
    parser.add_argument('--vgg16', help='TF-slim vgg_16.ckpt (fresh start)')
    parser.add_argument('--init-from', help='checkpoint or run directory of a previous stage')
    parser.add_argument('--fix-bn', action='store_true', default=None)
    parser.add_argument('--single-scale', action='store_true', help='only scale 1.0')
    cli.add_common_args(parser)
    return parser.parse_args(argv)


def config_from_args(args):
    flags = cli.common_flags(args, (('input', 'stage', args.stage),
                                    ('input', 'records', args.records),
                                    ('model', 'vgg16', args.vgg16),
                                    ('model', 'init_from', args.init_from),
                                    ('model', 'fix_bn', args.fix_bn)))
    if args.single_scale:
        flags.setdefault('input', {})['scales'] = [1.0]
    if args.stage and not args.run_dir:
        flags.setdefault('train', {})['run_dir'] = 'runs/osmn-' + args.stage
    return config_lib.resolve(DEFAULTS, args.config, args.set, flags)


def main(argv=None):
    return cli.main(parse_args, config_from_args, build, argv)
