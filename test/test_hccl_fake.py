"""The Ascend (HCCL) data-parallel wiring of both trainers, through the npu_bridge double.

Two ranks run in one process, one thread each, every rank building and running its own graph and
session (test/fake_npu: the double's HCCL ops meet in fake.World). What is checked is the device
layer's wiring, not HCCL: NPUDistributedOptimizer around the optimizer, the loss-scale optimizer
built with is_distributed=True (an overflow on one rank makes every rank skip that step), rank 0's
variables broadcast after initialisation and after restore, rank 0 alone writing, iteration
offload (iterations_per_loop) on every rank.
"""
from __future__ import absolute_import, division, print_function

import json
import os
import re
import threading

import pytest
import tensorflow as tf

from fake_npu_env import fake_npu
from record_files import sample_coco_records, sample_vid_records
from trainers import cli
from trainers import device as device_lib
from trainers.distributed import topology as topology_lib

RANKS = 2
SASIAM_TINY = ['--device', 'npu', '--set', 'model.width=0.0625', '--set', 'input.batch_size=2',
               '--set', 'input.pair_shuffle=4', '--set', 'input.record_shuffle=2',
               '--set', 'train.log_every=1', '--set', 'train.validation_batches=0',
               '--set', 'train.checkpoint_every=4']
OSMN_TINY = ['--device', 'npu', '--random-init-for-tests', '--set', 'input.scales=[0.8, 1.2]',
             '--set', 'model.width=0.0625', '--set', 'input.input_scale=0.25',
             '--set', 'input.batch_size=2', '--set', 'input.sample_shuffle=4',
             '--set', 'train.log_every=1', '--set', 'train.validation_batches=0']


@pytest.fixture(scope='module')
def vid_records(tmp_path_factory):
    return sample_vid_records(tmp_path_factory.mktemp('hccl_vid'), 3, 4, 2, 8)


@pytest.fixture(scope='module')
def coco_records(tmp_path_factory):
    return sample_coco_records(tmp_path_factory.mktemp('hccl_coco'), 5)


@pytest.fixture
def in_process_ranks(monkeypatch, tmp_path):
    """RANK_SIZE as the launcher sets it; every rank's session gets threads of its own (a rank
    blocks in the double's collectives until its peer arrives, as an NPU stream would, so ranks
    sharing one small thread pool could starve each other)."""
    monkeypatch.setenv('RANK_SIZE', str(RANKS))
    table = tmp_path / 'rank_table.json'
    table.write_text('{}')
    plain = device_lib.session_config

    def own_threads(*args, **kwargs):
        config = plain(*args, **kwargs)
        config.use_per_session_threads = True
        config.inter_op_parallelism_threads = 16
        return config
    monkeypatch.setattr(device_lib, 'session_config', own_threads)
    return str(table)


def _run_ranks(train, argv, table):
    """Every rank's exit status from cli.run, the ranks running as threads."""
    from npu_bridge import fake
    statuses = [None] * RANKS
    errors = []

    def rank(r):
        try:
            fake.bind_rank(r)
            cfg = train.config_from_args(train.parse_args(argv))
            topology = topology_lib.Topology(r, RANKS, r, 'hccl', (), table)
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


def _calls(fake, name):
    return [(rank, details) for rank, what, details in fake.CALLS if what == name]


@pytest.mark.parametrize('n', [1, 4])
def test_sasiam_on_two_hccl_ranks_skips_together_broadcasts_and_rank0_writes(
        vid_records, tmp_path, capfd, in_process_ranks, monkeypatch, n):
    from trainers.sasiam import train
    run_dir = str(tmp_path / 'run')
    argv = ['--records', vid_records, '--run-dir', run_dir, '--iterations-per-loop', str(n)]
    # rank 1 alone overflows at its iterations 1, 5, 9: with is_distributed both ranks skip them
    with fake_npu(period=4, phase=1) as fake:
        fake.OVERFLOW['ranks'] = [1]
        assert _run_ranks(train, argv + ['--steps', '9'] + SASIAM_TINY, in_process_ranks) == [
            0, 0]
        err = capfd.readouterr().err
        first = _digests(err)
        assert first[0] == first[1]  # bit-identical weights, BN statistics, slots, loss scale
        for rank in range(RANKS):
            assert [d['is_distributed'] for r, d in _calls(fake, 'NPULossScaleOptimizer')
                    if r == rank] == [True]
            assert [r for r, _ in _calls(fake, 'NPUDistributedOptimizer')].count(rank) == 1
        # from rank 0: the start-up agreement's fingerprint, then every variable in one op
        broadcasts = _calls(fake, 'broadcast')
        assert all(d['root_rank'] == 0 for _, d in broadcasts)
        variables = [(r, d['count']) for r, d in broadcasts if d['count'] > 1]
        assert sorted(r for r, _ in variables) == list(range(RANKS))
        assert variables[0][1] == variables[1][1] > 10
        assert [k for _, k in fake.SESSIONS] == [n] * RANKS  # every rank runs on the NPU

        summary = json.load(open(os.path.join(run_dir, 'summary.json')))
        assert summary['ranks'] == RANKS and summary['variables_sha1'] == first[0]
        assert summary['steps'] == 9 and summary['status'] == 'completed'
        # 9 updates took 12 iterations on rank 0 too, which injects no overflow of its own: the
        # three skipped on rank 1 were skipped on both (without is_distributed rank 0 would have
        # finished after 9 iterations and the ranks would hold different weights)
        assert summary['iterations_this_run'] == 12
        reader = tf.train.load_checkpoint(run_dir)
        assert reader.get_tensor('global_step') == summary['steps']
        with open(os.path.join(run_dir, 'train_log.jsonl')) as f:
            steps = [json.loads(line)['step'] for line in f]
        assert steps == sorted(set(steps))  # one writer

        # resume with more steps: rank 0 restores, rank 1 only initialises (its own random
        # weights) and receives rank 0's by broadcast, so both continue from the checkpoint
        fake.OVERFLOW['ranks'] = []
        assert _run_ranks(train, argv + ['--steps', '13'] + SASIAM_TINY, in_process_ranks) == [
            0, 0]
        err = capfd.readouterr().err
        assert 'resumed from' in err and 'at step %d' % summary['steps'] in err
        again = _digests(err)
        assert again[0] == again[1] != first[0]
    resumed = json.load(open(os.path.join(run_dir, 'summary.json')))
    assert (resumed['start_step'], resumed['steps']) == (9, 13)
    # the checkpoint remembers its rank count: one process may not resume it
    monkeypatch.delenv('RANK_SIZE')
    with fake_npu():
        assert train.main(argv + ['--steps', '14'] + SASIAM_TINY) == 1
    assert 'was written by a run of 2 rank(s); resume it with 2' in capfd.readouterr().err


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
