"""File access for the readers and pipelines: local paths through the os module, everything
else (gs://, hdfs://, s3://) through tf.io.gfile, imported only for such a path.

Local access does not import TensorFlow: each DirectRunner worker process would otherwise pay
its ~1.2 s import before the first file. Errors are the builtin ones on both paths
(FileNotFoundError, PermissionError, other OSError), so callers handle one set.

The file system is input too (docs/reliability.md): local reads open only regular files, without
ever blocking (a named pipe, a device or a socket is NotRegularFileError naming its kind), and
every local write goes through `_local_writer`, so a failed write (full disk, quota, read-only
folder, file size limit) is one WriteError, "cannot write PATH: reason", and never leaves a
half-written file where write_atomic promised a whole one.
"""
from __future__ import absolute_import, division, print_function

import contextlib
import errno
import glob as local_glob
import hashlib
import json
import os
import posixpath
import shutil
import stat
import tempfile
import zipfile

BOM = u'\ufeff'   # what a UTF-8 byte order mark decodes to


def gfile():
    import tensorflow as tf  # only for remote filesystems
    return tf.io.gfile


def is_local(path):
    return '://' not in path


def _os_error(err, path):
    """A tf.errors.OpError as the builtin OSError it stands for."""
    import tensorflow as tf
    if isinstance(err, tf.errors.NotFoundError):
        return FileNotFoundError(errno.ENOENT, 'No such file or directory', path)
    if isinstance(err, tf.errors.PermissionDeniedError):
        return PermissionError(errno.EACCES, 'Permission denied', path)
    return OSError(errno.EIO, err.message, path)


def _remote(fn, path, *args):
    import tensorflow as tf
    try:
        return fn(path, *args)
    except tf.errors.OpError as err:
        raise _os_error(err, path)


class NotRegularFileError(OSError):
    """A path that names something other than a regular file (or a directory, which is
    IsADirectoryError): a named pipe, a device, a socket. `kind` says which."""

    def __init__(self, kind, path):
        super(NotRegularFileError, self).__init__(
            errno.EINVAL, 'is %s, not a regular file' % kind, path)
        self.kind = kind


class WriteError(OSError):
    """A local write that failed; str() is one line naming the path and the reason."""

    def __str__(self):
        return 'cannot write %s: %s' % (printable(self.filename), self.strerror)


_NOT_REGULAR = ((stat.S_ISFIFO, 'a named pipe (FIFO)'), (stat.S_ISSOCK, 'a socket'),
                (stat.S_ISCHR, 'a character device'), (stat.S_ISBLK, 'a block device'))


def check_regular(mode, path):
    """Nothing when `mode` (an os.stat st_mode) is a regular file's; else IsADirectoryError or
    NotRegularFileError naming the kind of file at `path`."""
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, 'is a directory, not a regular file', path)
    kind = next((name for test, name in _NOT_REGULAR if test(mode)), 'an unknown kind of file')
    raise NotRegularFileError(kind, path)


def open_regular(path):
    """A binary file object for reading the regular file at `path` (symbolic links followed).
    Checked before opening (opening a socket fails, a FIFO without writer blocks) and again on
    the open descriptor, which O_NONBLOCK opens at once whatever was swapped in meanwhile."""
    check_regular(os.stat(path).st_mode, path)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, 'O_CLOEXEC', 0))
    try:
        check_regular(os.fstat(fd).st_mode, path)
    except OSError:
        os.close(fd)
        raise
    return os.fdopen(fd, 'rb')


def printable(text):
    """`text` (a path, a message) with the bytes of a file name that are not UTF-8 (Python's
    surrogate escapes of them) shown as \\xNN: safe in JSON, records and logs in any locale."""
    if not isinstance(text, str):
        return text
    try:
        text.encode('utf-8')
        return text
    except UnicodeEncodeError:
        pass
    try:
        raw = text.encode('utf-8', 'surrogateescape')
    except UnicodeEncodeError:  # a surrogate no file name decodes to
        return text.encode('utf-8', 'backslashreplace').decode('utf-8')
    return raw.decode('utf-8', 'backslashreplace')


def is_utf8_name(path):
    """False when a local path holds bytes that are not UTF-8 (see `printable`)."""
    return printable(path) == path


def _local_writer(path):
    """The one place local files are opened for writing (tests inject write faults here)."""
    return open(path, 'wb')


class _NamedWriter(object):
    """A writable file whose write and close failures are WriteError naming its path."""

    def __init__(self, path):
        self.path = path
        with _failed_write(path):
            self.file = _local_writer(path)

    def write(self, data):
        with _failed_write(self.path):
            return self.file.write(data)

    def close(self):
        with _failed_write(self.path):
            self.file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            self.close()
        else:  # already failing: that error is the one to report
            try:
                self.file.close()
            except OSError:
                pass
        return False


class _failed_write(object):
    """Context: an OSError inside is re-raised as the WriteError of `path`."""

    def __init__(self, path):
        self.path = path

    def __enter__(self):
        return self

    def __exit__(self, kind, err, tb):
        if isinstance(err, OSError) and not isinstance(err, WriteError):
            raise WriteError(err.errno, err.strerror or str(err), self.path)
        return False


def join(*parts):
    """Join path parts with '/', which every supported filesystem accepts."""
    return posixpath.join(*parts)


def exists(path):
    return os.path.exists(path) if is_local(path) else gfile().exists(path)


def isdir(path):
    return os.path.isdir(path) if is_local(path) else gfile().isdir(path)


def glob(pattern):
    if is_local(pattern):
        return sorted(local_glob.glob(pattern))
    return sorted(gfile().glob(pattern))


def stems(directory, extension):
    """Names without `extension` of the files in `directory` that end with it (a set)."""
    return set(posixpath.basename(p)[:-len(extension)]
               for p in glob(join(directory, '*' + extension)))


def listdir(path):
    if is_local(path):
        return sorted(os.listdir(path))
    return sorted(name.rstrip('/') for name in _remote(gfile().listdir, path))


def read_bytes(path):
    if is_local(path):
        with open_regular(path) as f:
            return f.read()

    def read(p):
        with gfile().GFile(p, 'rb') as f:
            return f.read()
    return _remote(read, path)


def write_bytes(path, data):
    makedirs(posixpath.dirname(path))
    if is_local(path):
        with _NamedWriter(path) as f:
            f.write(data)
        return

    def write(p):
        with gfile().GFile(p, 'wb') as f:
            f.write(data)
    _remote(write, path)


def write_atomic(path, data):
    """`path` replaced whole by `data` (bytes): written to a temporary file in the same folder,
    then renamed over it, so a kill or a full disk never leaves a cut-short `path` (an old one
    stays as it was). Remote filesystems have no rename of this kind: written directly."""
    if not is_local(path):
        return write_bytes(path, data)
    with replacing(path) as tmp:
        with _NamedWriter(tmp) as f:
            f.write(data)


@contextlib.contextmanager
def replacing(path):
    """Context yielding a temporary path next to local `path` for a writer of its own (a zip, an
    encoder): renamed over `path` when the block succeeds; removed when it fails, `path` then as
    it was and an OSError the WriteError of `path`."""
    makedirs(os.path.dirname(path))
    tmp = '%s.%d.tmp' % (path, os.getpid())   # no reader's '*.txt' or '*.png' glob takes it
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as err:
        raise WriteError(err.errno, err.strerror or str(err), path)  # the user's path
    finally:
        if os.path.lexists(tmp):
            os.remove(tmp)


def os_error_line(err):
    """One line for an OSError of a command: WriteError's own, else 'PATH: reason'."""
    if isinstance(err, WriteError) or not getattr(err, 'filename', None):
        return printable(str(err))
    return '%s: %s' % (printable(err.filename), err.strerror)


def list_lines(text):
    """[(line number, line)] of a list file's text: a UTF-8 byte order mark dropped, CR (Windows
    line ends) and surrounding white space stripped, blank lines skipped. Every list and text
    file the readers parse (ImageSets, sequence lists, ground-truth boxes) goes through it."""
    if text.startswith(BOM):
        text = text[len(BOM):]
    lines = text.replace('\r\n', '\n').replace('\r', '\n').split('\n')
    return [(number, line.strip()) for number, line in enumerate(lines, 1) if line.strip()]


def read_list_lines(path):
    """list_lines of the file at `path` (UTF-8, with or without a byte order mark)."""
    return list_lines(read_bytes(path).decode('utf-8'))


def open_write(path):
    """A binary file object for writing (shards are streamed, not held in memory)."""
    makedirs(posixpath.dirname(path))
    return _NamedWriter(path) if is_local(path) else gfile().GFile(path, 'wb')


def write_json(path, obj):
    """obj as indented JSON with sorted keys, the file replaced whole (write_atomic)."""
    write_atomic(path, (json.dumps(obj, indent=1, sort_keys=True) + '\n').encode('utf-8'))


def read_json(path):
    return json.loads(read_bytes(path).decode('utf-8'))


def makedirs(path):
    if not path:
        return
    if is_local(path):
        os.makedirs(path, exist_ok=True)
    else:
        _remote(gfile().makedirs, path)


def remove(path):
    if is_local(path):
        os.remove(path)
    else:
        _remote(gfile().remove, path)


def rmtree(path):
    if not exists(path):
        return
    if is_local(path):
        shutil.rmtree(path)
    else:
        _remote(gfile().rmtree, path)


def copy(src, dst):
    makedirs(posixpath.dirname(dst))
    if is_local(src) and is_local(dst):
        shutil.copyfile(src, dst)
    else:
        _remote(lambda s: gfile().copy(s, dst, overwrite=True), src)


def walk_files(top):
    """Every file under `top`, sorted."""
    if is_local(top):
        return sorted(os.path.join(d, f) for d, _, files in os.walk(top) for f in files)
    return sorted(join(d, f) for d, _, files in gfile().walk(top) for f in files)


def incomplete_twin(path):
    """`x-incomplete.zip` of `x.zip`: the name a submission zip lacking some of what its server
    requires takes instead (the server refuses it)."""
    return path[:-len('.zip')] + '-incomplete.zip'


def write_submission_zip(path, entries, complete):
    """A local zip of [(file, name in the zip)], in that order, at `path`, or at its
    incomplete_twin when not `complete`; an earlier zip of either name is removed first, so the
    folder never holds a stale complete one. Written through `replacing` (a temporary file renamed;
    removed, with a WriteError naming `path`, when the write fails).
    Returns the path written (the GOT-10k / TrackingNet and the VOS submission packs)."""
    for old in (path, incomplete_twin(path)):
        if os.path.isfile(old):
            os.remove(old)
    target = path if complete else incomplete_twin(path)
    with replacing(os.path.abspath(target)) as tmp:   # a full disk leaves no cut-short zip
        with zipfile.ZipFile(tmp, 'w', zipfile.ZIP_DEFLATED) as archive:
            for source, entry in entries:
                archive.write(source, entry)
    return target


@contextlib.contextmanager
def published_whole(path):
    """Yield a temporary sibling folder of the local folder `path` to fill; when the block ends
    it replaces `path` (an older one removed), on any error it is removed and `path` is left as
    it was: readers never see a half-written folder."""
    path = os.path.abspath(path)
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix='.%s.tmp-' % os.path.basename(path), dir=parent)
    try:
        yield tmp
        if os.path.exists(path):
            shutil.rmtree(path)
        os.rename(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def sha256_files(paths):
    """Hex sha256 over the local files `paths`, in that order (what an import records of the file
    its weights came from)."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, 'rb') as f:
            for block in iter(lambda: f.read(1 << 20), b''):
                digest.update(block)
    return digest.hexdigest()
