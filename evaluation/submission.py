"""The zips the GOT-10k (test) and TrackingNet (test) servers take, checked for completeness.

    GOT-10k test   <seq>/<seq>_001.txt and <seq>/<seq>_time.txt for every sequence of test/list.txt
    TrackingNet    <seq>.txt (x,y,w,h per frame, comma separated) for every sequence of TEST/anno

A zip lacking a sequence of the split is still written, as <name>-incomplete.zip (as the
YouTube-VOS submission), and the missing names are returned and printed; an earlier zip of
either name is removed first, so the folder never holds a stale complete one.
"""
from __future__ import absolute_import, division, print_function

import os

from datasets import fileio
from evaluation import got10k


def write_zip(path, entries, expected, present):
    """entries [(file, name in the zip)]; expected: the split's sequence names; present: those
    with a result. Writes `path` or its -incomplete twin; returns (written path, missing)."""
    missing = [n for n in expected if n not in set(present)]
    return fileio.write_submission_zip(path, entries, not missing), missing


def got10k_test_zip(layout_dir, tracker, names, path):
    """GOT-10k test submission of a tracker's results in got10k's layout."""
    present, entries = [], []
    for name in names:
        result = got10k.result_path(layout_dir, tracker, name)
        if not os.path.isfile(result):
            continue
        present.append(name)
        entries.append((result, '%s/%s' % (name, os.path.basename(result))))
        times = got10k.times_path(layout_dir, tracker, name)
        if os.path.isfile(times):
            entries.append((times, '%s/%s' % (name, os.path.basename(times))))
    return write_zip(path, entries, names, present)


def trackingnet_zip(results_dir, tracker, names, path):
    """TrackingNet test submission of a tracker's results in our layout (<seq>.txt)."""
    present = [n for n in names if os.path.isfile(os.path.join(results_dir, tracker, n + '.txt'))]
    entries = [(os.path.join(results_dir, tracker, n + '.txt'), n + '.txt') for n in present]
    return write_zip(path, entries, names, present)


def describe(path, missing, total):
    """One line for the user."""
    if not missing:
        return 'submission: %s (%d sequences)' % (path, total)
    return ('submission: %s: INCOMPLETE, %d of %d sequences missing (%s%s); the server refuses '
            'it' % (path, len(missing), total, ', '.join(missing[:5]),
                    ', ...' if len(missing) > 5 else ''))
