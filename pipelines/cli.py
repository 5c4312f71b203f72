"""What every pipeline's command line shares: the parser, refusing unknown flags, quiet Beam
logging, and turning every failure a person can fix into one line and an exit status.

Exit status: 0 written and acceptable; 1 written but not acceptable (no records, too many
rejected inputs: the output is published for inspection), or nothing written (user error, busy
output, --strict stop, a failed write); 2 bad command line; 130 interrupted.
"""
from __future__ import absolute_import, division, print_function

import argparse
import collections
import difflib
import logging
import os
import sys
import threading

from datasets import fileio
from pipelines import driver, report
from pipelines.dead_letters import StrictStop
from pipelines.runner_options import default_workers

class UsageError(Exception):
    """A command line that cannot run; the message says what to pass instead."""


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every optional flag's default in --help, except where the help text already says it."""

    def _get_help_string(self, action):
        if action.required or '(default' in (action.help or ''):
            return action.help
        return super(HelpFormatter, self)._get_help_string(action)


def argument_parser(dataset, description, data_help, unit='units', units_per_shard=8):
    """The parser every pipeline starts from: --data, --out and the shared flags; `unit` names
    the dataset's unit of work (snippets, videos, image batches) in --units-per-shard."""
    parser = argparse.ArgumentParser(
        prog='python -m pipelines %s' % dataset, description=description, allow_abbrev=False,
        formatter_class=HelpFormatter,
        epilog='Any other flag must be an Apache Beam pipeline option (e.g. '
               '--runner=FlinkRunner, --direct_num_workers=4, --setup_file=./setup.py); '
               'unknown flags are refused.')
    parser.add_argument('--data', required=True, help=data_help)
    parser.add_argument('--out', required=True,
                        help='output root; the dataset is written to OUT/<name>')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing output (swapped in when complete)')
    parser.add_argument('--strict', action='store_true',
                        help='stop at the first bad input instead of writing it to errors.jsonl')
    parser.add_argument('--max-reject-fraction', type=float, default=0.05,
                        help='exit 1 when a larger share of units, images or objects is '
                             'rejected (the output is still written)')
    parser.add_argument('--units-per-shard', type=int, default=units_per_shard,
                        help='%s per output shard' % unit)
    parser.add_argument('--min-shards', type=int, default=None,
                        help='at least this many shards when the input has enough units '
                             '(default: 2 per worker, so every worker is busy)')
    parser.add_argument('--verbose', action='store_true',
                        help='show Apache Beam\'s informational logs and warnings')
    return parser


def _beam_flags():
    """Every flag Apache Beam's PipelineOptions accept (all option groups, all runners)."""
    from apache_beam.options.pipeline_options import PipelineOptions, _BeamArgumentParser
    parser = _BeamArgumentParser(add_help=False)
    pending, seen = list(PipelineOptions.__subclasses__()), set()
    while pending:
        cls = pending.pop()
        if cls in seen:
            continue
        seen.add(cls)
        pending.extend(cls.__subclasses__())
        try:
            cls._add_argparse_args(parser)
        except argparse.ArgumentError:  # an option two groups declare
            pass
    return set(parser._option_string_actions)


def check_beam_args(parser, beam_args):
    """Refuse flags that are neither ours nor Beam's, suggesting the nearest known flag."""
    ours = set(parser._option_string_actions)
    beam_flags = _beam_flags()
    for arg in beam_args:
        if not arg.startswith('-'):
            continue
        flag = arg.split('=', 1)[0]
        if flag in beam_flags:
            continue
        close = difflib.get_close_matches(flag, sorted(ours | beam_flags), n=1, cutoff=0.7)
        hint = ' (did you mean %s?)' % close[0] if close else ''
        raise UsageError('unknown flag %s%s; see %s --help' % (flag, hint, parser.prog))


def quiet_logging(verbose):
    """Beam's routine warnings (workers' start-up notes, pickling, snappy) hidden by default."""
    level = logging.INFO if verbose else logging.ERROR
    logging.getLogger().setLevel(level)
    logging.getLogger('apache_beam').setLevel(level)
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1' if verbose else '2')


INTERRUPTED = 130

# Set by `python -m pipelines`: this process is the command line, it ends when the command
# returns, so what Beam's workers print can be filtered at the file descriptor (StderrFilter).
COMMAND_LINE = False


class StderrFilter(object):
    """File descriptor 2 through a pipe while Beam runs: progress lines (`[name] ...`) pass, the
    rest is held back (the last KEEP lines, for a bug report). Beam's worker processes inherit
    descriptor 2, and its job service threads, DirectRunner workers and gRPC print there
    directly (logs, tracebacks of workers killed by Ctrl-C, C++ aborts), which no logging level
    reaches. A worker that outlives an interrupted run writes into a pipe nobody reads."""

    KEEP = 200

    def __init__(self):
        sys.stderr.flush()
        self.console = os.dup(2)
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
        self.held = collections.deque(maxlen=self.KEEP)
        self.passing = True
        threading.Thread(target=self._pump, args=(read_end,), name='stderr_filter',
                         daemon=True).start()

    def _pump(self, read_end):
        with os.fdopen(read_end, 'rb') as pipe:
            for line in pipe:
                if self.passing and line.startswith(b'['):
                    os.write(self.console, line)
                else:
                    self.held.append(line)

    def write(self, text):
        """Straight to the terminal, whatever still writes into the pipe."""
        os.write(self.console, text.encode('utf-8', 'replace'))

    def stop(self):
        """Descriptor 2 back to the terminal (not after Ctrl-C: the process ends right away,
        and Beam's threads print tracebacks as its workers die)."""
        sys.stderr.flush()
        self.passing = False
        os.dup2(self.console, 2)
        os.close(self.console)

    def held_text(self):
        return b''.join(self.held).decode('utf-8', 'replace')


def _user_message(err):
    """One line for an error a person can fix, or None for a bug (which keeps its traceback)."""
    from pipelines import output
    if isinstance(err, (UsageError, output.OutputError, StrictStop)):
        return str(err)
    if isinstance(err, (FileNotFoundError, NotADirectoryError, PermissionError,
                        FileExistsError, IsADirectoryError)):
        where = ': %s' % err.filename if getattr(err, 'filename', None) else ''
        return '%s%s' % (err.strerror or err, where) if err.strerror else str(err)
    if isinstance(err, OSError):   # e.g. fileio.WriteError: "cannot write PATH: reason"
        return fileio.os_error_line(err)
    return None


def run(parser, argv, build, schema):
    """A pipeline's main(): parse (refusing unknown flags), build the transform with
    build(args, beam_args) -> (ConvertToShards, options dict), run, print the summary; returns
    the exit status."""
    args, beam_args = parser.parse_known_args(argv)
    try:
        check_beam_args(parser, beam_args)
    except UsageError as err:
        sys.stderr.write('error: %s\n' % err)
        return 2
    quiet_logging(args.verbose)
    notes = []
    capture = None
    try:
        try:  # planning reads the dataset's index files: bad ones are a user's to fix
            transform, options = build(args, beam_args)
        except ValueError as err:
            raise UsageError(str(err))
        options = dict(options, max_reject_fraction=args.max_reject_fraction)
        if COMMAND_LINE and not args.verbose:
            capture = StderrFilter()
        info, counters = driver.run_conversion(transform, schema, args.out, beam_args,
                                               source=args.data, options=options,
                                             overwrite=args.overwrite, notes=notes)
    except KeyboardInterrupt:
        console = capture or sys.stderr
        for note in notes:
            console.write('note: %s\n' % note)
        console.write('interrupted: nothing published; %s is as it was\n' % args.out)
        return INTERRUPTED
    except Exception as err:
        held = _stop(capture)
        for note in notes:
            sys.stderr.write('note: %s\n' % note)
        message = _user_message(err)
        if message is None:
            sys.stderr.write(held)  # a bug: what Beam printed belongs to the report
            raise
        prefix = 'strict: stopped at the first bad input: ' if isinstance(
            err, StrictStop) else 'error: '
        sys.stderr.write(prefix + message + '\n')
        return 1
    _stop(capture)
    for note in notes:
        sys.stderr.write('note: %s\n' % note)
    final = fileio.join(args.out, info['name'])
    for line in report.summary_lines(info, counters, final):
        print(line)
    problem = report.verdict(info, args.max_reject_fraction)
    if problem:
        sys.stderr.write('error: %s: %s (written to %s for inspection)\n' % (
            info['name'], problem, final))
        return 1
    return 0


def _stop(capture):
    """Stop a StderrFilter (None: there is none); returns what it held back."""
    if capture is None:
        return ''
    capture.stop()
    return capture.held_text()


def min_shards(args, beam_args):
    """--min-shards, or 2 shards per worker."""
    return args.min_shards or 2 * default_workers(beam_args)
