"""DAVIS 2016/2017, YouTube-VOS 2018/2019 and MOSE video: one `tf.train.SequenceExample` per video.

Per frame: the original JPEG bytes and the mask as a single-channel PNG of palette indices (pixel
= object id, 0 = background; re-encoded from the palette PNG, whose tf.image.decode_png result
would be colours; empty bytes where the frame has no annotation, as on YouTube-VOS valid), plus each
object's tight box and area so a trainer can choose guide frames and pairs without decoding masks.
Per object (docs/pipelines.md, "DAVIS and YouTube-VOS records"): palette id, category, first
frame, the frames it is listed on, the frames where its mask is non-blank, and the frames valid as a guide
(area > 0.3 % of the image and > 0.2 x its box area). Frame lists are indices into this record's
frames, stored ragged (flat values + row lengths, one row per object).

DAVIS 2016 records hold one object, id 1, and binary masks (every non-zero palette index), so a
trainer always gets an object's mask as `mask == id`. DAVIS 2017 and YouTube-VOS masks keep the
void label 255 (never an object id, box or area; background for `mask == id`). `video/split` is the common split name
every record kind uses (train / validation), the release's own name is `video/source_split`
(version 2; version 1 stored train / val / valid in `video/split`). Videos a `--holdout` run takes
out of the train split are the `holdout` split (source split train); `object/unseen` marks their
objects whose category was held out of train (added without a version bump: records written
before it lack the key and read as all seen, and older readers skip it).
"""
from __future__ import absolute_import, division, print_function

from schemas.features import BYTES, INT64, Field, Schema

NAME = 'vos_video'
VERSION = 2

# The `video/dataset` values: one name per dataset, used wherever a dataset is told apart.
DAVIS2016, DAVIS2017, YTVOS2018 = 'davis2016', 'davis2017', 'ytvos2018'
YTVOS2019, MOSE = 'ytvos2019', 'mose'
DATASETS = (DAVIS2016, DAVIS2017, YTVOS2018, YTVOS2019, MOSE)
# Datasets whose objects' frame lists come from meta.json (YouTube-VOS): the frames a trainer
# pairs and a segmenter writes are the listed ones, not every non-blank one.
META_LISTED = (YTVOS2018, YTVOS2019)
# The split of the train videos a --holdout run sets aside for local scoring.
HOLDOUT_SPLIT = 'holdout'
_OBJECTS = 'object_ids'

SCHEMA = Schema(
    NAME, VERSION, __doc__.strip().splitlines()[0],
    context=[
        Field('dataset', 'video/dataset', BYTES, (), ' / '.join(DATASETS)),
        Field('split', 'video/split', BYTES, (), 'our split: train, validation or holdout'),
        Field('source_split', 'video/source_split', BYTES, (),
              'the release\'s split: DAVIS train / val, YouTube-VOS train / valid'),
        Field('video_id', 'video/id', BYTES, (), 'DAVIS sequence name or YouTube-VOS video id'),
        Field('height', 'video/height', INT64, (), 'frame height in pixels'),
        Field('width', 'video/width', INT64, (), 'frame width in pixels'),
        Field('num_frames', 'video/num_frames', INT64, (), 'frames stored in this record'),
        Field('object_ids', 'object/ids', INT64, (None,),
              'palette ids (DAVIS 2017: ids present in frame 0; YouTube-VOS: meta.json keys; '
              'MOSE: ids in its masks)'),
        Field('object_category', 'object/category', BYTES, (_OBJECTS,),
              'YouTube-VOS (meta.json) category; empty for DAVIS and for MOSE without meta.json'),
        Field('object_unseen', 'object/unseen', INT64, (_OBJECTS,),
              '1: the category is held out of train (holdout split), else 0; records '
              'written before it lack it (all 0)'),
        Field('object_first_frame', 'object/first_frame_index', INT64, (_OBJECTS,),
              'frame index of the object\'s first (given) mask'),
        Field('object_frames', 'object/frames', INT64, (_OBJECTS,),
              'frame indices the object is listed on (meta.json frames; DAVIS: all)', ragged=True),
        Field('object_nonblank_frames', 'object/nonblank_frames', INT64, (_OBJECTS,),
              'frame indices where the object\'s mask is non-empty', ragged=True),
        Field('object_valid_guide_frames', 'object/valid_guide_frames', INT64, (_OBJECTS,),
              'frame indices whose mask is a valid guide (area > 0.003*H*W and > 0.2*box area)',
              ragged=True),
    ],
    sequence=[
        Field('frame_name', 'frame/name', BYTES, (), 'file stem, e.g. 00000'),
        Field('frame_image', 'frame/image/encoded', BYTES, (), 'original JPEG file bytes'),
        Field('frame_mask', 'frame/mask/encoded', BYTES, (),
              'single-channel PNG of object ids (palette indices), empty when not annotated'),
        Field('frame_has_mask', 'frame/has_mask', INT64, (), '1 if the frame is annotated'),
        Field('frame_object_bbox', 'frame/object/bbox_xyxy', INT64, (_OBJECTS, 4),
              'per object: tight box xmin, ymin, xmax, ymax (inclusive), -1s when absent'),
        Field('frame_object_area', 'frame/object/area', INT64, (_OBJECTS,),
              'per object: mask pixels (0 when absent or not annotated)'),
    ])


# The module-level API every record kind offers (see schemas.features.Schema).
encode = SCHEMA.encode
decode = SCHEMA.decode
read = SCHEMA.read
