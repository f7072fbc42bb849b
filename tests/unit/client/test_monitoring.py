"""``tufpi monitor``'s watch list and verdicts (tufpi.client.monitoring, pure)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from tests.support.static_log import WHEN, file_entry, publication
from tufpi.client.monitoring import (
    Heartbeat,
    Watch,
    WatchError,
    WatchList,
    describe,
    judge_entries,
    judge_file,
    parse_watch_list,
    stale,
)
from tufpi.tlog import entries
from tufpi.tlog.entries import FileRemoved, Yanked

WATCH_TOML = """
[project.Example_Pkg]
accounts = ["alice", "bob"]
via = ["upload", "import"]

[project.Example_Pkg.tokens]
alice = [12, 15]

[project.other]
accounts = ["carol"]
operator = true
"""


def _watch_list() -> WatchList:
    return parse_watch_list(WATCH_TOML)


def test_a_watch_list_is_read_by_normalised_name() -> None:
    watch = _watch_list().projects["example-pkg"]
    assert watch == Watch(
        "example-pkg",
        frozenset({"alice", "bob"}),
        {"alice": frozenset({12, 15})},
        frozenset({"upload", "import"}),
        False,
    )
    assert _watch_list().projects["other"].via == frozenset({"upload"})
    assert _watch_list().projects["other"].operator is True


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("[project.a]\naccounts = 'alice'", "accounts is a list"),
        ("[project.a]\nvia = ['ftp']", "via ['ftp'] is not one of"),
        ("[project.a]\nowners = ['x']", "unknown keys ['owners']"),
        ("[project.a]\naccounts = ['a']\n[project.a.tokens]\nb = [1]", "'b', who is not in"),
        ("[project.a]\naccounts = ['a']\n[project.a.tokens]\na = ['1']", "token ids"),
        ("[project.a]\noperator = 'yes'", "true or false"),
        ("[project.A_b]\n[project.a-B]", "listed twice"),
        ("[projects.a]", "only [project.NAME]"),
        ("", "names no project"),
        ("[project.a", "not TOML"),
        ('[project."a\\nb"]', "not a project name"),
    ],
)
def test_a_malformed_watch_list_is_refused_saying_why(text: str, complaint: str) -> None:
    with pytest.raises(WatchError, match=complaint.replace("[", r"\[").replace("]", r"\]")):
        parse_watch_list(text)


@pytest.mark.parametrize(
    ("changes", "reasons"),
    [
        ({}, ()),
        ({"account": "bob", "token": 99}, ()),  # bob may use any token
        ({"token": 15}, ()),
        ({"account": "mallory"}, ("added by mallory, not one of alice, bob",)),
        ({"token": 13}, ("alice used token 13, expected token 12, 15",)),
        ({"token": None}, ("alice used no token, expected token 12, 15",)),
        ({"account": None, "token": None}, ("uploaded with no account",)),
        ({"account": None, "token": None, "via": "import"}, ()),
        # An import with --owner alice names her, with no token: none was used.
        ({"token": None, "via": "import"}, ()),
        (
            {"account": "mallory", "token": None, "via": "import"},
            ("added by mallory, not one of alice, bob",),
        ),
        (
            {"account": None, "token": None, "via": "upstream"},
            ("arrived by upstream, expected import, upload",),
        ),
        (
            {"account": "mallory", "via": "upstream"},
            (
                "arrived by upstream, expected import, upload",
                "added by mallory, not one of alice, bob",
            ),
        ),
    ],
)
def test_file_verdicts(changes: dict[str, Any], reasons: tuple[str, ...]) -> None:
    watch = _watch_list().projects["example-pkg"]
    entry = dataclasses.replace(
        file_entry("example-pkg", "example_pkg-1.0.tar.gz", token=12), **changes
    )
    assert judge_file(watch, entry) == reasons


def _encoded(*found: entries.Entry) -> list[bytes]:
    return [entries.encode_entry(entry) for entry in found]


def test_yanks_and_removals_by_unlisted_accounts_or_operators_are_unexpected() -> None:
    removed = FileRemoved(
        "example-pkg", "1.0", "f.tar.gz", "packages/f.tar.gz", "0" * 64, WHEN, "mallory"
    )
    data = _encoded(
        Yanked("example-pkg", "1.0", True, WHEN, None, "broken", "bob"),
        Yanked("example-pkg", "1.0", False, WHEN, None, None, None),
        removed,
        dataclasses.replace(removed, account="admin"),
        Yanked("other", "2.0", True, WHEN, "o.whl", None, None),
        dataclasses.replace(removed, project="other", account="admin"),
        dataclasses.replace(removed, project="other", account="carol"),
    )
    found = judge_entries(10, data, _watch_list(), None)
    assert [(e.index, e.project, e.reasons) for e in found.events] == [
        (10, "example-pkg", ()),
        (11, "example-pkg", ("unyank by the index's operators (no account)",)),
        (12, "example-pkg", ("remove by mallory, not one of alice, bob",)),
        (13, "example-pkg", ("remove by the index's operators (admin)",)),
        (14, "other", ()),  # operator = true
        (15, "other", ()),
        (16, "other", ()),
    ]


def test_only_watched_projects_are_reported_and_publications_are_the_heartbeat() -> None:
    data = _encoded(
        file_entry("unwatched", "u-1.0.tar.gz"),
        publication(5),
        file_entry("example-pkg", "example_pkg-1.0.tar.gz", token=12),
        publication(6),
    )
    found = judge_entries(0, data, _watch_list(), None)
    assert [(e.index, e.unexpected) for e in found.events] == [(2, False)]
    assert found.heartbeat == Heartbeat(3, publication(6))


def test_a_publication_going_back_or_split_is_an_anomaly_of_the_log() -> None:
    seen = Heartbeat(7, publication(6))
    data = _encoded(publication(6), publication(6, seed="other"), publication(5), publication(7))
    found = judge_entries(8, data, _watch_list(), seen)
    assert [(e.index, e.project, e.reasons) for e in found.events] == [
        (9, None, ("two different timestamps of version 6 (this one and leaf 7's): a split view",)),
        (10, None, ("timestamp version 5 after version 6 (leaf 7): a rollback",)),
    ]
    assert found.heartbeat == Heartbeat(11, publication(7))


def test_an_entry_that_does_not_parse_is_reported_as_unexpected() -> None:
    found = judge_entries(3, [b'{"kind":"mystery"}'], _watch_list(), None)
    assert len(found.events) == 1
    assert found.events[0].project is None
    assert "an entry tufpi cannot read: unknown entry kind 'mystery'" in found.events[0].reasons[0]


def test_a_log_is_stale_past_max_age() -> None:
    beat = Heartbeat(0, publication(3, when=WHEN))
    hour = dt.timedelta(hours=1)
    assert stale(beat, WHEN + hour, 2 * hour) is None
    why = stale(beat, WHEN + 3 * hour, 2 * hour)
    assert why == (
        "the newest publication (timestamp version 3, 2026-12-07T12:00:00Z) is 3 h 0 min old, "
        "over 2 h 0 min"
    )
    assert stale(None, WHEN, hour) == "the log holds no publication (of those read)"


def test_a_report_line_names_who_and_how_and_escapes_the_log_s_text() -> None:
    entry = file_entry("example-pkg", "evil\x1b[2K-1.0.tar.gz", account="mallory", token=4)
    found = judge_entries(41, _encoded(entry), _watch_list(), None)
    line = describe(found.events[0])
    assert line == (
        "2026-12-07T12:00:00Z example-pkg file evil\\x1b[2K-1.0.tar.gz account=mallory token=4 "
        "via=upload leaf=41 UNEXPECTED: added by mallory, not one of alice, bob"
    )


def test_only_entries_of_watched_projects_are_parsed_strictly() -> None:
    watched = b'{"kind":"file","project":"example-pkg"}'
    other = b'{"kind":"file","project":"unwatched"}'
    found = judge_entries(0, [other, watched, b"[]", b"\xff"], _watch_list(), None)
    assert [(e.index, e.project) for e in found.events] == [(1, None), (2, None), (3, None)]
    assert "missing keys" in found.events[0].reasons[0]
