"""Train OSMN on coco_instances or vos_video records (`make train-osmn`).

python -m trainers.osmn --stage coco|davis|ytvos --records out/coco --run-dir runs/osmn-coco
    [--vgg16 vgg_16.ckpt | --init-from runs/osmn-coco] [--steps N] [--device ...]
    [--single-scale] [--set train.lr=1e-6 ...]

Stages (docs/training.md, "OSMN stages"): coco (400x400 x {0.8, 1, 1.2}, batch 8, Adam 1e-5; the
second stage at 1e-6 is a resume of the same run directory with --set train.lr=1e-6), davis
(854x480 x {0.5, 0.8, 1}, batch 4, 1e-6, BN fixed, randomized guides, from the COCO stage via
--init-from), ytvos (448x256, batch 8, 1e-5). Every scale is its own static-shape graph; the graphs
share variables; the scale of each iteration is drawn in the graph from the run seed and the input
position (train_step), so a resumed run continues the same sequence and one device loop of
iterations_per_loop steps covers every scale.
"""
from __future__ import absolute_import, division, print_function

import argparse
import copy
import sys

from trainers import cli, loop, reader
from trainers.distributed import settings, sync_batch_norm
from trainers.distributed.data_parallel import DataParallel
from trainers import config as config_lib
from trainers import device as device_lib
from datasets import davis as davis_data
from datasets import ytvos as ytvos_data
from schemas import dataset_info
from schemas.vos_video import DAVIS2017, YTVOS2018
from trainers.osmn import augment, data, model, weights

# Every size in the config is [height, width]: size, the network input before scaling (the
# reference's 854x480 DAVIS and 448x256 YouTube-VOS are width x height), and max_frame_size, the
# frames padded to on the host (static shapes).
STAGES = {
    'coco': {'size': [400, 400], 'scales': [0.8, 1.0, 1.2], 'batch_size': 8, 'lr': 1e-5,
             'fix_bn': False, 'split': 'train2017', 'validation_split': 'val2017',
             'max_frame_size': [640, 640]},
    'davis': {'size': list(davis_data.OSMN_SIZE), 'scales': [0.5, 0.8, 1.0], 'batch_size': 4, 'lr': 1e-6,
              'fix_bn': True, 'split': 'train', 'validation_split': 'val',
              'max_frame_size': list(davis_data.OSMN_SIZE)},
    'ytvos': {'size': list(ytvos_data.OSMN_SIZE), 'scales': [1.0], 'batch_size': 8, 'lr': 1e-5, 'fix_bn': False,
              'split': 'train', 'validation_split': None, 'max_frame_size': [720, 1280]},
}

DEFAULTS = {
    'model': {
        'width': 1.0,                 # channel multiplier (tests use a tiny network)
        'weight_decay': 2e-4,
        'fix_bn': None,               # None: the stage's default
        'loss': 'sum',                # sum (the reference) | mean (per pixel)
        'vgg16': None,                # vgg_16.ckpt (TF-slim) or Keras VGG-16 .h5
        'init_from': None,            # checkpoint (or run directory) of a previous stage
        'random_init_for_tests': False,
    },
    'input': {
        'stage': 'coco',
        'records': None,              # default: out/coco, out/davis2017, out/ytvos2018
        'train_split': None,          # None: the stage's default
        'validation_split': None,
        'size': None,                 # [height, width] before scaling; None: the stage's
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
        'validate_every': 5000,
        'validation_batches': 20,
    }),
    'device': copy.deepcopy(config_lib.DEVICE),
    'parallel': dict(settings.PARALLEL),
}
# What each key of DEFAULTS accepts, checked when the run starts (trainers/accepts.py); null
# means the stage's default.
_C = config_lib
_SIZE = _C.optional(_C.list_of(_C.integer(1), length=2))
TYPES = {
    'model': {
        'width': _C.number(above=0, high=4), 'weight_decay': _C.number(0),
        'fix_bn': _C.optional(_C.boolean()), 'loss': _C.one_of('sum', 'mean'),
        'vgg16': _C.optional(_C.text()), 'init_from': _C.optional(_C.text()),
        'random_init_for_tests': _C.boolean(),
    },
    'input': {
        'stage': _C.one_of(*sorted(STAGES)), 'records': _C.optional(_C.text()),
        'train_split': _C.optional(_C.text()),
        'validation_split': _C.optional(_C.text(empty=True)),  # '': no validation
        'size': _SIZE, 'scales': _C.optional(_C.list_of(_C.number(above=0, high=4))),
        'input_scale': _C.number(above=0, high=4), 'max_frame_size': _SIZE,
        'batch_size': _C.optional(_C.integer(1)), 'guide_jitter': _C.number(0),
        'guide_rotation': _C.number(0, 180), 'guide_test_pad': _C.number(0),
        'heatmap_shift': _C.number(0), 'heatmap_spread': _C.number(above=0),
        'randomize_guide': _C.boolean(),
        'dct_method': _C.one_of('', 'INTEGER_FAST', 'INTEGER_ACCURATE'),
        'cycle_length': _C.integer(1), 'video_cycle_length': _C.integer(1),
        'record_shuffle': _C.integer(0), 'sample_shuffle': _C.integer(0),
        'num_parallel_calls': _C.parallelism(), 'prefetch': _C.parallelism(),
    },
    'train': dict(_C.TRAIN_TYPES, lr=_C.optional(_C.number(above=0))),
    'device': _C.DEVICE_TYPES,
    'parallel': _C.PARALLEL_TYPES,
}

# Over the ranks of a data-parallel run the loss (summed or per-pixel mean) is split into parts
# that add up to the global batch's loss (model.balanced_loss with count_total), so the ranks'
# gradients are summed.
LOSS_REDUCTION = 'sum'

RECORDS = {'coco': 'out/coco', 'davis': 'out/' + DAVIS2017, 'ytvos': 'out/' + YTVOS2018}


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
    height, width = cfg['input']['size']
    k = cfg['input']['input_scale']
    return [(int(height * s * k), int(width * s * k)) for s in cfg['input']['scales']]


def tower(batch, size, cfg, training, count_total=None, dropout=None):
    """The model on one batch at one static size: (loss, pixel-mean loss); count_total for a
    data-parallel training tower (model.balanced_loss), dropout=(seed, part) for stateless
    dropout masks (model.visual_modulator)."""
    import tensorflow as tf
    i, m = cfg['input'], cfg['model']
    inputs = augment.assemble(batch, size, i, training=training)
    logit_map = model.logits(inputs['image'], inputs['guide'], inputs['heatmap'], m, training,
                             dropout)
    summed, mean = model.balanced_loss(logit_map, inputs['label'], count_total)
    return (summed if m['loss'] == 'sum' else mean), tf.identity(mean)


def scale_index(seed, count):
    """The scale of the running iteration, drawn in the graph from the run seed and the input
    position (iterations run), uniformly like the reference's per-step choice: the same sequence on
    every device, within one device loop of iterations_per_loop steps, and after a resume."""
    import tensorflow as tf
    u = tf.random.stateless_uniform([], seed=iteration_seed(seed, 'scale'))
    return tf.minimum(tf.cast(u * count, tf.int32), count - 1)


def iteration_seed(seed, purpose):
    """An int64 [2] stateless seed of this training iteration: (named run seed, input position),
    the same however often the iteration is replayed (an exact resume)."""
    import tensorflow as tf
    return tf.stack([tf.constant(reader.derive_seed(seed, purpose), tf.int64),
                     loop.input_position()])


def _scale_step(batch, size, cfg, dp, seed):
    """One scale's forward pass: (objective, loss, total loss, pixel loss), BN updates done first.
    A rank's loss is its part of the global batch's loss, and it takes its share of the weight
    decay (the objective it differentiates)."""
    import tensorflow as tf
    updates_before = len(tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS))
    loss, mean = tower(batch, size, cfg, True, dp.total if dp.distributed else None,
                       (iteration_seed(seed, 'dropout'), dp.shard))
    regularization = tf.compat.v1.losses.get_regularization_loss()
    total = loss + regularization
    share = dp.regularizer_share(LOSS_REDUCTION)
    objective = total if share == 1.0 else loss + share * regularization
    updates = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)[updates_before:]
    with tf.control_dependencies(updates):
        return [tf.identity(t) for t in (objective, loss, total, mean)]


def train_step(batch, cfg, optimizer, global_step, seed, dp):
    """(update op, loss, total loss, pixel loss, scale) of one iteration. Every scale's tower sits
    in one graph behind a switch on scale_index, and the update is applied once after it, so a
    graph has exactly one training op and the adapter's single IterationOp runs N steps per
    session.run whatever the scale (one op per scale would leave all but one unlooped). Cost: the
    graph holds every scale (compiled once); each iteration runs only its own scale."""
    import tensorflow as tf
    sizes = batch_sizes(cfg)
    with tf.name_scope('variables'), sync_batch_norm.plain_batch_norm():
        # variables are created here, outside control flow (initialisers must not sit in a
        # branch); this tower's ops never run (plain batch norm: its updates must not join the
        # data-parallel batch norm's, see sync_batch_norm._ordered_update)
        tower(batch, sizes[0], cfg, True)
    variables = tf.compat.v1.trainable_variables()
    scales = tf.constant(cfg['input']['scales'], tf.float32)
    with dp.batch_norm():
        return _scale_steps(batch, cfg, optimizer, global_step, seed, dp, sizes, variables,
                            scales)


def _scale_steps(batch, cfg, optimizer, global_step, seed, dp, sizes, variables, scales):
    """train_step's update over the scale switch (every tower after the variables exist).

    The switch selects the forward pass only; the gradients are computed once, outside it, on
    the objective it selects (TensorFlow differentiates through the cond). NPU adapters up to
    r1.6.0 allocate the loss-scale optimizer's float status in compute_gradients and read it in
    apply_gradients (Ascend/tensorflow, branch r1.6.0, tf_adapter/python/npu_bridge/estimator/
    npu/npu_loss_scale_optimizer.py): a compute_gradients inside a branch left apply_gradients
    reading a branch that had not run, and the updates stopped."""
    import tensorflow as tf
    if len(sizes) == 1:
        index = tf.constant(0)
        with tf.name_scope('train_%dx%d' % sizes[0]):
            outputs = _scale_step(batch, sizes[0], cfg, dp, seed)
    else:
        index = scale_index(seed, len(sizes))

        def branch(k):
            def build():
                with tf.name_scope('train_%dx%d' % sizes[k]):
                    return _scale_step(batch, sizes[k], cfg, dp, seed)
            return build

        def select(k):
            if k == len(sizes) - 1:
                return branch(k)()
            return tf.compat.v1.cond(tf.equal(index, k), branch(k), lambda: select(k + 1))
        outputs = select(0)
    objective, loss, total, mean = outputs
    grads = [g if g is not None else tf.zeros_like(v)
             for g, v in optimizer.compute_gradients(objective, variables)]
    update = optimizer.apply_gradients(list(zip(grads, variables)), global_step=global_step)
    return loop.count_iterations(update), loss, total, mean, tf.gather(scales, index)


def build(cfg, device, dp=None):
    """The training graph: (Trainable, resolved config). dp (DataParallel): one rank of a
    data-parallel run (its part of the input, batch norm and class balance over the global batch,
    gradients summed over the ranks)."""
    import tensorflow as tf
    dp = dp or DataParallel()
    cfg = resolved(cfg)
    i, t = cfg['input'], cfg['train']
    ckpt = weights.start_checkpoint(cfg)
    info = reader.load_info(i['records'], data.schema_of(i['stage']))
    check_frame_size(info, cfg)
    files, _ = reader.shard_files(i['records'], info, i['train_split'])
    seed = int(t['seed'])
    tf.compat.v1.set_random_seed(seed)
    global_step = tf.compat.v1.train.get_or_create_global_step()
    lr = dp.learning_rate(tf.constant(t['lr'], tf.float32), global_step)
    optimizer = dp.optimizer(tf.compat.v1.train.AdamOptimizer(lr), device,
                             cfg['device']['loss_scale'], LOSS_REDUCTION)
    # one host pipeline (decoded, padded frames): every scale's tower augments the same batch
    with tf.device('/cpu:0'):
        iterator, input_skip = reader.resumable_iterator(lambda skip: data.batches(
            i['records'], i['train_split'], i['stage'], i, seed, True, dp.shard, skip))
        batch, wait = reader.next_batch(iterator, device != 'npu')
    train_op, loss, total, mean, scale = train_step(batch, cfg, optimizer, global_step, seed, dp)
    validation_loss = validation_init = None
    validation_metrics = {}
    if i['validation_split'] and t['validation_batches']:
        size = batch_sizes(dict(cfg, input=dict(i, scales=[1.0])))[0]
        try:
            with tf.device('/cpu:0'):
                validation = tf.compat.v1.data.make_initializable_iterator(data.batches(
                    i['records'], i['validation_split'], i['stage'], i,
                    reader.derive_seed(seed, 'validation'), False))
                vbatch = validation.get_next()
        except reader.RecordsError as err:
            sys.stderr.write('validation disabled: %s\n' % err)
        else:
            validation_init = validation.initializer
            with tf.name_scope('validation'):
                validation_loss, validation_metrics['pixel_loss'] = tower(vbatch, size, cfg,
                                                                          False)
    assignments = weights.start_assignments(cfg, ckpt)
    surgery = model.interp_surgery_ops()

    def init_fn(sess):
        for var, value in assignments:
            var.load(value, sess)
        sess.run(surgery)

    return loop.Trainable(train_op, loss, total, lr, global_step,
                          dp.global_batch(i['batch_size']), iterator.initializer, validation_loss,
                          validation_init,
                          init_fn, input_skip, dict({'pixel_loss': mean, 'scale': scale}, **(
                              {} if wait is None else {'input_wait_s': wait})),
                          validation_metrics, device_lib.loss_scale(optimizer), files), cfg


def check_frame_size(info, cfg):
    """Frames larger than input.max_frame_size would fail a TF assertion on the first step:
    refuse them before training, saying which --set fixes it."""
    height, width = dataset_info.max_frame_size(info)
    limit = cfg['input']['max_frame_size']
    if height > limit[0] or width > limit[1]:
        raise config_lib.ConfigError(
            '%s has frames up to %dx%d (height x width), more than input.max_frame_size %s: run '
            'with --set input.max_frame_size=[%d,%d]' % (
                cfg['input']['records'], height, width, list(limit), max(height, limit[0]),
                max(width, limit[1])))


def parse_args(argv):
    parser = argparse.ArgumentParser(prog='python -m trainers.osmn',
                                     description=__doc__.split('\n\n')[0])
    parser.add_argument('--stage', choices=sorted(STAGES))
    parser.add_argument('--records')
    parser.add_argument('--vgg16', help='ImageNet VGG-16 for a fresh start: TF-slim vgg_16.ckpt '
                        'or a Keras vgg16_weights_tf_dim_ordering_tf_kernels*.h5')
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
    return config_lib.resolve(DEFAULTS, args.config, args.set, flags, TYPES)


def main(argv=None, process_ends=False):
    return cli.main(parse_args, config_from_args, build, argv, process_ends)
