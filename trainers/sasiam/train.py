"""Train one SA-Siam branch on vid_track records (`make train-sasiam`).

python -m trainers.sasiam --records out/vid --branch appearance --run-dir runs/sasiam-appearance
    [--records out/got10k ... --set input.source_weights=[2,1]] (several folders, mixed)
    [--steps N] [--device auto|npu|gpu|cpu] [--caffenet caffenet.npy] [--config f.json]
    [--set train.lr=0.01 ...]

Defaults are the reference's (docs/training.md, "SA-Siam defaults"): batch 8, SGD lr 0.01 x0.1
after 166,250 steps, 199,500 steps, checkpoint every 6,650, L2 5e-4, BN decay 0.95 / eps 1e-6, response
1e-3 * xcorr + bias, balanced logistic loss with a radius-16 px positive diamond.
"""
from __future__ import absolute_import, division, print_function

import argparse
import copy
import os
import sys

from trainers import cli, loop, reader
from trainers.distributed import settings
from trainers.distributed.data_parallel import DataParallel
from trainers import config as config_lib
from trainers import device as device_lib
from trainers.sasiam import data, model

DEFAULTS = {
    'model': {
        'branch': 'appearance',
        'width': 1.0,                  # channel multiplier (tests use a tiny network)
        'n_out': 256,
        'sz_conv5_z': 6,
        'semantic_layers': {'conv4': 0.1, 'conv5': 1.0},
        'attention': True,
        'response_scale': 1e-3,
        'train_bias': True,
        'bn_decay': 0.95,
        'bn_epsilon': 1e-6,
        'weight_decay': 5e-4,
        'r_pos': 16,                   # positive radius in pixels (L1 distance / stride 8)
        'caffenet': None,              # .npy with the ImageNet CaffeNet (semantic branch)
        'random_init_for_tests': False,
    },
    'input': {
        'records': 'out/vid',          # one folder, or several: "out/vid,out/got10k"
        'source_weights': None,        # several folders: sampling weight of each (null: equal)
        'train_split': 'train',
        'validation_split': 'validation',
        'batch_size': 8,
        'max_frame_dist': 100,
        'pairs_per_track': 1,          # K pairs drawn per track and pass (1 = the reference)
        'cycle_length': 16,
        'record_shuffle': 32,
        'pair_shuffle': 512,
        'num_parallel_calls': config_lib.AUTOTUNE,   # alias: prefetch_threads
        'prefetch': config_lib.AUTOTUNE,             # alias: prefetch_capacity
        'max_stretch': 0.05,
        'augment_in_graph': True,      # one batched crop_and_resize in the training graph
    },
    'train': dict(loop.TRAIN_DEFAULTS, **{
        'run_dir': 'runs/sasiam-appearance',
        'steps': 199500,
        'lr': 0.01,
        'lr_decay_steps': 166250,
        'lr_decay_rate': 0.1,
        'optimizer': 'sgd',            # sgd (the reference) | momentum
        'momentum': 0.9,
        'checkpoint_every': 6650,
        'keep_checkpoints': 5,
        'log_every': 10,
        'validate_every': 6650,
        'validation_batches': 50,
    }),
    'device': copy.deepcopy(config_lib.DEVICE),
    'parallel': dict(settings.PARALLEL),
}
# What each key of DEFAULTS accepts, checked when the run starts (trainers/accepts.py).
_C = config_lib
TYPES = {
    'model': {
        'branch': _C.one_of('appearance', 'semantic'), 'width': _C.number(above=0, high=4),
        'n_out': _C.integer(1), 'sz_conv5_z': _C.integer(1),
        'semantic_layers': {'conv4': _C.number(0), 'conv5': _C.number(0)},
        'attention': _C.boolean(), 'response_scale': _C.number(above=0),
        'train_bias': _C.boolean(), 'bn_decay': _C.number(0, below=1),
        'bn_epsilon': _C.number(above=0), 'weight_decay': _C.number(0),
        'r_pos': _C.number(above=0), 'caffenet': _C.optional(_C.text()),
        'random_init_for_tests': _C.boolean(),
    },
    'input': {
        'records': _C.text(), 'source_weights': _C.optional(_C.list_of(_C.number(above=0))),
        'train_split': _C.text(), 'validation_split': _C.text(),
        'batch_size': _C.integer(1), 'max_frame_dist': _C.integer(1),
        'pairs_per_track': _C.integer(1), 'cycle_length': _C.integer(1),
        'record_shuffle': _C.integer(0), 'pair_shuffle': _C.integer(0),
        'num_parallel_calls': _C.parallelism(), 'prefetch': _C.parallelism(),
        'max_stretch': _C.number(0, below=1), 'augment_in_graph': _C.boolean(),
    },
    'train': dict(_C.TRAIN_TYPES, lr=_C.number(above=0), lr_decay_steps=_C.integer(1),
                  lr_decay_rate=_C.number(above=0, high=1),
                  optimizer=_C.one_of('sgd', 'momentum'), momentum=_C.number(0, below=1)),
    'device': _C.DEVICE_TYPES,
    'parallel': _C.PARALLEL_TYPES,
}


def _inputs(cfg, training, seed, shard=(0, 1), timed=False):
    """(exemplars, instances, iterator initializer, skip placeholder or None, input wait or None)
    of one split; shard=(rank, ranks): this rank's part of the training input; timed: measure
    the input wait (reader.next_batch)."""
    import tensorflow as tf
    # several records folders: training mixes them, validation reads the first (docs/training.md)
    records = cfg['input']['records'] if training else reader.records_dirs(
        cfg['input']['records'])[0]
    with tf.device('/cpu:0'):
        def dataset(skip=None):
            return data.batches(records, cfg['input'][
                'train_split' if training else 'validation_split'], cfg['input'], seed, training,
                shard, skip)
        if training:
            iterator, skip = reader.resumable_iterator(dataset)
        else:
            iterator, skip = tf.compat.v1.data.make_initializable_iterator(dataset()), None
        batch, wait = reader.next_batch(iterator, timed)
    if training and cfg['input']['augment_in_graph']:
        batch = data.augmented(batch)  # one batched crop_and_resize, on the training device
    return (tf.cast(batch['exemplar'], tf.float32), tf.cast(batch['instance'], tf.float32),
            iterator.initializer, skip, wait)


def tower(z, x, cfg, training):
    """The model on one batch: (loss, response map). Train and validation towers share
    variables (the validation one is built second, with reuse)."""
    resp = model.response(z, x, cfg['model'], is_training=training, reuse=not training)
    return model.balanced_loss(resp, cfg['model']), resp


def check_model_config(cfg):
    m = cfg['model']
    if m['branch'] not in ('appearance', 'semantic'):
        raise config_lib.ConfigError('model.branch must be appearance or semantic')
    if m['branch'] == 'semantic' and not m['random_init_for_tests']:
        if not m['caffenet']:
            raise config_lib.ConfigError(
                'the semantic branch needs the ImageNet CaffeNet weights: pass --caffenet '
                'caffenet.npy (docs/training.md, "SA-Siam semantic branch weights"), or '
                '--random-init-for-tests for a smoke run whose semantic features mean nothing')
        if not os.path.isfile(m['caffenet']):
            raise config_lib.ConfigError('CaffeNet weights %s not found' % m['caffenet'])


def build(cfg, device, dp=None):
    """The training graph (train + validation models sharing variables): (Trainable, config).
    dp (DataParallel) for one rank of a data-parallel run: its part of the input, batch
    norm over the global batch, gradients averaged over the ranks (the loss is a batch mean)."""
    import tensorflow as tf
    dp = dp or DataParallel()
    check_model_config(cfg)
    seed = int(cfg['train']['seed'])
    tf.compat.v1.set_random_seed(seed)
    z, x, train_init, input_skip, wait = _inputs(cfg, True, seed, dp.shard, device != 'npu')
    with tf.name_scope('train'), dp.batch_norm():
        loss, _ = tower(z, x, cfg, True)
        total = loss + tf.compat.v1.losses.get_regularization_loss()
    validation_loss = validation_init = None
    validation_metrics = {}
    if cfg['train']['validation_batches']:
        try:
            vz, vx, validation_init, _, _ = _inputs(cfg, False,
                                                    reader.derive_seed(seed, 'validation'))
        except reader.RecordsError as err:
            sys.stderr.write('validation disabled: %s\n' % err)
        else:
            with tf.name_scope('validation'):
                validation_loss, response = tower(vz, vx, cfg, False)
                # section 6.3: does the response peak sit on the target (the centre cell)? A
                # scalar per validation batch, on the device with the response (its ArgMax is
                # reviewed in device.TRAINING_OP_REVIEW)
                validation_metrics['center_distance_error'] = model.center_distance_error(
                    response)
    t = cfg['train']
    global_step = tf.compat.v1.train.get_or_create_global_step()
    # the schedule reads global_step = applied updates (loop.py), so it is continuous across
    # resumes and unaffected by steps that loss scaling skipped
    lr = dp.learning_rate(tf.compat.v1.train.exponential_decay(
        t['lr'], global_step, t['lr_decay_steps'], t['lr_decay_rate'], staircase=True),
        global_step)
    if t['optimizer'] == 'sgd':
        optimizer = tf.compat.v1.train.GradientDescentOptimizer(lr)
    elif t['optimizer'] == 'momentum':
        optimizer = tf.compat.v1.train.MomentumOptimizer(lr, t['momentum'])
    else:
        raise config_lib.ConfigError('train.optimizer must be sgd or momentum')
    optimizer = dp.optimizer(optimizer, device, cfg['device']['loss_scale'], 'mean')
    train_op = loop.count_iterations(optimizer.minimize(total, global_step=global_step))
    init_fn = None
    if cfg['model']['branch'] == 'semantic' and cfg['model']['caffenet']:
        assignments = model.caffenet_assignments(cfg['model']['caffenet'], cfg['model'])

        def init_fn(sess):
            for variable, value in assignments:
                variable.load(value, sess)
    files = [path for folder, info in data.source_infos(cfg['input']['records'])
             for path in reader.shard_files(folder, info, cfg['input']['train_split'])[0]]
    return loop.Trainable(train_op, loss, total, lr, global_step,
                          dp.global_batch(cfg['input']['batch_size']),
                          train_init, validation_loss, validation_init, init_fn, input_skip,
                          metrics=None if wait is None else {'input_wait_s': wait},
                          validation_metrics=validation_metrics,
                          loss_scale=device_lib.loss_scale(optimizer), input_files=files), cfg


def parse_args(argv):
    parser = argparse.ArgumentParser(prog='python -m trainers.sasiam',
                                     description=__doc__.split('\n\n')[0])
    parser.add_argument('--records', action='append',
                        help='vid_track output directory (default out/vid); several train '
                             'together: a comma list or the flag repeated (docs/training.md)')
    parser.add_argument('--branch', choices=('appearance', 'semantic'))
    parser.add_argument('--caffenet', help='CaffeNet .npy for the semantic branch')
    cli.add_common_args(parser)
    return parser.parse_args(argv)


def config_from_args(args):
    records = ','.join(args.records) if args.records else None
    flags = cli.common_flags(args, (('input', 'records', records),
                                    ('model', 'branch', args.branch),
                                    ('model', 'caffenet', args.caffenet)))
    if args.branch and not args.run_dir:
        flags.setdefault('train', {})['run_dir'] = 'runs/sasiam-' + args.branch
    return config_lib.resolve(DEFAULTS, args.config, args.set, flags, TYPES)


def main(argv=None, process_ends=False):
    return cli.main(parse_args, config_from_args, build, argv, process_ends)
