"""Hostile numbers and names in annotation files (issue 20, section 1 and the file_name item of
section 2): the pure checks of datasets.numbers on invented cases, the readers that use them
(COCO, VID XML, OTB ground truth), pycocotools never called with a hostile annotation, and the
COCO and VID pipelines on the corrupt sample: each planted case one dead letter naming its value,
the good records still written. One module for the class, over 400 lines because its invented
cases are many and each is a line."""
from __future__ import absolute_import, division, print_function

import json
import os

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from datasets import coco, numbers, otb, vid
from datasets.errors import InputError
from datasets.tracking import SequenceError
from pipelines import coco as coco_pipeline
from pipelines import vid as vid_pipeline
from record_files import load_output
from sampledata.coco import uncompressed_rle
from sampledata.common import jpeg_bytes, write_bytes, write_json
from schemas import coco_instances, vid_track, vos_video

FAST = ['--direct_running_mode=in_memory', '--direct_num_workers=1']
NAN, INF = float('nan'), float('inf')
H, W = 30, 40   # the hand-made image of these tests: 40 wide, 30 high
TRIANGLE = [1.0, 1.0, 30.0, 1.0, 30.0, 20.0]


def _raises(reason, fn, *args):
    with pytest.raises(InputError) as err:
        fn(*args)
    assert err.value.reason == reason, err.value.detail
    return err.value.detail


# -- polygons ---------------------------------------------------------------------------------

CIRCLE = [v for k in range(3000)
          for v in (20 + 15 * np.cos(k / 477.0), 15 + 10 * np.sin(k / 477.0))]


@pytest.mark.parametrize('polygons', [
    [TRIANGLE], [TRIANGLE, [0, 0, 40, 0, 40, 30, 0, 30]],      # ints are numbers too
    [[-20.0, -15.0, 60.0, -15.0, 60.0, 45.0]],                 # on the margin: kept
    [[float(v) for v in CIRCLE]],                              # 3,000 points
])
def test_usable_polygons_pass(polygons):
    coco.check_segmentation(polygons, H, W)


@pytest.mark.parametrize('polygons, shown', [
    ([[1.0, 1.0, NAN, 1.0, 30.0, 20.0]], 'x[1] = nan'),
    ([[1.0, NAN, 5.0, 1.0, 30.0, 20.0]], 'y[0] = nan'),
    ([TRIANGLE, [1.0, 1.0, 5.0, INF, 9.0, 9.0]], 'polygon 1 y[1] = inf'),
    ([[1.0, 1.0, -INF, 1.0, 30.0, 20.0]], '-inf'),
    ([[1.0, 1.0, 1e12, 1.0, 30.0, 20.0]], '1000000000000.0'),
    ([[1.0, 1.0, 10 ** 400, 1.0, 30.0, 20.0]], '1000000'),    # a JSON int no float can hold
    ([[-1e6, 1.0, 30.0, 1.0, 30.0, 20.0]], '-1000000.0'),
    ([[1.0, 1.0, 60.5, 1.0, 30.0, 20.0]], '60.5'),             # just past the margin
    ([[1.0, -15.5, 5.0, 1.0, 30.0, 20.0]], '-15.5'),
    ([[1.0, 1.0, '30', 1.0, 30.0, 20.0]], "'30'"),
    ([[1.0, 1.0, True, 1.0, 30.0, 20.0]], 'True'),
    ([[1.0, 1.0, None, 1.0, 30.0, 20.0]], 'None'),
    ([[1.0, 1.0, [2.0], 1.0, 30.0, 20.0]], '[2.0]'),
    ([[0.0, 0.0] * 10001], '10001 polygon points'),
    ([[0.0, 0.0] * 6000, [1.0, 1.0] * 4001], '10001 polygon points'),
    ([[0.0, 0.0, 40.0, 30.0] * 1000], 'boundary of 80000 pixels'),  # a zig-zag of 2000 edges
    ([[1.0, 1.0, 5.0, 5.0]], '4 numbers'),
    ([[1.0, 1.0, 5.0, 5.0, 6.0]], '5 numbers'),
    ([], 'empty polygon list'),
    (['1,1,5,5,6,6'], "'1,1,5,5,6,6'"),
])
def test_hostile_polygons_are_refused_naming_the_value(polygons, shown):
    assert shown in _raises('invalid_polygon', coco.check_segmentation, polygons, H, W)


# -- RLE ----------------------------------------------------------------------------------------

def test_compressed_rle_runs_are_those_pycocotools_encodes():
    rng = np.random.RandomState(3)
    for _ in range(60):
        h, w = rng.randint(1, 70, 2)
        mask = (rng.rand(h, w) < rng.rand()).astype(np.uint8)
        counts = mask_utils.encode(np.asfortranarray(mask))['counts'].decode('ascii')
        assert numbers.rle_string_runs(counts, h * w + 1) == uncompressed_rle(mask)['counts']
        coco.check_segmentation({'size': [int(h), int(w)], 'counts': counts}, h, w)
    assert numbers.rle_string_runs('', 5) == []
    assert numbers.rle_string_runs('0', 5) == [0]


def _rle_string(mask):
    return mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))['counts'].decode('ascii')


@pytest.mark.parametrize('rle, reason, shown', [
    ({'size': [H, W], 'counts': [H * W * 1000]}, 'invalid_rle', 'sum to 1200000'),
    ({'size': [H, W], 'counts': [H * W - 1]}, 'invalid_rle', 'sum to 1199'),
    ({'size': [H, W], 'counts': [-5, H * W + 5]}, 'invalid_rle', 'run -5'),
    ({'size': [H, W], 'counts': [600, 600.0]}, 'invalid_rle', 'run 600.0'),
    ({'size': [H, W], 'counts': [600, NAN]}, 'invalid_rle', 'run nan'),
    ({'size': [H, W], 'counts': [0] * (H * W + 2)}, 'invalid_rle', '1202 RLE runs'),
    ({'size': [H, W], 'counts': _rle_string(np.ones((H + 1, W)))}, 'invalid_rle',
     'sum to 1240'),
    ({'size': [H, W], 'counts': '000P'}, 'invalid_rle', 'ends inside a run'),
    ({'size': [H, W], 'counts': '0 0'}, 'invalid_rle', "bad character ' '"),
    ({'size': [H, W], 'counts': '0\u00e9'}, 'invalid_rle', 'bad character'),
    ({'size': [H, W], 'counts': 'o' * 7 + '0'}, 'invalid_rle', 'longer than 30 bits'),
    ({'size': [H, W], 'counts': '111@'}, 'invalid_rle', 'run -15'),  # a negative delta
    ({'size': [H, W], 'counts': 1200}, 'invalid_rle', 'of type int'),
    ({'size': [H, W], 'counts': b'\xff'}, 'invalid_rle', 'not ASCII'),
    ({'size': [H, W]}, 'invalid_rle', 'of type NoneType'),
    ({'size': [H + 1, W], 'counts': [H * W + W]}, 'rle_wrong_size', '[31, 40]'),
    ({'size': [float(H), W], 'counts': [H * W]}, 'rle_wrong_size', '[30.0, 40]'),
    ({'size': [10 ** 9, 10 ** 9], 'counts': [10 ** 18]}, 'rle_wrong_size', '1000000000'),
    ({'size': 'ab', 'counts': [H * W]}, 'rle_wrong_size', "'ab'"),
    ({'counts': [H * W]}, 'rle_wrong_size', 'None'),
])
def test_hostile_rle_is_refused_naming_the_value(rle, reason, shown):
    assert shown in _raises(reason, coco.check_segmentation, rle, H, W)


def test_usable_rle_passes():
    mask = np.zeros((H, W), np.uint8)
    mask[3:9, 5:20] = 1
    for counts in (uncompressed_rle(mask)['counts'], _rle_string(mask),
                   _rle_string(mask).encode('ascii')):
        coco.check_segmentation({'size': [H, W], 'counts': counts}, H, W)


# -- boxes, areas, flags, ids, sizes, names -----------------------------------------------------

@pytest.mark.parametrize('bbox', [[1.0, 1.0, 10.0, 10.0], [0, 0, 40, 30], [30.0, 20.0, 25.0, 20.0],
                                  [-20.0, -15.0, 30.0, 20.0], [5.0, 5.0, 0.0, 0.0]])
def test_boxes_inside_or_within_the_margin_are_kept(bbox):
    coco.check_bbox(bbox, H, W)


@pytest.mark.parametrize('bbox, reason, shown', [
    ([1.0, NAN, 10.0, 10.0], 'bad_bbox', 'nan'),
    ([1.0, 1.0, INF, 10.0], 'bad_bbox', 'inf'),
    ([1.0, 1.0, 10 ** 400, 10.0], 'bad_bbox', '1000000'),
    (['1', 1.0, 10.0, 10.0], 'bad_bbox', "'1'"),
    ([1.0, 1.0, 10.0], 'bad_bbox', '[1.0, 1.0, 10.0]'),
    ((1.0, 1.0, 10.0, 10.0), 'bad_bbox', '(1.0, 1.0, 10.0, 10.0)'),
    ([1.0, 1.0, -1.0, 10.0], 'bad_bbox', 'negative width'),
    ([0.0, 0.0, 1e12, 1e12], 'box_past_margin', '1000000000000.0'),
    ([-21.0, 0.0, 25.0, 10.0], 'box_past_margin', '-21.0'),
    ([35.0, 0.0, 26.0, 10.0], 'box_past_margin', '26.0'),     # ends at 61 > 40 + 20
    ([40.0, 1.0, 10.0, 10.0], 'box_outside_frame', '40.0'),
    ([1.0, -10.0, 10.0, 10.0], 'box_outside_frame', '-10.0'),  # ends where the image starts
    ([1e9, 1e9, 1.0, 1.0], 'box_outside_frame', '1000000000.0'),
])
def test_hostile_boxes_are_refused_naming_the_value(bbox, reason, shown):
    assert shown in _raises(reason, coco.check_bbox, bbox, H, W)


def _ann(**fields):
    return dict({'segmentation': [TRIANGLE], 'bbox': [1.0, 1.0, 29.0, 19.0], 'area': 280.5,
                 'iscrowd': 0}, **fields)


@pytest.mark.parametrize('fields, reason, shown', [
    ({'area': NAN}, 'bad_area', 'nan'), ({'area': -1.0}, 'bad_area', '-1.0'),
    ({'area': 1e12}, 'bad_area', '1000000000000.0'), ({'area': '280'}, 'bad_area', "'280'"),
    ({'iscrowd': '0'}, 'bad_iscrowd', "'0'"), ({'iscrowd': 2}, 'bad_iscrowd', '2'),
    ({'iscrowd': 1.0}, 'bad_iscrowd', '1.0'), ({'iscrowd': None}, 'bad_iscrowd', 'None'),
    ({'bbox': None}, 'bad_bbox', 'None'),
    ({'segmentation': None}, 'invalid_segmentation', 'NoneType'),
])
def test_every_number_of_an_annotation_is_checked(fields, reason, shown):
    coco.check_annotation_numbers(_ann(), H, W)
    coco.check_annotation_numbers(_ann(area=H * W * 4, iscrowd=1), H, W)  # area: with margin
    assert shown in _raises(reason, coco.check_annotation_numbers, _ann(**fields), H, W)


@pytest.mark.parametrize('fields, reason, shown', [
    ({'width': 10 ** 9, 'height': 10 ** 9}, 'bad_image_size', '1000000000'),
    ({'width': 0}, 'bad_image_size', 'width 0'),
    ({'height': -480}, 'bad_image_size', '-480'),
    ({'width': '640'}, 'bad_image_size', "'640'"),
    ({'width': 640.0}, 'bad_image_size', '640.0'),
    ({'height': NAN}, 'bad_image_size', 'nan'),
    ({'height': None}, 'bad_image_size', 'None'),
    ({'width': numbers.MAX_IMAGE_SIDE + 1}, 'bad_image_size', '32769'),
    ({'file_name': '../val2017/000000000139.jpg'}, 'unsafe_file_name', '../val2017/'),
    ({'file_name': '/etc/passwd'}, 'unsafe_file_name', 'absolute'),
    ({'file_name': 'a/../../x.jpg'}, 'unsafe_file_name', 'a/../../x.jpg'),
    ({'file_name': '..'}, 'unsafe_file_name', "'..'"),
    ({'file_name': 'x/..\\..\\y.jpg'}, 'unsafe_file_name', 'leaves'),
    ({'file_name': 'gs://bucket/x.jpg'}, 'unsafe_file_name', 'absolute'),
    ({'file_name': 'x\x00.jpg'}, 'unsafe_file_name', 'NUL'),
    ({'file_name': ''}, 'unsafe_file_name', "''"),
    ({'file_name': 139}, 'unsafe_file_name', '139'),
])
def test_image_entries_are_checked_before_their_file_is_opened(fields, reason, shown):
    entry = {'id': 139, 'file_name': '000000000139.jpg', 'width': 640, 'height': 426}
    assert coco.image_entry_problem(entry) is None
    assert coco.image_entry_problem(dict(entry, file_name='sub/./x..jpg')) is None
    found = coco.image_entry_problem(dict(entry, **fields))
    assert found[0] == reason and shown in found[1], found


@pytest.mark.parametrize('value, usable', [
    (0, True), (1, True), (numbers.MAX_ID, True), (numbers.MAX_ID + 1, False), (-1, False),
    (1.0, False), (True, False), ('1', False), (None, False), ([1], False)])
def test_ids_are_int64_integers(value, usable):
    images, categories = {value: {}} if usable else {5: {}}, {1: {}}
    ann = {'id': value, 'image_id': value if usable else 5, 'category_id': 1}
    problem = coco.annotation_problem(ann, images, categories)
    assert (problem is None) == usable, problem
    if not usable:
        assert problem[0] == 'bad_annotation_id'
        assert coco.annotation_problem(dict(ann, id=7, image_id=value), images,
                                       categories)[0] == 'bad_image_id'
        assert coco.annotation_problem(dict(ann, id=7, category_id=value), {5: {}},
                                       categories)[0] == 'unknown_category_id'
        screened = coco.screen({'images': [{'id': value}], 'categories': [{'id': value}]}, 'a')
        assert [p[1] for p in screened.problems] == ['bad_image_id', 'bad_category']


# -- VID XML ----------------------------------------------------------------------------------

XML = '''<annotation><folder>f</folder><filename>000000</filename>
<size><width>%s</width><height>%s</height></size><object><trackid>%s</trackid><name>n01</name>
<bndbox><xmin>%s</xmin><ymin>2</ymin><xmax>%s</xmax><ymax>12</ymax></bndbox>
<occluded>%s</occluded></object></annotation>'''


def _xml(width='40', height='30', trackid='3', xmin='4', xmax='9', occluded='0'):
    return (XML % (width, height, trackid, xmin, xmax, occluded)).encode('utf-8')


@pytest.mark.parametrize('fields, shown', [
    ({'xmin': 'nan'}, "'nan'"), ({'xmax': 'inf'}, "'inf'"), ({'xmin': '1e3'}, "'1e3'"),
    ({'xmin': '4.5'}, "'4.5'"), ({'xmin': '1_0'}, "'1_0'"), ({'xmin': '\u0663'}, "'\u0663'"),
    ({'xmax': '1000000000000'}, '1000000000000 is not within'),
    ({'xmin': '-99999999'}, '-99999999'),
    ({'width': '1000000000'}, '<size/width> 1000000000'), ({'height': '0'}, '<size/height> 0'),
    ({'width': '-640'}, '-640'), ({'trackid': '-1'}, '<trackid> -1'),
    ({'trackid': str(1 << 63)}, str(1 << 63)), ({'occluded': 'yes'}, "<occluded> is not"),
    ({'occluded': '2'}, '<occluded> 2'),
])
def test_vid_xml_numbers_are_sane_integers(fields, shown):
    ann = vid.parse_annotation(_xml())
    assert (ann.width, ann.height, ann.objects[0].box) == (40, 30, (4, 2, 9, 12))
    assert vid.parse_annotation(_xml(occluded=' ')).objects[0].occluded == 0
    assert shown in _raises('bad_annotation', vid.parse_annotation, _xml(**fields))


@pytest.mark.parametrize('box, reason', [
    ((0, 0, 39, 29), None), ((-20, -15, 59, 44), None), ((35, 2, 59, 12), None),
    ((-21, 2, 9, 12), 'box_past_margin'), ((4, 2, 60, 12), 'box_past_margin'),
    ((4, 2, 9, 45), 'box_past_margin'), ((0, 0, 65535, 65535), 'box_past_margin'),
    ((40, 2, 50, 12), 'box_outside_frame'), ((-9, 2, -1, 12), 'box_outside_frame'),
    ((4, 2, 3, 12), 'zero_area_box'),
])
def test_vid_boxes_follow_the_same_rule_as_coco(box, reason):
    problem = vid.box_problem(box, W, H)
    assert (problem and problem[0]) == reason
    if problem:
        assert str(box) in problem[1]
    # the same box as COCO's [x, y, w, h] (inclusive VID pixels cover w = xmax - xmin + 1)
    xywh = [box[0], box[1], box[2] - box[0] + 1, box[3] - box[1] + 1]
    if reason != 'zero_area_box':
        coco_reason = None
        try:
            coco.check_bbox(xywh, H, W)
        except InputError as err:
            coco_reason = err.reason
        assert coco_reason == reason


def test_vid_tracks_for_the_tracker_refuse_a_box_past_the_frame(tmpdir):
    root = str(tmpdir)
    for t, xmax in enumerate(('9', '9', '400')):
        write_bytes(os.path.join(root, 'Annotations/VID/val/s/%06d.xml' % t), _xml(xmax=xmax))
    with pytest.raises(SequenceError) as err:
        vid.track_sequences(root)
    assert '000002.xml: trackid 3: box (4, 2, 400, 12)' in str(err.value)
    assert str(err.value).count('\n') == 0


# -- OTB ground truth -------------------------------------------------------------------------

@pytest.mark.parametrize('line, shown', [
    ('nan,2,3,4', 'nan'), ('1,NaN,3,4', 'nan'), ('1,2,inf,4', 'inf'), ('1,2,3,-Infinity', 'inf'),
    ('1,2,-3,4', 'negative width'), ('1e12,2,3,4', '1000000000000.0'),
    ('1,2,3,1e300', '1e+300'), ('-99999,2,3,4', '-99999.0'),
])
def test_otb_ground_truth_numbers_are_finite_and_bounded(tmpdir, line, shown):
    path = str(tmpdir.join('groundtruth_rect.txt'))
    with open(path, 'w') as f:
        f.write('1,2,3,4\n%s\n' % line)
    with pytest.raises(SequenceError) as err:
        otb.read_boxes(path)
    message = str(err.value)
    assert message.startswith(path + ':2: ') and shown in message and '\n' not in message
    with open(path, 'w') as f:
        f.write('1,2,3,4\n-10.5,0,0,0\nNaN,NaN,NaN,NaN\n')   # all NaN: the target is absent
    boxes = otb.read_boxes(path)
    assert boxes[:2].tolist() == [[1, 2, 3, 4], [-10.5, 0, 0, 0]] and np.isnan(boxes[2]).all()


# -- pycocotools never sees a hostile annotation ----------------------------------------------

def _tiny_coco(root):
    """A COCO root with one 40x30 image: two usable annotations (a polygon, a compressed RLE)
    and hostile ones that would make pycocotools allocate without bound or write past a mask."""
    write_bytes(os.path.join(root, 'train2017', '000000000001.jpg'),
                jpeg_bytes(np.full((H, W, 3), 90, np.uint8)))
    good_mask = np.zeros((H, W), np.uint8)
    good_mask[2:28, 3:30] = 1
    taller = np.ones((H * 40, W), np.uint8)
    segmentations = [  # (id, segmentation); 1 and 2 are usable
        (1, [[2.0, 2.0, 38.0, 2.0, 38.0, 28.0, 2.0, 28.0]]),
        (2, {'size': [H, W], 'counts': _rle_string(good_mask)}),
        (3, [[1.0, 1.0, NAN, 1.0, 30.0, 20.0]]),
        (4, [[1.0, 1.0, 1e12, 1.0, 30.0, 1e12]]),
        (5, [[0.0, 0.0, 40.0, 30.0] * 5000]),
        (6, {'size': [H, W], 'counts': _rle_string(taller)}),
        (7, {'size': [H, W], 'counts': [H * W * 1000]}),
        (8, {'size': [H * 40, W], 'counts': [H * W * 40]}),
        (9, {'size': [H, W], 'counts': '0' * 5 + 'P'}),
    ]
    anns = [{'id': i, 'image_id': 1, 'category_id': 1, 'iscrowd': 0, 'area': 100.0,
             'bbox': [2.0, 2.0, 30.0, 20.0], 'segmentation': s} for i, s in segmentations]
    write_json(os.path.join(root, 'annotations', 'instances_train2017.json'), {
        'images': [{'id': 1, 'file_name': '000000000001.jpg', 'width': W, 'height': H}],
        'annotations': anns, 'categories': [{'id': 1, 'name': 'thing'}]})


def test_pycocotools_is_never_called_with_a_hostile_annotation(tmpdir, monkeypatch):
    root, out = str(tmpdir.join('coco')), str(tmpdir.join('out'))
    _tiny_coco(root)
    seen = []
    real_from, real_decode = mask_utils.frPyObjects, mask_utils.decode

    def from_objects(segmentation, height, width):
        seen.append(('frPyObjects', json.dumps(segmentation)[:40], height, width))
        return real_from(segmentation, height, width)

    def decode(rle):
        seen.append(('decode', str(rle['counts'])[:40]))
        return real_decode(rle)
    monkeypatch.setattr(mask_utils, 'frPyObjects', from_objects)
    monkeypatch.setattr(mask_utils, 'decode', decode)
    assert coco_pipeline.main(['--data', root, '--out', out, '--splits', 'train2017',
                               '--max-reject-fraction', '1', '--min-area-ratio', '0'] + FAST) == 0
    info, errors, records = load_output(out, 'coco', coco_instances.SCHEMA)
    assert sorted(e['path'].rsplit('=', 1)[1] for e in errors) == [str(i) for i in range(3, 10)]
    assert {e['reason'] for e in errors} == {'invalid_polygon', 'invalid_rle', 'rle_wrong_size'}
    assert list(records['train'][0]['object_ann_id']) == [1, 2]
    # pycocotools rasterised the two usable annotations only, at the image's own size
    (polygon,) = [s for s in seen if s[0] == 'frPyObjects']
    assert polygon[1].startswith('[[2.0, 2.0, 38.0, 2.0') and polygon[2:] == (H, W)
    assert len([s for s in seen if s[0] == 'decode']) == 2


# -- the corrupt sample -----------------------------------------------------------------------

HOSTILE_COCO = ('invalid_polygon', 'invalid_rle', 'rle_wrong_size', 'bad_bbox', 'box_past_margin',
                'box_outside_frame', 'bad_area', 'bad_iscrowd', 'bad_image_size',
                'unsafe_file_name')
VALUES = {  # what the dead letter of a planted case names (its fault detail -> its value)
    'polygon x = NaN': 'nan', 'second polygon y = Infinity': 'inf',
    'polygon x = 1e12': '1000000000000.0',
    'polygon x = -1e6': '-1000000.0', 'polygon of 10001 points': '10001',
    'polygon coordinate is a string': "'30'", 'bbox y = NaN': 'nan',
    'bbox width = Infinity': 'inf', 'bbox of 1e12 x 1e12': '1000000000000.0', 'area NaN': 'nan',
    'iscrowd is the string "0"': "'0'", 'declared 1e9 x 1e9': '1000000000',
    'width is a string': "'", 'height NaN': 'nan', 'absolute file_name': "'/",
    'file_name leaves train2017/ for val2017/': "'../val2017/",
    'file_name a/../../ leaves the folder': "'a/../../", 'RLE size of floats': '.0,',
    'box xmin is NaN': "'nan'", 'box xmax is 1e12': '1000000000000',
    'frame width is 1e9': '1000000000', 'negative trackid': '-1', 'occluded is not 0 or 1': "'yes'",
    'box ymin is 1e3 (not an integer)': "'1e3'", 'box xmax is ten frame widths': 'sticks out',
}


def _planted(manifest, dataset, root):
    return {os.path.normpath(os.path.join(root, f['path'])): f
            for f in manifest['faults'] if f['dataset'] == dataset}


def test_coco_pipeline_refuses_each_planted_number_and_writes_the_rest(corrupt_sample_data,
                                                                      tmpdir):
    data, manifest = corrupt_sample_data
    root, out = os.path.join(data, 'coco'), str(tmpdir)
    assert coco_pipeline.main(['--data', root, '--out', out, '--splits', 'train2017',
                               '--max-reject-fraction', '1'] + FAST) == 0
    info, errors, records = load_output(out, 'coco', coco_instances.SCHEMA)
    by_path = {os.path.normpath(e['path']): e for e in errors}
    planted = _planted(manifest, 'coco', root)
    hostile = {p: f for p, f in planted.items() if f['kind'] in HOSTILE_COCO}
    assert len(hostile) >= 25
    for path, fault in sorted(hostile.items()):
        letter = by_path[path]
        assert letter['reason'] == fault['kind'], (path, letter)
        if fault['detail'] in VALUES:
            assert VALUES[fault['detail']] in letter['detail'], (fault['detail'], letter)
    clean = manifest['datasets']['coco']['clean']['train2017']
    assert info['counts']['instances_kept'] >= clean['osmn_kept_instances'] > 0
    assert 'unexpected_error' not in info['rejected'].get('object', {})
    for record in records['train']:  # what is written is finite and normalised with margin
        for key in ('object_bbox_xmin', 'object_bbox_ymin', 'object_bbox_xmax',
                    'object_bbox_ymax', 'object_area'):
            values = np.asarray(record[key], np.float64)
            assert np.isfinite(values).all() and (values >= -numbers.BOX_MARGIN).all(), key
        assert not record['image_filename'].decode().startswith('train2017/..')


def test_vid_pipeline_refuses_each_planted_number_and_writes_the_rest(corrupt_sample_data,
                                                                     tmpdir):
    data, manifest = corrupt_sample_data
    root, out = os.path.join(data, 'ILSVRC2015'), str(tmpdir)
    assert vid_pipeline.main(['--data', root, '--out', out, '--max-reject-fraction', '1']
                             + FAST) == 0
    info, errors, records = load_output(out, 'vid', vid_track.SCHEMA)
    by_path = {}
    for entry in errors:
        by_path.setdefault(os.path.normpath(entry['path']), []).append(entry)
    hostile = {p: f for p, f in _planted(manifest, 'vid', root).items()
               if f['detail'] in VALUES}
    assert len(hostile) == 7
    for path, fault in hostile.items():
        (letter,) = [e for e in by_path[path] if e['reason'] == fault['kind']]
        assert VALUES[fault['detail']] in letter['detail'], (fault, letter)
    # the snippet's three healthy frames still make its track
    track = [r for split in records.values() for r in split
             if r['video_name'] == b'ILSVRC2015_train_00900004']
    assert [list(r['frame_number']) for r in track] == [[7, 8, 9]]


# -- names an annotation gives for other datasets ---------------------------------------------

def test_a_video_name_that_leaves_the_dataset_is_one_dead_letter(tmpdir):
    """YouTube-VOS meta.json names its videos; a name with `..` parts would list and read a
    folder outside the dataset (here one holding a frame)."""
    from pipelines import vos
    root, out = str(tmpdir.join('data')), str(tmpdir.join('out'))
    write_bytes(str(tmpdir.join('escape', '00000.jpg')), jpeg_bytes(np.zeros((H, W, 3), np.uint8)))
    name = '../../../escape'
    os.makedirs(os.path.join(root, 'train', 'JPEGImages'))
    assert os.path.isdir(os.path.join(root, 'train', 'JPEGImages', name))
    write_json(os.path.join(root, 'train', 'meta.json'), {'videos': {name: {'objects': {}}}})
    assert vos.ytvos_main(['--data', root, '--out', out, '--splits', 'train',
                           '--max-reject-fraction', '1'] + FAST) == 1  # no records
    (letter,) = load_output(out, 'ytvos2018', vos_video.SCHEMA)[1]
    assert letter['reason'] == 'unsafe_video_name' and letter['level'] == 'unit'
    assert letter['path'].endswith('meta.json') and "'../../../escape'" in letter['detail']


@pytest.mark.parametrize('key, usable', [('1', True), ('254', True), ('255', False), ('0', False),
                                         ('-1', False), ('1.0', False), ('1e2', False),
                                         ('\u00b2', False), ('\u0661', False), (' 1', False)])
def test_youtube_vos_object_ids_are_ascii_palette_indices(key, usable):
    from datasets import ytvos
    problem = ytvos.meta_object_problem(key, {'category': 'cat', 'frames': ['00000']})
    assert (problem is None) == usable and (usable or problem[0] == 'bad_object_id')


@pytest.mark.parametrize('width, height', [(320, 180), (40, 30), (1000, 10), (7, 900)])
def test_a_vid_box_the_rule_keeps_has_a_bounded_crop_window(width, height):
    """The largest boxes the margin allows make the SiamFC window at most ~8x the frame's longer
    side (a whole-frame box already makes it ~4x, as in the reference); one pixel further out
    is refused."""
    from pipelines.vid_crop import crop_geometry
    mx, my = int(numbers.BOX_MARGIN * width), int(numbers.BOX_MARGIN * height)
    widest = (-mx, -my, width + mx - 1, height + my - 1)
    assert vid.box_problem(widest, width, height) is None
    assert crop_geometry(*(widest + (width, height))).size <= 8.1 * max(width, height)
    for k in range(4):
        grown = list(widest)
        grown[k] += 1 if k >= 2 else -1
        assert vid.box_problem(tuple(grown), width, height)[0] == 'box_past_margin'
