"""The upstream reader's construction, without the network: credentials taken out of the URL
and sent to the upstream's own origin only, names and URLs refused before any request."""

from __future__ import annotations

import base64

import httpx
import pytest

from tufpi.http import deadline
from tufpi.upstream import Upstream, Upstreams, split_credentials


def _authorization(auth: httpx.Auth | None, url: str) -> str | None:
    if auth is None:
        return None
    return next(auth.auth_flow(httpx.Request("GET", url))).headers.get("authorization")


def test_credentials_leave_the_url_and_go_to_the_upstream_origin_only() -> None:
    with Upstream("https://__token__:s3cret@idx.example:8443/simple") as upstream:
        assert upstream.base_url == "https://idx.example:8443/simple/"
        header = _authorization(upstream._auth_for("https://idx.example:8443/f/x.whl"), "x")
        assert header is not None
        assert base64.b64decode(header.removeprefix("Basic ")) == b"__token__:s3cret"
        for elsewhere in (
            "https://files.example/f/x.whl",  # a file host
            "http://idx.example:8443/f/x.whl",  # the same host in plain http
            "https://idx.example/f/x.whl",  # another port
        ):
            assert upstream._auth_for(elsewhere) is None
    assert split_credentials("/srv/packages") == ("/srv/packages", None)


def test_bad_urls_and_names_are_refused_before_any_request() -> None:
    for url in ("ftp://idx.example/simple/", "file:///srv/simple/", "idx.example/simple/"):
        with pytest.raises(ValueError, match="must be an http"):
            Upstream(url)
    with Upstream("https://idx.example/simple/") as upstream:
        for name in ("Not_Normal", "../etc", "a/b", "a?b", "x%2f"):
            with pytest.raises(ValueError, match="not a normalised project name"):
                upstream.project(name)


def test_the_shared_client_is_under_the_deadline_and_closed_by_its_owner() -> None:
    with Upstreams(["https://a.example/simple/", "https://b.example/simple/"]) as upstreams:
        assert len({id(u.http) for u in upstreams.upstreams}) == 1
        pool = upstreams.http._transport._pool  # type: ignore[attr-defined]
        assert isinstance(pool._network_backend, deadline._DeadlineBackend)
        assert upstreams.http.follow_redirects is False
    assert upstreams.http.is_closed
    shared = httpx.Client()
    Upstreams(["https://a.example/simple/"], http=shared).close()
    assert not shared.is_closed  # not its own: left to its owner
    shared.close()
