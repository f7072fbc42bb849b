"""``tufpi monitor``'s I/O: the log's policy from the verified TUF root, bounded reads of
``/tlog/``, the state file, the metrics file and fork evidence, each written atomically.

One round (``run_round``): read the state; follow the log from it (``monitor_log``); judge
the entries (``monitoring``); save the new state and the metrics; say what was found.
Exit codes: ``EXIT_OK`` nothing unexpected, ``EXIT_UNEXPECTED`` an unexpected event (or a
stale log with ``max_age``), ``EXIT_UNVERIFIED`` the log (or the state) could not be
verified: nothing was reported and the state's checkpoint and position did not move.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from tuf.api.exceptions import DownloadError
from tuf.api.metadata import Metadata, Root

from tufpi.client import running
from tufpi.client.credentials import IndexAddress
from tufpi.client.fetcher import BoundedFetcher, HttpClient
from tufpi.client.log_checks import LogRefusal, evidence_text
from tufpi.client.monitor_log import Fetch, Progress, follow
from tufpi.client.monitor_state import State, StateError, parse_state, render_metrics
from tufpi.client.monitoring import WatchList, describe, judge_entries, stale
from tufpi.client.refusals import Refusal, explain
from tufpi.client.text import printable
from tufpi.client.verified_index import ClientBounds, VerifiedIndex
from tufpi.tlog import policy as tlog_policy
from tufpi.tlog.entries import format_time
from tufpi.tlog.notes import NoteError
from tufpi.tlog.policy import LogPolicy

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_UNVERIFIED = 2


@dataclasses.dataclass(frozen=True)
class Options:
    """What a round reads and writes, and its bounds."""

    state_file: Path
    watch: WatchList
    metrics_file: Path | None = None
    max_entries: int = 100_000
    max_age: dt.timedelta | None = None
    from_now: bool = False
    log_url: str | None = None  # where the log is served, named in fork evidence


@dataclasses.dataclass(frozen=True)
class Outcome:
    """A round's exit code, its report (one line per event, then a summary), the lines of
    it that need a person (``notable``: the UNEXPECTED events, STALE), on failure the
    message (naming the evidence file when there is one), and whether entries are left."""

    code: int
    lines: tuple[str, ...] = ()
    failure: str | None = None
    behind: bool = False
    notable: tuple[str, ...] = ()


def log_policy(index: VerifiedIndex) -> LogPolicy:
    """The log the index's trusted root names, after a refresh of its signed metadata
    (ngclient keeps the newest root it verified as ``root.json`` in its directory).

    Raises:
        LogRefusal: the signed metadata does not verify, the root names no log, or names it
            in a form that does not parse.
    """
    try:
        index.refresh()
    except Refusal as e:
        raise LogRefusal(f"the index's signed metadata does not verify: {e.message}") from e
    data = (index.metadata_dir / "root.json").read_bytes()
    fields = Metadata[Root].from_bytes(data).signed.unrecognized_fields
    try:
        found = tlog_policy.policy_of(fields)
    except NoteError as e:
        raise LogRefusal(f"the index's root names its log in a form tufpi cannot use: {e}") from e
    if found is None:
        raise LogRefusal(
            f"the index's root names no transparency log ({tlog_policy.ROOT_FIELD}): "
            "there is nothing to monitor"
        )
    return found


class RootPolicy:
    """The log policy of the index's verified root (``log_policy``), each time it is asked
    for: the index is opened (its root bootstrapped from the pin, as ``tufpi install``
    does: ``running.open_index``) the first time, so a round that cannot reach the index
    fails like any other and is counted."""

    def __init__(
        self,
        address: IndexAddress,
        cache_dir: Path,
        root: tuple[Path | None, str | None],
        client: HttpClient,
        bounds: ClientBounds,
    ) -> None:
        """``root``: a trusted root file or the sha256 of the first root (or neither: the
        cached root)."""
        self._where = (address, cache_dir)
        self._root = root
        self._client = client
        self._bounds = bounds
        self._index: VerifiedIndex | None = None

    def __call__(self) -> LogPolicy:
        """The policy, after a refresh of the signed metadata.

        Raises:
            LogRefusal: the index cannot be opened or does not verify, or names no log.
        """
        if self._index is None:
            try:
                address, cache_dir = self._where
                root_file, root_sha256 = self._root
                self._index = running.open_index(
                    address, cache_dir, root_file, root_sha256, 0.0, self._client, self._bounds
                )
            except Refusal as e:
                raise LogRefusal(f"refused: {e.message}") from e
        return log_policy(self._index)


def http_fetch(fetcher: BoundedFetcher, index_url: str) -> Fetch:
    """Reads of ``<index>/tlog/<path>``, each under the fetcher's deadline and the cap."""
    base = index_url.rstrip("/") + "/tlog/"

    def fetch(path: str, max_bytes: int) -> bytes:
        url = base + path
        try:
            return fetcher.get(url, max_bytes)
        except DownloadError as e:
            raise LogRefusal(f"cannot read the log: {explain(e, url).message}") from e

    return fetch


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: a reader sees the old bytes or the new, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            os.fchmod(file.fileno(), 0o644)  # node_exporter reads the metrics as its own user
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def read_state(path: Path) -> State:
    """The state in ``path`` (a new one when there is no file yet).

    Raises:
        StateError: the file cannot be read or parsed.
    """
    try:
        return parse_state(path.read_bytes())
    except FileNotFoundError:
        return State()
    except OSError as e:
        raise StateError(f"cannot read the state file {path}: {e.strerror}") from e


@contextlib.contextmanager
def _exclusive(state_file: Path) -> Iterator[bool]:
    """Whether this process holds the state file's lock (``<state>.lock``, flock) for the
    duration: two rounds on one state (cron overlapping a slow round) would both read the
    same position and report the same events twice."""
    lock = state_file.with_name(state_file.name + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def run_round(
    policy: Callable[[], LogPolicy],
    fetch: Fetch,
    options: Options,
    now: Callable[[], dt.datetime],
) -> Outcome:
    """One round: the log's policy (``policy``, from the index's verified root, e.g.
    ``log_policy``), then follow the log from the saved state, report, save (see the
    module's docstring); refused while another round holds the state file."""
    with _exclusive(options.state_file) as mine:
        if not mine:
            busy = f"another tufpi monitor is using {options.state_file}: this round is skipped"
            return Outcome(EXIT_UNVERIFIED, failure=busy)
        return _locked_round(policy, fetch, options, now)


def _locked_round(
    policy: Callable[[], LogPolicy],
    fetch: Fetch,
    options: Options,
    now: Callable[[], dt.datetime],
) -> Outcome:
    try:
        state = read_state(options.state_file)
    except StateError as e:
        return Outcome(EXIT_UNVERIFIED, failure=f"{options.state_file}: {e}")
    position = state.position
    if state.signed is None and options.from_now:
        position = -1  # follow() reads nothing before the first checkpoint's size
    log: LogPolicy | None = None
    try:
        log = policy()
        progress = _follow(log, state, position, fetch, options.max_entries)
    except LogRefusal as e:
        return _failed(state, options, e, log, now())
    return _succeeded(state, progress, options, now())


def _follow(
    policy: LogPolicy, state: State, position: int, fetch: Fetch, max_entries: int
) -> Progress:
    if position >= 0:
        return follow(policy, state.signed, position, fetch, max_entries)
    first = follow(policy, None, 0, fetch, 0)
    return Progress(first.signed, first.signed.checkpoint.size, ())


def _failed(
    state: State,
    options: Options,
    failure: LogRefusal,
    policy: LogPolicy | None,
    now: dt.datetime,
) -> Outcome:
    message = failure.message
    if failure.evidence is not None and policy is not None:
        stamp = now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        evidence = options.state_file.with_name(f"{options.state_file.name}.evidence-{stamp}.txt")
        where = options.log_url or f"the log {policy.origin}"
        write_atomically(evidence, evidence_text(failure.evidence, policy, where, now).encode())
        message += f"; both checkpoints and the proof are saved in {evidence}: publish it"
    # The checkpoint and the position stay where they were: only the failure is counted.
    failed = dataclasses.replace(state, counters=state.counters.failed())
    _save(failed, options)
    return Outcome(EXIT_UNVERIFIED, failure=printable(message))


def _succeeded(state: State, progress: Progress, options: Options, now: dt.datetime) -> Outcome:
    findings = judge_entries(progress.start, progress.entries, options.watch, state.heartbeat)
    saved = State(
        progress.signed,
        progress.position,
        findings.heartbeat,
        state.counters.counted(findings.events, now),
    )
    _save(saved, options)
    lines = [describe(event) for event in findings.events]
    notable = [describe(event) for event in findings.events if event.unexpected]
    code = EXIT_UNEXPECTED if notable else EXIT_OK
    size = progress.signed.checkpoint.size
    read = (
        f"read leaves {progress.start} to {progress.position - 1}"
        if progress.entries
        else "no new entries"
    )
    lines.append(
        f"log {printable(progress.signed.checkpoint.origin)}: size {size}, {read}, "
        f"{sum(e.unexpected for e in findings.events)} unexpected; {_heartbeat_text(saved)}"
    )
    if progress.position < size:
        left = size - progress.position
        lines.append(
            f"{left} {'entry' if left == 1 else 'entries'} left to read: the next round reads on"
        )
    if options.max_age is not None:
        why = stale(findings.heartbeat, now, options.max_age)
        if why is not None:
            lines.append(f"STALE: {why}")
            notable.append(f"STALE: {why}")
            code = EXIT_UNEXPECTED
    return Outcome(code, tuple(lines), None, progress.position < size, tuple(notable))


def _heartbeat_text(state: State) -> str:
    if state.heartbeat is None:
        return "no publication seen yet"
    published = state.heartbeat.publication
    return (
        f"newest publication: timestamp version {published.timestamp_version} at "
        f"{format_time(published.time)} (leaf {state.heartbeat.index})"
    )


def _save(state: State, options: Options) -> None:
    write_atomically(options.state_file, state.to_json())
    if options.metrics_file is not None:
        text = render_metrics(state, options.watch.projects)
        write_atomically(options.metrics_file, text.encode())
