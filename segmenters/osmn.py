"""OSMN inference (docs/segmentation.md, "Inference") and online fine-tuning (stage 3, 1).

One static graph on the trainer's model and input code (trainers/osmn/model.py, augment.py) and
device layer (trainers/device.py):

* the visual modulator runs once per object, on the test guide of its given mask (tight box,
  every side enlarged by 3 %, 224x224, background zeroed); its channel scales are cached;
* per frame, the segmentation net runs on the frame resized to the network size (DAVIS 854x480,
  YouTube-VOS 448x256, YouTube-Objects 640x360, times the run's input_scale) with a spatial
  guide, the unperturbed heatmap of the object's own binary prediction (p > 0.5) of the previous
  frame (the given mask for the frame after it), batched over `object_batch` objects of the
  frame (a static batch, the last chunk padded);
* objects are merged by arg-max over [0.5, p_1 .. p_K] at network resolution, the id map is
  resized to the frame (nearest, pixel centres: the evaluator's resize_labels) and an object's
  given mask is pasted on its first frame; objects that start later (YouTube-VOS) are absent
  before their first frame;
* the next frame is decoded and results are written on two threads while the network runs.

Not carried over from the reference: its 224x224 black dummy as the first frame's result (here the
given masks at full size); the round trip of every prediction through a PNG on disk, whose
min/max byte-scaling saved an all-foreground prediction as empty (here masks stay in memory);
dropout left on at test time by the Ascend port (here is_training=False); string-sorted object
folders in the merge (here object ids).

Online fine-tuning (`finetune_steps` = N > 0): before each video, the checkpoint's weights are
restored into the session (the run directory is only read), Adam's slots reset, and the network
trained on the video's given masks for N steps per object, as the reference's 100 per object
(guide = reference = current frame, with the training augmentation of the guide and heatmap,
batch 1); then the video is segmented. Two switches choose how close to the reference:

* default (fast): one fine-tuned copy serves all objects of a video (the K objects take turns,
  K x N steps in all, at the network size, BN statistics frozen), so the video is segmented once
  with every object batched;
* `finetune_scales`: each step at one of the reference's three fine-tuning scales (0.5, 0.8, 1 of
  the network size, the DAVIS stage's), drawn from the video's seeded generator, as the
  reference draws one scale per batch;
* `finetune_per_object`: the reference's one fine-tuned copy per object: for each object the
  checkpoint is restored, trained N steps on that object alone with BN in training mode (the
  reference's online script does not fix BN), and the video segmented for that object; the
  objects' probability maps (float16 at network size) are held until the arg-max merge. Costs K
  restores and K passes over the video. Both switches together are the reference's procedure.
Every mode leaves the run directory untouched.

Speed: segmenters/timing.py. Why one module of ~430 lines: the graph, the session's weights and
the per-frame loop all work on one OsmnSegmenter's state (placeholders, padded frame buffers,
fine-tuning ops); split, that state would be passed between modules.
"""
from __future__ import absolute_import, division, print_function

import collections
import json
import os
import time
import zlib
from concurrent import futures

import cv2
import numpy as np

from datasets import davis as davis_data
from datasets import ytvos as ytvos_data
from datasets.images import Size, resize_labels, tight_box
from schemas.vos_video import DAVIS2016, DAVIS2017, MOSE, YTVOS2018, YTVOS2019
from segmenters.sources import SourceError
from segmenters.timing import Timer
from trainers import checkpoints
from trainers import config as config_lib
from trainers import device as device_lib
from trainers.osmn import augment, model
from trainers.osmn import train as train_lib

# The network input per dataset (spec section 8); `frames` folders are DAVIS-like (a folder of
# YouTube-Objects frames: --size 640 360, the youtube_objects size)
NETWORK_SIZES = {DAVIS2016: davis_data.OSMN_SIZE, DAVIS2017: davis_data.OSMN_SIZE,
                 'frames': davis_data.OSMN_SIZE, YTVOS2018: ytvos_data.OSMN_SIZE,
                 YTVOS2019: ytvos_data.OSMN_SIZE, MOSE: ytvos_data.OSMN_SIZE,
                 'youtube_objects': Size(height=360, width=640)}
DEFAULT_MAX_FRAME_SIZE = (720, 1280)   # [height, width] of the padded frame placeholder
BACKGROUND_SCORE = 0.5
FINETUNE_LR = 1e-5                     # the reference's online fine-tuning rate
REFERENCE_FINETUNE_STEPS = 100         # per object, the reference's online fine-tuning length
# the reference's online fine-tuning scales are its DAVIS stage's (one definition: the trainer's)
FINETUNE_SCALES = tuple(train_lib.STAGES['davis']['scales'])


class SegmentError(ValueError):
    """A run directory or option that cannot be used (one line for the user)."""


def load_run(run_dir):
    """(resolved training config, latest checkpoint path) of a trainer run directory."""
    path = os.path.join(run_dir, 'config.json')
    if not os.path.isfile(path):
        raise SegmentError('%s not found: --run must be an OSMN run directory written by '
                           '`make train-osmn`' % path)
    with open(path) as f:
        cfg = json.load(f)
    if 'model' not in cfg or 'input' not in cfg or 'width' not in cfg['model']:
        raise SegmentError('%s is not an OSMN training config' % path)
    checkpoint = checkpoints.latest(run_dir)   # by file name: a moved run directory works
    if not checkpoint:
        raise SegmentError('%s has no checkpoint (model.ckpt-*): train first' % run_dir)
    return cfg, checkpoint


def network_size(cfg, dataset, size=None):
    """(height, width) of the network input: `size` [W, H] or the dataset's, times the run's
    input.input_scale (1 for real runs, < 1 for the tiny test runs)."""
    if size:
        width, height = size
    else:
        height, width = NETWORK_SIZES.get(dataset, NETWORK_SIZES['frames'])
    k = cfg['input'].get('input_scale', 1.0)
    return int(height * k), int(width * k)


def merge_labels(probabilities, ids, background=BACKGROUND_SCORE):
    """[K, h, w] object probabilities -> uint8 id map: arg-max over [background, p_1 .. p_K]
    (ties go to the earlier entry: background, then the lower index). A running maximum with
    OpenCV: ~1 ms at 854x480 for 3 objects where np.argmax over the stacked maps takes ~14."""
    if not len(ids):
        raise ValueError('merge_labels needs at least one object')
    best = np.full(np.shape(probabilities[0]), background, np.float32)
    labels = np.zeros(best.shape, np.uint8)
    for obj_id, prob in zip(ids, probabilities):
        wins = cv2.compare(np.ascontiguousarray(prob, np.float32), best, cv2.CMP_GT)  # 0 / 255
        labels = cv2.bitwise_or(cv2.bitwise_and(labels, cv2.bitwise_not(wins)),
                                cv2.bitwise_and(np.full_like(labels, obj_id), wins))
        best = cv2.max(best, np.ascontiguousarray(prob, np.float32))
    return labels


def finetune_schedule(seed, key, objects, steps, scales):
    """The seeded draws of one fine-tuning, one (object, augmentation uniforms, scale index) per
    step, `steps` per object in turn: a function of the seed and `key` (the video's name, or
    '<video>/<object id>' for per-object copies) only, so the same seed repeats them exactly. (The
    fine-tuned maps themselves may differ in the last bits: CPU reductions are not bit-exact.)"""
    rng = np.random.RandomState((seed * 1000003 + zlib.crc32(key.encode())) % (2 ** 32))
    schedule = []
    for step in range(steps * len(objects)):
        uniforms = rng.rand(1, augment.UNIFORMS)
        scale = rng.randint(scales) if scales > 1 else 0
        schedule.append((objects[step % len(objects)], uniforms, scale))
    return schedule


class OsmnSegmenter(object):
    """A session holding the OSMN inference graph of a run, for videos of one network size."""

    def __init__(self, run_dir, dataset, device='cpu', size=None, object_batch=1,
                 finetune_steps=0, finetune_lr=FINETUNE_LR, max_frame_size=None, seed=0,
                 finetune_scales=False, finetune_per_object=False):
        import tensorflow as tf
        self.cfg, self.checkpoint = load_run(run_dir)
        if object_batch < 1:
            raise SegmentError('--object-batch must be >= 1')
        self.size = network_size(self.cfg, dataset, size)
        self.batch = object_batch
        self.max_frame = tuple(max_frame_size or DEFAULT_MAX_FRAME_SIZE)
        self.finetune_steps, self.finetune_lr, self.seed = finetune_steps, finetune_lr, seed
        if (finetune_scales or finetune_per_object) and not finetune_steps:
            raise SegmentError('--finetune-scales and --finetune-per-object need fine-tuning '
                               'steps (--finetune-steps N; the reference: %d)'
                               % REFERENCE_FINETUNE_STEPS)
        self.finetune_sizes = ([(int(self.size[0] * s), int(self.size[1] * s))
                                for s in FINETUNE_SCALES] if finetune_scales else [self.size])
        self.finetune_per_object = finetune_per_object
        device = self.device = device_lib.resolve(device)
        self.graph = tf.Graph()
        with self.graph.as_default():
            self._build()
            self.sess = tf.compat.v1.Session(config=device_lib.session_config(
                device, self.cfg.get('device', {}).get('precision_mode', 'allow_mix_precision')))
            self.sess.run(tf.compat.v1.global_variables_initializer())
            self._restore()
        self._frame = np.zeros((1,) + self.max_frame + (3,), np.uint8)
        self._guide_frame = np.zeros_like(self._frame)
        self._guide_mask = np.zeros((1,) + self.max_frame, np.uint8)
        self._last_size = None
        # one thread each: frames are read in order, results written in order
        self._reader = futures.ThreadPoolExecutor(1)
        self._writer = futures.ThreadPoolExecutor(1)

    # -- graph ----------------------------------------------------------------------------------

    def _build(self):
        import tensorflow as tf
        ph = tf.compat.v1.placeholder
        m, i = self.cfg['model'], self.cfg['input']
        (mh, mw), (h, w) = self.max_frame, self.size
        self.frame_size = ph(tf.int32, [1, 2], 'frame_size')
        # the visual modulator, once per object, on its given frame and mask
        self.guide_frame = ph(tf.uint8, [1, mh, mw, 3], 'guide_frame')
        self.guide_mask = ph(tf.uint8, [1, mh, mw], 'guide_mask')
        self.guide_box = ph(tf.int64, [1, 4], 'guide_box')
        guide = augment.visual_guides(self.guide_frame, self.guide_mask, self.guide_box,
                                   tf.zeros([1, augment.UNIFORMS]), i, training=False)
        self.scales = model.modulator_scales(guide, m, False)
        # the trainer's resize (float32 CropAndResize: the op stays on the NPU)
        guide_boxes = augment.frame_boxes(self.guide_frame, self.frame_size, (h, w))
        given = augment.crop_and_resize(self.guide_mask[..., None], guide_boxes, tf.range(1),
                                        (h, w), method='nearest')
        self.given_mask = tf.cast(given[0, ..., 0] > 0, tf.uint8)
        # the segmentation net, per frame, on `batch` objects
        self.frame = ph(tf.uint8, [1, mh, mw, 3], 'frame')
        image = augment.to_network_input(augment.crop_and_resize(
            self.frame, augment.frame_boxes(self.frame, self.frame_size, (h, w)), tf.range(1),
            (h, w)))
        self.previous = ph(tf.uint8, [self.batch, h, w], 'previous_masks')
        self.object_scales = ph(tf.float32, [self.batch, model.modulation_size(m['width'])],
                                'object_scales')
        logits = model.modulated_logits(tf.tile(image, [self.batch, 1, 1, 1]), self.object_scales,
                                        augment.heatmaps(self.previous), m, False)
        self.probabilities = tf.sigmoid(logits)[..., 0]
        self.model_variables = [v for v in tf.compat.v1.global_variables()
                                if v.op.name.startswith('osmn/')]
        self.surgery = model.interp_surgery_ops()
        if self.finetune_steps:
            self._build_finetune(m, i)

    def _build_finetune(self, m, i):
        """Training on a given frame: guide = reference = current frame (the reference's
        4-tuple), training augmentation, Adam on fresh slots; one update op per fine-tuning
        size (they share the optimizer's slots). BN is frozen when one copy serves every object,
        in training mode for a per-object copy (the reference's online fine-tuning)."""
        import tensorflow as tf
        self.uniforms = tf.compat.v1.placeholder(tf.float32, [1, augment.UNIFORMS], 'uniforms')
        batch = {'image': self.guide_frame, 'mask': self.guide_mask,
                 'frame_size': self.frame_size, 'guide_box': self.guide_box,
                 'uniforms': self.uniforms, 'guide_image': self.guide_frame,
                 'guide_mask': self.guide_mask, 'prev_mask': self.guide_mask}
        # the trainer's optimizer setup: loss scaling on the NPU (mixed precision)
        optimizer = device_lib.wrap_optimizer(
            tf.compat.v1.train.AdamOptimizer(self.finetune_lr), self.device,
            self.cfg.get('device', {}).get('loss_scale', config_lib.DEVICE['loss_scale']))
        trainable = [v for v in tf.compat.v1.trainable_variables()
                     if v.op.name.startswith('osmn/')]
        self.finetune_steps_ops = []   # (loss, update) per fine-tuning size
        with tf.name_scope('finetune'):
            for size in self.finetune_sizes:
                inputs = augment.assemble(batch, size, i, training=True)
                logit_map = model.logits(inputs['image'], inputs['guide'], inputs['heatmap'],
                                         dict(m, fix_bn=not self.finetune_per_object), True)
                summed, mean = model.balanced_loss(logit_map, inputs['label'])
                loss = summed if m.get('loss', 'sum') == 'sum' else mean
                total = loss + tf.compat.v1.losses.get_regularization_loss()
                self.finetune_steps_ops.append(
                    (loss, optimizer.minimize(total, var_list=trainable)))
        model_variables = set(self.model_variables)
        self.finetune_reset = tf.compat.v1.variables_initializer(   # Adam slots, scales
            [v for v in tf.compat.v1.global_variables() if v not in model_variables])

    def _restore(self):
        """Check the checkpoint against the graph, then load its model weights."""
        import tensorflow as tf
        self.reader = reader = tf.train.load_checkpoint(self.checkpoint)
        shapes = reader.get_variable_to_shape_map()
        for var in self.model_variables:
            name = var.op.name
            if name not in shapes:
                raise SegmentError('%s has no %s: not an OSMN checkpoint of this code' % (
                    self.checkpoint, name))
            if list(shapes[name]) != var.shape.as_list():
                raise SegmentError('%s: %s has shape %s, the run config builds %s' % (
                    self.checkpoint, name, shapes[name], var.shape.as_list()))
        self._load_weights()

    def _load_weights(self):
        """The checkpoint's model weights into the session, fed to the variables' initializers
        (one sess.run): no Save / Restore ops in the graph, whose every op is what runs on the
        device (the op review, trainers/device.py); then the up-sampling surgery."""
        self.sess.run([v.initializer for v in self.model_variables],
                      {v.initializer.inputs[1]: self.reader.get_tensor(v.op.name)
                       for v in self.model_variables})
        self.sess.run(self.surgery)

    def close(self):
        self._reader.shutdown()
        self._writer.shutdown()
        self.sess.close()

    # -- per video ------------------------------------------------------------------------------

    def _check_frame_size(self, video):
        if video.size[0] > self.max_frame[0] or video.size[1] > self.max_frame[1]:
            raise SourceError(video.where, 'frames are %dx%d, larger than --max-frame-size %d %d'
                              % (video.size[0], video.size[1], self.max_frame[0],
                                 self.max_frame[1]))

    def _put_guide(self, rgb, obj, video):
        h, w = rgb.shape[:2]
        box = tight_box(obj.mask)
        if box is None:
            raise SourceError(video.where, 'the given mask of object %d (frame %s) is empty' % (
                obj.id, video.frame_names[obj.first_frame]))
        self._guide_frame[0, :h, :w] = rgb
        self._guide_mask[0, :h, :w] = obj.mask
        return {self.guide_frame: self._guide_frame, self.guide_mask: self._guide_mask,
                self.guide_box: [box], self.frame_size: [[h, w]]}

    def _start(self, obj, rgb, video):
        """(cached channel scales, given mask at network size) of an object."""
        scales, mask = self.sess.run([self.scales, self.given_mask],
                                     self._put_guide(rgb, obj, video))
        return scales[0], mask

    def _segment_objects(self, objects, scales, previous, frame_size):
        """Probability maps [len(objects), h, w] of the frame in self._frame."""
        out = []
        for start in range(0, len(objects), self.batch):
            chunk = objects[start:start + self.batch]
            pad = [chunk[-1]] * (self.batch - len(chunk))   # static batch: repeat, then drop
            probs = self.sess.run(self.probabilities, {
                self.frame: self._frame, self.frame_size: frame_size,
                self.previous: np.stack([previous[o.id] for o in chunk + pad]),
                self.object_scales: np.stack([scales[o.id] for o in chunk + pad])})
            out.extend(probs[:len(chunk)])
        return out

    def finetune(self, video, objects=None):
        """Fresh copy of the checkpoint's weights trained on the given masks of `objects` (all
        of the video's by default), finetune_steps per object (objects in turn); returns the
        first and last loss and the number of steps."""
        objects = list(objects or video.objects)
        self._load_weights()
        self.sess.run(self.finetune_reset)
        frames, losses = {}, []
        key = video.name if not self.finetune_per_object else '%s/%d' % (video.name,
                                                                          objects[0].id)
        schedule = finetune_schedule(self.seed, key, objects, self.finetune_steps,
                                     len(self.finetune_steps_ops))
        for obj, uniforms, scale in schedule:
            if obj.first_frame not in frames:
                frames[obj.first_frame] = video.image(obj.first_frame)
            feed = self._put_guide(frames[obj.first_frame], obj, video)
            feed[self.uniforms] = uniforms
            loss, _ = self.sess.run(self.finetune_steps_ops[scale], feed)
            losses.append(float(loss))
        return losses[0], losses[-1], len(losses)

    def _probabilities(self, video, objects, timer):
        """Yield (t, [(object, probability map at network size)]) for every frame of the video to
        write, in order: the network runs for each of `objects` after its first frame (on its
        own previous binary prediction), and an object's channel scales come from its first."""
        height, width = video.size
        frame_size = [[height, width]]
        first = min(o.first_frame for o in objects)
        # decoding the next frame overlaps the network (TF releases the GIL)
        read_ahead = {first: self._reader.submit(video.image, first)}
        scales, previous = {}, {}
        try:
            for t in range(len(video.frame_names)):
                active = [o for o in objects if o.first_frame < t]
                starting = [o for o in objects if o.first_frame == t]
                if not active and not starting:
                    if t in video.output_frames:
                        yield t, []
                    continue
                with timer.part('io'):
                    rgb = read_ahead.pop(t).result()
                if t + 1 < len(video.frame_names):
                    read_ahead[t + 1] = self._reader.submit(video.image, t + 1)
                probs = []
                if active:
                    self._frame[0, :height, :width] = rgb
                    with timer.part('network'):
                        probs = self._segment_objects(active, scales, previous, frame_size)
                    for obj, prob in zip(active, probs):
                        previous[obj.id] = (prob > 0.5).astype(np.uint8)
                for obj in starting:
                    with timer.part('modulator'):
                        scales[obj.id], previous[obj.id] = self._start(obj, rgb, video)
                yield t, list(zip(active, probs))
        finally:
            with timer.part('io'):
                for pending in read_ahead.values():
                    pending.result()   # re-raises a failed read here

    def _per_object_probabilities(self, video, timer, stats):
        """The reference's per-object copies: {t: [(object, probability map)]} in the video's
        object order, each object fine-tuned and run alone (float16 until the merge)."""
        maps = collections.defaultdict(list)
        stats['finetune_steps'], first_losses, last_losses = 0, [], []
        for obj in video.objects:
            with timer.part('finetune'):
                first_loss, last_loss, steps = self.finetune(video, [obj])
            stats['finetune_steps'] += steps
            first_losses.append(first_loss)
            last_losses.append(last_loss)
            for t, probs in self._probabilities(video, [obj], timer):
                maps[t].extend((o, p.astype(np.float16)) for o, p in probs)
        stats['finetune_loss_first'] = float(np.mean(first_losses))
        stats['finetune_loss_last'] = float(np.mean(last_losses))
        for t in sorted(maps):
            yield t, [(o, p.astype(np.float32)) for o, p in maps[t]]

    def segment(self, video, writer):
        """Segment every frame of a video into `writer`; returns its timing and counts."""
        self._check_frame_size(video)
        if not video.objects:
            raise SourceError(video.where, 'no object to segment')
        timer, start = Timer(), time.time()
        stats = {'video': video.name, 'objects': len(video.objects),
                 'frames': len(video.frame_names), 'segmented_frames': 0}
        if video.size != self._last_size:   # no pixels of a larger earlier video around
            self._frame[:] = 0
            self._guide_frame[:] = 0
            self._guide_mask[:] = 0
            self._last_size = video.size
        if self.finetune_steps and self.finetune_per_object:
            frames = self._per_object_probabilities(video, timer, stats)
        else:
            if self.finetune_steps:
                with timer.part('finetune'):   # restore, training and its frame reads
                    (stats['finetune_loss_first'], stats['finetune_loss_last'],
                     stats['finetune_steps']) = self.finetune(video)
            frames = self._probabilities(video, video.objects, timer)
        writes = []
        try:
            for t, probs in frames:
                labels = np.zeros(video.size, np.uint8)
                if probs:
                    stats['segmented_frames'] += 1
                    labels = resize_labels(merge_labels([p for _, p in probs],
                                                        [o.id for o, _ in probs]), video.size)
                for obj in video.objects:
                    if obj.first_frame == t:
                        labels[obj.mask > 0] = obj.id
                writes.append(self._writer.submit(writer.write, video, t, labels,
                                                  {o.id: p for o, p in probs}))
        finally:
            with timer.part('io'):
                for pending in writes:
                    pending.result()   # re-raises a failed write here
        stats['seconds'] = time.time() - start
        stats.update({k + '_seconds': v for k, v in timer.seconds.items()})
        return stats
