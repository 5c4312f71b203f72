"""The divergence guard: the same test on every device, checked after every session.run.

On the Ascend 910 an fp16 overflow saturates to +-65504 instead of producing inf/NaN, and loss
scaling skips overflowing steps, so "the loss is NaN" neither fires there nor means the same thing.
Training is declared diverged when any of these holds:

* the weights are no longer finite or their global norm exceeds `max_weight_norm` (a finite loss
  can sit on exploded weights; a checkpoint is only written after this passed);
* the loss scale is at `min_loss_scale` (1, the adapter's floor: it never halves below it) and
  a run at that scale still applied no update (steps overflow without any scaling);
* the loss was non-finite, or above `loss_factor` x the median of the last `window` accepted
  losses, for `patience` runs in a row (a single spike, or one overflowing step, is tolerated);
  a run is one session.run (iterations_per_loop steps on the NPU, of which the loop sees the
  last), so on the NPU the patience spans patience x iterations_per_loop iterations;
* no update was applied in the last `max_skipped_iterations` iterations: global_step stands still
  while batches are consumed (every step overflows under a scale that does not fall, or an
  optimizer that does not count global_step), and training would never end.

The history is per process: a resumed run starts the median rule afresh after `min_history`
runs.
"""
from __future__ import absolute_import, division, print_function

import collections
import math

from trainers.accepts import integer, number

DEFAULTS = {
    'loss_factor': 10.0,
    'patience': 5,
    'window': 50,
    'min_history': 10,        # accepted losses needed before the median rule applies
    'min_loss_scale': 1.0,
    'max_weight_norm': 1e8,
    # well above the ~64 iterations the default NPU loss scale (2**32, halved every second
    # overflow) needs to settle
    'max_skipped_iterations': 1000,
}
TYPES = {  # what each key of DEFAULTS accepts (trainers/accepts.py)
    'loss_factor': number(above=1),
    'patience': integer(1),
    'window': integer(1),
    'min_history': integer(1),
    'min_loss_scale': number(above=0),
    'max_weight_norm': number(above=0),
    'max_skipped_iterations': integer(1),
}


class TrainingDiverged(RuntimeError):
    pass


def _median(values):
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else 0.5 * (ordered[mid - 1] + ordered[mid])


class DivergenceGuard(object):
    def __init__(self, settings):
        self.settings = dict(DEFAULTS, **settings)
        self.history = collections.deque(maxlen=int(self.settings['window']))
        self.bad_runs = 0
        self.last_step = None
        self.last_scale = None
        self.skipped = 0  # iterations since global_step last moved

    @property
    def healthy(self):
        """True when the last observed run passed every rule (checkpoints are written only then)."""
        return self.bad_runs == 0

    def observe(self, step, loss, weight_norm, loss_scale=None, iterations=1):
        """Record one run's values (`iterations` iterations ending at global_step `step`); raise
        TrainingDiverged naming the step and the rule."""
        s = self.settings
        stalled = step == self.last_step
        self.skipped = self.skipped + iterations if stalled else 0
        floor_before = self.last_scale is not None and self.last_scale <= s['min_loss_scale']
        self.last_step, self.last_scale = step, loss_scale
        if self.skipped >= s['max_skipped_iterations']:
            raise TrainingDiverged(
                'no update applied in the last %d iterations (global_step stuck at %d): every '
                'step overflows or the optimizer does not count global_step' % (self.skipped,
                                                                                  step))
        if not math.isfinite(weight_norm) or weight_norm > s['max_weight_norm']:
            raise TrainingDiverged('weights exploded at step %d (global norm %s > %g)'
                                   % (step, weight_norm, s['max_weight_norm']))
        if loss_scale is not None and loss_scale <= s['min_loss_scale'] and floor_before and \
                stalled:
            raise TrainingDiverged('loss scale collapsed to its floor %g and the steps still '
                                   'overflow at step %d' % (loss_scale, step))
        limit = (s['loss_factor'] * _median(self.history)
                 if len(self.history) >= s['min_history'] else None)
        if math.isfinite(loss) and (limit is None or loss <= limit):
            self.bad_runs = 0
            self.history.append(loss)
            return
        self.bad_runs += 1
        if self.bad_runs >= s['patience']:
            raise TrainingDiverged(
                'loss is %s at step %d, %s for %d runs in a row' % (
                    loss, step, 'non-finite' if not math.isfinite(loss) else
                    'above %g x its running median (%g)' % (s['loss_factor'], limit / s[
                        'loss_factor']), self.bad_runs))
