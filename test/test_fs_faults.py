"""The file system as hostile input (issue 20, section 2): a full disk, quota or read-only folder
is one line naming the path with nothing half-published; only regular files are read (named
pipes, devices, sockets, directories, symbolic link loops are dead letters or one-line errors,
never a blocked run); names that are not UTF-8 are escaped; JPEG EXIF orientation is ignored by
every decoder and flagged."""
from __future__ import absolute_import, division, print_function

import errno
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
from record_files import tree_contents

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAST = ['--direct_running_mode=in_memory', '--direct_num_workers=1']
AS_ROOT = hasattr(os, 'geteuid') and os.geteuid() == 0


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
    """(DAVIS data, an output root holding a published davis2017, that output's files)."""
    data = os.path.join(sample_data[0], 'DAVIS')
    out = str(tmp_path_factory.mktemp('fs-out'))
    assert vos.davis_main(['--data', data, '--out', out] + FAST) == 0
    published = os.listdir(os.path.join(out, 'davis2017'))
    assert '_stop' not in published and '_parts' not in published   # the work's own folders
    return data, out, tree_contents(os.path.join(out, 'davis2017'))


def _assert_untouched(out, contents):
    """The old output is as it was, and no work directory or temporary is left."""
    assert tree_contents(os.path.join(out, 'davis2017')) == contents
    assert sorted(os.listdir(out)) == ['davis2017']


@pytest.mark.parametrize('code, where', [
    (errno.ENOSPC, '.tfrecord-'),          # a shard, written by a worker
    (errno.EDQUOT, '_parts'),              # a worker's part file
    (errno.EROFS, 'errors.jsonl'),         # the driver assembling the output
    (errno.EACCES, 'dataset_info.json'),   # written through tf.io.gfile: see below
])
def test_a_failed_write_is_one_line_and_publishes_nothing(davis_out, monkeypatch, capsys, code,
                                                          where):
    data, out, contents = davis_out
    if code == errno.EACCES:   # dataset_info.json is written through tf.io.gfile
        monkeypatch.setattr(driver.dataset_info, 'write', _gfile_failure)
    _fail_writes(monkeypatch, code, lambda path: where in path)
    assert vos.davis_main(['--data', data, '--out', out, '--overwrite'] + FAST) == 1
    lines = _error_lines(capsys)
    assert len(lines) == 1, lines
    assert lines[0].startswith('error: cannot write ') and os.strerror(code) in lines[0], lines
    assert where in lines[0]
    _assert_untouched(out, contents)


def _gfile_failure(work, info):
    import tensorflow as tf
    raise tf.errors.PermissionDeniedError(None, None, '%s/dataset_info.json; Permission denied'
                                          % work)


def test_a_full_disk_that_also_swallows_the_stop_marker_is_one_line(davis_out, monkeypatch,
                                                                    capsys):
    """The issue's case: the marker of the failed write is itself written to the full disk. It
    is left empty (its name still says why), and read as "stopped, disk full", not parsed."""
    data, out, contents = davis_out
    _fail_writes(monkeypatch, errno.ENOSPC, lambda path: '.work' in path)
    assert vos.davis_main(['--data', data, '--out', out, '--overwrite'] + FAST) == 1
    lines = _error_lines(capsys)
    assert len(lines) == 1 and 'Traceback' not in lines[0], lines
    assert 'No space left on device' in lines[0] and '.davis2017.work' in lines[0], lines
    _assert_untouched(out, contents)


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
    data, out, contents = davis_out
    run = subprocess.run(
        [sys.executable, '-m', 'pipelines', 'davis', '--data', data, '--out', out,
         '--overwrite', '--units-per-shard', '100'] + FAST, cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, preexec_fn=_limited_file_size(4096))
    err = [line for line in run.stderr.decode().splitlines()
           if not line.startswith(('[', 'note: '))]
    assert run.returncode == 1 and len(err) == 1, run.stderr.decode()[-3000:]
    assert 'File too large' in err[0] and '.davis2017.work' in err[0], err
    _assert_untouched(out, contents)


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


def test_result_files_of_trackers_are_whole_or_absent(tmpdir, monkeypatch):
    from trackers import run as run_lib
    results = str(tmpdir.join('results'))
    _fail_writes(monkeypatch, errno.EDQUOT, lambda path: path.endswith('.txt.%d.tmp'
                                                                       % os.getpid()))
    with pytest.raises(fileio.WriteError) as caught:
        run_lib.write_results(results, 'SiamX', 'Basketball', np.ones((3, 4)), np.ones(3))
    assert fileio.os_error_line(caught.value) == (
        'cannot write %s: Disk quota exceeded' % os.path.join(results, 'SiamX', 'times',
                                                             'Basketball_time.txt'))
    assert [f for _, _, files in os.walk(results) for f in files] == []


# -- only regular files are read ---------------------------------------------------------------

class _Deadline(object):
    """Fails the test instead of hanging it when a read blocks (the bug a FIFO used to cause)."""

    def __enter__(self):
        import signal

        def blocked(*_):
            raise AssertionError('a read blocked')
        self.previous = signal.signal(signal.SIGALRM, blocked)
        signal.alarm(5)

    def __exit__(self, *exc):
        import signal
        signal.alarm(0)
        signal.signal(signal.SIGALRM, self.previous)


def _odd_files(folder):
    """{name: (expected reason, words of the detail)} of files that are not regular files or
    cannot be read, made in `folder` (platform permitting)."""
    made = {}
    if hasattr(os, 'mkfifo'):
        os.mkfifo(os.path.join(folder, 'pipe.jpg'))
        made['pipe.jpg'] = ('not_regular_file', 'named pipe')
    os.symlink(os.devnull, os.path.join(folder, 'device.jpg'))
    made['device.jpg'] = ('not_regular_file', 'character device')
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(os.path.join(folder, 'socket.jpg'))
        made['socket.jpg'] = ('not_regular_file', 'socket')
    except OSError:   # a temporary folder too deep for an AF_UNIX address
        pass
    finally:
        sock.close()
    os.mkdir(os.path.join(folder, '00000.jpg'))
    made['00000.jpg'] = ('unreadable_file', 'directory')
    os.symlink('loop.jpg', os.path.join(folder, 'loop.jpg'))
    made['loop.jpg'] = ('unreadable_file', 'symbolic links')
    os.symlink('nowhere.jpg', os.path.join(folder, 'dangling.jpg'))
    made['dangling.jpg'] = ('missing_frame', 'does not exist')
    if not AS_ROOT:
        with open(os.path.join(folder, 'locked.jpg'), 'wb') as f:
            f.write(b'\xff\xd8\xff')
        os.chmod(os.path.join(folder, 'locked.jpg'), 0)
        made['locked.jpg'] = ('unreadable_file', 'Permission denied')
    return made


def test_only_regular_files_are_read_and_nothing_blocks(tmpdir):
    folder = str(tmpdir)
    for name, (reason, words) in sorted(_odd_files(folder).items()):
        path = os.path.join(folder, name)
        with _Deadline(), pytest.raises(InputError) as caught:
            images.read_file(path)
        assert (caught.value.reason, words in caught.value.detail) == (reason, True), name


def test_trackers_segmenters_and_masks_refuse_odd_files_in_one_line(tmpdir):
    from datasets.palette import read_label_png
    from segmenters import sources
    from trackers.sequences import SequenceError, read_frame
    folder = str(tmpdir)
    for name, (reason, words) in sorted(_odd_files(folder).items()):
        path = os.path.join(folder, name)
        with _Deadline():
            with pytest.raises(SequenceError) as tracker:
                read_frame(path)
            with pytest.raises(sources.SourceError) as segmenter:
                sources._read_bytes(path)
            with pytest.raises(InputError) as mask:
                read_label_png(path)
        assert str(tracker.value).startswith('cannot read frame %s: %s' % (path, reason))
        assert path in str(segmenter.value) and path in str(mask.value)
        for err in (tracker.value, segmenter.value, mask.value):
            assert '\n' not in str(err)


def test_a_fifo_swapped_in_after_the_check_cannot_block(tmpdir, monkeypatch):
    """The race: stat says regular file, then a named pipe takes its name before the open.
    O_NONBLOCK opens it at once and fstat refuses it."""
    if not hasattr(os, 'mkfifo'):
        pytest.skip('no named pipes here')
    path = str(tmpdir.join('frame.jpg'))
    os.mkfifo(path)
    regular = os.stat(__file__)
    real_stat = os.stat
    monkeypatch.setattr(os, 'stat', lambda p, *a, **k: regular if p == path
                        else real_stat(p, *a, **k))
    with _Deadline(), pytest.raises(fileio.NotRegularFileError) as caught:
        fileio.read_bytes(path)
    assert caught.value.kind == 'a named pipe (FIFO)'


# -- names that are not UTF-8 -------------------------------------------------------------------

def test_a_name_that_is_not_utf8_is_one_escaped_dead_letter(tmpdir):
    from pipelines.converter import UnitResult
    raw = os.path.join(os.fsencode(str(tmpdir)), b'caf\xe9-\xff.jpg')
    with open(raw, 'wb') as f:
        f.write(b'\xff\xd8\xff')
    path = os.fsdecode(raw)
    shown = str(tmpdir) + '/caf\\xe9-\\xff.jpg'
    assert fileio.printable(path) == shown and not fileio.is_utf8_name(path)
    assert fileio.printable(u'caf\xe9.jpg') == u'caf\xe9.jpg'   # real UTF-8 stays as it is
    with pytest.raises(InputError) as caught:
        images.read_file(path)
    assert caught.value.reason == 'non_utf8_name' and 'caf\\xe9-\\xff.jpg' in caught.value.detail
    result = UnitResult()
    with result.guard('image', path):
        u'frame %s' % path.encode('utf-8')   # where a record's string feature would fail
    entry = result.rejections[0]
    assert (entry['reason'], entry['path']) == ('non_utf8_name', shown)
    json.dumps(entry, ensure_ascii=False).encode('utf-8')   # any JSON writer can take it
    assert dead_letters.name_problem(path)[:2] == ('non_utf8_name', shown)
    with pytest.raises(dead_letters.StrictStop) as stop:
        UnitResult(strict=True).reject('image', 'non_utf8_name', path, 'x')
    str(stop.value).encode('ascii')


@pytest.mark.slow  # a pipeline in a subprocess: ~4 s of imports
@pytest.mark.parametrize('locale', ['C', 'C.UTF-8'])
def test_non_utf8_names_under_any_locale_are_one_line(sample_data, tmpdir, locale):
    """--strict stops at the non-UTF-8 frame: the line names it escaped, in a C locale too."""
    davis = str(tmpdir.join('DAVIS'))
    shutil.copytree(os.path.join(sample_data[0], 'DAVIS'), davis)
    sequence = sorted(os.listdir(os.path.join(davis, 'JPEGImages', '480p')))[0]
    for tree, ext in (('JPEGImages', '.jpg'), ('Annotations', '.png')):   # frame and mask
        folder = os.fsencode(os.path.join(davis, tree, '480p', sequence))
        os.rename(os.path.join(folder, b'00003' + os.fsencode(ext)),
                  os.path.join(folder, b'00003\xff' + os.fsencode(ext)))
    env = dict(os.environ, LC_ALL=locale, LANG=locale)
    env.pop('PYTHONIOENCODING', None)
    run = subprocess.run([sys.executable, '-m', 'pipelines', 'davis', '--data', davis, '--out',
                          str(tmpdir.join('out')), '--strict'] + FAST, cwd=ROOT, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    err = [line for line in run.stderr.decode('utf-8', 'replace').splitlines()
           if not line.startswith(('[', 'note: '))]
    assert run.returncode == 1 and len(err) == 1, err
    assert 'non_utf8_name' in err[0] and '00003\\xff.jpg' in err[0], err


# -- EXIF orientation ---------------------------------------------------------------------------

def _rotated_jpeg(height=20, width=40):
    """A non-square JPEG (left half dark, right half bright) tagged EXIF orientation 6."""
    from sampledata.fs_faults import exif_rotated_jpeg
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[:, width // 2:] = 200
    return exif_rotated_jpeg(images.encode_jpeg(pixels, 95))


def test_every_decoder_keeps_the_stored_pixel_grid(tmpdir):
    import cv2
    import tensorflow as tf
    from PIL import Image
    from segmenters import sources
    from trackers.sequences import read_frame
    data = _rotated_jpeg()
    assert images.exif_orientation(data) == 6
    assert images.exif_orientation(images.encode_jpeg(np.zeros((4, 6, 3), np.uint8), 90)) == 1
    path = str(tmpdir.join('00000.jpg'))
    with open(path, 'wb') as f:
        f.write(data)
    with pytest.warns(images.ExifOrientationWarning, match='orientation 6'):
        tracked = read_frame(path)
    decoded = {
        'decode_jpeg': images.decode_jpeg(data),
        'decode_jpeg unchanged': images.decode_jpeg(data, cv2.IMREAD_UNCHANGED),
        'decode_jpeg grey': images.decode_jpeg(data, cv2.IMREAD_GRAYSCALE),
        'decode_frame': images.decode_frame(data),
        'tracker': tracked,
        'tensorflow': tf.image.decode_jpeg(data, channels=3).numpy()
        if tf.executing_eagerly() else tf.compat.v1.Session().run(tf.image.decode_jpeg(data)),
        'pil': np.array(Image.open(io.BytesIO(data))),
    }
    for name, pixels in decoded.items():
        assert pixels.shape[:2] == (20, 40), name
        left, right = pixels[:, :20].mean(), pixels[:, 20:].mean()
        assert left < 50 < 150 < right, name   # not mirrored either
    with pytest.warns(images.ExifOrientationWarning):
        assert sources._image_size(path) == (20, 40)


def test_pipelines_flag_frames_that_carry_a_rotation():
    from pipelines.converter import UnitResult
    result = UnitResult()
    dead_letters.flag_orientation(result, 'a/00002.jpg', _rotated_jpeg())
    dead_letters.flag_orientation(result, 'a/00003.jpg', images.encode_jpeg(
        np.zeros((4, 6, 3), np.uint8), 90))
    assert [(e['level'], e['reason'], e['path']) for e in result.rejections] == [
        ('warning', 'exif_orientation', 'a/00002.jpg')]
    assert 'orientation 6' in result.rejections[0]['detail']


def test_a_full_disk_when_taking_the_output_lock_leaves_nothing(davis_out, monkeypatch, capsys):
    data, out, contents = davis_out
    _fail_writes(monkeypatch, errno.ENOSPC, lambda path: '.lock' in path)
    assert vos.davis_main(['--data', data, '--out', out, '--overwrite'] + FAST) == 1
    lines = _error_lines(capsys)
    assert len(lines) == 1 and lines[0].startswith('error: cannot write %s/.davis2017.lock.'
                                                   % out), lines
    assert lines[0].endswith(': No space left on device'), lines
    _assert_untouched(out, contents)


def test_a_worker_that_cannot_even_leave_a_marker_is_one_line(davis_out, monkeypatch, capsys):
    """The last resort: the marker's empty file is refused too, the write error reaches the
    runner, and the driver still reports one line from its text."""
    data, out, contents = davis_out
    _fail_writes(monkeypatch, errno.ENOSPC, lambda path: '.work' in path)

    real_open = os.open

    def no_inode(path, flags, *args, **kwargs):   # creating a marker fails, reading works
        if '_stop' in str(path) and flags & os.O_CREAT:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
        return real_open(path, flags, *args, **kwargs)
    monkeypatch.setattr(os, 'open', no_inode)
    assert vos.davis_main(['--data', data, '--out', out, '--overwrite'] + FAST) == 1
    lines = _error_lines(capsys)
    assert len(lines) == 1 and 'No space left on device' in lines[0], lines
    assert '.davis2017.work' in lines[0], lines
    _assert_untouched(out, contents)


def test_replacing_keeps_the_old_file_when_its_writer_fails(tmpdir):
    """What the segmenter's zip and other writers of their own go through."""
    path = str(tmpdir.join('submission.zip'))
    fileio.write_atomic(path, b'old zip')
    with pytest.raises(fileio.WriteError) as caught:
        with fileio.replacing(path) as tmp:
            with open(tmp, 'wb') as f:
                f.write(b'half a')
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
    assert str(caught.value) == 'cannot write %s: Read-only file system' % path
    assert os.listdir(str(tmpdir)) == ['submission.zip'] and open(path, 'rb').read() == b'old zip'
    assert fileio.os_error_line(PermissionError(errno.EACCES, 'Permission denied', '/r/x.txt')) \
        == '/r/x.txt: Permission denied'


def test_the_corrupt_sample_copies_and_fingerprints_without_blocking(corrupt_sample_data, tmpdir):
    from conftest import _fingerprint, copy_tree
    davis = os.path.join(corrupt_sample_data[0], 'DAVIS')
    with _Deadline():
        copy_tree(davis, str(tmpdir.join('DAVIS')))
        before, after = _fingerprint(davis), _fingerprint(str(tmpdir.join('DAVIS')))
    odd = os.path.join('JPEGImages', '480p', 'fault-files')
    import stat
    assert sorted(p for p in after if p.startswith(odd)) == sorted(
        p for p in before if p.startswith(odd) and   # sockets are left out
        not stat.S_ISSOCK(os.lstat(os.path.join(davis, p)).st_mode))
    assert os.path.islink(str(tmpdir.join('DAVIS', odd, '00005.jpg')))    # the loop, as a link


def test_an_evaluation_report_folder_that_cannot_be_written_is_one_line(tmpdir, capsys):
    """A report folder under a regular file (as root can't be kept out of a 0o555 folder):
    whatever the writer (got10k's plots, our JSON), one line naming the path, exit status 1."""
    from evaluation import otb
    sequence = tmpdir.mkdir('otb').mkdir('Walk')
    frames = sequence.mkdir('img')
    for t in range(1, 4):
        frames.join('%04d.jpg' % t).write_binary(images.encode_jpeg(np.zeros((8, 8, 3),
                                                                              np.uint8), 90))
    sequence.join('groundtruth_rect.txt').write('1,1,4,4\n2,2,4,4\n3,3,4,4\n')
    tmpdir.mkdir('results').mkdir('SiamX').join('Walk.txt').write('1,1,4,4\n2,2,4,4\n3,3,4,4\n')
    tmpdir.join('blocker').write('a file, not a folder')
    report = str(tmpdir.join('blocker', 'reports'))
    assert otb.main(['--results', str(tmpdir.join('results')), '--otb', str(tmpdir.join('otb')),
                     '--trackers', 'SiamX', '--report', report]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('error: %s' % str(tmpdir.join('blocker'))), err
    assert err[0].endswith(': Not a directory'), err


@pytest.mark.parametrize('make', ['fifo', 'zero'])
def test_a_list_file_that_is_a_pipe_or_an_endless_device_is_one_line(sample_data, tmpdir,
                                                                     capsys, make):
    """The sequence list itself: a named pipe used to block, /dev/zero would be read forever."""
    davis = str(tmpdir.join('DAVIS'))
    shutil.copytree(os.path.join(sample_data[0], 'DAVIS'), davis)
    listed = os.path.join(davis, 'ImageSets', '2017', 'train.txt')
    os.remove(listed)
    if make == 'fifo':
        if not hasattr(os, 'mkfifo'):
            pytest.skip('no named pipes here')
        os.mkfifo(listed)
    else:
        os.symlink('/dev/zero', listed)
    with _Deadline():
        assert vos.davis_main(['--data', davis, '--out', str(tmpdir.join('out'))] + FAST) == 1
    lines = _error_lines(capsys)
    assert len(lines) == 1 and lines[0].startswith('error: %s: is a ' % listed), lines
    assert lines[0].endswith(', not a regular file'), lines
