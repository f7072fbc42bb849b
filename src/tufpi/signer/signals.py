"""How a signer process learns that it should stop, without a lock in any signal handler.

A signal handler runs in the main thread between two bytecodes, possibly while that thread
holds a lock: inside ``stop.wait()``, say, whose condition's (non-reentrant) lock a handler
calling ``stop.set()`` would then wait for forever, if a second signal (the parent-death
signal, then an administrator's SIGTERM) lands while the first one's ``set()`` holds it.
Seen: a signer orphaned for 70 minutes, still holding its election lock. So:

- ``stop_on_signals``: the only handler work is the interpreter's C-level one, which writes
  the signal's number to a pipe (``signal.set_wakeup_fd``); the Python handler does nothing.
  A thread reading that pipe sets ``stop``, which the loop watches.
- ``exit_with_parent``: the parent-death signal is SIGTERM, so it takes the path above; the
  thread polling the parent sets ``stop`` from a thread, not from a handler.

``tufpi serve`` installs no handler of its own: uvicorn's appends to a list and sets a flag
that its main loop polls; the app's lifespan then stops the child from a worker thread
(``child.running``), outside any handler.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import threading
from collections.abc import Sequence

log = logging.getLogger("tufpi.signer")

# Seconds between the child's looks at its parent.
_PARENT_POLL = 1.0
# prctl(2): PR_SET_PDEATHSIG.
_PR_SET_PDEATHSIG = 1


def stop_on_signals(stop: threading.Event, signals: Sequence[signal.Signals]) -> None:
    """Set ``stop`` when one of ``signals`` arrives, however often and however close
    together they come, without taking a lock in a handler. Call from the main thread.
    """
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    wanted = {int(sig) for sig in signals}

    def watch() -> None:
        while data := os.read(read_end, 64):
            if wanted.intersection(data):
                stop.set()
                return

    threading.Thread(target=watch, name="tufpi-signal-watch", daemon=True).start()
    # The pipe first, then the handlers: a signal arriving in between still ends the
    # process (its default action), never goes unnoticed. Later signals fill the pipe,
    # whose writes then fail quietly.
    signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    for sig in signals:
        # A Python-level handler must exist for the wakeup byte to be written; it does nothing.
        signal.signal(sig, _ignore)


def _ignore(_signum: int, _frame: object) -> None:
    """The handler of ``stop_on_signals``: the C-level handler already wrote the byte."""


def exit_with_parent(parent_pid: int, stop: threading.Event) -> None:
    """Make this process stop when ``parent_pid`` (its parent) ends, even by SIGKILL.

    Asks Linux for SIGTERM on the parent's death (with ``stop_on_signals`` installed for
    SIGTERM, that sets ``stop``), and polls the parent in a daemon thread, which also covers
    a parent that died before the request and systems other than Linux.
    """
    _request_parent_death_signal(signal.SIGTERM)

    def poll() -> None:
        while not stop.is_set():
            if os.getppid() != parent_pid:
                log.warning("signer: the serving process %d is gone; stopping", parent_pid)
                stop.set()
                return
            stop.wait(_PARENT_POLL)

    threading.Thread(target=poll, name="tufpi-parent-watch", daemon=True).start()


def _request_parent_death_signal(sig: signal.Signals) -> None:
    name = ctypes.util.find_library("c")
    if name is None:
        return
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    except (OSError, AttributeError):
        return  # not Linux: the polling thread alone notices the parent's death
