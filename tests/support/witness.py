"""A real ``tufpi witness serve`` on 127.0.0.1 for tests: its key made with ``tufpi witness
init``, the server started in the background (its output in ``witness.log``), ready once it
answers, stopped at the end."""

from __future__ import annotations

import contextlib
import dataclasses
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.support.clients import clean_env, run
from tests.support.server import free_port
from tests.support.waiting import wait_until


@dataclasses.dataclass(frozen=True)
class RunningWitness:
    """A started witness: its URL prefix, its vkey, its state file and its process."""

    url: str
    vkey: str
    state: Path
    process: subprocess.Popen[bytes]

    @property
    def add_checkpoint(self) -> str:
        """The URL a log submits its checkpoints to (C2SP tlog-witness)."""
        return f"{self.url}/add-checkpoint"


def witness_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``tufpi <args>`` in a clean environment, its output captured."""
    return run([sys.executable, "-m", "tufpi.cli", *args])


def make_witness_key(directory: Path, name: str) -> str:
    """``tufpi witness init`` of ``directory/witness.key`` named ``name``; the vkey it
    printed (also kept in ``directory/witness.vkey``)."""
    made = witness_cli("witness", "init", "--name", name, "--key", str(directory / "witness.key"))
    assert made.returncode == 0, made.stderr
    vkey = made.stdout.strip()
    (directory / "witness.vkey").write_text(vkey)
    return vkey


@contextlib.contextmanager
def serving_witness(
    directory: Path, name: str, log_vkey: str, port: int | None = None
) -> Iterator[RunningWitness]:
    """``tufpi witness serve`` in ``directory`` (its key made first unless there is one),
    following the log of ``log_vkey``, on ``port`` (a free one if None)."""
    vkey_file = directory / "witness.vkey"
    vkey = vkey_file.read_text() if vkey_file.exists() else make_witness_key(directory, name)
    port = port or free_port()
    state = directory / "witness.json"
    args = [
        "--key", str(directory / "witness.key"), "--state", str(state),
        "--log", log_vkey, "--port", str(port),
    ]  # fmt: skip
    with (directory / "witness.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "tufpi.cli", "witness", "serve", *args],
            env=clean_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    running = RunningWitness(f"http://127.0.0.1:{port}", vkey, state, process)

    def answers() -> bool:
        if process.poll() is not None:
            raise RuntimeError((directory / "witness.log").read_text())
        try:
            return httpx.post(running.add_checkpoint, content=b"", timeout=1).status_code == 400
        except httpx.HTTPError:
            return False

    try:
        wait_until(answers, "tufpi witness serve did not start", timeout=30)
        yield running
    finally:
        process.terminate()
        process.wait(timeout=10)
