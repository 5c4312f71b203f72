"""What a run produced, from its shards' parts: dataset_info (schemas/dataset_info.py documents
every key), the reconciled counts per level, the verdict on the run and its summary lines."""
from __future__ import absolute_import, division, print_function

import collections
import time

from pipelines.dead_letters import ERRORS_FILE, LEVELS
from schemas import dataset_info


def _sum_counters(dicts):
    total = collections.Counter()
    for d in dicts:
        total.update(d)
    return dict(total)


def reconcile(parts, rejected, objects_rejected, images_rejected):
    """Per level: seen, written, rejected and filtered (by reason) inputs, and whether
    seen = written + rejected + filtered holds. Rejected units are their dead letters; rejected
    images and objects are those the dead letters of every level took with them (a unit
    rejected as a whole takes its frames along)."""
    totals = {}
    for level in LEVELS:
        tally = _sum_counters(p['tally'].get(level, {}) for p in parts)
        filtered = {k.split(':', 1)[1]: v for k, v in tally.items() if k.startswith('filtered:')}
        took = {'object': objects_rejected, 'image': images_rejected}.get(level)
        rejected_n = sum((took if took is not None else rejected.get(level, {})).values())
        entry = {'seen': tally.get('seen', 0), 'written': tally.get('written', 0),
                 'rejected': rejected_n, 'filtered': filtered}
        entry['reconciled'] = entry['seen'] == (entry['written'] + rejected_n +
                                                sum(filtered.values()))
        totals[level] = entry
    return totals


def build_info(converter, schema, source, options, parts, wall_time, beam_options=None,
               source_splits=None):
    """dataset_info (schemas/dataset_info.py documents every key) from the shard parts."""
    splits = {}
    source_splits = source_splits or {}
    for part in sorted(parts, key=lambda p: (p['split'], p['index'])):
        split = splits.setdefault(part['split'], {
            'num_shards': part['count'], 'shards': [], 'records': 0, 'bytes': 0,
            'source_split': source_splits.get(part['split'], part['split'])})
        split['shards'].append({'file': part['file'], 'records': part['records'],
                                'bytes': part['bytes']})
        split['records'] += part['records']
        split['bytes'] += part['bytes']
    counts = _sum_counters(p['counts'] for p in parts)
    counts['records'] = sum(s['records'] for s in splits.values())
    counts['bytes'] = sum(s['bytes'] for s in splits.values())
    rejected = {level: _sum_counters(p['rejected'].get(level, {}) for p in parts)
                for level in LEVELS}
    warnings = _sum_counters(p['rejected'].get('warning', {}) for p in parts)
    objects_rejected = _sum_counters(p['objects_rejected'] for p in parts)
    images_rejected = _sum_counters(p['images_rejected'] for p in parts)
    done = counts.get(converter.progress_unit, 0)
    worker_seconds = sum(p['seconds'] for p in parts)
    info = {
        'name': converter.name,
        'schema': {'name': schema.name, 'version': schema.version},
        'source': source,
        'options': options,
        'beam_options': beam_options or {},
        'max_frame_size': [max([p['max_frame_size'][0] for p in parts] or [0]),
                           max([p['max_frame_size'][1] for p in parts] or [0])],
        'splits': splits,
        'counts': counts,
        'totals': reconcile(parts, rejected, objects_rejected, images_rejected),
        'rejected': {k: v for k, v in rejected.items() if v},
        'objects_rejected': objects_rejected,
        'images_rejected': images_rejected,
        'warnings': warnings,  # written anyway; errors.jsonl lines of level `warning`
        'wall_time_s': round(wall_time, 3),
        # time spent inside shard tasks, summed over workers (excludes runner start-up)
        'worker_seconds': round(worker_seconds, 3),
        'throughput': {'%s_per_s' % converter.progress_unit: round(done / max(wall_time, 1e-9), 2),
                       'mb_per_s': round(counts['bytes'] / 1e6 / max(wall_time, 1e-9), 3)},
        'created_utc': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
    }
    return dataset_info.add_sources(info)   # what the train split was made from


def reject_fraction(info):
    """The largest share of rejected inputs over the levels (units, images, objects)."""
    return max([t['rejected'] / float(t['seen']) for t in info['totals'].values() if t['seen']]
               or [0.0])


def verdict(info, max_reject_fraction):
    """None when the run is acceptable, else the one-line reason it is not."""
    if info['counts']['records'] == 0:
        return 'no records written (%s)' % totals_text(info)
    fraction = reject_fraction(info)
    if fraction > max_reject_fraction:
        return 'rejected %.1f %% of the inputs, more than --max-reject-fraction %g (%s); see %s' % (
            100 * fraction, max_reject_fraction, totals_text(info), ERRORS_FILE)
    broken = [level for level, t in sorted(info['totals'].items()) if not t['reconciled']]
    if broken:
        return 'counts do not reconcile for %s (%s): a pipeline bug, please report it' % (
            ', '.join(broken), totals_text(info))
    return None


def totals_text(info):
    return '; '.join('%ss seen %d, written %d, rejected %d, filtered %d' % (
        level, t['seen'], t['written'], t['rejected'], sum(t['filtered'].values()))
        for level, t in ((lv, info['totals'][lv]) for lv in LEVELS) if t['seen'])


def summary_lines(info, counters, final):
    """Human summary from Beam metrics (what the workers counted) and dataset_info."""
    unit = info['throughput']
    lines = ['%s -> %s: %s' % (info['name'], final, ', '.join(
        '%s %d' % (k, v) for k, v in sorted(counters.items()) if not k.startswith('rejected_')))]
    for level, reasons in sorted(info['rejected'].items()):
        lines.append('  rejected %ss: %s' % (level, ', '.join(
            '%s %d' % kv for kv in sorted(reasons.items()))))
    if info['warnings']:
        lines.append('  warnings (written anyway): %s' % ', '.join(
            '%s %d' % kv for kv in sorted(info['warnings'].items())))
    lines.append('  %s' % totals_text(info))
    for split, s in sorted(info['splits'].items()):
        lines.append('  %s (source %s): %d records in %d shards, %.1f MB' % (
            split, s['source_split'], s['records'], s['num_shards'], s['bytes'] / 1e6))
    lines.append('  wall %.1f s, %s' % (info['wall_time_s'], ', '.join(
        '%s %.1f' % kv for kv in sorted(unit.items()))))
    return lines
