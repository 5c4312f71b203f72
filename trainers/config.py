"""Configuration as data: nested dicts of defaults, overridden by a JSON file and `--set a.b=v`,
then checked against declared types and ranges before anything is written.

Every trainer keeps one dict per concern (model, input, train, device, parallel) and, beside it,
one dict of the same shape declaring what each key accepts (`integer(1)`, `number(above=0)`,
`one_of(...)`, ...). `resolve(..., types=...)` refuses a value outside its declaration with one
line naming the key, the value and what is accepted. The fully resolved dict is written to the
run directory as config.json, so a run can be reproduced from it alone.
"""
from __future__ import absolute_import, division, print_function

import copy
import json

from trainers import device as device_lib
from trainers import guard as guard_lib
from trainers.distributed import settings as parallel_settings
# the declaration helpers, re-exported: trainers declare their keys as config_lib.integer(1), ...
from trainers.accepts import (  # noqa: F401
    AUTOTUNE, ConfigError, boolean, check, integer, json_object_or_text, list_of, number, one_of,
    optional, parallelism, shown, text)


# Names of the reference implementation accepted for the input parallelism knobs.
INPUT_ALIASES = {'prefetch_threads': 'num_parallel_calls', 'prefetch_capacity': 'prefetch'}


# -- defaults shared by the trainers, each with its declaration -----------------------------------

DEVICE = {
    'device': 'auto',                       # auto | npu | gpu | cpu
    'precision_mode': 'allow_mix_precision',
    'iterations_per_loop': 1,               # > 1: GetNext sinking + iteration offload (NPU only)
    'loss_scale': {'init': 2.0 ** 32, 'incr_every_n_steps': 1000,
                   'decr_every_n_nan_or_inf': 2, 'decr_ratio': 0.5},
    'npu': dict(device_lib.NPU_OPTIONS),    # the adapter's debug switches (device.NPU_OPTIONS)
}
DEVICE_TYPES = {
    'device': one_of(*device_lib.DEVICES),
    # the precision modes of CANN's NpuOptimizer
    'precision_mode': one_of('allow_mix_precision', 'force_fp32', 'force_fp16',
                             'must_keep_origin_dtype', 'allow_fp32_to_fp16'),
    'iterations_per_loop': integer(1),
    'loss_scale': {'init': number(above=0), 'incr_every_n_steps': integer(1),
                   'decr_every_n_nan_or_inf': integer(1), 'decr_ratio': number(above=0, below=1)},
    # device.NPU_OPTIONS; the combinations (a dump needs dump_path, ...) are checked by device.py
    'npu': {
        'hcom_parallel': boolean(), 'enable_dump': boolean(), 'dump_path': optional(text()),
        'dump_step': optional(text()), 'dump_mode': one_of('input', 'output', 'all'),
        'enable_dump_debug': boolean(),
        'dump_debug_mode': one_of('aicore_overflow', 'atomic_overflow', 'all'),
        'profiling_mode': boolean(), 'profiling_options': optional(json_object_or_text()),
        'modify_mixlist': optional(text()), 'fusion_switch_file': optional(text()),
    },
}

# The training loop's keys (trainers/loop.py); each trainer adds its optimizer's.
TRAIN = {
    'run_dir': 'runs/default',
    'steps': 1000,
    'seed': 0,
    'log_every': 10,
    'checkpoint_every': 1000,               # 0: only at the end
    'keep_checkpoints': 5,                  # 0: keep every checkpoint
    'validate_every': 500,
    'validation_batches': 10,
    'allow_changed_records': False,         # resume on records other than the run started on
    'divergence': dict(guard_lib.DEFAULTS),
}
TRAIN_TYPES = {
    'run_dir': text(),
    'steps': integer(1),
    'seed': integer(0),
    'log_every': integer(0),
    'checkpoint_every': integer(0),
    'keep_checkpoints': integer(0),
    'validate_every': integer(0),
    'validation_batches': integer(0),
    'allow_changed_records': boolean(),
    'divergence': guard_lib.TYPES,
}

# Declarations of the `parallel` section (PARALLEL, beside LR_SCALING and COMMUNICATION).
PARALLEL_TYPES = {
    'startup_timeout_s': number(above=0),
    'step_timeout_s': number(above=0),
    'lr_scaling': one_of(*parallel_settings.LR_SCALING),
    'warmup_steps': integer(0),
    'communication': one_of(*parallel_settings.COMMUNICATION),
    'pack_mb': number(above=0),
}


# -- resolving ------------------------------------------------------------------------------------

def merge(base, overrides, path=''):
    """Deep copy of `base` with `overrides` applied; unknown keys are an error (typos fail)."""
    if not isinstance(overrides, dict):
        raise ConfigError('%s = %s is not accepted: expected a section with the keys %s'
                          % (path or 'the configuration', shown(overrides),
                             ', '.join(sorted(base))))
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        key = INPUT_ALIASES.get(key, key) if path.endswith('input') else key
        where = '%s.%s' % (path, key) if path else key
        if key not in out:
            raise ConfigError('unknown config key %s (known: %s)' % (where, ', '.join(sorted(out))))
        if isinstance(out[key], dict):
            out[key] = merge(out[key], value, where)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_assignment(assignment):
    """'train.steps=100' -> {'train': {'steps': 100}}; values are JSON, else strings."""
    if '=' not in assignment:
        raise ConfigError('--set needs key=value, got %r' % assignment)
    key, raw = assignment.split('=', 1)
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    out = value
    for part in reversed(key.strip().split('.')):
        out = {part: out}
    return out


def load_file(path):
    """The overrides of a --config JSON file; a missing or malformed file is one line."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as err:
        raise ConfigError('cannot read --config %s: %s' % (path, str(err).split('\n')[0]))


def resolve(defaults, config_file=None, assignments=(), flags=None, types=None):
    """defaults <- JSON file <- --set assignments <- explicit CLI flags (dict of overrides),
    checked against `types` (the declarations beside the defaults) when given."""
    config = copy.deepcopy(defaults)
    if config_file:
        config = merge(config, load_file(config_file))
    for assignment in assignments:
        config = merge(config, parse_assignment(assignment))
    if flags:
        config = merge(config, flags)
    if types is not None:
        check(config, types)
    return config


def dump(config, path):
    with open(path, 'w') as f:
        json.dump(config, f, indent=1, sort_keys=True)
        f.write('\n')
