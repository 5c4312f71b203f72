"""Exclusive, atomic publication of one pipeline output, OUT/<name>.

    OUT/.<name>.lock    who is writing it (pid, host, start time), created exclusively
    OUT/.<name>.work/   the output being built; a fixed name, so the next run finds and removes
                        what a killed run left (and says so)
    OUT/<name>/         the published output

On a local (POSIX) filesystem:
  * two runs into one OUT/<name> cannot both work: the second finds the lock and stops at once
    with the first run's pid; a lock whose process is gone (same host) is removed and reported;
  * publishing is one renameat2(RENAME_EXCHANGE) of the work and final directories when an old
    output exists: a reader sees the complete old or the complete new dataset, never a mix or
    nothing; the old one is deleted after the swap. Where the filesystem refuses the exchange,
    two renames leave a window of microseconds without OUT/<name> (never a half dataset).
On object stores (gs://, s3://) nothing of this is atomic: there is no exclusive create (the lock
is checked, then written) and no directory rename (gfile copies object by object). There the old
output is deleted first, the new one is copied with dataset_info.json last, so a reader that finds
dataset_info.json finds every shard it lists; during an overwrite the dataset is absent.
"""
from __future__ import absolute_import, division, print_function

import ctypes
import errno
import glob as local_glob
import json
import os
import re
import shutil
import socket
import tempfile
import time

from datasets import fileio
from schemas import dataset_info

LOCK_SUFFIX = '.lock'
WORK_SUFFIX = '.work'
_RENAME_EXCHANGE = 2  # linux/fs.h


class OutputError(Exception):
    """The output cannot be written: exists, busy, not a directory, not writable."""


def work_dir(out_root, name):
    return fileio.join(out_root, '.%s%s' % (name, WORK_SUFFIX))


def lock_path(out_root, name):
    return fileio.join(out_root, '.%s%s' % (name, LOCK_SUFFIX))


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


# A lock file that cannot be read is taken for a run's that is being created (or died while
# writing it) until it is this old; then it is stale.
UNREADABLE_LOCK_GRACE_S = 60


class Lock(object):
    """The exclusive right to build OUT/<name>; `notes` says what stale state was cleaned."""

    def __init__(self, out_root, name):
        self.out_root, self.name = out_root, name
        self.path = lock_path(out_root, name)
        self.notes = []
        self.held = False

    def acquire(self):
        check_out_root(self.out_root)
        owner = {'pid': os.getpid(), 'host': socket.gethostname(),
                 'started_utc': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}
        for _ in range(3):
            try:
                self._create(json.dumps(owner).encode('utf-8'))
                self.held = True
                break
            except FileExistsError:
                self._handle_existing()
        else:
            raise OutputError('could not take %s: other runs keep taking it' % self.path)
        self._clean_leftovers()
        return self

    def _create(self, data):
        """Create the lock with its content in one step: written to a private file, then
        hard-linked to the lock's name (which fails if it exists), so no reader ever sees an
        empty lock. Where hard links are refused, O_EXCL create and write."""
        if not fileio.is_local(self.path):  # best effort: object stores have no exclusive create
            if fileio.exists(self.path):
                raise FileExistsError(self.path)
            fileio.write_bytes(self.path, data)
            return
        private = '%s.%d-%s' % (self.path, os.getpid(), os.urandom(4).hex())
        try:
            fileio.write_bytes(private, data)   # a full disk: WriteError, no lock taken
            try:
                os.link(private, self.path)
            except FileExistsError:
                raise
            except OSError:  # no hard links here
                self._create_exclusive(data)
        finally:
            _remove_quietly(private)

    def _create_exclusive(self, data):
        """O_EXCL create and write; a lock whose write fails (a full disk) is removed again,
        not left cut short for the next run to wait on."""
        fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        try:
            with os.fdopen(fd, 'wb') as f:
                f.write(data)
        except OSError as err:
            _remove_quietly(self.path)
            raise fileio.WriteError(err.errno, err.strerror, self.path)

    def _owner(self):
        """(raw bytes, owner dict or None) of the existing lock; (None, None) if it is gone."""
        try:
            data = fileio.read_bytes(self.path)
        except FileNotFoundError:
            return None, None
        try:
            owner = json.loads(data.decode('utf-8'))
            int(owner['pid']), str(owner['host'])
            return data, owner
        except Exception:  # empty or cut short: being created, or its run died writing it
            return data, None

    def _handle_existing(self):
        data, owner = self._owner()
        if data is None:
            return  # released meanwhile: try again
        if owner is None:
            age = time.time() - _mtime(self.path)
            if age < UNREADABLE_LOCK_GRACE_S:
                raise OutputError('%s is being taken by another run (%s is %.0f s old and not '
                                  'complete); wait, or delete it if no run is writing %s'
                                  % (fileio.join(self.out_root, self.name), self.path, age,
                                     self.out_root))
            why = 'unreadable for %.0f s' % age
        else:
            pid, host = int(owner['pid']), owner['host']
            if host != socket.gethostname() or _pid_alive(pid):
                raise OutputError(
                    '%s is being written by pid %d on %s since %s; wait for that run, or '
                    'delete %s if it is gone' % (fileio.join(self.out_root, self.name), pid,
                                                 host, owner.get('started_utc', '?'),
                                                 self.path))
            why = 'pid %d is not running' % pid
        if self._remove_if_unchanged(data):
            self.notes.append('removed the stale lock %s (%s)' % (self.path, why))

    def _remove_if_unchanged(self, data):
        """Remove the lock only if it still is the stale one read (`data`): two runs that both
        found it stale must not delete the lock the faster one has taken since. Locally the
        lock is moved aside first (only one mover wins) and put back if it changed."""
        if not fileio.is_local(self.path):
            fileio.remove(self.path)
            return True
        aside = '%s.stale-%d' % (self.path, os.getpid())
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return False  # another run removed it first
        with open(aside, 'rb') as f:
            moved = f.read()
        if moved != data:  # a live lock taken meanwhile: give it back
            try:
                os.link(aside, self.path)
            except FileExistsError:
                pass
            os.remove(aside)
            return False
        os.remove(aside)
        return True

    def _private_files(self):
        """Private lock files (_create, _remove_if_unchanged) of runs that were killed:
        (path, pid) of `.<name>.lock.<pid>-<hex>` and `.<name>.lock.stale-<pid>`."""
        found = []
        for path in sorted(local_glob.glob(local_glob.escape(self.path) + '.*')):
            match = re.match(r'(?:stale-)?(\d+)(?:-[0-9a-f]+)?$', path[len(self.path) + 1:])
            if match:
                found.append((path, int(match.group(1))))
        return found

    def _clean_leftovers(self):
        work = work_dir(self.out_root, self.name)
        if fileio.exists(work):
            fileio.rmtree(work)
            self.notes.append('removed the unfinished output of an interrupted run: %s' % work)
        if fileio.is_local(self.out_root):  # random-named work dirs of earlier versions
            for old in sorted(local_glob.glob(os.path.join(self.out_root,
                                                           '.%s.tmp-*' % self.name))):
                shutil.rmtree(old, ignore_errors=True)
                self.notes.append('removed the unfinished output of an interrupted run: %s' % old)
            for path, pid in self._private_files():
                if not _pid_alive(pid):
                    _remove_quietly(path)
                    self.notes.append('removed the lock file of a killed run: %s' % path)

    def release(self):
        if self.held:
            self.held = False
            try:
                fileio.remove(self.path)
            except Exception:  # already gone: nothing to release
                pass


def _remove_quietly(path):
    try:
        os.remove(path)
    except FileNotFoundError:  # cleaned by the run that holds the lock
        pass


def _mtime(path):
    if fileio.is_local(path):
        try:
            return os.stat(path).st_mtime
        except OSError:
            return time.time()
    return fileio.gfile().stat(path).mtime_nsec / 1e9


def check_out_root(out_root):
    """Create OUT if needed; OutputError with what to do when it is a file or not writable.
    Writability is tried, not asked: os.access says yes to root even on a read-only mount."""
    if fileio.exists(out_root) and not fileio.isdir(out_root):
        raise OutputError('--out %s is a file; pass a directory (datasets go to OUT/<name>)'
                          % out_root)
    try:
        fileio.makedirs(out_root)
    except Exception as err:
        raise OutputError('cannot create --out %s: %s' % (out_root, _reason(err)))
    if fileio.is_local(out_root):
        try:
            fd, probe = tempfile.mkstemp(prefix='.write-test-', dir=out_root)
            os.close(fd)
            os.remove(probe)
        except OSError as err:
            raise OutputError('--out %s is not writable (%s); pass a directory you can write '
                              'to' % (out_root, _reason(err)))


def _reason(err):
    return getattr(err, 'strerror', None) or getattr(err, 'message', None) or str(err)


def _exchange(a, b):
    """Atomically swap two paths (Linux renameat2); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    if renameat2(at_fdcwd, a.encode(), at_fdcwd, b.encode(), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EPERM, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), b)


def publish(work, final):
    """Move the completed `work` directory to `final`, replacing an old one as atomically as the
    filesystem allows (module docstring). Returns 'replaced' or 'created'."""
    if fileio.is_local(final):
        if not os.path.exists(final):
            os.rename(work, final)
            return 'created'
        if _exchange(work, final):
            shutil.rmtree(work)  # holds the old output now
            return 'replaced'
        old = final.rstrip('/') + '.old'
        shutil.rmtree(old, ignore_errors=True)
        os.rename(final, old)
        os.rename(work, final)
        shutil.rmtree(old)
        return 'replaced'
    existed = fileio.exists(final)
    if existed:
        fileio.remove(fileio.join(final, dataset_info.INFO_FILE))
        fileio.rmtree(final)
    info = fileio.join(work, dataset_info.INFO_FILE)
    for path in fileio.walk_files(work):
        if path != info:
            fileio.copy(path, fileio.join(final, path[len(work):].lstrip('/')))
    fileio.copy(info, fileio.join(final, dataset_info.INFO_FILE))
    fileio.rmtree(work)
    return 'replaced' if existed else 'created'
