"""Stopping on signals without a lock in any handler (tufpi.signer.signals).

Each case runs in a fresh interpreter of its own: signal handlers and the wakeup pipe are
process-wide, and a handler that deadlocks would hang the process it runs in.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

_PRELUDE = """
import os, signal, sys, threading, time
from tufpi.signer.signals import stop_on_signals
stop = threading.Event()
stop_on_signals(stop, (signal.SIGTERM, signal.SIGINT))
"""

# The incident: a handler calling stop.set() ran while the main thread held the event's own
# lock (as stop.wait() does for a few bytecodes each call) and waited for it forever. Here
# the main thread holds that lock, deterministically, while five signals arrive and their
# handlers run.
_WHILE_HOLDING_THE_EVENTS_LOCK = """
with stop._cond:
    for _ in range(5):
        os.kill(os.getpid(), signal.SIGTERM)
    sum(range(100_000))  # bytecodes, between which the handlers run
print(stop.wait(10))
"""

# The signer's loop: the main thread inside stop.wait() while a burst arrives.
_DURING_A_WAIT = """
def burst():
    for sig in [signal.SIGTERM, signal.SIGINT] * 3:
        os.kill(os.getpid(), sig)
        time.sleep(0.01)
threading.Timer(0.2, burst).start()
print(stop.wait(10))
"""


@pytest.mark.parametrize(
    "case", [_WHILE_HOLDING_THE_EVENTS_LOCK, _DURING_A_WAIT], ids=["holding-lock", "waiting"]
)
def test_signals_set_stop_and_never_hang(case: str) -> None:
    try:
        result = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(_PRELUDE + case)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the process hung: a signal handler waited for a lock")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"
