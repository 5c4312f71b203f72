"""The Makefile's vocabulary: every target declares the command-line variables it reads; a
variable none of the requested targets reads is refused in one line; `make help` is generated
from the declarations; old variable names still work with a note. Dry runs (`make -n`) except
one real, tiny train-osmn run."""
import json
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.dirname(os.path.dirname(sys.executable))
# deprecated name -> (its new name, a command reading it, the flag its value lands on)
RENAMED = {'OSMN_RUN_DIR': ('RUN_DIR', ['train-osmn'], '--run-dir'),
           'OSMN_RECORDS': ('RECORDS', ['train-osmn'], '--records'),
           'VID': ('VID_DATA', ['eval-sasiam', 'RUN=r'], '--vid'),
           'OTB': ('OTB_DATA', ['eval-sasiam', 'RUN=r'], '--otb')}


def outside_make():
    """This environment without what an enclosing make (`make test PYTEST_ARGS=...`) passes to
    the makes it starts: its command-line variables would count as given here."""
    return {k: v for k, v in os.environ.items() if k not in ('MAKEFLAGS', 'MFLAGS', 'MAKELEVEL')}


def make(*args, dry_run=True):
    command = ['make'] + (['-n'] if dry_run else []) + list(args)
    return subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, env=outside_make())


def database():
    """{variable: value} of the Makefile's simple variables, as make itself expanded them."""
    printed = make('-p', 'help').stdout
    return dict(m.groups() for m in re.finditer(r'^(\S+) := ?(.*)$', printed, re.M))


DATABASE = database()
TARGETS = DATABASE['TARGETS'].split()
GLOBAL = DATABASE['GLOBAL_VARIABLES'].split()


def reads(target):
    return DATABASE['VARS_' + target].split()


def readers_of(variable):
    return [t for t in TARGETS if variable in reads(t)]


def flag_value(command, flag):
    words = command.split()
    return words[words.index(flag) + 1]


def test_vocabulary_is_one_name_per_concept():
    assert readers_of('RUN_DIR') == ['train-sasiam', 'import-siamfc', 'train-osmn',
                                     'import-osmn']   # the run directory written
    assert readers_of('RUN') == ['track-sasiam', 'eval-sasiam', 'segment-osmn']
    assert readers_of('RECORDS') == ['holdout-gt', 'train-sasiam', 'train-osmn', 'segment-osmn']
    assert readers_of('VID_DATA') == ['vid-records', 'track-sasiam', 'eval-sasiam']
    assert GLOBAL == ['VENV', 'PYTHON37', 'TF_FROM_SYSTEM']
    known = {v for t in TARGETS for v in reads(t)}
    assert not known & set(RENAMED), 'an old name is still declared as read'
    assert DATABASE['RENAMED'].split() == ['%s:%s' % (old, RENAMED[old][0]) for old in RENAMED]


def test_every_rule_is_declared_and_every_declaration_has_a_rule():
    with open(os.path.join(ROOT, 'Makefile')) as f:
        rules = set(re.findall(r'^([A-Za-z][\w-]*)\s*:(?!=)', f.read(), re.M))
    assert sorted(rules - set(TARGETS)) == [], 'targets without a declaration'
    assert sorted(set(TARGETS) - rules) == [], 'declarations without a rule'
    assert len(TARGETS) == len(set(TARGETS)), 'a target declared twice'


def test_help_is_what_the_declarations_say():
    lines = make('help', dry_run=False).stdout.splitlines()
    assert lines[0].startswith('Every target also reads VENV PYTHON37')
    assert len(lines) == 1 + 2 * len(TARGETS)
    listed = []
    for head, variables in zip(lines[1::2], lines[2::2]):
        target, description = re.match(r'make (\S+) +(.*)$', head).groups()
        label, *names = variables.split()
        assert label == 'reads:', variables
        listed.append((target, description, [] if names == ['-'] else names))
    assert listed == [(t, DATABASE['HELP_' + t], reads(t)) for t in TARGETS]
    assert ('train-osmn', 'STAGE') in {(t, v) for t, _, names in listed for v in names}


@pytest.mark.parametrize('target', TARGETS)
def test_a_variable_only_other_targets_read_is_refused_in_one_line(target):
    others = sorted({v for t in TARGETS for v in reads(t)} - set(reads(target)) - set(GLOBAL))
    variable = others[0]
    refused = make(target, variable + '=x')
    assert refused.returncode != 0
    assert refused.stdout == ''
    message = refused.stderr.strip()
    assert '\n' not in message
    assert '%s is not read by %s (read by: %s)' % (
        variable, target, ' '.join(readers_of(variable))) in message


def test_the_example_of_the_issue():
    refused = make('eval-osmn', 'RUN_DIR=runs/my-osmn')
    assert refused.returncode != 0
    assert re.search(r'RUN_DIR is not read by eval-osmn \(read by: train-sasiam [^)]*train-osmn',
                     refused.stderr)
    # the default goal (help) is checked too, and an old name names its readers
    assert 'RUN_DIR is not read by help' in make('RUN_DIR=x').stderr
    old = make('eval-osmn', 'OSMN_RUN_DIR=x')
    assert re.search(r'OSMN_RUN_DIR is not read by eval-osmn \(read by: train-sasiam [^)]*'
                     r'train-osmn[^)]*\)\.  Stop\.$', old.stderr.strip())


def test_a_variable_read_by_any_requested_goal_passes():
    both = make('eval-osmn', 'train-osmn', 'RUN_DIR=runs/my-osmn', 'RESULTS=r')
    assert both.returncode == 0, both.stderr
    assert flag_value(both.stdout, '--run-dir') == 'runs/my-osmn'
    assert make('help', 'VENV=' + VENV).returncode == 0


def test_unknown_variable_keeps_the_suggestion():
    refused = make('train-osmn', 'RUN_DR=x')
    assert refused.returncode != 0
    assert 'unknown variable RUN_DR (did you mean RUN_DIR?)' in refused.stderr
    assert 'unknown variable COCO_DAT (did you mean COCO_DATA?)' in make('COCO_DAT=/x').stderr
    assert make('coco-records', 'OVERWRITE=1', 'COCO_DATA=/x').returncode == 0
    environment = dict(outside_make(), UNRELATED_ENVIRONMENT_VARIABLE='1', RUN_DIR='r')
    assert subprocess.run(['make', '-n', 'help'], cwd=ROOT, env=environment,
                          stdout=subprocess.PIPE).returncode == 0


def test_makes_overwrite_0_means_no():
    def command(value):
        return make('vid-records', 'OVERWRITE=' + value, 'DATA=/x').stdout.split()
    for off in ('0', 'no', 'false', ''):
        assert '--overwrite' not in command(off), off
    for on in ('1', 'yes'):
        assert '--overwrite' in command(on), on


@pytest.mark.parametrize('target,variables,run_dir,records', [
    ('train-osmn', [], 'runs/osmn-coco', 'out/sample/coco'),
    ('train-osmn', ['STAGE=davis'], 'runs/osmn-davis', 'out/sample/davis2017'),
    ('train-osmn', ['STAGE=ytvos', 'RUN_DIR=r', 'RECORDS=rec'], 'r', 'rec'),
    ('train-sasiam', [], 'runs/sasiam-appearance', 'out/sample/vid'),
    ('train-sasiam', ['BRANCH=semantic', 'OUT=o'], 'runs/sasiam-semantic', 'o/sample/vid'),
    ('train-sasiam', ['RUN_DIR=r', 'RECORDS=rec'], 'r', 'rec'),
])
def test_trainer_defaults(target, variables, run_dir, records):
    dry = make(target, *variables)
    assert dry.returncode == 0, dry.stderr
    assert flag_value(dry.stdout, '--run-dir') == run_dir
    assert flag_value(dry.stdout, '--records') == records
    # the sample's default is a short run; real records get the trainer's own step count
    assert ('--steps' in dry.stdout.split()) == records.endswith(('coco', 'davis2017', 'vid'))


@pytest.mark.parametrize('old', sorted(RENAMED))
def test_old_names_work_with_a_note(old):
    new, command, flag = RENAMED[old]
    dry = make(*command, old + '=given')
    assert dry.returncode == 0, dry.stderr
    assert dry.stderr == 'make: %s is deprecated: use %s\n' % (old, new)
    assert flag_value(dry.stdout, flag) == 'given'
    assert make(*command, old + '=given', new + '=given').returncode == 0
    clash = make(*command, old + '=a', new + '=b')
    assert clash.returncode != 0
    assert '\n' not in clash.stderr.strip()
    assert '%s and %s disagree: give only %s' % (old, new, new) in clash.stderr


def test_track_sasiam_reads_a_vid_track_from_vid_data():
    folder = make('track-sasiam', 'RUN=r', 'SEQ=test')     # an existing folder: frames
    assert '--vid' not in folder.stdout.split()
    track = make('track-sasiam', 'RUN=r', 'SEQ=ILSVRC2015_val_00000000.0', 'DATA=/d')
    assert flag_value(track.stdout, '--vid') == '/d/ILSVRC2015'
    given = make('track-sasiam', 'RUN=r', 'SEQ=test', 'VID_DATA=/v')
    assert flag_value(given.stdout, '--vid') == '/v'


@pytest.mark.slow   # a real make train-osmn run (~10 s)
def test_train_osmn_trains_in_the_given_run_dir(coco_records, tmpdir):
    stamp = os.path.join(VENV, '.requirements-installed')
    if not os.path.isfile(stamp) or \
            os.path.getmtime(stamp) < os.path.getmtime(os.path.join(ROOT, 'requirements.txt')):
        pytest.skip('%s is not up to date: make would reinstall the venv' % VENV)
    default_run = os.path.join(ROOT, 'runs', 'osmn-coco')
    before = sorted(os.listdir(default_run)) if os.path.isdir(default_run) else None
    run_dir = str(tmpdir.join('my-osmn'))
    # the session's COCO records (conftest), so make builds no sample of its own
    tiny = ('TRAIN_ARGS=--device cpu --random-init-for-tests --single-scale '
            '--set model.width=0.0625 --set input.batch_size=2 '
            '--set input.input_scale=0.25 --set train.validation_batches=0')
    done = make('train-osmn', 'RUN_DIR=' + run_dir, 'RECORDS=' + coco_records, 'STEPS=2',
                'VENV=' + VENV, tiny, 'SAMPLE=' + str(tmpdir.join('sample')),
                'OUT=' + str(tmpdir.join('out')), dry_run=False)
    assert done.returncode == 0, done.stderr[-3000:]
    with open(os.path.join(run_dir, 'summary.json')) as f:
        summary = json.load(f)
    assert (summary['status'], summary['steps'], summary['start_step']) == ('completed', 2, 0)
    assert not tmpdir.join('sample').check(), 'make wrote sample data for given records'
    after = sorted(os.listdir(default_run)) if os.path.isdir(default_run) else None
    assert after == before, 'runs/osmn-coco was written'


def test_no_message_cites_the_specification():
    """Messages point at what a user can open (README.md, docs/): the specification files are
    not in the repository. Docstrings and comments may cite them; other strings may not."""
    import ast
    packages = ('datasets', 'schemas', 'pipelines', 'trainers', 'trackers', 'segmenters',
                'evaluation', 'doctor', 'sampledata', 'bench', 'tools')
    citing = []
    for package in packages:
        for folder, _, files in os.walk(os.path.join(ROOT, package)):
            for name in (f for f in files if f.endswith('.py')):
                path = os.path.join(folder, name)
                with open(path) as f:
                    tree = ast.parse(f.read())
                docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                              if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                                   ast.AsyncFunctionDef))
                              and node.body and isinstance(node.body[0], ast.Expr)
                              and isinstance(node.body[0].value, ast.Str)}
                citing += ['%s:%d' % (os.path.relpath(path, ROOT), node.lineno)
                           for node in ast.walk(tree) if isinstance(node, ast.Str)
                           and id(node) not in docstrings
                           and re.search(r'(sa-siam|osmn|ecosystem)\.md', node.s)]
    assert citing == []
