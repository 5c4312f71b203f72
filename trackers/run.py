"""Running a tracker over sequences: result files, timing, the static baseline, frame strips.

Result layout (got10k's ExperimentOTB and the OTB toolkits read it):
  <results>/<tracker>/<seq>.txt              x,y,w,h per frame (the sequence's coordinates)
  <results>/<tracker>/times/<seq>_time.txt   seconds per frame (decode + tracking)
"""
from __future__ import absolute_import, division, print_function

import io
import itertools
import os
import time

import numpy as np

from datasets import fileio
from datasets.images import encode_png
from datasets.video_files import VideoFrames
from trackers.sequences import SequenceError, read_frame

STATIC_BASELINE = 'static-first-box'


class StaticTracker(object):
    """Baseline: reports the first box on every frame (what a tracker that never moves scores)."""
    name = STATIC_BASELINE

    def __init__(self):
        self.box = None
        self.timing = {'network_s': 0.0, 'host_s': 0.0, 'crop_s': 0.0}

    def init(self, frame, box):
        self.box = np.asarray(box, np.float64)
        return self.box

    def update(self, frame):
        return self.box


def frame_stream(sequence):
    """The sequence's RGB frames in order, decoded one at a time: its frame files, or its video
    (datasets.video_files)."""
    if isinstance(sequence.frames, VideoFrames):
        return iter(sequence.frames)
    return (read_frame(path) for path in sequence.frames)


def _timed_next(frames):
    """(next frame or None at the end, seconds it took)."""
    start = time.time()
    frame = next(frames, None)
    return frame, time.time() - start


def frame_label(sequence, index):
    frames = sequence.frames
    return frames.label(index) if isinstance(frames, VideoFrames) else frames[index]


def check_frame_size(sequence, index, shape, first_shape):
    """SequenceError naming the sequence, the frame and both sizes when frame `index` is not the
    size of frame 0: boxes are in one frame's pixels, so a size change mid-way would track (and
    score) in mixed coordinates."""
    if tuple(shape) != tuple(first_shape):
        raise SequenceError('%s: frame %d (%s) is %dx%d, but frame 0 is %dx%d: every frame of a '
                            'sequence must have one size' % (
                                sequence.name, index, frame_label(sequence, index), shape[1],
                                shape[0], first_shape[1], first_shape[0]))


STAT_KEYS = ('times', 'decode', 'decode_wait', 'network', 'host', 'crop')


def track_sequence(tracker, sequence, keep_frames=()):
    """Boxes (N x 4, in the sequence's coordinates; frame 0 is the given box) and per-frame
    seconds: 'times' (everything), 'decode' (time spent decoding, measured in a reader thread
    that decodes the next frame while the network runs on this one: OpenCV and TensorFlow
    release the GIL), 'decode_wait' (what of it the tracker waited for), 'network' (the device's
    sess.run), 'host' (search boxes, crops, upsampling, update rule), 'crop' (the crops alone);
    plus 'frames': {i: RGB frame} for the indices in keep_frames. N is the number of frames read:
    a video is read to its end (its container's frame count may be off)."""
    from concurrent.futures import ThreadPoolExecutor
    origin = [sequence.origin, sequence.origin, 0, 0]
    boxes, stats = [], {k: [] for k in STAT_KEYS}
    kept, first_shape = {}, None
    frames = frame_stream(sequence)
    with ThreadPoolExecutor(1) as reader:   # the one thread that reads `frames`
        pending = reader.submit(_timed_next, frames)
        for i in itertools.count():
            before = dict(tracker.timing)
            start = time.time()
            frame, decode_s = pending.result()
            if frame is None:
                break
            stats['decode'].append(decode_s)
            stats['decode_wait'].append(time.time() - start)
            first_shape = first_shape or frame.shape[:2]
            check_frame_size(sequence, i, frame.shape[:2], first_shape)
            pending = reader.submit(_timed_next, frames)
            if i == 0:
                box = tracker.init(frame, sequence.boxes[0] - origin)
            else:
                box = tracker.update(frame)
            boxes.append(np.asarray(box) + origin)
            stats['times'].append(time.time() - start)
            for key in ('network', 'host', 'crop'):
                stats[key].append(tracker.timing[key + '_s'] - before[key + '_s'])
            if i in keep_frames:
                kept[i] = frame
    boxes = np.array(boxes, np.float64).reshape(-1, 4)
    boxes[0] = sequence.boxes[0]  # include_first False: frame 0 reports the given box
    stats = {k: np.array(v, np.float64) for k, v in stats.items()}
    stats['frames'] = kept
    return boxes, stats


def _text_rows(rows, fmt, delimiter=' '):
    out = io.BytesIO()
    np.savetxt(out, rows, fmt=fmt, delimiter=delimiter)
    return out.getvalue()


def write_results(results_dir, tracker, sequence_name, boxes, times):
    """The result and times files, each written whole (atomically): --skip-existing trusts a
    result file that exists, so a killed run must leave none or a complete one. The times file
    goes first, so a result file never exists without its times."""
    folder = os.path.join(results_dir, tracker)
    fileio.write_atomic(os.path.join(folder, 'times', sequence_name + '_time.txt'),
                        _text_rows(times, '%.8f'))
    fileio.write_atomic(os.path.join(folder, sequence_name + '.txt'),
                        _text_rows(boxes, '%.3f', ','))


def speed(stats):
    """Over the frames after the first (which builds the template and warms the graph up):
      fps                 frames / wall-clock time (decoding in the reader thread, overlapped);
      fps_without_decode  frames / (network + host work): the tracker's own work, no decoding
                          at all (neither waited for nor done);
      fps_decode_inline   frames / (network + host work + decode time measured in the reader
                          thread): as if every frame were decoded before it is tracked;
      host_fraction       of the wall-clock frame time, everything outside the device's
                          sess.run (waiting for decode, search boxes, crops, upsampling, update
                          rule, Python);
      per_frame_ms        mean ms per frame of each part ('decode' is the reader thread's work,
                          mostly hidden behind the network; 'crop' is part of 'host').
    Decoding competes with the network for the CPU cores, so on a CPU 'network' is measured a
    little slower than it would be alone."""
    def after_first(key):
        return np.concatenate([s[key][1:] for s in stats]) if stats else np.zeros(0)
    times, network = after_first('times'), after_first('network')
    n, total = len(times), float(times.sum())
    if n == 0 or total <= 0:
        return {'frames': n}
    work = float(network.sum() + after_first('host').sum())
    decode = float(after_first('decode').sum())
    return {'frames': n, 'fps': n / total,
            'fps_without_decode': n / work if work > 1e-6 else None,
            'fps_decode_inline': n / (work + decode) if work + decode > 1e-6 else None,
            'host_fraction': max(0.0, 1.0 - float(network.sum()) / total),
            'per_frame_ms': {k: 1000.0 * float(after_first(k).mean()) for k in (
                'decode', 'decode_wait', 'network', 'host', 'crop', 'times')}}


GROUND_TRUTH_COLOUR = (64, 255, 64)   # RGB
TRACKER_COLOUR = (255, 64, 64)


def frame_strip(frames, layers, path, height=180):
    """A PNG of the given frames ({index: RGB frame}) side by side, each layer (N x 4 boxes in
    0-based pixels, RGB colour) drawn on them; returns the path."""
    import cv2
    tiles = []
    for index in sorted(frames):
        frame = frames[index].copy()
        scale = height / float(frame.shape[0])
        for boxes, colour in layers:
            if index < len(boxes):
                x, y, w, h = boxes[index]
                cv2.rectangle(frame, (int(round(x)), int(round(y))),
                              (int(round(x + w - 1)), int(round(y + h - 1))), colour,
                              max(2, int(round(2 / scale))))
        tile = cv2.resize(frame, (max(1, int(round(frame.shape[1] * scale))), height))
        cv2.putText(tile, str(index), (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
        tiles.append(tile)
    # cv2.imwrite says only False when it cannot write: written whole, or a WriteError
    fileio.write_atomic(path, encode_png(cv2.cvtColor(np.concatenate(tiles, axis=1),
                                                      cv2.COLOR_RGB2BGR)))
    return path


def strip_indices(count, n=8):
    return sorted(set(np.linspace(0, count - 1, min(n, count)).round().astype(int).tolist()))
