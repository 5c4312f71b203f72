"""GOT-10k and LaSOT samples in their release layouts (docs/datasets.md), rendered from the same
synthetic scenes as the VID sample (sampledata.render): one target per sequence, a second object
as distractor and occluder.

    GOT-10k/{train,val,test}/list.txt
    GOT-10k/<split>/GOT-10k_<Split>_00000N/00000001.jpg ... groundtruth.txt (x,y,w,h, 0-based;
        test: the first box only), absence.label, cover.label, cut_by_image.label, meta_info.ini
    LaSOT/<class>/<class>-<n>/img/00000001.jpg ... groundtruth.txt (x,y,w,h, 1-based),
        full_occlusion.txt, out_of_view.txt (one line of comma-separated 0/1), nlp.txt

Absent frames are real: in the first sequence of each split the target leaves the frame (out of
view / absence 1) and in the second a grey curtain hides it for a frame (full occlusion /
cover 0); an absent frame's box is written as 0,0,0,0. LaSOT gets sequences of both its official
splits (airplane-1 and bear-2 are in the test list, airplane-2 and bear-1 in train).
"""
from __future__ import absolute_import, division, print_function

import math
import os

from sampledata.common import rng_for, write_bytes, write_jpeg
from sampledata.render import Scene, visible_box

GOT10K_ROOT, LASOT_ROOT = 'GOT-10k', 'LaSOT'
GOT10K_CLASSES = ('ball', 'car', 'dog', 'fish', 'kite')
LASOT_CLASSES = ('airplane', 'bear')
LASOT_NUMBERS = (1, 2)             # airplane-1 is a test sequence, airplane-2 a train one ...
MIN_VISIBLE_PIXELS = 16            # fewer visible pixels: the target is absent in that frame
CURTAIN = (128, 128, 128)


def _target_motion(index):
    return ('leave', 'stay', 'stay', 'enter')[index % 4]


def render_track(seed, dataset, name, width, height, frames, index):
    """[(rgb, inclusive box or None when absent, visible share, out of view)] of one sequence:
    target = object 0; the second sequence (index 1) has a curtain over it in its middle frame."""
    rng = rng_for(seed, dataset, name)
    scene = Scene(rng, width, height, frames, [_target_motion(index), 'stay'],
                  size_range=(0.12, 0.25), speed=0.01)
    out = []
    for t in range(frames):
        rgb, labels, full_areas = scene.render(t)
        box, visible = visible_box(labels, 1)
        if index == 1 and t == frames // 2 and box is not None:
            x0, y0, x1, y1 = box
            rgb[y0:y1 + 1, x0:x1 + 1] = CURTAIN
            box, visible = None, 0
        centre = scene.sprites[0].centre_at(t)
        out_of_view = not (0 <= centre[0] < width and 0 <= centre[1] < height)
        if visible < MIN_VISIBLE_PIXELS:
            box = None
        share = visible / float(max(full_areas[0], 1))
        out.append((rgb, box, share, out_of_view and box is None))
    return out


def _xywh(box, origin):
    if box is None:
        return '0,0,0,0'
    xmin, ymin, xmax, ymax = box
    return '%d,%d,%d,%d' % (xmin + origin, ymin + origin, xmax - xmin + 1, ymax - ymin + 1)


def _cover(box, share):
    """cover.label's level: the visible share in eighths, 0 only when absent."""
    return 0 if box is None else max(1, min(8, int(math.ceil(share * 8 - 1e-6))))


def _lines(values, sep='\n'):
    return (sep.join(str(v) for v in values) + '\n').encode('utf-8')


def _got10k_sequence(root, seed, split, name, width, height, frames, index):
    """Write one GOT-10k sequence; returns its absent frame count."""
    seq_dir = os.path.join(root, split, name)
    track = render_track(seed, 'got10k', name, width, height, frames, index)
    for t, (rgb, _, _, _) in enumerate(track):
        write_jpeg(os.path.join(seq_dir, '%08d.jpg' % (t + 1)), rgb)
    boxes = [_xywh(box, 0) for _, box, _, _ in track]
    write_bytes(os.path.join(seq_dir, 'groundtruth.txt'),
                _lines(boxes[:1] if split == 'test' else boxes))
    if split == 'test':
        return 0
    write_bytes(os.path.join(seq_dir, 'absence.label'),
                _lines(int(box is None) for _, box, _, _ in track))
    write_bytes(os.path.join(seq_dir, 'cover.label'),
                _lines(_cover(box, share) for _, box, share, _ in track))
    write_bytes(os.path.join(seq_dir, 'cut_by_image.label'), _lines(
        int(box is not None and (box[0] == 0 or box[1] == 0 or box[2] == width - 1 or
                                 box[3] == height - 1)) for _, box, _, _ in track))
    object_class = GOT10K_CLASSES[index % len(GOT10K_CLASSES)]
    write_bytes(os.path.join(seq_dir, 'meta_info.ini'), _lines([
        '[METAINFO]', 'url: synthetic', 'major_class: thing', 'root_class: object',
        'motion_class: moving', 'object_class: %s' % object_class,
        'anno_fps: 10Hz', 'resolution: (%d, %d)' % (width, height)]))
    return sum(box is None for _, box, _, _ in track)


def write_got10k(out_dir, seed, width, height, train=3, val=2, test=2, frames=8, faults=None):
    """Write the GOT-10k sample under out_dir/GOT-10k; returns its manifest entry."""
    root = os.path.join(out_dir, GOT10K_ROOT)
    counts = {}
    for split, n in (('train', train), ('val', val), ('test', test)):
        names = ['GOT-10k_%s_%06d' % (split.capitalize(), i + 1) for i in range(n)]
        absent = sum(_got10k_sequence(root, seed, split, name, width, height, frames, i)
                     for i, name in enumerate(names))
        if faults is not None and split == 'train':
            names += _got10k_faults(root, seed, width, height, frames, faults)
        write_bytes(os.path.join(root, split, 'list.txt'), _lines(names))
        counts[split] = {'sequences': n, 'frames': n * frames, 'absent_frames': absent}
    return {'root': GOT10K_ROOT, 'frame_size': [width, height], 'clean': counts}


def _got10k_faults(root, seed, width, height, frames, faults):
    """Extra train sequences, one bad input each; returns their names (listed in list.txt)."""
    names = ['GOT-10k_Train_%06d' % n for n in (900001, 900002, 900003)]
    for name in names:
        _got10k_sequence(root, seed, 'train', name, width, height, frames, 2)

    def rel(name, file_name):
        return '/'.join(('train', name, file_name))
    os.remove(os.path.join(root, 'train', names[0], '%08d.jpg' % 3))
    faults.add('got10k', 'box_count_mismatch', rel(names[0], 'groundtruth.txt'),
               'frame 3 missing: one box more than frames')
    gt = os.path.join(root, 'train', names[1], 'groundtruth.txt')
    with open(gt) as f:
        lines = f.read().splitlines()
    lines[1] = 'nan,nan,nan,nan'
    write_bytes(gt, _lines(lines))
    faults.add('got10k', 'nan_box', rel(names[1], '%08d.jpg' % 2), 'frame 2 box is NaN')
    os.remove(os.path.join(root, 'train', names[2], 'cover.label'))
    faults.add('got10k', 'missing_label_file', rel(names[2], 'cover.label'), 'cover.label removed')
    return names


def _lasot_sequence(root, seed, cls, number, width, height, frames, index):
    """Write one LaSOT sequence; returns its absent frame count."""
    name = '%s-%d' % (cls, number)
    seq_dir = os.path.join(root, cls, name)
    track = render_track(seed, 'lasot', name, width, height, frames, index)
    for t, (rgb, _, _, _) in enumerate(track):
        write_jpeg(os.path.join(seq_dir, 'img', '%08d.jpg' % (t + 1)), rgb)
    write_bytes(os.path.join(seq_dir, 'groundtruth.txt'),
                _lines(_xywh(box, 1) for _, box, _, _ in track))
    out_of_view = [int(gone) for _, _, _, gone in track]
    occlusion = [int(box is None and not gone) for _, box, _, gone in track]
    write_bytes(os.path.join(seq_dir, 'full_occlusion.txt'), _lines(occlusion, ','))
    write_bytes(os.path.join(seq_dir, 'out_of_view.txt'), _lines(out_of_view, ','))
    write_bytes(os.path.join(seq_dir, 'nlp.txt'), ('a synthetic %s moving\n' % cls).encode())
    return sum(box is None for _, box, _, _ in track)


def write_lasot(out_dir, seed, width, height, classes=2, per_class=2, frames=8, faults=None):
    """Write the LaSOT sample under out_dir/LaSOT; returns its manifest entry."""
    from datasets.lasot import test_set   # only to report each sequence's official split
    root = os.path.join(out_dir, LASOT_ROOT)
    counts = {'train': {'sequences': 0, 'frames': 0, 'absent_frames': 0},
              'test': {'sequences': 0, 'frames': 0, 'absent_frames': 0}}
    tests = set(test_set())
    index = 0
    for cls in LASOT_CLASSES[:classes]:
        numbers = LASOT_NUMBERS if cls == 'airplane' else LASOT_NUMBERS[::-1]
        for number in numbers[:per_class]:
            absent = _lasot_sequence(root, seed, cls, number, width, height, frames, index)
            c = counts['test' if '%s-%d' % (cls, number) in tests else 'train']
            c['sequences'] += 1
            c['frames'] += frames
            c['absent_frames'] += absent
            index += 1
    if faults is not None:
        _lasot_sequence(root, seed, 'airplane', 3, width, height, frames, 2)
        os.remove(os.path.join(root, 'airplane', 'airplane-3', 'out_of_view.txt'))
        faults.add('lasot', 'missing_label_file', 'airplane/airplane-3/out_of_view.txt',
                   'out_of_view.txt removed')
        _lasot_sequence(root, seed, 'airplane', 4, width, height, frames, 2)
        gt = os.path.join(root, 'airplane', 'airplane-4', 'groundtruth.txt')
        with open(gt) as f:
            lines = f.read().splitlines()
        lines[0] = '10,10,-5,20'
        write_bytes(gt, _lines(lines))
        # a negative size is a broken file (datasets.numbers.xywh_problem), not one bad frame
        faults.add('lasot', 'bad_label_file', 'airplane/airplane-4/groundtruth.txt',
                   'frame 1 box has a negative width')
    return {'root': LASOT_ROOT, 'frame_size': [width, height], 'clean': counts}
