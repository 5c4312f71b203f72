"""tf.train.Example and tf.train.SequenceExample as protobuf classes of their own, without
TensorFlow: records can be read (`Schema.read`, `python -m schemas inspect | verify | show |
export`) where only numpy and protobuf are installed, and without TensorFlow's import time.

The messages are declared field for field as tensorflow/core/example/{feature,example}.proto
(same names, numbers and types, so the same wire format) in a private descriptor pool, so they
do not clash with TensorFlow's own classes when both are loaded.
"""
from __future__ import absolute_import, division, print_function

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_PACKAGE = 'tensorflow'
_F = descriptor_pb2.FieldDescriptorProto

# message -> [(field name, number, type, label, message type or None)]
_MESSAGES = (
    ('BytesList', [('value', 1, _F.TYPE_BYTES, _F.LABEL_REPEATED, None)]),
    ('FloatList', [('value', 1, _F.TYPE_FLOAT, _F.LABEL_REPEATED, None)]),
    ('Int64List', [('value', 1, _F.TYPE_INT64, _F.LABEL_REPEATED, None)]),
    ('Feature', [('bytes_list', 1, _F.TYPE_MESSAGE, _F.LABEL_OPTIONAL, 'BytesList'),
                 ('float_list', 2, _F.TYPE_MESSAGE, _F.LABEL_OPTIONAL, 'FloatList'),
                 ('int64_list', 3, _F.TYPE_MESSAGE, _F.LABEL_OPTIONAL, 'Int64List')]),
    ('FeatureList', [('feature', 1, _F.TYPE_MESSAGE, _F.LABEL_REPEATED, 'Feature')]),
    ('Example', [('features', 1, _F.TYPE_MESSAGE, _F.LABEL_OPTIONAL, 'Features')]),
    ('SequenceExample', [('context', 1, _F.TYPE_MESSAGE, _F.LABEL_OPTIONAL, 'Features'),
                         ('feature_lists', 2, _F.TYPE_MESSAGE, _F.LABEL_OPTIONAL,
                          'FeatureLists')]),
)
# map<string, V> fields: message -> (field name, value message)
_MAPS = (('Features', 'feature', 'Feature'), ('FeatureLists', 'feature_list', 'FeatureList'))


def _add_field(message, name, number, kind, label, type_name):
    field = message.field.add(name=name, number=number, type=kind, label=label)
    if type_name:
        field.type_name = '.%s.%s' % (_PACKAGE, type_name)
    if kind in (_F.TYPE_FLOAT, _F.TYPE_INT64) and label == _F.LABEL_REPEATED:
        field.options.packed = True
    return field


def _file_descriptor():
    proto = descriptor_pb2.FileDescriptorProto(name='schemas/example.proto', package=_PACKAGE,
                                               syntax='proto3')
    for name, fields in _MESSAGES:
        message = proto.message_type.add(name=name)
        for field in fields:
            _add_field(message, *field)
    for name, field_name, value in _MAPS:
        message = proto.message_type.add(name=name)
        entry_name = ''.join(part.capitalize() for part in field_name.split('_')) + 'Entry'
        entry = message.nested_type.add(name=entry_name)
        entry.options.map_entry = True
        _add_field(entry, 'key', 1, _F.TYPE_STRING, _F.LABEL_OPTIONAL, None)
        _add_field(entry, 'value', 2, _F.TYPE_MESSAGE, _F.LABEL_OPTIONAL, value)
        _add_field(message, field_name, 1, _F.TYPE_MESSAGE, _F.LABEL_REPEATED,
                   '%s.%s' % (name, entry_name))
    return proto


def _classes():
    pool = descriptor_pool.DescriptorPool()
    pool.Add(_file_descriptor())
    factory = message_factory.MessageFactory(pool)
    return {name: factory.GetPrototype(pool.FindMessageTypeByName('%s.%s' % (_PACKAGE, name)))
            for name in ('Example', 'SequenceExample')}


_CLASSES = _classes()
Example = _CLASSES['Example']
SequenceExample = _CLASSES['SequenceExample']
