"""Write the sample datasets: python -m sampledata --out data/sample [--size small] [--corrupt]."""
from __future__ import absolute_import, division, print_function

import argparse
import json
import time

from sampledata import COUNTS, DATASETS, SIZES, generate


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--out', required=True, help='output directory (written atomically)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--size', choices=sorted(SIZES), default='real',
                        help='real: frame sizes of the released data; small: for tests')
    parser.add_argument('--corrupt', action='store_true',
                        help='also add one of each kind of bad input (listed in the manifest)')
    parser.add_argument('--datasets', default=','.join(DATASETS),
                        help='comma-separated subset of %s' % ','.join(DATASETS))
    parser.add_argument('--overwrite', action='store_true', help='replace an existing --out')
    parser.add_argument('--frame-size', action='append', default=[], metavar='DATASET=WxH',
                        help='frame size of vid, davis or ytvos instead of --size\'s, e.g. '
                             'vid=854x480 (ILSVRC2015-VID has both); repeatable')
    for dataset, counts in sorted(COUNTS.items()):
        for key, default in sorted(counts.items()):
            parser.add_argument('--%s-%s' % (dataset, key.replace('_', '-')), type=int,
                                default=default, dest='%s__%s' % (dataset, key),
                                help='%s: %s (default %d)'
                                % (dataset, key.replace('_', ' '), default))
    args = parser.parse_args(argv)
    counts = {}
    for dataset, defaults in COUNTS.items():
        counts[dataset] = {k: getattr(args, '%s__%s' % (dataset, k)) for k in defaults}
    frame_sizes = {}
    for item in args.frame_size:
        try:
            name, wh = item.split('=')
            frame_sizes[name] = tuple(int(v) for v in wh.lower().split('x'))
            assert len(frame_sizes[name]) == 2
        except (ValueError, AssertionError):
            parser.error('--frame-size %s: expected DATASET=WIDTHxHEIGHT, e.g. vid=854x480'
                         % item)
    start = time.time()
    try:
        manifest = generate(args.out, args.seed, args.size, args.corrupt,
                            [d for d in args.datasets.split(',') if d], counts, args.overwrite,
                            frame_sizes)
    except (ValueError, FileExistsError) as err:
        parser.error(str(err))
    for name, entry in sorted(manifest['datasets'].items()):
        print('%-6s %-12s %s' % (name, entry['root'], json.dumps(entry['clean'], sort_keys=True)))
    if manifest['faults']:
        print('%d injected bad inputs (see %s/sample_manifest.json)' % (len(manifest['faults']),
                                                                       args.out))
    print('wrote %s in %.1f s' % (args.out, time.time() - start))


if __name__ == '__main__':
    main()
