"""Failure detection for data-parallel steps.

A collective whose peer has died never completes in TF 1.15 (a RunOptions deadline cancels the
step but the ring receive stays blocked; checked on this version), so a `Watchdog` thread bounds
every step: past the deadline it probes the peers' gRPC ports and stops the process with a message
naming the ranks that are gone (exit status EXIT_PEER_LOST).
"""
from __future__ import absolute_import, division, print_function

import os
import socket
import sys
import threading
import time

EXIT_PEER_LOST = 75  # sysexits EX_TEMPFAIL: resume from rank 0's last checkpoint and retry


def probe(address, timeout=2.0):
    """True when a TCP connection to host:port succeeds (a dead rank's port refuses)."""
    host, _, port = address.rpartition(':')
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def diagnose(topology, label, waited_s, reachable):
    """The one-line reason a step did not finish: which ranks are gone. `reachable` maps each
    peer rank to the probe's answer (empty when the engine has no ports to probe)."""
    lost = sorted(r for r, ok in reachable.items() if not ok)
    where = 'rank %d of %d' % (topology.rank, topology.size)
    if lost:
        names = ', '.join('rank %d (%s)' % (r, topology.workers[r]) if topology.workers
                          else 'rank %d' % r for r in lost)
        return ('%s stopped: %s no longer answer%s; %s did not finish after %.0f s. Restart all '
                '%d ranks: training resumes from rank 0\'s last checkpoint.'
                % (where, names, 's' if len(lost) == 1 else '', label, waited_s, topology.size))
    return ('%s stopped: %s did not finish after %.0f s although every rank %s; a rank is stuck '
            'or much slower (raise parallel.step_timeout_s if checkpoints or validation take '
            'that long). Restart all %d ranks to resume from rank 0\'s last checkpoint.'
            % (where, label, waited_s,
               'answers' if reachable else 'may still be running (see the per-rank logs)',
               topology.size))


class Watchdog(object):
    """Bounds the time of every collective step. `with watchdog.watch('step 12', 300): sess.run`
    arms a deadline; past it, the peers are probed and the process ends with EXIT_PEER_LOST and a
    message naming the lost ranks (os._exit: the blocked step cannot be interrupted otherwise).
    While every peer still answers, the wait is extended once by the same time before giving up.
    `on_timeout(message)` replaces the exit in tests."""

    def __init__(self, topology, on_timeout=None, probe_fn=probe, poll_s=0.5):
        self.topology = topology
        self._on_timeout = on_timeout or _exit_peer_lost
        self._probe = probe_fn
        self._poll = poll_s
        self._lock = threading.Condition()
        self._armed = None  # (label, start, timeout)
        self._closed = False
        self._thread = None
        if topology.distributed:
            self._thread = threading.Thread(target=self._run, name='parallel-watchdog')
            self._thread.daemon = True
            self._thread.start()

    def watch(self, label, timeout_s):
        return _Armed(self, label, timeout_s)

    def _arm(self, value):
        with self._lock:
            self._armed = value
            self._lock.notify()

    def close(self):
        with self._lock:
            self._closed = True
            self._lock.notify()

    def _peers_reachable(self):
        if not self.topology.workers:
            return {}
        return {r: self._probe(a) for r, a in enumerate(self.topology.workers)
                if r != self.topology.rank}

    def _run(self):
        while True:
            with self._lock:
                if self._closed:
                    return
                armed = self._armed
                if armed is None:
                    self._lock.wait()
                    continue
                label, start, timeout = armed
                waited = time.time() - start
                if waited < timeout:
                    self._lock.wait(min(self._poll, timeout - waited))
                    continue
            reachable = self._peers_reachable()
            if all(reachable.values()) and reachable and waited < 2 * timeout:
                with self._lock:
                    if self._armed is armed:
                        self._lock.wait(self._poll)
                continue
            with self._lock:
                if self._armed is not armed:  # the step finished while we probed
                    continue
            self._on_timeout(diagnose(self.topology, label, waited, reachable))
            with self._lock:
                self._armed = None


class _Armed(object):
    def __init__(self, watchdog, label, timeout_s):
        self.watchdog, self.label, self.timeout = watchdog, label, timeout_s

    def __enter__(self):
        if self.watchdog._thread is not None:
            self.watchdog._arm((self.label, time.time(), self.timeout))
        return self

    def __exit__(self, *exc):
        if self.watchdog._thread is not None:
            self.watchdog._arm(None)


def _exit_peer_lost(message):
    sys.stderr.write('error: %s\n' % message)
    sys.stderr.flush()
    sys.stdout.flush()
    os._exit(EXIT_PEER_LOST)
