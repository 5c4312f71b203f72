"""Checks of a real host, above every other layer: `python -m doctor` (`make npu-doctor`) builds
and runs the trainers', the tracker's and the segmenter's graphs on the Ascend NPUs it finds."""
