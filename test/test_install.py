"""The install paths of docs/ascend-host.md.

1. Every requirement except TensorFlow resolves to a cp37 manylinux2014_aarch64 wheel (Kunpeng
   hosts of Atlas 800 training servers), so a pin can never again break that install unnoticed.
   got10k and wget are pure Python published as source only: they resolve to an sdist.
2. tools/make-venv with TF_FROM_SYSTEM=1 over a "system" Python that has TensorFlow (the test
   venv's own Python stands in for CANN's): the new venv imports the system's TensorFlow, holds
   no TensorFlow of its own, and imports the project. Network to PyPI is needed for (1) and for
   pip's self-upgrade in (2); without it they are skipped with that reason.
"""
from __future__ import absolute_import, division, print_function

import os
import subprocess
import sys
import urllib.request

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AARCH64 = ['--platform', 'manylinux2014_aarch64', '--python-version', '37',
           '--implementation', 'cp', '--abi', 'cp37m']
SOURCE_ONLY_PURE_PYTHON = {'got10k', 'wget'}


def requirements(path, machine):
    """Requirement objects of a requirements file (-r followed) whose markers hold on a Linux
    host with CPU `machine` and Python 3.7."""
    env = dict(default_environment(), platform_machine=machine, python_version='3.7',
               sys_platform='linux', platform_system='Linux')
    out = []
    with open(path) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if line.startswith('-r'):
                out += requirements(os.path.join(os.path.dirname(path), line[2:].strip()),
                                    machine)
            elif line:
                req = Requirement(line)
                if req.marker is None or req.marker.evaluate(env):
                    out.append(req)
    return out


def _pypi_reachable():
    try:
        urllib.request.urlopen('https://pypi.org/simple/pip/', timeout=10).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope='module')
def downloads(tmp_path_factory):
    """One download directory for the module (pip skips a file it already has)."""
    return str(tmp_path_factory.mktemp('aarch64-downloads'))


needs_pypi = pytest.mark.skipif(not _pypi_reachable(), reason='PyPI (pypi.org) is unreachable')


def test_requirements_split_tensorflow_from_the_rest():
    base = {r.name.lower(): str(r.specifier) for r in requirements(
        os.path.join(ROOT, 'requirements-base.txt'), 'aarch64')}
    full = {r.name.lower(): str(r.specifier) for r in requirements(
        os.path.join(ROOT, 'requirements.txt'), 'x86_64')}
    assert 'tensorflow' not in base and 'h5py' not in base
    assert full['tensorflow'] == '==1.15.5' and full['h5py'] == '==2.10.0'
    # PyPI's TF 1.15.5 wants numpy<1.19; the first cp37 aarch64 numpy wheel is 1.19.5
    assert full['numpy'] == '==1.18.5' and base['numpy'] == '==1.19.5'
    assert set(full) - set(base) == {'tensorflow', 'h5py'}


@needs_pypi
@pytest.mark.parametrize('req', [str(r) for r in requirements(
    os.path.join(ROOT, 'requirements-base.txt'), 'aarch64')])
@pytest.mark.slow   # downloads every pin from PyPI
def test_every_base_requirement_resolves_on_aarch64(req, downloads):
    cache = downloads
    name = Requirement(req).name.lower()
    req = req.split(';')[0].strip()
    if name in SOURCE_ONLY_PURE_PYTHON:
        args = ['--no-binary=:all:', req]
    else:
        args = ['--only-binary=:all:'] + AARCH64 + [req]
    run = subprocess.run([sys.executable, '-m', 'pip', 'download', '--no-deps', '--quiet',
                          '--disable-pip-version-check', '-d', cache] + args,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True, timeout=300)
    assert run.returncode == 0, '%s has no cp37 aarch64 wheel:\n%s' % (req, run.stdout[-2000:])
    stem = name.replace('-', '_')
    files = [f for f in os.listdir(cache)
             if f.lower().split('-')[0].replace('.', '_') == stem]
    version = req.split('==')[1]
    if name in SOURCE_ONLY_PURE_PYTHON:
        assert any(version in f and f.endswith(('.tar.gz', '.zip')) for f in files), files
    else:
        assert any(version in f and (f.endswith('-none-any.whl') or 'aarch64' in f)
                   for f in files), files


def _without_npu_bridge_on_path():
    env = dict(os.environ)
    env.pop('PYTHONPATH', None)
    return env


@pytest.mark.slow   # builds a venv (~13 s)
@needs_pypi
def test_system_tensorflow_install_keeps_the_systems_tensorflow(tmp_path):
    """docs/ascend-host.md, "Install": make venv TF_FROM_SYSTEM=1 PYTHON37=<CANN's python>."""
    system_python = sys.executable   # has TensorFlow 1.15: stands in for CANN's Python
    venv = tmp_path / 'venv'
    env = dict(_without_npu_bridge_on_path(), PYTHON37=system_python)
    run = subprocess.run([os.path.join(ROOT, 'tools', 'make-venv'), str(venv), '1'],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:]
    assert 'TensorFlow 1.15.5 from ' in run.stdout
    assert (venv / '.requirements-installed').exists()
    assert (venv / '.tf-from-system').read_text().strip() == '1'
    python = str(venv / 'bin' / 'python')
    probe = subprocess.run(
        [python, '-c', 'import tensorflow as tf, trainers.device, pipelines, schemas; '
                       'print(tf.__version__); print(tf.__file__)'],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        universal_newlines=True, timeout=300)
    assert probe.returncode == 0, probe.stdout[-3000:]
    version, location = probe.stdout.strip().splitlines()[-2:]
    assert version == '1.15.5'
    import tensorflow
    assert location == tensorflow.__file__   # the system's TF, not a new one
    own = subprocess.check_output([python, '-c', 'import sysconfig; '
                                   'print(sysconfig.get_paths()["purelib"])'],
                                  universal_newlines=True).strip()
    assert not [n for n in os.listdir(own) if n.lower().startswith('tensorflow')]
    # a plain venv asked for on top of it is refused in one line, not rebuilt
    again = subprocess.run([os.path.join(ROOT, 'tools', 'make-venv'), str(venv), '0'], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True)
    assert again.returncode == 1
    assert again.stdout.strip() == ('%s was made with TF_FROM_SYSTEM=1; remove it to change to 0'
                                    % venv)


@pytest.mark.slow   # builds venvs (~4 s)
def test_auto_detection_needs_tensorflow_and_npu_bridge(tmp_path):
    """With TF_FROM_SYSTEM empty the venv is a system one only where npu_bridge imports too;
    checked up to the mode decision (a fake python3.7 records the venv command and stops)."""
    fake_dir = os.path.join(ROOT, 'test', 'fake_npu')
    for pythonpath, expected in ((fake_dir, '--system-site-packages'), ('', None)):
        log = tmp_path / 'venv-args'
        shim = tmp_path / 'python3.7'
        shim.write_text('#!/bin/sh\nif [ "$1" = "-m" ] && [ "$2" = "venv" ]; then '
                        'echo "$@" > %s; exit 3; fi\nexec %s "$@"\n' % (log, sys.executable))
        shim.chmod(0o755)
        env = dict(os.environ, PYTHON37=str(shim), PYTHONPATH=pythonpath)
        run = subprocess.run([os.path.join(ROOT, 'tools', 'make-venv'),
                              str(tmp_path / ('venv' + str(bool(pythonpath))))], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             universal_newlines=True, timeout=300)
        assert run.returncode == 3, run.stdout
        args = log.read_text().split()
        assert (expected in args) if expected else ('--system-site-packages' not in args), args
