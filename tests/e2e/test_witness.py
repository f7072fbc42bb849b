"""A real ``tufpi witness serve`` on 127.0.0.1, driven by the index's submission client
(``tufpi.transparency.Witnesses``) with checkpoints of a log built here: successive
checkpoints cosigned (a client that knows nothing learns the witness's size from its 409),
a fork the log validly signed refused with the witness's state unchanged on disk, an
oversized request refused, concurrent requests from one old size advancing the state once,
and a witness that is down or silent costing its cosignature only, in bounded time."""

from __future__ import annotations

import base64
import concurrent.futures
import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import ClassVar

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.support.server import free_port
from tests.support.witness import RunningWitness, make_witness_key, serving_witness, witness_cli
from tufpi.tlog import checkpoints, hashing, notes
from tufpi.tlog.checkpoints import Checkpoint
from tufpi.tlog.witness import AddCheckpoint
from tufpi.transparency import Witnesses

ORIGIN = "index.example/tlog"
LOG_KEY = Ed25519PrivateKey.generate()
LOG = notes.verifier_for(ORIGIN, LOG_KEY, notes.ED25519)
NAME = "witness.example/w1"


class Log:
    """A log's leaves, and its checkpoints signed by the log key."""

    def __init__(self, leaves: list[bytes]) -> None:
        self.leaves = leaves
        self.asked: list[tuple[int, int]] = []

    def checkpoint(self, size: int) -> tuple[bytes, Checkpoint]:
        checkpoint = Checkpoint(ORIGIN, size, hashing.root_hash(self.leaves[:size]))
        text = checkpoint.text()
        return notes.Note(text, (notes.sign(text, ORIGIN, LOG_KEY),)).encode(), checkpoint

    def consistency(self, old: int, new: int) -> list[bytes]:
        self.asked.append((old, new))
        return hashing.consistency_proof(old, self.leaves[:new])


def request(old: int, proof: list[bytes], note: bytes) -> bytes:
    return AddCheckpoint(old, tuple(proof), note).encode()


LEAVES = [hashing.leaf_hash(f"entry {n}".encode()) for n in range(64)]


class WitnessServer:
    def __init__(self, running: RunningWitness) -> None:
        self.url = running.url
        self.verifier = notes.parse_vkey(running.vkey)
        self.state = running.state
        self.process = running.process

    def client(self, timeout: float = 5) -> Witnesses:
        return Witnesses([self.url], lambda: [self.verifier], timeout)

    def held(self) -> dict[str, object]:
        logs: dict[str, object] = json.loads(self.state.read_text())["logs"]
        return logs


@pytest.fixture(scope="module")
def witness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WitnessServer]:
    base = tmp_path_factory.mktemp("witness")
    key = base / "witness.key"
    vkey = make_witness_key(base, NAME)
    assert vkey.startswith(f"{NAME}+")
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    again = witness_cli("witness", "init", "--name", NAME, "--key", str(key))
    assert again.returncode != 0
    assert "exists already" in again.stderr
    with serving_witness(base, NAME, LOG.vkey()) as running:
        assert running.vkey == vkey
        yield WitnessServer(running)


def test_successive_checkpoints_are_cosigned(witness: WitnessServer) -> None:
    log = Log(LEAVES)
    client = witness.client()
    for size in (10, 25):
        note, checkpoint = log.checkpoint(size)
        cosignatures = client.cosign(note, checkpoint, log.consistency)
        assert len(cosignatures) == 1
        # The log's note with the witness's line appended verifies under both keys.
        served = note + "".join(s.line() for s in cosignatures).encode()
        _, verified = checkpoints.open_checkpoint(served, [LOG, witness.verifier], ORIGIN)
        assert {v.verifier.name for v in verified} == {ORIGIN, NAME}
        assert witness.held()[ORIGIN] == {
            "size": size,
            "root_hash": base64.b64encode(checkpoint.root_hash).decode(),
        }
    assert log.asked == [(10, 25)]  # it remembered the witness's size 10

    # A client that knows nothing of the witness sends old 0, is told 409 "25", retries.
    fresh, log = witness.client(), Log(LEAVES)
    note, checkpoint = log.checkpoint(30)
    assert len(fresh.cosign(note, checkpoint, log.consistency)) == 1
    assert log.asked == [(25, 30)]
    assert witness.held()[ORIGIN]["size"] == 30  # type: ignore[index]


def test_a_fork_is_refused_and_the_state_is_unchanged(witness: WitnessServer) -> None:
    log = Log(LEAVES)
    note, checkpoint = log.checkpoint(40)
    assert len(witness.client().cosign(note, checkpoint, log.consistency)) == 1
    before = witness.state.read_bytes()

    forked = Log([*LEAVES[:7], hashing.leaf_hash(b"a file nobody else sees"), *LEAVES[8:]])
    for size in (40, 50):  # the same size (409), and a larger tree (its proof fails: 422)
        note, checkpoint = forked.checkpoint(size)
        # The log signed it: a check of the log's signature alone accepts the fork.
        checkpoints.open_checkpoint(note, [LOG], ORIGIN)
        assert witness.client().cosign(note, checkpoint, forked.consistency) == []
        assert witness.state.read_bytes() == before

    same = forked.checkpoint(40)[0]
    answer = httpx.post(f"{witness.url}/add-checkpoint", content=b"old 40\n\n" + same)
    assert (answer.status_code, answer.text) == (409, "40\n")
    assert answer.headers["content-type"] == "text/x.tlog.size"
    body = request(40, forked.consistency(40, 50), forked.checkpoint(50)[0])
    answer = httpx.post(f"{witness.url}/add-checkpoint", content=body)
    assert answer.status_code == 422
    assert "does not verify" in answer.text
    # A rollback to a smaller tree the log signed: refused too.
    old = Log(LEAVES).checkpoint(20)[0]
    answer = httpx.post(f"{witness.url}/add-checkpoint", content=b"old 40\n\n" + old)
    assert answer.status_code == 400
    assert witness.state.read_bytes() == before


def test_bounds_and_one_advance_from_one_old_size(witness: WitnessServer) -> None:
    huge = b"old 0\n\n" + b"x" * (200 * 1024)
    answer = httpx.post(f"{witness.url}/add-checkpoint", content=huge)
    assert answer.status_code == 413
    assert "over" in answer.text

    log = Log(LEAVES)
    size = json.loads(witness.state.read_text())["logs"][ORIGIN]["size"]
    bodies = []
    for new in range(size + 1, size + 9):
        bodies.append(request(size, log.consistency(size, new), log.checkpoint(new)[0]))

    def post(body: bytes) -> int:
        return httpx.post(f"{witness.url}/add-checkpoint", content=body).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(post, bodies))
    assert sorted(statuses) == [200] + [409] * 7


def test_a_witness_down_or_silent_costs_its_cosignature_only(witness: WitnessServer) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # connections are queued, never answered
    down = f"http://127.0.0.1:{free_port()}"
    urls = [down, f"http://127.0.0.1:{silent.getsockname()[1]}", witness.url]
    client = Witnesses(urls, lambda: [witness.verifier], timeout=1.0)
    log = Log(LEAVES)
    held = json.loads(witness.state.read_text())["logs"][ORIGIN]["size"]
    note, checkpoint = log.checkpoint(held + 10)
    started = time.monotonic()
    try:
        cosignatures = client.cosign(note, checkpoint, log.consistency)
    finally:
        silent.close()
    assert time.monotonic() - started < 3
    assert [s.name for s in cosignatures] == [NAME]
    # None of the root's witnesses answers: no cosignature, no exception.
    alone = Witnesses([down], lambda: [witness.verifier], timeout=1.0)
    assert alone.cosign(note, checkpoint, log.consistency) == []


class _Hostile(http.server.BaseHTTPRequestHandler):
    """A witness that lies in every way a client must survive, one per path prefix."""

    posts: ClassVar[list[str]] = []
    text: ClassVar[str] = ""
    impostor: ClassVar[Ed25519PrivateKey] = Ed25519PrivateKey.generate()

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        self.posts.append(self.path)
        kind = self.path.split("/")[1]
        if kind == "always-409":  # claims a size it will never accept
            self._answer(409, b"3\n", "text/x.tlog.size")
        elif kind == "huge":
            self._answer(200, b"\xe2\x80\x94 w " + b"A" * (1024 * 1024) + b"\n")
        elif kind == "garbage":
            self._answer(200, b"<html>cosigned!</html>\n")
        elif kind == "forged":  # the trusted witness's name, another key; and a bad line
            forged = notes.cosign(self.text, NAME, self.impostor, 1)
            self._answer(200, forged.line().encode())
        else:
            self._answer(500, b"\x00\x1b[31m" + b"x" * 1000)


def test_a_hostile_witness_costs_its_cosignature_only(witness: WitnessServer) -> None:
    log = Log(LEAVES)
    held = json.loads(witness.state.read_text())["logs"][ORIGIN]["size"]
    note, checkpoint = log.checkpoint(held + 1)
    _Hostile.text = checkpoint.text()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    kinds = ["always-409", "huge", "garbage", "forged", "error"]
    try:
        client = Witnesses([f"{base}/{k}" for k in kinds], lambda: [witness.verifier], 2.0)
        assert client.cosign(note, checkpoint, log.consistency) == []
        assert sorted(_Hostile.posts) == sorted(
            [f"/{k}/add-checkpoint" for k in kinds] + ["/always-409/add-checkpoint"]
        )  # one retry after a 409, no more
        # The honest witness among them still counts.
        client = Witnesses([f"{base}/forged", witness.url], lambda: [witness.verifier], 2.0)
        assert [s.name for s in client.cosign(note, checkpoint, log.consistency)] == [NAME]
    finally:
        server.shutdown()
        server.server_close()
