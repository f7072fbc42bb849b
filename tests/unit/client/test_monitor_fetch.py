"""The monitor's reads of ``/tlog/`` (tufpi.client.monitor.http_fetch) over a real HTTP
server on 127.0.0.1: each through the client's bounded fetcher, each failure a
``LogRefusal`` that says what was wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.payload_host import serving
from tufpi.client.fetcher import http_client
from tufpi.client.log_checks import LogRefusal
from tufpi.client.monitor import http_fetch
from tufpi.client.verified_index import ClientBounds


def test_a_read_is_capped_and_a_missing_file_is_a_failure(tmp_path: Path) -> None:
    (tmp_path / "tlog" / "tile" / "0" / "000.p").mkdir(parents=True)
    (tmp_path / "tlog" / "tile" / "0" / "000.p" / "1").write_bytes(b"x" * 32)
    (tmp_path / "tlog" / "checkpoint").write_bytes(b"y" * 200)
    with serving(tmp_path) as host, http_client(None) as client:
        fetch = http_fetch(ClientBounds(download_timeout=5).fetcher(client), host.url)
        assert fetch("tile/0/000.p/1", 32) == b"x" * 32
        with pytest.raises(
            LogRefusal, match=r"cannot read the log: endless data: .* longer than the 100 bytes"
        ):
            fetch("checkpoint", 100)
        with pytest.raises(
            LogRefusal,
            match=r"cannot read the log: the index answered HTTP 404 for .*/tlog/tile/entries/000",
        ):
            fetch("tile/entries/000", 1000)
    assert host.requested() == [
        "/tlog/tile/0/000.p/1",
        "/tlog/checkpoint",
        "/tlog/tile/entries/000",
    ]
