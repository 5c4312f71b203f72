"""`from npu_bridge.npu_init import *` of the double: the names the trainers use."""
from npu_bridge.estimator.npu import util  # noqa: F401
from npu_bridge.estimator.npu.npu_loss_scale_manager import (  # noqa: F401
    ExponentialUpdateLossScaleManager, FixedLossScaleManager)
from npu_bridge.estimator.npu.npu_loss_scale_optimizer import NPULossScaleOptimizer  # noqa: F401
from npu_bridge.estimator.npu.npu_optimizer import NPUDistributedOptimizer  # noqa: F401
from npu_bridge.hccl import hccl_ops  # noqa: F401
