"""What ``tufpi monitor`` expects of the projects it watches, and its verdict on each log
entry (pure: a watch list's text and entries in, verdicts out).

The watch list is a TOML file, one table per project (any spelling of its name; it is
normalised as PEP 503 does)::

    [project.example-pkg]
    accounts = ["alice", "bob"]     # who may add files and yank, un-yank or remove them
    via = ["upload"]                # how files may arrive: upload, import, upstream
    operator = false                # may the index's operators yank or remove (no account)?

    [project.example-pkg.tokens]    # optional: an account listed here must use one of these
    alice = [12, 15]                # token ids (see `tufpi token list`); bob may use any

Every entry of a watched project is reported. It is UNEXPECTED (and says why) when:

- ``file``: it arrived by a path not in ``via``; or it names an account not in
  ``accounts``; or its account is in ``tokens`` and its token is not in that list (or it
  names none: an upload's tokens only); or it came by ``upload`` with no account at all. A
  file by ``import`` names the account ``--owner`` named, or none; by ``upstream``, none:
  it is expected when its path is in ``via`` (and its account, if any, in ``accounts``).
- ``yank``, ``unyank``, ``remove``: it names an account not in ``accounts``, unless it is
  the index's operators' (``admin``: ``tufpi yank``, ``tufpi remove``; or no account: a
  mirrored project followed from upstream) and ``operator`` is true.

Publications are the log's heartbeat, whatever the watch list says: the newest one seen is
kept, and one whose timestamp version is lower than the newest's, or equal to it with
another sha256 (two different timestamps of one version: a split view), is UNEXPECTED.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import tomllib
from collections.abc import Mapping, Sequence
from typing import Any

from packaging.utils import InvalidName, canonicalize_name

from tufpi.client.text import printable
from tufpi.tlog import entries
from tufpi.tlog.entries import Entry, EntryError, FileAdded, FileRemoved, Published, Yanked

VIA = ("upload", "import", "upstream")
# The account the index logs for what its operators do with the ``tufpi`` command (``tufpi
# yank``, ``tufpi remove``: ``tufpi.index.service.ADMIN``); entries from upstream name none.
OPERATOR = "admin"
_PROJECT_KEYS = frozenset({"accounts", "tokens", "via", "operator"})
# A watch list is read before anything else: keep what it may hold small.
MAX_WATCH_BYTES = 1024 * 1024


class WatchError(ValueError):
    """A watch list that cannot be used; the message says where and why."""


@dataclasses.dataclass(frozen=True)
class Watch:
    """What is expected of one project: its uploaders (``accounts``; ``tokens``: the token
    ids an account must use, for the accounts listed there), the paths its files may
    arrive by, and whether the index's operators may yank or remove its files."""

    project: str
    accounts: frozenset[str] = frozenset()
    tokens: Mapping[str, frozenset[int]] = dataclasses.field(default_factory=dict)
    via: frozenset[str] = frozenset({"upload"})
    operator: bool = False


@dataclasses.dataclass(frozen=True)
class WatchList:
    """The watched projects, by normalised name."""

    projects: Mapping[str, Watch]


def parse_watch_list(text: str) -> WatchList:
    """The watch list a TOML text states (see the module's docstring).

    Raises:
        WatchError: not TOML, an unknown key, a value of the wrong type, an unknown path,
            a project named twice (two spellings of one name), or no project at all.
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise WatchError(f"the watch list is not TOML: {e}") from e
    if set(document) - {"project"}:
        raise WatchError(
            f"unknown tables {sorted(set(document) - {'project'})}: only [project.NAME]"
        )
    tables = document.get("project", {})
    projects: dict[str, Watch] = {}
    for name, table in tables.items():
        watch = _watch(name, table)
        if watch.project in projects:
            raise WatchError(f"project {watch.project} is listed twice (as {name!r} too)")
        projects[watch.project] = watch
    if not projects:
        raise WatchError("the watch list names no project: add a [project.NAME] table")
    return WatchList(projects)


def _watch(name: str, table: Any) -> Watch:
    where = f"[project.{name}]"
    try:
        normalised = canonicalize_name(name, validate=True)
    except InvalidName as e:
        raise WatchError(f"{where}: not a project name: {e}") from e
    if not isinstance(table, dict):
        raise WatchError(f"{where} is not a table")
    if set(table) - _PROJECT_KEYS:
        raise WatchError(f"{where}: unknown keys {sorted(set(table) - _PROJECT_KEYS)}")
    accounts = _strings(where, "accounts", table.get("accounts", []))
    via = _strings(where, "via", table.get("via", ["upload"]))
    if unknown := sorted(set(via) - set(VIA)):
        raise WatchError(f"{where}: via {unknown} is not one of {list(VIA)}")
    operator = table.get("operator", False)
    if not isinstance(operator, bool):
        raise WatchError(f"{where}: operator is true or false")
    tokens = table.get("tokens", {})
    if not isinstance(tokens, dict):
        raise WatchError(f"{where}.tokens is a table of account = [token ids]")
    by_account: dict[str, frozenset[int]] = {}
    for account, ids in tokens.items():
        if account not in accounts:
            raise WatchError(f"{where}.tokens names {account!r}, who is not in accounts")
        if not isinstance(ids, list) or not all(type(i) is int and i >= 0 for i in ids):
            raise WatchError(f"{where}.tokens.{account} is a list of token ids (whole numbers)")
        by_account[account] = frozenset(ids)
    return Watch(normalised, frozenset(accounts), by_account, frozenset(via), operator)


def _strings(where: str, key: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise WatchError(f"{where}: {key} is a list of non-empty strings")
    return list(value)


# ----- verdicts -----


@dataclasses.dataclass(frozen=True)
class Event:
    """One reported entry: its leaf index, the entry (None: it could not be read), the
    project it is of, and why it was not expected (empty: expected)."""

    index: int
    entry: Entry | None
    project: str | None
    reasons: tuple[str, ...] = ()

    @property
    def unexpected(self) -> bool:
        """Whether anything about the entry was not expected."""
        return bool(self.reasons)


@dataclasses.dataclass(frozen=True)
class Heartbeat:
    """The newest publication the log holds (of those read): its leaf and entry."""

    index: int
    publication: Published


def judge_file(watch: Watch, entry: FileAdded) -> tuple[str, ...]:
    """Why a file entry of a watched project was not expected (empty: it was)."""
    reasons: list[str] = []
    if entry.via not in watch.via:
        reasons.append(f"arrived by {entry.via}, expected {_listed(watch.via)}")
    if entry.account is None:
        if entry.via == "upload":
            reasons.append("uploaded with no account")
        return tuple(reasons)
    if entry.account not in watch.accounts:
        reasons.append(f"added by {entry.account}, not one of {_listed(watch.accounts)}")
    elif (
        entry.via == "upload"
        and entry.account in watch.tokens
        and entry.token not in watch.tokens[entry.account]
    ):
        allowed = _listed(str(i) for i in watch.tokens[entry.account])
        used = "no token" if entry.token is None else f"token {entry.token}"
        reasons.append(f"{entry.account} used {used}, expected token {allowed}")
    return tuple(reasons)


def judge_change(watch: Watch, entry: Yanked | FileRemoved) -> tuple[str, ...]:
    """Why a yank, un-yank or removal of a watched project was not expected."""
    if entry.account in watch.accounts:
        return ()
    if entry.account in (None, OPERATOR):
        if watch.operator:
            return ()
        return (f"{entry.kind} by the index's operators ({entry.account or 'no account'})",)
    return (f"{entry.kind} by {entry.account}, not one of {_listed(watch.accounts)}",)


def judge_publication(newest: Heartbeat | None, entry: Published) -> tuple[str, ...]:
    """Why a publication was not expected after the ``newest`` one seen: its timestamp
    version went back, or one version was published twice with different bytes."""
    if newest is None:
        return ()
    before = newest.publication
    if entry.timestamp_version < before.timestamp_version:
        return (
            f"timestamp version {entry.timestamp_version} after version "
            f"{before.timestamp_version} (leaf {newest.index}): a rollback",
        )
    if (
        entry.timestamp_version == before.timestamp_version
        and entry.timestamp_sha256 != before.timestamp_sha256
    ):
        return (
            f"two different timestamps of version {entry.timestamp_version} (this one and "
            f"leaf {newest.index}'s): a split view",
        )
    return ()


def _listed(items: Any) -> str:
    names = sorted(items)
    return ", ".join(names) if names else "(none listed)"


@dataclasses.dataclass(frozen=True)
class Findings:
    """What a batch of entries held: the events reported (watched projects, anomalies of
    the log itself) and the newest publication after it."""

    events: tuple[Event, ...]
    heartbeat: Heartbeat | None


def judge_entries(
    start: int, data: Sequence[bytes], watch_list: WatchList, heartbeat: Heartbeat | None
) -> Findings:
    """The verdict on the entries ``data`` (leaves ``start``, ``start + 1``, ...), given the
    newest publication seen before them. An entry of a watched project, or naming no
    project, that does not parse is reported as an UNEXPECTED event of no project: the log
    commits to it, so someone wrote it. Entries of other projects are not parsed (the
    strict parse costs 100 times a JSON read)."""
    events: list[Event] = []
    for index, raw in enumerate(data, start):
        if not _concerns(raw, watch_list):
            continue
        try:
            entry = entries.parse_entry(raw)
        except EntryError as e:
            events.append(Event(index, None, None, (f"an entry tufpi cannot read: {e}",)))
            continue
        if isinstance(entry, Published):
            reasons = judge_publication(heartbeat, entry)
            if reasons:
                events.append(Event(index, entry, None, reasons))
            if (
                heartbeat is None
                or entry.timestamp_version > heartbeat.publication.timestamp_version
            ):
                heartbeat = Heartbeat(index, entry)
            continue
        watch = watch_list.projects.get(entry.project)
        if watch is None:
            continue
        if isinstance(entry, FileAdded):
            events.append(Event(index, entry, watch.project, judge_file(watch, entry)))
        else:
            events.append(Event(index, entry, watch.project, judge_change(watch, entry)))
    return Findings(tuple(events), heartbeat)


def _concerns(raw: bytes, watch_list: WatchList) -> bool:
    """Whether an entry needs its strict parse: it names a watched project, or no project
    at all (a publication; or something malformed, then reported)."""
    try:
        fields = json.loads(raw)
    except ValueError:
        return True
    if not isinstance(fields, dict):
        return True
    project = fields.get("project")
    return not isinstance(project, str) or project in watch_list.projects


def stale(heartbeat: Heartbeat | None, now: dt.datetime, max_age: dt.timedelta) -> str | None:
    """Why the log is stale at ``now`` (None: it is not): no publication seen, or the
    newest older than ``max_age``. An index re-signs its timestamp well within a day even
    when nothing is uploaded, and logs each publication, so a silent log is a finding."""
    if heartbeat is None:
        return "the log holds no publication (of those read)"
    age = now - heartbeat.publication.time
    if age > max_age:
        when = entries.format_time(heartbeat.publication.time)
        return (
            f"the newest publication (timestamp version "
            f"{heartbeat.publication.timestamp_version}, {when}) is {_duration(age)} old, "
            f"over {_duration(max_age)}"
        )
    return None


def _duration(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 60} min {seconds % 60} s"


# ----- report lines -----


def describe(event: Event) -> str:
    """One line for a person: time, project, kind, the file (or release), who and how,
    then ``UNEXPECTED: why`` when it was not expected. Text from the log is escaped."""
    entry = event.entry
    if entry is None:
        parts = ["-", "-", "unreadable", f"leaf {event.index}"]
    elif isinstance(entry, Published):
        parts = [
            entries.format_time(entry.time),
            "-",
            "publication",
            f"timestamp v{entry.timestamp_version} snapshot v{entry.snapshot_version}",
        ]
    else:
        parts = [entries.format_time(entry.time), entry.project, entry.kind, _what(entry)]
        parts.append(f"account={entry.account or '-'}")
        if isinstance(entry, FileAdded):
            parts.append(f"token={entry.token if entry.token is not None else '-'}")
            parts.append(f"via={entry.via}")
        parts.append(f"leaf={event.index}")
    line = " ".join(printable(part) for part in parts)
    if event.reasons:
        line += " UNEXPECTED: " + printable("; ".join(event.reasons))
    return line


def _what(entry: FileAdded | Yanked | FileRemoved) -> str:
    if isinstance(entry, Yanked) and entry.filename is None:
        return f"release {entry.version}"
    return entry.filename or entry.version
