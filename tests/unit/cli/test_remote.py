"""The remote CLI's client side (``tufpi.cli.remote``): where a token may be sent, what a
refusal prints, the bounds on an answer, and that ``tufpi --index URL`` commands start
without the server side."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import click
import pytest

from tufpi.cli import remote


@pytest.mark.parametrize(
    "url",
    ["https://pypi.example.org", "http://127.0.0.1:8000/", "http://localhost:1", "http://[::1]:80"],
)
def test_https_or_plain_http_to_this_machine_is_accepted(url: str) -> None:
    assert remote.check_url(url).endswith("/")


@pytest.mark.parametrize("url", ["http://pypi.example.org/", "http://10.0.0.5:8000/"])
def test_plain_http_to_another_machine_is_refused_before_the_token_is_sent(url: str) -> None:
    with pytest.raises(click.UsageError, match="would cross the network unencrypted"):
        remote.check_url(url)


@pytest.mark.parametrize("url", ["ftp://example.org/", "example.org", "file:///etc/passwd"])
def test_other_urls_are_refused(url: str) -> None:
    with pytest.raises(click.UsageError, match="must be an http"):
        remote.check_url(url)


def test_path_segments_are_quoted_whole() -> None:
    assert remote.segment("../tokens") == "..%2Ftokens"
    assert remote.segment("a b?c#d") == "a%20b%3Fc%23d"


class _Handler(BaseHTTPRequestHandler):
    status = 403
    body = b"This API token is limited to uploads to project demo;\x1b[31m red\n"
    seen: list[str] = []  # noqa: RUF012 - shared with the test on purpose

    def do_GET(self) -> None:
        type(self).seen.append(self.headers.get("authorization", ""))
        self.send_response(self.status)
        self.send_header("content-length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def answering() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_refusal_is_the_servers_sentence_without_its_control_characters(
    answering: str,
) -> None:
    _Handler.status, _Handler.body = 403, b"No way;\x1b[31m red\nsecond line\n"
    with pytest.raises(click.ClickException) as refused:
        remote.Remote(answering, "tufpi-secret").call("GET", "tokens")
    assert refused.value.message == "the index refused (403): No way; [31m red second line"
    assert _Handler.seen[-1] == "Bearer tufpi-secret"
    assert "tufpi-secret" not in repr(remote.Remote(answering, "tufpi-secret"))


def test_an_answer_past_the_cap_is_not_read_whole(
    answering: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(remote, "MAX_ANSWER", 1000)
    _Handler.status, _Handler.body = 200, b"[" + b" " * 5000 + b"]"
    with pytest.raises(click.ClickException, match="the answer passed 1000 bytes"):
        remote.Remote(answering, "t").call("GET", "tokens")


def test_an_index_that_does_not_answer_in_time_is_an_error() -> None:
    with socket.socket() as silent:  # accepts (the kernel does) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/"
        start = time.monotonic()
        with pytest.raises(click.ClickException, match=r"GET .*api/v1/tokens"):
            remote.Remote(url, "t", timeout=0.5).call("GET", "tokens")
        assert time.monotonic() - start < 5


def test_index_without_a_token_is_a_usage_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tufpi.cli", "--index", "https://x.example/", "owner", "list", "p"],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2
    assert "--index needs an API token" in result.stderr
