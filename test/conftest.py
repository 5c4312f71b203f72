"""Session-wide test data: the sample datasets, the records built from them and two tiny trained
runs, each made once per pytest session and shared by every file that needs it.

Shared means read-only: a test that changes files copies them into its own tmpdir first
(shutil.copytree; `copy_tree` for the corrupt sample, whose named pipes copytree cannot copy). `_unchanged` fails the session's teardown if a shared tree was written to.
"""
from __future__ import absolute_import, division, print_function

import os
import sys

import pytest

SAMPLE_SEED = 4
# In-process Beam runner: a pipeline run on the sample takes about a second.
FAST_BEAM = ['--direct_running_mode=in_memory', '--direct_num_workers=1']


@pytest.fixture(scope='session', autouse=True)
def _tf_data_functions_unconverted():
    """tf.data traces the trainers' map functions through AutoGraph, which rewrites their Python
    source, for nothing, as they are plain graph code (a function that needed AutoGraph would
    fail to build here, loudly): a process's first OSMN graph build 24 s -> 10 s.
    TensorFlow's own switch turns it off for the tests' thread; trainers started as
    subprocesses (launcher, SIGTERM, data-parallel tests) still run with it, as users do.
    TEST_AUTOGRAPH=1 keeps it on everywhere."""
    if 'tensorflow' not in sys.modules or os.environ.get('TEST_AUTOGRAPH') == '1':
        yield
        return
    from tensorflow.python.autograph.core import ag_ctx
    with ag_ctx.ControlStatusCtx(status=ag_ctx.Status.DISABLED):
        yield


def _fingerprint(root):
    """{relative path: (size, mtime)} of every file under root."""
    found = {}
    for base, _, files in os.walk(root):
        for name in files:
            path = os.path.join(base, name)
            stat = os.lstat(path)   # the corrupt sample has symbolic link loops, pipes
            found[os.path.relpath(path, root)] = (stat.st_size, stat.st_mtime_ns)
    return found


def copy_tree(src, dst):
    """shutil.copytree for the sample trees: symbolic links copied as links (the corrupt sample
    has loops and dangling ones), named pipes made anew (copying one fails), sockets left out."""
    import shutil
    import stat

    def copy(source, target):
        mode = os.lstat(source).st_mode
        if stat.S_ISFIFO(mode):
            os.mkfifo(target)
        elif not stat.S_ISSOCK(mode):
            shutil.copy2(source, target)
    return shutil.copytree(src, dst, symlinks=True, copy_function=copy)


def _unchanged(root):
    """A finaliser that fails if a test added, removed or rewrote a file of a shared tree."""
    before = _fingerprint(root)

    def check():
        after = _fingerprint(root)
        changed = sorted(set(before) ^ set(after) |
                         {p for p in set(before) & set(after) if before[p] != after[p]})
        assert not changed, 'a test changed the shared %s: %s (copy it first)' % (
            root, changed[:5])
    return check


def _generate(factory, request, name, **kwargs):
    import sampledata
    out = str(factory.mktemp(name) / 'data')
    manifest = sampledata.generate(out, seed=SAMPLE_SEED, size='small', **kwargs)
    request.addfinalizer(_unchanged(out))
    return out, manifest


@pytest.fixture(scope='session')
def sample_data(tmp_path_factory, request):
    """(root, manifest) of the clean small sample of all six datasets: ILSVRC2015/ (4 train and
    2 val snippets of 10 frames), coco/ (8 + 3 images), DAVIS/ (4 + 2 sequences of 8 frames),
    youtube-vos/ (4 + 2 videos), GOT-10k/ (3 train, 2 val, 2 test sequences of 8 frames),
    LaSOT/ (2 classes x 2 sequences of 8 frames)."""
    return _generate(tmp_path_factory, request, 'sample')


@pytest.fixture(scope='session')
def corrupt_sample_data(tmp_path_factory, request):
    """(root, manifest) of the same sample with one of each bad input injected
    (manifest['faults'])."""
    return _generate(tmp_path_factory, request, 'corrupt', corrupt=True)


def _records(factory, request, main, data, name, *extra):
    out = str(factory.mktemp('records-' + name))
    assert main(['--data', data, '--out', out] + list(extra) + FAST_BEAM) == 0
    records = os.path.join(out, name)
    request.addfinalizer(_unchanged(records))
    return records


@pytest.fixture(scope='session')
def vid_records(sample_data, tmp_path_factory, request):
    """vid_track records of the sample VID, ILSVRC's own splits (8 train records in 2 shards,
    3 validation records)."""
    from pipelines import vid
    return _records(tmp_path_factory, request, vid.main,
                    os.path.join(sample_data[0], 'ILSVRC2015'), 'vid', '--split-by', 'ilsvrc')


@pytest.fixture(scope='session')
def coco_records(sample_data, tmp_path_factory, request):
    """coco_instances records of the sample COCO (train2017 -> train, val2017 -> validation)."""
    from pipelines import coco
    return _records(tmp_path_factory, request, coco.main,
                    os.path.join(sample_data[0], 'coco'), 'coco')


@pytest.fixture(scope='session')
def davis_records(sample_data, tmp_path_factory, request):
    """vos_video records of the sample DAVIS 2017."""
    from pipelines import vos
    return _records(tmp_path_factory, request, vos.davis_main,
                    os.path.join(sample_data[0], 'DAVIS'), 'davis2017')


@pytest.fixture(scope='session')
def ytvos_records(sample_data, tmp_path_factory, request):
    """vos_video records of the sample YouTube-VOS 2018."""
    from pipelines import vos
    return _records(tmp_path_factory, request, vos.ytvos_main,
                    os.path.join(sample_data[0], 'youtube-vos'), 'ytvos2018')


@pytest.fixture(scope='session')
def got10k_records(sample_data, tmp_path_factory, request):
    """vid_track records of the sample GOT-10k (train -> train, val -> validation)."""
    from pipelines import track
    return _records(tmp_path_factory, request, track.got10k_main,
                    os.path.join(sample_data[0], 'GOT-10k'), 'got10k')


@pytest.fixture(scope='session')
def lasot_records(sample_data, tmp_path_factory, request):
    """vid_track records of the sample LaSOT's train split (airplane-2, bear-1; no validation)."""
    from pipelines import track
    return _records(tmp_path_factory, request, track.lasot_main,
                    os.path.join(sample_data[0], 'LaSOT'), 'lasot', '--validation-fraction', '0')


@pytest.fixture(scope='session')
def ytvos2019_records(sample_data, tmp_path_factory, request):
    """vos_video records of the sample YouTube-VOS 2019 (youtube-vos-2019/, 6 train + 2 valid
    videos) with a hold-out split: 3 of its train videos, 1 category unseen, seed 0
    (holdout.json beside dataset_info.json)."""
    from pipelines import vos_sources
    return _records(tmp_path_factory, request, vos_sources.ytvos_main,
                    os.path.join(sample_data[0], 'youtube-vos-2019'), 'ytvos2019',
                    '--year', '2019', '--holdout', '3', '--holdout-unseen', '1')


@pytest.fixture(scope='session')
def mose_records(sample_data, tmp_path_factory, request):
    """vos_video records of the sample MOSE (MOSE/, 4 train + 2 valid videos; no meta.json:
    objects from the masks)."""
    from pipelines import vos_sources
    return _records(tmp_path_factory, request, vos_sources.mose_main,
                    os.path.join(sample_data[0], 'MOSE'), 'mose')


@pytest.fixture(scope='session')
def sasiam_run(vid_records, tmp_path_factory, request):
    """Run directory of a tiny SA-Siam appearance run of the real trainer on vid_records: 4 steps,
    width 1/16, validation (one batch) at steps 2 and 4."""
    from trainers.sasiam import train
    run_dir = str(tmp_path_factory.mktemp('runs') / 'sasiam-tiny')
    assert train.main([
        '--records', vid_records, '--run-dir', run_dir, '--steps', '4', '--device', 'cpu',
        '--branch', 'appearance', '--set', 'model.width=0.0625', '--set', 'input.batch_size=2',
        '--set', 'input.pair_shuffle=4', '--set', 'input.record_shuffle=2',
        '--set', 'train.log_every=1', '--set', 'train.validate_every=2',
        '--set', 'train.validation_batches=1']) == 0
    request.addfinalizer(_unchanged(run_dir))
    return run_dir


@pytest.fixture(scope='session')
def osmn_run(davis_records, tmp_path_factory, request):
    """Run directory of a tiny OSMN DAVIS-stage run of the real trainer on davis_records: 4 steps
    from random weights, width 1/16, input scale 1/4, one scale."""
    from trainers.osmn import train
    run_dir = str(tmp_path_factory.mktemp('runs') / 'osmn-tiny')
    assert train.main([
        '--stage', 'davis', '--records', davis_records, '--run-dir', run_dir, '--steps', '4',
        '--single-scale', '--set', 'train.lr=0.001', '--device', 'cpu',
        '--random-init-for-tests', '--set', 'model.width=0.0625',
        '--set', 'input.input_scale=0.25', '--set', 'input.batch_size=2',
        '--set', 'input.sample_shuffle=8', '--set', 'train.validation_batches=0']) == 0
    request.addfinalizer(_unchanged(run_dir))
    return run_dir
