"""Start a real ``tufpi serve`` on 127.0.0.1 for end-to-end tests, on SQLite or PostgreSQL."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import select
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.support.clients import clean_env
from tests.support.waiting import wait_until

POSTGRES_ENV = "TUFPI_TEST_POSTGRES_URL"
# IndexServer.cli_each's interpreter: each command through click as `tufpi` runs it, its
# standard output captured; the first failure ends the run with its message and exit code.
_EACH = """
import contextlib, io, json, sys
import click
from tufpi.cli import main
outputs = []
for args in json.loads(sys.argv[1]):
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            code = main.main(args, prog_name="tufpi", standalone_mode=False)
    except click.ClickException as e:
        e.show()
        code = e.exit_code
    if isinstance(code, int) and code != 0:
        sys.exit(f"tufpi {' '.join(args)}: exit {code}; printed: {out.getvalue()}")
    outputs.append(out.getvalue())
print(json.dumps(outputs))
"""
REQUIRE_POSTGRES_ENV = "TUFPI_REQUIRE_POSTGRES"


def need_postgres(who: str = "PostgreSQL tests") -> None:
    """Skip the calling test when no PostgreSQL is configured; fail it when CI requires one."""
    if POSTGRES_ENV not in os.environ:
        if os.environ.get(REQUIRE_POSTGRES_ENV) == "1":
            pytest.fail(f"{POSTGRES_ENV} is not set but PostgreSQL is required")
        pytest.skip(f"{who} need {POSTGRES_ENV}")


# Test servers listen below the kernel's ephemeral range (32768 and up on Linux), so that no
# outgoing connection's source port takes a port between free_port() and the server's bind.
# Each pytest-xdist worker (PYTEST_XDIST_WORKER=gw0, gw1, ...) has a band of its own, and
# hands its ports out in turn: two workers, or two servers of one test, never get one port.
PORT_BASE = 20000
PORT_BAND = 1000
PORT_BANDS = 12
_next_ports: Iterator[int] | None = None


def _worker_band() -> int:
    """0 without pytest-xdist, 1 + N for worker gwN (wrapping after PORT_BANDS bands)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return 0
    return (1 + int(worker[2:])) % PORT_BANDS


def _ports() -> Iterator[int]:
    """This worker's ports in turn, from a start drawn from its process id (two test runs
    at once on one machine rarely meet), wrapping around its band."""
    low = PORT_BASE + _worker_band() * PORT_BAND
    start = os.getpid() % PORT_BAND
    while True:
        for offset in range(PORT_BAND):
            yield low + (start + offset) % PORT_BAND


def free_port() -> int:
    """A port on 127.0.0.1 that no one listens on, from this worker's band of ports."""
    global _next_ports  # noqa: PLW0603
    if _next_ports is None:
        _next_ports = _ports()
    for _ in range(PORT_BAND):
        port = next(_next_ports)
        with socket.socket() as s, contextlib.suppress(OSError):
            s.bind(("127.0.0.1", port))
            return port
    raise RuntimeError(f"no free port in band {_worker_band()}")


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one server; dropped afterwards."""
    admin_url = os.environ[POSTGRES_ENV]
    name = f"tufpi_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base, _, _ = admin_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclasses.dataclass
class IndexServer:
    """A running index and the settings its CLI shares."""

    url: str
    data_dir: Path
    database_url: str
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None

    @property
    def simple(self) -> str:
        return self.url + "simple/"

    def cli(self, *args: str, check: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
        """Run ``tufpi ARGS`` against this index's database and data directory (``env``:
        more environment variables, such as ``TUFPI_ONLINE_KEY``)."""
        result = subprocess.run(
            [sys.executable, "-m", "tufpi.cli", *args],
            check=False,
            capture_output=True,
            text=True,
            env={**self.env, **env},
            timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"tufpi {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
        return result

    def new_user(self, name: str, project: str | None = None) -> str:
        """Create a user and return an API token for them (``tufpi user add`` and ``tufpi
        token create``, run by one interpreter: ``cli_each``)."""
        extra = ["--project", project] if project else []
        outputs = self.cli_each(
            ["user", "add", name, "--no-password"], ["token", "create", "--user", name, *extra]
        )
        return outputs[-1].strip()

    def cli_each(self, *commands: Sequence[str]) -> list[str]:
        """Run ``tufpi`` commands one after the other in ONE process (a tufpi process costs
        about half a second of CPU to start); each one's standard output, in order.
        AssertionError, with what was printed, at the first that fails."""
        result = subprocess.run(
            [sys.executable, "-c", _EACH, json.dumps([list(c) for c in commands])],
            check=False,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
        )
        if result.returncode != 0:
            raise AssertionError(f"tufpi {commands} failed:\n{result.stdout}{result.stderr}")
        outputs: list[str] = json.loads(result.stdout)
        return outputs

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
            self.process = None


def wait_until_serving(
    process: subprocess.Popen[bytes],
    url: str,
    what: str,
    timeout: float = 30,
    log: Path | None = None,
) -> None:
    """Poll ``url`` until it answers 200; RuntimeError if ``process`` exits first,
    AssertionError if time runs out (either followed by ``log``'s text, if given)."""

    def logged() -> str:
        return f":\n{log.read_text(errors='replace')}" if log is not None else ""

    def answers() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited {process.returncode}{logged()}")
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(url, timeout=1).status_code == 200
        return False

    wait_until(answers, lambda: f"{what} did not start in {timeout} s{logged()}", timeout=timeout)


def start(
    data_dir: Path,
    database_url: str | None = None,
    *,
    extra_env: Mapping[str, str] | None = None,
    serve_args: Sequence[str] = (),
    log_name: str = "serve.log",
    command_prefix: Sequence[str] = (),
    **settings: str,
) -> IndexServer:
    """Start ``tufpi serve`` and wait until it answers.

    ``settings`` become ``TUFPI_*`` variables; ``extra_env`` is added as it is (for example
    what a PKCS#11 module needs) to the environment of the CLI and the server.
    ``serve_args`` are added to the command line (``--no-signer``); started again on the same
    ``data_dir`` and database (with its own ``log_name``), it is another web node of the
    same index. ``command_prefix`` goes before the server's command (``prlimit ... --``).
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    db_url = database_url or f"sqlite:///{data_dir / 'tufpi.sqlite3'}"
    defaults = {"bins": "64", "publish_interval": "0.1", "keys_dir": str(data_dir / "keys")}
    env = clean_env(
        TUFPI_DATA_DIR=str(data_dir),
        TUFPI_DATABASE_URL=db_url,
        TUFPI_PORT=str(port),
        **{f"TUFPI_{k.upper()}": v for k, v in {**defaults, **settings}.items()},
        **(extra_env or {}),
    )
    server = IndexServer(f"http://127.0.0.1:{port}/", data_dir, db_url, env)
    if (data_dir / "files" / "tuf" / "timestamp.json").exists():
        server.cli("db", "upgrade")
    else:
        server.cli("trust", "init")  # which migrates the database first
    log = (data_dir / log_name).open("ab")
    server.process = subprocess.Popen(
        [
            *command_prefix,
            sys.executable,
            "-m",
            "tufpi.cli",
            "serve",
            "--log-level",
            "info",
            *serve_args,
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until_serving(server.process, server.url, "tufpi serve", log=data_dir / log_name)
    except BaseException:
        server.stop()
        raise
    return server


def signer_process(
    server: IndexServer,
    *args: str,
    extra_env: Mapping[str, str] | None = None,
    log_name: str = "signer.log",
    pass_fds: Sequence[int] = (),
) -> subprocess.Popen[bytes]:
    """Start ``tufpi signer``; ``extra_env`` may, for example, move its clock (faketime);
    ``pass_fds`` are inherited (for ``--ready-fd``)."""
    log = (server.data_dir / log_name).open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "tufpi.cli", "signer", *args],
        env={**server.env, **(extra_env or {})},
        stdout=log,
        stderr=subprocess.STDOUT,
        pass_fds=pass_fds,
    )


def ready_signer(
    server: IndexServer,
    *args: str,
    extra_env: Mapping[str, str] | None = None,
    log_name: str = "signer.log",
    timeout: float = 60,
) -> subprocess.Popen[bytes]:
    """Start ``tufpi signer`` and return once its first publication is done, which it
    reports on a pipe (``--ready-fd``, as serve's child does); RuntimeError if it stands by,
    exits or takes longer than ``timeout`` seconds first."""
    read_end, write_end = os.pipe()
    try:
        process = signer_process(
            server,
            "--ready-fd",
            str(write_end),
            *args,
            extra_env=extra_env,
            log_name=log_name,
            pass_fds=(write_end,),
        )
    finally:
        os.close(write_end)
    try:
        readable, _, _ = select.select([read_end], [], [], timeout)
        report = os.read(read_end, 16) if readable else b""
    finally:
        os.close(read_end)
    if report != b"r":
        process.kill()
        process.wait()
        log = (server.data_dir / log_name).read_text()
        raise RuntimeError(f"tufpi signer did not publish (it reported {report!r}):\n{log}")
    return process


_CHILD_STARTED = re.compile(r"signer: started child process (\d+)")


def signer_children(server: IndexServer, log_name: str = "serve.log") -> list[int]:
    """The process ids of the signer children ``serve`` started, from its log, in order."""
    return [int(pid) for pid in _CHILD_STARTED.findall((server.data_dir / log_name).read_text())]


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, dead but not reaped, counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"
