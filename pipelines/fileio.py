"""Alias of `datasets.fileio`, where file access now lives (the readers below the pipelines use
it too): `pipelines.fileio` is the same module object, so patching either patches both."""
import sys

from datasets import fileio

sys.modules[__name__] = fileio
