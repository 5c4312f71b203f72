"""Apache Beam pipelines: raw datasets -> sharded TFRecords of the `schemas` record kinds.

The plumbing every dataset shares, one module per concern: `converter` (the Converter contract
and its UnitResult), `dead_letters` (rejected inputs, --strict), `shards` (split hashing and shard
planning), `beam_steps` (the ConvertToShards transform and its shard-writing DoFn), `driver` (the
run, stop markers, merging the shards' parts, publishing), `report` (dataset_info, reconciled
counts, verdict, summary), `runner_options` (Beam flags), `output` (atomic output) and `cli`.
One module per dataset supplies the converter and its composite transform.
"""
