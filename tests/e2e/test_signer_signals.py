"""A burst of SIGTERMs stops every signer process within seconds, and frees the election lock.

``tufpi serve``, its signer child and a ``tufpi signer`` alone each get five SIGTERMs 10 ms
apart (the later ones land while the first is being handled: a handler taking a lock then
deadlocked, once), both while the signer waits between publications and while it is inside
one. Each must exit within seconds, and a new signer must then become the active one (the
positive proof that nothing holds the election lock).

Inside a publication for certain: the signer's hidden testing hook (``--debug-pause-at``,
``TUFPI_DEBUG_SIGNER_PAUSE_AT``) holds it at a checkpoint, logging ``signer: paused at
bins``, until it is asked to stop; so the signals arrive while it is there, and only a
signal lets it finish that publication. Waiting for certain: its first publication is done
(reported on its ready pipe, or serve answering at all), and the next is an hour away.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import server as server_support
from tests.support.server import IndexServer, alive, signer_children
from tests.support.uploads import post_wheel
from tests.support.waiting import wait_until

PAUSE_ENV = "TUFPI_DEBUG_SIGNER_PAUSE_AT"
PAUSED = "signer: paused at bins"
# Where the signer is when the signals come: between two publications, or inside one.
MOMENTS = ["waiting", "publishing"]
# Seconds each process has to exit after the burst.
EXIT_WITHIN = 10
# How a signer asked to stop exits: 0, or by SIGTERM's default action when one of the burst
# comes after its loop ended (the interpreter restores default handlers as it exits).
_STOP_STATUSES = (0, -signal.SIGTERM)
_STOPPED = re.compile(r"signer: child process exited with (status 0|signal SIGTERM);")


def _sigterm_burst(pid: int, count: int = 5, gap: float = 0.01) -> None:
    """``count`` SIGTERMs ``gap`` seconds apart; fewer when the process is gone (it exited
    and its parent reaped it: what the burst asks of it) before the last."""
    os.kill(pid, signal.SIGTERM)
    for _ in range(count - 1):
        time.sleep(gap)
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return


def _log(server: IndexServer, name: str) -> str:
    path = server.data_dir / name
    return path.read_text() if path.exists() else ""


def _upload(server: IndexServer, name: str) -> None:
    """A pending change, which the signer's next publication takes up."""
    token = server.new_user(f"{name}-owner")
    with httpx.Client(timeout=30) as client:
        response = post_wheel(client, server.url, token, name, "1.0")
    assert response.status_code == 200, response.text


def _exit_status(process: subprocess.Popen[bytes], what: str) -> int:
    try:
        return process.wait(timeout=EXIT_WITHIN)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{what} still runs {EXIT_WITHIN} s after the SIGTERMs")


def _finished_the_held_publication(server: IndexServer, log_name: str, moment: str) -> bool:
    """Held inside a publication, the signer finished it before it stopped."""
    if moment == "waiting":
        return True
    _, _, after = _log(server, log_name).partition(PAUSED)
    return "signer: published snapshot" in after


def _assert_lock_is_free(server: IndexServer, log_name: str) -> None:
    """A new ``tufpi signer`` becomes the active signer: nothing holds the election lock."""
    process = server_support.signer_process(server, log_name=log_name, extra_env={PAUSE_ENV: ""})
    try:
        wait_until(
            lambda: "signer: active" in _log(server, log_name),
            "a new signer never became active: the election lock is still held",
        )
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextlib.contextmanager
def _serving(tmp_path: Path, database_url: str | None, moment: str) -> Iterator[IndexServer]:
    """``tufpi serve`` whose signer child is at ``moment`` for certain when this yields."""
    if moment == "waiting":
        server = server_support.start(tmp_path / "index", database_url, publish_interval="3600")
    else:
        server = server_support.start(
            tmp_path / "index", database_url, extra_env={PAUSE_ENV: "bins"}
        )
    try:
        if moment == "waiting":
            # serve answers once its signer's first publication is done (or once it stands
            # by, which it would have logged); the next publication is an hour away.
            log = _log(server, "serve.log")
            assert "signer: active" in log, log
            assert "signer: standing by" not in log, log
        else:
            _upload(server, "held-by-serve")
            wait_until(
                lambda: PAUSED in _log(server, "serve.log"), "the signer never reached its pause"
            )
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("moment", MOMENTS)
def test_serve_stops_on_a_burst_of_sigterms(
    own_database_url: str | None, tmp_path: Path, moment: str
) -> None:
    with _serving(tmp_path, own_database_url, moment) as server:
        assert server.process is not None
        [child] = signer_children(server)
        _sigterm_burst(server.process.pid)
        # uvicorn stops, then raises the SIGTERM it caught again, with its default action.
        assert _exit_status(server.process, "tufpi serve") == -signal.SIGTERM
        wait_until(lambda: not alive(child), "the signer child outlived serve", timeout=EXIT_WITHIN)
        assert _finished_the_held_publication(server, "serve.log", moment)
        _assert_lock_is_free(server, "next-signer.log")


@pytest.mark.parametrize("moment", MOMENTS)
def test_serves_signer_child_stops_on_a_burst_of_sigterms(
    own_database_url: str | None, tmp_path: Path, moment: str
) -> None:
    with _serving(tmp_path, own_database_url, moment) as server:
        [child] = signer_children(server)
        _sigterm_burst(child)
        wait_until(lambda: not alive(child), "the signer child did not stop", timeout=EXIT_WITHIN)
        # A stop, which serve answers as it answers any exit: with a new child. That child
        # becomes the active signer only if the old one left the election lock free.
        wait_until(
            lambda: _STOPPED.search(_log(server, "serve.log")),
            "serve did not see its signer child stop",
        )
        wait_until(
            lambda: _log(server, "serve.log").count("signer: active") == 2,
            "the restarted signer child never became active: the election lock is still held",
        )
        assert _finished_the_held_publication(server, "serve.log", moment)


@contextlib.contextmanager
def _signer_alone(server: IndexServer, moment: str) -> Iterator[subprocess.Popen[bytes]]:
    """``tufpi signer`` at ``moment`` for certain when this yields."""
    log_name = f"alone-{moment}.log"
    if moment == "waiting":
        # Its first publication is done (it says so on its ready pipe); the next is an hour
        # away.
        process = server_support.ready_signer(
            server, log_name=log_name, extra_env={"TUFPI_PUBLISH_INTERVAL": "3600"}
        )
    else:
        _upload(server, "held-alone")
        process = server_support.signer_process(
            server, "--debug-pause-at", "bins", log_name=log_name
        )
    try:
        if moment == "publishing":
            wait_until(lambda: PAUSED in _log(server, log_name), "the signer never paused")
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize("moment", MOMENTS)
def test_a_signer_alone_stops_on_a_burst_of_sigterms(
    unsigned_server: IndexServer, moment: str
) -> None:
    server = unsigned_server
    with _signer_alone(server, moment) as process:
        _sigterm_burst(process.pid)
        assert _exit_status(process, "tufpi signer") in _STOP_STATUSES
    assert _finished_the_held_publication(server, f"alone-{moment}.log", moment)
    _assert_lock_is_free(server, f"after-alone-{moment}.log")
