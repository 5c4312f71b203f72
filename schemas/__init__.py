"""Record schemas: the single source of truth for every feature key, dtype, shape and version.

One module per record kind; each builds a `features.Schema` whose `encode` (Python values ->
serialized proto), `decode` (serialized tensor -> dict of tensors, for tf.data) and `read`
(serialized bytes -> numpy, no graph) come from the same field list. `python -m schemas` prints
them all; `python -m schemas inspect | verify | show | export DIR` look inside a records folder
(docs/records-tools.md).
"""
from __future__ import absolute_import, division, print_function

from schemas import coco_instances, vid_track, vos_video
from schemas.features import SchemaError

ALL = (vid_track.SCHEMA, coco_instances.SCHEMA, vos_video.SCHEMA)


def by_name(name):
    for schema in ALL:
        if schema.name == name:
            return schema
    raise KeyError('unknown schema %r (known: %s)' % (name, ', '.join(s.name for s in ALL)))


__all__ = ['ALL', 'by_name', 'SchemaError', 'coco_instances', 'vid_track', 'vos_video']
