"""OSMN inference: merge, writers, and end to end (a tiny model trained for a few steps on sample
records segments sample videos from records and raw folders; the DAVIS evaluator scores them)."""
from __future__ import absolute_import, division, print_function

import hashlib
import json
import os
import zipfile

import numpy as np
import pytest
from PIL import Image

from datasets.palette import voc_palette
from datasets import davis as davis_data
from evaluation import davis as davis_eval
from segmenters import __main__ as segment_cli
from segmenters import osmn, sources, writers


# -- pure functions -----------------------------------------------------------------------------

def test_merge_is_argmax_over_a_half_background_with_object_ids():
    p = np.array([[[0.2, 0.6, 0.9, 0.5]],
                  [[0.4, 0.7, 0.1, 0.5]]], np.float32)   # objects 3 and 7, one row of 4 pixels
    np.testing.assert_array_equal(osmn.merge_labels(p, [3, 7]), [[0, 7, 3, 0]])  # tie: background
    # against np.argmax over the stacked [0.5, p_1 .. p_K], on maps full of ties
    rng = np.random.RandomState(0)
    q = np.round(rng.rand(4, 30, 40) * 4).astype(np.float32) / 4
    stacked = np.concatenate([np.full((1, 30, 40), 0.5, np.float32), q])
    expected = np.array([0, 2, 4, 6, 8], np.uint8)[np.argmax(stacked, axis=0)]
    np.testing.assert_array_equal(osmn.merge_labels(q, [2, 4, 6, 8]), expected)
    labels = np.array([[1, 2], [3, 4]], np.uint8)
    up = osmn.resize_labels(labels, (4, 6))
    np.testing.assert_array_equal(up[:2, :3], 1)
    np.testing.assert_array_equal(up[2:, 3:], 4)


def test_network_size_follows_the_dataset_and_the_run_scale():
    cfg = {'input': {'input_scale': 0.25}}
    assert osmn.network_size(cfg, 'davis2017') == (120, 213)
    assert osmn.network_size(cfg, 'ytvos2018') == (64, 112)
    assert osmn.network_size(cfg, 'frames', size=(400, 200)) == (50, 100)
    assert osmn.network_size(cfg, 'youtube_objects') == (90, 160)    # 640x360 (osmn.md 8)


def _video(names, size=(6, 8), output=None):
    return sources.Video('v', 'davis2017', names, size, [], None, 'here', output)


def test_writers_palette_sizes_and_submission_zip(tmpdir):
    labels = np.zeros((6, 8), np.uint8)
    labels[1:3, 2:6] = 2
    davis_out = str(tmpdir.join('davis'))
    w = writers.DavisWriter(davis_out, probabilities=True)
    w.write(_video(['00000', '00001']), 1, labels, {2: np.full((3, 4), 0.25)})
    image = Image.open(os.path.join(davis_out, 'v', '00001.png'))
    assert image.mode == 'P' and image.size == (8, 6)
    assert image.getpalette()[:12] == voc_palette()[:12]
    np.testing.assert_array_equal(np.array(image), labels)
    prob = np.load(os.path.join(davis_out, 'probabilities', 'v', '2', '00001.npy'))
    assert prob.dtype == np.float32 and prob.shape == (3, 4)
    yt_out = str(tmpdir.join('yt'))
    writers.write_palette_png(os.path.join(yt_out, 'Annotations', 'old', '00000.png'), labels)
    y = writers.YtvosWriter(yt_out)
    video = _video(['00000', '00005', '00010'], output=[0, 2])   # 00005 is not in meta.json
    for t in range(3):
        y.write(video, t, labels)
    paths = y.finish()
    assert sorted(os.listdir(os.path.join(yt_out, 'Annotations', 'v'))) == ['00000.png',
                                                                            '00010.png']
    assert paths[-1] == os.path.join(yt_out, 'submission.zip')
    with zipfile.ZipFile(paths[-1]) as archive:   # not the earlier run's video `old`
        assert sorted(archive.namelist()) == ['Annotations/v/00000.png', 'Annotations/v/00010.png']
    # a run that rejected videos: no ready-to-upload name, the earlier zip removed
    assert writers.YtvosWriter(yt_out).finish('1 video rejected')[-1].endswith(
        'submission-incomplete.zip')
    assert not os.path.exists(paths[-1])


def test_davis_sources_read_either_layout_and_frames_by_content(tmpdir):
    """The original DAVIS 2016 release (ImageSets/480p, '<image> <mask>' lines, 0/255 greyscale
    masks), PNG frames in a DAVIS tree, a frames folder holding its own first mask."""
    import cv2
    root = str(tmpdir.join('DAVIS2016'))
    rgb = np.random.RandomState(0).randint(0, 255, (2, 12, 16, 3)).astype(np.uint8)
    mask = np.zeros((12, 16), np.uint8)
    mask[2:6, 3:9] = 255
    os.makedirs(os.path.join(root, 'ImageSets', '480p'))
    with open(os.path.join(root, 'ImageSets', '480p', 'val.txt'), 'w') as f:
        f.write('/JPEGImages/480p/cows/00000.jpg /Annotations/480p/cows/00000.png\n'
                '/JPEGImages/480p/cows/00001.jpg /Annotations/480p/cows/00001.png\n')
    frames = os.path.join(root, 'JPEGImages', '480p', 'cows')
    os.makedirs(frames)
    for t in range(2):
        cv2.imwrite(os.path.join(frames, '%05d.png' % t), rgb[t][..., ::-1])
    os.makedirs(os.path.join(root, 'Annotations', '480p', 'cows'))
    Image.fromarray(mask, mode='L').save(os.path.join(root, 'Annotations', '480p', 'cows',
                                                      '00000.png'))
    video, = sources.davis_videos(root, '2016', 'val')
    assert video.name == 'cows' and video.frame_names == ['00000', '00001']
    assert [(o.id, o.mask.sum()) for o in video.objects] == [(1, 24)]
    np.testing.assert_array_equal(video.image(1), rgb[1])       # PNG frames, exact
    with pytest.raises(sources.SourceError, match='ImageSets/2017/val.txt: not found'):
        list(sources.davis_videos(root, '2017', 'val'))
    # a frames folder with its mask inside: the mask is not a frame
    write_mask = os.path.join(frames, 'first-mask.png')
    writers.write_palette_png(write_mask, (mask > 0).astype(np.uint8) * 2)
    folder = sources.folder_video(frames, write_mask)
    assert folder.frame_names == ['00000', '00001'] and [o.id for o in folder.objects] == [2]


# -- end to end ---------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def trained(sample_data, davis_records, osmn_run, tmp_path_factory):
    """The session's sample (DAVIS + YouTube-VOS among others), DAVIS records and tiny OSMN
    run, all read only; `root` for this module's outputs."""
    return {'data': sample_data[0], 'records': os.path.dirname(davis_records), 'run': osmn_run,
            'root': tmp_path_factory.mktemp('segment')}


@pytest.fixture(scope='module')
def raw_results(trained):
    """The sample DAVIS val split segmented from its raw folders, 2 objects per network run
    (the sample's 3-object videos exercise the padded last chunk), with probabilities."""
    out = str(trained['root'] / 'from-raw')
    assert segment_cli.main(['--run', trained['run'], '--out', out, '--device', 'cpu',
                             '--davis', os.path.join(trained['data'], 'DAVIS'),
                             '--object-batch', '2', '--save-probabilities']) == 0
    return out


def _digest(folder):
    out = {}
    for base, _, files in os.walk(folder):
        for name in files:
            if name.endswith('.png'):
                with open(os.path.join(base, name), 'rb') as f:
                    out[os.path.relpath(os.path.join(base, name), folder)] = \
                        hashlib.sha1(f.read()).hexdigest()
    return out


def test_records_and_raw_davis_give_the_same_results_and_the_evaluator_scores_them(
        trained, raw_results):
    root, davis_root = trained['root'], os.path.join(trained['data'], 'DAVIS')
    from_records, from_raw = str(root / 'from-records'), raw_results
    assert segment_cli.main(['--run', trained['run'], '--out', from_records, '--device', 'cpu',
                             '--records', os.path.join(trained['records'], 'davis2017'),
                             '--save-probabilities']) == 0
    assert _digest(from_records) == _digest(from_raw)
    probabilities = 0
    for base, _, files in os.walk(os.path.join(from_raw, 'probabilities')):
        for name in files:
            path = os.path.join(base, name)
            other = os.path.join(from_records, os.path.relpath(path, from_raw))
            np.testing.assert_allclose(np.load(path), np.load(other), atol=1e-5)
            probabilities += 1
    summary = json.load(open(os.path.join(from_raw, 'segment_summary.json')))
    sequences = davis_data.split_listing(davis_root, '2017', 'val')[1]
    assert summary['videos'] == len(sequences) and summary['rejected'] == 0
    # rates count the frames the network ran on: not the first of each video
    assert summary['segmented_frames'] == summary['frames'] - len(sequences)
    assert summary['frames_per_second'] > 0 and summary['frames_per_second_network_only'] > 0
    for seq in sequences:
        names, gt, count = davis_eval.ground_truth(davis_root, seq, '2017')
        first = np.array(Image.open(os.path.join(from_raw, seq, names[0] + '.png')))
        np.testing.assert_array_equal(first, gt[0])          # given masks, full size
        last = Image.open(os.path.join(from_raw, seq, names[-1] + '.png'))
        assert last.mode == 'P' and last.size == (gt.shape[2], gt.shape[1])
        assert np.array(last).max() <= count
        probs = os.listdir(os.path.join(from_raw, 'probabilities', seq))
        assert sorted(probs) == [str(k) for k in range(1, count + 1)]
    # one map per object and frame after its first
    assert probabilities == sum(v['objects'] * (v['frames'] - 1) for v in summary['per_video'])
    report = davis_eval.run(from_raw, davis_root, '2017', 'val', str(root / 'eval'),
                            overlay_frames=2)
    assert len(report['objects']) == summary['per_video'][0]['objects'] + \
        summary['per_video'][1]['objects']
    assert 0 <= report['global']['J&F-Mean'] <= 1
    for name in ('global_results-val.csv', 'per-sequence_results-val.csv', 'iou.txt'):
        assert os.path.isfile(str(root / 'eval' / name))
    assert len(os.listdir(str(root / 'eval' / 'overlays'))) == len(sequences)


@pytest.mark.slow  # a fine-tuning graph and 3 steps per object (~6 s)
def test_finetuning_trains_a_copy_and_leaves_the_run_untouched(trained, raw_results):
    root, run = trained['root'], trained['run']
    before = {n: hashlib.sha1(open(os.path.join(run, n), 'rb').read()).hexdigest()
              for n in os.listdir(run) if os.path.isfile(os.path.join(run, n))}
    out = str(root / 'finetuned')
    davis_root = os.path.join(trained['data'], 'DAVIS')
    # the val sequence with the most objects: fine-tuning counts its steps per object
    first = max(davis_data.split_listing(davis_root, '2017', 'val')[1],
                key=lambda seq: davis_eval.ground_truth(davis_root, seq, '2017')[2])
    assert segment_cli.main(['--run', run, '--out', out, '--device', 'cpu', '--davis',
                             davis_root, '--videos', first,
                             '--finetune-steps', '3', '--finetune-lr', '0.01']) == 0
    after = {n: hashlib.sha1(open(os.path.join(run, n), 'rb').read()).hexdigest()
             for n in os.listdir(run) if os.path.isfile(os.path.join(run, n))}
    assert after == before
    summary = json.load(open(os.path.join(out, 'segment_summary.json')))
    per_video = summary['per_video']
    assert summary['finetune_steps'] == 3 and len(per_video) == 1
    assert per_video[0]['finetune_steps'] == 3 * per_video[0]['objects'] > 3   # per object
    assert per_video[0]['finetune_seconds'] > 0
    assert np.isfinite([per_video[0]['finetune_loss_first'], per_video[0]['finetune_loss_last']]).all()
    # the fine-tuned copy segments differently from the checkpoint's weights
    plain = _digest(raw_results)
    tuned = _digest(out)
    assert tuned and all(k.startswith(first + os.sep) for k in tuned)
    assert [k for k, v in tuned.items() if v != plain[k]]


def test_youtube_vos_objects_start_at_their_first_frame_and_every_meta_frame_is_written(trained):
    root, yt = trained['root'], os.path.join(trained['data'], 'youtube-vos')
    out = str(root / 'ytvos')
    assert segment_cli.main(['--run', trained['run'], '--out', out, '--device', 'cpu',
                             '--ytvos', yt, '--object-batch', '2']) == 0
    meta = json.load(open(os.path.join(yt, 'valid', 'meta.json')))['videos']
    late = 0
    for video, entry in meta.items():
        listed = sorted(set(f for o in entry['objects'].values() for f in o['frames']))
        written = sorted(os.listdir(os.path.join(out, 'Annotations', video)))
        assert written == [f + '.png' for f in listed]
        for key, obj in entry['objects'].items():
            first = obj['frames'][0]
            given = np.array(Image.open(os.path.join(yt, 'valid', 'Annotations', video,
                                                     first + '.png'))) == int(key)
            result = np.array(Image.open(os.path.join(out, 'Annotations', video,
                                                      first + '.png')))
            np.testing.assert_array_equal(result[given], int(key))
            for earlier in [f for f in listed if f < first]:
                late += 1
                assert int(key) not in np.array(Image.open(os.path.join(
                    out, 'Annotations', video, earlier + '.png')))
            if first != listed[0]:
                # at its first frame nothing but the given mask carries its id
                np.testing.assert_array_equal(result == int(key), given)
    assert late >= 1   # the sample has an object entering after frame 0
    with zipfile.ZipFile(os.path.join(out, 'submission.zip')) as archive:
        assert len(archive.namelist()) == sum(len(os.listdir(os.path.join(
            out, 'Annotations', v))) for v in meta)


def test_bad_inputs_are_one_line_errors_or_error_entries(trained, tmpdir, capsys):
    out = str(tmpdir.join('out'))
    assert segment_cli.main(['--run', str(tmpdir), '--out', out, '--davis',
                             os.path.join(trained['data'], 'DAVIS')]) == 1
    err = capsys.readouterr().err
    assert 'config.json not found' in err and err.count('\n') == 1
    frames = os.path.join(trained['data'], 'DAVIS', 'JPEGImages', '480p', 'star-hop')
    small = str(tmpdir.join('small.png'))
    Image.fromarray(np.ones((5, 5), np.uint8), mode='P').save(small)
    assert segment_cli.main(['--run', trained['run'], '--out', out, '--frames', frames,
                             '--mask', small]) == 1
    assert 'mask is 5x5' in capsys.readouterr().err
    # a DAVIS copy whose first val sequence lost its first annotation: listed, others done
    import shutil
    davis = str(tmpdir.join('DAVIS'))
    shutil.copytree(os.path.join(trained['data'], 'DAVIS'), davis)
    broken = davis_data.split_listing(davis, '2017', 'val')[1][0]
    os.remove(os.path.join(davis, 'Annotations', '480p', broken, '00000.png'))
    assert segment_cli.main(['--run', trained['run'], '--out', out, '--device', 'cpu',
                             '--davis', davis]) == 0
    errors = [json.loads(line) for line in open(os.path.join(out, 'errors.jsonl'))]
    assert len(errors) == 1 and broken in errors[0]['path']
    assert os.listdir(out) and broken not in os.listdir(out)


def test_inference_equals_the_trainers_validation_graph(trained, raw_results):
    """Frame 1 of a video, object 1: the segmenter's probabilities equal the trainer's own
    validation path (augment.assemble without augmentation + model.logits) on the same frame,
    guide (frame 0) and previous mask (the given one): one model, one input construction."""
    import cv2
    import tensorflow as tf
    from datasets.images import tight_box
    from trainers.osmn import augment, model
    davis_root = os.path.join(trained['data'], 'DAVIS')
    seq = davis_data.split_listing(davis_root, '2017', 'val')[1][0]
    names, gt, _ = davis_eval.ground_truth(davis_root, seq, '2017')
    frames = [cv2.imread(os.path.join(davis_root, 'JPEGImages', '480p', seq, n + '.jpg'))[..., ::-1]
              for n in names[:2]]
    given = (gt[0] == 1).astype(np.uint8)
    cfg, checkpoint = osmn.load_run(trained['run'])
    with tf.Graph().as_default():
        batch = {'image': tf.constant(frames[1][None].copy()),
                 'mask': tf.constant(given[None]), 'frame_size': tf.constant([given.shape]),
                 'guide_box': tf.constant([tight_box(given)], tf.int64),
                 'uniforms': tf.zeros([1, augment.UNIFORMS]),
                 'guide_image': tf.constant(frames[0][None].copy()),
                 'guide_mask': tf.constant(given[None]), 'prev_mask': tf.constant(given[None])}
        inputs = augment.assemble(batch, osmn.network_size(cfg, 'davis2017'), cfg['input'], False)
        prob = tf.sigmoid(model.logits(inputs['image'], inputs['guide'], inputs['heatmap'],
                                       cfg['model'], False))[0, ..., 0]
        with tf.compat.v1.Session() as sess:
            tf.compat.v1.train.Saver().restore(sess, checkpoint)
            sess.run(model.interp_surgery_ops())
            expected = sess.run(prob)
    got = np.load(os.path.join(raw_results, 'probabilities', seq, '1', names[1] + '.npy'))
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-4)
    assert expected.std() > 0   # a map, not a constant


def test_a_folder_of_png_frames_holding_its_mask_is_segmented(trained, raw_results, tmpdir):
    """PNG frames (decoded by content) with the first-frame mask in the same folder: the mask is
    not a frame, and the results equal those of the sequence's JPEG frames."""
    import cv2
    import shutil
    davis_root = os.path.join(trained['data'], 'DAVIS')
    seq = davis_data.split_listing(davis_root, '2017', 'val')[1][0]
    names = davis_eval.ground_truth(davis_root, seq, '2017')[0][:3]
    folder = str(tmpdir.join(seq))
    os.makedirs(folder)
    for name in names:
        bgr = cv2.imread(os.path.join(davis_root, 'JPEGImages', '480p', seq, name + '.jpg'))
        cv2.imwrite(os.path.join(folder, name + '.png'), bgr)
    mask = os.path.join(folder, 'given.png')
    shutil.copy(os.path.join(davis_data.annotation_dir(davis_root, seq), names[0] + '.png'), mask)
    out = str(tmpdir.join('out'))
    assert segment_cli.main(['--run', trained['run'], '--out', out, '--device', 'cpu',
                             '--frames', folder, '--mask', mask, '--object-batch', '2']) == 0
    assert sorted(os.listdir(os.path.join(out, seq))) == [n + '.png' for n in names]
    summary = json.load(open(os.path.join(out, 'segment_summary.json')))
    assert summary['frames'] == 3 and summary['segmented_frames'] == 2
    ours, jpeg = _digest(out), _digest(raw_results)
    assert ours and all(ours[k] == jpeg[k] for k in ours)


def test_inference_graph_ops_are_reviewed_and_an_empty_given_mask_names_its_video(trained,
                                                                                  tmpdir):
    """Every op type of the inference and fine-tuning graph is plain or reviewed for the NPU
    (trainers/device.py), CropAndResize on float32 (the trainer's helper); a YouTube-VOS object
    whose given mask is empty rejects its video by the video's path."""
    import cv2
    from fake_npu_env import assert_ops_reviewed
    segmenter = osmn.OsmnSegmenter(trained['run'], 'davis2017', 'cpu', finetune_steps=1,
                                   max_frame_size=(16, 16))
    try:
        assert_ops_reviewed(segmenter.graph)
        jpeg = cv2.imencode('.jpg', np.zeros((6, 8, 3), np.uint8))[1].tobytes()
        late = sources.VideoObject(4, 1, np.zeros((6, 8), np.uint8))
        video = sources.Video('late', 'ytvos2018', ['00000', '00005'], (6, 8), [late],
                              lambda t: jpeg, 'yt/valid/JPEGImages/late')
        with pytest.raises(sources.SourceError, match=r'^yt/valid/JPEGImages/late: the given '
                                                      r'mask of object 4 \(frame 00005\)'):
            segmenter.segment(video, writers.DavisWriter(str(tmpdir)))
    finally:
        segmenter.close()
