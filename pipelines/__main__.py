"""python -m pipelines <dataset> --data ROOT --out DIR [options] [Beam flags]

The dataset modules are imported by name (not run as __main__) so that the classes Beam pickles
to its workers resolve to importable modules.
"""
from __future__ import absolute_import, division, print_function

import difflib
import importlib
import os
import sys

# dataset -> (module, function, what it converts)
DATASETS = {
    'vid': ('pipelines.vid', 'main', 'ILSVRC2015-VID -> vid_track records (SA-Siam)'),
    'coco': ('pipelines.coco', 'main', 'COCO 2017 -> coco_instances records (OSMN pre-training)'),
    'davis': ('pipelines.vos', 'davis_main', 'DAVIS 2016/2017 -> vos_video records (OSMN)'),
    'ytvos': ('pipelines.vos_sources', 'ytvos_main',
              'YouTube-VOS 2018/2019 -> vos_video records (OSMN)'),
    'mose': ('pipelines.vos_sources', 'mose_main', 'MOSE -> vos_video records (OSMN)'),
    'got10k': ('pipelines.track', 'got10k_main', 'GOT-10k -> vid_track records (SA-Siam)'),
    'lasot': ('pipelines.track', 'lasot_main', 'LaSOT -> vid_track records (SA-Siam)'),
    'track': ('pipelines.track', 'folders_main',
              'labelled sequence folders -> vid_track records (SA-Siam)'),
}


def usage():
    lines = ['usage: python -m pipelines <dataset> --data ROOT --out DIR [options]', '',
             'datasets:']
    lines += ['  %-6s %s' % (name, DATASETS[name][2]) for name in sorted(DATASETS)]
    lines += ['', '`python -m pipelines <dataset> --help` lists its options and defaults.']
    return '\n'.join(lines) + '\n'


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ('-h', '--help'):
        sys.stdout.write(usage())
        return 0
    if not argv or argv[0] not in DATASETS:
        close = difflib.get_close_matches(argv[0], sorted(DATASETS), n=1) if argv else []
        sys.stderr.write(usage() if not argv else 'error: unknown dataset %r%s; choose from %s\n'
                         % (argv[0], ' (did you mean %s?)' % close[0] if close else '',
                            ', '.join(sorted(DATASETS))))
        return 2
    module, function, _ = DATASETS[argv[0]]
    return getattr(importlib.import_module(module), function)(argv[1:])


def command_line():
    """`python -m pipelines`: main() as this process's whole life. After Ctrl-C the process
    ends at once (os._exit): Beam's runner threads and workers are not waited for, which can
    take as long as their current unit or abort in gRPC at interpreter exit."""
    from pipelines import cli
    cli.COMMAND_LINE = True
    code = main()
    if code == cli.INTERRUPTED:
        sys.stdout.flush()
        os._exit(code)
    return code


if __name__ == '__main__':
    sys.exit(command_line())
