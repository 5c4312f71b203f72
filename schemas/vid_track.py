"""VID track crops for SA-Siam: one `tf.train.SequenceExample` per chunk of one object track.

Written for ILSVRC2015-VID (pipelines/vid.py) and, with the same crops and fields, for GOT-10k,
LaSOT and labelled sequence folders (pipelines/track.py; frames where the target is absent are
left out of the track as VID's unannotated frames are).

What a record holds (docs/pipelines.md, "SiamFC curation crop"): the 255x255 SiamFC curation
crops (JPEG q90) of one (snippet, trackid) in frame order, with the original frame numbers, the
original inclusive XML boxes, the occluded / generated flags and the crop geometry of every frame.

Granularity: per-track chunks that overlap by `max_frame_dist`.
    A track of n annotated frames is cut into chunks. Chunk c *owns* the exemplar positions
    [anchor_begin, anchor_end) and stores the track positions
    [anchor_begin, min(n, anchor_end + max_frame_dist)). The reference pair rule (section 4.1:
    gap d in 1..min(n, 100), clipped to n-1, exemplar at s before instance at s+d, positions
    counted in the track list) therefore always finds both frames of a pair inside the chunk that
    owns s, and every (s, d) pair belongs to exactly one chunk. `chunk_bounds` below is the only
    definition of the cut, shared by the writer and the reader. Tracks with at most
    anchors_per_chunk + max_frame_dist frames are one chunk (most VID tracks).

Why not the alternatives:
    * One record per crop (spec design A): TFRecord has no random access, so online pairs need
      either all ~20 GB of crops in RAM or a second pass that materialises pairs (fixed
      randomness, 30+ GB).
    * One record per whole track: exact, but a long track (thousands of frames, tens of MB) is read
      and held in the shuffle buffer to decode two JPEGs; chunks bound that.

Cost (crops are ~10 KB; VID has ~2.0 M crops in ~9 k tracks, ~220 crops per track):
    * Storage: frames in the overlap are stored twice; with the defaults anchors_per_chunk = 200,
      max_frame_dist = 100 that is at most +50 % for long tracks and 0 for tracks <= 300 frames.
    * Reading: a record is at most anchors_per_chunk + max_frame_dist = 300 crops (~3 MB). The
      reader decodes 2 JPEGs per pair, so with K pairs drawn per record read it reads about
      frames_in_record / (2 K) bytes per decoded byte: ~55x for K = 1 (the reference's one pair per
      track per pass) on an average track, ~7x for K = 8. Parsing a record costs about as much as
      memcpy of its bytes; JPEG decoding of the two crops stays the dominant CPU cost for K >= 4.
      The trainer draws K pairs per record and shuffles pairs to decorrelate batches.
"""
from __future__ import absolute_import, division, print_function

from schemas.features import BYTES, FLOAT, INT64, Field, Schema

NAME = 'vid_track'
VERSION = 1

# SiamFC geometry (docs/pipelines.md, "SiamFC curation crop"), square sides in pixels: the
# exemplar side and the context amount set the search side's scale, the stored crops are
# SEARCH_SIDE x SEARCH_SIDE.
EXEMPLAR_SIDE = 127
SEARCH_SIDE = 255
CONTEXT_AMOUNT = 0.5
# Chunking defaults (above).
MAX_FRAME_DIST = 100
ANCHORS_PER_CHUNK = 200

SCHEMA = Schema(
    NAME, VERSION, __doc__.strip().splitlines()[0],
    context=[
        Field('track_key', 'track/key', BYTES, (),
              '<source split>/<snippet>/<trackid, 2 digits>, e.g. val/ILSVRC2015_val_00000000/00 '
              '(GOT-10k, LaSOT, folders: <source split>/<sequence>/00)'),
        Field('track_num_frames', 'track/num_frames', INT64, (),
              'n: annotated frames of the whole track (unit of max_frame_dist)'),
        Field('chunk_index', 'track/chunk/index', INT64, (), 'index of this chunk in the track'),
        Field('chunk_count', 'track/chunk/count', INT64, (), 'number of chunks of the track'),
        Field('chunk_anchor_begin', 'track/chunk/anchor_begin', INT64, (),
              'first track position this chunk owns as exemplar position s'),
        Field('chunk_anchor_end', 'track/chunk/anchor_end', INT64, (),
              'one past the last owned exemplar position'),
        Field('chunk_max_frame_dist', 'track/chunk/max_frame_dist', INT64, (),
              'overlap the chunk was cut with: positions up to anchor_end - 1 + this are stored'),
        Field('video_name', 'video/name', BYTES, (),
              'snippet name, e.g. ILSVRC2015_train_00000000 (or sequence name: airplane-2)'),
        Field('video_folder', 'video/folder', BYTES, (),
              'XML <folder>, e.g. ILSVRC2015_VID_train_0000/ILSVRC2015_train_00000000 (or the '
              'sequence folder under the root: train/GOT-10k_Train_000001)'),
        Field('source_split', 'video/source_split', BYTES, (),
              'the release\'s split: ILSVRC and GOT-10k train or val, LaSOT train or test, '
              'folders all'),
        Field('split', 'split', BYTES, (), 'our split: train or validation'),
        Field('object_trackid', 'object/trackid', INT64, (),
              'XML <trackid> (other sources: the target\'s index in its sequence, 0)'),
        Field('object_class', 'object/class/text', BYTES, (),
              'XML <name>: WordNet id (GOT-10k object_class, LaSOT class, folders empty)'),
        Field('orig_width', 'image/orig_width', INT64, (), 'source frame width in pixels'),
        Field('orig_height', 'image/orig_height', INT64, (), 'source frame height in pixels'),
        Field('image_format', 'image/format', BYTES, (), 'crop encoding: jpeg'),
        Field('image_height', 'image/height', INT64, (), 'crop height: 255'),
        Field('image_width', 'image/width', INT64, (), 'crop width: 255'),
    ],
    sequence=[
        Field('frame_encoded', 'frames/encoded', BYTES, (), '255x255x3 crop, JPEG quality 90'),
        Field('frame_position', 'frames/index', INT64, (),
              'position of the frame in the whole track (0..n-1)'),
        Field('frame_number', 'frames/number', INT64, (),
              'original frame number (XML filename; other sources: 1-based frame index)'),
        Field('frame_occluded', 'frames/occluded', INT64, (),
              'XML <occluded> (GOT-10k: cover < 8; LaSOT, folders: 0)'),
        Field('frame_generated', 'frames/generated', INT64, (), 'XML <generated> (others: 0)'),
        Field('frame_bbox', 'frames/bbox_xyxy', INT64, (4,),
              'XML box xmin, ymin, xmax, ymax: inclusive 0-based source pixels (other '
              'sources: their x, y, w, h box converted, edges rounded to whole pixels)'),
        Field('crop_s_z', 'frames/crop/s_z', FLOAT, (), 'side of target + context, sqrt((w+p)(h+p))'),
        Field('crop_s_x', 'frames/crop/s_x', FLOAT, (), 'search side before rounding, s_z*255/127'),
        Field('crop_window', 'frames/crop/window_xyxy', INT64, (4,),
              'source window x0, y0, x1, y1 (inclusive; x1 - x0 + 1 = round(s_x))'),
        Field('crop_pad', 'frames/crop/pad_ltrb', INT64, (4,),
              'pixels of the window outside the frame, filled with the frame mean: left, top, '
              'right, bottom'),
        Field('crop_scale', 'frames/crop/scale', FLOAT, (), '255 / round(s_x): the resize factor'),
        Field('target_size', 'frames/target/size_in_crop', FLOAT, (2,),
              'target width, height in crop pixels (w*scale, h*scale)'),
    ])


def chunk_bounds(num_frames, anchors_per_chunk=ANCHORS_PER_CHUNK, max_frame_dist=MAX_FRAME_DIST):
    """[(anchor_begin, anchor_end, first_position, end_position)] of the chunks of a track.

    Every exemplar position 0..n-1 is owned by exactly one chunk, and a chunk stores every position
    its owned exemplars can pair with (s + d, d <= max_frame_dist).
    """
    if num_frames < 1:
        raise ValueError('a track has at least one frame, got %d' % num_frames)
    if anchors_per_chunk < 1 or max_frame_dist < 1:
        raise ValueError('anchors_per_chunk and max_frame_dist must be >= 1')
    if num_frames <= anchors_per_chunk + max_frame_dist:
        return [(0, num_frames, 0, num_frames)]
    chunks = []
    begin = 0
    while begin < num_frames:
        end = min(begin + anchors_per_chunk, num_frames)
        # A short tail is folded into this chunk when the whole rest fits, saving a tiny record.
        if num_frames - begin <= anchors_per_chunk + max_frame_dist:
            end = num_frames
        chunks.append((begin, end, begin, min(num_frames, end + max_frame_dist)))
        begin = end
    return chunks


# The module-level API every record kind offers (see schemas.features.Schema).
encode = SCHEMA.encode
decode = SCHEMA.decode
read = SCHEMA.read
