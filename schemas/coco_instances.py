"""COCO 2017 image with its kept instances, for OSMN pre-training: one `tf.train.Example` per image.

Keys follow the TF Object Detection API (`image/encoded`, normalised `image/object/bbox/*`,
`image/object/class/*`, `image/object/area`, `image/object/is_crowd`, `image/object/mask` as one
PNG per instance, the PNG_MASKS layout), so OD-API readers can consume the records. Added for OSMN
(docs/pipelines.md, "COCO records"): the COCO annotation id, the mask's pixel area
and area ratio (the > 3 % rule), and the tight mask box with inclusive max.

`image/encoded` is the original JPEG file, never re-encoded (the guide is cropped at native
resolution). `split` is the common split name every record kind uses (train / validation), the
release's own name is `source_split` (version 2; version 1 stored train2017 / val2017 in
`split`). One record per image rather than per instance keeps image bytes stored once; the
trainer expands instances with a flat_map and shuffles instances, not images.
"""
from __future__ import absolute_import, division, print_function

from schemas.features import BYTES, FLOAT, INT64, Field, Schema

NAME = 'coco_instances'
VERSION = 2

_OBJECTS = 'object_ann_id'  # every per-instance list has one entry per annotation id

SCHEMA = Schema(
    NAME, VERSION, __doc__.strip().splitlines()[0],
    fields=[
        Field('image_encoded', 'image/encoded', BYTES, (), 'original JPEG file bytes'),
        Field('image_format', 'image/format', BYTES, (), 'jpeg'),
        Field('image_height', 'image/height', INT64, (), 'height in pixels'),
        Field('image_width', 'image/width', INT64, (), 'width in pixels'),
        Field('image_channels', 'image/channels', INT64, (),
              '1 (grayscale COCO JPEGs exist; the trainer makes them 3) or 3'),
        Field('image_filename', 'image/filename', BYTES, (), 'e.g. train2017/000000000009.jpg'),
        Field('image_source_id', 'image/source_id', BYTES, (), 'COCO image id as text'),
        Field('image_sha256', 'image/key/sha256', BYTES, (), 'hex sha256 of image/encoded'),
        Field('split', 'split', BYTES, (), 'our split: train or validation'),
        Field('source_split', 'source_split', BYTES, (), 'COCO split: train2017 or val2017'),
        Field('object_ann_id', 'image/object/ann_id', INT64, (None,), 'COCO annotation id'),
        Field('object_bbox_xmin', 'image/object/bbox/xmin', FLOAT, (_OBJECTS,),
              'COCO bbox x / width'),
        Field('object_bbox_ymin', 'image/object/bbox/ymin', FLOAT, (_OBJECTS,),
              'COCO bbox y / height'),
        Field('object_bbox_xmax', 'image/object/bbox/xmax', FLOAT, (_OBJECTS,),
              'COCO bbox (x + w) / width'),
        Field('object_bbox_ymax', 'image/object/bbox/ymax', FLOAT, (_OBJECTS,),
              'COCO bbox (y + h) / height'),
        Field('object_class_label', 'image/object/class/label', INT64, (_OBJECTS,),
              'COCO category id (1..90 with gaps)'),
        Field('object_class_text', 'image/object/class/text', BYTES, (_OBJECTS,),
              'COCO category name'),
        Field('object_area', 'image/object/area', FLOAT, (_OBJECTS,), 'COCO annotation area'),
        Field('object_is_crowd', 'image/object/is_crowd', INT64, (_OBJECTS,),
              'COCO iscrowd (0 after the OSMN filter)'),
        Field('object_mask', 'image/object/mask', BYTES, (_OBJECTS,),
              'single-channel PNG, image size, values {0, 1} (pycocotools annToMask)'),
        Field('object_mask_bbox', 'image/object/mask_bbox_xyxy', INT64, (_OBJECTS, 4),
              'tight mask box xmin, ymin, xmax, ymax in pixels, max inclusive'),
        Field('object_mask_area', 'image/object/mask_area', INT64, (_OBJECTS,),
              'foreground pixels of the mask'),
        Field('object_area_ratio', 'image/object/area_ratio', FLOAT, (_OBJECTS,),
              'mask_area / (height * width); kept instances are > 0.03 by default'),
    ])


# The module-level API every record kind offers (see schemas.features.Schema).
encode = SCHEMA.encode
decode = SCHEMA.decode
read = SCHEMA.read
