"""The file system as hostile input (issue 20, section 2): a full disk, quota or read-only folder
is one line naming the path with nothing half-published; only regular files are read (named
pipes, devices, sockets, directories, symbolic link loops are dead letters or one-line errors,
never a blocked run); names that are not UTF-8 are escaped; JPEG EXIF orientation is ignored by
every decoder and flagged."""
from __future__ import absolute_import, division, print_function

import errno
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys

import numpy as np
import pytest

from datasets import fileio, images
from datasets.errors import InputError
from pipelines import dead_letters, driver, output, vos

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAST = ['--direct_running_mode=in_memory', '--direct_num_workers=1']
AS_ROOT = hasattr(os, 'geteuid') and os.geteuid() == 0


def _tree_digest(root):
    """{relative path: sha256} of every file under root (what a reader of the output sees)."""
    found = {}
    for base, _, files in os.walk(root):
        for name in files:
            path = os.path.join(base, name)
            with open(path, 'rb') as f:
                found[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return found


def _error_lines(capsys):
    return [line for line in capsys.readouterr().err.splitlines()
            if not line.startswith(('[', 'note: '))]


class _FailingFile(io.BytesIO):
    """A file whose writes fail with `code` (a full disk, a quota, a read-only mount)."""

    def __init__(self, code):
        super(_FailingFile, self).__init__()
        self.code = code

    def write(self, data):
        raise OSError(self.code, os.strerror(self.code))


def _fail_writes(monkeypatch, code, when):
    """Every local write through datasets.fileio to a path `when(path)` accepts fails."""
    real = fileio._local_writer
    monkeypatch.setattr(fileio, '_local_writer', lambda path: _FailingFile(code) if when(path)
                        else real(path))


@pytest.fixture(scope='module')
def davis_out(sample_data, tmp_path_factory):
    """(DAVIS data, an output root holding a published davis2017, digest of that output)."""
    data = os.path.join(sample_data[0], 'DAVIS')
    out = str(tmp_path_factory.mktemp('fs-out'))
    assert vos.davis_main(['--data', data, '--out', out] + FAST) == 0
    return data, out, _tree_digest(os.path.join(out, 'davis2017'))


def _assert_untouched(out, digest):
    """The old output is as it was, and no work directory or temporary is left."""
    assert _tree_digest(os.path.join(out, 'davis2017')) == digest
    assert sorted(os.listdir(out)) == ['davis2017']


@pytest.mark.parametrize('code, where', [
    (errno.ENOSPC, '.tfrecord-'),          # a shard, written by a worker
    (errno.EDQUOT, '_parts'),              # a worker's part file
    (errno.EROFS, 'errors.jsonl'),         # the driver assembling the output
    (errno.EACCES, 'dataset_info.json'),   # written through tf.io.gfile: see below
])
def test_a_failed_write_is_one_line_and_publishes_nothing(davis_out, monkeypatch, capsys, code,
                                                          where):
    data, out, digest = davis_out
    if code == errno.EACCES:   # dataset_info.json is written through tf.io.gfile
        monkeypatch.setattr(driver.dataset_info, 'write', _gfile_failure)
    _fail_writes(monkeypatch, code, lambda path: where in path)
    assert vos.davis_main(['--data', data, '--out', out, '--overwrite'] + FAST) == 1
    lines = _error_lines(capsys)
    assert len(lines) == 1, lines
    assert lines[0].startswith('error: cannot write ') and os.strerror(code) in lines[0], lines
    assert where in lines[0]
    _assert_untouched(out, digest)


def _gfile_failure(work, info):
    import tensorflow as tf
    raise tf.errors.PermissionDeniedError(None, None, '%s/dataset_info.json; Permission denied'
                                          % work)


def test_a_full_disk_that_also_swallows_the_stop_marker_is_one_line(davis_out, monkeypatch,
                                                                    capsys):
    """The issue's case: the marker of the failed write is itself written to the full disk. It
    is left empty (its name still says why), and read as "stopped, disk full", not parsed."""
    data, out, digest = davis_out
    _fail_writes(monkeypatch, errno.ENOSPC, lambda path: '.work' in path)
    assert vos.davis_main(['--data', data, '--out', out, '--overwrite'] + FAST) == 1
    lines = _error_lines(capsys)
    assert len(lines) == 1 and 'Traceback' not in lines[0], lines
    assert 'No space left on device' in lines[0] and '.davis2017.work' in lines[0], lines
    _assert_untouched(out, digest)


@pytest.mark.parametrize('content', [b'', b'{"kind": "write_fa', b'[1, 2]', b'\xff\xfe'])
def test_stop_markers_that_cannot_be_parsed_still_stop_the_run(tmpdir, content):
    stop_dir = str(tmpdir.mkdir('.x.work').mkdir('_stop'))
    with open(os.path.join(stop_dir, 'train-00001.write_failed.EDQUOT.json'), 'wb') as f:
        f.write(content)
    with pytest.raises(output.OutputError) as caught:
        driver._raise_stop(os.path.dirname(stop_dir))
    assert 'Disk quota exceeded' in str(caught.value) and '\n' not in str(caught.value)
    with open(os.path.join(stop_dir, 'train-00000.strict.json'), 'wb') as f:
        f.write(content)
    with pytest.raises(dead_letters.StrictStop):
        driver._raise_stop(os.path.dirname(stop_dir))


def test_a_stop_marker_is_written_whole_or_empty(tmpdir, monkeypatch):
    stop_dir = str(tmpdir)
    dead_letters.leave_stop(stop_dir, 'train-00002', 'write_failed', 'cannot write x: y', 28)
    assert dead_letters.read_stop(os.path.join(stop_dir, 'train-00002.write_failed.ENOSPC.json')) \
        == ('write_failed', 'cannot write x: y', 'No space left on device')
    _fail_writes(monkeypatch, errno.ENOSPC, lambda path: True)
    dead_letters.leave_stop(stop_dir, 'train-00003', 'strict', 'missing_frame: a (b)')
    assert sorted(os.listdir(stop_dir)) == ['train-00002.write_failed.ENOSPC.json',
                                            'train-00003.strict.json']   # no temporary left
    assert dead_letters.read_stop(os.path.join(stop_dir, 'train-00003.strict.json')) == (
        'strict', None, None)


def test_write_atomic_failure_keeps_the_old_file_and_removes_the_temporary(tmpdir, monkeypatch):
    path = str(tmpdir.join('result.txt'))
    fileio.write_atomic(path, b'old')
    _fail_writes(monkeypatch, errno.ENOSPC, lambda p: True)
    with pytest.raises(fileio.WriteError) as caught:
        fileio.write_atomic(path, b'new')
    assert str(caught.value) == 'cannot write %s: No space left on device' % path
    assert os.listdir(str(tmpdir)) == ['result.txt'] and open(path, 'rb').read() == b'old'


def _limited_file_size(limit):
    """A preexec_fn: writes past `limit` bytes fail with EFBIG (SIGXFSZ ignored), a real write
    failure of the kernel, without a full disk or root."""
    def apply():
        import resource
        import signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


@pytest.mark.slow  # a pipeline in a subprocess: ~4 s of imports
def test_a_real_write_failure_of_a_pipeline_is_one_line(davis_out, tmpdir):
    data, out, digest = davis_out
    run = subprocess.run(
        [sys.executable, '-m', 'pipelines', 'davis', '--data', data, '--out', out,
         '--overwrite', '--units-per-shard', '100'] + FAST, cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, preexec_fn=_limited_file_size(4096))
    err = [line for line in run.stderr.decode().splitlines()
           if not line.startswith(('[', 'note: '))]
    assert run.returncode == 1 and len(err) == 1, run.stderr.decode()[-3000:]
    assert 'File too large' in err[0] and '.davis2017.work' in err[0], err
    _assert_untouched(out, digest)


@pytest.mark.skipif(AS_ROOT, reason='root writes into a 0o555 folder')
def test_a_read_only_output_folder_is_one_line(davis_out, tmpdir, capsys):
    data = davis_out[0]
    out = tmpdir.mkdir('ro')
    out.chmod(0o555)
    try:
        assert vos.davis_main(['--data', data, '--out', str(out)] + FAST) == 1
    finally:
        out.chmod(0o755)
    lines = _error_lines(capsys)
    assert len(lines) == 1 and 'not writable' in lines[0] and str(out) in lines[0], lines
