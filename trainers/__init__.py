"""tf.data trainers for TF 1.15 on Ascend NPU / GPU / CPU.

decoder (schemas) -> parser / sampler (per model) -> reader -> model -> loop; `device` is the only
module that knows about the NPU.
"""
