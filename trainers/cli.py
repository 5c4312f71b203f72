"""What every trainer's command line shares: flags, their config overrides, and the run."""
from __future__ import absolute_import, division, print_function

import faulthandler
import os
import sys

from trainers import config as config_lib
from trainers import device as device_lib
from trainers import loop, reader
from trainers import run_dir as run_dir_lib
from trainers.distributed import collective_engine, settings, topology as topology_lib
from trainers.distributed.data_parallel import DataParallel


def add_common_args(parser):
    parser.add_argument('--run-dir')
    parser.add_argument('--steps', type=int)
    parser.add_argument('--device', choices=device_lib.DEVICES)
    parser.add_argument('--iterations-per-loop', type=int)
    parser.add_argument('--precision-mode')
    parser.add_argument('--random-init-for-tests', action='store_true',
                        help='start without pretrained weights (smoke tests only)')
    parser.add_argument('--seed', type=int)
    parser.add_argument('--config', help='JSON file of overrides')
    parser.add_argument('--allow-changed-records', action='store_true', default=None,
                        help='resume a run on records other than the ones it started on')
    parser.add_argument('--set', action='append', default=[], metavar='KEY=VALUE',
                        help='override any config value, e.g. --set input.batch_size=16')
    parser.add_argument('--verify-records', action='store_true',
                        help='before training, re-read every shard as `python -m schemas '
                             'verify` does (CRCs, checksums, counts, every example decoded)')


def common_flags(args, extra=()):
    """Config overrides from the shared flags plus (section, key, value) extras (None = unset)."""
    flags = {}
    for section, key, value in tuple(extra) + (
            ('train', 'run_dir', args.run_dir), ('train', 'steps', args.steps),
            ('train', 'seed', args.seed), ('device', 'device', args.device),
            ('device', 'iterations_per_loop', args.iterations_per_loop),
            ('device', 'precision_mode', args.precision_mode),
            ('model', 'random_init_for_tests', args.random_init_for_tests or None),
            ('train', 'allow_changed_records', args.allow_changed_records)):
        if value is not None:
            flags.setdefault(section, {})[key] = value
    return flags


def run(build, cfg, process_ends=False, topology=None):
    """Resolve the device and the data-parallel topology (topology.from_env unless given), build
    the graph with build(cfg, device, dp) -> (Trainable, resolved config), train; known failures
    become a message and exit status 1."""
    import tensorflow as tf
    try:
        topology = topology_lib.from_env() if topology is None else topology
        device = device_lib.resolve(cfg['device']['device'])
        topology_lib.check_device(topology, device)
        settings.check_config(cfg['parallel'])
        session_config = collective_engine.cluster_session_config(
            device_lib.session_config(device, cfg['device']['precision_mode'],
                                      cfg['device']['iterations_per_loop'], cfg['device']['npu']),
            topology, cfg['parallel']['communication'])
        server = collective_engine.start_server(topology, session_config)
        graph = tf.Graph()
        with graph.as_default():
            dp = DataParallel(topology, _collectives(topology, cfg['parallel']),
                              cfg['parallel'], server.target if server else '')
            if topology.distributed:
                sys.stderr.write('rank %d of %d (%s engine)\n'
                                 % (topology.rank, topology.size, topology.engine))
            trainable, cfg = build(cfg, device, dp)
            # a process that ends right after leaves the session to the OS (exit_process)
            loop.train(trainable, cfg, device, session_config, close_session=not process_ends,
                       dp=dp)
    except (config_lib.ConfigError, device_lib.DeviceError, reader.RecordsError,
            loop.TrainingDiverged, topology_lib.ParallelError, run_dir_lib.RunFailed,
            OSError) as err:
        sys.stderr.write('error: %s\n' % err)
        return 1
    return 0


def _collectives(topology, cfg):
    """The collectives of the topology's engine: TensorFlow's (CPU/GPU) or HCCL's (the device
    layer, Ascend); None for one process."""
    if topology.engine == 'collective':
        return collective_engine.Collectives(topology, cfg['communication'])
    if topology.engine == 'hccl':
        return device_lib.hccl_collectives(topology, cfg)
    return None


def main(parse_args, config_from_args, build, argv=None, process_ends=False):
    """A trainer's main(): flags -> config -> run; exit status."""
    if not faulthandler.is_enabled():
        faulthandler.enable()  # a native crash prints every thread's Python stack to stderr
    args = parse_args(argv)
    try:
        cfg = config_from_args(args)
    except config_lib.ConfigError as err:
        sys.stderr.write('error: %s\n' % err)
        return 1
    return run(verified(build) if getattr(args, 'verify_records', False) else build, cfg,
               process_ends)


def verified(build):
    """`build`, then schemas.verify on the records folder it resolved (input.records): each
    problem on stderr and RecordsError (exit 1) before any training step."""
    def build_and_verify(cfg, device, dp):
        from schemas import verify
        trainable, cfg = build(cfg, device, dp)
        for records in reader.records_dirs(cfg['input']['records']):  # each of several folders
            report = verify.verify(records)
            for line in report.lines()[:-1]:
                sys.stderr.write('%s\n' % line)
            if not report.ok:
                raise reader.RecordsError('--verify-records: %s' % report.lines()[-1])
            sys.stderr.write('--verify-records: %s\n' % report.lines()[-1])
        return trainable, cfg
    return build_and_verify


def exit_process(status):
    """End a trainer process with `status` once its work is on disk, without closing the session
    or tearing the interpreter down. Finding (36 identical 12-step SA-Siam CPU runs, faulthandler
    on): 2 died with SIGSEGV inside Session.close(); a gdb backtrace later placed it in tf.data's
    autotuning model (`Model::RemoveNode` from a parallel-interleave thread during iterator
    teardown), which the readers now leave out (reader.without_autotune_model). This stays as a
    second line of defence: TF 1.x has more teardown races at interpreter exit (tensorflow#7854,
    #40186), and checkpoints, logs, summary.json and TensorBoard are written and closed before
    this point. The command-line entry points call this (with main(process_ends=True));
    in-process callers (tests) keep the normal close."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
