"""``/metrics`` is cheap and can be private: it gathers the repository's status again only
when a publication changed it (not per request, which cost ~100 ms of CPU with 16,384
bins), and with ``TUFPI_METRICS_TOKEN`` it needs that bearer token, which never appears
in the log."""

from __future__ import annotations

import concurrent.futures
import json
from collections.abc import Iterator

import httpx
import pytest

from tests.support import server as server_support
from tests.support.server import IndexServer
from tests.support.uploads import post_wheel
from tests.support.waiting import wait_until

TOKEN = "metrics-3b1f9c0e7d2a4c58a9e6"


@pytest.fixture(scope="module")
def metered(
    database_url: str | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[IndexServer]:
    # A max age far beyond the tests: only a publication can make /metrics gather again.
    srv = server_support.start(
        tmp_path_factory.mktemp("metered"),
        database_url,
        metrics_token=TOKEN,
        metrics_max_age="3600",
    )
    try:
        yield srv
    finally:
        srv.stop()


def _metrics(server: IndexServer, client: httpx.Client | None = None) -> dict[str, float]:
    headers = {"authorization": f"Bearer {TOKEN}"}
    response = (client or httpx).get(server.url + "metrics", headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    values = {}
    for line in response.text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def _timestamp_version(server: IndexServer) -> int:
    signed = json.loads(httpx.get(server.url + "tuf/timestamp.json", timeout=10).content)
    return int(signed["signed"]["version"])


def test_metrics_change_when_a_publication_changes_the_roles(metered: IndexServer) -> None:
    before = _metrics(metered)
    published = _timestamp_version(metered)
    assert before['tufpi_role_version{role="timestamp"}'] == published
    token = metered.new_user("metrics-publisher")
    with httpx.Client(timeout=30) as client:
        assert post_wheel(client, metered.url, token, "metered-p", "1.0").status_code == 200
    wait_until(lambda: _timestamp_version(metered) != published, "nothing was published")
    # The next scrape after the publication shows it, an hour before the max age would.
    after = _metrics(metered)
    assert after['tufpi_role_version{role="timestamp"}'] >= published + 1
    assert (
        after['tufpi_role_version{role="snapshot"}'] > before['tufpi_role_version{role="snapshot"}']
    )
    assert after["tufpi_metrics_refreshes_total"] == before["tufpi_metrics_refreshes_total"] + 1


def _scrape_at_once(server: IndexServer, count: int) -> tuple[list[dict[str, float]], bool]:
    """``count`` scrapes over 20 connections at once after one alone: (all of them, whether
    no publication happened meanwhile)."""
    published = _timestamp_version(server)
    scrapes = [_metrics(server)]
    with (
        httpx.Client(timeout=30, limits=httpx.Limits(max_connections=20)) as client,
        concurrent.futures.ThreadPoolExecutor(20) as pool,
    ):
        scrapes += pool.map(lambda _: _metrics(server, client), range(count))
    return scrapes, _timestamp_version(server) == published


def test_many_concurrent_scrapes_gather_the_status_once(metered: IndexServer) -> None:
    for _ in range(3):  # a publication meanwhile (the signer's own) would gather again
        scrapes, quiet = _scrape_at_once(metered, 200)
        if quiet:
            break
    assert quiet, "the signer published during every attempt"
    assert {s["tufpi_metrics_refreshes_total"] for s in scrapes[1:]} == {
        scrapes[0]["tufpi_metrics_refreshes_total"]
    }


def test_metrics_need_the_bearer_token_which_is_never_logged(metered: IndexServer) -> None:
    url = metered.url + "metrics"
    refusals = [
        httpx.get(url),
        httpx.get(url, headers={"authorization": "Bearer wrong-token"}),
        httpx.get(url, headers={"authorization": f"Bearer {TOKEN}x"}),
        httpx.get(url, auth=("__token__", TOKEN)),  # Basic is not the bearer scheme
    ]
    for refused in refusals:
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == 'Bearer realm="tufpi metrics"'
        assert "needs the metrics token" in refused.text
        assert "tufpi_role_version" not in refused.text
    assert _metrics(metered)["tufpi_pending_changes"] >= 0
    log = metered.data_dir / "serve.log"
    wait_until(  # every scrape is logged
        lambda: log.read_text().count("GET /metrics HTTP/1.1") >= 5, "scrapes were not logged"
    )
    assert TOKEN not in log.read_text()
