"""The dataset card: README.md beside dataset_info.json, what a person reads first.

What the records hold, how they were made (command line, code version, and the versions of
OpenCV / libjpeg / Pillow / TensorFlow, which decide the encoded bytes), counts, rejected inputs by
reason, the schema's keys, and how to read them with and without TensorFlow. Everything but the
`Command` and `Versions` lines follows from dataset_info.json, so reruns give the same card.
"""
from __future__ import absolute_import, division, print_function

import os
import posixpath
import re
import shlex
import subprocess
import sys

CARD_FILE = 'README.md'
PACKAGE = 'ascend-vos-tracking-tools'  # setup.py's name: the version when git is not there


def command_line(argv=None):
    """This process's command line, `python -m <package>` for a package's __main__.py."""
    argv = list(sys.argv if argv is None else argv)
    if not argv or not argv[0]:
        return 'python (interactive)'
    head = argv[0]
    if head.endswith('__main__.py'):
        head = 'python -m ' + os.path.basename(os.path.dirname(head))
    elif head.endswith('.py'):
        head = 'python ' + os.path.basename(head)
    else:
        head = os.path.basename(head)
    return ' '.join([head] + [shlex.quote(a) for a in argv[1:]])


def code_version():
    """`git describe --always --dirty` of this checkout, else the installed package version."""
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        out = subprocess.run(['git', 'describe', '--always', '--dirty'], cwd=here,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=10)
        if out.returncode == 0 and out.stdout.strip():
            return 'git ' + out.stdout.decode('utf-8').strip()
    except (OSError, subprocess.SubprocessError):  # no git: fall back to the package version
        pass
    try:
        import pkg_resources
        return 'package %s' % pkg_resources.get_distribution(PACKAGE).version
    except Exception:  # not installed either (a copied checkout)
        return 'unknown'


def _libjpeg_of_opencv(cv2):
    match = re.search(r'^\s*JPEG:\s*(.+)$', cv2.getBuildInformation(), re.M)
    return match.group(1).strip() if match else 'unknown'


def library_versions():
    """{name: version} of the libraries that decide the bytes of the records."""
    versions = {}
    try:
        import cv2
        versions['OpenCV'] = cv2.__version__
        versions['OpenCV libjpeg'] = _libjpeg_of_opencv(cv2)
    except ImportError:
        versions['OpenCV'] = 'not installed'
    try:
        import PIL
        from PIL import features
        versions['Pillow'] = PIL.__version__
        versions['Pillow libjpeg'] = features.version('jpg') or 'unknown'
    except ImportError:
        versions['Pillow'] = 'not installed'
    try:
        import tensorflow as tf
        versions['TensorFlow'] = tf.__version__
    except ImportError:
        versions['TensorFlow'] = 'not installed'
    return versions


def _table(header, rows):
    out = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    out += ['| ' + ' | '.join(str(c) for c in row) + ' |' for row in rows]
    return out


def _splits_section(info):
    rows = []
    for split, entry in sorted(info['splits'].items()):
        rows.append(('`%s`' % split, entry.get('source_split', split), entry['records'],
                     len(entry['shards']), entry.get('bytes', '')))
    return _table(('split', 'source split', 'records', 'shards', 'payload bytes'), rows)


def _rejected_section(info):
    rows = []
    for level, reasons in sorted(info['rejected'].items()):
        rows += [(level, reason, n) for reason, n in sorted(reasons.items())]
    for level, key in (('object', 'objects_rejected'), ('image', 'images_rejected')):
        rows += [('%s (taken along)' % level, reason, n)
                 for reason, n in sorted(info.get(key, {}).items())]
    if not rows:
        return ['None: every input was converted or filtered by rule (see the counts).']
    return _table(('level', 'reason', 'count'), rows) + [
        '', 'Each rejected input is a line of `errors.jsonl` with its path, reason and detail.']


def _reading_section(info, schema):
    first = sorted(info['splits'])[0]
    pattern = '%s/*.tfrecord-*' % first
    decode = 'schemas.%s.decode' % schema.name
    return [
        'With TensorFlow (tf.data; `decode` gives a dict of tensors named as in the schema):', '',
        '```python', 'import tensorflow as tf', 'import schemas.%s' % schema.name,
        "files = tf.io.gfile.glob('%s')" % pattern,
        'dataset = tf.data.TFRecordDataset(sorted(files)).map(%s)' % decode, '```', '',
        'Without TensorFlow (numpy, protobuf and crcmod only; CRCs checked; `read` gives numpy '
        'values):', '',
        '```python', 'import glob', 'import schemas.%s' % schema.name,
        'from schemas import tfrecord',
        "for path in sorted(glob.glob('%s')):" % pattern,
        '    for data in tfrecord.read_records(path):',
        '        example = schemas.%s.read(data)' % schema.name, '```', '',
        'Check them: `python -m schemas verify DIR`; look at them: `python -m schemas inspect '
        'DIR`, `python -m schemas show DIR --out sheet.png`; get the source layout back: '
        '`python -m schemas export DIR --out FOLDER` (docs/records-tools.md).']


def render(info, argv=None, versions=None, code=None):
    """The card's Markdown text."""
    import schemas
    schema = schemas.by_name(info['schema']['name'])
    versions = library_versions() if versions is None else versions
    lines = ['# %s: `%s` records version %d' % (info['name'], schema.name, schema.version), '',
             schema.doc, '',
             '## How they were made', '',
             '- Source: `%s`' % info['source'],
             '- Options: `%s`' % ', '.join('%s=%s' % kv for kv in sorted(info['options'].items())),
             '- Command: `%s`' % command_line(argv),
             '- Versions: code %s; %s' % (code_version() if code is None else code, ', '.join(
                 '%s %s' % kv for kv in sorted(versions.items()))), '',
             '## Splits', ''] + _splits_section(info) + [
             '', '## Counts', ''] + _table(('count', 'value'), sorted(info['counts'].items())) + [
             '', '## Rejected inputs', ''] + _rejected_section(info) + [
             '', '## Keys', ''] + _table(('level', 'key', 'type', 'shape', 'meaning'), [
                 (r[0], '`%s`' % r[1]) + tuple(r[2:]) for r in schema.describe_rows()]) + [
             '', '## Reading them', ''] + _reading_section(info, schema) + [
             '', 'Shard checksums (sha256) are in `dataset_info.json`.', '']
    return '\n'.join(lines)


def write(out_dir, info):
    """Write OUT_DIR/README.md; returns its path."""
    from schemas.dataset_info import _gfile
    path = posixpath.join(out_dir, CARD_FILE)
    with _gfile(path).GFile(path, 'wb') as f:
        f.write(render(info).encode('utf-8'))
    return path
