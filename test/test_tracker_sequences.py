"""Sequence loaders: OTB layout (separators, explicit frame ranges, several targets, empty
ground-truth files: the same sequences as got10k's OTB), ILSVRC2015-VID val tracks (the same
sequences as got10k's ImageNetVID), frame folders."""
from __future__ import absolute_import, division, print_function

import os

import numpy as np
import pytest

from datasets import otb, vid
from trackers import sequences as seq_lib


def _otb(root, name, n_images, boxes_text, first=1, gt_name='groundtruth_rect.txt'):
    folder = os.path.join(root, name)
    os.makedirs(os.path.join(folder, 'img'), exist_ok=True)
    for i in range(first, first + n_images):
        open(os.path.join(folder, 'img', '%04d.jpg' % i), 'w').close()
    with open(os.path.join(folder, gt_name), 'w') as f:
        f.write(boxes_text)
    return folder


def test_ground_truth_separators_and_bad_lines(tmpdir):
    path = str(tmpdir.join('gt.txt'))
    with open(path, 'w') as f:
        f.write('1,2,3,4\n5\t6\t7\t8\n9 10  11 12\n\n13, 14,15 ,16\n')
    np.testing.assert_array_equal(otb.read_boxes(path), np.arange(1, 17).reshape(4, 4))
    with open(path, 'w') as f:
        f.write('1,2,3,4\n1,2,3\n')
    with pytest.raises(seq_lib.SequenceError, match=r'gt.txt:2: expected 4 values'):
        otb.read_boxes(path)


def test_otb_frame_ranges_are_explicit(tmpdir):
    root = str(tmpdir)
    # David's ground truth covers frames 300..770 of 770 images (the known OTB table)
    _otb(root, 'David', 770, '1,1,5,5\n' * 471)
    # another sequence whose images start later than its ground truth needs a list entry
    _otb(root, 'Late', 12, '1,1,5,5\n' * 10)
    with pytest.raises(seq_lib.SequenceError, match=r'10 boxes but 12 images.*Late <first> <last>'):
        otb.load_otb(root)
    listing = str(tmpdir.join('list.txt'))
    with open(listing, 'w') as f:
        f.write('# name first last\nDavid\nLate 3 12\n')
    david, late = otb.load_otb(root, listing)
    assert len(david.frames) == 471 and david.frames[0].endswith('0300.jpg')
    assert len(late.frames) == 10 and late.frames[0].endswith('0003.jpg')
    assert late.frames[-1].endswith('0012.jpg') and late.origin == 1


def test_otb_sequences_with_several_targets(tmpdir):
    folder = _otb(str(tmpdir), 'Jogging', 3, '1,1,5,5\n' * 3, gt_name='groundtruth_rect.1.txt')
    with open(os.path.join(folder, 'groundtruth_rect.2.txt'), 'w') as f:
        f.write('2,2,6,6\n' * 3)
    one, two = otb.load_otb(str(tmpdir))
    assert (one.name, two.name) == ('Jogging.1', 'Jogging.2')
    assert two.boxes[0].tolist() == [2, 2, 6, 6]
    # a list file names a folder (all its targets) or one target by its got10k name
    listing = str(tmpdir.join('list.txt'))
    with open(listing, 'w') as f:
        f.write('Jogging.2\n')
    (only,) = otb.load_otb(str(tmpdir), listing)
    assert only.name == 'Jogging.2' and only.boxes[0].tolist() == [2, 2, 6, 6]
    with open(listing, 'w') as f:
        f.write('Jogging.3\n')
    with pytest.raises(seq_lib.SequenceError, match='Jogging.3 not found; Jogging holds '
                                                     'Jogging.1, Jogging.2'):
        otb.load_otb(str(tmpdir), listing)


def test_otb_tree_is_read_as_got10k_reads_it(tmpdir, capsys):
    """Human4's first ground-truth file is empty (OTB-100 as released): skipped, and the one
    left names the sequence Human4, as got10k's OTB does, so its result files join."""
    from got10k.datasets import OTB
    root = str(tmpdir)
    human = _otb(root, 'Human4', 4, '', gt_name='groundtruth_rect.1.txt')
    with open(os.path.join(human, 'groundtruth_rect.2.txt'), 'w') as f:
        f.write('3,3,7,7\n' * 4)
    jogging = _otb(root, 'Jogging', 3, '1,1,5,5\n' * 3, gt_name='groundtruth_rect.1.txt')
    with open(os.path.join(jogging, 'groundtruth_rect.2.txt'), 'w') as f:
        f.write('2\t2\t6\t6\n' * 3)
    _otb(root, 'David', 770, '1 1 5 5\n' * 471)
    _otb(root, 'Basketball', 5, '1,1,5,5\n' * 5)
    ours = otb.load_otb(root)
    theirs = OTB(root, version=2015, download=False)
    capsys.readouterr()                     # got10k's warnings about the other 96 sequences
    assert [s.name for s in ours] == ['Basketball', 'David', 'Human4', 'Jogging.1', 'Jogging.2']
    assert sorted(s.name for s in ours) == sorted(theirs.seq_names)
    for sequence in ours:
        frames, anno = theirs[sequence.name]
        assert sequence.frames == frames
        np.testing.assert_array_equal(sequence.boxes, anno)
    assert seq_lib.select(ours, 'Human4', root)[0].boxes[0].tolist() == [3, 3, 7, 7]
    # a folder holding only empty ground truth is an error that says so
    _otb(root, 'Empty', 2, '\n')
    with pytest.raises(seq_lib.SequenceError, match='Empty: no ground truth'):
        otb.load_otb(root)


def test_builtin_otb_ranges_can_be_switched_off(tmpdir):
    # a folder that happens to be called David, with ground truth on every frame
    root = str(tmpdir)
    _otb(root, 'David', 20, '1,1,5,5\n' * 20)
    with pytest.raises(seq_lib.SequenceError,
                       match=r'20 boxes but 0 images in 300..770 \(the built-in OTB range of '
                             r'David; --no-otb-ranges turns it off\)'):
        otb.load_otb(root)
    (david,) = otb.load_otb(root, builtin_ranges=False)
    assert len(david.frames) == 20
    listing = str(tmpdir.join('list.txt'))
    with open(listing, 'w') as f:
        f.write('David 1 20\n')     # a list line overrides the table
    (david,) = otb.load_otb(root, listing)
    assert len(david.frames) == 20


def test_frame_folder_needs_a_positive_first_box(tmpdir):
    folder = _otb(str(tmpdir), 'clip', 3, '')
    (sequence,) = seq_lib.load_sequence(folder, seq_lib.parse_box('4,5,6,7'))
    assert len(sequence.frames) == 3 and sequence.origin == 0
    assert sequence.name == 'clip'      # the sequence folder's name, not img
    assert sequence.boxes.tolist() == [[4, 5, 6, 7]]
    for bad in ('1,2,3', '1,2,0,4', 'a,b,c,d'):
        with pytest.raises(seq_lib.SequenceError, match='--init must be x,y,w,h'):
            seq_lib.parse_box(bad)


def test_vid_val_tracks_are_got10k_imagenet_vid_sequences(sample_data, tmpdir):
    from got10k.datasets import ImageNetVID
    root = os.path.join(sample_data[0], 'ILSVRC2015')
    ours = vid.track_sequences(root)
    theirs = ImageNetVID(root, subset='val', cache_dir=str(tmpdir.join('cache')))
    assert [s.name for s in ours] == list(theirs.seq_names) and len(ours) >= 2
    for sequence in ours:
        frames, anno = theirs[sequence.name]
        assert [os.path.normpath(p) for p in sequence.frames] == [
            os.path.normpath(p) for p in frames]
        np.testing.assert_array_equal(sequence.boxes, anno)
        assert all(os.path.isfile(p) for p in sequence.frames) and sequence.origin == 0
    with pytest.raises(seq_lib.SequenceError, match='Annotations/VID/val'):
        vid.track_sequences(str(tmpdir))
