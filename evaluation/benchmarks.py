"""Each benchmark's evaluation of result folders (<results>/<tracker>/<seq>.txt, times/):

    otb, vid, uav123, nfs, tc128   got10k's OPE report (evaluation.otb) + normalised precision,
                                   per-attribute scores where the benchmark has attributes
    lasot                          pysot-toolkit's OPE definitions (evaluation.ope), per class
    got10k val                     got10k's AO / SR0.5 / SR0.75 / speed (evaluation.got10k) on
                                   the results copied into its layout (<out>/got10k/)
    got10k test, trackingnet       the servers' submission zips (evaluation.submission)
"""
from __future__ import absolute_import, division, print_function

import os

from evaluation import got10k, ope, otb, submission


def _submissions(benchmark, results_dir, trackers, out_dir):
    names = [s.name for s in benchmark.sequences]
    lines = []
    for tracker in trackers:
        stem = os.path.join(out_dir, 'submissions', '%s_%s_%s.zip' % (
            tracker, benchmark.name, benchmark.split))
        if benchmark.name == 'got10k':
            layout = os.path.join(out_dir, 'got10k')
            got10k.write_layout(results_dir, tracker, names, layout)
            path, missing = submission.got10k_test_zip(layout, tracker, names, stem)
        else:
            path, missing = submission.trackingnet_zip(results_dir, tracker, names, stem)
        lines.append(submission.describe(path, missing, len(names)))
    return lines


def evaluate(benchmark, results_dir, trackers, out_dir, report_dir=None):
    """Evaluate (or package) trackers' results on a benchmark (datasets.benchmarks.Benchmark);
    reports under <report_dir, default out_dir/reports>/<first tracker>/, GOT-10k's layout in
    <out_dir>/got10k/, zips in <out_dir>/submissions/. Returns the lines to print."""
    trackers = list(trackers)
    if not trackers:
        raise otb.EvaluationError('no tracker to evaluate')
    report_dir = report_dir or os.path.join(out_dir, 'reports')
    where = 'report: %s' % os.path.join(report_dir, trackers[0])
    if not benchmark.ground_truth:
        return _submissions(benchmark, results_dir, trackers, out_dir)
    if benchmark.name == 'got10k':
        layout = os.path.join(out_dir, 'got10k')
        for tracker in trackers:
            got10k.write_layout(results_dir, tracker, [s.name for s in benchmark.sequences],
                                layout)
        performance = got10k.evaluate_val(layout, benchmark, trackers, report_dir)
        return [got10k.table(performance), where]
    otb.check_sequences(benchmark.sequences)
    if benchmark.name == 'lasot':
        performance = ope.evaluate(results_dir, benchmark, trackers, report_dir,
                                   otb.load_result)
    else:
        performance = otb.evaluate(results_dir, benchmark.sequences, trackers, report_dir,
                                   benchmark.name, benchmark.attributes)
    return [otb.table(performance), where]
