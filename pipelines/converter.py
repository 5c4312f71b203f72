"""The contract of a dataset converter: a `Converter` turns one unit of its dataset (a VID
snippet, a batch of COCO images, one DAVIS video) into serialized records, and fills in a
`UnitResult` with them, its counts and its rejections."""
from __future__ import absolute_import, division, print_function

import collections
import contextlib

from datasets.errors import InputError
from datasets.fileio import printable
from pipelines.dead_letters import LEVELS, StrictStop, describe, stable_detail, strict_stop


class Guard(object):
    failed = False


class UnitResult(object):
    """What converting one unit produced: records (sort key, bytes), counts, rejections, and per
    level (unit, image, object) how many inputs were seen, written and filtered by a rule, so
    that seen = written + rejected + filtered can be checked."""

    def __init__(self, strict=False):
        self.strict = strict
        self.records = []
        self.counts = collections.Counter()
        self.rejections = []
        self.tally = {level: collections.Counter() for level in LEVELS}
        self.max_frame_size = [0, 0]  # largest height, largest width of the frames read

    def add_record(self, sort_key, serialized):
        self.records.append((sort_key, serialized))

    def seen(self, level, n=1):
        self.tally[level]['seen'] += n

    def written(self, level, n=1):
        self.tally[level]['written'] += n

    def filtered(self, level, reason, n=1):
        """Inputs left out by a rule (not bad input): counted, not dead-lettered."""
        self.tally[level]['filtered:' + reason] += n

    def frame_size(self, height, width):
        """Note the size of a frame that was read (for dataset_info's max_frame_size)."""
        self.max_frame_size = [max(self.max_frame_size[0], int(height)),
                               max(self.max_frame_size[1], int(width))]

    def reject(self, level, reason, path, detail, objects=0, images=None, **extra):
        """Record a rejected input: `level` says what was dropped (a whole unit, an image or
        video frame, or one object); `objects` and `images` how many seen objects and images
        went with it (images: 1 for an image-level dead letter, else 0 unless given), so that
        per level seen = written + rejected + filtered."""
        if level not in LEVELS:
            raise ValueError('level must be one of %s' % (LEVELS,))
        if images is None:
            images = 1 if level == 'image' else 0
        detail = stable_detail(detail)
        if self.strict:
            raise strict_stop(InputError(reason, detail, path=path, level=level))
        entry = dict(extra, level=level, reason=reason, path=printable(path), detail=detail,
                     objects=objects, images=images)
        self.rejections.append(entry)

    def warn(self, reason, path, detail, **extra):
        """Something suspicious that was still written (e.g. an XML naming another frame, a
        gap in frame numbers): an errors.jsonl line of level `warning`, counted apart."""
        self.rejections.append(dict(extra, level='warning', reason=reason, path=printable(path),
                                    detail=stable_detail(detail), objects=0, images=0))

    @contextlib.contextmanager
    def guard(self, level, path, objects=0, images=None, **extra):
        """Run a per-image or per-object step; any exception (InputError or unexpected) becomes
        a rejection of `level` at `path`. Check `.failed` on the yielded object afterwards."""
        state = Guard()
        try:
            yield state
        except StrictStop:
            raise
        except Exception as err:  # the one place converter exceptions become dead letters
            state.failed = True
            reason, detail = describe(err)
            self.reject(level, reason, path, detail, objects, images, **extra)


class Converter(object):
    """Turns one unit into records. Subclasses are pickled to Beam workers: keep state small and
    build heavy things in `setup` (called once per worker)."""

    name = 'dataset'           # output directory, file prefix and metrics namespace
    progress_unit = 'units'    # the count reported as progress and throughput

    def setup(self):
        pass

    def convert(self, unit, result):
        raise NotImplementedError

    def unit_path(self, unit):
        """The path a unit-level dead letter names."""
        return str(unit)
