"""The installer tufpi runs: its timeout above tufpi's download deadline."""

from __future__ import annotations

import pytest

from tufpi.client import installers
from tufpi.client.verified_index import ClientBounds

PIP_DEFAULT_TIMEOUT = 15.0  # pip's --timeout default (seconds)
UV_DEFAULT_TIMEOUT = 30.0  # uv's UV_HTTP_TIMEOUT default (seconds)


def test_the_default_deadline_is_above_what_the_installers_wait() -> None:
    """Why: with their defaults, pip and uv would give up on the proxy before tufpi's own
    deadline, and say "Read timed out" instead of tufpi's "slow retrieval"."""
    deadline = ClientBounds().download_timeout
    assert deadline > max(PIP_DEFAULT_TIMEOUT, UV_DEFAULT_TIMEOUT)
    assert installers.installer_timeout(deadline) > deadline


def test_pip_waits_longer_than_tufpi() -> None:
    command = installers.installer_command("pip", "http://127.0.0.1:1/simple/", ["x"], 33.0)
    assert command[command.index("--timeout") + 1] == "33"
    # The user's own arguments come after, so a --timeout of theirs still wins.
    assert command.index("--timeout") < command.index("x")
    assert "--timeout" not in installers.installer_command("pip", "http://h/simple/", ["x"])


def test_uv_waits_longer_than_tufpi(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UV_HTTP_TIMEOUT", "5")
    assert "UV_HTTP_TIMEOUT" not in installers.installer_env()
    assert installers.installer_env(33.2)["UV_HTTP_TIMEOUT"] == "34"  # whole seconds, up
    command = installers.installer_command("uv", "http://h/simple/", ["x"], 33.0)
    assert "--timeout" not in command
