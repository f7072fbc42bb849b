"""Run ``tufpi proxy`` and ``tufpi install`` as a user would."""

from __future__ import annotations

import contextlib
import hashlib
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import httpx

from tests.support.clients import clean_env, run, twine_upload
from tests.support.dists import make_dists
from tests.support.server import IndexServer, free_port, wait_until_serving
from tests.support.tuf_client import first_root, wait_for_target


@contextlib.contextmanager
def proxy(
    index_url: str,
    cache_dir: Path,
    *trust: str,
    log: Path | None = None,
    port: int | None = None,
    refresh_interval: str = "0.5",
    **env: str,
) -> Iterator[str]:
    """A running ``tufpi proxy`` for ``index_url`` (on ``port``, else a free one); yields
    its simple URL. ``env``: more environment variables (``TUFPI_INDEX_TOKEN``)."""
    port = port or free_port()
    cache_dir.mkdir(parents=True, exist_ok=True)
    out = (log or cache_dir / "proxy.log").open("ab")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tufpi.cli",
            "proxy",
            "--index",
            index_url,
            *trust,
            "--cache-dir",
            str(cache_dir),
            "--listen",
            f"127.0.0.1:{port}",
            "--refresh-interval",
            refresh_interval,
        ],
        env=clean_env(**env),
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_serving(process, url, "tufpi proxy")
        yield url + "simple/"
    finally:
        process.terminate()
        process.wait(timeout=20)


def tufpi_install(
    index_url: str,
    cache_dir: Path,
    trust: list[str],
    *args: str,
    installer: str = "pip",
    python: str = sys.executable,
    **env: str,
) -> subprocess.CompletedProcess[str]:
    """``tufpi install`` for ``python`` (tests install with ``--target``, for which the
    interpreter only chooses the tags)."""
    return run(
        [
            sys.executable,
            "-m",
            "tufpi.cli",
            "install",
            "--index",
            index_url,
            *trust,
            "--cache-dir",
            str(cache_dir),
            "--installer",
            installer,
            "--python",
            python,
            "--",
            *args,
        ],
        **env,
    )


def verified_install(index: IndexServer, work: Path, *requirements: str) -> set[str]:
    """``tufpi install`` of ``requirements`` from ``index`` into ``work/verified``, pinned to
    the index's first root (given as a file), with a cache in ``work/cache``: the names of
    the ``.dist-info`` directories installed. AssertionError, with the output, if it fails."""
    root = work / "1.root.json"
    root.write_bytes(first_root(index))
    target = work / "verified"
    result = tufpi_install(
        index.url, work / "cache", ["--root", str(root)], "--target", str(target), *requirements
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return {p.name for p in target.glob("*.dist-info")}


def publish(
    index: IndexServer,
    workdir: Path,
    user: str,
    releases: Sequence[tuple[str, str, Mapping[str, object]]],
) -> Path:
    """Build each release (name, version, ``make_dists`` keyword arguments), upload it with
    twine as a new ``user``, and wait until the signed metadata lists each project's page as
    it is now; the index's first root, written to ``workdir/1.root.json``."""
    token = index.new_user(user)
    for name, version, options in releases:
        dists = make_dists(workdir, name, version, **options)
        result = twine_upload(index.url, token, dists)
        assert result.returncode == 0, result.stdout + result.stderr
    for name in dict.fromkeys(name for name, _, _ in releases):
        page = httpx.get(f"{index.simple}{name}/").content
        sha256 = hashlib.sha256(page).hexdigest()
        wait_for_target(index, workdir, f"simple/{name}/index.html", sha256)
    root = workdir / "1.root.json"
    root.write_bytes(first_root(index))
    return root
