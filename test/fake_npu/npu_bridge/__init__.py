"""A test double of Huawei's `npu_bridge` (the CANN TensorFlow adapter) for CPU-only CI.

It models, on stock TensorFlow, exactly the adapter behaviours the trainers depend on
(read from Ascend/tensorflow, tf_adapter/python/npu_bridge), so the NPU code path runs in tests:

* `estimator.npu.util.set_iteration_per_loop(sess, op, N)` groups the op as `IterationOp`; only an
  op of exactly that name is looped (a second call in one graph makes `IterationOp_1`, which the
  real GeOp runs once per `session.run`: the double raises instead, so the mistake fails loudly).
  `session.run` of `IterationOp` runs everything it fetches N times; fetched tensors are those of the
  last iteration. The session's config must carry the same `iterations_per_loop`.
* `NPULossScaleOptimizer` skips the update, and the `global_step` increment with it, on a step
  whose float status (one per step, as the chip's: a forward fp16 overflow, a non-finite loss or
  gradient) is set or that `fake.OVERFLOW` marks as overflowing; its
  `ExponentialUpdateLossScaleManager` counts good and bad steps as the adapter's does.
  `fake.ADAPTER` selects the dataflow of adapters <= r1.6.0 (status allocated in
  compute_gradients).
* `hccl_ops.allreduce` refuses dtypes other than int8/int16/int32/fp16/fp32.
* `fake.SESSIONS` records the session configs handed to `set_iteration_per_loop`.

Put `test/fake_npu` first on sys.path to use it (test/fake_npu_env.py does that).
"""
