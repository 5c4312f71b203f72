"""File-system faults of the corrupt sample (issue 20, section 2): what can live in a folder tree
besides bad file contents. One extra DAVIS sequence, `fault-files`, whose frames are a named pipe,
a symbolic link to a device, a dangling symbolic link, a symbolic link loop, a socket, a frame
with an EXIF rotation and a frame whose name is not UTF-8; one YouTube-VOS video folder whose
name is not UTF-8; in VID, a frame with an EXIF rotation and a named pipe.

Kinds (the pipelines' errors.jsonl reasons) and paths (relative to the dataset root, bytes that
are not UTF-8 escaped as \\xNN, as errors.jsonl writes them) go to the manifest. A kind the
platform cannot create (no os.mkfifo, a socket path too long for AF_UNIX) is left out.
"""
from __future__ import absolute_import, division, print_function

import io
import os
import shutil
import socket

from sampledata.common import write_bytes

SEQUENCE = 'fault-files'
NON_UTF8 = b'\xff\xfe'   # never valid UTF-8
EXIF_ROTATE_90 = 6       # EXIF orientation "rotate 90 degrees clockwise to display"


def exif_rotated_jpeg(data, orientation=EXIF_ROTATE_90):
    """The same JPEG pixels with an EXIF orientation tag (re-encoded by Pillow)."""
    from PIL import Image
    image = Image.open(io.BytesIO(data))
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    image.save(out, 'JPEG', quality=95, exif=exif.tobytes())
    return out.getvalue()


def non_utf8(name):
    """`name` (str) with NON_UTF8 bytes inserted before its extension, as the str Python gives
    for it on this file system (surrogate escapes) and as errors.jsonl shows it (\\xNN)."""
    stem, ext = os.path.splitext(name)
    raw = os.fsencode(stem) + NON_UTF8 + os.fsencode(ext)
    return os.fsdecode(raw), raw.decode('utf-8', 'backslashreplace')


def _make_socket(path):
    """A UNIX socket file at `path`; False where the platform has none. AF_UNIX addresses hold
    ~107 bytes: a longer path is bound through its folder's /proc/self/fd entry (Linux)."""
    if not hasattr(socket, 'AF_UNIX'):
        return False
    folder = os.open(os.path.dirname(path), os.O_RDONLY)
    server = socket.socket(socket.AF_UNIX)
    try:
        for address in (path, '/proc/self/fd/%d/%s' % (folder, os.path.basename(path))):
            try:
                server.bind(address)
                return True
            except (OSError, ValueError):
                continue
        return False
    finally:
        server.close()
        os.close(folder)


def _tag_rotated(root, relative, dataset, detail, faults):
    """Rewrite the JPEG at root/relative with an EXIF orientation tag of 6 (pixels unchanged)."""
    path = os.path.join(root, relative)
    with open(path, 'rb') as f:
        rotated = exif_rotated_jpeg(f.read())
    write_bytes(path, rotated)
    faults.add(dataset, 'exif_orientation', relative, detail)


def _named_pipe(root, relative, dataset, faults):
    """Replace the file at root/relative with a named pipe (where the platform has them)."""
    if hasattr(os, 'mkfifo'):
        os.remove(os.path.join(root, relative))
        os.mkfifo(os.path.join(root, relative))
        faults.add(dataset, 'not_regular_file', relative, 'a named pipe (a reader would block)')


def inject_davis(root, faults):
    """Turn frames 1-6 of the DAVIS sequence SEQUENCE (already written and listed, 8 frames) into
    file-system faults, and add a frame whose name is not UTF-8."""
    folder = os.path.join('JPEGImages', '480p', SEQUENCE)

    def frame(t):
        return os.path.join(folder, '%05d.jpg' % t)

    def replace(t):
        path = os.path.join(root, frame(t))
        os.remove(path)
        return path

    _tag_rotated(root, frame(2), 'davis',
                 'EXIF orientation 6 on a landscape frame (written as stored, warned)', faults)
    _named_pipe(root, frame(1), 'davis', faults)
    os.symlink(os.devnull, replace(3))
    faults.add('davis', 'not_regular_file', frame(3), 'a symbolic link to %s' % os.devnull)
    os.symlink('gone.jpg', replace(4))
    faults.add('davis', 'missing_frame', frame(4), 'a dangling symbolic link')
    loop = replace(5)
    os.symlink(os.path.basename(loop), loop)
    faults.add('davis', 'unreadable_file', frame(5), 'a symbolic link to itself')
    if _make_socket(replace(6)):
        faults.add('davis', 'not_regular_file', frame(6), 'a UNIX socket')
    else:
        shutil.copyfile(os.path.join(root, frame(0)), os.path.join(root, frame(6)))
    for tree, ext in (('JPEGImages', '.jpg'), ('Annotations', '.png')):   # frame and mask
        actual, shown = non_utf8('00007' + ext)
        os.rename(os.path.join(root, tree, '480p', SEQUENCE, '00007' + ext),
                  os.path.join(root, tree, '480p', SEQUENCE, actual))
    faults.add('davis', 'non_utf8_name', os.path.join(folder, non_utf8('00007.jpg')[1]),
               'frame file name (and its mask\'s) holds bytes that are not UTF-8')


def inject_ytvos(root, faults):
    """Copy the first train video to a folder whose name is not UTF-8 (not in meta.json)."""
    images = os.path.join(root, 'train', 'JPEGImages')
    first = sorted(os.listdir(images))[0]
    actual, shown = non_utf8(first)
    for tree in ('JPEGImages', 'Annotations'):
        source = os.path.join(root, 'train', tree, first)
        if os.path.isdir(source):
            shutil.copytree(source, os.path.join(root, 'train', tree, actual))
    faults.add('ytvos', 'non_utf8_name', os.path.join('train', 'JPEGImages', shown),
               'video folder name holds bytes that are not UTF-8')


VID_SNIPPET = os.path.join('ILSVRC2015_VID_train_0000', 'ILSVRC2015_train_00000000')


def inject_vid(root, faults):
    """In the first train snippet: frame 1 tagged with an EXIF rotation (its crops must come from
    the stored grid, the XML's), frame 2 a named pipe."""
    def frame(t):
        return os.path.join('Data', 'VID', 'train', VID_SNIPPET, '%06d.JPEG' % t)

    _tag_rotated(root, frame(1), 'vid',
                 'EXIF orientation 6 on a landscape frame (cropped as stored, warned)', faults)
    _named_pipe(root, frame(2), 'vid', faults)
