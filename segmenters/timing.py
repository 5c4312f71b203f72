"""Timing of segmentation: seconds per named part of a video, totals over videos.

frames/s count the segmented frames, those the network ran on; a video's first frame (its given
masks pasted, no network) is not one of them, its cost is.
"""
from __future__ import absolute_import, division, print_function

import collections
import time


class Timer(object):
    """Seconds spent per named part."""

    def __init__(self):
        self.seconds = collections.defaultdict(float)

    def part(self, name):
        timer = self

        class _Part(object):
            def __enter__(self):
                self.start = time.time()

            def __exit__(self, *exc):
                timer.seconds[name] += time.time() - self.start
        return _Part()


def summarize(videos):
    """Totals over per-video stats: frames/s with and without I/O, network only, host share.
    Rates count the segmented frames (the network ran on them), not a video's first frame."""
    frames = sum(v['segmented_frames'] for v in videos)
    total = sum(v['seconds'] for v in videos)
    finetune = sum(v.get('finetune_seconds', 0.0) for v in videos)
    io = sum(v.get('io_seconds', 0.0) for v in videos)
    network = sum(v.get('network_seconds', 0.0) + v.get('modulator_seconds', 0.0)
                  for v in videos)
    segmenting = total - finetune
    host = segmenting - io - network

    def rate(seconds):
        return frames / seconds if seconds > 0 else float('nan')
    return {'videos': len(videos), 'frames': sum(v['frames'] for v in videos),
            'segmented_frames': frames, 'seconds': total,
            'finetune_seconds': finetune, 'frames_per_second': rate(segmenting),
            'frames_per_second_without_io': rate(segmenting - io),
            'frames_per_second_network_only': rate(network),
            'host_share_without_io': host / (segmenting - io) if segmenting > io else
            float('nan')}
