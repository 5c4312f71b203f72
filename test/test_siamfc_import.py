"""SiamFC's released network (MatConvNet .mat) imported as an appearance-branch run directory:
the .mat reader, the parameter mapping (grouped layers, batch-norm moments, conv biases folded,
the score adjustment), one-line refusals, and tracking with the imported run."""
from __future__ import absolute_import, division, print_function

import hashlib
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from datasets import mat_files
from mat_writer import write_mat
from trackers import __main__ as trackers_main
from trainers.sasiam import import_siamfc, model

# SiamFC-3s's branch: (layer, filter shape, batch norm, stride)
LAYERS = [('conv1', (11, 11, 3, 96), True, 2), ('conv2', (5, 5, 48, 256), True, 1),
          ('conv3', (3, 3, 256, 384), True, 1), ('conv4', (3, 3, 192, 384), True, 1),
          ('conv5', (3, 3, 192, 256), False, 1)]
ADJUST = (1e-3, -1.25)


def siamfc_params(seed=0, prefix='', adjust='conv'):
    """{name: value} of a network with SiamFC's layer shapes and random values (biases C x 1,
    moments C x 2 = [mean, sigma] as MatConvNet stores them)."""
    rng = np.random.RandomState(seed)
    out = {}
    for layer, shape, bn, _ in LAYERS:
        n, c = layer[4:], shape[-1]
        out[prefix + layer + 'f'] = (rng.randn(*shape) * 0.01).astype(np.float32)
        out[prefix + layer + 'b'] = rng.randn(c, 1).astype(np.float32)
        if bn:
            out[prefix + 'bn%sm' % n] = rng.uniform(0.5, 2, (c, 1)).astype(np.float32)
            out[prefix + 'bn%sb' % n] = rng.randn(c, 1).astype(np.float32)
            out[prefix + 'bn%sx' % n] = np.stack(
                [rng.randn(c), rng.uniform(0.5, 3, c)], axis=1).astype(np.float32)
    if adjust == 'conv':
        out.update(adjust_f=np.float32(ADJUST[0]), adjust_b=np.float32(ADJUST[1]))
    else:   # the training code's batch-norm adjustment of the score map
        out.update(fin_adjust_bnm=np.float32(0.5), fin_adjust_bnb=np.float32(0.25),
                   fin_adjust_bnx=np.array([[40.0, 100.0]], np.float32))
    return out


def siamfc_layers(prefix=''):
    """net.layers as the DagNN keeps them: conv layers with stride and pad, pooling layers."""
    out = []
    for layer, shape, _, stride in LAYERS:
        out.append({'name': prefix + layer, 'type': 'dagnn.Conv',
                    'params': [prefix + layer + 'f', prefix + layer + 'b'],
                    'block': {'size': np.array(shape, np.float64),
                              'stride': np.array([stride, stride], np.float64),
                              'pad': np.zeros(4)}})
        if layer in ('conv1', 'conv2'):
            out.append({'name': prefix + 'pool' + layer[4:], 'type': 'dagnn.Pooling',
                        'params': [], 'block': {'poolSize': np.array([3.0, 3.0]),
                                                'stride': np.array([2.0, 2.0]),
                                                'pad': np.zeros(4)}})
    return out


def write_net(path, params, layers=None):
    net = {'params': [{'name': k, 'value': v} for k, v in sorted(params.items())],
           'layers': layers if layers is not None else siamfc_layers()}
    return write_mat(path, {'net': net})


@pytest.fixture(scope='module')
def imported(tmpdir_factory):
    tmp = tmpdir_factory.mktemp('siamfc')
    params = siamfc_params()
    mat = write_net(str(tmp.join('2016-08-17.net.mat')), params)
    run_dir = str(tmp.join('siamfc'))
    assert import_siamfc.main([mat, run_dir]) == 0
    return mat, params, run_dir


# -- the .mat reader ------------------------------------------------------------------------------

@pytest.mark.parametrize('compress', [False, True])
def test_mat_reader_reads_structs_cells_chars_and_column_major_arrays(tmpdir, compress):
    array = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    path = write_mat(str(tmpdir.join('a.mat')), {
        'net': {'params': [{'name': 'conv1f', 'value': array},
                           {'name': 'ab', 'value': np.float64(2.5)}],
                'names': ['x', np.eye(2)]}, 'note': 'hello'}, compress=compress)
    read = mat_files.read_mat(path)
    assert read['note'] == 'hello'
    net = read['net']
    assert len(net) == 1 and [p['name'] for p in net[0]['params']] == ['conv1f', 'ab']
    np.testing.assert_array_equal(net[0]['params'][0]['value'], array)
    assert net[0]['params'][0]['value'].dtype == np.float32
    assert net[0]['params'][1]['value'].tolist() == [[2.5]]
    assert net[0]['names'][0] == 'x' and net[0]['names'][1].tolist() == [[1, 0], [0, 1]]


def test_mat_reader_refuses_other_files_in_one_line(tmpdir):
    good = write_mat(str(tmpdir.join('a.mat')), {'x': np.ones((3, 3))})
    with open(good, 'rb') as f:
        whole = f.read()
    cases = {'cut.mat': whole[:-20], 'hdf5.mat': b'\x89HDF\r\n\x1a\n' + b'\0' * 600,
             'text.mat': b'not a mat file'}
    words = {'cut.mat': 'is truncated', 'hdf5.mat': 'is a MATLAB v7.3 (HDF5) file',
             'text.mat': 'is not a level-5 MATLAB .mat file'}
    for name, data in cases.items():
        path = str(tmpdir.join(name))
        with open(path, 'wb') as f:
            f.write(data)
        with pytest.raises(mat_files.MatFileError) as err:
            mat_files.read_mat(path)
        assert str(err.value).startswith(path + ' ' + words[name]) and '\n' not in str(err.value)


# -- the import -----------------------------------------------------------------------------------

def test_every_parameter_lands_in_its_variable(imported):
    mat, p, run_dir = imported
    ckpt = tf.train.load_checkpoint(run_dir)

    def var(name):
        return ckpt.get_tensor('sa_siam/appearance_net/' + name)
    np.testing.assert_array_equal(var('conv1/weights'), p['conv1f'])
    np.testing.assert_array_equal(var('conv3/weights'), p['conv3f'])
    for layer in ('conv2', 'conv4', 'conv5'):   # two groups: output halves
        half = p[layer + 'f'].shape[-1] // 2
        np.testing.assert_array_equal(var(layer + '/b1/weights'), p[layer + 'f'][..., :half])
        np.testing.assert_array_equal(var(layer + '/b2/weights'), p[layer + 'f'][..., half:])
    np.testing.assert_array_equal(var('conv5/b2/biases'), p['conv5b'][128:, 0])
    np.testing.assert_array_equal(var('conv2/b2/BatchNorm/gamma'), p['bn2m'][128:, 0])
    np.testing.assert_array_equal(var('conv1/BatchNorm/beta'), p['bn1b'][:, 0])
    mean, sigma = p['bn3x'][:, 0], p['bn3x'][:, 1]
    np.testing.assert_allclose(var('conv3/BatchNorm/moving_mean'), mean - p['conv3b'][:, 0],
                               rtol=1e-6)
    np.testing.assert_allclose(var('conv3/BatchNorm/moving_variance'),
                               sigma.astype(np.float64) ** 2 - 1e-6, rtol=1e-6)
    assert ckpt.get_tensor('detection/biases') == np.float32(ADJUST[1])
    with open(os.path.join(run_dir, 'config.json')) as f:
        config = json.load(f)
    assert config['model']['branch'] == 'appearance' and config['model']['width'] == 1.0
    assert config['model']['response_scale'] == pytest.approx(ADJUST[0])
    with open(os.path.join(run_dir, 'run.json')) as f:
        run = json.load(f)['imported']
    with open(mat, 'rb') as f:
        assert run['sha256'] == hashlib.sha256(f.read()).hexdigest()
    assert run['file'] == '2016-08-17.net.mat' and run['parameters'] == 24


def test_the_imported_branch_computes_matconvnets_batch_norm(imported):
    """conv1 -> BN -> ReLU of the restored branch at one output cell equals MatConvNet's
    test-mode formula G * (conv + bias - mu) / sigma + B, computed here with numpy."""
    _, p, run_dir = imported
    image = np.random.RandomState(1).uniform(0, 255, (1, 127, 127, 3)).astype(np.float32)
    with open(os.path.join(run_dir, 'config.json')) as f:
        cfg = json.load(f)['model']
    with tf.Graph().as_default() as graph:
        model.embed(tf.constant(image), cfg, is_exemplar=False, is_training=False)
        conv1 = graph.get_tensor_by_name('sa_siam/appearance_net/conv1/Relu:0')
        with tf.compat.v1.Session() as sess:
            tf.compat.v1.train.Saver().restore(sess, tf.train.latest_checkpoint(run_dir))
            found = sess.run(conv1)[0, 0, 0]
    conv = np.tensordot(image[0, :11, :11].astype(np.float64), p['conv1f'].astype(np.float64),
                        axes=3)
    mean, sigma = p['bn1x'][:, 0], p['bn1x'][:, 1]
    expected = np.maximum(0, p['bn1m'][:, 0] * (conv + p['conv1b'][:, 0] - mean) / sigma +
                          p['bn1b'][:, 0])
    assert (expected > 0).sum() > 10
    np.testing.assert_allclose(found, expected, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize('change, words', [
    (lambda p: p.update(conv2f=np.zeros((5, 5, 96, 256), np.float32)),
     'conv2f has shape (5, 5, 96, 256), SiamFC\'s is (5, 5, 48, 256)'),
    (lambda p: p.pop('bn3x'), 'no parameter bn3x'),
    (lambda p: p.update(conv6f=np.zeros((1, 1, 1, 1), np.float32)),
     'conv6f maps to no variable of the appearance branch'),
])
def test_a_parameter_that_does_not_fit_is_named_in_one_line(tmpdir, capsys, change, words):
    params = siamfc_params()
    change(params)
    mat = write_net(str(tmpdir.join('net.mat')), params)
    run_dir = str(tmpdir.join('run'))
    assert import_siamfc.main([mat, run_dir]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith('error: %s is not SiamFC\'s network' % mat) and words in err
    assert '\n' not in err and not os.path.exists(run_dir)


def test_the_training_codes_names_and_batch_norm_adjustment_map_too(tmpdir):
    """`br_` prefixes and a fin_adjust_bn score adjustment (scale m / sigma, bias b - scale mu)."""
    mat = write_net(str(tmpdir.join('net.mat')), siamfc_params(prefix='br_', adjust='bn'),
                    siamfc_layers(prefix='br_'))
    params, layers = import_siamfc.read_net(mat)
    checked = import_siamfc.checked_params(params, mat)
    import_siamfc.check_layers(layers, mat)
    scale, bias = import_siamfc.adjust_scale_bias(checked)
    assert scale == pytest.approx(0.5 / 100) and bias == pytest.approx(0.25 - 0.005 * 40)


def test_other_networks_and_used_run_directories_are_refused(tmpdir, capsys, imported):
    layers = siamfc_layers()
    layers[0]['block']['stride'] = np.array([4.0, 4.0])
    strided = write_net(str(tmpdir.join('strided.mat')), siamfc_params(), layers)
    other = write_mat(str(tmpdir.join('other.mat')), {'weights': np.ones((2, 2))})
    _, _, used = imported
    for args, words in (
            ([strided, str(tmpdir.join('a'))],
             "%s: layers differ from SiamFC's: conv1 has stride [4.0, 4.0], SiamFC's is 2"
             % strided),
            ([other, str(tmpdir.join('b'))],
             '%s holds no MatConvNet network (a struct `net` with `params`); its variables: '
             'weights' % other),
            ([strided, used], '%s exists and is not empty' % used)):
        assert import_siamfc.main(args) == 1
        err = capsys.readouterr().err.strip()
        assert err == 'error: ' + words or err.startswith('error: ' + words), err
    assert not os.path.exists(str(tmpdir.join('a')))


@pytest.mark.slow   # the full-width appearance branch tracks 10 frames on the CPU (~6 s)
def test_the_tracker_runs_on_the_imported_run_unchanged(imported, sample_data, tmpdir):
    _, _, run_dir = imported
    frames = os.path.join(sample_data[0], 'ILSVRC2015', 'Data', 'VID', 'val',
                          'ILSVRC2015_val_00000000')
    out = str(tmpdir.join('out'))
    assert trackers_main.main(['track', '--run', run_dir, '--seq', frames, '--init',
                               '60,40,50,40', '--device', 'cpu', '--out', out]) == 0
    boxes = np.loadtxt(os.path.join(out, 'results', 'siamfc', 'ILSVRC2015_val_00000000.txt'),
                       delimiter=',')
    assert boxes.shape == (len(os.listdir(frames)), 4) and np.isfinite(boxes).all()
    assert boxes[0].tolist() == [60, 40, 50, 40] and (boxes[:, 2:] > 0).all()
