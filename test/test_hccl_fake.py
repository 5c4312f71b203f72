"""The Ascend (HCCL) data-parallel wiring of both trainers, through the npu_bridge double.

Two ranks run in one process, one thread each, every rank building and running its own graph and
session (test/fake_npu: the double's HCCL ops meet in fake.World). What is checked is the device
layer's wiring, not HCCL: NPUDistributedOptimizer around the optimizer, the loss-scale optimizer
built with is_distributed=True (an overflow on one rank makes every rank skip that step), rank 0's
variables broadcast after initialisation and after restore, rank 0 alone writing, iteration
offload (iterations_per_loop) on every rank.
"""
from __future__ import absolute_import, division, print_function

import collections
import contextlib
import json
import os
import re
import sys
import threading

import pytest
import tensorflow as tf

from fake_npu_env import fake_npu
from trainers import cli
from trainers import device as device_lib
from trainers.distributed import topology as topology_lib

pytestmark = pytest.mark.slow   # trainers on two in-process ranks, several runs each

RANKS = 2
SASIAM_TINY = ['--device', 'npu', '--set', 'model.width=0.0625', '--set', 'input.batch_size=2',
               '--set', 'input.pair_shuffle=4', '--set', 'input.record_shuffle=2',
               '--set', 'train.log_every=1', '--set', 'train.validation_batches=0',
               '--set', 'train.checkpoint_every=4']
OSMN_TINY = ['--device', 'npu', '--random-init-for-tests', '--set', 'input.scales=[0.8, 1.2]',
             '--set', 'model.width=0.0625', '--set', 'input.input_scale=0.25',
             '--set', 'input.batch_size=2', '--set', 'input.sample_shuffle=4',
             '--set', 'train.log_every=1', '--set', 'train.validation_batches=0']


def _in_process_ranks(monkeypatch, directory):
    """RANK_SIZE as the launcher sets it; every rank's session gets threads of its own (a rank
    blocks in the double's collectives until its peer arrives, as an NPU stream would, so ranks
    sharing one small thread pool could starve each other). Returns the rank table's path."""
    monkeypatch.setenv('RANK_SIZE', str(RANKS))
    table = directory / 'rank_table.json'
    table.write_text('{}')
    plain = device_lib.session_config

    def own_threads(*args, **kwargs):
        config = plain(*args, **kwargs)
        config.use_per_session_threads = True
        config.inter_op_parallelism_threads = 16
        return config
    monkeypatch.setattr(device_lib, 'session_config', own_threads)
    return str(table)


@pytest.fixture
def in_process_ranks(monkeypatch, tmp_path):
    return _in_process_ranks(monkeypatch, tmp_path)


def _run_ranks(train, argv, table):
    """Every rank's exit status from cli.run, the ranks running as threads."""
    from npu_bridge import fake
    from tensorflow.python.autograph.core import ag_ctx
    statuses = [None] * RANKS
    errors = []

    status = ag_ctx.control_status_ctx().status   # the test thread's (conftest), per thread

    def rank(r):
        try:
            fake.bind_rank(r)
            cfg = train.config_from_args(train.parse_args(argv))
            topology = topology_lib.Topology(r, RANKS, r, 'hccl', (), table)
            with ag_ctx.ControlStatusCtx(status=status):
                statuses[r] = cli.run(train.build, cfg, topology=topology)
        except BaseException as err:  # reported by the test thread
            errors.append((r, err))
    with fake.hccl_world(RANKS):
        threads = [threading.Thread(target=rank, args=(r,)) for r in range(RANKS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(600)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)
    return statuses


def _digests(err):
    found = dict((int(r), d) for r, d in re.findall(r'rank (\d+): variables sha1 ([0-9a-f]+)',
                                                   err))
    assert sorted(found) == list(range(RANKS)), err[-3000:]
    return found


def _calls(run, name):
    """(rank, details) of every `name` the double recorded (run: the fake module or a
    SasiamRun)."""
    calls = run.calls if isinstance(run, SasiamRun) else run.CALLS
    return [(rank, details) for rank, what, details in calls if what == name]


@contextlib.contextmanager
def _stderr_into(path):
    """sys.stderr and file descriptor 2 (the ranks' logs) written to `path` for the block: a
    module fixture cannot use capfd."""
    sys.stderr.flush()
    saved_fd, saved_stream = os.dup(2), sys.stderr
    with open(path, 'w') as f:
        os.dup2(f.fileno(), 2)
        sys.stderr = f
        try:
            yield
        finally:
            f.flush()
            sys.stderr = saved_stream
            os.dup2(saved_fd, 2)
            os.close(saved_fd)


SasiamRun = collections.namedtuple('SasiamRun', 'n statuses first_err calls sessions summary '
                                   'global_step log_steps resume_statuses resume_err resumed '
                                   'single_status single_err')


@pytest.fixture(scope='module', params=[1, 4], ids=['loop1', 'loop4'])
def sasiam_hccl(request, vid_records, tmp_path_factory):
    """SA-Siam on two in-process HCCL ranks with iterations_per_loop n, run once per n and
    looked at by the tests below, one cause each: 9 steps with rank 1 alone overflowing at its
    iterations 1, 5, 9; a resume to 13 steps; a one-process resume of that checkpoint."""
    from trainers.sasiam import train
    n = request.param
    root = tmp_path_factory.mktemp('hccl_sasiam_%d' % n)
    run_dir = str(root / 'run')
    argv = ['--records', vid_records, '--run-dir', run_dir, '--iterations-per-loop', str(n)]
    logs = [str(root / name) for name in ('first.log', 'resume.log', 'single.log')]
    with pytest.MonkeyPatch.context() as monkeypatch:
        table = _in_process_ranks(monkeypatch, root)
        with fake_npu(period=4, phase=1) as fake:
            fake.OVERFLOW['ranks'] = [1]
            with _stderr_into(logs[0]):
                statuses = _run_ranks(train, argv + ['--steps', '9'] + SASIAM_TINY, table)
            calls, sessions = list(fake.CALLS), list(fake.SESSIONS)
            summary = json.load(open(os.path.join(run_dir, 'summary.json')))
            global_step = tf.train.load_checkpoint(run_dir).get_tensor('global_step')
            with open(os.path.join(run_dir, 'train_log.jsonl')) as f:
                log_steps = [json.loads(line)['step'] for line in f]
            fake.OVERFLOW['ranks'] = []
            with _stderr_into(logs[1]):
                resume_statuses = _run_ranks(train, argv + ['--steps', '13'] + SASIAM_TINY,
                                             table)
        resumed = json.load(open(os.path.join(run_dir, 'summary.json')))
        monkeypatch.delenv('RANK_SIZE')
        with fake_npu(), _stderr_into(logs[2]):
            single_status = train.main(argv + ['--steps', '14'] + SASIAM_TINY)
    first_err, resume_err, single_err = [open(path).read() for path in logs]
    return SasiamRun(n, statuses, first_err, calls, sessions, summary, global_step, log_steps,
                     resume_statuses, resume_err, resumed, single_status, single_err)


def test_sasiam_ranks_finish_with_bit_identical_variables(sasiam_hccl):
    """Weights, batch-norm statistics, slots and loss scale: one sha1 on both ranks."""
    assert sasiam_hccl.statuses == [0, 0]
    first = _digests(sasiam_hccl.first_err)
    assert first[0] == first[1] == sasiam_hccl.summary['variables_sha1']


def test_sasiam_every_rank_wraps_its_optimizer_for_hccl(sasiam_hccl):
    for rank in range(RANKS):
        assert [d['is_distributed'] for r, d in _calls(sasiam_hccl, 'NPULossScaleOptimizer')
                if r == rank] == [True]
        assert [r for r, _ in _calls(sasiam_hccl, 'NPUDistributedOptimizer')].count(rank) == 1


def test_sasiam_rank0_broadcasts_every_variable_in_one_op(sasiam_hccl):
    """From rank 0: the start-up agreement's fingerprint, then every variable at once."""
    broadcasts = _calls(sasiam_hccl, 'broadcast')
    assert broadcasts and all(d['root_rank'] == 0 for _, d in broadcasts)
    variables = [(r, d['count']) for r, d in broadcasts if d['count'] > 1]
    assert sorted(r for r, _ in variables) == list(range(RANKS))
    assert variables[0][1] == variables[1][1] > 10


def test_sasiam_every_rank_runs_n_iterations_per_loop_on_the_npu(sasiam_hccl):
    assert [k for _, k in sasiam_hccl.sessions] == [sasiam_hccl.n] * RANKS


def test_sasiam_an_overflow_on_one_rank_skips_the_step_on_both(sasiam_hccl):
    """9 updates took 12 iterations on rank 0 too, which injects no overflow of its own: the
    three skipped on rank 1 were skipped on both (without is_distributed rank 0 would have
    finished after 9 iterations and the ranks would hold different weights)."""
    summary = sasiam_hccl.summary
    assert summary['steps'] == 9 and summary['status'] == 'completed'
    assert summary['iterations_this_run'] == 12


def test_sasiam_rank0_alone_writes_the_summary_log_and_checkpoint(sasiam_hccl):
    assert sasiam_hccl.summary['ranks'] == RANKS
    assert sasiam_hccl.global_step == sasiam_hccl.summary['steps']
    steps = sasiam_hccl.log_steps
    assert steps and steps == sorted(set(steps))  # one writer: no step logged twice


def test_sasiam_resume_restores_on_rank0_and_broadcasts_to_rank1(sasiam_hccl):
    """Rank 0 restores, rank 1 only initialises (its own random weights) and receives rank 0's
    by broadcast, so both continue from the checkpoint."""
    assert sasiam_hccl.resume_statuses == [0, 0]
    err = sasiam_hccl.resume_err
    assert 'resumed from' in err and 'at step 9' in err
    again = _digests(err)
    assert again[0] == again[1] != sasiam_hccl.summary['variables_sha1']
    assert (sasiam_hccl.resumed['start_step'], sasiam_hccl.resumed['steps']) == (9, 13)


def test_sasiam_one_process_may_not_resume_a_two_rank_checkpoint(sasiam_hccl):
    assert sasiam_hccl.single_status == 1
    assert 'was written by a run of 2 rank(s); resume it with 2' in sasiam_hccl.single_err


def test_osmn_on_two_hccl_ranks_over_the_scale_switch_stays_identical(
        coco_records, tmp_path, capfd, in_process_ranks):
    from trainers.osmn import train
    run_dir = str(tmp_path / 'run')
    argv = ['--stage', 'coco', '--records', coco_records, '--run-dir', run_dir,
            '--steps', '4', '--iterations-per-loop', '2'] + OSMN_TINY
    with fake_npu(period=3, phase=2) as fake:
        fake.OVERFLOW['ranks'] = [0]
        assert _run_ranks(train, argv, in_process_ranks) == [0, 0]
        assert sorted(r for r, _ in _calls(fake, 'NPUDistributedOptimizer')) == [0, 1]
    digests = _digests(capfd.readouterr().err)
    assert digests[0] == digests[1]
    summary = json.load(open(os.path.join(run_dir, 'summary.json')))
    assert summary['steps'] == 4 and summary['ranks'] == RANKS
    with open(os.path.join(run_dir, 'train_log.jsonl')) as f:
        scales = [json.loads(line)['scale'] for line in f]
    assert len(set(scales)) == 2  # both branches of the scale switch ran on both ranks
