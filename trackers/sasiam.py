"""The SA-Siam tracker (docs/tracking.md, "The tracker"): inference graph and update rule.

Tracking runs in two parts, so that everything the device sees has a static shape:

  * host (HostGraph, its own CPU session, every op on /cpu:0): the variable-size part. The
    decoded uint8 frame (any size) and the three search boxes of this frame go in; the three
    255x255 float32 search crops come out (bilinear crop_and_resize; numpy then puts the
    frame's mean colour where samples fall outside);
  * device (TrackerGraph, a session of the trainer's device layer): the float32 crops
    [3, 255, 255, 3] go in, the three 17x17 responses come out. It reuses the trainer's one
    model definition (trainers.sasiam.model.embed / xcorr / adjust) with batch norm in inference
    mode; its op types are plain or reviewed in trainers.device.TRAINING_OP_REVIEW (a test);
  * init: the centre-scale search crop of the first frame is embedded as an exemplar (the whole
    255 crop; centre feature crop, semantic channel attention) into a non-trainable variable
    target_template/State/exemplar_<branch>; it is never updated afterwards;
  * later frames: 3 search crops (scale factors 1.0375^{-1,0,1}) are embedded, correlated with
    the template and adjusted (1e-3 * corr + bias); with both branches the response is
    c_appearance * appearance + (1 - c_appearance) * semantic (0.3 / 0.7), each branch restored
    from its own training run by name mapping (model.branch_restore_map);
  * then on the host, in float64 numpy: the x16 bicubic upsampling (align_corners; a matrix
    product with the interpolation weights of TensorFlow's own resize_bicubic, taken once from
    the host graph) and the update rule of section 7.4 (`update`).

The reference pads the appearance maps by 1 px to the semantic size before correlating; a zero
border around both maps leaves the valid correlation unchanged, so the branches are correlated at
their own sizes here.

A third, non-learned embedding 'pixel_pool' (per-crop mean-subtracted pixels through an 8x8,
stride-8 average pool) needs no checkpoint; tests use it to prove the mechanics without weights.
Branches (which network, from which run) are loaded by trackers/sasiam_branches.py.
"""
from __future__ import absolute_import, division, print_function

import collections
import time

import numpy as np

from schemas import vid_track
from trackers.sasiam_branches import PIXEL_POOL, TrackerError, tracker_name
from trainers.sasiam import model

TRACK_DEFAULTS = {
    'z_size': vid_track.EXEMPLAR_SIDE,   # only sets the context: s_x = s_z * x_size / z_size
    'x_size': vid_track.SEARCH_SIDE,
    'context_amount': vid_track.CONTEXT_AMOUNT,
    'num_scales': 3,
    'scale_step': 1.0375,
    'scale_penalty': 0.9745,     # multiplies the peak of every non-centre scale
    'scale_damp': 0.59,
    'window_influence': 0.176,   # Hann window weight
    'upsample_factor': 16,
    'min_scale': 0.2,            # target size clamp, relative to the first box
    'max_scale': 5.0,
    'c_appearance': 0.3,         # appearance weight of the combined tracker
    'response_scale': 1e-3,      # of the non-learned pixel_pool embedding (networks: their own)
}


# -- geometry and update rule (numpy; sections 7.2 and 7.4) ---------------------------------------

State = collections.namedtuple('State', 'cy cx h w h0 w0')


def scale_factors(num_scales, scale_step):
    """scale_step ** {-(n-1)/2 .. (n-1)/2}: 0.9639, 1, 1.0375 for the defaults."""
    return scale_step ** (np.arange(num_scales) - (num_scales - 1) / 2.0)


def initial_state(box):
    """0-based (x, y, w, h) of the first frame -> State; the centre is x + (w - 1) / 2."""
    x, y, w, h = [float(v) for v in box]
    if not (w > 0 and h > 0):
        raise TrackerError('the first box must have a positive width and height, got %s'
                           % (list(box),))
    return State(y + (h - 1) / 2.0, x + (w - 1) / 2.0, h, w, h, w)


def box_of(state):
    """State -> 0-based top-left box (x, y, w, h)."""
    return np.array([state.cx - (state.w - 1) / 2.0, state.cy - (state.h - 1) / 2.0,
                     state.w, state.h])


def search_side(h, w, cfg):
    """s_x: side in frame pixels of the search region of a target of h x w (context 0.5)."""
    p = cfg['context_amount'] * (w + h)
    return np.sqrt((w + p) * (h + p)) * cfg['x_size'] / float(cfg['z_size'])


def search_boxes(cy, cx, s_x, factors, frame_h, frame_w):
    """crop_and_resize boxes [n, 4] (y1, x1, y2, x2, normalised by frame_dim - 1) of the square
    windows of side f * s_x centred on (cy, cx), one per scale factor f."""
    half = (np.asarray(factors, np.float64) * s_x - 1) / 2.0
    return np.stack([(cy - half) / (frame_h - 1), (cx - half) / (frame_w - 1),
                     (cy + half) / (frame_h - 1), (cx + half) / (frame_w - 1)],
                    axis=1).astype(np.float32)


def hann_window(size):
    """Outer product of two np.hanning(size), normalised to sum 1 (float64)."""
    h = np.hanning(size)
    window = np.outer(h, h)
    return window / window.sum()


def upsample(responses, matrix):
    """[n, R, R] responses -> [n, U, U] float64: matrix [U, R] @ r @ matrix.T, i.e. separable
    interpolation with the per-axis weights in matrix (HostGraph.upsample_matrix: TensorFlow's)."""
    matrix = np.asarray(matrix, np.float64)
    return np.matmul(np.matmul(matrix, np.asarray(responses, np.float64)), matrix.T)


def update(state, upsampled, s_x, cfg, window, stride=model.STRIDE):
    """One step of section 7.4 from the upsampled responses [n_scales, U, U] of the search
    regions of side factor * s_x: returns (new State, index of the chosen scale). Computed in
    float64 (as the reference's numpy), whatever the dtype of the responses."""
    upsampled = np.asarray(upsampled, np.float64)
    window = np.asarray(window, np.float64)
    n, size = upsampled.shape[0], upsampled.shape[1]
    factors = scale_factors(n, cfg['scale_step'])
    peaks = upsampled.reshape(n, -1).max(axis=1)
    peaks = peaks * np.where(np.arange(n) == n // 2, 1.0, cfg['scale_penalty'])
    best = int(np.argmax(peaks))
    r = upsampled[best] - upsampled[best].min()
    total = r.sum()
    r = r / total if total > 0 else np.full_like(r, 1.0 / r.size)  # a flat map: no evidence
    r = (1 - cfg['window_influence']) * r + cfg['window_influence'] * window
    i, j = np.unravel_index(int(np.argmax(r)), r.shape)
    limit = int(size / cfg['upsample_factor'] / 2)
    cells = np.clip((np.array([i, j], np.float64) - (size - 1) / 2.0) / cfg['upsample_factor'],
                    -limit, limit)
    scale_x = cfg['x_size'] / (factors[best] * s_x)
    dy, dx = cells * stride / scale_x
    t = (state.h / state.h0) * ((1 - cfg['scale_damp']) + cfg['scale_damp'] * factors[best])
    t = float(np.clip(t, cfg['min_scale'], cfg['max_scale']))
    return state._replace(cy=state.cy + dy, cx=state.cx + dx, h=state.h0 * t,
                          w=state.w0 * t), best


# -- the inference graph ---------------------------------------------------------------------------

def pixel_pool_features(images, is_exemplar):
    """Non-learned stride-8 embedding: per-image mean-subtracted pixels, 8x8 average pool; the
    exemplar keeps its centre (width - 16) cells, so the response has 17 cells as the networks'."""
    import tensorflow as tf
    pooled = tf.nn.avg_pool2d(images - tf.reduce_mean(images, axis=[1, 2], keepdims=True),
                              model.STRIDE, model.STRIDE, 'VALID')
    if not is_exemplar:
        return pooled
    size = pooled.shape.as_list()[1]
    left = 8
    return pooled[:, left:size - left, left:size - left, :]


def frame_mean(frame):
    """Per-channel mean of an RGB uint8 frame (float64, exact), the colour outside the frame."""
    import cv2
    return np.array(cv2.mean(frame)[:3])


def search_crops(frame, boxes, size):
    """[n, size, size, 3] float32 crops of a uint8 frame, bilinear (crop_and_resize), with -1
    where a sample falls outside the frame (fill_outside puts the frame's mean there). Host side
    (HostGraph): the frame's size varies.

    The reference crops frame - mean and adds the mean back, so outside samples take the frame's
    mean colour (float, as the reference at tracking time); bilinear weights sum to 1, so that
    equals cropping the uint8 frame directly and putting the mean where crop_and_resize marks a
    sample as outside with an impossible value. It saves a float copy of the whole frame per
    frame (4x faster on 720p here); the mean comes from cv2.mean (0.2-0.4 ms)."""
    import tensorflow as tf
    n = boxes.shape.as_list()[0]
    return tf.image.crop_and_resize(frame[None], boxes, crop_size=[size, size],
                                    box_indices=tf.zeros([n], tf.int32), extrapolation_value=-1.0)


def fill_outside(crops, mean):
    """search_crops' output with the mean colour where it marks samples outside the frame, in
    place (numpy: only the outside pixels are written; 2-3 ms less than a select over the whole
    crops in the graph on 720p frames)."""
    outside = crops[..., 0] < 0
    if outside.any():
        crops[outside] = mean
    return crops


def bicubic_resize_basis(size, factor):
    """The graph of [size * factor, size] interpolation weights of resize_bicubic (align_corners)
    along one axis: the resized unit vectors. The 2-D resize is separable with these weights."""
    import tensorflow as tf
    basis = tf.eye(size)[:, :, None, None]                   # [k, size, 1, 1]: unit vector e_k
    resized = tf.compat.v1.image.resize_bicubic(basis, [size * factor, 1], align_corners=True)
    return tf.transpose(resized[:, :, 0, 0])


class HostGraph(object):
    """The variable-size part of tracking, on the host (/cpu:0, a plain CPU session): search
    crops of a frame of any size, and once, the bicubic weights of the upsampling."""

    def __init__(self, cfg, response_size):
        import tensorflow as tf
        from trainers import device as device_lib
        self.graph = tf.Graph()
        with self.graph.as_default(), tf.device('/cpu:0'):
            self.frame = tf.compat.v1.placeholder(tf.uint8, [None, None, 3], name='frame')
            self.boxes = tf.compat.v1.placeholder(tf.float32, [cfg['num_scales'], 4],
                                                  name='search_boxes')
            self.crops = search_crops(self.frame, self.boxes, cfg['x_size'])
            basis = bicubic_resize_basis(response_size, cfg['upsample_factor'])
        self.graph.finalize()
        config = device_lib.session_config('cpu')
        config.device_count['GPU'] = 0
        self.sess = tf.compat.v1.Session(graph=self.graph, config=config)
        self.upsample_matrix = self.sess.run(basis).astype(np.float64)

    def search_crops(self, frame, boxes):
        """[n, x_size, x_size, 3] float32 crops of an RGB uint8 frame at the boxes."""
        crops = self.sess.run(self.crops, {self.frame: frame, self.boxes: boxes})
        return fill_outside(crops, frame_mean(frame))

    def close(self):
        self.sess.close()


class TrackerGraph(object):
    """The device part of one or two branches in the current default graph: float32 search
    crops [num_scales, x_size, x_size, 3] in, responses [num_scales, R, R] out; static shapes."""

    def __init__(self, branches, cfg):
        import tensorflow as tf
        self.branches, self.cfg = list(branches), cfg
        n, size = cfg['num_scales'], cfg['x_size']
        self.crops = tf.compat.v1.placeholder(tf.float32, [n, size, size, 3], name='search_crops')
        exemplar = self.crops[n // 2:n // 2 + 1]
        assigns, responses, self.restore_maps = [], [], []
        for branch in self.branches:
            if branch.kind == PIXEL_POOL:
                z = pixel_pool_features(exemplar, True)
                x = pixel_pool_features(self.crops, False)
            else:
                z = model.embed(exemplar, branch.model, True, is_training=False)
                x = model.embed(self.crops, branch.model, False, is_training=False, reuse=True)
            with tf.compat.v1.variable_scope('target_template/State'):
                template = tf.compat.v1.get_variable(
                    'exemplar_' + branch.kind, z.shape, tf.float32, tf.zeros_initializer(),
                    trainable=False, collections=[tf.compat.v1.GraphKeys.LOCAL_VARIABLES])
            assigns.append(tf.compat.v1.assign(template, z))
            correlation = model.xcorr(tf.tile(template, [n, 1, 1, 1]), x)
            if branch.kind == PIXEL_POOL:
                resp = cfg['response_scale'] * correlation
            else:
                resp = model.adjust(correlation, branch.model, bias_name='biases_' + branch.kind)
                bias = [v for v in tf.compat.v1.global_variables()
                        if v.op.name == 'detection/biases_' + branch.kind][0]
                self.restore_maps.append((branch, model.branch_restore_map(
                    branch.kind, bias, tf.compat.v1.global_variables())))
            responses.append(branch.weight * resp)
        self.response = tf.add_n(responses)                         # [n, 17, 17]
        self.response_size = self.response.shape.as_list()[1]
        self.init_op = tf.group(*assigns)

    def restore(self, sess):
        """Variables initialised, then each branch restored from its checkpoint by name."""
        import tensorflow as tf
        sess.run([tf.compat.v1.global_variables_initializer(),
                  tf.compat.v1.local_variables_initializer()])
        for branch, mapping in self.restore_maps:
            if branch.checkpoint is None:   # benchmarks: speed does not depend on the values
                continue
            try:
                stored = dict(tf.train.list_variables(branch.checkpoint))
            except (tf.errors.OpError, ValueError) as err:
                raise TrackerError('cannot read checkpoint %s: %s' % (
                    branch.checkpoint, str(err).splitlines()[0]))
            for name, variable in sorted(mapping.items()):
                if name not in stored:
                    raise TrackerError('%s has no variable %s (is it a %s run?)'
                                       % (branch.checkpoint, name, branch.kind))
                if list(stored[name]) != variable.shape.as_list():
                    raise TrackerError(
                        '%s: %s has shape %s, the %s config expects %s (model.width differs?)'
                        % (branch.checkpoint, name, stored[name], branch.name,
                           variable.shape.as_list()))
            try:
                tf.compat.v1.train.Saver(mapping).restore(sess, branch.checkpoint)
            except tf.errors.OpError as err:
                raise TrackerError('cannot restore %s: %s' % (
                    branch.checkpoint, str(err).splitlines()[0]))


class SiamTracker(object):
    """init(frame, box) / update(frame) -> box on decoded RGB uint8 frames, 0-based boxes.
    `timing` accumulates seconds spent in the network (the device's sess.run) and on the host
    (search boxes, crops, upsampling, update rule), and of the latter in the crops alone.
    close() (or a with block) ends both sessions."""

    def __init__(self, graph, sess, host, name):
        self.graph, self.sess, self.host, self.name = graph, sess, host, name
        self.cfg = graph.cfg
        self.factors = scale_factors(self.cfg['num_scales'], self.cfg['scale_step'])
        self.window = hann_window(graph.response_size * self.cfg['upsample_factor'])
        self.state = None
        self.timing = {'network_s': 0.0, 'host_s': 0.0, 'crop_s': 0.0}

    def _crops(self, frame):
        """(s_x, feed dict of the device graph) of this frame's search regions."""
        s_x = search_side(self.state.h, self.state.w, self.cfg)
        boxes = search_boxes(self.state.cy, self.state.cx, s_x, self.factors, frame.shape[0],
                             frame.shape[1])
        start = time.time()
        crops = self.host.search_crops(frame, boxes)
        self.timing['crop_s'] += time.time() - start
        return s_x, {self.graph.crops: crops}

    def _run(self, fetch, feed):
        start = time.time()
        out = self.sess.run(fetch, feed)
        self.timing['network_s'] += time.time() - start
        return out

    def init(self, frame, box):
        start = time.time()
        self.state = initial_state(box)
        _, feed = self._crops(frame)
        self.timing['host_s'] += time.time() - start
        self._run(self.graph.init_op, feed)
        return box_of(self.state)

    def responses(self, frame):
        """(s_x, upsampled float64 responses [n, U, U]) of a frame around the current state."""
        start = time.time()
        s_x, feed = self._crops(frame)
        host = time.time() - start
        response = self._run(self.graph.response, feed)
        start = time.time()
        upsampled = upsample(response, self.host.upsample_matrix)
        self.timing['host_s'] += host + time.time() - start
        return s_x, upsampled

    def update(self, frame):
        s_x, upsampled = self.responses(frame)
        start = time.time()
        self.state, _ = update(self.state, upsampled, s_x, self.cfg, self.window)
        box = box_of(self.state)
        self.timing['host_s'] += time.time() - start
        return box

    def close(self):
        self.sess.close()
        self.host.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_tracker(branches, cfg, device='cpu'):
    """SiamTracker for branches: the device part on a device of trainers.device
    (auto|npu|gpu|cpu) in a new graph with restored weights, the host part on the CPU. The
    caller closes it (tracker.close() or a with block)."""
    import tensorflow as tf
    from trainers import device as device_lib
    resolved = device_lib.resolve(device)
    graph = tf.Graph()
    with graph.as_default():
        tracker_graph = TrackerGraph(branches, cfg)
        sess = tf.compat.v1.Session(graph=graph, config=device_lib.session_config(resolved))
        try:
            tracker_graph.restore(sess)
            graph.finalize()
            host = HostGraph(cfg, tracker_graph.response_size)
        except Exception:
            sess.close()
            raise
    return SiamTracker(tracker_graph, sess, host, tracker_name(branches))
