"""How each dataset looks on disk: layouts, listings, annotation parsers, palettes, split names.

The bottom layer with `schemas/`: pure Python, numpy, OpenCV, lxml and PIL; it imports neither
Apache Beam nor TensorFlow, and nothing above it (pipelines, trainers, trackers, segmenters,
evaluation) or `sampledata`.
"""
