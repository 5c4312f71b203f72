"""A trainer never loses work and never rewrites a run it refused (issue 20, section 3): declared
config types, refusals that leave the run directory byte-identical, resume from the newest
readable checkpoint, failures that end in one line + summary.json + the last good step saved,
and the records a run reads fixed at its start.

Over 400 lines on purpose: the five classes share the sample records, the finished run and the
fault helpers (tmpfs, read-only writes, hooks); one section per class."""
from __future__ import absolute_import, division, print_function

import contextlib
import errno
import glob
import json
import os
import shutil
import subprocess

import pytest
import tensorflow as tf

from trainers import checkpoints, guard, run_dir as run_dir_lib
from trainers import config as config_lib
from trainers.osmn import train as osmn_train
from trainers.sasiam import train as sasiam_train
from record_files import tree_contents

TINY = ['--device', 'cpu', '--set', 'model.width=0.0625', '--set', 'input.batch_size=2',
        '--set', 'input.pair_shuffle=16', '--set', 'input.record_shuffle=4',
        '--set', 'train.log_every=1', '--set', 'train.validation_batches=0']
OSMN_TINY = ['--device', 'cpu', '--random-init-for-tests', '--single-scale',
             '--set', 'model.width=0.0625',
             '--set', 'input.input_scale=0.25', '--set', 'input.batch_size=2',
             '--set', 'train.validation_batches=0']


@pytest.fixture(scope='module')
def records(vid_records):
    return vid_records   # the session's (conftest); tests that change records work on copies


@pytest.fixture(scope='module')
def finished(records, tmp_path_factory):
    """A finished 2-step SA-Siam run directory (checkpoints 1 and 2); tests work on copies."""
    run_dir = str(tmp_path_factory.mktemp('faults_run') / 'run')
    assert _sasiam(records, run_dir, 2, '--set', 'train.checkpoint_every=1') == 0
    return run_dir


def _sasiam(records, run_dir, steps, *extra):
    return sasiam_train.main(['--records', records, '--run-dir', run_dir, '--steps', str(steps)] +
                             TINY + list(extra))


def _copy(path, tmpdir, name='run'):
    target = str(tmpdir.join(name))
    shutil.copytree(path, target)
    return target


def _one_error(capsys):
    """The stderr of a failed command: exactly one line starting with 'error: ', returned."""
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith('error')]
    assert len(lines) == 1, lines
    return lines[0]


def _summary(run_dir):
    with open(os.path.join(run_dir, 'summary.json')) as f:
        return json.load(f)


def _logged_steps(run_dir):
    with open(os.path.join(run_dir, 'train_log.jsonl')) as f:
        return [json.loads(line)['step'] for line in f]


# -- configuration values are checked against their declarations ---------------------------------

@pytest.mark.parametrize('assignment, accepted', [
    ('train.steps="12"', 'an integer >= 1'),
    ('train.steps=1e3', 'an integer >= 1'),
    ('train.steps=true', 'an integer >= 1'),
    ('input.batch_size=2.5', 'an integer >= 1'),
    ('input.batch_size=0', 'an integer >= 1'),
    ('train.lr=1e400', 'a finite number > 0'),
    ('train.lr=NaN', 'a finite number > 0'),
    ('train.lr=0', 'a finite number > 0'),
    ('train.lr=-0.01', 'a finite number > 0'),
    ('train.keep_checkpoints=-1', 'an integer >= 0'),
    ('train.seed=-3', 'an integer >= 0'),
    ('train.optimizer="adam"', 'one of "sgd", "momentum"'),
    ('train.momentum=1', 'a finite number >= 0 and < 1'),
    ('train.lr_decay_rate=1.5', 'a finite number > 0 and <= 1'),
    ('train.divergence.patience=0', 'an integer >= 1'),
    ('train.divergence.loss_factor=0.5', 'a finite number > 1'),
    ('model.width=-Infinity', 'a finite number > 0'),
    ('model.semantic_layers.conv4="0.1"', 'a finite number >= 0'),
    ('model.attention=1', 'true or false'),
    ('input.num_parallel_calls=0', 'an integer >= 1, or -1 (AUTOTUNE)'),
    ('input.prefetch=-1.0', 'an integer >= 1, or -1 (AUTOTUNE)'),
    ('input.train_split="  "', 'a non-empty string'),
    ('device.iterations_per_loop=0', 'an integer >= 1'),
    ('device.precision_mode="fp8"', 'one of "allow_mix_precision"'),
    ('device.loss_scale.decr_ratio=1', 'a finite number > 0 and < 1'),
    ('parallel.pack_mb=0', 'a finite number > 0'),
    ('train.divergence={"patience": 2, "window": "x"}', 'an integer >= 1'),
    ('train=5', 'a section'),
])
def test_a_bad_value_is_refused_in_one_line_before_anything_is_written(
        records, tmpdir, capsys, assignment, accepted):
    run_dir = str(tmpdir.join('run'))
    assert sasiam_train.main(['--records', records, '--run-dir', run_dir] + TINY + [
        '--set', 'train.steps=3', '--set', assignment]) == 1
    error = _one_error(capsys)
    key, value = assignment.split('=', 1)
    assert error.startswith('error: %s' % key.split('.')[0]), error
    assert 'is not accepted: expected %s' % accepted in error, error
    if key != 'train.divergence' and key != 'train':
        assert error.startswith('error: %s = ' % key), error
    assert not os.path.exists(run_dir)


@pytest.mark.parametrize('assignment, accepted', [
    ('input.size=[400]', 'a list of 2 items'),
    ('input.scales=[]', 'a list of at least 1 items'),
    ('input.scales=[1.0, 0]', 'each a finite number > 0'),
    ('input.max_frame_size=[640, 640.5]', 'each an integer >= 1'),
    ('input.stage="kitti"', 'one of "coco", "davis", "ytvos"'),
    ('model.loss="max"', 'one of "sum", "mean"'),
    ('train.lr=-1e-5', 'null or a finite number > 0'),
    ('model.fix_bn="yes"', 'null or true or false'),
])
def test_osmn_values_are_checked_too(tmpdir, assignment, accepted):
    args = osmn_train.parse_args(['--run-dir', str(tmpdir.join('run')), '--set', assignment])
    with pytest.raises(config_lib.ConfigError) as err:
        osmn_train.config_from_args(args)
    assert str(err.value).startswith(assignment.split('=')[0] + ' = ')
    assert accepted in str(err.value)


@pytest.mark.parametrize('trainer', [sasiam_train, osmn_train])
def test_every_default_has_exactly_one_declaration(trainer):
    def keys(tree, path=''):
        out = set()
        for key, value in tree.items():
            out |= keys(value, path + key + '.') if isinstance(value, dict) else {path + key}
        return out
    declared = keys(trainer.TYPES)
    assert keys(trainer.DEFAULTS) == declared
    # and every default is accepted by its own declaration
    config_lib.check(trainer.DEFAULTS, trainer.TYPES)


def test_config_file_problems_are_one_line(records, tmpdir, capsys):
    bad = tmpdir.join('bad.json')
    bad.write('{"train": {"steps": 3,}}')
    section = tmpdir.join('section.json')
    section.write('{"train": {"divergence": 3}}')
    for path, words in ((str(bad), 'cannot read --config %s' % bad),
                        (str(tmpdir.join('none.json')), 'No such file'),
                        (str(section), 'train.divergence = 3 is not accepted')):
        assert _sasiam(records, str(tmpdir.join('run')), 3, '--config', path) == 1
        assert words in _one_error(capsys)
    assert not os.path.exists(str(tmpdir.join('run')))


# -- a refused command changes nothing on disk ----------------------------------------------------

def _wrong_schema_records(records, tmpdir):
    """A copy of the vid records whose dataset_info.json claims another schema version."""
    copy = _copy(records, tmpdir, 'other_schema')
    path = os.path.join(copy, 'dataset_info.json')
    with open(path) as f:
        info = json.load(f)
    info['schema']['version'] += 1
    with open(path, 'w') as f:
        json.dump(info, f)
    return copy


def _rebuilt_records(records, tmpdir):
    """The same records as after a rebuild: a new dataset_info.json (another creation time)."""
    copy = _copy(records, tmpdir, 'rebuilt')
    path = os.path.join(copy, 'dataset_info.json')
    with open(path) as f:
        info = json.load(f)
    info['created_utc'] = '2030-01-01T00:00:00Z'
    with open(path, 'w') as f:
        json.dump(info, f)
    return copy


REFUSALS = {
    'another model width': (lambda r, c, t: (sasiam_train, [
        '--records', r, '--set', 'model.width=0.125']), 'does not fit this model'),
    'a bad config value': (lambda r, c, t: (sasiam_train, [
        '--records', r, '--set', 'train.keep_checkpoints=-1']),
        'train.keep_checkpoints = -1 is not accepted'),
    'records of another schema': (lambda r, c, t: (sasiam_train, [
        '--records', _wrong_schema_records(r, t)]), 'describes vid_track records version'),
    'the OSMN trainer': (lambda r, c, t: (osmn_train, ['--stage', 'coco', '--records', c]),
        'another trainer\'s or schema\'s run directory'),
    'rebuilt records': (lambda r, c, t: (sasiam_train, [
        '--records', _rebuilt_records(r, t)]), 'the records changed since the run started'),
    'another branch without weights': (lambda r, c, t: (sasiam_train, [
        '--records', r, '--branch', 'semantic']), 'needs the ImageNet CaffeNet weights'),
}


@pytest.mark.parametrize('case', sorted(REFUSALS))
def test_a_refused_command_leaves_the_run_directory_byte_identical(
        records, coco_records, finished, tmpdir, capsys, case):
    run_dir = _copy(finished, tmpdir)
    before = tree_contents(run_dir)
    make, words = REFUSALS[case]
    trainer, args = make(records, coco_records, tmpdir)
    common = TINY if trainer is sasiam_train else OSMN_TINY
    assert trainer.main(['--run-dir', run_dir, '--steps', '4'] + common + args) == 1
    assert words in _one_error(capsys)
    assert tree_contents(run_dir) == before


@pytest.mark.slow  # two trainer runs and a records rebuild (~4 s)
def test_changed_records_resume_when_asked_and_the_run_remembers_them(
        records, finished, tmpdir, capsys):
    run_dir = _copy(finished, tmpdir)
    rebuilt = _rebuilt_records(records, tmpdir)
    assert _sasiam(rebuilt, run_dir, 3, '--allow-changed-records') == 0
    err = capsys.readouterr().err
    assert 'the records changed since the run started' in err and \
        'continuing on them as asked (--allow-changed-records)' in err
    with open(os.path.join(run_dir, 'run.json')) as f:
        run = json.load(f)
    assert run['records']['records'] == rebuilt
    assert [r['records'] for r in run['records_history']] == [records, rebuilt]
    # from now on the rebuilt records are the run's: a resume on them needs no flag
    # the same records moved elsewhere are the same records
    moved = _copy(rebuilt, tmpdir, 'moved')
    assert _sasiam(moved, run_dir, 4) == 0


# -- resume from the newest readable checkpoint ---------------------------------------------------

def _cut_short(path):
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])


def _flip_a_byte(path):
    with open(path, 'rb') as f:
        data = bytearray(f.read())
    data[len(data) // 3] ^= 0xFF
    with open(path, 'wb') as f:
        f.write(bytes(data))


def _garbage(path):
    with open(path, 'wb') as f:
        f.write(b'not a checkpoint index')


DAMAGES = {'cut short': (_cut_short, '.data-00000-of-00001'),
           'a flipped byte': (_flip_a_byte, '.data-00000-of-00001'),
           'a garbage index': (_garbage, '.index'),
           'no data file': (os.remove, '.data-00000-of-00001')}


@pytest.mark.parametrize('case', sorted(DAMAGES))
def test_a_damaged_checkpoint_is_found_unreadable(finished, tmpdir, case):
    run_dir = _copy(finished, tmpdir)
    damage, suffix = DAMAGES[case]
    damage(os.path.join(run_dir, 'model.ckpt-2' + suffix))
    newest, skipped = checkpoints.newest_readable(run_dir)
    assert newest == os.path.join(run_dir, 'model.ckpt-1')
    assert [path for path, _ in skipped] == [os.path.join(run_dir, 'model.ckpt-2')]
    assert skipped[0][1].split(':')[0] in ('DataLossError', 'OutOfRangeError', 'NotFoundError')


def test_resume_falls_back_to_the_newest_readable_checkpoint(records, finished, tmpdir, capsys):
    run_dir = _copy(finished, tmpdir)
    _cut_short(os.path.join(run_dir, 'model.ckpt-2.data-00000-of-00001'))
    assert _sasiam(records, run_dir, 3) == 0
    err = capsys.readouterr().err
    line = [l for l in err.splitlines() if l.startswith('resuming from')]
    assert len(line) == 1 and line[0].startswith(
        'resuming from model.ckpt-1, the newest checkpoint that reads whole: model.ckpt-2 is '
        'unreadable ('), line
    assert os.path.join(run_dir, 'unreadable') in line[0]
    assert _summary(run_dir)['start_step'] == 1 and _summary(run_dir)['steps'] == 3
    assert checkpoints.steps_on_disk(run_dir) == [1, 3]
    assert glob.glob(os.path.join(run_dir, 'unreadable', 'model.ckpt-2.*'))
    assert tf.train.latest_checkpoint(run_dir) == os.path.join(run_dir, 'model.ckpt-3')


def test_no_readable_checkpoint_is_refused_not_restarted_from_scratch(
        records, finished, tmpdir, capsys):
    run_dir = _copy(finished, tmpdir)
    for step in (1, 2):
        _cut_short(os.path.join(run_dir, 'model.ckpt-%d.data-00000-of-00001' % step))
    before = tree_contents(run_dir)
    assert _sasiam(records, run_dir, 3) == 1
    error = _one_error(capsys)
    assert error.startswith('error: no checkpoint in %s reads whole (model.ckpt-2: ' % run_dir)
    assert 'model.ckpt-1: ' in error
    assert tree_contents(run_dir) == before


def test_keep_never_deletes_the_checkpoint_just_written(tmpdir):
    run_dir = str(tmpdir)
    graph = tf.Graph()
    with graph.as_default():
        step = tf.compat.v1.train.get_or_create_global_step()
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            for value in (10, 15, 12):  # 12: written after a fallback below a newer one
                sess.run(step.assign(value))
                checkpoints.save(saver, sess, run_dir, value, keep=1)
    assert checkpoints.steps_on_disk(run_dir) == [12, 15]


# -- failures end with one line, summary.json and the last good step saved ------------------------

def _after_step(monkeypatch, step, action):
    """Run action() once, when the loop has run `step` (the divergence guard sees every step
    first, before its log line and checkpoint)."""
    observe = guard.DivergenceGuard.observe

    def hooked(self, at, *args, **kwargs):
        observe(self, at, *args, **kwargs)
        if at == step:
            action()
    monkeypatch.setattr(guard.DivergenceGuard, 'observe', hooked)


def _read_only(monkeypatch, prefix, saves=True):
    """From now on every write to a path starting with `prefix` fails with EROFS, and so does
    every checkpoint save when `saves` (TensorFlow writes those, not Python's open)."""
    real_open = open

    def guarded_open(path, mode='r', *args, **kwargs):
        if str(path).startswith(prefix) and set(mode) & set('wa+'):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)
        return real_open(path, mode, *args, **kwargs)

    def guarded_save(saver, sess, path, *args, **kwargs):
        raise tf.errors.PermissionDeniedError(None, None, '%s: Read-only file system' % path)
    monkeypatch.setattr('builtins.open', guarded_open)
    if saves:
        monkeypatch.setattr(tf.compat.v1.train.Saver, 'save', guarded_save)


def test_records_replaced_during_the_run(records, tmpdir, capsys, monkeypatch):
    """The records rebuilt (--overwrite) under a running trainer: shards gone, a new
    dataset_info.json. One line, summary.json failed, the last good step checkpointed; a resume
    is refused until asked."""
    copy = _copy(records, tmpdir, 'vid')
    run_dir = str(tmpdir.join('run'))

    def rebuild():
        shutil.rmtree(copy)
        shutil.copytree(_rebuilt_records(records, tmpdir), copy)
        for shard in glob.glob(os.path.join(copy, 'train', '*')):
            os.rename(shard, shard + '.new')
    _after_step(monkeypatch, 1, rebuild)
    assert _sasiam(copy, run_dir, 500, '--set', 'input.cycle_length=1',
                   '--set', 'input.record_shuffle=1', '--set', 'input.pair_shuffle=1') == 1
    error = _one_error(capsys)
    last = _logged_steps(run_dir)[-1]
    assert error.startswith('error: NotFoundError at step %d: ' % last), error
    assert 'checkpoint model.ckpt-%d written (before stopping on an error)' % last in error
    assert 'the records at %s were replaced during the run' % copy in error
    summary = _summary(run_dir)
    assert summary['status'] == 'failed' and summary['error'] == error[len('error: '):]
    assert summary['checkpoint'] == 'model.ckpt-%d' % last
    assert tf.train.load_checkpoint(run_dir).get_tensor('global_step') == last
    # a resume on the rebuilt records is refused unless asked (test_a_refused_command_...)
    with open(os.path.join(run_dir, 'run.json')) as f:
        started = json.load(f)['records']
    assert started['records'] == copy and started['dataset_info_sha256'] == \
        run_dir_lib.records_identity(records)['dataset_info_sha256']


def test_an_os_error_of_the_log_still_saves_the_last_step(records, tmpdir, capsys, monkeypatch):
    """A read-only train_log.jsonl (EROFS on the log alone): the checkpoint and the summary can
    still be written, so they are."""
    run_dir = str(tmpdir.join('run'))
    log = os.path.join(run_dir, 'train_log.jsonl')
    _after_step(monkeypatch, 4, lambda: _read_only(monkeypatch, log, saves=False))
    assert _sasiam(records, run_dir, 50) == 1
    monkeypatch.undo()
    error = _one_error(capsys)
    assert error.startswith("error: OSError at step 4: [Errno 30] Read-only file system: '%s'; "
                            'checkpoint model.ckpt-4 written (before stopping on an error)'
                            % log), error
    assert _summary(run_dir)['status'] == 'failed' and _summary(run_dir)['error'] == error[7:]
    assert checkpoints.steps_on_disk(run_dir) == [4]
    assert _logged_steps(run_dir) == [1, 2, 3]


@contextlib.contextmanager
def _tmpfs(path, size):
    """A small tmpfs at `path` (root and mount needed, else the test is skipped)."""
    os.makedirs(path)
    if os.geteuid() != 0 or subprocess.call(
            ['mount', '-t', 'tmpfs', '-o', 'size=%s' % size, 'tmpfs', path],
            stderr=subprocess.DEVNULL) != 0:
        pytest.skip('mounting a tmpfs needs root')
    try:
        yield path
    finally:
        subprocess.check_call(['umount', path])


def _fill(path, leave=0):
    """Write zeros into path/filler until the file system is full, then free `leave` bytes."""
    filler = os.path.join(path, 'filler')
    with open(filler, 'wb', buffering=0) as f:
        try:
            while True:
                f.write(b'\0' * 4096)
        except OSError as err:
            assert err.errno == errno.ENOSPC
    if leave:
        os.truncate(filler, os.path.getsize(filler) - leave)


def test_a_full_run_directory(records, tmpdir, capsys, monkeypatch):
    """The disk fills up during the run: one line naming the path, summary.json (in the bytes it
    reserved) saying why, every checkpoint on disk whole, nothing half-written; a resume after
    space is freed continues from the last checkpoint."""
    with _tmpfs(str(tmpdir.join('disk')), '16m') as disk:
        run_dir = os.path.join(disk, 'run')
        _after_step(monkeypatch, 3, lambda: _fill(disk))
        assert _sasiam(records, run_dir, 50, '--set', 'train.checkpoint_every=2') == 1
        error = _one_error(capsys)
        assert 'No space left on device' in error and run_dir in error, error
        assert 'no checkpoint could be written' in error
        summary = _summary(run_dir)
        assert summary['status'] == 'failed' and 'No space left on device' in summary['error']
        assert checkpoints.steps_on_disk(run_dir) == [2]
        assert checkpoints.newest_readable(run_dir) == (os.path.join(run_dir, 'model.ckpt-2'),
                                                        [])
        assert not [f for f in os.listdir(run_dir) if 'temp' in f or f.endswith('.tmp')]
        monkeypatch.undo()
        os.remove(os.path.join(disk, 'filler'))
        assert _sasiam(records, run_dir, 4) == 0
        assert _summary(run_dir)['start_step'] == 2


def test_a_disk_that_fills_during_a_checkpoint_keeps_no_part_of_it(
        records, tmpdir, capsys, monkeypatch):
    """Room for log lines but not for the next checkpoint (~46 KB at this width): the save fails
    part-way, its files and the saver's temporary directory are removed, the one before stays."""
    with _tmpfs(str(tmpdir.join('disk')), '16m') as disk:
        run_dir = os.path.join(disk, 'run')
        _after_step(monkeypatch, 3, lambda: _fill(disk, leave=24 * 1024))
        assert _sasiam(records, run_dir, 50, '--set', 'train.checkpoint_every=2') == 1
        monkeypatch.undo()
        error = _one_error(capsys)
        assert ' at step 4: ' in error and 'no checkpoint could be written' in error, error
        assert checkpoints.steps_on_disk(run_dir) == [2]
        assert not [f for f in os.listdir(run_dir) if f.startswith('model.ckpt-4')]
        assert _summary(run_dir)['status'] == 'failed'
        assert _logged_steps(run_dir) == [1, 2, 3, 4]


def test_a_read_only_run_directory(records, tmpdir, capsys, monkeypatch):
    """The run directory turns read-only mid-run (every write to it fails with EROFS; a remount
    is refused while the trainer holds files open): one line, which says that neither a
    checkpoint nor summary.json could be written; the earlier checkpoint stays."""
    run_dir = str(tmpdir.join('run'))
    _after_step(monkeypatch, 3, lambda: _read_only(monkeypatch, run_dir))
    assert _sasiam(records, run_dir, 50, '--set', 'train.checkpoint_every=2') == 1
    monkeypatch.undo()
    error = _one_error(capsys)
    assert error.startswith('error: OSError at step 3: [Errno 30] Read-only file system: '
                            "'%s'" % os.path.join(run_dir, 'train_log.jsonl')), error
    assert 'no checkpoint could be written (PermissionDeniedError: ' in error
    assert error.endswith('summary.json not written (OSError: [Errno 30] Read-only file system: '
                          "'%s')" % os.path.join(run_dir, 'summary.json')), error
    assert _summary(run_dir)['status'].startswith('running')
    assert checkpoints.steps_on_disk(run_dir) == [2]


def test_an_unwritable_run_directory_is_one_line(records, tmpdir, capsys):
    blocker = tmpdir.join('file')
    blocker.write('x')
    assert _sasiam(records, os.path.join(str(blocker), 'run'), 3) == 1
    error = _one_error(capsys)
    assert error.startswith('error: cannot write the run directory %s' % os.path.join(
        str(blocker), 'run')), error
    assert blocker.read() == 'x'
