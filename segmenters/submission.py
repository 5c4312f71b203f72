"""Submission packs: the zip each benchmark's server takes, checked for completeness.

python -m segmenters.submission --pack davis2017-test-dev|ytvos2018|ytvos2019|mose
    --results <results folder> --data <dataset root> [--split S] [--out DIR]

Writes DIR/submission.zip (default DIR: the results folder) when every required frame is there
as a palette (mode P) PNG of the frame's size, else DIR/submission-incomplete.zip (not ready to
upload) and DIR/submission-problems.txt (a line per missing or bad frame). Layouts (PACKS):

* davis2017-test-dev (CodaLab, davis2017-evaluation's scoring program): <seq>/<frame>.png at the
  zip's root (a single top folder is refused by the server), every frame of JPEGImages/480p/<seq>
  for the sequences of ImageSets/2017/test-dev.txt.
* ytvos2018, ytvos2019 (CodaLab): Annotations/<video>/<frame>.png for every frame that
  valid/meta.json lists for some object of the video (the every-5th frames the server scores, from
  the first object's first frame on; frames before it or from valid_all_frames may be there too
  and are left out of the zip).
* mose (CodaLab): Annotations/<video>/<frame>.png for every frame of valid/JPEGImages/<video>
  (MOSE's valid split annotates only the first frame; its layout follows YouTube-VOS).

The results folder is the segmenter's OUT (<seq>/<frame>.png, or Annotations/<video>/... for the
Annotations packs) or any folder of that layout.
"""
from __future__ import absolute_import, division, print_function

import argparse
import collections
import os
import sys

from PIL import Image

from datasets import davis as davis_data
from datasets import fileio
from datasets import ytvos as ytvos_data
from datasets.errors import InputError

SUBMISSION = 'submission.zip'
INCOMPLETE = fileio.incomplete_twin(SUBMISSION)
PROBLEMS = 'submission-problems.txt'
ANNOTATIONS = 'Annotations'

Pack = collections.namedtuple('Pack', 'name prefix default_split frames_of describe')


def davis_frames(root, split):
    """{sequence: frame names} of a DAVIS 2017 split: every JPEG of each listed sequence."""
    _, names = davis_data.split_listing(root, '2017', split)
    return collections.OrderedDict(
        (s, _jpeg_names(davis_data.image_dir(root, s))) for s in names)


def ytvos_frames(root, split):
    """{video: frame names} a YouTube-VOS server scores: the union of meta.json's object frames."""
    try:
        videos = ytvos_data.read_meta(root, split)
    except ValueError as err:
        raise InputError('bad_meta', str(err))
    out = collections.OrderedDict()
    for video in sorted(videos):
        objects = (videos[video] or {}).get('objects') or {}
        out[video] = sorted(set(n for o in objects.values() for n in (o or {}).get('frames', [])))
    return out


def jpeg_folder_frames(root, split):
    """{video: frame names} of every JPEG under <split>/JPEGImages/<video>/ (MOSE)."""
    folder = fileio.join(root, split, 'JPEGImages')
    if not fileio.isdir(folder):
        raise InputError('missing_folder', 'not found: --data must be the dataset root holding '
                         '%s/JPEGImages/' % split, folder)
    return collections.OrderedDict((v, _jpeg_names(fileio.join(folder, v)))
                                   for v in fileio.listdir(folder)
                                   if fileio.isdir(fileio.join(folder, v)))


def _jpeg_names(folder):
    return sorted(fileio.stems(folder, '.jpg'))


PACKS = collections.OrderedDict((p.name, p) for p in (
    Pack('davis2017-test-dev', '', 'test-dev', davis_frames,
         'DAVIS 2017 test-dev: <seq>/<frame>.png at the zip root, every frame'),
    Pack('ytvos2018', ANNOTATIONS + '/', 'valid', ytvos_frames,
         'YouTube-VOS 2018 valid: Annotations/<video>/<frame>.png, the frames of meta.json'),
    Pack('ytvos2019', ANNOTATIONS + '/', 'valid', ytvos_frames,
         'YouTube-VOS 2019 valid: Annotations/<video>/<frame>.png, the frames of meta.json'),
    Pack('mose', ANNOTATIONS + '/', 'valid', jpeg_folder_frames,
         'MOSE valid: Annotations/<video>/<frame>.png, every frame of JPEGImages'),
))


def frame_size(data_root, pack, split, video, name):
    """(width, height) of a frame's JPEG (its header only); None without a readable one."""
    if pack.name.startswith('davis'):
        path = fileio.join(davis_data.image_dir(data_root, video), name + '.jpg')
    else:
        path = fileio.join(data_root, split, 'JPEGImages', video, name + '.jpg')
    try:
        with Image.open(path) as image:
            return image.size
    except (IOError, OSError):   # no frame to compare with: the size is not checked
        return None


def png_problem(path, size):
    """Why a result PNG cannot go in a pack (None when it can): missing, not mode P, size."""
    if not os.path.isfile(path):
        return 'missing'
    try:
        with Image.open(path) as image:
            mode, found = image.mode, image.size
    except (IOError, OSError) as err:
        return 'unreadable (%s)' % err
    if mode != 'P':
        return 'PNG mode %s, the server reads palette (P) PNGs of object ids' % mode
    if size is not None and found != tuple(size):
        return '%dx%d, the frame is %dx%d' % (found + tuple(size))
    return None


def check_pack(pack, results, required, size_of=None):
    """([(file, zip entry)] of the usable frames, ['<file>: <problem>'] of the others) of a
    results folder against {video: frame names}; size_of(video, name) -> (w, h) or None."""
    base = results
    if pack.prefix and os.path.isdir(os.path.join(results, ANNOTATIONS)):
        base = os.path.join(results, ANNOTATIONS)
    entries, problems = [], []
    for video, names in required.items():
        size = None
        for name in names:
            path = os.path.join(base, video, name + '.png')
            if size is None and size_of is not None:
                size = size_of(video, name)
            problem = png_problem(path, size)
            if problem:
                problems.append('%s: %s' % (path, problem))
            else:
                entries.append((path, '%s%s/%s.png' % (pack.prefix, video, name)))
    return entries, problems


def write_zip(out_dir, entries, complete):
    """SUBMISSION (or INCOMPLETE) in out_dir holding [(file, entry name)], by entry name; a zip
    of either name left by an earlier run is removed first. Returns its path."""
    return fileio.write_submission_zip(os.path.join(out_dir, SUBMISSION),
                                       sorted(entries, key=lambda e: e[1]), complete)


def build(pack_name, results, data_root, split=None, out_dir=None, check_sizes=True):
    """Check a results folder against a pack's required frames and zip it; returns a summary
    {zip, complete, frames, problems (count), problems_file}."""
    if pack_name not in PACKS:
        raise InputError('bad_pack', 'unknown pack %r; one of %s' % (pack_name, ', '.join(PACKS)))
    if not os.path.isdir(results):
        raise InputError('missing_folder', 'results folder not found', results)
    pack = PACKS[pack_name]
    split = split or pack.default_split
    required = pack.frames_of(data_root, split)
    size_of = ((lambda video, name: frame_size(data_root, pack, split, video, name))
               if check_sizes else None)
    entries, problems = check_pack(pack, results, required, size_of)
    out_dir = out_dir or results
    os.makedirs(out_dir, exist_ok=True)
    problems_path = os.path.join(out_dir, PROBLEMS)
    if problems:
        fileio.write_atomic(problems_path, ''.join(p + '\n' for p in problems).encode('utf-8'))
    elif os.path.isfile(problems_path):
        os.remove(problems_path)
    return {'pack': pack_name, 'zip': write_zip(out_dir, entries, not problems),
            'complete': not problems, 'frames': len(entries), 'videos': len(required),
            'problems': len(problems), 'problems_file': problems_path if problems else None,
            'first_problem': problems[0] if problems else None}


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m segmenters.submission',
                                     description=__doc__.split('\n\n')[0])
    parser.add_argument('--pack', required=True, choices=list(PACKS))
    parser.add_argument('--results', required=True, help='results folder (the segmenter\'s OUT)')
    parser.add_argument('--data', required=True, help='dataset root (DAVIS, YouTube-VOS, MOSE)')
    parser.add_argument('--split', help='default: test-dev (DAVIS), valid (YouTube-VOS, MOSE)')
    parser.add_argument('--out', help='folder of the zip (default: the results folder)')
    parser.add_argument('--no-size-check', action='store_true',
                        help='do not compare each PNG\'s size with its JPEG frame')
    args = parser.parse_args(argv)
    try:
        summary = build(args.pack, args.results, args.data, args.split, args.out,
                        not args.no_size_check)
    except (InputError, FileNotFoundError) as err:
        sys.stderr.write('error: %s\n' % err)
        return 1
    if summary['complete']:
        print('%s: %d frames of %d videos -> %s' % (args.pack, summary['frames'],
                                                    summary['videos'], summary['zip']))
        return 0
    sys.stderr.write('not ready to upload: %d frame(s) missing or unusable (first: %s; all in '
                     '%s) -> %s\n' % (summary['problems'], summary['first_problem'],
                                      summary['problems_file'], summary['zip']))
    return 1


if __name__ == '__main__':
    sys.exit(main())
