"""Test helpers: read pipeline outputs back (dataset_info through schemas.dataset_info, records
through a schema decoder in tf.data); build small sample records for trainer tests."""
from __future__ import absolute_import, division, print_function

import json
import os

import tensorflow as tf

from schemas import dataset_info


def decode_files(schema, files):
    """Every record of `files`, decoded by `schema.decode` inside tf.data, as numpy dicts."""
    graph = tf.Graph()
    with graph.as_default():
        # decode is plain graph code: AutoGraph's conversion of it would take seconds per call
        decode = tf.autograph.experimental.do_not_convert(schema.decode)
        dataset = tf.data.TFRecordDataset(list(files)).map(decode)
        element = tf.compat.v1.data.make_one_shot_iterator(dataset).get_next()
        decoded = []
        with tf.compat.v1.Session(graph=graph) as sess:
            while True:
                try:
                    decoded.append(sess.run(element))
                except tf.errors.OutOfRangeError:
                    return decoded


def load_output(out, name, schema):
    """(dataset_info, errors.jsonl entries, {split: decoded records}) of OUT/<name>."""
    base = os.path.join(out, name)
    info = dataset_info.read(base, schema)
    with open(os.path.join(base, 'errors.jsonl')) as f:
        errors = [json.loads(line) for line in f]
    records = {split: decode_files(schema, [os.path.join(base, shard['file'])
                                            for shard in s['shards']])
               for split, s in info['splits'].items()}
    return info, errors, records


def sample_vid_records(root, seed, train_snippets, val_snippets, frames):
    """vid_track records of a small generated ILSVRC2015-VID under `root` (a pathlib path);
    returns the records directory."""
    import sampledata
    from pipelines import vid
    data_dir = str(root / 'data')
    sampledata.generate(data_dir, seed=seed, size='small', datasets=['vid'], counts={
        'vid': {'train_snippets': train_snippets, 'val_snippets': val_snippets,
                'frames': frames}})
    assert vid.main(['--data', os.path.join(data_dir, 'ILSVRC2015'), '--out', str(root),
                     '--split-by', 'ilsvrc', '--direct_running_mode=in_memory',
                     '--direct_num_workers=1']) == 0
    return os.path.join(str(root), 'vid')


def sample_coco_records(root, seed):
    """coco_instances records of a small generated COCO 2017 under `root` (a pathlib path);
    returns the records directory."""
    import sampledata
    from pipelines import coco
    source = str(root / 'data')
    sampledata.generate(source, seed=seed, size='small', datasets=['coco'])
    assert coco.main(['--data', os.path.join(source, 'coco'), '--out', str(root),
                      '--direct_running_mode=in_memory', '--direct_num_workers=1']) == 0
    return os.path.join(str(root), 'coco')
