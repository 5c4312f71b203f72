"""SA-Siam tracking speed on the CPU (`make bench-track`).

Full-width trackers (the trainer's default model, initial weights: speed does not depend on the
values) on a 1280x720 ILSVRC2015-VID-style val track of the sample generator:
  * combined appearance + semantic (the SA-Siam tracker) and each branch alone;
  * per frame: JPEG decode (OpenCV, measured in a reader thread one frame ahead, and the part
    of it the tracker waited for), network (the device graph's sess.run: the 3 float32 search
    crops in, the embeddings, correlation, the 17x17 responses out), host work (search boxes,
    the 3 crops of the frame in the host graph, x16 bicubic upsampling and the update rule in
    numpy), and of that the crops alone;
  * frames/s: wall clock (decoding overlapped), of the network + host work alone (no decoding),
    and with the decode time added (decoding inline); the host fraction of a frame (everything
    outside the network) against the goal of <= 15 %;
  * the non-learned pixel_pool embedding: its "network" is what a device sess.run costs besides
    the networks (feeding the crops, the fetch);
  * upsampling + update rule alone (numpy), microseconds per frame.
Results: data/bench-track/result.json (and stdout).
"""
from __future__ import absolute_import, division, print_function

import argparse
import os
import sys
import time

import numpy as np

from bench.common import ROOT, machine, write_result

HOST_FRACTION_GOAL = 0.15


def ensure_sequence(workdir, frames, seed=0):
    """The longest val track of a one-snippet VID sample of `frames` 1280x720 frames."""
    sys.path.insert(0, ROOT)
    import sampledata
    from datasets import vid
    data = os.path.join(workdir, 'data')
    wanted = {'train_snippets': 1, 'val_snippets': 1, 'frames': frames, 'max_objects': 1}
    try:
        manifest = sampledata.load_manifest(data)
        fresh = manifest['datasets']['vid']['counts_requested'] != wanted
    except (IOError, OSError, KeyError, ValueError):
        fresh = True
    if fresh:
        print('writing the benchmark sample (1 val snippet x %d frames, 1280x720) ...' % frames)
        sampledata.generate(data, seed=seed, size='real', datasets=['vid'],
                            counts={'vid': wanted}, overwrite=True)
    found = vid.track_sequences(os.path.join(data, 'ILSVRC2015'))
    return max(found, key=lambda s: len(s.frames))


def time_tracker(branches, sequence, device):
    from trackers import run, sasiam
    cfg = dict(sasiam.TRACK_DEFAULTS)
    with sasiam.open_tracker(branches, cfg, device) as tracker:
        run.track_sequence(tracker, sequence._replace(frames=sequence.frames[:3]))  # warm up
        _, stats = run.track_sequence(tracker, sequence)
    speed = run.speed([stats])
    return dict({k + '_ms': v for k, v in speed['per_frame_ms'].items()},
                fps=speed['fps'], fps_without_decode=speed['fps_without_decode'],
                fps_decode_inline=speed['fps_decode_inline'],
                host_fraction=speed['host_fraction'],
                host_fraction_goal_met=speed['host_fraction'] <= HOST_FRACTION_GOAL)


def update_rule_us(repeats=200):
    """Microseconds of the x16 upsampling and the update rule (numpy, float64) per frame."""
    from trackers import sasiam
    cfg = dict(sasiam.TRACK_DEFAULTS)
    window = sasiam.hann_window(272)
    matrix = np.random.RandomState(1).rand(272, 17)
    responses = np.random.RandomState(0).rand(3, 17, 17).astype(np.float32)
    state = sasiam.initial_state([600, 300, 80, 60])
    start = time.time()
    for _ in range(repeats):
        sasiam.update(state, sasiam.upsample(responses, matrix), 300.0, cfg, window)
    return 1e6 * (time.time() - start) / repeats


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m bench.track_bench',
                                     description=__doc__.split('\n\n')[0])
    parser.add_argument('--frames', type=int, default=40)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--workdir', default=os.path.join(ROOT, 'data', 'bench-track'))
    args = parser.parse_args(argv)
    from trackers import sasiam, sasiam_branches
    sequence = ensure_sequence(args.workdir, args.frames)
    print('sequence %s: %d frames; %s' % (sequence.name, len(sequence.frames), machine()))
    result = {'machine': machine(), 'device': args.device, 'sequence': sequence.name,
              'frames': len(sequence.frames), 'frame_size': '1280x720',
              'upsample_and_update_rule_us': round(update_rule_us(), 1), 'trackers': {}}
    for name, kinds in (('combined', ('appearance', 'semantic')), ('appearance', ('appearance',)),
                        ('semantic', ('semantic',)), ('pixel_pool', (sasiam_branches.PIXEL_POOL,))):
        branches = [sasiam_branches.pixel_pool_branch() if k == sasiam_branches.PIXEL_POOL
                    else sasiam_branches.untrained_branch(k) for k in kinds]
        if len(branches) == 2:
            c = sasiam.TRACK_DEFAULTS['c_appearance']
            branches = [branches[0]._replace(weight=c), branches[1]._replace(weight=1 - c)]
        timing = time_tracker(branches, sequence, args.device)
        result['trackers'][name] = {k: round(v, 4) if isinstance(v, float) else v
                                    for k, v in timing.items()}
        print('%-10s %6.2f frames/s (%6.2f network + host alone, %6.2f decoding inline): '
              'network %.1f ms, decode %.1f ms (%.2f ms waited for), host %.2f ms (crops %.2f) '
              'per frame; host fraction %.1f %%' % (
                  name, timing['fps'], timing['fps_without_decode'], timing['fps_decode_inline'],
                  timing['network_ms'], timing['decode_ms'], timing['decode_wait_ms'],
                  timing['host_ms'], timing['crop_ms'], 100 * timing['host_fraction']))
    write_result(args.workdir, result)
    return 0


if __name__ == '__main__':
    sys.exit(main())
