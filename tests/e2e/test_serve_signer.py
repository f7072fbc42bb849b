"""``tufpi serve`` signs in a child process of its own: not a thread sharing the web's
interpreter lock. The child is restarted when it dies and never outlives serve."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.support import server as server_support
from tests.support.server import IndexServer, alive, signer_children
from tests.support.tuf_client import wait_for_target
from tests.support.uploads import post_wheel
from tests.support.waiting import wait_until


def _parent_of(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^PPid:\s+(\d+)$", status, re.MULTILINE).group(1))  # type: ignore[union-attr]


def _upload_and_wait(server: IndexServer, token: str, name: str, workdir: Path) -> None:
    with httpx.Client(timeout=30) as client:
        response = post_wheel(client, server.url, token, name, "1.0")
    assert response.status_code == 200, response.text
    wait_for_target(server, workdir, f"simple/{name}/index.html", timeout=30)


def test_serve_signs_in_a_child_process_that_is_restarted_and_dies_with_serve(
    own_database_url: str | None, tmp_path: Path
) -> None:
    server = server_support.start(tmp_path / "index", own_database_url)
    try:
        assert server.process is not None
        serve_pid = server.process.pid
        [first] = signer_children(server)
        assert first != serve_pid
        assert _parent_of(first) == serve_pid
        assert b"signer" in Path(f"/proc/{first}/cmdline").read_bytes().split(b"\0")
        token = server.new_user("child-signer")
        _upload_and_wait(server, token, "child-a", tmp_path)

        # A child that dies is logged and replaced; what is uploaded then is still published.
        os.kill(first, signal.SIGKILL)
        wait_until(lambda: len(signer_children(server)) == 2, "the signer was not restarted")
        log = (server.data_dir / "serve.log").read_text()
        assert "signer: child process exited with signal SIGKILL" in log
        second = signer_children(server)[1]
        assert second not in (first, serve_pid)
        assert _parent_of(second) == serve_pid
        _upload_and_wait(server, token, "child-b", tmp_path)

        # serve killed outright has no chance to stop its child: the child stops by itself.
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=10)
        wait_until(lambda: not alive(second), "the signer outlived a SIGKILLed serve", timeout=10)
    finally:
        server.stop()


def test_stopping_serve_stops_its_signer(own_database_url: str | None, tmp_path: Path) -> None:
    server = server_support.start(tmp_path / "index", own_database_url)
    try:
        [child] = signer_children(server)
        assert alive(child)
    finally:
        server.stop()
    wait_until(lambda: not alive(child), "the signer outlived a stopped serve", timeout=10)
    assert "signer: child process exited" not in (server.data_dir / "serve.log").read_text()


def test_serve_does_not_start_with_a_signer_that_cannot_sign(
    own_database_url: str | None, tmp_path: Path
) -> None:
    data_dir = tmp_path / "index"
    first = server_support.start(data_dir, own_database_url)
    first.stop()
    missing = tmp_path / "no-such-key.pem"
    with pytest.raises(RuntimeError, match="tufpi serve exited"):
        server_support.start(data_dir, first.database_url, online_key=f"file2:{missing}")
    log = (data_dir / "serve.log").read_text()
    assert "signer: child process exited with status 1" in log
    assert "before its first publication" in log


def test_a_second_serve_starts_at_once_while_another_signer_is_active(
    own_database_url: str | None, tmp_path: Path
) -> None:
    """A second node started with its own signer (the default) finds the first one's signer
    active: it serves at once (start() allows 30 s; it used to wait 120 s for a first
    publication), its signer stands by, and takes over when the first node stops."""
    data_dir = tmp_path / "index"
    first = server_support.start(data_dir, own_database_url)
    second = None
    try:
        started = time.monotonic()
        second = server_support.start(data_dir, first.database_url, log_name="second.log")
        assert time.monotonic() - started < 30
        log = (data_dir / "second.log").read_text()
        assert "another signer is active" in log
        assert "signer: standing by" in log
        assert "signer: active" not in log
        token = second.new_user("second-node")

        first.stop()
        wait_until(lambda: "signer: active" in (data_dir / "second.log").read_text(), "no takeover")
        _upload_and_wait(second, token, "second-a", tmp_path)
    finally:
        first.stop()
        if second is not None:
            second.stop()
