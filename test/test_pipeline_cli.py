"""What a person sees: one-line errors, refused flags and make variables, help with defaults, and
exclusive, atomic output (lock, work directory, swap)."""
from __future__ import absolute_import, division, print_function

import glob
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import tensorflow as tf

import sampledata
from pipelines import __main__ as pipelines_main
from pipelines import beam_steps, cli, driver, output, runner_options, shards, vos
from schemas import dataset_info

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAST = ['--direct_running_mode=in_memory', '--direct_num_workers=1']


@pytest.fixture
def davis(sample_data):
    """(DAVIS root of the session's sample, read only; its sample root)."""
    return os.path.join(sample_data[0], 'DAVIS'), sample_data[0]


def run(data, out, *extra):
    return vos.davis_main(['--data', data, '--out', out] + list(extra) + FAST)


def one_error_line(capsys):
    err = [line for line in capsys.readouterr().err.splitlines()
           if not line.startswith(('[', 'note: '))]
    assert len(err) == 1 and 'Traceback' not in err[0], err
    return err[0]


def test_unknown_flags_are_refused_with_a_suggestion(capsys, tmpdir):
    assert run(str(tmpdir), str(tmpdir), '--videos-per-shrd', '2') == 2
    assert one_error_line(capsys) == ('error: unknown flag --videos-per-shrd (did you mean '
                                      '--units-per-shard?); see python -m pipelines davis --help')
    assert run(str(tmpdir), str(tmpdir), '--zzz') == 2
    assert one_error_line(capsys) == 'error: unknown flag --zzz; see python -m pipelines davis ' \
                                     '--help'
    from pipelines import coco
    assert coco.main(['--data', str(tmpdir), '--out', str(tmpdir), '--min-area-ration',
                      '0.5']) == 2
    assert '(did you mean --min-area-ratio?)' in one_error_line(capsys)
    assert coco.main(['--data', str(tmpdir), '--out', str(tmpdir), '--runer=DirectRunner']) == 2
    assert '(did you mean --runner?)' in one_error_line(capsys)


def test_help_lists_datasets_and_defaults(capsys):
    assert pipelines_main.main(['--help']) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ('vid', 'coco', 'davis', 'ytvos'))
    with pytest.raises(SystemExit) as exit_:
        vos.ytvos_main(['--help'])
    assert exit_.value.code == 0
    text = ' '.join(capsys.readouterr().out.split())  # help wraps lines
    assert '(default: train,valid)' in text and '(default: 0.05)' in text
    assert pipelines_main.main(['dvais']) == 2
    assert "unknown dataset 'dvais' (did you mean davis?)" in capsys.readouterr().err


def test_user_errors_are_one_line(davis, capsys, tmpdir):
    data, _ = davis
    assert run(str(tmpdir.join('nope')), str(tmpdir.join('o'))) == 1
    assert 'ImageSets/2017/train.txt not found' in one_error_line(capsys)
    a_file = tmpdir.join('file')
    a_file.write('x')
    assert run(data, str(a_file)) == 1
    assert one_error_line(capsys) == 'error: --out %s is a file; pass a directory (datasets go ' \
                                     'to OUT/<name>)' % a_file


def test_vid_without_its_frame_tree_is_an_error_not_an_empty_dataset(capsys, tmpdir):
    from pipelines import vid
    tmpdir.ensure('ILSVRC2015', 'Annotations', 'VID', 'train', 'a', 'b', '000000.xml')
    assert vid.main(['--data', str(tmpdir.join('ILSVRC2015')), '--out', str(tmpdir.join('o'))]
                    + FAST) == 1
    assert one_error_line(capsys).startswith('error: %s not found: --data must be the ILSVRC2015'
                                             % tmpdir.join('ILSVRC2015', 'Data', 'VID'))


def test_interrupt_publishes_nothing(davis, capsys, monkeypatch, tmpdir):
    data, _ = davis

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(driver, 'run_conversion', interrupted)
    assert run(data, str(tmpdir)) == 130
    assert one_error_line(capsys).startswith('interrupted: nothing published')


def test_busy_output_is_refused_and_stale_state_is_cleaned(davis, capsys, tmpdir):
    data, root = davis
    out = str(tmpdir)
    lock = output.lock_path(out, 'davis2017')
    with open(lock, 'w') as f:  # a live writer: this process
        json.dump({'pid': os.getpid(), 'host': __import__('socket').gethostname(),
                   'started_utc': 'now'}, f)
    assert run(data, out) == 1
    assert 'is being written by pid %d' % os.getpid() in one_error_line(capsys)
    assert not os.path.exists(os.path.join(out, 'davis2017'))
    # a killed run: its lock (pid gone), its work directory and an old-style temporary dir
    finished = subprocess.Popen(['true'])
    finished.wait()
    with open(lock, 'w') as f:
        json.dump({'pid': finished.pid, 'host': __import__('socket').gethostname()}, f)
    os.makedirs(os.path.join(output.work_dir(out, 'davis2017'), 'train'))
    os.makedirs(os.path.join(out, '.davis2017.tmp-0123abcd'))
    open('%s.%d-0123abcd' % (lock, finished.pid), 'w').close()  # killed while taking the lock
    assert run(data, out) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith('note: ')]
    assert len(notes) == 4 and 'stale lock' in notes[0] and 'killed run' in notes[3]
    assert sorted(os.listdir(out)) == ['davis2017']
    davis_counts = sampledata.load_manifest(root)['datasets']['davis']['clean']
    assert dataset_info.read(os.path.join(out, 'davis2017'))['counts']['videos'] == \
        davis_counts['train']['sequences'] + davis_counts['val']['sequences']


def test_overwrite_swaps_old_and_new(tmpdir):
    final, work = str(tmpdir.join('final')), str(tmpdir.join('work'))
    for path, content in ((final, b'old'), (work, b'new')):
        os.makedirs(path)
        with open(os.path.join(path, 'dataset_info.json'), 'wb') as f:
            f.write(content)
    inode = os.stat(work).st_ino
    assert output.publish(work, final) == 'replaced'
    with open(os.path.join(final, 'dataset_info.json'), 'rb') as f:
        assert f.read() == b'new'
    assert os.stat(final).st_ino == inode  # the new directory itself, swapped in whole
    assert not os.path.exists(work)


def test_existing_output_names_the_make_variable(davis, capsys, tmpdir):
    data, _ = davis
    out = str(tmpdir)
    os.makedirs(os.path.join(out, 'davis2017'))
    assert run(data, out) == 1
    assert one_error_line(capsys).endswith('pass --overwrite (make: OVERWRITE=1) to replace it')


def test_zero_records_exit_1_with_counts(davis, capsys, tmpdir):
    root = tmpdir.mkdir('DAVIS')
    for split in ('train', 'val'):
        root.ensure('ImageSets', '2017', split + '.txt').write('gone\n')
    assert run(str(root), str(tmpdir.join('out'))) == 1
    line = one_error_line(capsys)
    assert line.startswith('error: davis2017: no records written (units seen 2, written 0, '
                           'rejected 2')
    assert os.path.exists(str(tmpdir.join('out', 'davis2017', 'errors.jsonl')))


def test_tfrecords_written_without_tensorflow_are_tensorflows(tmpdir):
    records = [b'', b'a', os.urandom(70000)]
    ours, theirs = str(tmpdir.join('ours')), str(tmpdir.join('theirs'))
    with open(ours, 'wb') as f:
        for record in records:
            beam_steps.write_record(f, record)
    with tf.io.TFRecordWriter(theirs) as writer:
        for record in records:
            writer.write(record)
    assert open(ours, 'rb').read() == open(theirs, 'rb').read()


def test_small_inputs_get_two_shards_per_worker():
    units = {'train': list(range(6)), 'validation': [100, 101]}
    assert [(t.split, len(t.units)) for t in shards.plan_shards(units, 8, min_shards=4)] == \
        [('train', 2), ('train', 2), ('train', 2), ('validation', 2)]
    assert len(shards.plan_shards(units, 8)) == 2  # no minimum: one shard per split
    assert len(shards.plan_shards({'train': list(range(100))}, 8, min_shards=4)) == 13
    assert runner_options.default_workers(['--direct_num_workers=3']) == 3


def test_source_split_names_become_common_names():
    """Shards are planned under train / validation; the release's name is kept for dataset_info."""
    transform = beam_steps.ConvertToShards(None, {'train2017': [1, 2], 'val2017': [3]}, 8)
    assert [(t.split, t.units) for t in transform.tasks] == \
        [('train', (1, 2)), ('validation', (3,))]
    assert transform.source_splits == {'train': 'train2017', 'validation': 'val2017'}
    assert shards.shard_relpath('coco', 'validation', 0, 1) == \
        'validation/coco-validation.tfrecord-00000-of-00001'
    with pytest.raises(ValueError, match='same split twice'):
        beam_steps.ConvertToShards(None, {'val': [1], 'valid': [2]}, 8)


def test_unusable_index_file_is_one_line(capsys, tmpdir):
    from pipelines import coco
    tmpdir.ensure('coco', 'annotations', 'instances_train2017.json').write('{"images": 3')
    assert coco.main(['--data', str(tmpdir.join('coco')), '--out', str(tmpdir.join('o')),
                      '--splits', 'train2017']) == 1
    assert 'instances_train2017.json is not a COCO instances file' in one_error_line(capsys)


@pytest.mark.parametrize('dataset', sorted(pipelines_main.DATASETS))
def test_help_shows_every_default(dataset, capsys):
    with pytest.raises(SystemExit) as exit_:
        pipelines_main.main([dataset, '--help'])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    options = text.split('optional arguments:')[1].split('\n\nAny other flag')[0]
    blocks = [b for b in ('\n' + options).split('\n  -')[1:] if not b.startswith('h, --help')]
    for block in blocks:
        flag = block.split()[0]
        if flag in ('-data', '-out'):  # required
            assert '(default' not in block, block
        else:
            assert block.count('(default') == 1, block
    assert '(default: None)' not in text and "the dataset's" not in text


def test_shard_planning_reads_every_worker_flag():
    assert runner_options.default_workers(['--direct_num_workers', '4']) == 4
    assert runner_options.default_workers(['--direct_num_workers=3', '--direct_num_workers=5']) == 5
    assert runner_options.default_workers(['--runner=DataflowRunner', '--num_workers=3',
                                 '--max_num_workers', '40']) == 40
    assert runner_options.default_workers(['--runner', 'DataflowRunner', '--num_workers', '6']) == 6
    assert runner_options.default_workers(['--runner=FlinkRunner', '--parallelism=12']) == 12
    # a remote runner's flag says nothing about the DirectRunner, and the reverse
    assert runner_options.default_workers(['--num_workers=9']) == runner_options.default_workers([])
    assert runner_options.default_workers(['--runner=FlinkRunner', '--direct_num_workers=9']) == \
        runner_options.default_workers([])


@pytest.mark.skipif(not os.path.isdir('/proc/self'), reason='needs Linux /proc')
def test_unwritable_out_is_found_by_trying_even_as_root(davis, capsys):
    """os.access says yes to root everywhere; creating a file in /proc fails for everyone."""
    data, _ = davis
    assert run(data, '/proc') == 1
    assert one_error_line(capsys).startswith('error: --out /proc is not writable')


def test_lock_being_created_is_busy_and_existing_output_is_checked_under_the_lock(
        davis, capsys, monkeypatch, tmpdir):
    data, _ = davis
    out = str(tmpdir)
    lock = output.lock_path(out, 'davis2017')
    open(lock, 'w').close()  # another run between its exclusive create and its write
    assert run(data, out) == 1
    assert 'is being taken by another run' in one_error_line(capsys)
    assert os.path.exists(lock)
    old = os.stat(lock).st_mtime - output.UNREADABLE_LOCK_GRACE_S - 1
    os.utime(lock, (old, old))  # a run that died while writing it
    # ...and another run published while this one waited: refused, not replaced
    acquire = output.Lock.acquire

    def published_meanwhile(self):
        os.makedirs(os.path.join(out, 'davis2017'))
        return acquire(self)
    monkeypatch.setattr(output.Lock, 'acquire', published_meanwhile)
    assert run(data, out) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith('note: removed the stale lock') and 'unreadable' in err[0]
    assert err[1].endswith('exists; pass --overwrite (make: OVERWRITE=1) to replace it')
    assert sorted(os.listdir(out)) == ['davis2017'] and not os.listdir(
        os.path.join(out, 'davis2017'))


def test_a_failed_write_in_a_worker_is_one_line(davis, capsys, monkeypatch, tmpdir):
    data, _ = davis
    real_open_write = beam_steps.fileio.open_write

    def disk_full(path):
        if '.tfrecord-' in path:
            raise OSError(28, 'No space left on device', path)
        return real_open_write(path)
    monkeypatch.setattr(beam_steps.fileio, 'open_write', disk_full)
    assert vos.davis_main(['--data', data, '--out', str(tmpdir), '--direct_num_workers=2',
                           '--direct_running_mode=multi_threading']) == 1
    line = one_error_line(capsys)
    assert re.match(r'error: cannot write \S+\.tfrecord-\d+-of-\d+: No space left on device$',
                    line), line
    assert os.listdir(str(tmpdir)) == []


def test_beam_warnings_are_quiet_unless_verbose(davis, caplog, tmpdir):
    """Beam warns when in_memory is given more than one worker: hidden by default."""
    data, _ = davis
    args = ['--data', data, '--direct_running_mode=in_memory', '--direct_num_workers=2']

    def beam_warnings():
        return [r for r in caplog.records
                if r.name.startswith('apache_beam') and r.levelno == logging.WARNING]
    assert vos.davis_main(args + ['--out', str(tmpdir.join('quiet'))]) == 0
    assert beam_warnings() == []
    assert vos.davis_main(args + ['--out', str(tmpdir.join('verbose')), '--verbose']) == 0
    assert any('direct_num_workers' in r.getMessage() for r in beam_warnings())
    cli.quiet_logging(False)


_BLOCKING_READ = """import os, time
_real_open = os.open


def _open(path, *args, **kwargs):  # the frame's read never ends: the test sends SIGINT
    if path == os.environ['TEST_BLOCKED_FRAME']:
        os.close(_real_open(os.environ['TEST_READING'], os.O_CREAT | os.O_WRONLY))
        while True:
            time.sleep(0.1)
    return _real_open(path, *args, **kwargs)


os.open = _open
"""


def test_ctrl_c_in_worker_processes_is_one_line(davis, tmpdir):
    """A real SIGINT to the process group, as a terminal sends it, while a worker process reads
    a frame: here a read that blocks (a sitecustomize every process of the run imports) until
    the signal has been sent. (A named pipe no longer blocks: readers refuse it.)"""
    data, root = davis
    frame = sorted(glob.glob(os.path.join(data, 'JPEGImages', '480p', '*', '*.jpg')))[0]
    tmpdir.mkdir('site').join('sitecustomize.py').write(_BLOCKING_READ)
    reading = str(tmpdir.join('reading'))
    env = dict(os.environ, TEST_BLOCKED_FRAME=frame, TEST_READING=reading,
               PYTHONPATH=os.pathsep.join([str(tmpdir.join('site')), ROOT]))
    out = str(tmpdir.join('out'))
    process = subprocess.Popen(
        [sys.executable, '-m', 'pipelines', 'davis', '--data', data, '--out', out,
         '--direct_running_mode=multi_processing', '--direct_num_workers=1'],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        env=env)
    writer = None
    try:
        while writer is None and process.poll() is None:
            if os.path.exists(reading):  # a worker is inside the frame's read
                writer = reading
            else:
                time.sleep(0.1)
        os.killpg(process.pid, signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)  # this test's workers, if any are left
        except ProcessLookupError:
            pass
    assert writer is not None, err.decode()[-2000:]  # the signal came while a worker read
    assert process.returncode == 130
    lines = [line for line in err.decode().splitlines() if not line.startswith('[')]
    assert lines == ['interrupted: nothing published; %s is as it was' % out], lines
    assert os.listdir(out) == []
