"""The signer of ``tufpi serve`` as a child process: started, watched, restarted, stopped.

Signing is CPU work in Python; in a thread of the web process it would share the
interpreter lock with every request (see docs/benchmarks.md). So ``serve`` runs
``tufpi signer`` as a child process, with the same interpreter, environment and global
options, and supervises it from one thread:

- the child reports its first publication on a pipe, so start-up can wait for fresh
  metadata (a signer started after downtime re-signs first); a first child that exits
  before that (its online key does not load, say) fails serve's start-up, as a
  misconfigured signer should; a child that finds another signer active says so, and
  start-up goes on at once (that signer keeps the metadata fresh; this one stands by);
- a child that exits while serve runs is logged and restarted after a short delay;
- when serve stops, the child gets SIGTERM (then SIGKILL if it does not stop in time);
- a child never outlives serve: it asks Linux for SIGTERM when its parent dies
  (``PR_SET_PDEATHSIG``) and also polls its parent, which covers other systems and the race
  of a parent dying before the child made that request (``signals.exit_with_parent``).

``running`` is all of it that the web app's lifespan sees.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import subprocess
import threading
from collections.abc import AsyncIterator, Sequence

import anyio

log = logging.getLogger("tufpi.signer")

# What the child writes on its ready pipe: after its first publication; and when it finds
# another signer active (it stands by, and serve need not wait for it).
READY = b"r"
STANDBY = b"s"
# How long serve's start-up waits for the signer's first publication (fresh metadata).
READY_TIMEOUT = 120.0
# Seconds between a child's exit and its restart.
RESTART_DELAY = 2.0
# Seconds a stopping child gets to finish its publication before SIGKILL.
STOP_TIMEOUT = 30.0
# Seconds between the supervisor's looks at its child.
_POLL = 0.2


class SignerStartFailed(RuntimeError):
    """serve's first signer process exited before its first publication."""


class SignerChild:
    """Run ``command`` (a ``tufpi signer`` command line) as a supervised child process.

    ``command`` gets ``--ready-fd FD --parent-pid PID`` appended. Every child is started by
    one supervisor thread, which lives as long as the supervision: Linux sends the parent
    death signal when the *thread* that forked the child ends.
    """

    def __init__(self, command: Sequence[str], restart_delay: float = RESTART_DELAY) -> None:
        self.command = list(command)
        self.restart_delay = restart_delay
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._standby = threading.Event()
        # Set when a child has published once, stands by, or the first child exited first.
        self._settled = threading.Event()
        self._start_failure: int | None = None
        self._thread: threading.Thread | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The running child's process id, if one runs."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def start(self) -> None:
        """Start the supervisor thread, which starts the first child."""
        self._thread = threading.Thread(target=self._supervise, name="tufpi-signer-supervisor")
        self._thread.start()

    @property
    def standing_by(self) -> bool:
        """True once a child found another signer active (and has not published since)."""
        return self._standby.is_set() and not self._ready.is_set()

    def wait_ready(self, timeout: float) -> bool:
        """Block until a child has published once (True), or stands by because another
        signer is active, or ``timeout`` seconds pass (both False).

        Raises:
            SignerStartFailed: the first child exited before its first publication.
        """
        self._settled.wait(timeout)
        if self._start_failure is not None and not self._ready.is_set():
            raise SignerStartFailed(
                f"the signer exited with {_describe(self._start_failure)} before its first "
                "publication (see its log lines above)"
            )
        return self._ready.is_set()

    def stop(self) -> None:
        """Stop the child (SIGTERM, then SIGKILL after ``STOP_TIMEOUT``) and the supervisor."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _supervise(self) -> None:
        while not self._stop.is_set():
            code = self._run_once()
            if self._stop.is_set():
                break
            if not self._settled.is_set():
                self._start_failure = code
                self._settled.set()
            log.error(
                "signer: child process exited with %s; restarting it in %.0f s",
                _describe(code),
                self.restart_delay,
            )
            self._stop.wait(self.restart_delay)

    def _run_once(self) -> int:
        """Start one child and wait for it to exit, or stop it; returns its exit status."""
        read_end, write_end = os.pipe()
        try:
            process = subprocess.Popen(
                [*self.command, "--ready-fd", str(write_end), "--parent-pid", str(os.getpid())],
                pass_fds=(write_end,),
                # Its own session: a terminal's Ctrl-C reaches serve, which stops the child.
                start_new_session=True,
            )
        finally:
            os.close(write_end)
        self._process = process
        log.info("signer: started child process %d", process.pid)
        try:
            self._watch(process, read_end)
        finally:
            os.close(read_end)
            if process.poll() is None:
                _terminate(process)
        return process.returncode

    def _watch(self, process: subprocess.Popen[bytes], read_end: int) -> None:
        pipe_open = True
        while not self._stop.is_set() and process.poll() is None:
            if not pipe_open:
                self._stop.wait(_POLL)
                continue
            readable, _, _ = select.select([read_end], [], [], _POLL)
            if readable:
                data = os.read(read_end, 16)
                if STANDBY in data:
                    self._standby.set()
                    self._settled.set()
                if READY in data:
                    self._ready.set()
                    self._settled.set()
                pipe_open = bool(data)


@contextlib.asynccontextmanager
async def running(
    command: Sequence[str], ready_timeout: float = READY_TIMEOUT
) -> AsyncIterator[None]:
    """Run the signer (``command``: a ``tufpi signer`` command line) as a supervised child
    process for as long as the block runs: what the web app's lifespan enters.

    Entering waits up to ``ready_timeout`` seconds for the first publication (a signer
    started after downtime re-signs first), unless another signer is active; leaving stops
    the child. The waiting and the stopping happen in a worker thread.

    Raises:
        SignerStartFailed: the first child exited before its first publication (serve does
            not run with a signer that cannot sign).
    """
    child = SignerChild(command)
    child.start()
    try:
        ready = await anyio.to_thread.run_sync(child.wait_ready, ready_timeout)
        if not ready and child.standing_by:
            log.warning(
                "another signer is active (it holds the election lock); serving, with this "
                "node's signer standing by to take over"
            )
        elif not ready:
            log.warning("the signer has not published yet after %.0f s", ready_timeout)
        yield
    finally:
        await anyio.to_thread.run_sync(child.stop)


def _terminate(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        log.error("signer: child process %d did not stop; killing it", process.pid)
        process.kill()
        process.wait()


def _describe(code: int | None) -> str:
    if code is not None and code < 0:
        with contextlib.suppress(ValueError):
            return f"signal {signal.Signals(-code).name}"
    return f"status {code}"


# -- the child's side ---------------------------------------------------------------------


def notify_standby(fd: int) -> None:
    """Tell the supervising serve that another signer is active (the pipe stays open)."""
    with contextlib.suppress(OSError):
        os.write(fd, STANDBY)


def notify_ready(fd: int) -> None:
    """Tell the supervising serve that the first publication is done."""
    with contextlib.suppress(OSError):
        os.write(fd, READY)
        os.close(fd)
