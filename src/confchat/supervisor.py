"""The supervisor of ``confchat serve --workers N``: it starts the N worker
processes (each a whole server, confchat/workers.py), tells when they all
listen, starts again one that dies (after a back-off that grows while it
keeps dying), passes SIGHUP on, and stops them all on SIGTERM or SIGINT.
Plain processes and pipes: no trio here, the supervisor serves nobody.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import structlog

log = structlog.get_logger("confchat")

#: The environment that marks a worker process (set by the supervisor).
WORKER_ENV = "CONFCHAT_WORKER"
WORKERS_ENV = "CONFCHAT_WORKERS"
READY_FD_ENV = "CONFCHAT_READY_FD"
READY = b"ready\n"

#: A dead worker is started again after RESTART_DELAY seconds; the delay
#: doubles while it keeps dying within STABLE_AFTER seconds of its start,
#: up to RESTART_DELAY_MAX.
RESTART_DELAY = 0.5
RESTART_DELAY_MAX = 30.0
STABLE_AFTER = 30.0
#: Workers still running this long after SIGTERM are killed: their own
#: shutdown gives up after twice app.SHUTDOWN_GRACE.
STOP_TIMEOUT = 15.0


@attrs.define
class Slot:
    """One worker's place: the process that fills it now, if any."""

    index: int
    proc: subprocess.Popen[bytes] | None = None
    ready_fd: int | None = None  # the read end of its ready pipe, until it wrote or died
    ready: bool = False
    started_at: float = 0.0
    delay: float = RESTART_DELAY  # before the next restart
    restart_at: float | None = None


class Supervisor:
    """Runs ``count`` workers. ``command``: what a worker runs (default:
    this Python's ``-m confchat serve``); ``config``: what it reads on its
    standard input."""

    def __init__(
        self,
        count: int,
        config: bytes,
        *,
        command: Sequence[str] | None = None,
        environ: dict[str, str] | None = None,
        stop_timeout: float = STOP_TIMEOUT,
    ) -> None:
        self.count = count
        self.config = config
        self.command = list(command) if command is not None else [sys.executable, "-m", "confchat", "serve"]
        self.environ = dict(os.environ if environ is None else environ)
        self.stop_timeout = stop_timeout
        self.slots = [Slot(i) for i in range(1, count + 1)]
        self.announced = False
        self.stopping = False
        self.failed = False
        self.kill_at: float | None = None
        self._signals: list[int] = []
        self._death_signal = _death_signal_setter()

    # The loop ----------------------------------------------------------------

    def run(self, on_ready: Callable[[], None] = lambda: None) -> int:
        """Until every worker is gone after a stop; 0, or 1 when the start
        failed."""
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD)
        previous = {signum: signal.signal(signum, self._on_signal) for signum in handled}
        previous_wakeup = signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        try:
            log.info("workers.starting", workers=self.count, pid=os.getpid())
            for slot in self.slots:
                if not self.stopping:
                    self._start(slot)
            while not (self.stopping and not self._alive()):
                self._step(wake_r, on_ready)
        finally:
            signal.set_wakeup_fd(previous_wakeup)
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            os.close(wake_r)
            os.close(wake_w)
            for slot in self.slots:  # only after an error of our own
                if slot.proc is not None and slot.proc.poll() is None:
                    slot.proc.kill()
                    slot.proc.wait()
                self._close_ready(slot)
        log.info("workers.stopped", failed=self.failed)
        return 1 if self.failed else 0

    def _on_signal(self, signum: int, frame: Any) -> None:
        self._signals.append(signum)  # the wakeup fd wakes the loop

    def _step(self, wake_r: int, on_ready: Callable[[], None]) -> None:
        now = time.monotonic()
        deadlines = [s.restart_at for s in self.slots if s.restart_at is not None]
        if self.kill_at is not None:
            deadlines.append(self.kill_at)
        timeout = max(0.0, min(deadlines) - now) if deadlines else 1.0
        fds = [wake_r] + [s.ready_fd for s in self.slots if s.ready_fd is not None]
        try:
            readable, _, _ = select.select(fds, [], [], min(timeout, 1.0))
        except InterruptedError:
            readable = []
        if wake_r in readable:
            with contextlib.suppress(BlockingIOError):
                while os.read(wake_r, 512):
                    pass
        while self._signals:
            self._signal(self._signals.pop(0))
        for slot in self.slots:
            if slot.ready_fd is not None and slot.ready_fd in readable:
                self._read_ready(slot)
        # Before reaping: a worker that said it listens and died since is
        # one to restart, not a failed start.
        if not self.announced and not self.stopping and all(s.ready for s in self.slots):
            self.announced = True
            log.info("workers.ready", workers=self.count)
            try:
                on_ready()
            except Exception as exc:  # the banner or demo.toml could not be written
                log.exception("workers.announce_failed")
                print(f"confchat: cannot start: {exc}", file=sys.stderr, flush=True)
                self.failed = True
                self.stop()
        self._reap()
        now = time.monotonic()
        for slot in self.slots:
            if slot.restart_at is not None and now >= slot.restart_at and not self.stopping:
                slot.restart_at = None
                self._start(slot)
        if self.kill_at is not None and now >= self.kill_at:
            self.kill_at = None
            for slot in self.slots:
                if slot.proc is not None and slot.proc.poll() is None:
                    log.error("worker.kill", worker=slot.index, pid=slot.proc.pid, after=self.stop_timeout)
                    slot.proc.kill()

    def _signal(self, signum: int) -> None:
        if signum == signal.SIGCHLD:
            return  # _reap looks at every worker
        name = signal.Signals(signum).name
        if signum == signal.SIGHUP:
            log.info("signal.received", signal=name, forwarded_to=self._ready_pids())
            self._send(signal.SIGHUP, ready_only=True)
            return
        if self.stopping:
            log.info("signal.received", signal=name, note="already stopping")
            return
        log.info("signal.received", signal=name)
        self.stop()

    def stop(self) -> None:
        """SIGTERM to every worker; no more restarts."""
        self.stopping = True
        self.kill_at = time.monotonic() + self.stop_timeout
        for slot in self.slots:
            slot.restart_at = None
        self._send(signal.SIGTERM)

    # Workers -----------------------------------------------------------------

    def _start(self, slot: Slot) -> None:
        ready_r, ready_w = os.pipe()
        env = dict(
            self.environ,
            **{WORKER_ENV: str(slot.index), WORKERS_ENV: str(self.count), READY_FD_ENV: str(ready_w)},
        )
        try:
            proc = subprocess.Popen(
                self.command,
                stdin=subprocess.PIPE,
                env=env,
                pass_fds=(ready_w,),
                # A group of its own: a Ctrl-C in the terminal reaches the
                # supervisor only, which stops the workers in order.
                process_group=0,
                preexec_fn=self._death_signal,
            )
        except OSError as exc:
            os.close(ready_r)
            log.error("worker.start_failed", worker=slot.index, error=str(exc))
            self._died(slot, None)
            return
        finally:
            os.close(ready_w)  # the worker has its copy
        slot.proc, slot.ready_fd, slot.ready = proc, ready_r, False
        slot.started_at = time.monotonic()
        log.info("worker.started", worker=slot.index, pid=proc.pid)
        assert proc.stdin is not None
        try:
            proc.stdin.write(self.config)
            proc.stdin.close()
        except OSError:  # it died before reading: _reap sees it
            pass

    def _read_ready(self, slot: Slot) -> None:
        assert slot.ready_fd is not None
        try:
            data = os.read(slot.ready_fd, 64)
        except OSError:
            data = b""
        if data.startswith(READY):
            slot.ready = True
            if self.announced:
                log.info("worker.restarted", worker=slot.index, pid=slot.proc.pid if slot.proc else None)
        self._close_ready(slot)

    def _close_ready(self, slot: Slot) -> None:
        if slot.ready_fd is not None:
            os.close(slot.ready_fd)
            slot.ready_fd = None

    def _reap(self) -> None:
        for slot in self.slots:
            if slot.proc is None:
                continue
            code = slot.proc.poll()
            if code is None:
                continue
            proc, slot.proc = slot.proc, None
            self._close_ready(slot)
            slot.ready = False
            if self.stopping:
                log.info("worker.stopped", worker=slot.index, pid=proc.pid, status=_status(code))
                continue
            self._died(slot, proc, code)

    def _died(self, slot: Slot, proc: subprocess.Popen[bytes] | None, code: int | None = None) -> None:
        pid = proc.pid if proc is not None else None
        if not self.announced:
            # Not every worker has started yet: an address in use, a damaged
            # database… (the worker said why). Restarting would only repeat it.
            log.error("worker.failed_to_start", worker=slot.index, pid=pid, status=_status(code))
            print(f"confchat: cannot start: worker {slot.index} exited ({_status(code)})", file=sys.stderr, flush=True)
            self.failed = True
            self.stop()
            return
        lived = time.monotonic() - slot.started_at
        if lived >= STABLE_AFTER:
            slot.delay = RESTART_DELAY
        slot.restart_at = time.monotonic() + slot.delay
        log.warning(
            "worker.died", worker=slot.index, pid=pid, status=_status(code),
            lived=round(lived, 1), restart_in=slot.delay,
        )
        slot.delay = min(slot.delay * 2, RESTART_DELAY_MAX)

    def _send(self, signum: int, ready_only: bool = False) -> None:
        for slot in self.slots:
            if slot.proc is not None and slot.proc.poll() is None and (slot.ready or not ready_only):
                with contextlib.suppress(ProcessLookupError):
                    slot.proc.send_signal(signum)

    def _alive(self) -> bool:
        return any(slot.proc is not None for slot in self.slots)

    def _ready_pids(self) -> list[int]:
        return [s.proc.pid for s in self.slots if s.proc is not None and s.ready]

    def pids(self) -> dict[int, int]:
        """Worker index -> pid, for the workers running now."""
        return {s.index: s.proc.pid for s in self.slots if s.proc is not None}


def _status(code: int | None) -> str:
    if code is None:
        return "not started"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def _death_signal_setter() -> Callable[[], None] | None:
    """For a worker between fork and exec: SIGTERM when the supervisor dies
    (Linux's PR_SET_PDEATHSIG), so that a supervisor killed with SIGKILL
    leaves no worker serving on its own."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def set_death_signal() -> None:
        prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # it died before the prctl
            os._exit(1)

    return set_death_signal
