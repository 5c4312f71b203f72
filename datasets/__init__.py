"""How each dataset looks on disk: layouts, listings, annotation parsers, palettes, split names.

The bottom layer with `schemas/`: pure Python, numpy, OpenCV, lxml and PIL; it imports neither
Apache Beam nor TensorFlow (fileio imports TensorFlow for a remote path only), nor anything above
it (pipelines, trainers, trackers, segmenters, evaluation) or `sampledata`.

One module per source: `vid`, `coco`, `davis`, `ytvos`, `otb`; shared by several: `frames`
(video frame folders), `tracking` (tracking sequences), `images`, `palette` (palette PNGs and the
void label), `fileio`, `errors`. docs/datasets.md says what each accepts.
"""
