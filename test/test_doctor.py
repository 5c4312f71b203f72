"""`make npu-doctor` (doctor/npu.py) on the npu_bridge double: one verdict line per check,
a one-line refusal without an NPU."""
from __future__ import absolute_import, division, print_function

import io
import json
import os
import re

import pytest

from fake_npu_env import fake_npu
from doctor import npu as doctor


def test_without_an_npu_one_line_and_exit_1(monkeypatch):
    out = io.StringIO()
    assert doctor.main([], out=out) == 1   # the double is not on the path
    assert out.getvalue() == ('no NPU on this machine: npu_bridge (the CANN TensorFlow adapter) '
                              'does not import\n')
    with fake_npu():
        monkeypatch.delenv('ASCEND_VISIBLE_DEVICES', raising=False)
        monkeypatch.setattr(doctor.glob, 'glob', lambda pattern: [])
        out = io.StringIO()
        assert doctor.main([], out=out) == 1
        assert out.getvalue().count('\n') == 1 and 'no /dev/davinci* device' in out.getvalue()


def test_versions_devices_and_op_support_helpers(tmp_path):
    toolkit = tmp_path / 'toolkit'
    toolkit.mkdir()
    (toolkit / 'version.cfg').write_text('# CANN\nversion=7.0.RC1:7.0.0.beta\n')
    assert doctor.cann_version({'ASCEND_TOOLKIT_HOME': str(toolkit)}) == '7.0.RC1'
    assert doctor.visible_devices({'ASCEND_VISIBLE_DEVICES': '4, 5'}) == ['4', '5']
    assert doctor.supported_ops({})[0] is None
    opp = tmp_path / 'opp'
    (opp / 'framework' / 'built-in' / 'tensorflow').mkdir(parents=True)
    (opp / doctor.SUPPORTED_OPS).write_text(json.dumps({'Conv2D': {}, 'Relu': {}}))
    assert doctor.supported_ops({'ASCEND_OPP_PATH': str(opp)})[0] == {'Conv2D', 'Relu'}


@pytest.fixture(scope='module')
def records(vid_records, coco_records):
    return vid_records, coco_records   # the session's (conftest)


@pytest.mark.slow   # both trainers at two loop sizes and every device graph (~45 s)
def test_doctor_on_the_double_prints_one_verdict_per_check(records, tmp_path, monkeypatch):
    vid, coco = records
    opp = tmp_path / 'opp'
    (opp / 'framework' / 'built-in' / 'tensorflow').mkdir(parents=True)
    # a CANN whose list lacks CropAndResize: that op would run on the host
    known = (doctor.device_lib.PLAIN_OP_TYPES | set(doctor.device_lib.TRAINING_OP_REVIEW) |
             {'PyFunc', 'IsFinite', 'All', 'Any', 'ResizeBilinear', 'ResizeBilinearGrad',
              'Softplus', 'ResizeBicubic', 'BroadcastTo'})
    known = sorted(known - {'CropAndResize'})
    (opp / doctor.SUPPORTED_OPS).write_text(json.dumps(dict.fromkeys(known, {})))
    monkeypatch.setenv('ASCEND_OPP_PATH', str(opp))
    monkeypatch.setenv('ASCEND_VISIBLE_DEVICES', '0')
    out = io.StringIO()
    work = tmp_path / 'work'
    with fake_npu(period=3, phase=1):   # iteration 1 of every 3 overflows
        status = doctor.main(['--vid-records', vid, '--coco-records', coco, '--work-dir',
                              str(work), '--steps', '2', '--iterations-per-loop', '2'], out=out)
    lines = out.getvalue().splitlines()
    verdicts = dict(re.match(r'^(PASS|WARN|FAIL|SKIP)  ([^:]+): ', line).group(2, 1)
                    for line in lines)
    assert verdicts == {
        'versions': 'PASS', 'devices': 'PASS',
        'sasiam training graph': 'WARN', 'osmn training graph': 'WARN',
        'sasiam training, iterations_per_loop 1': 'WARN',
        'sasiam training, iterations_per_loop 2': 'WARN',
        'osmn training, iterations_per_loop 1': 'WARN',
        'osmn training, iterations_per_loop 2': 'WARN',
        'sasiam training on two devices': 'SKIP',
        'tracking device graph': 'PASS',   # crops are host work in the tracker
        'segmentation device graph': 'WARN',
        'verdict': 'PASS'}, out.getvalue()
    assert status == 0
    text = out.getvalue()
    assert re.search(r'osmn training graph: \d+ ops of \d+ types built; on the host \(not in '
                     r'.*npu_supported_ops.json\): CropAndResize\n', text)
    # iteration 1 overflowed: 3 iterations for 2 steps
    assert 'sasiam training, iterations_per_loop 1: 3 iterations, 2 steps applied' in text
    assert '1 skipped by loss scaling (overflow)' in text
    assert 'two devices: 1 device visible' in text
    assert (work / 'osmn-loop2' / 'summary.json').exists()


def test_two_visible_devices_train_through_the_launcher(tmp_path, monkeypatch):
    """Two NPUs: SA-Siam through python -m trainers.launch --npus 2 (HCCL ranks are processes,
    which the in-process double cannot join: the launcher's run is stood in for here)."""
    calls = []

    def launched(command, stdout, stderr):
        calls.append(command)
        run_dir = command[command.index('--run-dir') + 1]
        with open(run_dir + '/summary.json', 'w') as f:
            json.dump({'status': 'completed', 'iterations_this_run': 4, 'steps_this_run': 4,
                       'final_train_loss': 0.5}, f)
        return 0
    monkeypatch.setattr(doctor.subprocess, 'call', launched)
    os.makedirs(str(tmp_path / 'sasiam-2npu'))
    out = io.StringIO()
    verdicts = doctor.Verdicts(out)
    doctor.two_devices(verdicts, ['0', '1'], 'vid', str(tmp_path), 4)
    command, = calls
    assert command[1:6] == ['-m', 'trainers.launch', '--npus', '2', '--log-dir']
    assert command[command.index('--') + 1:][1:3] == ['-m', 'trainers.sasiam']
    assert out.getvalue() == ('PASS  sasiam training on two devices: 4 iterations, 4 steps '
                              'applied, loss 0.5\n')
