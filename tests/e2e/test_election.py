"""Exactly one signer is active: a second one waits on the database lock and takes over when
the first dies."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tests.support import clients
from tests.support import server as server_support
from tests.support.dists import make_dists
from tests.support.server import IndexServer
from tests.support.tuf_client import wait_for_target
from tests.support.waiting import wait_until


def _says(server: IndexServer, log_name: str, line: str) -> bool:
    log = server.data_dir / log_name
    return log.exists() and line in log.read_text()


def _active(server: IndexServer, log_name: str) -> bool:
    return _says(server, log_name, "signer: active")


def _wait_active(server: IndexServer, log_name: str, timeout: float = 30) -> None:
    wait_until(lambda: _active(server, log_name), f"{log_name}: never became active", timeout)


def test_second_signer_waits_then_takes_over(unsigned_server: IndexServer, tmp_path: Path) -> None:
    server = unsigned_server
    token = server.new_user("elector")
    first = server_support.signer_process(server, log_name="first.log")
    second = None
    try:
        _wait_active(server, "first.log")
        second = server_support.signer_process(server, log_name="second.log")
        # The second one has met the lock (positive signal) before its absence is checked.
        wait_until(
            lambda: _says(server, "second.log", "signer: standing by"),
            "the second signer never reached the election",
        )
        assert second.poll() is None
        assert not _active(server, "second.log"), "two signers active at once"

        result = clients.twine_upload(server.url, token, make_dists(tmp_path, "elect-a", "1.0"))
        assert result.returncode == 0, result.stderr
        wait_for_target(server, tmp_path, "simple/elect-a/index.html")

        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        started = time.monotonic()
        _wait_active(server, "second.log", timeout=20)
        assert time.monotonic() - started < 10
        result = clients.twine_upload(server.url, token, make_dists(tmp_path, "elect-b", "1.0"))
        assert result.returncode == 0, result.stderr
        wait_for_target(server, tmp_path, "simple/elect-b/index.html")
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=30)
