"""Apache Beam pipelines: raw datasets -> sharded TFRecords of the `schemas` record kinds.

`core` holds the plumbing every dataset shares (shard planning and writing, dead letters,
dataset_info.json, atomic output, runner options); one module per dataset supplies the converter
and its composite transform.
"""
