"""Odd but valid inputs and cut-short outputs (issue 20): list files with a UTF-8 byte order
mark or Windows line ends, result files written whole or not at all, and tracking sequences
whose frames change size mid-way."""
from __future__ import absolute_import, division, print_function

import os

import cv2
import numpy as np
import pytest

from datasets import davis, fileio, otb
from datasets.errors import InputError
from datasets.palette import read_label_png, write_palette_png
from datasets.tracking import Sequence, SequenceError
from evaluation.davis import write_reference_iou
from trackers import run as run_lib

BOM = b'\xef\xbb\xbf'


def _write(path, data):
    folder = os.path.dirname(path)
    if folder and not os.path.isdir(folder):
        os.makedirs(folder)
    with open(path, 'wb') as f:
        f.write(data)
    return path


# -- list files: BOM, CRLF, lone CR, blank lines --------------------------------------------------

def test_list_lines_drop_bom_cr_and_blank_lines_keeping_line_numbers():
    text = (BOM + b'bear\r\n\r\n  \r\nblack swan \rcamel\r\n\t\n').decode('utf-8')
    assert fileio.list_lines(text) == [(1, 'bear'), (4, 'black swan'), (5, 'camel')]
    assert fileio.list_lines(u'\ufeff') == [] and fileio.list_lines(u'') == []
    # only a leading mark is one: a BOM inside a line is content, not stripped silently
    assert fileio.list_lines(u'a\n\ufeffb') == [(1, 'a'), (2, u'\ufeffb')]


@pytest.mark.parametrize('layout', ['2017', '2016-original'])
def test_davis_listing_with_bom_and_crlf_names_every_sequence(tmpdir, layout):
    root = str(tmpdir)
    if layout == '2017':
        path = os.path.join(root, 'ImageSets', '2017', 'val.txt')
        body = b'bear\r\ncows\r\n\r\ndog\r\n'
        year = '2017'
    else:
        path = os.path.join(root, 'ImageSets', '480p', 'val.txt')
        body = (b'/JPEGImages/480p/bear/00000.jpg /Annotations/480p/bear/00000.png\r\n'
                b'/JPEGImages/480p/bear/00001.jpg /Annotations/480p/bear/00001.png\r\n'
                b'/JPEGImages/480p/cows/00000.jpg /Annotations/480p/cows/00000.png\r\n')
        year = '2016'
    _write(path, BOM + body)
    found, names = davis.split_listing(root, year, 'val')
    assert found == path
    assert names == (['bear', 'cows', 'dog'] if year == '2017' else ['bear', 'cows'])


def test_davis_listing_not_utf8_is_one_line_naming_it(tmpdir):
    path = _write(str(tmpdir.join('ImageSets', '2017', 'val.txt')), b'bear\n\xff\xfecows\n')
    with pytest.raises(InputError, match=r'val.txt: not UTF-8 text') as err:
        davis.split_listing(str(tmpdir), '2017', 'val')
    assert err.value.reason == 'bad_listing' and err.value.path == path
    assert '\n' not in str(err.value)


def test_otb_ground_truth_and_sequence_list_with_bom_and_crlf(tmpdir):
    root = str(tmpdir.join('otb'))
    for name, n in (('Basket', 3), ('Car', 2)):
        for i in range(1, n + 1):
            _write(os.path.join(root, name, 'img', '%04d.jpg' % i), b'')
        _write(os.path.join(root, name, 'groundtruth_rect.txt'),
               BOM + b'1,2,3,4\r\n' * n + b'\r\n')
    # a second target file holding only a BOM and line ends is empty, as a blank one is
    _write(os.path.join(root, 'Car', 'groundtruth_rect.2.txt'), BOM + b'\r\n\r\n')
    listing = _write(str(tmpdir.join('list.txt')), BOM + b'Car\r\n# a comment\r\nBasket 1 3\r\n')
    assert list(otb.read_sequence_list(listing).items()) == [('Car', None), ('Basket', (1, 3))]
    car, basket = otb.load_otb(root, listing)
    assert (car.name, len(car.frames)) == ('Car', 2)
    np.testing.assert_array_equal(car.boxes, [[1, 2, 3, 4]] * 2)
    assert basket.frames[-1].endswith('0003.jpg') and len(basket.boxes) == 3
    # without the list every folder loads, the BOM-only file skipped like an empty one
    assert [s.name for s in otb.load_otb(root)] == ['Basket', 'Car']


def test_otb_bad_lines_keep_their_numbers_and_undecodable_files_are_named(tmpdir):
    gt = _write(str(tmpdir.join('gt.txt')), BOM + b'1,2,3,4\r\n\r\n1,2,x,4\r\n')
    with pytest.raises(SequenceError, match=r"gt.txt:3: not numbers: '1,2,x,4'$"):
        otb.read_boxes(gt)
    listing = _write(str(tmpdir.join('list.txt')), b'Car\r\nBasket 2\r\n')
    with pytest.raises(SequenceError, match=r"list.txt:2: expected `name` or `name first last`"):
        otb.read_sequence_list(listing)
    latin = _write(str(tmpdir.join('latin.txt')), b'Caf\xe9\n')
    with pytest.raises(SequenceError, match=r'cannot read .*latin.txt'):
        otb.read_sequence_list(latin)
    with pytest.raises(SequenceError, match=r'cannot read .*missing.txt'):
        otb.read_sequence_list(str(tmpdir.join('missing.txt')))


# -- atomic writes --------------------------------------------------------------------------------

def _replace_fails(monkeypatch, error):
    def fail(src, dst):
        raise error
    monkeypatch.setattr(os, 'replace', fail)


def test_write_atomic_replaces_whole_or_leaves_the_old_file(tmpdir, monkeypatch):
    path = str(tmpdir.join('sub', 'out.txt'))
    fileio.write_atomic(path, b'first\n')
    fileio.write_atomic(path, b'second\n')
    assert open(path, 'rb').read() == b'second\n'
    _replace_fails(monkeypatch, OSError(28, 'No space left on device'))
    with pytest.raises(OSError, match='No space left'):
        fileio.write_atomic(path, b'third, cut short')
    assert open(path, 'rb').read() == b'second\n'
    assert os.listdir(str(tmpdir.join('sub'))) == ['out.txt']   # no temporary file left


def test_tracking_results_killed_mid_write_leave_no_result_file(tmpdir, monkeypatch):
    results = str(tmpdir)
    boxes = np.array([[1, 2, 3, 4], [1.5, 2.25, 3, 4]])
    run_lib.write_results(results, 'T', 'Car', boxes, np.array([0.5, 0.25]))
    assert open(os.path.join(results, 'T', 'Car.txt')).read() == (
        '1.000,2.000,3.000,4.000\n1.500,2.250,3.000,4.000\n')
    assert open(os.path.join(results, 'T', 'times', 'Car_time.txt')).read() == (
        '0.50000000\n0.25000000\n')
    # a kill while a new sequence's files are written: --skip-existing must not find Bolt.txt
    _replace_fails(monkeypatch, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        run_lib.write_results(results, 'T', 'Bolt', boxes, np.array([0.5, 0.25]))
    assert sorted(os.listdir(os.path.join(results, 'T'))) == ['Car.txt', 'times']
    assert os.listdir(os.path.join(results, 'T', 'times')) == ['Car_time.txt']


def test_segmentation_pngs_and_evaluation_outputs_are_written_whole(tmpdir, monkeypatch):
    png = str(tmpdir.join('bear', '00000.png'))
    labels = np.array([[0, 1], [2, 1]], np.uint8)
    write_palette_png(png, labels)
    np.testing.assert_array_equal(read_label_png(png), labels)
    report = {'year': '2017', 'objects': [
        {'sequence': 'bear', 'object': 1, 'J-Mean': 0.5}, {'sequence': 'cows', 'object': 2,
                                                           'J-Mean': 0.25}]}
    assert write_reference_iou(report, str(tmpdir)) == pytest.approx(0.375)
    iou = str(tmpdir.join('iou.txt'))
    assert open(iou).read() == 'bear/1\t0.500000\ncows/2\t0.250000\nall\t0.375000\n'
    _replace_fails(monkeypatch, OSError(28, 'No space left on device'))
    with pytest.raises(OSError):
        write_palette_png(png, np.zeros((2, 2), np.uint8))
    with pytest.raises(OSError):
        write_reference_iou({'year': '2016', 'objects': report['objects'][:1]}, str(tmpdir))
    np.testing.assert_array_equal(read_label_png(png), labels)
    assert open(iou).read().endswith('all\t0.375000\n')
    assert os.listdir(str(tmpdir.join('bear'))) == ['00000.png']


# -- frames that change size mid-way --------------------------------------------------------------

def _frames(folder, sizes):
    """PNG frames of the given (width, height) sizes; their paths."""
    paths = []
    for i, (width, height) in enumerate(sizes, 1):
        path = os.path.join(folder, '%04d.png' % i)
        cv2.imwrite(path, np.full((height, width, 3), 40 * i, np.uint8))
        paths.append(path)
    return paths


def test_frames_of_one_size_track(tmpdir):
    frames = _frames(str(tmpdir), [(12, 8)] * 3)
    boxes, _ = run_lib.track_sequence(run_lib.StaticTracker(),
                                      Sequence('Even', frames, np.array([[2., 2, 4, 4]]), 1))
    np.testing.assert_array_equal(boxes, [[2, 2, 4, 4]] * 3)


@pytest.mark.parametrize('sizes, bad', [
    ([(12, 8), (12, 8), (10, 8)], 2),      # narrower at the last frame
    ([(12, 8), (12, 9), (12, 8)], 1),      # one taller frame, back to the first size after it
    ([(8, 12), (12, 8)], 1),               # the same pixels, rotated
])
def test_a_size_change_mid_way_is_refused_naming_sequence_frame_and_sizes(tmpdir, sizes, bad):
    frames = _frames(str(tmpdir), sizes)
    sequence = Sequence('Shifty', frames, np.array([[1., 1, 4, 4]]), 0)
    with pytest.raises(SequenceError) as err:
        run_lib.track_sequence(run_lib.StaticTracker(), sequence)
    message = str(err.value)
    assert message == ('Shifty: frame %d (%s) is %dx%d, but frame 0 is %dx%d: every frame of a '
                       'sequence must have one size' % (bad, frames[bad], sizes[bad][0],
                                                        sizes[bad][1], sizes[0][0], sizes[0][1]))
    assert not os.path.exists(str(tmpdir.join('results')))


@pytest.mark.parametrize('text, words', [
    ('nan,nan,5,5', 'not a finite number'), ('1,2,inf,4', 'not a finite number'),
    ('1e12,2,3,4', 'outside'), ('1,2,3', 'x,y,w,h'), ('a,b,c,d', 'x,y,w,h'),
])
def test_a_hostile_init_box_is_one_line(text, words):
    """--init is checked as a ground-truth box is (finite, bounded), not only its size."""
    from trackers.sequences import parse_box
    with pytest.raises(SequenceError) as err:
        parse_box(text)
    assert words in str(err.value) and '\n' not in str(err.value)


def test_split_applies_to_got10k_only():
    import argparse
    from datasets import tracking
    parser = argparse.ArgumentParser()
    tracking.add_source_arguments(parser)
    args = parser.parse_args(['--otb', '/nowhere', '--split', 'test'])
    with pytest.raises(SequenceError, match='--split chooses a GOT-10k split'):
        tracking.load_benchmark(args)
