"""python-tuf's ngclient pointed at a running index, bootstrapped with its first root."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from tuf.api.metadata import TargetFile
from tuf.ngclient import Updater

from tests.support import clients
from tests.support.dists import make_dists
from tests.support.server import IndexServer
from tests.support.waiting import wait_until


def first_root(server: IndexServer) -> bytes:
    """The initial root, read out of band (from the server's storage, not over HTTP)."""
    return (server.data_dir / "files" / "tuf" / "1.root.json").read_bytes()


def updater(server: IndexServer, workdir: Path, name: str = "client") -> Updater:
    """A fresh ngclient Updater with its own metadata and target directories."""
    metadata_dir = workdir / name / "metadata"
    target_dir = workdir / name / "targets"
    metadata_dir.mkdir(parents=True, exist_ok=True)
    target_dir.mkdir(parents=True, exist_ok=True)
    return Updater(
        metadata_dir=str(metadata_dir),
        metadata_base_url=server.url + "tuf/",
        target_base_url=server.url,
        target_dir=str(target_dir),
        bootstrap=first_root(server),
    )


def wait_for_target(
    server: IndexServer, workdir: Path, path: str, sha256: str | None = None, timeout: float = 20
) -> TargetFile:
    """Refresh until the signed metadata lists ``path`` (with ``sha256`` if given)."""

    def listed() -> TargetFile | None:
        client = updater(server, workdir, f"wait-{time.monotonic_ns()}")
        client.refresh()
        info = client.get_targetinfo(path)
        if info is not None and (sha256 is None or info.hashes.get("sha256") == sha256):
            return info
        return None

    return wait_until(listed, f"{path} not published within {timeout} s", timeout=timeout)


def upload_and_wait(
    server: IndexServer, workdir: Path, token: str, project: str, version: str = "1.0"
) -> str:
    """twine uploads ``project`` ``version`` (an sdist and a wheel) with ``token``; the
    wheel's target path, once the signed metadata lists it (published means logged: the
    sequencer runs before the snapshot that lists the file)."""
    dists = make_dists(workdir, project, version)
    result = clients.twine_upload(server.url, token, dists)
    assert result.returncode == 0, result.stdout + result.stderr
    wheel = next(d for d in dists if d.suffix == ".whl")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    path = f"packages/{digest[:2]}/{digest[2:4]}/{digest[4:]}/{wheel.name}"
    wait_for_target(server, workdir, path, digest)
    return path


def wait_for_absence(server: IndexServer, workdir: Path, path: str, timeout: float = 20) -> None:
    """Refresh until the signed metadata no longer lists ``path``."""

    def gone() -> bool:
        client = updater(server, workdir, f"gone-{time.monotonic_ns()}")
        client.refresh()
        return client.get_targetinfo(path) is None

    wait_until(gone, f"{path} still listed after {timeout} s", timeout=timeout)
