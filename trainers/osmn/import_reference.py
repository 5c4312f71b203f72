"""A released OSMN checkpoint (the reference's stage 1 COCO or stage 2 DAVIS model) as a run
directory the segmenter and `--init-from` use (`make import-osmn`).

python -m trainers.osmn.import_reference CKPT RUN_DIR [--stage davis|coco|ytvos]
    [--set input.input_scale=...] [--overwrite]

CKPT is a checkpoint prefix (`.../osmn.ckpt-50000`) or a folder (its latest). Every variable of
the checkpoint is classified by NAME_MAP, a table of (pattern, replacement) tried in order: a
model variable is renamed to ours, optimizer state (Adam / Momentum slots, beta powers,
global_step) is left out on purpose, anything else is an error. The network width is read from
the checkpoint (conv1_1's channels / 64; 1.0 for the released models). The import is refused,
one line naming the variables, when a checkpoint variable maps to nothing, one of ours gets no
value, or a shape differs; a refused import writes nothing. The run directory (written whole:
a temporary sibling renamed at the end) holds config.json (the stage's configuration at that
width), model.ckpt-<reference step> with the model weights only, run.json (where the weights
came from: path, sha256 of the checkpoint's files, the names left out) and summary.json.
"""
from __future__ import absolute_import, division, print_function

import argparse
import glob
import os
import re
import sys

from datasets import fileio
from trainers import checkpoints, run_dir as run_dir_lib
from trainers import config as config_lib
from trainers.osmn import augment, model, train

# (pattern, replacement or None: optimizer state, not imported), first match wins. The
# reference's scopes are ours (trainers/osmn/model.py names its variables after them).
NAME_MAP = (
    (r'^global_step$', None),
    (r'^beta[12]_power(_\d+)?$', None),
    (r'/(Adam|Adam_1|Momentum)(_\d+)?$', None),
    (r'^osmn/(modulator|modulator_sp|seg)/(.+)$', r'osmn/\1/\2'),
)
WIDTH_VARIABLE = 'osmn/seg/conv1/conv1_1/weights'
LISTED = 6   # names per kind in an error line


class ReferenceImportError(ValueError):
    """An import that cannot be done (one line for the user)."""


def classify(names, name_map=NAME_MAP):
    """({our name: checkpoint name}, [left out], [unmapped]) of a checkpoint's variable names."""
    mapped, left_out, unmapped = {}, [], []
    for name in sorted(names):
        for pattern, replacement in name_map:
            if re.search(pattern, name):
                if replacement is None:
                    left_out.append(name)
                else:
                    mapped[re.sub(pattern, replacement, name)] = name
                break
        else:
            unmapped.append(name)
    return mapped, left_out, unmapped


def _listed(names):
    shown = ', '.join(names[:LISTED])
    return shown + (' (+%d more)' % (len(names) - LISTED) if len(names) > LISTED else '')


def check_mapping(mapped, unmapped, shapes, ours):
    """The problems of a mapping, as one line, or None. ours: {name: shape} of the model."""
    problems = []
    if unmapped:
        problems.append('not OSMN variables of this model: %s' % _listed(unmapped))
    without = sorted(set(ours) - set(mapped))
    if without:
        problems.append('no value for: %s' % _listed(without))
    extra = sorted(n for n in set(mapped) - set(ours))
    if extra:
        problems.append('the model has no %s' % _listed([mapped[n] for n in extra]))
    shaped = ['%s %s (the model: %s)' % (mapped[n], list(shapes[mapped[n]]), list(ours[n]))
              for n in sorted(set(mapped) & set(ours))
              if list(shapes[mapped[n]]) != list(ours[n])]
    if shaped:
        problems.append('shapes differ: %s' % _listed(shaped))
    return '; '.join(problems) or None


def checkpoint_path(given):
    import tensorflow as tf
    path = tf.train.latest_checkpoint(given) if os.path.isdir(given) else given
    if not path or not glob.glob(path + '.index'):
        raise ReferenceImportError('%s: no TF checkpoint there (give a prefix such as osmn.ckpt-50000, '
                           'or its folder)' % given)
    return path


def config_for(stage, width, run_dir, assignments=()):
    """The stage's resolved training configuration at the checkpoint's width."""
    cfg = config_lib.resolve(train.DEFAULTS, None, assignments,
                             {'input': {'stage': stage}, 'train': {'run_dir': run_dir}},
                             train.TYPES)
    if cfg['model']['width'] != train.DEFAULTS['model']['width'] and \
            cfg['model']['width'] != width:
        raise ReferenceImportError('model.width %s was set, the checkpoint is width %s'
                           % (cfg['model']['width'], width))
    cfg['model']['width'] = width
    return train.resolved(cfg)


def model_shapes(cfg):
    """{name: shape} of the OSMN model's variables for a configuration (a throwaway graph)."""
    import tensorflow as tf
    with tf.Graph().as_default():
        ph = tf.compat.v1.placeholder
        side = 32
        model.logits(ph(tf.float32, [1, side, side, 3]),
                     ph(tf.float32, [1, augment.GUIDE_SIZE, augment.GUIDE_SIZE, 3]),
                     ph(tf.float32, [1, side, side, 1]), cfg['model'], False)
        return {v.op.name: v.shape.as_list() for v in tf.compat.v1.global_variables()
                if v.op.name.startswith('osmn/')}


def _write_checkpoint(folder, cfg, reader, mapped, step):
    """model.ckpt-<step> in `folder` holding the mapped weights under our names."""
    import tensorflow as tf
    with tf.Graph().as_default():
        shapes = model_shapes(cfg)
        variables = [tf.compat.v1.get_variable(name, shape, tf.float32, trainable=False)
                     for name, shape in sorted(shapes.items())]
        saver = tf.compat.v1.train.Saver(variables, max_to_keep=None)
        with tf.compat.v1.Session() as sess:
            sess.run([v.initializer for v in variables],
                     {v.initializer.inputs[1]: reader.get_tensor(mapped[v.op.name])
                      for v in variables})
            checkpoints.save(saver, sess, folder, step, keep=1)
    return step


def import_reference(given, run_dir, stage='davis', assignments=(), overwrite=False):
    """Write the run directory; returns its run.json contents."""
    import tensorflow as tf
    if os.path.exists(run_dir) and not overwrite:
        raise ReferenceImportError('%s exists: choose a new RUN_DIR or pass --overwrite' % run_dir)
    path = checkpoint_path(given)
    try:
        reader = tf.train.load_checkpoint(path)
    except (tf.errors.OpError, ValueError) as err:
        raise ReferenceImportError('%s cannot be read: %s' % (path, str(err).splitlines()[0]))
    shapes = reader.get_variable_to_shape_map()
    if WIDTH_VARIABLE not in shapes:
        raise ReferenceImportError('%s has no %s: not an OSMN (base model osvos) checkpoint'
                           % (path, WIDTH_VARIABLE))
    width = shapes[WIDTH_VARIABLE][-1] / 64.0
    cfg = config_for(stage, width, run_dir, assignments)
    mapped, left_out, unmapped = classify(shapes)
    problem = check_mapping(mapped, unmapped, shapes, model_shapes(cfg))
    if problem:
        raise ReferenceImportError('%s does not map onto OSMN (width %g): %s' % (path, width, problem))
    step = int(reader.get_tensor('global_step')) if 'global_step' in shapes else 0
    record = {'imported_from': given, 'checkpoint': os.path.basename(path),
              'checkpoint_sha256': fileio.sha256_files(
                  sorted(glob.glob(path + '.index') + glob.glob(path + '.data-*'))),
              'reference_step': step, 'variables': len(mapped), 'left_out': left_out}
    run_dir_lib.write_imported(run_dir, cfg, record,
                               lambda folder: _write_checkpoint(folder, cfg, reader, mapped, step))
    return record


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m trainers.osmn.import_reference',
                                     description=__doc__.split('\n\n')[0])
    parser.add_argument('checkpoint', help='reference checkpoint prefix or folder')
    parser.add_argument('run_dir', help='run directory to write')
    parser.add_argument('--stage', default='davis', choices=sorted(train.STAGES),
                        help='configuration written with it (default davis: the stage-2 model)')
    parser.add_argument('--set', action='append', default=[], metavar='KEY=VALUE',
                        help='configuration overrides, e.g. input.input_scale=0.5')
    parser.add_argument('--overwrite', action='store_true')
    args = parser.parse_args(argv)
    try:
        record = import_reference(args.checkpoint, args.run_dir, args.stage, args.set,
                                  args.overwrite)
    except (ReferenceImportError, config_lib.ConfigError, OSError) as err:
        sys.stderr.write('error: %s\n' % err)
        return 1
    sys.stderr.write('imported %d variables of %s (step %d; left out %d optimizer entries) -> '
                     '%s\n' % (record['variables'], args.checkpoint, record['reference_step'],
                               len(record['left_out']), args.run_dir))
    return 0


if __name__ == '__main__':
    sys.exit(main())
