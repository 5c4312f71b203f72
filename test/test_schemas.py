"""Schema round trips: encode -> TFRecord file -> tf.data decode gives back every value."""
from __future__ import absolute_import, division, print_function

import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import schemas
from schemas import SchemaError, coco_instances, vid_track, vos_video
from record_files import decode_files

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _decode_all_through_tf_data(schema, records, tmpdir):
    path = os.path.join(str(tmpdir), 'records.tfrecord')
    with tf.io.TFRecordWriter(path) as writer:
        for record in records:
            writer.write(record)
    return decode_files(schema, [path])


def _assert_same(field, expected, got, where):
    """Compare one field's Python value with its decoded numpy value."""
    if field.dtype == 'bytes':
        expected = np.array([e.encode() if isinstance(e, str) else e for e in
                             np.asarray(expected, dtype=object).reshape(-1)], dtype=object) \
            if not field.is_scalar else (expected.encode() if isinstance(expected, str) else expected)
        if field.is_scalar:
            assert got == expected, where
        else:
            assert list(np.asarray(got).reshape(-1)) == list(expected), where
        return
    expected = np.asarray(expected, dtype=np.float64)
    got = np.asarray(got, dtype=np.float64)
    assert got.size == expected.size, '%s: %s vs %s' % (where, got.shape, expected.shape)
    if field.dtype == 'float32':
        np.testing.assert_allclose(got.reshape(-1), expected.reshape(-1), rtol=1e-6, err_msg=where)
    else:
        np.testing.assert_array_equal(got.reshape(-1), expected.reshape(-1), err_msg=where)


def _check_example(schema, values, decoded):
    for field in schema.context:
        if field.ragged:
            rows = values[field.name]
            flat = [v for r in rows for v in r]
            _assert_same(field._replace(shape=(None,), ragged=False), flat, decoded[field.name],
                         field.name)
            np.testing.assert_array_equal(decoded[field.name + '_row_lengths'],
                                          [len(r) for r in rows])
        else:
            _assert_same(field, values[field.name], decoded[field.name], field.name)
            if len(field.shape) == 2:
                assert decoded[field.name].shape == (len(values[field.ref]), field.per_ref)


def _check_steps(schema, steps, decoded, num_steps):
    for field in schema.sequence:
        got = decoded[field.name]
        assert got.shape[0] == num_steps, field.name
        for t in range(num_steps):
            _assert_same(field, steps[field.name][t], got[t], '%s[%d]' % (field.name, t))


# -- sample values ---------------------------------------------------------------------------

def vid_values(num_frames, track_len=None):
    track_len = track_len or num_frames
    context = dict(
        track_key='train/ILSVRC2015_train_00000000/01', track_num_frames=track_len,
        chunk_index=0, chunk_count=1, chunk_anchor_begin=0, chunk_anchor_end=track_len,
        chunk_max_frame_dist=100, video_name='ILSVRC2015_train_00000000',
        video_folder='ILSVRC2015_VID_train_0000/ILSVRC2015_train_00000000',
        source_split='train', split='validation', object_trackid=1, object_class='n02691156',
        orig_width=1280, orig_height=720, image_format='jpeg', image_height=255, image_width=255)
    rng = np.random.RandomState(0)
    steps = dict(
        frame_encoded=[rng.bytes(50 + t) for t in range(num_frames)],
        frame_position=list(range(num_frames)),
        frame_number=[3 * t for t in range(num_frames)],
        frame_occluded=[t % 2 for t in range(num_frames)],
        frame_generated=[0] * num_frames,
        frame_bbox=[[t, 2 * t, 100 + t, 90 + t] for t in range(num_frames)],
        crop_s_z=[100.5 + t for t in range(num_frames)],
        crop_s_x=[201.75 + t for t in range(num_frames)],
        crop_window=[np.array([-5, -3, 196, 198]) + t for t in range(num_frames)],
        crop_pad=[[5, 3, 0, 0]] * num_frames,
        crop_scale=[255.0 / 202] * num_frames,
        target_size=[[64.25, 40.5]] * num_frames)
    return context, steps


def coco_values(num_objects):
    rng = np.random.RandomState(1)
    k = num_objects
    return dict(
        image_encoded=rng.bytes(300), image_format='jpeg', image_height=480, image_width=640,
        image_channels=3, image_filename='train2017/000000000009.jpg', image_source_id='9',
        image_sha256='ab' * 32, split='train', source_split='train2017',
        object_ann_id=list(range(100, 100 + k)),
        object_bbox_xmin=rng.rand(k), object_bbox_ymin=rng.rand(k),
        object_bbox_xmax=rng.rand(k), object_bbox_ymax=rng.rand(k),
        object_class_label=[1, 18, 90][:k] + [3] * max(0, k - 3),
        object_class_text=['person', 'dog', 'toothbrush'][:k] + ['car'] * max(0, k - 3),
        object_area=rng.rand(k) * 1e4, object_is_crowd=[0] * k,
        object_mask=[rng.bytes(20) for _ in range(k)],
        object_mask_bbox=np.arange(4 * k).reshape(k, 4),
        object_mask_area=[1000 + i for i in range(k)],
        object_area_ratio=[0.031 + i for i in range(k)])


def vos_values(num_objects, num_frames):
    ids = [1, 2, 5][:num_objects]
    k = len(ids)
    context = dict(
        dataset='ytvos2018', split='train', source_split='train', video_id='0a2f2bd294',
        height=720, width=1280,
        num_frames=num_frames, object_ids=ids, object_category=['dog', 'cat', ''][:k],
        object_unseen=[0, 1, 0][:k],
        object_first_frame=[0, 1, 0][:k],
        object_frames=[list(range(num_frames)), list(range(1, num_frames)), []][:k],
        object_nonblank_frames=[list(range(num_frames)), [1], []][:k],
        object_valid_guide_frames=[[0], [], []][:k])
    steps = dict(
        frame_name=['%05d' % (5 * t) for t in range(num_frames)],
        frame_image=[b'jpeg%d' % t for t in range(num_frames)],
        frame_mask=[b'png%d' % t if t % 2 == 0 else b'' for t in range(num_frames)],
        frame_has_mask=[1 - t % 2 for t in range(num_frames)],
        frame_object_bbox=[[[t, t, t + 9, t + 9]] + [[-1, -1, -1, -1]] * (k - 1) if k else []
                           for t in range(num_frames)],
        frame_object_area=[[100 + t] + [0] * (k - 1) if k else [] for t in range(num_frames)])
    return context, steps


# -- round trips -----------------------------------------------------------------------------

@pytest.mark.parametrize('num_frames', [1, 4])
def test_vid_track_round_trip(tmpdir, num_frames):
    context, steps = vid_values(num_frames)
    record = vid_track.encode(context, steps)
    decoded, = _decode_all_through_tf_data(vid_track.SCHEMA, [record], tmpdir)
    _check_example(vid_track.SCHEMA, context, decoded)
    _check_steps(vid_track.SCHEMA, steps, decoded, num_frames)
    assert decoded['frame_bbox'].shape == (num_frames, 4)


@pytest.mark.parametrize('num_objects', [0, 1, 3])
def test_coco_round_trip_including_no_objects(tmpdir, num_objects):
    values = coco_values(num_objects)
    decoded, = _decode_all_through_tf_data(
        coco_instances.SCHEMA, [coco_instances.encode(values)], tmpdir)
    _check_example(coco_instances.SCHEMA, values, decoded)
    assert decoded['object_mask_bbox'].shape == (num_objects, 4)
    assert decoded['object_mask'].shape == (num_objects,)


@pytest.mark.parametrize('num_objects,num_frames', [(3, 4), (1, 1), (0, 3), (2, 0), (0, 0)])
def test_vos_round_trip_including_empty_lists(tmpdir, num_objects, num_frames):
    context, steps = vos_values(num_objects, num_frames)
    decoded, = _decode_all_through_tf_data(
        vos_video.SCHEMA, [vos_video.encode(context, steps)], tmpdir)
    _check_example(vos_video.SCHEMA, context, decoded)
    _check_steps(vos_video.SCHEMA, steps, decoded, num_frames)
    assert decoded['frame_object_bbox'].shape == (num_frames, num_objects, 4)
    assert decoded['frame_object_area'].shape[0] == num_frames


def test_decode_a_subset_of_fields(tmpdir):
    context, steps = vos_values(2, 3)
    path = os.path.join(str(tmpdir), 'r.tfrecord')
    with tf.io.TFRecordWriter(path) as writer:
        writer.write(vos_video.encode(context, steps))
    graph = tf.Graph()
    with graph.as_default():
        dataset = tf.data.TFRecordDataset([path]).map(
            lambda r: vos_video.decode(r, names=['frame_object_bbox', 'video_id']))
        element = tf.compat.v1.data.make_one_shot_iterator(dataset).get_next()
        with tf.compat.v1.Session(graph=graph) as sess:
            decoded = sess.run(element)
    # the referenced object_ids come along, nothing else
    assert sorted(decoded) == ['frame_object_bbox', 'object_ids', 'video_id']
    assert decoded['frame_object_bbox'].shape == (3, 2, 4)
    with pytest.raises(KeyError, match='nope'):
        vos_video.decode(tf.constant(b''), names=['nope'])


def test_numpy_read_matches_tf_decode(tmpdir):
    context, steps = vos_values(3, 4)
    record = vos_video.encode(context, steps)
    from_tf, = _decode_all_through_tf_data(vos_video.SCHEMA, [record], tmpdir)
    from_np = vos_video.read(record)
    np.testing.assert_array_equal(from_np['object_ids'], from_tf['object_ids'])
    assert [list(r) for r in from_np['object_frames']] == context['object_frames']
    np.testing.assert_array_equal(np.stack(from_np['frame_object_bbox']),
                                  from_tf['frame_object_bbox'])
    assert list(from_np['frame_mask']) == list(from_tf['frame_mask'])
    coco = coco_values(2)
    from_np = coco_instances.read(coco_instances.encode(coco))
    np.testing.assert_array_equal(from_np['object_mask_bbox'], coco['object_mask_bbox'])
    assert from_np['image_encoded'] == coco['image_encoded']


# -- validation ------------------------------------------------------------------------------

def test_encoding_is_byte_identical_across_processes():
    """Protobuf map order may follow the process's hash seed; records must not."""
    code = ('import sys; sys.path[:0] = [%r, %r]; from test_schemas import vos_values; '
            'from schemas import vos_video; import hashlib; '
            'print(hashlib.sha1(vos_video.encode(*vos_values(3, 4))).hexdigest())'
            % (ROOT, os.path.dirname(os.path.abspath(__file__))))
    processes = [subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE,
                                  env=dict(os.environ, PYTHONHASHSEED=seed), cwd=ROOT)
                 for seed in ('1', '2', '3')]   # side by side: each one imports TensorFlow
    digests = {p.communicate(timeout=120)[0].decode().strip() for p in processes}
    assert [p.returncode for p in processes] == [0, 0, 0]
    here = hashlib.sha1(vos_video.encode(*vos_values(3, 4))).hexdigest()
    assert digests == {here}


def test_encode_rejects_missing_unknown_and_misshaped_values():
    values = coco_values(2)
    with pytest.raises(SchemaError, match='missing field.*image_format'):
        coco_instances.encode({k: v for k, v in values.items() if k != 'image_format'})
    with pytest.raises(SchemaError, match='unknown field.*bogus'):
        coco_instances.encode(dict(values, bogus=1))
    with pytest.raises(SchemaError, match='object_class_label: expected 2 values, got 3'):
        coco_instances.encode(dict(values, object_class_label=[1, 2, 3]))
    with pytest.raises(SchemaError, match='object_mask_bbox'):
        coco_instances.encode(dict(values, object_mask_bbox=[[1, 2, 3]] * 2))
    with pytest.raises(SchemaError, match='image_height'):
        coco_instances.encode(dict(values, image_height=4.5))
    with pytest.raises(SchemaError, match='image_height: expected one value'):
        coco_instances.encode(dict(values, image_height=[4, 5]))
    with pytest.raises(SchemaError, match='object_ann_id: expected a list'):
        coco_instances.encode(dict(values, object_ann_id=7))
    context, steps = vid_values(3)
    with pytest.raises(SchemaError, match='different numbers of steps'):
        vid_track.encode(context, dict(steps, frame_number=[1, 2]))
    with pytest.raises(SchemaError, match='frame_bbox: expected 4 values'):
        vid_track.encode(context, dict(steps, frame_bbox=[[1, 2, 3]] * 3))
    context, steps = vos_values(2, 2)
    with pytest.raises(SchemaError, match='object_frames: expected 2 rows'):
        vos_video.encode(dict(context, object_frames=[[0]]), steps)


def test_every_key_is_declared_once_and_versions_are_set():
    keys = {}
    for schema in schemas.ALL:
        assert isinstance(schema.version, int) and schema.version >= 1
        names = [f.name for f in schema.context + schema.sequence]
        assert len(names) == len(set(names))
        keys[schema.name] = [row[1] for row in schema.describe_rows()]
        assert len(keys[schema.name]) == len(set(keys[schema.name]))
    assert 'image/object/mask' in keys['coco_instances']
    assert 'image/object/bbox/xmin' in keys['coco_instances']
    assert 'object/frames_row_lengths' in keys['vos_video']
    assert schemas.by_name('vos_video') is vos_video.SCHEMA
    with pytest.raises(KeyError):
        schemas.by_name('nope')


# -- VID chunking ----------------------------------------------------------------------------

@pytest.mark.parametrize('n', [1, 2, 100, 300, 301, 399, 400, 401, 1000, 1234])
def test_vid_chunks_own_every_pair_once(n):
    max_dist, anchors = 100, 200
    chunks = vid_track.chunk_bounds(n, anchors, max_dist)
    owned = [s for (a, b, _, _) in chunks for s in range(a, b)]
    assert owned == list(range(n))  # every exemplar position owned once, in order
    for a, b, first, end in chunks:
        assert first == a and end - first <= anchors + max_dist  # bounded record size
        # the furthest instance any owned exemplar can pair with is stored in the same chunk
        assert end == min(n, b + max_dist) or end == n
        assert min(n - 1, b - 1 + max_dist) < end
    if n <= anchors + max_dist:
        assert len(chunks) == 1


def test_vid_chunks_reject_bad_arguments():
    with pytest.raises(ValueError):
        vid_track.chunk_bounds(0)
    with pytest.raises(ValueError):
        vid_track.chunk_bounds(10, anchors_per_chunk=0)


# -- documentation ---------------------------------------------------------------------------

def _run_schemas(*args):
    return subprocess.check_output([sys.executable, '-m', 'schemas'] + list(args),
                                   cwd=ROOT).decode('utf-8')


def test_python_m_schemas_lists_every_key():
    text = _run_schemas()
    for schema in schemas.ALL:
        assert '%s  v%d' % (schema.name, schema.version) in text
        for row in schema.describe_rows():
            assert row[1] in text and row[4] in text


def test_committed_schema_doc_is_current():
    with open(os.path.join(ROOT, 'docs', 'SCHEMAS.md')) as f:
        committed = f.read()
    assert committed == _run_schemas('--markdown'), \
        'docs/SCHEMAS.md is stale: run  .venv/bin/python -m schemas --markdown > docs/SCHEMAS.md'


# -- dataset_info.json: the one reader and writer ---------------------------------------------

def _info(**overrides):
    info = {'name': 'coco', 'schema': {'name': 'coco_instances',
                                       'version': coco_instances.VERSION},
            'source': 'data/coco', 'options': {}, 'beam_options': {'runner': 'DirectRunner'},
            'max_frame_size': [480, 640], 'counts': {}, 'rejected': {}, 'objects_rejected': {},
            'splits': {'train': {'source_split': 'train2017', 'num_shards': 2, 'records': 3,
                                 'bytes': 30,
                                 'shards': [{'file': 'train/a-00000-of-00002', 'records': 3,
                                             'bytes': 30},
                                            {'file': 'train/a-00001-of-00002', 'records': 0,
                                             'bytes': 0}]}}}
    info.update(overrides)
    return info


def test_dataset_info_round_trip_and_split_lookup(tmpdir):
    from schemas import dataset_info
    out = str(tmpdir)
    for shard in _info()['splits']['train']['shards']:
        os.makedirs(os.path.join(out, 'train'), exist_ok=True)
        open(os.path.join(out, shard['file']), 'wb').close()
    dataset_info.write(out, _info())
    info = dataset_info.read(out, coco_instances.SCHEMA)
    empty_sha256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
    assert [(s.pop('sha256'), s.pop('file_bytes')) for s in info['splits']['train']['shards']] \
        == [(empty_sha256, 0)] * 2  # write adds each shard's checksum
    assert info == _info()
    assert dataset_info.max_frame_size(info) == (480, 640)
    # the common name and the source's own name find the same split; empty shards are left out
    expected = ([os.path.join(out, 'train/a-00000-of-00002')], 3)
    assert dataset_info.shard_files(out, info, 'train') == expected
    assert dataset_info.shard_files(out, info, 'train2017') == expected
    with pytest.raises(dataset_info.DatasetInfoError, match="no split 'validation' .it has train"):
        dataset_info.shard_files(out, info, 'validation')
    assert [dataset_info.canonical_split(s) for s in ('train2017', 'val2017', 'val', 'valid')] == \
        ['train', 'validation', 'validation', 'validation']


def test_dataset_info_refuses_bad_files_with_one_line(tmpdir):
    from schemas import dataset_info
    out = str(tmpdir)
    with pytest.raises(dataset_info.DatasetInfoError, match='dataset_info.json not found'):
        dataset_info.read(out)
    with pytest.raises(dataset_info.DatasetInfoError, match='lacks max_frame_size'):
        info = _info()
        del info['max_frame_size']
        dataset_info.write(out, info)
    with open(os.path.join(out, 'dataset_info.json'), 'w') as f:
        f.write('{"name": ')
    with pytest.raises(dataset_info.DatasetInfoError, match='not a valid dataset_info.json'):
        dataset_info.read(out)
    dataset_info.write(out, _info())
    with pytest.raises(dataset_info.DatasetInfoError, match='expected vid_track version 1'):
        dataset_info.read(out, vid_track.SCHEMA)
    with pytest.raises(dataset_info.DatasetInfoError, match='which does not exist'):
        dataset_info.shard_files(out, dataset_info.read(out), 'train')
