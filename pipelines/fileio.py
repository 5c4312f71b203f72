"""File access for pipelines through tf.io.gfile, so local paths, gs:// and hdfs:// all work."""
from __future__ import absolute_import, division, print_function

import json
import posixpath


def gfile():
    import tensorflow as tf  # imported lazily: Beam workers pay for it only when they touch files
    return tf.io.gfile


def join(*parts):
    """Join path parts with '/', which every supported filesystem accepts."""
    return posixpath.join(*parts)


def exists(path):
    return gfile().exists(path)


def isdir(path):
    return gfile().isdir(path)


def glob(pattern):
    return sorted(gfile().glob(pattern))


def listdir(path):
    return sorted(name.rstrip('/') for name in gfile().listdir(path))


def read_bytes(path):
    with gfile().GFile(path, 'rb') as f:
        return f.read()


def write_bytes(path, data):
    gfile().makedirs(posixpath.dirname(path))
    with gfile().GFile(path, 'wb') as f:
        f.write(data)


def write_json(path, obj):
    write_bytes(path, (json.dumps(obj, indent=1, sort_keys=True) + '\n').encode('utf-8'))


def read_json(path):
    return json.loads(read_bytes(path).decode('utf-8'))


def makedirs(path):
    gfile().makedirs(path)


def rmtree(path):
    if gfile().exists(path):
        gfile().rmtree(path)


def publish_dir(tmp, final, overwrite):
    """Move a completed output directory into place.

    Local and HDFS renames are atomic; on object stores (gs://) gfile renames file by file, so a
    reader must rely on dataset_info.json, which the pipeline writes last.
    """
    g = gfile()
    if g.exists(final):
        if not overwrite:
            raise FileExistsError('%s exists; pass --overwrite to replace it' % final)
        g.rmtree(final)
    g.rename(tmp, final)
