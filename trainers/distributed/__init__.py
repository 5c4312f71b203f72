"""Data-parallel training: one process (rank) per device, every rank building the same graph and
reading its own part of the data; gradients are averaged across the ranks before each update, so
all ranks apply the same update and keep bit-identical variables.

One module per concern:
  topology.py           where this process stands among the ranks (from its environment)
  settings.py           the `parallel` config section; per-rank seeds, learning-rate scaling
  collective_engine.py  the CPU/GPU engine: gRPC server, session config, Collectives
                        (the Ascend engine's HCCL collectives are the device layer's, device.py)
  gradients.py          packed gradient all-reduce and the optimizer wrapper running it
  agreement.py          start-up agreement, rank 0's variables broadcast, stopping together
  sync_batch_norm.py    batch normalisation over the global batch
  watchdog.py           a step whose peer died ends the process with a message naming it
  rank_table.py         HCCL rank tables (read and written by the launcher, trainers/launch.py)
  data_parallel.py      what a trainer's graph and the training loop use: DataParallel, Cluster
The launcher that starts and supervises the ranks is trainers/launch.py.
"""
