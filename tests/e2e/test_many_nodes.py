"""Many nodes: two web nodes (``tufpi serve --no-signer``) and two ``tufpi signer`` processes
on one PostgreSQL database and one storage directory.

Twenty uploaders post through both web nodes at once (and twine through each); the active
signer is SIGKILLed mid-run and the standby takes over within seconds; a verifying client
(python-tuf's ngclient) refreshes through both nodes all along. At the end every accepted
upload was published exactly once and is listed, with its hashes, by the final bins.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import random
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Connection, create_engine, text
from tuf.ngclient import Updater

from tests.support import clients
from tests.support import server as server_support
from tests.support.server import IndexServer
from tests.support.state import query
from tests.support.tuf_client import updater, wait_for_target
from tests.support.uploads import post_wheel, tiny_wheel
from tests.support.waiting import wait_until
from tufpi.trust import layout

UPLOADERS = 20
UPLOADS_EACH = 12
PROJECTS = 6  # fewer projects than uploaders: uploads race on each project's row and pages
TWIN_FILES = 6  # files posted through both nodes at the same instant (a retry elsewhere)
KILL_AFTER = 60  # accepted uploads before the active signer is killed
TAKEOVER_LIMIT = 5.0  # seconds from the SIGKILL to the standby's "signer: active"
# The watching client's refreshes at the least, however quickly the uploads went through.
MIN_REFRESHES = 20
BINS = 64
SIGNER_LOGS = ("signer-1.log", "signer-2.log")


@dataclasses.dataclass(frozen=True)
class Accepted:
    """An upload the index accepted (HTTP 200): what it must publish."""

    node: int
    project: str
    filename: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def sha512(self) -> str:
        return hashlib.sha512(self.data).hexdigest()

    @property
    def path(self) -> str:
        h = self.sha256
        return f"packages/{h[:2]}/{h[2:4]}/{h[4:]}/{self.filename}"


class Ledger:
    """Uploads accepted and refused, shared by the uploader threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accepted: list[Accepted] = []
        self.refused: list[str] = []
        self.repeats = 0  # accepted again (the same file): must change nothing
        # Set once the active signer is killed: each uploader does half its uploads before,
        # half after, so uploads run on both sides of the takeover.
        self.killed = threading.Event()

    def add(self, node: int, project: str, version: str, response: httpx.Response) -> None:
        filename, data = tiny_wheel(project, version)
        with self.lock:
            if response.status_code != 200:
                self.refused.append(
                    f"node {node} {filename}: {response.status_code} {response.text}"
                )
            elif any(a.filename == filename for a in self.accepted):
                self.repeats += 1
            else:
                self.accepted.append(Accepted(node, project, filename, data))

    def snapshot(self) -> list[Accepted]:
        with self.lock:
            return list(self.accepted)


class Watcher(threading.Thread):
    """A returning ngclient client: refreshes through both nodes, alternately, until stopped.

    One metadata directory for every refresh, so ngclient's rollback checks apply across
    refreshes and nodes; each refresh also looks up an accepted file through the bins.
    """

    def __init__(self, nodes: list[IndexServer], workdir: Path, ledger: Ledger) -> None:
        super().__init__(name="watcher", daemon=True)
        self.nodes, self.workdir, self.ledger = nodes, workdir, ledger
        self.stop = threading.Event()
        self.refreshes = 0
        self.errors: list[str] = []
        self.seen: list[tuple[int, int]] = []  # (timestamp version, snapshot version)

    def run(self) -> None:
        pick = random.Random(6)
        while not self.stop.is_set():
            node = self.refreshes % len(self.nodes)
            try:
                self._refresh(updater(self.nodes[node], self.workdir, "watcher"), pick)
            except Exception as e:  # every failed refresh is a finding
                self.errors.append(f"refresh {self.refreshes} via node {node}: {e!r}")
            self.refreshes += 1
            self.stop.wait(0.1)

    def _refresh(self, client: Updater, pick: random.Random) -> None:
        client.refresh()
        signed = json.loads((self.workdir / "watcher/metadata/timestamp.json").read_bytes())
        versions = (
            signed["signed"]["version"],
            signed["signed"]["meta"]["snapshot.json"]["version"],
        )
        if self.seen and (versions[0] < self.seen[-1][0] or versions[1] < self.seen[-1][1]):
            self.errors.append(f"went back from {self.seen[-1]} to {versions}")
        self.seen.append(versions)
        accepted = self.ledger.snapshot()
        if accepted:
            sample = pick.choice(accepted)
            info = client.get_targetinfo(sample.path)  # None: not published yet
            if info is not None and info.hashes.get("sha256") != sample.sha256:
                self.errors.append(f"{sample.path} listed with {info.hashes}")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    server_support.need_postgres("many nodes")
    with server_support.postgres_database() as url:
        yield url


@pytest.fixture
def nodes(postgres_url: str, tmp_path: Path) -> Iterator[list[IndexServer]]:
    """Two web nodes on one database and one data directory (the shared storage)."""
    shared = tmp_path / "shared"
    started: list[IndexServer] = []
    try:
        for name in ("a", "b"):
            started.append(
                server_support.start(
                    shared,
                    postgres_url,
                    serve_args=["--no-signer"],
                    log_name=f"serve-{name}.log",
                    bins=str(BINS),
                )
            )
        yield started
    finally:
        for node in started:
            node.stop()
        for log in [*(f"serve-{n}.log" for n in "ab"), *SIGNER_LOGS]:
            with contextlib.suppress(OSError):
                print(f"--- {log}\n" + (shared / log).read_text()[-3000:])


def _log(node: IndexServer, name: str) -> str:
    path = node.data_dir / name
    return path.read_text() if path.exists() else ""


def _wait_for(
    condition: Callable[[], object], what: str, timeout: float, step: float = 0.05
) -> float:
    """Poll ``condition()`` until true; returns the seconds it took."""
    started = time.monotonic()
    wait_until(condition, f"{what}: not within {timeout} s", timeout=timeout, interval=step)
    return time.monotonic() - started


def _uploader(number: int, nodes: list[IndexServer], token: str, ledger: Ledger) -> None:
    node = number % len(nodes)
    with httpx.Client(timeout=120) as client:
        for step in range(UPLOADS_EACH):
            if step == UPLOADS_EACH // 2:
                ledger.killed.wait(timeout=180)
            project = f"fleet-{(number + step) % PROJECTS}"
            version = f"{step}.{number}"
            response = post_wheel(client, nodes[node].url, token, project, version)
            ledger.add(node, project, version, response)


def _twin(
    node: int, nodes: list[IndexServer], token: str, ledger: Ledger, go: threading.Barrier
) -> None:
    """Post the same files as the other twin, through the other node, at the same instant."""
    with httpx.Client(timeout=120) as client:
        for step in range(TWIN_FILES):
            if step == TWIN_FILES // 2:
                ledger.killed.wait(timeout=180)
            go.wait(timeout=180)
            response = post_wheel(client, nodes[node].url, token, f"twin-{step % 2}", f"{step}")
            ledger.add(node, f"twin-{step % 2}", f"{step}", response)


def _twiner(nodes: list[IndexServer], token: str, tmp: Path, ledger: Ledger) -> None:
    """Upload with real twine through each node, before the kill and after it."""
    for round_number in range(2):
        if round_number == 1:
            ledger.killed.wait(timeout=180)
        for node, server in enumerate(nodes):
            project = f"twined-{node}"
            folder = tmp / "twine" / f"{node}-{round_number}"
            folder.mkdir(parents=True)
            files = []
            for minor in range(2):
                name, data = tiny_wheel(project, f"{round_number}.{minor}")
                (folder / name).write_bytes(data)
                files.append(folder / name)
            result = clients.twine_upload(server.url, token, files)
            with ledger.lock:
                if result.returncode != 0:
                    ledger.refused.append(f"twine via node {node}: {result.stdout}{result.stderr}")
                    continue
                for file in files:
                    ledger.accepted.append(Accepted(node, project, file.name, file.read_bytes()))


def _changes(node: IndexServer) -> list[tuple[str, str, str | None, int | None]]:
    rows = query(
        node.database_url, "SELECT path, action, sha256, published_version FROM target_changes"
    )
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def _published_snapshots(log: str) -> list[int]:
    return [int(v) for v in re.findall(r"signer: published snapshot (\d+)", log)]


class StoredMetadata:
    """Every snapshot and bin-n file in the shared storage (none is swept within an hour)."""

    def __init__(self, tuf_dir: Path) -> None:
        self.tuf_dir = tuf_dir
        self.snapshots: dict[int, dict[str, int]] = {}
        for path in tuf_dir.glob("*.snapshot.json"):
            meta = json.loads(path.read_bytes())["signed"]["meta"]
            self.snapshots[int(path.name.split(".")[0])] = {
                role.removesuffix(".json"): m["version"] for role, m in meta.items()
            }
        self._bins: dict[tuple[str, int], dict[str, dict[str, object]]] = {}

    def bin_targets(self, name: str, version: int) -> dict[str, dict[str, object]]:
        if (name, version) not in self._bins:
            signed = json.loads((self.tuf_dir / f"{version}.{name}.json").read_bytes())["signed"]
            self._bins[name, version] = signed["targets"]
        return self._bins[name, version]

    def listed_in(self, accepted: Accepted) -> list[int]:
        """The snapshot versions whose bin lists ``accepted`` with its length and hashes."""
        name = layout.bin_name(layout.bin_index(accepted.path, BINS), BINS)
        want = {
            "length": len(accepted.data),
            "hashes": {"sha256": accepted.sha256, "sha512": accepted.sha512},
        }
        return [
            version
            for version, meta in sorted(self.snapshots.items())
            if self.bin_targets(name, meta[name]).get(accepted.path) == want
        ]


def _check_published_once(node: IndexServer, accepted: list[Accepted]) -> None:
    changes = _changes(node)
    assert all(c[3] is not None for c in changes), "changes left pending"
    dist_changes = [c for c in changes if c[0].startswith("packages/")]
    # One logged change per accepted upload, and none for anything else.
    assert sorted((c[0], c[1], c[2]) for c in dist_changes) == sorted(
        (a.path, "add", a.sha256) for a in accepted
    )
    published = {c[0]: c[3] for c in dist_changes}
    recorded = {c[3] for c in changes}
    stored = StoredMetadata(node.data_dir / "files" / "tuf")
    for a in accepted:
        listed = stored.listed_in(a)
        assert listed, f"{a.filename} is in no snapshot"
        first = listed[0]
        # Once listed, listed by every later snapshot (no fork lost it).
        assert listed == [v for v in sorted(stored.snapshots) if v >= first], a.filename
        # Recorded as published by the snapshot that first listed it; or later, only if
        # that snapshot's batch was never recorded (the killed signer's last one).
        assert published[a.path] == first or (
            first not in recorded and published[a.path] > first
        ), (a.filename, first, published[a.path])


def _check_final(nodes: list[IndexServer], tmp: Path, accepted: list[Accepted]) -> None:
    """Fresh clients through each node: the final bins list every accepted file; each file,
    downloaded through the node it was not uploaded through, verifies; every page lists them."""
    final = [updater(node, tmp, f"final-{i}") for i, node in enumerate(nodes)]
    for client in final:
        client.refresh()
    for a in accepted:
        for client in final:
            info = client.get_targetinfo(a.path)
            assert info is not None, f"{a.filename} not in the final bins"
            assert info.length == len(a.data)
            assert info.hashes == {"sha256": a.sha256, "sha512": a.sha512}
        other = final[(a.node + 1) % len(final)]
        info = other.get_targetinfo(a.path)
        assert info is not None
        assert Path(other.download_target(info)).read_bytes() == a.data
    for project in sorted({a.project for a in accepted}):
        client = final[0]
        info = client.get_targetinfo(f"simple/{project}/index.json")
        assert info is not None, project
        page = json.loads(Path(client.download_target(info)).read_bytes())
        listed = {f["filename"]: f["hashes"]["sha256"] for f in page["files"]}
        assert listed == {a.filename: a.sha256 for a in accepted if a.project == project}


def _kill_active_signer(
    node: IndexServer, active: subprocess.Popen[bytes], ledger: Ledger
) -> tuple[int, float]:
    """SIGKILL the active signer mid-run; returns the uploads accepted by then and the
    seconds until the standby is active."""
    _wait_for(lambda: len(ledger.snapshot()) >= KILL_AFTER, "uploads before the kill", 120)
    _wait_for(lambda: _published_snapshots(_log(node, SIGNER_LOGS[0])), "a first publication", 60)
    assert "signer: active" not in _log(node, SIGNER_LOGS[1]), "two signers active at once"
    at_kill = len(ledger.snapshot())
    active.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    ledger.killed.set()
    active.wait(timeout=10)
    _wait_for(lambda: "signer: active" in _log(node, SIGNER_LOGS[1]), "takeover", 30)
    return at_kill, time.monotonic() - killed


def test_two_web_nodes_two_signers_one_killed(nodes: list[IndexServer], tmp_path: Path) -> None:
    a = nodes[0]
    token = a.new_user("fleet")
    signers = [server_support.signer_process(a, log_name=SIGNER_LOGS[0])]
    ledger = Ledger()
    watcher = Watcher(nodes, tmp_path, ledger)
    try:
        _wait_for(lambda: "signer: active" in _log(a, SIGNER_LOGS[0]), "first signer", 30)
        signers.append(server_support.signer_process(a, log_name=SIGNER_LOGS[1]))
        _wait_for(lambda: "signer: standing by" in _log(a, SIGNER_LOGS[1]), "standby", 30)
        watcher.start()
        uploaders = [
            threading.Thread(target=_uploader, args=(n, nodes, token, ledger))
            for n in range(UPLOADERS)
        ]
        uploaders.append(threading.Thread(target=_twiner, args=(nodes, token, tmp_path, ledger)))
        go = threading.Barrier(len(nodes))
        uploaders += [
            threading.Thread(target=_twin, args=(n, nodes, token, ledger, go))
            for n in range(len(nodes))
        ]
        for thread in uploaders:
            thread.start()
        at_kill, takeover = _kill_active_signer(a, signers[0], ledger)
        print(f"takeover after {takeover:.2f} s, {at_kill} uploads accepted at the kill")
        assert takeover < TAKEOVER_LIMIT
        for thread in uploaders:
            thread.join(timeout=180)
            assert not thread.is_alive()
        assert ledger.refused == []
        accepted = ledger.snapshot()
        assert len(accepted) == UPLOADERS * UPLOADS_EACH + 8 + TWIN_FILES
        assert ledger.repeats == TWIN_FILES
        assert len({n.node for n in accepted}) == 2
        _wait_for(
            lambda: all(c[3] is not None for c in _changes(a)), "every change published", 60, 0.2
        )
        enough = max(watcher.refreshes + 2, MIN_REFRESHES)
        _wait_for(lambda: watcher.refreshes >= enough, "last refreshes", 60)
    finally:
        ledger.killed.set()  # no uploader waits forever after a failure
        watcher.stop.set()
        if watcher.is_alive():
            watcher.join(timeout=60)
        for process in signers:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=30)

    assert watcher.errors == []
    assert watcher.refreshes >= MIN_REFRESHES, watcher.refreshes
    first, second = (_published_snapshots(_log(a, name)) for name in SIGNER_LOGS)
    assert second, "the standby published nothing"
    assert max(first) < min(second), "the two signers' publications overlap"
    assert first == sorted(first)
    assert second == sorted(second)
    # The client verified metadata of both signers, the newest at the end.
    assert watcher.seen[0][1] <= max(first) < watcher.seen[-1][1] == max(second)
    _check_published_once(a, accepted)
    _check_final(nodes, tmp_path, accepted)


# The signer's election lock, pg_advisory_lock(0x7475667069), as pg_locks shows a bigint key.
_ELECTION_LOCK = "classid = x'74'::int AND objid = x'75667069'::int AND objsubid = 1"


def _end_lock_session(node: IndexServer) -> int:
    """Have PostgreSQL end the session holding the election lock; returns its backend pid."""
    engine = create_engine(node.database_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            pids = conn.execute(
                text(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND "
                    "database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                    f" AND {_ELECTION_LOCK}"
                )
            ).scalars()
            (pid,) = list(pids)
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
            return int(pid)
    finally:
        engine.dispose()


def test_a_signer_whose_lock_session_ends_stops(postgres_url: str, tmp_path: Path) -> None:
    """The lock can end while its process lives (a server restart, a partition outlasting TCP
    keepalive, an administrator): that signer must stop, as the standby takes over."""
    node = server_support.start(tmp_path / "data", postgres_url, serve_args=["--no-signer"])
    token = node.new_user("locksmith")
    signers = [server_support.signer_process(node, log_name=SIGNER_LOGS[0])]
    try:
        _wait_for(lambda: "signer: active" in _log(node, SIGNER_LOGS[0]), "first signer", 30)
        signers.append(server_support.signer_process(node, log_name=SIGNER_LOGS[1]))
        _wait_for(lambda: "signer: standing by" in _log(node, SIGNER_LOGS[1]), "standby", 30)
        with httpx.Client(timeout=60) as http:
            assert post_wheel(http, node.url, token, "lock-a", "1.0").status_code == 200
            wait_for_target(node, tmp_path, "simple/lock-a/index.html")
            _end_lock_session(node)
            assert signers[0].wait(timeout=10) == 1
            log = _log(node, SIGNER_LOGS[0])
            assert "signer: lost the election lock" in log
            assert "Error: lost the election lock; stopped signing" in log
            assert "Traceback" not in log
            _wait_for(lambda: "signer: active" in _log(node, SIGNER_LOGS[1]), "takeover", 10)
            assert post_wheel(http, node.url, token, "lock-b", "1.0").status_code == 200
            wait_for_target(node, tmp_path, "simple/lock-b/index.html")
        client = updater(node, tmp_path, "returning")
        client.refresh()
        assert client.get_targetinfo("simple/lock-a/index.html") is not None
        first, second = (_published_snapshots(_log(node, name)) for name in SIGNER_LOGS)
        assert first
        assert second
        assert max(first) < min(second)
    finally:
        for process in signers:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=30)
        node.stop()


def _wait_for_blocked_read(conn: Connection, timeout: float = 30) -> None:
    """Until a session of this database waits for a lock on a query of ``targets``."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND "
        "wait_event_type = 'Lock' AND query ILIKE '%FROM targets%'"
    )
    _wait_for(lambda: conn.execute(query).scalar(), "a signer blocked reading targets", timeout)


def test_a_signer_that_loses_its_lock_mid_publication_publishes_nothing(
    postgres_url: str, tmp_path: Path
) -> None:
    """The lock's session ends while a batch is being signed: that batch must not be
    published (no snapshot, no timestamp) beside the signer that takes over."""
    node = server_support.start(tmp_path / "data", postgres_url, serve_args=["--no-signer"])
    signers = [server_support.signer_process(node, log_name=SIGNER_LOGS[0])]
    blocker = create_engine(node.database_url)
    try:
        _wait_for(lambda: "signer: active" in _log(node, SIGNER_LOGS[0]), "first signer", 30)
        signers.append(server_support.signer_process(node, log_name=SIGNER_LOGS[1]))
        _wait_for(lambda: "signer: standing by" in _log(node, SIGNER_LOGS[1]), "standby", 30)
        before = _published_snapshots(_log(node, SIGNER_LOGS[0]))
        with blocker.connect() as hold, blocker.connect() as watch:
            # Hold the next batch at its read of the bins' rows: after the election, before
            # it signs and publishes anything.
            hold.execute(text("LOCK TABLE targets IN ACCESS EXCLUSIVE MODE"))
            node.cli("trust", "resign")  # every bin due: the next batch re-signs them all
            _wait_for_blocked_read(watch)
            _end_lock_session(node)
            hold.rollback()  # the batch goes on, now without the lock
            assert signers[0].wait(timeout=20) == 1
        log = _log(node, SIGNER_LOGS[0])
        assert "Error: lost the election lock" in log
        assert _published_snapshots(log) == before, "published after losing the lock"
        _wait_for(lambda: "signer: active" in _log(node, SIGNER_LOGS[1]), "takeover", 10)
        _wait_for(
            lambda: re.search(r"published snapshot \d+ .*: 64 bins", _log(node, SIGNER_LOGS[1])),
            "the standby's re-signing of every bin",
            30,
        )
        client = updater(node, tmp_path, "returning")
        client.refresh()
    finally:
        blocker.dispose()
        for process in signers:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=30)
        node.stop()
