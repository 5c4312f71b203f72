"""`python -m schemas show DIR --out sheet.png [--n 16] [--seed S]`: a contact sheet to look at.

    vid_track        N crops (255 x 255) with the target box (the centred target size);
                     exemplar / search pairs as the trainer samples them:
                     `python -m trainers.sasiam.show_pairs DIR --out pairs.png`
    coco_instances   N images, each kept instance's mask overlaid in its own colour with its box
    vos_video        a strip per video (N videos), frames with the palette mask overlaid

The records are drawn with a RandomState of the seed from dataset_info's record counts, and only
the shards holding them are read: the same seed shows the same examples. Tiles carry their key.
"""
from __future__ import absolute_import, division, print_function

import math

import numpy as np

import schemas
from schemas import dataset_info, shards

PAD = 4                 # pixels between tiles
BACKGROUND = 32         # grey between tiles
VID_TILE = 255          # crops at their stored size
COCO_CELL = (256, 256)  # (width, height) each image is fitted into
VOS_TILE_HEIGHT = 128
VOS_STRIP_FRAMES = 6    # frames per video strip, evenly spaced
MASK_ALPHA = 0.5
PAIRS_HINT = ('exemplar / search pairs as the trainer samples them (augmentation off and on): '
              'python -m trainers.sasiam.show_pairs %s --out pairs.png')


def _text(value):
    return value.decode('utf-8', 'replace') if isinstance(value, bytes) else str(value)


def decode_rgb(data):
    """uint8 [H, W, 3] RGB of JPEG bytes (grayscale JPEGs repeated on 3 channels)."""
    import cv2
    image = cv2.imdecode(np.frombuffer(data, np.uint8),   # the stored grid, as the trainers
                         cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if image is None:
        raise ValueError('an image of the records does not decode (run python -m schemas verify)')
    return image[..., ::-1]


def pick_records(info, n, seed, split=None):
    """{shard file: sorted record indices}: n records (all when fewer) drawn with the seed."""
    entries = [(name, shard) for name, entry in sorted(info['splits'].items())
               for shard in entry['shards']
               if split is None or name == dataset_info.split_name(info, split)]
    slots = [(shard['file'], i) for _, shard in entries for i in range(shard['records'])]
    if not slots:
        raise ValueError('no records to show')
    rng = np.random.RandomState(seed)
    chosen = sorted(rng.choice(len(slots), size=min(n, len(slots)), replace=False))
    picked = {}
    for k in chosen:
        picked.setdefault(slots[k][0], []).append(slots[k][1])
    return picked


def read_picked(dataset_dir, schema, picked):
    """[(key, decoded record)] of the picked records, in shard and record order."""
    out = []
    for file, indices in sorted(picked.items()):
        wanted = set(indices)
        path = '%s/%s' % (dataset_dir.rstrip('/'), file)
        for index, record in shards.shard_records(path):
            if index in wanted:
                out.append(('%s#%d' % (file, index), schema.read(record)))
            if index >= max(wanted):
                break
    return out


def label(tile, text):
    """Write `text` in the tile's top-left corner, white on a dark band (in place)."""
    import cv2
    cv2.rectangle(tile, (0, 0), (tile.shape[1] - 1, 13), (0, 0, 0), -1)
    cv2.putText(tile, text[:48], (2, 10), cv2.FONT_HERSHEY_PLAIN, 0.75, (255, 255, 255), 1,
                cv2.LINE_AA)
    return tile


def fit(image, size):
    """`image` scaled to fit (width, height) `size`, centred on the background; and its scale."""
    import cv2
    width, height = size
    scale = min(width / float(image.shape[1]), height / float(image.shape[0]))
    resized = cv2.resize(image, (max(1, int(round(image.shape[1] * scale))),
                                 max(1, int(round(image.shape[0] * scale)))),
                         interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    cell = np.full((height, width, 3), BACKGROUND, np.uint8)
    y, x = (height - resized.shape[0]) // 2, (width - resized.shape[1]) // 2
    cell[y:y + resized.shape[0], x:x + resized.shape[1]] = resized
    return cell, scale, (x, y)


def grid(tiles, cols):
    """Tiles of one size on a grid of `cols` columns, PAD apart."""
    height, width = tiles[0].shape[:2]
    rows = int(math.ceil(len(tiles) / float(cols)))
    sheet = np.full((rows * (height + PAD) + PAD, cols * (width + PAD) + PAD, 3), BACKGROUND,
                    np.uint8)
    for k, tile in enumerate(tiles):
        y, x = PAD + (k // cols) * (height + PAD), PAD + (k % cols) * (width + PAD)
        sheet[y:y + height, x:x + width] = tile
    return sheet


def overlay(rgb, labels, colours):
    """Blend the colour of each non-zero label into the image and outline it in that colour
    (textured objects hide a tint; the outline shows where the mask ends)."""
    import cv2
    out = rgb.astype(np.float32)
    mask = labels > 0
    out[mask] = (1 - MASK_ALPHA) * out[mask] + MASK_ALPHA * colours[labels[mask]]
    edge = np.zeros(labels.shape, np.uint8)
    edge[:, 1:] |= labels[:, 1:] != labels[:, :-1]
    edge[1:, :] |= labels[1:, :] != labels[:-1, :]
    edge = cv2.dilate(edge, np.ones((3, 3), np.uint8)).astype(bool) & mask
    out[edge] = colours[labels[edge]]
    return out.astype(np.uint8)


# -- per record kind ----------------------------------------------------------------------------

def vid_tiles(records, n, seed):
    """n crops over the picked chunks (frames drawn with the seed), target box drawn."""
    import cv2
    rng = np.random.RandomState(seed + 1)
    per_record = int(math.ceil(n / float(len(records))))
    tiles = []
    for key, example in records:
        count = len(example['frame_encoded'])
        for t in sorted(rng.choice(count, size=min(per_record, count), replace=False)):
            tile = np.ascontiguousarray(decode_rgb(example['frame_encoded'][t]))
            w, h = example['target_size'][t]
            c = (VID_TILE - 1) / 2.0
            cv2.rectangle(tile, (int(round(c - w / 2.0)), int(round(c - h / 2.0))),
                          (int(round(c + w / 2.0)), int(round(c + h / 2.0))), (0, 255, 0), 2)
            tiles.append(label(tile, '%s f%d' % (_text(example['track_key']),
                                                 int(example['frame_number'][t]))))
    return tiles[:n]


def coco_tile(example, colours):
    import cv2
    from schemas.export import decode_labels
    rgb = decode_rgb(example['image_encoded'])
    labels = np.zeros(rgb.shape[:2], np.uint8)
    for j, png in enumerate(example['object_mask']):
        labels[decode_labels(png) > 0] = j + 1
    cell, scale, (x, y) = fit(overlay(rgb, labels, colours), COCO_CELL)
    for j, box in enumerate(example['object_mask_bbox']):
        colour = tuple(int(v) for v in colours[j + 1])
        x0, y0, x1, y1 = (int(round(v * scale)) for v in box)
        cv2.rectangle(cell, (x + x0, y + y0), (x + x1, y + y1), colour, 1)
    return label(cell, '%s: %d' % (_text(example['image_filename']),
                                   len(example['object_ann_id'])))


def vos_strip(example, colours, cell):
    from schemas.export import decode_labels
    count = len(example['frame_image'])
    picks = sorted(set(np.linspace(0, count - 1, min(count, VOS_STRIP_FRAMES)).round().astype(int)))
    tiles = []
    for t in picks:
        rgb = decode_rgb(example['frame_image'][t])
        if int(example['frame_has_mask'][t]):
            rgb = overlay(rgb, decode_labels(example['frame_mask'][t]), colours)
        text = '%s %s' % (_text(example['video_id']), _text(example['frame_name'][t])) \
            if t == picks[0] else _text(example['frame_name'][t])
        tiles.append(label(fit(rgb, cell)[0], text))
    while len(tiles) < VOS_STRIP_FRAMES:
        tiles.append(np.full_like(tiles[0], BACKGROUND))
    return np.concatenate([np.pad(t, ((0, 0), (0, PAD), (0, 0)), constant_values=BACKGROUND)
                           for t in tiles], axis=1)[:, :-PAD]


def render(dataset_dir, n=16, seed=0, split=None):
    """The sheet (uint8 RGB) and the hint lines to print."""
    from datasets.palette import palette_colours
    info = dataset_info.read(dataset_dir)
    schema = schemas.by_name(info['schema']['name'])
    records = read_picked(dataset_dir, schema, pick_records(info, n, seed, split))
    colours = palette_colours().astype(np.float32)
    if schema.name == 'vid_track':
        tiles = vid_tiles(records, n, seed)
        return grid(tiles, int(math.ceil(math.sqrt(n)))), [PAIRS_HINT % dataset_dir]
    if schema.name == 'coco_instances':
        tiles = [coco_tile(example, colours) for _, example in records]
        return grid(tiles, int(math.ceil(math.sqrt(n)))), []
    height, width = dataset_info.max_frame_size(info)
    cell = (int(round(VOS_TILE_HEIGHT * width / float(height))), VOS_TILE_HEIGHT)
    return grid([vos_strip(example, colours, cell) for _, example in records], 1), []


def main(dataset_dir, out, n=16, seed=0, split=None):
    from PIL import Image
    if n < 1:
        raise ValueError('--n must be at least 1')
    sheet, hints = render(dataset_dir, n, seed, split)
    Image.fromarray(sheet).save(out)
    print('%s: %dx%d contact sheet of %s (seed %d)' % (out, sheet.shape[1], sheet.shape[0],
                                                        dataset_dir, seed))
    for hint in hints:
        print(hint)
    return 0
