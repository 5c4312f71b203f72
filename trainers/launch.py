"""Start the ranks of a data-parallel training on this host and supervise them.

CPU/GPU (TensorFlow collective all-reduce over gRPC), N local processes:
    python -m trainers.launch --workers 2 -- python -m trainers.sasiam --records out/vid ...
several hosts (run on every host, same --hosts and --port, its own --host-index):
    python -m trainers.launch --workers 4 --hosts 10.0.0.1,10.0.0.2 --host-index 0 --port 23456 \
        -- python -m trainers.sasiam ...
Ascend 910 (HCCL), one process per NPU:
    python -m trainers.launch --npus 8 -- python -m trainers.sasiam --device npu ...
    python -m trainers.launch --npus 8 --rank-table hccl_2x8.json --server-index 1 -- ...

Every rank gets its environment (TF_CONFIG for CPU/GPU; RANK_TABLE_FILE, RANK_SIZE, RANK_ID,
DEVICE_ID, ASCEND_DEVICE_ID, JOB_ID for Ascend) and its log, LOG_DIR/rank-<r>.log; rank 0's output
is also shown here. When a rank fails, the others are stopped (SIGTERM, then SIGKILL after
--grace-s) and the launcher exits with that rank's status, naming it. Ctrl-C / SIGTERM are passed
on to every rank (the trainers then save a checkpoint and exit together).
"""
from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

from trainers.distributed import rank_table, topology

HCCN_CONF = '/etc/hccn.conf'
DEFAULT_JOB_ID = '10087'
RANK_TABLE_HELP = (
    'Write one with the NPUs\' integrated NIC addresses (`cat /etc/hccn.conf` lists '
    'address_<N>=<ip> per device; `hccn_tool -i <N> -ip -g` shows one): {"status": '
    '"completed", "version": "1.0", "server_count": "1", "server_list": [{"server_id": '
    '"<host ip>", "device": [{"device_id": "0", "device_ip": "<ip>", "rank_id": "0"}, ...]}]}, '
    'and pass it with --rank-table.')


class LaunchError(ValueError):
    pass


def free_ports(count, host='127.0.0.1'):
    """Ports the kernel reports free right now (bound together so they differ)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind((host, 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def worker_addresses(workers, hosts=None, host_index=0, port=0):
    """Every rank's host:port, host after host; (addresses, this host's ranks)."""
    if workers < 1:
        raise LaunchError('--workers must be >= 1')
    hosts = hosts or ['127.0.0.1']
    if not 0 <= host_index < len(hosts):
        raise LaunchError('--host-index %d is outside the %d --hosts' % (host_index, len(hosts)))
    if len(hosts) > 1 and not port:
        raise LaunchError('several --hosts need a fixed --port (every host must compute the same '
                          'addresses)')
    if port:
        addresses = ['%s:%d' % (h, port + k) for h in hosts for k in range(workers)]
    else:
        addresses = ['%s:%d' % (hosts[0], p) for p in free_ports(workers, hosts[0])]
    first = host_index * workers
    return addresses, list(range(first, first + workers))


def collective_envs(addresses, ranks, one_gpu_each=False):
    """The environment additions of each local rank for the collective engine."""
    envs = []
    for local, rank in enumerate(ranks):
        env = {'TF_CONFIG': topology.tf_config(addresses, rank), 'LOCAL_RANK': str(local)}
        if one_gpu_each:
            env['CUDA_VISIBLE_DEVICES'] = str(local)
        envs.append(env)
    return envs


def one_host_rank_table(npus, first_device, hccn_conf_text, server_id):
    """The rank table of `npus` NPUs of this host, from /etc/hccn.conf's device addresses."""
    ips = rank_table.read_hccn_conf(hccn_conf_text)
    devices = list(range(first_device, first_device + npus))
    missing = [d for d in devices if d not in ips]
    if missing:
        raise LaunchError('%s has no address for device(s) %s. %s'
                          % (HCCN_CONF, ', '.join(map(str, missing)), RANK_TABLE_HELP))
    return rank_table.rank_table([(server_id, [(d, ips[d]) for d in devices])])


def hccl_envs(table_path, table, npus, server_index=0, job_id=DEFAULT_JOB_ID):
    """The environment additions of each local rank for HCCL."""
    devices, total = rank_table.rank_table_devices(table, server_index)
    if len(devices) != npus:
        raise LaunchError('--npus %d but server %d of %s lists %d devices'
                          % (npus, server_index, table_path, len(devices)))
    # ASCEND_DEVICE_ID is a logical id (an index into ASCEND_VISIBLE_DEVICES) and wins over the
    # physical DEVICE_ID (Ascend/tensorflow, tf_adapter/util/npu_attrs.cc): the local index, with
    # this server's devices made the visible ones unless the environment already chose them
    visible = {} if 'ASCEND_VISIBLE_DEVICES' in os.environ else {
        'ASCEND_VISIBLE_DEVICES': ','.join(str(device) for _, device in devices)}
    return [dict({'RANK_TABLE_FILE': os.path.abspath(table_path), 'RANK_SIZE': str(total),
                  'RANK_ID': str(rank), 'DEVICE_ID': str(device), 'ASCEND_DEVICE_ID': str(local),
                  'JOB_ID': str(job_id)}, **visible)
            for local, (rank, device) in enumerate(devices)]


def _host_ip():
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return '127.0.0.1'


class _Rank(object):
    def __init__(self, rank, command, env, log_path, echo):
        self.rank, self.log_path = rank, log_path
        self.log = open(log_path, 'w')
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        self.pump = threading.Thread(target=self._pump, args=(echo,), daemon=True)
        self.pump.start()

    def _pump(self, echo):
        for line in iter(self.process.stdout.readline, b''):
            text = line.decode('utf-8', 'replace')
            self.log.write(text)
            self.log.flush()
            if echo:
                sys.stdout.write('[rank %d] %s' % (self.rank, text))
                sys.stdout.flush()

    def signal(self, signum):
        try:
            os.killpg(self.process.pid, signum)
        except OSError:
            pass

    def close(self):
        self.pump.join(timeout=5)
        self.log.close()


def _status(code):
    return 128 - code if code < 0 else code


def _tail(path, lines=5):
    try:
        with open(path, errors='replace') as f:
            return ''.join(f.readlines()[-lines:])
    except OSError:
        return ''


def supervise(command, envs, ranks, log_dir, grace_s=30.0, poll_s=0.2, echo_rank=0):
    """Run `command` once per rank with os.environ + envs[i]; the launcher's exit status."""
    os.makedirs(log_dir, exist_ok=True)
    procs = []
    for rank, extra in zip(ranks, envs):
        env = dict(os.environ)
        # a stale outer value must not leak into a rank; POD_NAME, when set, overrides RANK_ID
        # in the adapter (tf_adapter/util/ge_plugin.cc)
        for key in ('TF_CONFIG', 'RANK_SIZE', 'RANK_ID', 'RANK_TABLE_FILE', 'LOCAL_RANK',
                    'POD_NAME'):
            env.pop(key, None)
        env.update(extra)
        procs.append(_Rank(rank, command, env,
                           os.path.join(log_dir, 'rank-%d.log' % rank), rank == echo_rank))
    sys.stderr.write('launch: %d ranks (%s), logs in %s/rank-<r>.log\n'
                     % (len(procs), ', '.join('rank %d pid %d' % (p.rank, p.process.pid)
                                              for p in procs), log_dir))
    requested = []  # times of the SIGINT / SIGTERM we received

    def forward(signum, frame):
        requested.append(time.time())
        for p in procs:
            p.signal(signal.SIGTERM)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        failed = None
        while failed is None and any(p.process.poll() is None for p in procs):
            failed = next((p for p in procs if p.process.poll() not in (None, 0)), None)
            if requested and time.time() - requested[0] > grace_s:
                break  # a rank blocked in an all-reduce never reaches its signal handler
            if failed is None:
                time.sleep(poll_s)
        if failed is None:
            failed = next((p for p in procs if p.process.poll() not in (None, 0)), None)
        if failed is None and requested:  # stopped on request; kill what outlived the grace
            stuck = [p for p in procs if p.process.poll() is None]
            _kill(stuck, grace_s)
            return _status(-signal.SIGKILL) if stuck else 0
        if failed is not None:
            code = _status(failed.process.returncode)
            alive = [p for p in procs if p.process.poll() is None]
            if not requested:
                sys.stderr.write(
                    'launch: rank %d (pid %d) exited with status %d; stopping the other %d '
                    'rank(s). Its log %s ends with:\n%s\n' % (
                        failed.rank, failed.process.pid, code, len(alive), failed.log_path,
                        _tail(failed.log_path)))
            _stop(alive, grace_s)
            return code
        return 0
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        for p in procs:
            if p.process.poll() is None:
                p.signal(signal.SIGKILL)
                p.process.wait()
            p.close()


def _stop(procs, grace_s):
    """SIGTERM, then SIGKILL whatever is still running after grace_s (a rank blocked in an
    all-reduce with a dead peer never gets to its signal handler)."""
    for p in procs:
        p.signal(signal.SIGTERM)
    deadline = time.time() + grace_s
    while time.time() < deadline and any(p.process.poll() is None for p in procs):
        time.sleep(0.1)
    _kill([p for p in procs if p.process.poll() is None], grace_s)


def _kill(procs, grace_s):
    for p in procs:
        sys.stderr.write('launch: rank %d did not stop within %.0f s of SIGTERM; killed\n'
                         % (p.rank, grace_s))
        p.signal(signal.SIGKILL)
        p.process.wait()


def parse_args(argv):
    parser = argparse.ArgumentParser(prog='python -m trainers.launch',
                                     description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split('\n\n', 1)[1])
    kind = parser.add_mutually_exclusive_group(required=True)
    kind.add_argument('--workers', type=int, help='CPU/GPU ranks on this host')
    kind.add_argument('--npus', type=int, help='Ascend ranks on this host (one per NPU)')
    parser.add_argument('--hosts', help='CPU/GPU: comma-separated hosts of every rank')
    parser.add_argument('--host-index', type=int, default=0)
    parser.add_argument('--port', type=int, default=0,
                        help='CPU/GPU: first gRPC port (default: free local ports)')
    parser.add_argument('--one-gpu-each', action='store_true',
                        help='CPU/GPU: rank with local index k sees only GPU k')
    parser.add_argument('--rank-table', help='Ascend: HCCL rank table (default: one is written '
                        'for this host from %s)' % HCCN_CONF)
    parser.add_argument('--server-index', type=int, default=0,
                        help='Ascend: this host\'s position in the rank table\'s server_list')
    parser.add_argument('--first-device', type=int, default=0)
    parser.add_argument('--hccn-conf', default=HCCN_CONF, help=argparse.SUPPRESS)
    parser.add_argument('--job-id', default=DEFAULT_JOB_ID)
    parser.add_argument('--log-dir', default='runs/launch',
                        help='per-rank logs (and a generated rank table) go here')
    parser.add_argument('--grace-s', type=float, default=30.0,
                        help='after a failure, seconds the other ranks get to stop')
    parser.add_argument('command', nargs=argparse.REMAINDER,
                        help='-- the training command every rank runs')
    args = parser.parse_args(argv)
    if args.command and args.command[0] == '--':
        args.command = args.command[1:]
    if not args.command:
        parser.error('give the training command after --')
    return args


def plan(args):
    """(envs, ranks) of this host's ranks for parsed arguments."""
    if args.workers is not None:
        hosts = args.hosts.split(',') if args.hosts else None
        addresses, ranks = worker_addresses(args.workers, hosts, args.host_index, args.port)
        return collective_envs(addresses, ranks, args.one_gpu_each), ranks
    if args.npus < 1:
        raise LaunchError('--npus must be >= 1')
    if args.rank_table:
        try:
            with open(args.rank_table) as f:
                table = json.load(f)
        except (OSError, ValueError) as err:
            raise LaunchError('cannot read rank table %s: %s' % (args.rank_table, err))
        path = args.rank_table
    else:
        try:
            with open(args.hccn_conf) as f:
                text = f.read()
        except OSError:
            raise LaunchError('no --rank-table given and %s cannot be read, so no rank table can '
                              'be written for this host. %s' % (args.hccn_conf, RANK_TABLE_HELP))
        table = one_host_rank_table(args.npus, args.first_device, text, _host_ip())
        os.makedirs(args.log_dir, exist_ok=True)
        path = os.path.join(args.log_dir, 'rank_table_%dp.json' % args.npus)
        with open(path, 'w') as f:
            json.dump(table, f, indent=1)
        sys.stderr.write('launch: wrote rank table %s\n' % path)
    envs = hccl_envs(path, table, args.npus, args.server_index, args.job_id)
    return envs, [int(e['RANK_ID']) for e in envs]


def main(argv=None):
    args = parse_args(argv)
    try:
        envs, ranks = plan(args)
    except (LaunchError, topology.ParallelError) as err:
        sys.stderr.write('error: %s\n' % err)
        return 2
    return supervise(args.command, envs, ranks, args.log_dir, args.grace_s)


if __name__ == '__main__':
    sys.exit(main())
