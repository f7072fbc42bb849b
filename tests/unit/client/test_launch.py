"""``tufpi install`` starts its installer before the proxy is served (client/launch.py): the
address is bound first, and a failure before the proxy serves stops the installer."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from tufpi.client import launch
from tufpi.http import listening_socket


def _sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def test_a_failure_stops_the_installer_and_frees_the_address() -> None:
    sock = listening_socket("127.0.0.1", 0)
    launched = launch.Launched(_sleeper(), sock, "http://127.0.0.1:1/x/simple/")
    with pytest.raises(RuntimeError, match="index refused"), launch.stopped_on_failure(launched):
        raise RuntimeError("index refused")
    assert launched.process.poll() is not None  # stopped, and reaped
    assert sock.fileno() == -1


def test_success_leaves_the_installer_alone() -> None:
    launched = launch.Launched(_sleeper(), listening_socket("127.0.0.1", 0), "u")
    try:
        with launch.stopped_on_failure(launched):
            pass
        assert launched.process.poll() is None
    finally:
        launch.stop(launched)


def test_the_installer_connects_before_anyone_serves() -> None:
    """What the early start relies on: a connection to the bound address is accepted by the
    kernel (it waits in the backlog) before any server runs on it."""
    sock = launch.stable_or_any_socket()
    with sock:
        port = sock.getsockname()[1]
        with httpx.Client(timeout=0.5) as client, pytest.raises(httpx.ReadTimeout):
            client.get(f"http://127.0.0.1:{port}/")  # connected; no answer yet


def test_the_simple_url_names_the_index() -> None:
    url = launch.simple_url("https://pypi.example.org/", "127.0.0.1", 3141)
    assert url == "http://127.0.0.1:3141/pypi.example.org/simple/"
    assert launch.simple_url("http://h:8080/", "::1", 1) == "http://[::1]:1/h:8080/simple/"
