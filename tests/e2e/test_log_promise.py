"""The transparency log's promise, each attack shown working where the log is not checked and
refused where it is (issue 15, item 6), against a real ``tufpi serve``:

- whoever can get a file signed without the index's upload path (a stolen online key, a
  hand-written row in the database) has it accepted by TUF alone (ngclient), and refused by
  tufpi's client because it is not in the log;
- if the attacker logs it to get it installed, ``tufpi monitor`` reports it;
- a second history of the log (a split view, signed with the log's own key) is accepted by a
  client that never saw the real one, and refused, with the fork's evidence saved, by a client
  that did; a witness that cosigned the real checkpoint refuses to cosign the fork;
- a checkpoint older than one the client kept (a rollback) is refused.

The split view and the rollback are served by a static copy of the index's files (what the
index, or a mirror, shows one client), so the live server stays honest for the other tests.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from tests.support import clients
from tests.support.clients import clean_env
from tests.support.dists import make_dists
from tests.support.payload_host import serving
from tests.support.server import IndexServer, free_port, start
from tests.support.tuf_client import first_root, updater, upload_and_wait, wait_for_target
from tests.support.waiting import wait_until
from tests.support.witness import serving_witness
from tufpi.keys import dev
from tufpi.tlog import checkpoints, entries, hashing, notes, tiles
from tufpi.tlog.policy import policy_of
from tufpi.transparency import layout, record
from tufpi.trust import ceremony
from tufpi.trust.ceremony import Proposal
from tufpi.trust.changes import TargetFile, set_targets

CONFORMANCE = str(Path(sys.executable).parent / "tufpi-conformance-client")


@pytest.fixture(scope="module")
def database_url() -> None:
    """The attacker writes the database directly: SQLite is enough to show it."""
    return


@pytest.fixture(scope="module")
def root_v1(index_server: IndexServer, workdir: Path) -> Path:
    path = workdir / "1.root.json"
    path.write_bytes(first_root(index_server))
    return path


def _sign_behind_the_index(
    server: IndexServer, workdir: Path, project: str, *, logged: bool
) -> str:
    """What a stolen online key (or write access to the database) buys: a file signed
    without passing the upload path. With ``logged`` the attacker also logs it (so that
    clients install it), as uploaded by the account ``mallory``. Its target path."""
    wheel = next(d for d in make_dists(workdir, project, "6.6.6") if d.suffix == ".whl")
    data = wheel.read_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    path = f"packages/{sha256[:2]}/{sha256[2:4]}/{sha256[4:]}/{wheel.name}"
    stored = server.data_dir / "files" / path
    stored.parent.mkdir(parents=True, exist_ok=True)
    stored.write_bytes(data)
    # ...and under its consistent-snapshot name, where TUF clients fetch it.
    (stored.parent / f"{sha256}.{wheel.name}").write_bytes(data)
    now = dt.datetime.now(dt.UTC)
    target = TargetFile(path, len(data), sha256, hashlib.sha512(data).hexdigest())
    engine = create_engine(server.database_url)
    with Session(engine) as session:
        set_targets(session, [target], project_id=None, project=project, actor="x", now=now)
        if logged:
            added = entries.FileAdded(
                project, "6.6.6", wheel.name, path, sha256, len(data), now, "upload", "mallory"
            )
            record(session, [added])
        session.commit()
    engine.dispose()
    wait_for_target(server, workdir, path, sha256)
    return path


def _conformance(
    metadata: Path, base_url: str, path: str, out: Path
) -> subprocess.CompletedProcess[str]:
    """The conformance client (python-tuf's ngclient and tufpi's log checks) downloads the
    target ``path`` from the index (or copy) at ``base_url``, keeping state in ``metadata``."""
    out.mkdir(parents=True, exist_ok=True)
    args = ["--metadata-dir", str(metadata), "--metadata-url", base_url + "tuf/"]
    args += ["--target-base-url", base_url, "--target-dir", str(out), "--target-name", path]
    return subprocess.run(
        [CONFORMANCE, *args, "download"],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
        check=False,
    )


def _client(root: Path, where: Path) -> Path:
    """A conformance client's metadata directory, initialised with the pinned first root."""
    where.mkdir(parents=True)
    subprocess.run(
        [CONFORMANCE, "--metadata-dir", str(where), "init", str(root)],
        env=clean_env(),
        check=True,
        timeout=60,
    )
    return where


def test_a_file_signed_but_not_logged_is_refused(
    index_server: IndexServer, workdir: Path, root_v1: Path, tmp_path: Path
) -> None:
    path = _sign_behind_the_index(index_server, workdir, "promise-unlogged", logged=False)
    # The attack works against TUF alone: the online key's signature is valid.
    plain = updater(index_server, tmp_path, "ngclient")
    plain.refresh()
    info = plain.get_targetinfo(path)
    assert info is not None
    assert Path(plain.download_target(info)).read_bytes()[:2] == b"PK"
    # tufpi's client refuses it: nothing in the log says the index published it.
    metadata = _client(root_v1, tmp_path / "client")
    result = _conformance(metadata, index_server.url, path, tmp_path / "got")
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"transparency log: {path} is not in the index's log" in result.stderr
    assert not any((tmp_path / "got").iterdir())


def test_a_file_signed_and_logged_is_reported_by_the_monitor(
    index_server: IndexServer, workdir: Path, root_v1: Path, tmp_path: Path
) -> None:
    watch = tmp_path / "watch.toml"
    watch.write_text('[project.promise-watched]\naccounts = ["alice"]\n')
    pin = hashlib.sha256(root_v1.read_bytes()).hexdigest()

    def monitor() -> subprocess.CompletedProcess[str]:
        return clients.run(
            [
                sys.executable,
                "-m",
                "tufpi.cli",
                "monitor",
                index_server.url,
                "--root",
                pin,
                "--state",
                str(tmp_path / "state.json"),
                "--watch",
                str(watch),
                "--cache-dir",
                str(tmp_path / "cache"),
                "--once",
            ]
        )

    before = monitor()
    assert before.returncode == 0, before.stdout + before.stderr
    path = _sign_behind_the_index(index_server, workdir, "promise-watched", logged=True)
    # Logged, the file passes every client check...
    metadata = _client(root_v1, tmp_path / "client")
    got = _conformance(metadata, index_server.url, path, tmp_path / "got")
    assert got.returncode == 0, got.stdout + got.stderr
    # ...and the maintainer's monitor names it.
    after = monitor()
    assert after.returncode == 1, after.stdout + after.stderr
    (line,) = [line for line in after.stdout.splitlines() if "UNEXPECTED" in line]
    assert "promise-watched file " + path.rpartition("/")[2] in line
    assert "account=mallory" in line
    assert line.endswith("UNEXPECTED: added by mallory, not one of alice")


def _leaves(server: IndexServer) -> list[bytes]:
    """The log's leaves as the index's database holds them, in order."""
    database = server.database_url.removeprefix("sqlite:///")
    with contextlib.closing(sqlite3.connect(database)) as connection:
        rows = connection.execute("SELECT entry FROM log_leaves ORDER BY seq").fetchall()
    return [bytes(row[0]) for row in rows]


def _settled_size(server: IndexServer) -> int:
    """The published checkpoint's size once it holds every leaf (the publication entry
    logged after a timestamp comes a moment after it)."""

    def settled() -> int | None:
        size = int(httpx.get(f"{server.url}tlog/checkpoint").content.split(b"\n")[1])
        return size if size == len(_leaves(server)) else None

    return wait_until(settled, "the log did not settle", timeout=20)


def _write_log(files: Path, leaves: list[bytes], key_file: Path, origin: str) -> bytes:
    """Replace the log in a copy of the index's files by the tree of ``leaves``, signed
    with the log's own key (the attacker holds it): tiles, bundles, lookups, checkpoint."""
    shutil.rmtree(files / "tlog")
    hashes = [hashing.leaf_hash(leaf) for leaf in leaves]
    for tile in tiles.tiles_for_size(len(leaves)):
        out = files / "tlog" / tile.path()
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(tiles.tile_content(tile, hashing.list_hasher(hashes)))
        if tile.level == 0:
            start, end = tile.leaf_range()
            bundle = files / "tlog" / tile.entries_path()
            bundle.parent.mkdir(parents=True, exist_ok=True)
            bundle.write_bytes(tiles.encode_bundle(leaves[start:end]))
    (files / "tlog" / "lookup").mkdir()
    for index, leaf in enumerate(leaves):
        entry = entries.parse_entry(leaf)
        if isinstance(entry, entries.FileAdded):
            name = layout.lookup_name(entry.path)
            (files / "tlog" / "lookup" / name).write_bytes(layout.lookup_content(index, leaf))
    key = load_pem_private_key(key_file.read_bytes(), None)
    text = checkpoints.Checkpoint(origin, len(leaves), hashing.root_hash(hashes)).text()
    note = notes.Note(text, (notes.sign(text, origin, key),)).encode()  # type: ignore[arg-type]
    (files / "tlog" / "checkpoint").write_bytes(note)
    return note


@contextlib.contextmanager
def _served_copy(server: IndexServer, where: Path) -> Iterator[tuple[str, Path]]:
    """A static HTTP server over a copy of the index's files: (its URL, the copy)."""
    files = where / "files"
    shutil.copytree(server.data_dir / "files", files, ignore=shutil.ignore_patterns(".*"))
    with serving(files) as host:
        yield host.url, files


def _forked(leaves: list[bytes]) -> list[bytes]:
    """Another history of the same size: the first publication entry replaced."""
    first = entries.parse_entry(leaves[0])
    assert isinstance(first, entries.Published)
    other = entries.Published(
        first.timestamp_version, "f" * 64, first.snapshot_version, "f" * 64, first.time
    )
    return [entries.encode_entry(other), *leaves[1:]]


def test_a_split_view_is_refused_by_a_client_that_saw_the_log_and_by_a_witness(
    index_server: IndexServer, workdir: Path, root_v1: Path, tmp_path: Path
) -> None:
    token = index_server.new_user("split-alice")
    first = upload_and_wait(index_server, workdir, token, "promise-split-one")
    metadata = _client(root_v1, tmp_path / "client")
    seen = _conformance(metadata, index_server.url, first, tmp_path / "one")
    assert seen.returncode == 0, seen.stdout + seen.stderr
    kept = (metadata / "tlog" / "checkpoint").read_bytes()
    second = upload_and_wait(index_server, workdir, token, "promise-split-two")
    size = _settled_size(index_server)
    real = httpx.get(f"{index_server.url}tlog/checkpoint").content
    leaves = _leaves(index_server)[:size]
    policy = policy_of(json.loads(root_v1.read_bytes())["signed"])  # the pinned root's log
    assert policy is not None
    key_file = index_server.data_dir / "keys" / "log.pem"
    with _served_copy(index_server, tmp_path / "fork") as (url, files):
        fork = _write_log(files, _forked(leaves), key_file, policy.origin)
        # A client that never saw the real log has nothing to compare: it accepts the fork
        # (what witnesses are for).
        fresh = _client(root_v1, tmp_path / "fresh")
        naive = _conformance(fresh, url, second, tmp_path / "naive")
        assert naive.returncode == 0, naive.stdout + naive.stderr
        # The client that kept the real checkpoint refuses it, and saves the evidence.
        refused = _conformance(metadata, url, second, tmp_path / "two")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "fork" in refused.stderr, refused.stderr
    assert not any((tmp_path / "two").iterdir())
    (evidence,) = (metadata / "tlog").glob("fork-*")
    assert str(evidence) in refused.stderr
    shown = evidence.read_text()
    for note in (kept, fork):  # both signed checkpoints, as served
        assert note.decode().removesuffix("\n") in shown
    # A witness that cosigned the real checkpoint refuses the fork of the same size.
    with serving_witness(tmp_path, "w.test", policy.log.vkey()) as running:
        witness = running.add_checkpoint
        ok = httpx.post(witness, content=b"old 0\n\n" + real, timeout=10)
        assert ok.status_code == 200, ok.text
        forked = httpx.post(witness, content=f"old {size}\n\n".encode() + fork, timeout=10)
        assert forked.status_code == 409, forked.text
        again = httpx.post(witness, content=f"old {size}\n\n".encode() + real, timeout=10)
        assert again.status_code == 200, again.text  # its state is still the real log


def test_a_rolled_back_checkpoint_is_refused(
    index_server: IndexServer, workdir: Path, root_v1: Path, tmp_path: Path
) -> None:
    token = index_server.new_user("rollback-alice")
    old_size = _settled_size(index_server)
    old = httpx.get(f"{index_server.url}tlog/checkpoint").content
    first = upload_and_wait(index_server, workdir, token, "promise-back-one")
    metadata = _client(root_v1, tmp_path / "client")
    seen = _conformance(metadata, index_server.url, first, tmp_path / "one")
    assert seen.returncode == 0, seen.stdout + seen.stderr
    second = upload_and_wait(index_server, workdir, token, "promise-back-two")
    _settled_size(index_server)
    with _served_copy(index_server, tmp_path / "copy") as (url, files):
        (files / "tlog" / "checkpoint").write_bytes(old)  # a valid, older checkpoint
        result = _conformance(metadata, url, second, tmp_path / "two")
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"rollback: the log's checkpoint has {old_size} entries, fewer than" in result.stderr
    assert not any((tmp_path / "two").iterdir())


def _add_witness(server: IndexServer, vkey: str, work: Path) -> None:
    """A root ceremony: root v2 names the witness and asks 1 cosignature of every
    checkpoint (the development root keys sign; the ceremony tests show the holders')."""
    proposal = work / "root-v2.json"
    server.cli(
        "ceremony", "propose", "root", "--out", str(proposal),
        "--witness", vkey, "--witness-threshold", "1",
    )  # fmt: skip
    parsed = Proposal.from_bytes(proposal.read_bytes())
    signatures = []
    for number, signer in enumerate(dev.load_or_create(server.data_dir / "keys").root[:2]):
        path = work / f"root-v2.{number}.sig.json"
        path.write_bytes(ceremony.sign(parsed, signer).to_bytes())
        signatures.append(str(path))
    server.cli("ceremony", "import", str(proposal), *signatures)


def test_checkpoints_are_cosigned_and_a_client_requires_the_roots_witnesses(
    tmp_path: Path,
) -> None:
    port = free_port()
    server = start(
        tmp_path / "index",
        witnesses=f"http://127.0.0.1:{port}",
        witness_timeout="5",
        witness_retry="1",
    )
    try:
        root_v1 = tmp_path / "1.root.json"
        root_v1.write_bytes(first_root(server))
        policy = policy_of(json.loads(root_v1.read_bytes())["signed"])
        assert policy is not None
        token = server.new_user("alice")
        with serving_witness(tmp_path, "w.test", policy.log.vkey(), port) as running:
            _add_witness(server, running.vkey, tmp_path)
            first = upload_and_wait(server, tmp_path, token, "promise-cosigned")
            served = httpx.get(f"{server.url}tlog/checkpoint").content
            witness = notes.parse_vkey(running.vkey)
            _, verified = checkpoints.open_checkpoint(served, [policy.log, witness], policy.origin)
            assert [v.verifier.name for v in verified] == [policy.origin, "w.test"]
            metadata = _client(root_v1, tmp_path / "client")
            got = _conformance(metadata, server.url, first, tmp_path / "one")
            assert got.returncode == 0, got.stdout + got.stderr
        # The witness is gone: the next checkpoint has no cosignature, and a client pinned
        # to the root (which asks for one) refuses the file only that checkpoint covers.
        second = upload_and_wait(server, tmp_path, token, "promise-uncosigned")
        refused = _conformance(metadata, server.url, second, tmp_path / "two")
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert "cosign" in refused.stderr, refused.stderr
        again = _conformance(metadata, server.url, first, tmp_path / "again")
        assert again.returncode == 0, again.stdout + again.stderr
        # The witness back, the index offers it the same checkpoint again (no new upload
        # needed), and the file it covers installs.
        with serving_witness(tmp_path, "w.test", policy.log.vkey(), port):

            def cosigned() -> bool:
                note = httpx.get(f"{server.url}tlog/checkpoint").content
                return len(notes.parse_note(note).signatures) == 2  # the log's, the witness's

            wait_until(cosigned, "the checkpoint was not offered to the witness again", timeout=30)
        later = _conformance(metadata, server.url, second, tmp_path / "later")
        assert later.returncode == 0, later.stdout + later.stderr
    finally:
        server.stop()
