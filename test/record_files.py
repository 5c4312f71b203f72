"""Test helpers: read pipeline outputs back (dataset_info through schemas.dataset_info, records
through a schema decoder in tf.data); find tf.data's autotuning model in a trainer's input; every
file of a folder (tree_contents: has a refused or failed command changed anything?)."""
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


def autotune_model_ops(dataset):
    """The ModelDataset ops (tf.data's autotuning model, which crashes iterator teardown in
    TF 1.15: trainers.reader.without_autotune_model) in the graph of an iterator over
    `dataset`, built in the current default graph (a fresh one: the whole graph is searched)."""
    tf.compat.v1.data.make_initializable_iterator(dataset)
    graph = tf.compat.v1.get_default_graph()
    nodes = [op.type for op in graph.get_operations()]
    nodes += [n.op for f in graph.as_graph_def().library.function for n in f.node_def]
    return [n for n in nodes if n == 'ModelDataset']


def tree_contents(root):
    """{path relative to root: bytes} of every file below root."""
    out = {}
    for base, _, names in os.walk(root):
        for name in names:
            path = os.path.join(base, name)
            with open(path, 'rb') as f:
                out[os.path.relpath(path, root)] = f.read()
    return out
