"""The layers: datasets/ and schemas/ at the bottom -> pipelines/ (Beam) -> trainers/ ->
trackers/, segmenters/, evaluation/. What each package loads is checked in a fresh interpreter
(one per package, importing its modules one by one, so a failure names the module that pulled
the forbidden one in); which package imports which is checked statically over every module's
AST, imports inside functions included."""
from __future__ import absolute_import, division, print_function

import ast
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRODUCTION = ('datasets', 'schemas', 'pipelines', 'trainers', 'trackers', 'segmenters',
              'evaluation', 'doctor')
# doctor (the host check) builds every layer's graphs: it sits on top, and nothing imports it.
LAYER = {'datasets': 0, 'schemas': 0, 'pipelines': 1, 'trainers': 2, 'trackers': 3,
         'segmenters': 3, 'evaluation': 3, 'doctor': 4}
# Imports within the top layer that are allowed, one way only: the tracker's CLI evaluates
# its results (evaluation is a pure function over result folders and imports no tracker).
ONE_WAY = {('trackers', 'evaluation')}
# Module names loaded by importing a package's modules that must not be.
FORBIDDEN = {
    'datasets': ('apache_beam', 'tensorflow', 'sampledata'),
    'schemas': ('apache_beam', 'sampledata'),
    'pipelines': ('sampledata',),
    'trainers': ('apache_beam', 'sampledata'),
    'trackers': ('apache_beam', 'sampledata'),
    'segmenters': ('apache_beam', 'sampledata'),
    'evaluation': ('apache_beam', 'sampledata'),
    'doctor': ('apache_beam', 'sampledata'),
}

_PROBE = '''
import importlib, json, sys
forbidden, found = %r, {}
for name in %r:
    importlib.import_module(name)
    for module in forbidden:
        if module in sys.modules and module not in found:
            found[module] = name
print(json.dumps(found))
'''


def package_modules(package):
    """Dotted names of every module of a package (its __main__ modules included), sorted."""
    names = []
    for folder, _, files in os.walk(os.path.join(ROOT, package)):
        for name in files:
            if name.endswith('.py'):
                rel = os.path.relpath(os.path.join(folder, name), ROOT)[:-3]
                names.append(rel.replace(os.sep, '.').replace('.__init__', ''))
    return sorted(names)


def loaded_by(package):
    """{forbidden module: the first of the package's modules whose import loaded it}."""
    code = _PROBE % (FORBIDDEN[package], package_modules(package))
    out = subprocess.run([sys.executable, '-c', code], cwd=ROOT, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, universal_newlines=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize('package', sorted(FORBIDDEN))
def test_package_loads_nothing_forbidden(package):
    assert loaded_by(package) == {}


def imported_packages(path):
    """{top-level package name} a module imports (absolute imports; relative ones stay inside)."""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split('.')[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split('.')[0])
    return found


def layer_violations(package):
    """['module imports package'] of a package's modules that import a higher layer, a package
    of its own layer (but the ONE_WAY pairs), or sampledata."""
    bad = []
    for name in package_modules(package):
        path = os.path.join(ROOT, *name.split('.'))
        path = path + '.py' if os.path.isfile(path + '.py') else os.path.join(path, '__init__.py')
        for other in sorted(imported_packages(path)):
            if other == package:
                continue
            if other == 'sampledata':
                bad.append('%s imports sampledata' % name)
            elif other in LAYER and (LAYER[other] > LAYER[package] or (
                    LAYER[other] == LAYER[package] and LAYER[package] > 0 and
                    (package, other) not in ONE_WAY)):
                bad.append('%s imports %s' % (name, other))
    return bad


@pytest.mark.parametrize('package', PRODUCTION)
def test_no_module_imports_a_higher_layer(package):
    assert layer_violations(package) == []


def test_the_static_check_catches_an_upward_import(tmpdir, monkeypatch):
    """The checker itself can fail: a datasets module importing pipelines is reported."""
    fake = tmpdir.mkdir('datasets')
    fake.join('__init__.py').write('')
    fake.join('bad.py').write('def f():\n    from pipelines import core\n    import sampledata\n')
    monkeypatch.setattr(sys.modules[__name__], 'ROOT', str(tmpdir))
    assert layer_violations('datasets') == ['datasets.bad imports pipelines',
                                            'datasets.bad imports sampledata']
