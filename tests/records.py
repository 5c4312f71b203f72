"""Test helper: read TFRecord files back through a schema decoder in tf.data."""
from __future__ import absolute_import, division, print_function

import tensorflow as tf


def decode_files(schema, files):
    """Every record of `files`, decoded by `schema.decode` inside tf.data, as numpy dicts."""
    graph = tf.Graph()
    with graph.as_default():
        dataset = tf.data.TFRecordDataset(list(files)).map(schema.decode)
        element = tf.compat.v1.data.make_one_shot_iterator(dataset).get_next()
        decoded = []
        with tf.compat.v1.Session(graph=graph) as sess:
            while True:
                try:
                    decoded.append(sess.run(element))
                except tf.errors.OutOfRangeError:
                    return decoded
