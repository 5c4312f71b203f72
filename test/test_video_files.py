"""Video files as tracking sequences: datasets.video_files and `python -m trackers track --seq
clip.avi --init x,y,w,h` (tiny MJPG AVIs written by cv2.VideoWriter)."""
from __future__ import absolute_import, division, print_function

import os

import cv2
import numpy as np
import pytest

from datasets import video_files
from datasets.tracking import SequenceError
from trackers import __main__ as trackers_main
from trackers import run as run_lib

SIZE = (64, 48)   # width, height


def _frames(count):
    """RGB frames of a bright square moving right on a smooth background (MJPG keeps it)."""
    ramp = np.linspace(20, 90, SIZE[0]).astype(np.uint8)
    background = np.stack([np.tile(ramp, (SIZE[1], 1))] * 3, axis=-1)
    out = []
    for i in range(count):
        frame = background.copy()
        frame[14:30, 8 + 3 * i:24 + 3 * i] = (250, 200, 40)
        out.append(frame)
    return out


def _write_avi(path, frames, fps=10):
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'MJPG'), fps, SIZE)
    assert writer.isOpened()
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def test_frames_are_decoded_in_order_as_written(tmpdir):
    path = _write_avi(str(tmpdir.join('clip.avi')), _frames(6))
    assert video_files.is_video_file(path) and not video_files.is_video_file(str(tmpdir))
    frames = video_files.VideoFrames(path)
    decoded = list(frames)
    assert len(frames) == 6 and len(decoded) == 6 and frames.label(2) == path + ' frame 2'
    for original, frame in zip(_frames(6), decoded):   # MJPG is lossy: close, in RGB order
        assert frame.shape == (48, 64, 3) and frame.dtype == np.uint8
        assert np.abs(frame.astype(int) - original).mean() < 6
    assert [f[22, 16 + 3 * i, 0] > 200 and f[22, 16 + 3 * i, 2] < 100
            for i, f in enumerate(decoded)] == [True] * 6
    assert len(list(frames)) == 6   # every iteration reads the file afresh


class _BrightSpotTracker(object):
    """Reports the bounding box of the bright square: boxes that follow the frames' content."""
    timing = {'network_s': 0.0, 'host_s': 0.0, 'crop_s': 0.0}

    def init(self, frame, box):
        return box

    def update(self, frame):
        ys, xs = np.nonzero(frame[..., 0] > 200)
        return [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]


def test_the_tracking_loop_reads_a_video_to_its_end_in_order(tmpdir):
    path = _write_avi(str(tmpdir.join('clip.avi')), _frames(7))
    sequence = video_files.video_sequence(path, [8, 14, 16, 16])
    assert sequence.name == 'clip' and sequence.origin == 0
    boxes, stats = run_lib.track_sequence(_BrightSpotTracker(), sequence, keep_frames=(0, 6, 9))
    assert boxes.tolist() == [[8 + 3 * i, 14, 16, 16] for i in range(7)]
    assert len(stats['times']) == 7 and sorted(stats['frames']) == [0, 6]


@pytest.mark.slow   # two tracker graphs (~5 s)
def test_a_video_tracks_as_its_frames_in_a_folder_do(tmpdir):
    """The same decoded frames as PNGs in a folder: the same result file, one row a frame."""
    path = _write_avi(str(tmpdir.join('clip.avi')), _frames(5))
    folder = tmpdir.mkdir('clip')
    for i, frame in enumerate(video_files.VideoFrames(path)):
        cv2.imwrite(str(folder.join('%04d.png' % i)), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    results = {}
    for name, seq in (('video', path), ('folder', str(folder))):
        out = str(tmpdir.join(name))
        assert trackers_main.main(['track', '--run', 'pixel_pool', '--seq', seq, '--init',
                                   '8,14,16,16', '--device', 'cpu', '--out', out]) == 0
        with open(os.path.join(out, 'results', 'pixel_pool', 'clip.txt')) as f:
            results[name] = f.read()
        assert os.path.isfile(os.path.join(out, 'results', 'pixel_pool', 'times',
                                           'clip_time.txt'))
    assert results['video'] == results['folder']
    rows = np.loadtxt(results['video'].splitlines(), delimiter=',')
    assert rows.shape == (5, 4) and rows[0].tolist() == [8, 14, 16, 16]


def _one_error(capsys):
    lines = [l for l in capsys.readouterr().err.splitlines() if l.startswith('error')]
    assert len(lines) == 1, lines
    return lines[0]


def test_unreadable_and_empty_videos_are_one_line(tmpdir, capsys):
    bad = str(tmpdir.join('bad.avi'))
    with open(bad, 'w') as f:
        f.write('not a video')
    empty = _write_avi(str(tmpdir.join('empty.avi')), [])
    clip = _write_avi(str(tmpdir.join('clip.avi')), _frames(2))
    for args, words in (
            ([bad, '--init', '1,1,4,4'], 'error: %s cannot be opened as a video' % bad),
            ([empty, '--init', '1,1,4,4'],
             'error: %s has no frame OpenCV can decode' % empty),
            ([clip], 'error: %s is a video: give the first box with --init x,y,w,h' % clip)):
        assert trackers_main.main(['track', '--run', 'pixel_pool', '--device', 'cpu', '--out',
                                   str(tmpdir.join('out')), '--seq'] + args) == 1
        assert _one_error(capsys).startswith(words)


class _FakeCapture(object):
    """A VideoCapture whose third frame is larger (cv2's writer cannot make such a file)."""

    def __init__(self, path):
        self.shapes = [(48, 64, 3), (48, 64, 3), (50, 64, 3)]

    def isOpened(self):
        return True

    def get(self, prop):
        return 3

    def read(self):
        if not self.shapes:
            return False, None
        return True, np.zeros(self.shapes.pop(0), np.uint8)

    def release(self):
        pass


def test_a_video_whose_frame_size_changes_is_refused(tmpdir, monkeypatch):
    monkeypatch.setattr(cv2, 'VideoCapture', _FakeCapture)
    sequence = video_files.video_sequence('clip.mp4', [1, 1, 4, 4])
    tracker = run_lib.StaticTracker()
    tracker.timing = {'network_s': 0.0, 'host_s': 0.0, 'crop_s': 0.0}
    with pytest.raises(SequenceError) as err:
        run_lib.track_sequence(tracker, sequence)
    assert str(err.value) == ('clip.mp4: frame 2 is 64x50, but frame 0 is 64x48: every frame of '
                              'a sequence must have one size')
