"""ILSVRC2015-VID sample in the release layout (docs/datasets.md).

    ILSVRC2015/Data/VID/train/ILSVRC2015_VID_train_000{0,1}/<snippet>/000000.JPEG
    ILSVRC2015/Data/VID/val/<snippet>/000000.JPEG
    ILSVRC2015/Annotations/VID/{train/<subfolder>,val}/<snippet>/000000.xml

One XML per frame with folder, filename, source, size and one <object> per visible object
(trackid, WordNet name, inclusive bndbox of the visible pixels, occluded, generated).
"""
from __future__ import absolute_import, division, print_function

import os

from lxml import etree

from sampledata.common import rng_for, write_bytes, write_jpeg
from sampledata.render import Scene, visible_box

ROOT_NAME = 'ILSVRC2015'
CLASSES = ('n02691156', 'n02419796', 'n02131653', 'n02834778', 'n01503061', 'n02924116',
           'n02958343', 'n02084071', 'n02121808', 'n02402425')
MIN_VISIBLE_PIXELS = 16      # fewer visible pixels: the object is not annotated in that frame
OCCLUDED_BELOW = 0.75        # visible / full area under this: <occluded>1
GENERATED_PROBABILITY = 0.1  # share of boxes flagged as interpolated (<generated>1)


def annotation_xml(folder, filename, width, height, objects):
    """ILSVRC VID frame annotation. objects: dicts with trackid, name, box (inclusive), flags."""
    root = etree.Element('annotation')
    etree.SubElement(root, 'folder').text = folder
    etree.SubElement(root, 'filename').text = filename
    source = etree.SubElement(root, 'source')
    etree.SubElement(source, 'database').text = 'ILSVRC_2015'
    size = etree.SubElement(root, 'size')
    etree.SubElement(size, 'width').text = str(width)
    etree.SubElement(size, 'height').text = str(height)
    for obj in objects:
        node = etree.SubElement(root, 'object')
        etree.SubElement(node, 'trackid').text = str(obj['trackid'])
        etree.SubElement(node, 'name').text = obj['name']
        box = etree.SubElement(node, 'bndbox')
        xmin, ymin, xmax, ymax = obj['box']
        for tag, value in (('xmax', xmax), ('xmin', xmin), ('ymax', ymax), ('ymin', ymin)):
            etree.SubElement(box, tag).text = str(value)
        etree.SubElement(node, 'occluded').text = str(obj['occluded'])
        etree.SubElement(node, 'generated').text = str(obj['generated'])
    return etree.tostring(root, pretty_print=True)


def _snippets(train_snippets, val_snippets):
    """(split, subfolder or '', snippet name); train is spread over two subfolders like the release."""
    out = []
    for i in range(train_snippets):
        sub = 'ILSVRC2015_VID_train_%04d' % (0 if i < (train_snippets + 1) // 2 else 1)
        out.append(('train', sub, 'ILSVRC2015_train_%08d' % (i if sub.endswith('0') else 1000000 + i)))
    for i in range(val_snippets):
        out.append(('val', '', 'ILSVRC2015_val_%08d' % i))
    return out


def _paths(split, sub, snippet, frame):
    rel = os.path.join(split, sub, snippet) if sub else os.path.join(split, snippet)
    return (os.path.join('Data', 'VID', rel, '%06d.JPEG' % frame),
            os.path.join('Annotations', 'VID', rel, '%06d.xml' % frame))


def write_snippet(root, seed, split, sub, snippet, width, height, num_frames, max_objects):
    """Render and write one snippet; returns (frames, objects) counts."""
    rng = rng_for(seed, 'vid', snippet)
    num_objects = rng.randint(1, max_objects + 1)
    motions = ['stay'] * num_objects
    if num_objects > 1:
        motions[-1] = ['enter', 'leave', 'stay'][rng.randint(3)]
    scene = Scene(rng, width, height, num_frames, motions, size_range=(0.08, 0.22), speed=0.008)
    classes = [CLASSES[i] for i in rng.randint(len(CLASSES), size=num_objects)]
    folder = '%s/%s' % (sub, snippet) if sub else snippet
    objects_written = 0
    for t in range(num_frames):
        rgb, labels, full_areas = scene.render(t)
        generated = rng.rand(num_objects) < GENERATED_PROBABILITY
        objects = []
        for k in range(num_objects):
            box, visible = visible_box(labels, k + 1)
            if visible < MIN_VISIBLE_PIXELS:
                continue
            objects.append({'trackid': k, 'name': classes[k], 'box': box,
                            'occluded': int(visible < OCCLUDED_BELOW * full_areas[k]),
                            'generated': int(generated[k])})
        image_path, xml_path = _paths(split, sub, snippet, t)
        write_jpeg(os.path.join(root, image_path), rgb)
        write_bytes(os.path.join(root, xml_path),
                    annotation_xml(folder, '%06d' % t, width, height, objects))
        objects_written += len(objects)
    return num_frames, objects_written


def write(out_dir, seed, width, height, train_snippets=4, val_snippets=2, frames=10,
          max_objects=3, faults=None):
    """Write the VID sample under out_dir/ILSVRC2015; returns its manifest entry."""
    root = os.path.join(out_dir, ROOT_NAME)
    counts = {}
    for split, sub, snippet in _snippets(train_snippets, val_snippets):
        n_frames, n_objects = write_snippet(root, seed, split, sub, snippet, width, height,
                                            frames, max_objects)
        c = counts.setdefault(split, {'snippets': 0, 'frames': 0, 'objects': 0})
        c['snippets'] += 1
        c['frames'] += n_frames
        c['objects'] += n_objects
    if faults is not None:
        _inject_faults(root, seed, width, height, frames, faults)
    return {'root': ROOT_NAME, 'frame_size': [width, height], 'clean': counts}


def _inject_faults(root, seed, width, height, frames, faults):
    """One extra train snippet with one bad input per frame, plus an empty snippet."""
    sub, snippet = 'ILSVRC2015_VID_train_0000', 'ILSVRC2015_train_00900000'
    write_snippet(root, seed, 'train', sub, snippet, width, height, max(frames, 7), 2)
    paths = [_paths('train', sub, snippet, t) for t in range(7)]

    def xml(t):
        return os.path.join(root, paths[t][1])

    def edit_first_box(t, edit):
        tree = etree.parse(xml(t))
        box = tree.find('object/bndbox')
        if box is None:
            raise RuntimeError('fault frame %d has no object' % t)
        edit(tree, box)
        tree.write(xml(t))

    with open(xml(1), 'rb') as f:
        text = f.read()
    write_bytes(xml(1), text[:len(text) // 2])
    faults.add('vid', 'malformed_xml', paths[1][1], 'XML cut in half')

    with open(os.path.join(root, paths[2][0]), 'rb') as f:
        data = f.read()
    write_bytes(os.path.join(root, paths[2][0]), data[:len(data) // 3])
    faults.add('vid', 'truncated_jpeg', paths[2][0], 'JPEG cut to a third')

    os.remove(os.path.join(root, paths[3][0]))
    faults.add('vid', 'missing_frame', paths[3][0], 'XML present, JPEG absent')

    def outside(tree, box):
        box.find('xmin').text = str(width + 10)
        box.find('xmax').text = str(width + 40)
    edit_first_box(4, outside)
    faults.add('vid', 'box_outside_frame', paths[4][1], 'first object box starts right of the frame')

    def zero_area(tree, box):
        box.find('xmax').text = str(int(box.find('xmin').text) - 1)
    edit_first_box(5, zero_area)
    faults.add('vid', 'zero_area_box', paths[5][1], 'first object xmax = xmin - 1 (width 0)')

    tree = etree.parse(xml(6))
    tree.find('size/width').text = str(width // 2)
    tree.write(xml(6))
    faults.add('vid', 'size_mismatch', paths[6][1], 'XML width is half the JPEG width')

    empty = os.path.join('Annotations', 'VID', 'train', sub, 'ILSVRC2015_train_00900001')
    os.makedirs(os.path.join(root, empty))
    os.makedirs(os.path.join(root, 'Data', 'VID', 'train', sub, 'ILSVRC2015_train_00900001'))
    faults.add('vid', 'empty_sequence', empty, 'snippet directory without frames')

    _inject_more_faults(root, seed, width, height, frames, faults)


def _inject_more_faults(root, seed, width, height, frames, faults):
    """A second faulty snippet: reads that fail for reasons other than "not found", files that are
    not what their name says, XMLs that disagree with their path, suspicious tracks; and a
    snippet with frames but no annotation folder."""
    from datasets.palette import palette_png_bytes
    import numpy as np
    sub, snippet = 'ILSVRC2015_VID_train_0000', 'ILSVRC2015_train_00900002'
    write_snippet(root, seed, 'train', sub, snippet, width, height, max(frames, 7), 1)
    paths = [_paths('train', sub, snippet, t) for t in range(7)]

    def at(t, kind):
        return os.path.join(root, paths[t][kind])

    # a frame that exists but cannot be read (a directory here: tests may run as root, who can
    # read a file of any mode)
    os.remove(at(0, 0))
    os.makedirs(at(0, 0))
    faults.add('vid', 'unreadable_file', paths[0][0], 'frame path is a directory')
    write_bytes(at(1, 0), b'')
    faults.add('vid', 'truncated_jpeg', paths[1][0], '0-byte JPEG')
    write_bytes(at(2, 0), palette_png_bytes(np.zeros((height, width), np.uint8)))
    faults.add('vid', 'not_jpeg', paths[2][0], 'PNG named .JPEG')

    tree = etree.parse(at(3, 1))
    tree.find('filename').text = '000005'
    tree.write(at(3, 1))
    faults.add('vid', 'xml_names_other_frame', paths[3][1], 'XML <filename> names frame 5')

    tree = etree.parse(at(4, 1))
    name = tree.find('object/name')
    name.text = CLASSES[(CLASSES.index(name.text) + 1) % len(CLASSES)]
    tree.write(at(4, 1))
    faults.add('vid', 'track_class_changed', paths[4][1], 'track 0 has another class here')

    tree = etree.parse(at(5, 1))
    extra = etree.fromstring(etree.tostring(tree.find('object')))
    extra.find('trackid').text = '99'
    tree.getroot().append(extra)
    tree.write(at(5, 1))
    faults.add('vid', 'single_frame_track', paths[5][1], 'track 99 appears in one frame only')

    os.remove(at(6, 1))
    faults.add('vid', 'missing_annotation', paths[6][0], 'JPEG present, XML absent')

    lost = 'ILSVRC2015_train_00900003'
    write_snippet(root, seed, 'train', sub, lost, width, height, 2, 1)
    import shutil
    shutil.rmtree(os.path.join(root, 'Annotations', 'VID', 'train', sub, lost))
    faults.add('vid', 'missing_annotations', os.path.join('Annotations', 'VID', 'train', sub, lost),
               'frames under Data/VID, no annotation folder')
    _inject_hostile_numbers(root, seed, width, height, faults)


def _inject_hostile_numbers(root, seed, width, height, faults):
    """A third faulty snippet whose XML numbers are hostile (issue 20): not integers, outside
    any frame, a box far past its frame; its last three frames stay healthy (the track is
    written from them)."""
    sub, snippet = 'ILSVRC2015_VID_train_0000', 'ILSVRC2015_train_00900004'
    write_snippet(root, seed, 'train', sub, snippet, width, height, 10, 1)
    cases = [  # (element, text, reason, detail)
        ('object/bndbox/xmin', 'nan', 'bad_annotation', 'box xmin is NaN'),
        ('object/bndbox/xmax', '1000000000000', 'bad_annotation', 'box xmax is 1e12'),
        ('object/bndbox/xmax', str(width * 10), 'box_past_margin',
         'box xmax is ten frame widths'),
        ('size/width', '1000000000', 'bad_annotation', 'frame width is 1e9'),
        ('object/trackid', '-1', 'bad_annotation', 'negative trackid'),
        ('object/occluded', 'yes', 'bad_annotation', 'occluded is not 0 or 1'),
        ('object/bndbox/ymin', '1e3', 'bad_annotation', 'box ymin is 1e3 (not an integer)'),
    ]
    for t, (element, text, reason, detail) in enumerate(cases):
        xml = _paths('train', sub, snippet, t)[1]
        tree = etree.parse(os.path.join(root, xml))
        tree.find(element).text = text
        tree.write(os.path.join(root, xml))
        faults.add('vid', reason, xml, detail)
