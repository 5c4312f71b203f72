"""The remote path: a pipeline run through Beam's portable job service and an external worker
pool, each its own process with a working directory outside the checkout, the project staged as
a cluster gets it (`--setup_file` -> sdist -> pip install on the worker, test/beam_boot.py),
writes the same records, byte for byte, as the DirectRunner."""
from __future__ import absolute_import, division, print_function

import glob
import os
import socket
import subprocess
import sys
import time

import pytest

import sampledata
from schemas import dataset_info

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOOT = os.path.join(ROOT, 'test', 'beam_boot.py')


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_for_port(port, process, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError('service exited with %s' % process.returncode)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            if s.connect_ex(('127.0.0.1', port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError('nothing listens on port %d after %d s' % (port, seconds))


def clean_env():
    """The services' environment: no PYTHONPATH, so nothing of the checkout leaks in."""
    return {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}


@pytest.fixture
def services(tmp_path):
    """(job port, worker pool port, boot log) of a job service and a worker pool, killed after."""
    job_port, pool_port = free_port(), free_port()
    outside = tmp_path / 'services'
    outside.mkdir()
    boot = outside / 'boot'  # the pool runs an executable: the container contract's entry point
    boot.write_text('#!/bin/sh\nexec "%s" "%s" "$@"\n' % (sys.executable, BOOT))
    boot.chmod(0o755)
    log = str(outside / 'imported_from.txt')
    env = dict(clean_env(), BEAM_BOOT_LOG=log)
    processes = []
    try:
        processes.append(subprocess.Popen(
            [sys.executable, '-m', 'apache_beam.runners.portability.local_job_service_main',
             '--port', str(job_port)], cwd=str(outside), env=env,
            stdout=subprocess.DEVNULL, stderr=open(str(outside / 'job.log'), 'w')))
        processes.append(subprocess.Popen(
            [sys.executable, '-m', 'apache_beam.runners.worker.worker_pool_main',
             '--service_port', str(pool_port), '--container_executable', str(boot)],
            cwd=str(outside), env=env, stdout=subprocess.DEVNULL,
            stderr=open(str(outside / 'pool.log'), 'w')))
        wait_for_port(job_port, processes[0])
        wait_for_port(pool_port, processes[1])
        yield job_port, pool_port, log, outside
    finally:
        for process in processes:
            process.kill()
            process.wait()


def run_pipeline(data, out, *extra):
    """`python -m pipelines davis` as a user runs it; returns the completed process."""
    return subprocess.run(
        [sys.executable, '-m', 'pipelines', 'davis', '--data', data, '--out', out,
         '--units-per-shard', '1', '--min-shards', '2'] + list(extra),
        cwd=ROOT, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)


@pytest.mark.slow
def test_portable_runner_with_external_workers_writes_the_direct_runners_records(
        services, tmp_path):
    job_port, pool_port, log, outside = services
    data = str(tmp_path / 'data')
    sampledata.generate(data, seed=3, size='small', datasets=['davis'],
                        counts={'davis': {'train': 2, 'val': 1, 'frames': 3}})
    davis = os.path.join(data, 'DAVIS')
    direct = run_pipeline(davis, str(tmp_path / 'direct'), '--direct_running_mode=in_memory',
                          '--direct_num_workers=1')
    assert direct.returncode == 0, direct.stderr.decode()[-2000:]
    portable = run_pipeline(
        davis, str(tmp_path / 'portable'), '--runner=PortableRunner',
        '--job_endpoint=127.0.0.1:%d' % job_port, '--environment_type=EXTERNAL',
        '--environment_config=127.0.0.1:%d' % pool_port,
        '--setup_file=%s' % os.path.join(ROOT, 'setup.py'))
    assert portable.returncode == 0, portable.stderr.decode()[-2000:]

    infos = [dataset_info.read(str(tmp_path / run / 'davis2017')) for run in ('direct', 'portable')]
    assert infos[0]['splits'] == infos[1]['splits']
    assert infos[1]['beam_options']['runner'] == 'PortableRunner'
    assert infos[1]['beam_options']['environment_type'] == 'EXTERNAL'
    files = [sorted(glob.glob(str(tmp_path / run / 'davis2017' / '*' / '*.tfrecord-*')))
             for run in ('direct', 'portable')]
    assert len(files[0]) == len(files[1]) >= 3
    for a, b in zip(*files):
        assert os.path.relpath(a, str(tmp_path / 'direct')) == \
            os.path.relpath(b, str(tmp_path / 'portable'))
        with open(a, 'rb') as fa, open(b, 'rb') as fb:
            assert fa.read() == fb.read(), a
    # the workers imported the package they installed from the staged sdist, not the checkout
    with open(log) as f:
        places = f.read().split()
    assert places and all(p.startswith(str(outside)) and 'site-packages' in p for p in places)
