"""python -m pipelines <dataset> --data ROOT --out DIR [options] [Beam flags]

The dataset modules are imported by name (not run as __main__) so that the classes Beam pickles
to its workers resolve to importable modules.
"""
from __future__ import absolute_import, division, print_function

import importlib
import sys

# dataset -> (module, function)
DATASETS = {'vid': ('pipelines.vid', 'main'), 'coco': ('pipelines.coco', 'main'),
            'davis': ('pipelines.vos', 'davis_main'), 'ytvos': ('pipelines.vos', 'ytvos_main')}


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in DATASETS:
        sys.stderr.write('usage: python -m pipelines {%s} --help\n' % ','.join(sorted(DATASETS)))
        return 2
    module, function = DATASETS[argv[0]]
    return getattr(importlib.import_module(module), function)(argv[1:])


if __name__ == '__main__':
    sys.exit(main())
