"""Migration 0008 indexes the projects already there for search: each at its latest release
(as PyPI picks it), with that release's summary, and a project with no release by name."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import Engine, text

from tufpi.db import make_sessionmaker, upgrade
from tufpi.index import search

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def test_existing_projects_are_indexed(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0007")
    with empty_engine.begin() as conn:
        for id_, name in ((1, "Old_Project"), (2, "empty-one")):
            conn.execute(
                text("INSERT INTO projects (id, name, normalized_name, created, serial) "
                     "VALUES (:id, :name, :norm, :t, 1)"),
                {"id": id_, "name": name, "norm": name.lower().replace("_", "-"), "t": T0},
            )  # fmt: skip
        releases = [(1, "1.0", False, "stable words"), (2, "2.0", True, "yanked words"),
                    (3, "3.0b1", False, "beta words")]  # fmt: skip
        for id_, version, yanked, summary in releases:
            conn.execute(
                text("INSERT INTO releases (id, project_id, version, canonical_version, "
                     "created, core_metadata, yanked) VALUES (:id, 1, :v, :v, :t, :md, :y)"),
                {"id": id_, "v": version, "t": T0, "y": yanked,
                 "md": json.dumps({"summary": summary})},
            )  # fmt: skip
    upgrade(empty_engine)
    sessions = make_sessionmaker(empty_engine)
    [hit] = search.search(sessions, "old").hits
    assert (hit.name, hit.version, hit.summary) == ("Old_Project", "1.0", "stable words")
    assert [h.name for h in search.search(sessions, "stable").hits] == ["Old_Project"]
    assert search.search(sessions, "yanked").hits == ()  # not the latest release's words
    assert [h.name for h in search.search(sessions, "empty").hits] == ["empty-one"]
