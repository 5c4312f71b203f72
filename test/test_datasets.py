"""The datasets/ readers on tiny hand-made trees: layouts, listings, parsing, ordering, the void
label, and the one-line InputError of bad input."""
from __future__ import absolute_import, division, print_function

import json
import os

import numpy as np
import pytest
from PIL import Image

from datasets import coco, davis, frames, images, otb, palette, tracking, vid, ytvos
from datasets.errors import InputError

XML = b'''<annotation><folder>%s</folder><filename>%s</filename>
<size><width>40</width><height>30</height></size>%s</annotation>'''
OBJECT = b'''<object><trackid>%d</trackid><name>n01</name><occluded>1</occluded>
<bndbox><xmin>%d</xmin><ymin>2</ymin><xmax>9</xmax><ymax>12</ymax></bndbox></object>'''


def _write(path, data=b''):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb' if isinstance(data, bytes) else 'w') as f:
        f.write(data)
    return path


# -- ILSVRC2015-VID ---------------------------------------------------------------------------

def test_vid_annotation_parsing_and_its_errors():
    ann = vid.parse_annotation(XML % (b'snip', b'000002', OBJECT % (3, 4) + OBJECT % (0, 1)))
    assert (ann.folder, ann.filename, ann.width, ann.height) == ('snip', '000002', 40, 30)
    assert [(o.trackid, o.box, o.occluded, o.generated) for o in ann.objects] == [
        (3, (4, 2, 9, 12), 1, 0), (0, (1, 2, 9, 12), 1, 0)]
    with pytest.raises(InputError) as err:
        vid.parse_annotation(b'<annotation><folder>')
    assert err.value.reason == 'malformed_xml'
    with pytest.raises(InputError, match='missing <size/width>'):
        vid.parse_annotation(b'<annotation><folder>a</folder><filename>b</filename>'
                             b'</annotation>')
    with pytest.raises(InputError, match=r"<trackid> is not an integer: 'x'"):
        vid.parse_annotation(XML % (b'a', b'b', (OBJECT % (1, 1)).replace(b'>1<', b'>x<', 1)))


def test_vid_frames_in_number_order_and_unnumbered_ones_listed(tmpdir):
    ann_dir, data_dir = str(tmpdir.join('ann')), str(tmpdir.join('data'))
    for stem in ('10', '2', 'cover'):
        _write(os.path.join(ann_dir, stem + '.xml'))
    _write(os.path.join(data_dir, '3.JPEG'))
    listed, unnumbered = vid.snippet_frames(ann_dir, data_dir)
    assert [(f.number, f.stem, f.xml is not None) for f in listed] == [
        (2, '2', True), (3, '3', False), (10, '10', True)]
    assert unnumbered == ['cover']


def test_vid_snippets_of_both_trees_and_a_missing_tree(tmpdir):
    root = str(tmpdir)
    _write(os.path.join(root, 'Annotations/VID/train/batch_0/a/000000.xml'))
    _write(os.path.join(root, 'Data/VID/val/b/000000.JPEG'))
    os.makedirs(os.path.join(root, 'Annotations/VID/val'))
    os.makedirs(os.path.join(root, 'Data/VID/train'))
    assert vid.list_snippets(root) == [('train', 'batch_0/a', 'a'), ('val', 'b', 'b')]
    with pytest.raises(FileNotFoundError, match='Data/VID not found'):
        vid.list_snippets(str(tmpdir.mkdir('empty').mkdir('Annotations').mkdir('VID').dirpath()
                              .dirpath()))


def test_vid_track_sequences_skip_single_frame_tracks(tmpdir):
    root = str(tmpdir)
    for number, objects in ((0, OBJECT % (1, 4) + OBJECT % (2, 0)), (1, OBJECT % (1, 5))):
        stem = '%06d' % number
        _write(os.path.join(root, 'Annotations/VID/val/snip', stem + '.xml'),
               XML % (b'snip', stem.encode(), objects))
    (track,) = vid.track_sequences(root)
    assert track.name == 'snip.1' and track.origin == 0
    assert [os.path.basename(f) for f in track.frames] == ['000000.JPEG', '000001.JPEG']
    np.testing.assert_array_equal(track.boxes, [[4, 2, 6, 11], [5, 2, 5, 11]])
    with pytest.raises(tracking.SequenceError, match='Annotations/VID/val not found'):
        vid.track_sequences(str(tmpdir.mkdir('nothing')))


# -- DAVIS ------------------------------------------------------------------------------------

def test_davis_listings_of_both_releases(tmpdir):
    root = str(tmpdir)
    _write(os.path.join(root, 'ImageSets/2017/val.txt'), 'bear\n\ncows\nbear\n')
    _write(os.path.join(root, 'ImageSets/480p/val.txt'),
           '/JPEGImages/480p/cows/00000.jpg /Annotations/480p/cows/00000.png\n'
           '/JPEGImages/480p/cows/00001.jpg /Annotations/480p/cows/00001.png\n'
           '/JPEGImages/480p/dog/00000.jpg /Annotations/480p/dog/00000.png\n')
    assert davis.split_listing(root, '2017', 'val')[1] == ['bear', 'cows']
    path, names = davis.split_listing(root, '2016', 'val')   # no ImageSets/2016: the original
    assert path.endswith('ImageSets/480p/val.txt') and names == ['cows', 'dog']
    with pytest.raises(InputError, match='ImageSets/2017/train.txt: not found') as err:
        davis.split_listing(root, '2017', 'train')
    assert err.value.reason == 'missing_listing' and '\n' not in str(err.value)
    _write(os.path.join(root, 'ImageSets/2017/train.txt'), '\n')
    with pytest.raises(InputError, match='train.txt: lists no sequence'):
        davis.split_listing(root, '2017', 'train')
    with pytest.raises(InputError, match='year must be one of'):
        davis.split_listing(root, '2018', 'val')


def test_void_is_background_in_2017_and_the_object_in_2016(tmpdir):
    labels = np.array([[0, 1, 255, 2]], np.uint8)
    np.testing.assert_array_equal(davis.object_labels(labels, '2017'), [[0, 1, 0, 2]])
    np.testing.assert_array_equal(davis.object_labels(labels, '2016'), [[0, 1, 1, 1]])
    assert images.object_ids(labels) == [1, 2] and images.label_ids(labels) == [1, 2, 255]
    root = str(tmpdir)
    for t in range(2):
        palette.write_palette_png(os.path.join(davis.annotation_dir(root, 'seq'),
                                               '%05d.png' % t), labels)
    names, maps, count = davis.ground_truth(root, 'seq', '2017')
    assert names == ['00000', '00001'] and count == 2 and maps.shape == (2, 1, 4)
    with pytest.raises(InputError, match='2 annotated frames, needs at least 3'):
        davis.ground_truth(root, 'seq', '2017', min_frames=3)


# -- YouTube-VOS ------------------------------------------------------------------------------

def test_ytvos_meta_and_video_listing(tmpdir):
    root = str(tmpdir)
    _write(ytvos.meta_path(root, 'train'), json.dumps(
        {'videos': {'v1': {'objects': {'1': {'category': 'cat', 'frames': ['00000']}}}}}))
    os.makedirs(ytvos.image_dir(root, 'train', 'v2'))
    assert ytvos.list_videos(root, 'train') == ['v1', 'v2']
    with pytest.raises(FileNotFoundError, match='valid/ not found.*pass --splits train'):
        ytvos.read_meta(root, 'valid')
    _write(ytvos.meta_path(root, 'valid'), '{"videos": []}')
    with pytest.raises(ValueError, match='"videos" must map video ids to entries, found list'):
        ytvos.read_meta(root, 'valid')
    assert ytvos.meta_entry_problem({'objects': []}) is not None
    assert ytvos.meta_entry_problem({'objects': {}}) is None


def test_ytvos_object_keys_are_object_indices_not_void():
    good = {'category': 'cat', 'frames': ['00000']}
    assert ytvos.meta_object_problem('254', good) is None
    assert ytvos.meta_object_problem('255', good)[0] == 'bad_object_id'   # void
    assert ytvos.meta_object_problem('1', {'frames': '00000'})[0] == 'bad_meta_entry'
    assert ytvos.OSMN_SIZE == images.Size(height=256, width=448)
    assert davis.OSMN_SIZE.width == 854


def test_video_frames_ordered_by_number_with_masks_where_present(tmpdir):
    image_dir, mask_dir = str(tmpdir.join('img')), str(tmpdir.join('ann'))
    for name in ('10', '2', '0'):
        _write(os.path.join(image_dir, name + '.jpg'))
    _write(os.path.join(mask_dir, '2.png'))
    _write(os.path.join(mask_dir, '5.png'))   # a mask without its frame is listed too
    listed = frames.frame_paths(image_dir, mask_dir)
    assert [(f.name, f.mask is not None) for f in listed] == [
        ('0', False), ('2', True), ('5', True), ('10', False)]
    assert frames.frame_gaps(['0', '2', '5', '10'], 1) == [('0', '2'), ('2', '5'), ('5', '10')]


# -- COCO -------------------------------------------------------------------------------------

def test_coco_screening_names_each_unusable_entry():
    dataset = {'images': [{'id': 1}, {'id': 1}, {'id': 'x'}],
               'categories': [{'id': 3}, {'id': None}],
               'annotations': [{'id': 7, 'image_id': 1, 'category_id': 3},
                               {'id': 8, 'image_id': 2, 'category_id': 3},
                               {'image_id': 1, 'category_id': 3}]}
    screened = coco.screen(dataset, 'a.json')
    assert list(screened.images) == [1] and [a['id'] for a in screened.annotations] == [7]
    assert [(level, reason, where) for level, reason, where, _ in screened.problems] == [
        ('image', 'duplicate_image_id', 'a.json#image=1'),
        ('image', 'bad_image_id', "a.json#image='x'"),
        ('warning', 'bad_category', 'a.json#categories[1]'),
        ('object', 'unknown_image_id', 'a.json#annotation=8'),
        ('object', 'bad_annotation_id', 'a.json#annotations[2]')]
    with pytest.raises(ValueError, match='no "images" list'):
        coco.screen({}, 'a.json')
    with pytest.raises(InputError, match='negative width'):
        coco.check_bbox([0, 0, -1, 2], 10, 10)


# -- OTB --------------------------------------------------------------------------------------

def test_otb_lists_ranges_and_count_mismatch(tmpdir):
    listing = _write(str(tmpdir.join('list.txt')), 'Basket\n# comment\ndavid 3 4\n')
    assert list(otb.read_sequence_list(listing).items()) == [('Basket', None), ('david', (3, 4))]
    _write(str(tmpdir.join('bad.txt')), 'a 1\n')
    with pytest.raises(tracking.SequenceError, match=r'bad.txt:1: expected `name`'):
        otb.read_sequence_list(str(tmpdir.join('bad.txt')))
    assert otb.builtin_frame_range('DAVID') == (300, 770)
    seq = str(tmpdir.join('Car'))
    for i in range(1, 4):
        _write(os.path.join(seq, 'img', '%04d.jpg' % i))
    _write(os.path.join(seq, 'groundtruth_rect.txt'), '1,2,3,4\n5\t6\t7\t8\n')
    with pytest.raises(tracking.SequenceError, match='2 boxes but 3 images') as err:
        otb.otb_sequence(seq)
    assert isinstance(err.value, InputError)
    (car,) = otb.otb_sequence(seq, frame_range=(2, 3))
    assert car.origin == 1 and [os.path.basename(f) for f in car.frames] == ['0002.jpg',
                                                                             '0003.jpg']


# -- palette PNGs -----------------------------------------------------------------------------

def test_label_png_reading_of_palette_grey_and_rgb(tmpdir):
    labels = np.array([[0, 1, 2, 255]], np.uint8)
    path = str(tmpdir.join('p.png'))
    palette.write_palette_png(path, labels)
    np.testing.assert_array_equal(palette.read_label_png(path), labels)
    rgb = palette.palette_colours()[labels]
    Image.fromarray(rgb).save(str(tmpdir.join('rgb.png')))
    np.testing.assert_array_equal(palette.read_label_png(str(tmpdir.join('rgb.png'))), labels)
    rgb[0, 1] = (10, 200, 30)
    Image.fromarray(rgb).save(str(tmpdir.join('odd.png')))
    with pytest.raises(InputError, match=r'odd.png: an RGB PNG with colour \(10, 200, 30\)'):
        palette.read_label_png(str(tmpdir.join('odd.png')))
    with pytest.raises(InputError, match='missing.png: cannot read'):
        palette.read_label_png(str(tmpdir.join('missing.png')))


# -- void through the converter and the evaluator ---------------------------------------------

def _void_davis_tree(root, year_listing):
    """One 3-frame DAVIS sequence `seq`: objects 1 (left) and 2 (right) with a void outline."""
    import cv2
    labels = np.zeros((12, 16), np.uint8)
    labels[3:7, 2:6], labels[3:9, 9:14] = 1, 2
    grown = cv2.dilate((labels > 0).astype(np.uint8), np.ones((3, 3), np.uint8))
    labels[(labels == 0) & (grown > 0)] = palette.VOID_LABEL
    jpeg = cv2.imencode('.jpg', np.full((12, 16, 3), 90, np.uint8))[1].tobytes()
    for t in range(3):
        _write(os.path.join(davis.image_dir(root, 'seq'), '%05d.jpg' % t), jpeg)
        palette.write_palette_png(os.path.join(davis.annotation_dir(root, 'seq'),
                                               '%05d.png' % t), labels)
    for year in year_listing:
        _write(os.path.join(root, 'ImageSets', year, 'val.txt'), 'seq\n')
    return labels


def _convert(root, year):
    from pipelines import vos
    from pipelines.converter import UnitResult
    from schemas import vos_video
    converter = vos.DavisConverter(root, year)
    converter.setup()
    result = UnitResult()
    converter.convert(vos.Video('val', 'seq'), result)
    assert [r for r in result.rejections if r['level'] != 'warning'] == []
    (_, serialized), = result.records
    return vos_video.read(serialized)


def _stored_mask(record, t):
    return images.read_index_png(record['frame_mask'][t])


def test_davis2017_records_keep_void_but_never_as_an_object(tmpdir):
    labels = _void_davis_tree(str(tmpdir), ['2017'])
    record = _convert(str(tmpdir), '2017')
    assert list(record['object_ids']) == [1, 2]            # not 255
    np.testing.assert_array_equal(_stored_mask(record, 0), labels)   # void stays 255
    assert [list(b) for b in record['frame_object_bbox'][0]] == [[2, 3, 5, 6], [9, 3, 13, 8]]
    assert list(record['frame_object_area'][0]) == [16, 30]


def test_davis2016_reads_every_non_zero_index_as_object_1(tmpdir):
    labels = _void_davis_tree(str(tmpdir), ['2016'])
    record = _convert(str(tmpdir), '2016')
    assert list(record['object_ids']) == [1]
    np.testing.assert_array_equal(_stored_mask(record, 0), (labels > 0).astype(np.uint8))
    assert list(record['frame_object_area'][0]) == [int((labels > 0).sum())]


def test_the_evaluator_counts_void_as_background(tmpdir):
    from evaluation import davis as davis_eval
    root = str(tmpdir)
    labels = _void_davis_tree(root, ['2017'])
    clean = np.where(labels == palette.VOID_LABEL, 0, labels)

    def predict(sequence, names, shape):
        return np.repeat(clean[None], len(names), axis=0)
    report = davis_eval.evaluate(root, '2017', 'val', predict)
    assert [o['J-Mean'] for o in report['objects']] == [1.0, 1.0]
    assert report['global']['J&F-Mean'] == 1.0
