"""The search page's cache (``web.pages.search_body``) on a real database: an answer is
rendered once per query and state of search, shared by queries that differ only in case
and spaces, and never outlives a change to search (an upload, a yank, a commit out of id
order on PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from tests.unit.index.test_search import Index
from tufpi.db.models import TargetChange, table_of
from tufpi.index import search
from tufpi.web.context import RenderCache
from tufpi.web.pages import search_body


@pytest.fixture
def fresh(own_database_url: str | None, tmp_path: Path) -> Iterator[Index]:
    built = Index(own_database_url or f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path)
    built.upload("cachedlib", "1.0", "Words of a summary")
    yield built
    built.engine.dispose()


@pytest.fixture
def searches(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """The queries actually run (a cache miss runs one, a hit none)."""
    calls: list[tuple[str, int]] = []
    real = search.search

    def counting(sessions: object, raw: str, page: int = 1) -> search.Results:
        calls.append((raw, page))
        return real(sessions, raw, page)  # type: ignore[arg-type]

    monkeypatch.setattr(search, "search", counting)
    return calls


def test_an_answer_is_rendered_once_and_shared_by_case_and_spaces(
    fresh: Index, searches: list[tuple[str, int]]
) -> None:
    cache = RenderCache(16)
    first, etag = search_body(fresh.sessions, cache, "  Words   SUMMARY ", 1)
    again, same_etag = search_body(fresh.sessions, cache, "words summary", 1)
    assert again is first
    assert same_etag == etag
    assert searches == [("words summary", 1)]
    assert b'href="/project/cachedlib/"' in first.plain
    assert b"\xe2\x80\x9cwords summary\xe2\x80\x9d" in first.plain  # the query as shown
    # Another page, or a query with the same terms but another exact name, is its own key.
    search_body(fresh.sessions, cache, "words summary", 2)
    search_body(fresh.sessions, cache, "cachedlib", 1)
    search_body(fresh.sessions, cache, "cachedlib.", 1)
    assert len(searches) == 4


def test_an_upload_or_a_yank_changes_the_next_answer(
    fresh: Index, searches: list[tuple[str, int]]
) -> None:
    cache = RenderCache(16)
    before, etag = search_body(fresh.sessions, cache, "summary", 1)
    assert b"otherlib" not in before.plain
    fresh.upload("otherlib", "1.0", "Another summary")
    after, new_etag = search_body(fresh.sessions, cache, "summary", 1)
    assert b'href="/project/otherlib/"' in after.plain
    assert new_etag != etag
    fresh.upload("otherlib", "2.0", "Newer summary")
    newer, _ = search_body(fresh.sessions, cache, "summary", 1)
    assert b"2.0" in newer.plain
    fresh.service.set_yanked("otherlib", "2.0", True, "broken")
    yanked, _ = search_body(fresh.sessions, cache, "summary", 1)
    assert b"Another summary" in yanked.plain
    assert b"Newer summary" not in yanked.plain
    assert len(searches) == 4


def test_a_change_committed_out_of_id_order_changes_the_generation(fresh: Index) -> None:
    """On PostgreSQL a transaction holding a lower id may commit after one holding a
    higher id: the newest id stays, the count of the newest ids grows."""
    with fresh.sessions() as session:
        row = dict(session.execute(select(table_of(TargetChange))).mappings().first() or {})
    newest, _ = search.generation(fresh.sessions)
    with fresh.engine.begin() as conn:
        conn.execute(insert(table_of(TargetChange)), [{**row, "id": newest + 2}])
    seen = search.generation(fresh.sessions)
    with fresh.engine.begin() as conn:
        conn.execute(insert(table_of(TargetChange)), [{**row, "id": newest + 1}])
    later = search.generation(fresh.sessions)
    assert seen[0] == later[0] == newest + 2
    assert later != seen
