"""Expiry watch: ``tufpi trust status`` warns with exit code 3 when an offline role is close
to expiring, and ``/metrics`` exposes seconds-to-expiry, the pending queue and the last
publication in the Prometheus format."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import clients
from tests.support import server as server_support
from tests.support.dists import make_dists
from tests.support.server import IndexServer
from tests.support.waiting import wait_until

DAY = 86400


@pytest.fixture
def short_offline(own_database_url: str | None, tmp_path: Path) -> Iterator[IndexServer]:
    """Offline roles valid for 20 days; no in-process signer (changes stay pending)."""
    srv = server_support.start(
        tmp_path / "index", own_database_url, offline_expiry=str(20 * DAY), signer="false"
    )
    try:
        yield srv
    finally:
        srv.stop()


def _metrics(server: IndexServer) -> dict[str, float]:
    response = httpx.get(server.url + "metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    values = {}
    for line in response.text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def test_status_warns_before_offline_roles_expire(short_offline: IndexServer) -> None:
    warned = short_offline.cli("trust", "status", "--warn-days", "30", check=False)
    assert warned.returncode == 3
    for role in ("root", "targets", "bins"):
        assert re.search(rf"WARNING: {role} expires in 1[89] days", warned.stderr)
    calm = short_offline.cli("trust", "status", "--warn-days", "10", check=False)
    assert calm.returncode == 0, calm.stderr
    assert "WARNING" not in calm.stderr


def test_metrics(short_offline: IndexServer, tmp_path: Path) -> None:
    before = _metrics(short_offline)
    assert abs(before['tufpi_role_expiry_seconds{role="root"}'] - 20 * DAY) < 300
    assert abs(before['tufpi_role_expiry_seconds{role="timestamp"}'] - DAY) < 300
    assert 'tufpi_role_expiry_seconds{role="bin-n"}' in before
    assert before["tufpi_pending_changes"] == 0
    token = short_offline.new_user("metrics")
    result = clients.twine_upload(short_offline.url, token, make_dists(tmp_path, "metric-p", "1.0"))
    assert result.returncode == 0, result.stderr

    # Two files, and the two pages rewritten after each of them, wait for a signer. /metrics
    # gathers the status again when a publication changes it, or when it is
    # metrics_max_age (5 s) old: the pending queue shows within that.
    def six_pending() -> bool:
        pending = _metrics(short_offline)["tufpi_pending_changes"]
        assert pending in (0, 6), pending
        return pending == 6

    wait_until(six_pending, "the six changes never showed pending", interval=0.2)
    process = server_support.signer_process(short_offline)
    try:
        after = wait_until(
            lambda: not (now := _metrics(short_offline))["tufpi_pending_changes"] and now,
            "the signer left changes pending",
            interval=0.2,
        )
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert after["tufpi_last_publication_timestamp_seconds"] > 0
    assert (
        after['tufpi_role_version{role="timestamp"}']
        > before['tufpi_role_version{role="timestamp"}']
    )
