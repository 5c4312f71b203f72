"""Multi-source SA-Siam training: several vid_track records folders mixed with per-source weights,
seeded and resumable, every folder's identity and the union of their sources in run.json."""
from __future__ import absolute_import, division, print_function

import collections
import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from record_files import autotune_model_ops
from test_sasiam import TINY, chunk_records
from trainers import reader
from trainers import run_dir as run_dir_lib
from trainers.sasiam import data, train


def _relabelled(records, tmpdir, name, sources, **options):
    """A copy of a records folder whose dataset_info.json says another name, sources, options."""
    target = str(tmpdir.join(name))
    shutil.copytree(records, target)
    path = os.path.join(target, 'dataset_info.json')
    with open(path) as f:
        info = json.load(f)
    info.update(name=name, sources=sources)
    info['options'].update(options)
    with open(path, 'w') as f:
        json.dump(info, f)
    return target


@pytest.fixture(scope='module')
def two_sources(vid_records, tmpdir_factory):
    tmpdir = tmpdir_factory.mktemp('multisource')
    return (_relabelled(vid_records, tmpdir, 'vid', ['vid:train']),
            _relabelled(vid_records, tmpdir, 'got10k', ['got10k:train', 'got10k:val']))


def _synthetic_folder(tmpdir, key, tracks):
    """A records file of `tracks` synthetic one-chunk tracks named key0, key1, ..."""
    path = str(tmpdir.join('%s.tfrecord' % key))
    with tf.io.TFRecordWriter(path) as writer:
        for index in range(tracks):
            for record in chunk_records('%s%d' % (key, index), 6, 200, 100):
                writer.write(record)
    return [path]


def test_sources_are_drawn_by_their_weights_and_the_mix_is_seeded(tmpdir):
    """Weights 3:1 over two folders: the first folder's share of 800 pairs is 0.75 within 4.5
    standard deviations; the same seed draws the same mix, another seed another one."""
    files = [_synthetic_folder(tmpdir, 'a', 5), _synthetic_folder(tmpdir, 'b', 7)]
    cfg = train.DEFAULTS['input']
    cfg = dict(cfg, record_shuffle=4, pair_shuffle=8, num_parallel_calls=2, cycle_length=2)

    def first_keys(seed, n=800):
        with tf.Graph().as_default():
            mixed = data.mixed_drawn(files, [3, 1], cfg, seed)
            assert autotune_model_ops(mixed) == []
            element = tf.compat.v1.data.make_one_shot_iterator(mixed.batch(n)).get_next()
            with tf.compat.v1.Session() as sess:
                return [z.decode().split(':')[0] for z in sess.run(element)[0]]
    keys = first_keys(7)
    share = sum(k.startswith('a') for k in keys) / len(keys)
    assert abs(share - 0.75) < 4.5 * np.sqrt(0.75 * 0.25 / len(keys)), share
    assert set(collections.Counter(keys)) == set(['a%d' % i for i in range(5)] +
                                                 ['b%d' % i for i in range(7)])
    assert first_keys(7, 50) == keys[:50]
    assert first_keys(8, 50) != keys[:50]


def _losses(run_dir):
    with open(os.path.join(run_dir, 'train_log.jsonl')) as f:
        return [(r['step'], r['loss']) for r in map(json.loads, f) if 'loss' in r]


def _weights(run_dir):
    ckpt = tf.train.load_checkpoint(run_dir)
    return {name: ckpt.get_tensor(name) for name in ckpt.get_variable_to_shape_map()
            if 'appearance' in name}


@pytest.mark.slow   # three tiny training runs (~12 s)
def test_two_folders_train_and_resume_as_one_uninterrupted_run(two_sources, tmpdir):
    """4 steps in one go vs 2 + 2 resumed: the same losses and the same trained weights;
    run.json names both folders and the union of their sources."""
    vid, got = two_sources
    whole, parts = str(tmpdir.join('whole')), str(tmpdir.join('parts'))
    args = ['--records', vid, '--records', got, '--set', 'input.source_weights=[1, 2]',
            '--set', 'train.checkpoint_every=2', '--set', 'train.validation_batches=1',
            '--set', 'train.validate_every=2'] + TINY
    assert train.main(args + ['--run-dir', whole, '--steps', '4']) == 0
    assert train.main(args + ['--run-dir', parts, '--steps', '2']) == 0
    assert train.main(args + ['--run-dir', parts, '--steps', '4']) == 0
    assert [s for s, _ in _losses(whole)] == [1, 2, 3, 4]
    assert _losses(parts) == _losses(whole)
    a, b = _weights(whole), _weights(parts)
    assert a and sorted(a) == sorted(b)
    # trained weights are bit-identical; the batch-norm moving statistics are not even between
    # two uninterrupted runs on the CPU (multi-threaded float32 reductions of conv1's large
    # activations: up to ~1 % apart), so they are only checked to be close
    for name in a:
        if 'moving_' in name:
            np.testing.assert_allclose(a[name], b[name], rtol=5e-2, err_msg=name)
        else:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    with open(os.path.join(parts, 'run.json')) as f:
        run = json.load(f)
    assert run['sources'] == ['got10k:train', 'got10k:val', 'vid:train']
    assert run_dir_lib.run_sources(parts) == run['sources']
    assert run['records']['records'] == '%s,%s' % (vid, got)
    assert [f['records'] for f in run['records']['folders']] == [vid, got]
    assert len(run['records_history']) == 1
    with open(os.path.join(parts, 'config.json')) as f:
        assert json.load(f)['input']['source_weights'] == [1, 2]


@pytest.mark.slow   # three tiny training runs (~10 s)
def test_a_changed_folder_is_named_and_refused_unless_asked(two_sources, tmpdir, capsys):
    vid, got = two_sources
    copy = _relabelled(got, tmpdir, 'got10k', ['got10k:train'])   # a rebuild: new digest
    run_dir = str(tmpdir.join('run'))
    args = ['--records', '%s,%s' % (vid, copy), '--run-dir', run_dir,
            '--set', 'train.validation_batches=0'] + TINY
    assert train.main(args + ['--steps', '1']) == 0
    with open(os.path.join(copy, 'dataset_info.json')) as f:
        info = json.load(f)
    info['sources'] = ['got10k:train', 'lasot:train']
    with open(os.path.join(copy, 'dataset_info.json'), 'w') as f:
        json.dump(info, f)
    capsys.readouterr()
    assert train.main(args + ['--steps', '2']) == 1
    err = [l for l in capsys.readouterr().err.splitlines() if l.startswith('error')]
    assert len(err) == 1 and 'the records changed since the run started' in err[0]
    assert err[0].endswith('--allow-changed-records to continue on them, or start a new '
                           '--run-dir') and 'changed: %s' % copy in err[0]
    assert train.main(args + ['--steps', '2', '--allow-changed-records']) == 0
    assert run_dir_lib.run_sources(run_dir) == ['got10k:train', 'lasot:train', 'vid:train']


@pytest.mark.parametrize('extra, words', [
    (['--set', 'input.source_weights=[1, 2, 3]'],
     'input.source_weights lists 3 weights for 2 records folders'),
    (['--set', 'input.source_weights=[1, 0]'], 'input.source_weights = [1, 0] is not accepted'),
])
def test_bad_weights_are_one_line(two_sources, tmpdir, capsys, extra, words):
    vid, got = two_sources
    run_dir = str(tmpdir.join('run'))
    assert train.main(['--records', '%s,%s' % (vid, got), '--run-dir', run_dir,
                       '--steps', '1'] + TINY + extra) == 1
    err = [l for l in capsys.readouterr().err.splitlines() if l.startswith('error')]
    assert len(err) == 1 and words in err[0], err
    assert not os.path.exists(run_dir)


def test_folders_chunked_differently_are_refused(two_sources, tmpdir):
    vid, _ = two_sources
    other = _relabelled(vid, tmpdir, 'lasot', ['lasot:train'], max_frame_dist=50)
    with pytest.raises(reader.RecordsError) as err:
        data.source_infos('%s,%s' % (vid, other))
    assert str(err.value) == (
        'the records at %s and %s differ in max_frame_dist (100 vs 50): multi-source training '
        'needs folders built alike; rebuild one of them' % (vid, other))
    for records, words in (('%s,' % vid, 'names an empty folder'),
                           ('%s,%s' % (vid, vid), 'names a folder twice')):
        with pytest.raises(reader.RecordsError) as err:
            reader.records_dirs(records)
        assert words in str(err.value)


def test_folders_cropped_differently_are_refused(two_sources, tmpdir):
    vid, _ = two_sources
    other = _relabelled(vid, tmpdir, 'tc', ['tc128:test'], context_amount=0.25)
    with pytest.raises(reader.RecordsError) as err:
        data.source_infos('%s,%s' % (vid, other))
    assert 'differ in context_amount (0.5 vs 0.25)' in str(err.value)
