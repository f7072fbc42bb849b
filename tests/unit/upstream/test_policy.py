"""The pure decisions of mirroring (tufpi.upstream.policy): when a request asks upstream
(dependency confusion closed by default), and what one reading of upstream changes."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from tufpi.index.mirrored import KnownFile, MirrorState
from tufpi.index.names import parse_dist_filename
from tufpi.index.rules import normalize_filename
from tufpi.upstream.model import UpstreamFile, UpstreamProject
from tufpi.upstream.policy import Route, plan_sync, route_page

NOW = dt.datetime(2026, 12, 7, 8, 0, tzinfo=dt.UTC)
REFRESH = dt.timedelta(seconds=600)
UPSTREAM = "http://127.0.0.1:9/simple/"
SHA_A = "a" * 64
SHA_B = "b" * 64
MAX = 100 * 1024 * 1024


def route(state: MirrorState, *, configured: bool = True, allowed: bool = False) -> Route:
    return route_page(state, configured=configured, allowed=allowed, refresh=REFRESH, now=NOW)


NEW = MirrorState(None, None, None, local_files=False)
LOCAL = MirrorState(1, None, None, local_files=False)
FRESH = MirrorState(1, UPSTREAM, NOW - dt.timedelta(seconds=599), local_files=False)
STALE = MirrorState(1, UPSTREAM, NOW - dt.timedelta(seconds=600), local_files=False)


def test_without_upstream_nothing_asks_upstream() -> None:
    for state in (NEW, LOCAL, FRESH, STALE):
        assert route(state, configured=False) is Route.STORED


def test_an_unknown_name_is_mirrored_and_a_failure_is_an_error() -> None:
    assert route(NEW) is Route.MIRROR


def test_a_local_name_never_falls_through_to_upstream() -> None:
    # The dependency confusion attack needs exactly this fall-through.
    assert route(LOCAL) is Route.STORED
    assert route(LOCAL, allowed=True) is Route.REFRESH


def test_a_mirrored_page_is_served_until_the_refresh_interval_passes() -> None:
    assert route(FRESH) is Route.STORED
    assert route(STALE) is Route.REFRESH
    naive = dataclasses.replace(STALE, refreshed=STALE.refreshed.replace(tzinfo=None))  # type: ignore[union-attr]
    assert route(naive) is Route.REFRESH  # SQLite hands back naive UTC


def test_a_name_taken_off_the_allow_list_asks_upstream_no_more() -> None:
    both = dataclasses.replace(STALE, local_files=True)
    assert route(both, allowed=True) is Route.REFRESH
    assert route(both, allowed=False) is Route.STORED


def upstream_file(
    filename: str, sha256: str = SHA_A, size: int | None = 10, **kw: object
) -> UpstreamFile:
    values: dict[str, object] = {
        "filename": filename,
        "url": f"http://127.0.0.1:9/files/{filename}",
        "sha256": sha256,
        "size": size,
        "requires_python": None,
        "yanked": False,
        "core_metadata_sha256": None,
        "provenance": None,
        "upload_time": None,
        "dist": parse_dist_filename(filename),
    }
    values.update(kw)
    return UpstreamFile(**values)  # type: ignore[arg-type]


def project(*files: UpstreamFile) -> UpstreamProject:
    return UpstreamProject("demo", UPSTREAM + "demo/", tuple(files), (), UPSTREAM)


def known(filename: str, sha256: str = SHA_A, size: int = 10, **kw: object) -> KnownFile:
    values: dict[str, object] = {
        "filename": filename,
        "normalized": normalize_filename(filename),
        "sha256": sha256,
        "size": size,
        "held": False,
        "mirrored": True,
        "yanked": False,
        "yanked_reason": None,
    }
    values.update(kw)
    return KnownFile(**values)  # type: ignore[arg-type]


def sizes(*files: UpstreamFile) -> dict[str, int | None]:
    return {f.filename: f.size for f in files}


def test_new_files_are_added_with_their_size_and_sha256() -> None:
    a, b = upstream_file("demo-1.0.tar.gz"), upstream_file("demo-1.0-py3-none-any.whl", SHA_B, 20)
    plan = plan_sync(project(a, b), [], sizes(a, b), set(), MAX)
    assert [(f.dist.filename, f.sha256, f.size) for f in plan.change.add] == [
        ("demo-1.0.tar.gz", SHA_A, 10),
        ("demo-1.0-py3-none-any.whl", SHA_B, 20),
    ]
    assert plan.change.add[0].key == f"packages/aa/aa/{'a' * 60}/demo-1.0.tar.gz"
    assert plan.refused == ()


def test_a_file_of_unknown_size_is_left_off_and_said_so() -> None:
    a = upstream_file("demo-1.0.tar.gz", size=None)
    plan = plan_sync(project(a), [], {a.filename: None}, set(), MAX)
    assert plan.change.add == ()
    assert plan.refused == ("demo-1.0.tar.gz: left off, upstream states no size for it",)


def test_a_file_larger_than_uploads_may_be_is_left_off() -> None:
    a = upstream_file("demo-1.0.tar.gz", size=MAX + 1)
    plan = plan_sync(project(a), [], sizes(a), set(), MAX)
    assert plan.change.add == ()
    assert "more than this index takes" in plan.refused[0]


def test_a_filename_used_before_is_never_listed_again() -> None:
    a = upstream_file("demo-1.0.tar.gz")
    twin = upstream_file("demo-1.0.zip", SHA_B)  # one sdist per release
    plan = plan_sync(
        project(a, twin), [], sizes(a, twin), {normalize_filename("Demo-1.0.tar.gz")}, MAX
    )
    assert plan.change.add == ()
    assert len(plan.refused) == 2
    plan = plan_sync(project(a, twin), [], sizes(a, twin), set(), MAX)
    assert [f.dist.filename for f in plan.change.add] == ["demo-1.0.tar.gz"]
    assert plan.refused == ("demo-1.0.zip: left off, its filename was used before",)


@pytest.mark.parametrize("held", [True, False])
def test_a_signed_filename_whose_upstream_hash_or_size_changed_is_refused(held: bool) -> None:
    changed_hash = upstream_file("demo-1.0.tar.gz", SHA_B)
    changed_size = upstream_file("demo-1.0-py3-none-any.whl", SHA_A, size=11)
    rows = [known("demo-1.0.tar.gz", held=held), known("demo-1.0-py3-none-any.whl", held=held)]
    plan = plan_sync(project(changed_hash, changed_size), rows, {}, set(), MAX)
    assert not plan.change.changes_pages
    assert len(plan.refused) == 2
    assert all("refused upstream's change" in line for line in plan.refused)
    assert SHA_B in plan.refused[0]


def test_yanks_are_carried_both_ways() -> None:
    yanked = upstream_file("demo-1.0.tar.gz", yanked="broken")
    unyanked = upstream_file("demo-2.0.tar.gz")
    rows = [known("demo-1.0.tar.gz"), known("demo-2.0.tar.gz", yanked=True, yanked_reason="x")]
    plan = plan_sync(project(yanked, unyanked), rows, {}, set(), MAX)
    assert [(y.filename, y.yanked, y.reason) for y in plan.change.yanks] == [
        ("demo-1.0.tar.gz", True, "broken"),
        ("demo-2.0.tar.gz", False, None),
    ]
    bare = upstream_file("demo-1.0.tar.gz", yanked=True)
    plan = plan_sync(project(bare), [known("demo-1.0.tar.gz")], {}, set(), MAX)
    assert [(y.yanked, y.reason) for y in plan.change.yanks] == [(True, None)]


def test_a_file_upstream_removed_stays_if_held_and_is_withdrawn_if_not() -> None:
    rows = [known("demo-1.0.tar.gz", held=True), known("demo-2.0.tar.gz", held=False)]
    plan = plan_sync(project(), rows, {}, set(), MAX)
    assert plan.change.withdraw == ("demo-2.0.tar.gz",)


def test_local_files_beside_a_mirror_are_never_touched() -> None:
    rows = [known("demo-1.0.tar.gz", mirrored=False, held=True)]
    same_name = upstream_file("demo-1.0.tar.gz", SHA_B)
    plan = plan_sync(project(same_name), rows, {}, set(), MAX)
    assert not plan.change.changes_pages
    plan = plan_sync(project(), rows, {}, set(), MAX)
    assert plan.change.withdraw == ()
