"""The device layer: the only module of the project that knows about Ascend NPUs.

`--device auto|npu|gpu|cpu`. The NPU path follows the CANN TF adapter's session-config mode
(its documentation and the Ascend/tensorflow tf_adapter sources): the `NpuOptimizer` custom
graph optimizer with `use_off_line`, `precision_mode` (default allow_mix_precision) and `mix_compile_mode` off;
Grappler remapping and memory optimisation off; loss scaling through npu_bridge's
NPULossScaleOptimizer with an exponential-update manager; with iterations_per_loop > 1, GetNext
sinking (`enable_data_pre_proc`) and the device-side training loop. `npu_bridge` ships with
Huawei's CANN toolkit, not PyPI, so it is imported only here and only on the NPU path.
"""
from __future__ import absolute_import, division, print_function

import importlib
import json
import os

DEVICES = ('auto', 'npu', 'gpu', 'cpu')
NPU_BRIDGE_HELP = (
    '--device npu needs the Python package npu_bridge (the TensorFlow adapter of Huawei CANN). '
    'It is not on PyPI: install the CANN toolkit and its TensorFlow 1.15 plugin (the '
    'npu_bridge-1.15.0 wheel built from Ascend/tensorflow tf_adapter, or the one shipped with '
    'CANN), then `source <CANN install>/set_env.sh` before training.')


class DeviceError(RuntimeError):
    pass


def _npu_bridge():
    """The npu_bridge modules we use, or DeviceError naming the missing package."""
    try:
        return {
            'npu_init': importlib.import_module('npu_bridge.npu_init'),
            'util': importlib.import_module('npu_bridge.estimator.npu.util'),
        }
    except ImportError as err:
        raise DeviceError('%s (import failed: %s)' % (NPU_BRIDGE_HELP, err))


def npu_available():
    try:
        importlib.import_module('npu_bridge')
        return True
    except ImportError:
        return False


def _gpu_available():
    # list_physical_devices only enumerates; list_local_devices() would create every GPU device
    # and reserve its memory, defeating allow_growth for the session that follows
    import tensorflow as tf
    return bool(tf.config.experimental.list_physical_devices('GPU'))


def resolve(device):
    """'auto' -> npu if npu_bridge imports, else gpu if TF sees one, else cpu."""
    if device not in DEVICES:
        raise DeviceError('device must be one of %s, got %r' % (DEVICES, device))
    if device == 'auto':
        return 'npu' if npu_available() else ('gpu' if _gpu_available() else 'cpu')
    if device == 'npu':
        _npu_bridge()
    return device


# The adapter's debug and tuning switches (`--set device.npu.KEY=VALUE`), NpuOptimizer
# parameters of the session config on the NPU (names as in the adapter's npu_config.py and
# Huawei's ModelZoo scripts); ignored on other devices.
NPU_OPTIONS = {
    # all-reduce of each gradient as soon as the backward pass made it, overlapped with the rest
    # of the backward pass (NPUS > 1); the sums are the same, only their timing changes
    'hcom_parallel': False,
    # data dump of every op's tensors: DUMP_PATH/<time>/<device id>/<model>/<step>/, binary dump
    # files that CANN's accuracy comparison tool (msaccucmp) reads; dump_step "0|5|10-20",
    # dump_mode input | output | all
    'enable_dump': False,
    'dump_path': None,
    'dump_step': None,
    'dump_mode': 'output',
    # overflow dump: the inputs and outputs of every op that overflowed, also under dump_path;
    # dump_debug_mode aicore_overflow | atomic_overflow | all
    'enable_dump_debug': False,
    'dump_debug_mode': 'all',
    # profiling: profiling_options is the adapter's JSON, e.g. {"output": "/abs/dir",
    # "training_trace": "on", "task_trace": "on", "fp_point": "", "bp_point": ""}: op and task
    # timelines under "output", read with CANN's msprof
    'profiling_mode': False,
    'profiling_options': None,
    # JSON file moving op types between the allow_mix_precision lists, e.g. keeping a summed
    # loss's reduction in fp32: {"black-list": {"to-add": ["ReduceSum"]}}
    'modify_mixlist': None,
    # JSON file switching graph / UB fusion passes off, e.g. while comparing with a CPU run
    'fusion_switch_file': None,
}


def _npu_parameters(options):
    """(name, kind, value) NpuOptimizer parameters of NPU_OPTIONS-like `options`, checked."""
    o = dict(NPU_OPTIONS, **(options or {}))
    unknown = sorted(set(o) - set(NPU_OPTIONS))
    if unknown:
        raise DeviceError('unknown device.npu option(s) %s (known: %s)'
                          % (', '.join(unknown), ', '.join(sorted(NPU_OPTIONS))))
    if (o['enable_dump'] or o['enable_dump_debug']) and not o['dump_path']:
        raise DeviceError('device.npu.enable_dump and enable_dump_debug need device.npu.dump_path')
    if o['profiling_mode'] and not o['profiling_options']:
        raise DeviceError('device.npu.profiling_mode needs device.npu.profiling_options (the '
                          'adapter\'s JSON with an "output" directory)')
    out = [('hcom_parallel', 'b', bool(o['hcom_parallel']))]
    if o['enable_dump'] or o['enable_dump_debug']:
        out.append(('dump_path', 's', os.path.abspath(o['dump_path'])))
    if o['enable_dump']:
        out += [('enable_dump', 'b', True), ('dump_mode', 's', o['dump_mode'])]
        if o['dump_step']:
            out.append(('dump_step', 's', str(o['dump_step'])))
    if o['enable_dump_debug']:
        out += [('enable_dump_debug', 'b', True), ('dump_debug_mode', 's', o['dump_debug_mode'])]
    if o['profiling_mode']:
        profiling = o['profiling_options']
        out += [('profiling_mode', 'b', True), ('profiling_options', 's', profiling if
                                                 isinstance(profiling, str) else
                                                 json.dumps(profiling))]
    for key in ('modify_mixlist', 'fusion_switch_file'):
        if o[key]:
            out.append((key, 's', os.path.abspath(o[key])))
    return out


def session_config(device, precision_mode='allow_mix_precision', iterations_per_loop=1,
                   npu_options=None):
    """The tf.ConfigProto for a resolved device. Building it needs no npu_bridge (tests check it
    everywhere); running an NPU session does. npu_options: NPU_OPTIONS overrides."""
    import tensorflow as tf
    from tensorflow.core.protobuf.rewriter_config_pb2 import RewriterConfig
    config = tf.compat.v1.ConfigProto(allow_soft_placement=True)
    if device == 'npu':
        custom = config.graph_options.rewrite_options.custom_optimizers.add()
        custom.name = 'NpuOptimizer'
        custom.parameter_map['use_off_line'].b = True
        custom.parameter_map['precision_mode'].s = tf.compat.as_bytes(precision_mode)
        custom.parameter_map['mix_compile_mode'].b = False
        if iterations_per_loop > 1:
            custom.parameter_map['enable_data_pre_proc'].b = True
            custom.parameter_map['iterations_per_loop'].i = iterations_per_loop
        for name, kind, value in _npu_parameters(npu_options):
            if kind == 'b':
                custom.parameter_map[name].b = value
            else:
                custom.parameter_map[name].s = tf.compat.as_bytes(value)
        config.graph_options.rewrite_options.remapping = RewriterConfig.OFF
        config.graph_options.rewrite_options.memory_optimization = RewriterConfig.OFF
    elif device == 'gpu':
        config.gpu_options.allow_growth = True
    elif device != 'cpu':
        raise DeviceError('session_config needs a resolved device, got %r' % device)
    return config


def steps_per_run(device, iterations_per_loop):
    """Training steps one sess.run performs: iterations_per_loop on the NPU, else 1."""
    return iterations_per_loop if device == 'npu' else 1


def wrap_optimizer(optimizer, device, loss_scale, collectives=None, reduction='mean',
                   pack_mb=32):
    """The optimizer a trainer minimises with.

    NPU: loss scaling with an exponential-update manager. With `collectives` (a data-parallel
    run), gradients are all-reduced over the ranks first: on the NPU by the adapter's
    NPUDistributedOptimizer (HCCL, a mean over the ranks; times the rank count for a summed
    loss, `reduction='sum'`), inside a loss-scale optimizer with is_distributed=True so that every
    rank skips the same overflow steps; elsewhere by the collective engine's optimizer
    (gradients.distributed_optimizer). Without collectives, off the NPU: the optimizer as is."""
    from trainers.distributed import gradients
    if device != 'npu':
        if collectives is None:
            return optimizer
        return gradients.distributed_optimizer(optimizer, collectives, reduction, pack_mb)
    npu = _npu_bridge()['npu_init']
    manager = npu.ExponentialUpdateLossScaleManager(
        init_loss_scale=loss_scale['init'],
        incr_every_n_steps=loss_scale['incr_every_n_steps'],
        decr_every_n_nan_or_inf=loss_scale['decr_every_n_nan_or_inf'],
        decr_ratio=loss_scale['decr_ratio'])
    if collectives is None:
        wrapped = npu.NPULossScaleOptimizer(optimizer, manager)
    else:
        distributed = npu.NPUDistributedOptimizer(optimizer)
        if reduction == 'sum':  # the adapter averages; a summed loss wants the sum
            ranks = float(collectives.topology.size)
            distributed = gradients.gradient_transform(distributed, lambda gv: [
                (None if g is None else g * ranks, v) for g, v in gv], 'Summed')
        wrapped = npu.NPULossScaleOptimizer(distributed, manager, is_distributed=True)
    wrapped.loss_scale_tensor = manager.get_loss_scale()  # read by the divergence guard
    return wrapped


class HcclCollectives(object):
    """Collectives' interface (all_reduce, broadcast, broadcast_list) on the adapter's
    HCCL ops, so the engine-independent helpers of trainers/distributed/ (variable broadcast,
    agreement and stop checks, synchronised batch norm) run on Ascend ranks too."""

    def __init__(self, topology):
        self.topology = topology

    def all_reduce(self, tensor, reduction='mean', reserved=False):
        """Sum or mean over the ranks, unfused (fusion=0, as the adapter's own overflow flag):
        these are the loop's and batch norm's small all-reduces, not gradients. `reserved` is
        for the collective engine's instance keys; HCCL pairs ops by their order in the run."""
        if reduction not in ('mean', 'sum'):
            raise ValueError('reduction must be mean or sum, got %r' % reduction)
        hccl = _hccl_ops()
        total = hccl.allreduce(tensor, 'sum', fusion=0)
        return total / float(self.topology.size) if reduction == 'mean' else total

    def broadcast(self, tensor, reserved=False):
        return self.broadcast_list([tensor])[0]

    def broadcast_list(self, tensors):
        """Rank 0's values of several tensors in one HcomBroadcast (the adapter fuses them)."""
        return list(_hccl_ops().broadcast(list(tensors), 0))


def _hccl_ops():
    try:
        return importlib.import_module('npu_bridge.hccl.hccl_ops')
    except ImportError as err:
        raise DeviceError('%s (import failed: %s)' % (NPU_BRIDGE_HELP, err))


# HCCL's own timeouts (seconds; CANN's defaults are 120 to connect and 600 or 1800 to wait in a
# collective) must outlast the run's: rank 0 restores weights and validates alone while the
# other ranks wait in their next collective, and our watchdog (parallel.startup_timeout_s and
# step_timeout_s) should be the one that stops a stuck run, naming the lost rank.
HCCL_TIMEOUT_MARGIN_S = 60
HCCL_TIMEOUT_LIMITS = {'HCCL_CONNECT_TIMEOUT': (120, 7200), 'HCCL_EXEC_TIMEOUT': (0, 17340)}


def hccl_timeouts(parallel_cfg):
    """{HCCL_CONNECT_TIMEOUT, HCCL_EXEC_TIMEOUT: seconds as text} from the run's timeouts."""
    longest = max(parallel_cfg['startup_timeout_s'], parallel_cfg['step_timeout_s'])
    wanted = int(longest) + HCCL_TIMEOUT_MARGIN_S
    return {name: str(min(max(wanted, low), high))
            for name, (low, high) in HCCL_TIMEOUT_LIMITS.items()}


def hccl_collectives(topology, parallel_cfg=None):
    """The collectives of an HCCL topology (RANK_SIZE > 1 with a rank table, on NPUs). With the
    run's parallel config, HCCL's timeouts are set from it (before any session starts HCCL)
    unless the environment already has them."""
    if topology.engine != 'hccl':
        raise DeviceError('HCCL collectives need an hccl topology (RANK_SIZE > 1 and '
                          'RANK_TABLE_FILE), not %s' % topology.engine)
    if parallel_cfg is not None:
        for name, value in hccl_timeouts(parallel_cfg).items():
            os.environ.setdefault(name, value)
    return HcclCollectives(topology)


def loss_scale(optimizer):
    """The current loss scale (scalar tensor) of an optimizer from wrap_optimizer, or None."""
    return getattr(optimizer, 'loss_scale_tensor', None)


def loss_scaling(device):
    """True where overflowing steps are skipped by loss scaling (the update and the global_step
    increment are left out on such a step)."""
    return device == 'npu'


def prepare_train_op(sess, train_op, device, iterations_per_loop):
    """On the NPU, the op that runs iterations_per_loop steps per sess.run (the adapter returns
    the op itself for 1).

    The adapter loops only the op named exactly `IterationOp`, so a graph gets at most one: call
    this once per graph, with the single op of one training step (trainers select what varies
    per step, e.g. OSMN's scale, inside that op)."""
    if device != 'npu':
        return train_op
    return _npu_bridge()['util'].set_iteration_per_loop(sess, train_op, iterations_per_loop)


# -- op placement ---------------------------------------------------------------------------
# Op types of the training graphs that are not plain conv / matmul / elementwise / reduction /
# shape work, and what the project chose for each on the NPU. Ops the device cannot run stay on
# the host and split every step into host and device parts (ecosystem.md 4.8). A test lists the
# op types of both trainers' training graphs (op_types) and fails on any type outside
# PLAIN_OP_TYPES and this table, so a new one gets reviewed before it reaches a 910.
TRAINING_OP_REVIEW = {
    'CropAndResize': 'device, float32 input only: the uint8 frames and masks are cast first '
                     '(exact); SA-Siam augmentation and OSMN resizing, guides and labels',
    'TopKV2': 'device (argsort of the OSMN heatmap median): values are pixel coordinates, exact '
              'in fp16 up to 2048, so mixed precision cannot change the order',
    'Cumsum': 'device, int32 (pixel counts of the OSMN median; fp16 would overflow at 65504 '
              'pixels, integer ops are never cast by allow_mix_precision)',
    'GatherV2': 'device (batch_dims gathers of the median and the nearest rotation): int32 '
                'indices, values exact as above',
    'ArgMax': 'device: int32 input in the OSMN median (first cumulative count past the order '
              'statistic); the SA-Siam validation metric\'s response peak (float32, 17x17)',
    'Sin': 'device, one value per sample (the guide rotation); float32, a [B] vector',
    'Cos': 'device, one value per sample (the guide rotation); float32, a [B] vector',
    'StatelessRandomUniform': 'device, float32 (OSMN: the scale of the iteration and the '
                              'dropout masks, from the run seed and the input position)',
    'RandomUniform': 'device, float32: variable initialisers (run once at the start) and the '
                     'dropout of OSMN\'s variable-creating tower, which never runs',
    'RandomStandardNormal': 'device, float32: variable initialisers (run once at the start)',
    'DynamicStitch': 'device (gradient bookkeeping of reductions), int32 indices',
    'Switch': 'device (OSMN: the scale switch inside the one looped training op)',
    'Merge': 'device (OSMN: the scale switch inside the one looped training op)',
    'RefSwitch': 'device (OSMN: the scale switch inside the one looped training op)',
    'LRN': 'device (the frozen CaffeNet of the SA-Siam semantic branch, forward only)',
    'Timestamp': 'host, CPU/GPU runs only: around the input\'s GetNext (input_wait_s); not '
                 'built on the NPU, where GetNext sinks into the device graph',
}

PLAIN_OP_TYPES = frozenset('''
    Abs Add AddN AddV2 ApplyAdam ApplyGradientDescent ApplyMomentum Assign AssignAdd AssignSub
    AvgPool AvgPoolGrad BiasAdd BiasAddGrad BroadcastGradientArgs Cast Ceil ConcatOffset ConcatV2
    Const Conv2D Conv2DBackpropFilter Conv2DBackpropInput DepthwiseConv2dNative
    DepthwiseConv2dNativeBackpropFilter DepthwiseConv2dNativeBackpropInput Equal Exp Fill Floor
    FloorDiv FloorMod FusedBatchNormGradV3 FusedBatchNormV3 Greater GreaterEqual Identity
    InvertPermutation L2Loss Less Log Log1p LogicalAnd LogicalNot LogicalOr MatMul Max MaxPool
    MaxPoolGrad Maximum Mean Minimum Mul Neg NoOp Pack Pad PlaceholderWithDefault Placeholder Pow
    Range RealDiv Reciprocal Relu ReluGrad Reshape ReverseV2 Round Rsqrt Select Shape ShapeN
    Sigmoid SigmoidGrad Slice Split Sqrt Square Squeeze StridedSlice StridedSliceGrad Sub Sum Tile
    Transpose Unpack VariableV2 ZerosLike
'''.split())


def op_types(graph):
    """{op type: count} of a training graph, without the tf.data input pipeline (host side by
    construction: datasets, iterators)."""
    counts = {}
    for op in graph.get_operations():
        if op.type.endswith('Dataset') or op.type.endswith('DatasetV2') or 'Iterator' in op.type:
            continue
        counts[op.type] = counts.get(op.type, 0) + 1
    return counts


def not_plain_ops(graph):
    """The op types of a training graph beyond PLAIN_OP_TYPES, sorted: what to check against
    $ASCEND_OPP_PATH/framework/built-in/tensorflow/npu_supported_ops.json on a new CANN release."""
    return sorted(t for t in op_types(graph) if t not in PLAIN_OP_TYPES)


def unreviewed_op_types(graph):
    """not_plain_ops(graph) that TRAINING_OP_REVIEW does not cover (a test wants none)."""
    return [t for t in not_plain_ops(graph) if t not in TRAINING_OP_REVIEW]
