"""What the database benchmarks share: running the tufpi CLI, throwaway PostgreSQL
databases (and where to find the server), and a description of the machine a run was made
on."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine, text

import tufpi

# Where a benchmark finds a PostgreSQL server when no --postgres-url is given, in order.
ADMIN_URL_ENVS = ("TUFPI_BENCH_POSTGRES_URL", "TUFPI_TEST_POSTGRES_URL")


def default_postgres_url() -> str | None:
    """The admin URL from ``$TUFPI_BENCH_POSTGRES_URL``, else ``$TUFPI_TEST_POSTGRES_URL``."""
    return next(filter(None, map(os.environ.get, ADMIN_URL_ENVS)), None)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tree_env(tree: Path, data: Path, keys: Path, bins: int, port: int) -> dict[str, str]:
    """The environment for ``tufpi`` run from the source tree ``tree`` on a SQLite repository
    in ``data``: this process's environment, less its ``TUFPI_*`` variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUFPI_")}
    return {
        **env,
        "PYTHONPATH": str(tree / "src"),
        "TUFPI_DATA_DIR": str(data),
        "TUFPI_KEYS_DIR": str(keys),
        "TUFPI_BINS": str(bins),
        "TUFPI_PORT": str(port),
    }


def run_tufpi(env: dict[str, str], *args: str) -> str:
    """``tufpi ARGS`` with ``env``; its standard output. Raises if it fails."""
    result = subprocess.run(
        [sys.executable, "-m", "tufpi.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"tufpi {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


@contextlib.contextmanager
def postgres_databases(admin_url: str, count: int) -> Iterator[list[str]]:
    """``count`` fresh databases on the server of ``admin_url``; dropped afterwards."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    names = [f"tufpi_bench_{uuid.uuid4().hex[:12]}" for _ in range(count)]
    base = admin_url.rpartition("/")[0]
    try:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield [f"{base}/{name}" for name in names]
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A fresh database on the server of ``admin_url``; dropped afterwards."""
    with postgres_databases(admin_url, 1) as urls:
        yield urls[0]


def machine() -> dict[str, str]:
    """The machine, the code measured (its directory and git commit) and the load now."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next(
        (ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines() if ln.startswith("model name")),
        platform.processor(),
    )
    meminfo = Path("/proc/meminfo").read_text().split()
    ram_gib = int(meminfo[meminfo.index("MemTotal:") + 1]) / 1024**2
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=Path(__file__).parent,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "ram": f"{ram_gib:.1f} GiB",
        "python": platform.python_version(),
        "tufpi": str(Path(tufpi.__file__).parent),
        "commit": commit,
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
