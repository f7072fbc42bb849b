"""The upstream reader's construction, without the network: credentials taken out of the URL
and sent to the upstream's own origin only, names and URLs refused before any request."""

from __future__ import annotations

import base64

import httpx
import pytest

from tufpi.http import deadline
from tufpi.upstream import Upstream, UpstreamError, Upstreams, split_credentials
from tufpi.upstream.transfer import Budget, Transfer


def _none(_url: str) -> None:
    return None


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


def _hop(url: str, location: str | None) -> str:
    budget = Budget(1, 1, 1, 3)
    with httpx.Client() as http:
        transfer = Transfer(http, "https://idx.example/simple/", "the page of 'x'", budget, _none)
    headers = {} if location is None else {"location": location}
    return transfer._next_hop(url, httpx.Response(302, headers=headers))


def test_redirects_go_to_http_s_only_and_never_down_to_plain_http() -> None:
    page = "https://idx.example/simple/x/"
    assert _hop(page, "/simple/x") == "https://idx.example/simple/x"
    assert _hop(page, "https://mirror.example/simple/x/") == "https://mirror.example/simple/x/"
    assert _hop("http://idx.example/simple/x/", "https://idx.example/simple/x/").startswith(
        "https:"
    )
    refusals = {
        "http://idx.example/simple/x/": "redirected from https to http://idx.example/simple/x/",
        "ftp://idx.example/x": "redirected to ftp://idx.example/x, which is not an http(s) URL",
        "file:///etc/passwd": "which is not an http(s) URL",
        "http://[::1": "which is not a URL",
    }
    for location, expected in refusals.items():
        with pytest.raises(UpstreamError) as caught:
            _hop(page, location)
        assert str(caught.value).startswith("upstream https://idx.example/simple/ ")
        assert expected in str(caught.value)
        assert str(caught.value).endswith("(the page of 'x')")
    with pytest.raises(UpstreamError, match="answered 302 with no Location"):
        _hop(page, None)


def test_an_upstream_is_found_again_by_its_base_url() -> None:
    urls = ["https://u:p@a.example/simple", "https://b.example/simple/"]
    with Upstreams(urls) as upstreams:
        a, b = upstreams.upstreams
        assert upstreams.named("https://a.example/simple/") is a
        assert upstreams.named("https://a.example/simple") is a
        assert upstreams.named("https://other:creds@a.example/simple/") is a
        assert upstreams.named("https://b.example/simple/") is b
        assert upstreams.named("https://c.example/simple/") is None  # no longer configured
        assert upstreams.named("http://a.example/simple/") is None
