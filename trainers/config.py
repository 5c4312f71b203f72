"""Configuration as data: nested dicts of defaults, overridden by a JSON file and `--set a.b=v`.

Every trainer keeps one dict per concern (model, input, train, device); the fully resolved dict is
written to the run directory as config.json, so a run can be reproduced from it alone.
"""
from __future__ import absolute_import, division, print_function

import copy
import json

from trainers.device import NPU_OPTIONS

AUTOTUNE = -1  # tf.data.experimental.AUTOTUNE, kept here so configs stay plain JSON

DEVICE = {
    'device': 'auto',                       # auto | npu | gpu | cpu
    'precision_mode': 'allow_mix_precision',
    'iterations_per_loop': 1,               # > 1: GetNext sinking + iteration offload (NPU only)
    'loss_scale': {'init': 2.0 ** 32, 'incr_every_n_steps': 1000,
                   'decr_every_n_nan_or_inf': 2, 'decr_ratio': 0.5},
    'npu': dict(NPU_OPTIONS),               # the adapter's debug switches (device.NPU_OPTIONS)
}

# Names of the reference implementation accepted for the input parallelism knobs.
INPUT_ALIASES = {'prefetch_threads': 'num_parallel_calls', 'prefetch_capacity': 'prefetch'}


class ConfigError(ValueError):
    pass


def merge(base, overrides, path=''):
    """Deep copy of `base` with `overrides` applied; unknown keys are an error (typos fail)."""
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        key = INPUT_ALIASES.get(key, key) if path.endswith('input') else key
        where = '%s.%s' % (path, key) if path else key
        if key not in out:
            raise ConfigError('unknown config key %s (known: %s)' % (where, ', '.join(sorted(out))))
        if isinstance(out[key], dict) and isinstance(value, dict):
            out[key] = merge(out[key], value, where)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_assignment(text):
    """'train.steps=100' -> {'train': {'steps': 100}}; values are JSON, else strings."""
    if '=' not in text:
        raise ConfigError('--set needs key=value, got %r' % text)
    key, raw = text.split('=', 1)
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    out = value
    for part in reversed(key.strip().split('.')):
        out = {part: out}
    return out


def resolve(defaults, config_file=None, assignments=(), flags=None):
    """defaults <- JSON file <- --set assignments <- explicit CLI flags (dict of overrides)."""
    config = copy.deepcopy(defaults)
    if config_file:
        with open(config_file) as f:
            config = merge(config, json.load(f))
    for text in assignments:
        config = merge(config, parse_assignment(text))
    if flags:
        config = merge(config, flags)
    return config


def dump(config, path):
    with open(path, 'w') as f:
        json.dump(config, f, indent=1, sort_keys=True)
        f.write('\n')
