"""The one test that reaches the internet (marker ``network``; ``-m "not network"`` leaves it
out): a tufpi whose upstream is the real PyPI, a small real application uploaded to it with
twine, and ``tufpi install``, pinned to the index's first root, installing the application
and its public dependency tree (httpx: 7 or so pure-Python wheels) into a fresh virtual
environment. Every installed distribution came through tufpi: its sha256 is a target of the
index's signed metadata, the file is held in tufpi's storage, and the installed files are
the bytes of that very wheel (not of a copy pip found elsewhere on this machine).

Skipped, saying why, when pypi.org or its file host does not answer within a few seconds.
Every wait is bounded: the probe, tufpi's upstream reads, the proxy's downloads, the install.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from packaging.utils import canonicalize_name

from tests.support.clients import clean_env
from tests.support.proxy import publish
from tests.support.server import IndexServer, start
from tests.support.state import query
from tests.support.tuf_client import updater
from tests.support.waiting import wait_until
from tufpi.http import bound_transports, deadline_at

pytestmark = pytest.mark.network

PYPI = "https://pypi.org/simple/"
FILE_HOST = "https://files.pythonhosted.org/"
# How long pypi.org and its file host have to answer the probe, in all.
PROBE_SECONDS = 3.0
# The whole install's bound (it takes 10-30 s on a good link), and each download's.
INSTALL_SECONDS = 180
DOWNLOAD_SECONDS = 60
APP = "tufpi-net-demo-app"
# A pinned, pure-Python public dependency (httpx, httpcore, h11, anyio, idna, certifi, ...).
DEPENDENCY = "httpx==0.28.1"
EXPECTED = {"httpx", "httpcore", "h11", "anyio", "idna", "certifi", canonicalize_name(APP)}


def unreachable() -> str | None:
    """Why PyPI cannot be used now (None: it can): a HEAD to its simple API and to its file
    host, both answered within ``PROBE_SECONDS`` in all (one deadline under httpx, so a
    trickling or silent network cannot stretch it)."""
    deadline = time.monotonic() + PROBE_SECONDS
    with httpx.Client(timeout=PROBE_SECONDS) as client:
        bound_transports(client)
        for url in (PYPI + "httpx/", FILE_HOST):
            try:
                with deadline_at(deadline):
                    response = client.head(url)
            except httpx.HTTPError as e:
                return f"{url}: no answer within {PROBE_SECONDS:g} s ({type(e).__name__}: {e})"
            if response.status_code >= 500:
                return f"{url} answered {response.status_code}"
    return None


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexServer]:
    """A tufpi mirroring PyPI, its upstream reads bounded (a page 20 s, a file 60 s). On
    SQLite only: the mirror's PostgreSQL runs are in test_upstream_mirror.py, against a local
    upstream."""
    why = unreachable()
    if why is not None:
        pytest.skip(f"needs the internet (pypi.org): {why}")
    server = start(
        tmp_path_factory.mktemp("pypi-mirror"),
        upstream=PYPI,
        upstream_page_timeout="20",
        upstream_file_timeout="60",
    )
    try:
        yield server
    finally:
        server.stop()


def _install(index: IndexServer, work: Path, root: Path, venv: Path, report: Path) -> None:
    """``tufpi install`` of the application with pip into ``venv``, pinned to ``root``;
    pip's installation report in ``report``. Fails the test, with the output, if it fails
    or takes longer than ``INSTALL_SECONDS``."""
    command = [
        sys.executable,
        "-m",
        "tufpi.cli",
        "install",
        "--index",
        index.url,
        "--root",
        str(root),
        "--cache-dir",
        str(work / "tufpi-cache"),
        "--installer",
        "pip",
        "--python",
        str(venv),
        "--download-timeout",
        str(DOWNLOAD_SECONDS),
        "--",
        "--no-cache-dir",
        "--report",
        str(report),
        APP,
    ]
    # No pip cache or configuration of this machine's (clean_env: no PIP_*, no pip.conf).
    env = clean_env(XDG_CACHE_HOME=str(work / "xdg-cache"))
    try:
        result = subprocess.run(
            command, check=False, capture_output=True, text=True, env=env, timeout=INSTALL_SECONDS
        )
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"tufpi install did not finish in {INSTALL_SECONDS} s: {e.stdout!r}")
    assert result.returncode == 0, result.stdout + result.stderr


def _installed(venv: Path) -> dict[str, str]:
    """The distributions in ``venv``'s site-packages: canonical name -> version."""
    found = {}
    for info in venv.glob("lib/python*/site-packages/*.dist-info"):
        name, _, version = info.name.removesuffix(".dist-info").rpartition("-")
        found[canonicalize_name(name)] = version
    return found


def _signed_and_held(index: IndexServer, work: Path, key: str, sha256: str, size: int) -> None:
    """The index's signed metadata lists ``key`` with ``sha256`` and ``size``, and, the file
    being held now, its sha512 too (a mirrored file's target gains it once tufpi holds it)."""
    data = (index.data_dir / "files" / key).read_bytes()
    assert (hashlib.sha256(data).hexdigest(), len(data)) == (sha256, size)
    sha512 = hashlib.sha512(data).hexdigest()

    def listed_held() -> bool:
        client = updater(index, work, f"check-{time.monotonic_ns()}")
        client.refresh()
        info = client.get_targetinfo(key)
        assert info is not None, f"{key} is not a target of the signed metadata"
        assert (info.hashes["sha256"], info.length) == (sha256, size)
        return info.hashes.get("sha512") == sha512

    wait_until(listed_held, f"{key}'s target never gained the sha512 of the held file")


def _same_files(wheel: Path, site_packages: Path) -> int:
    """Every file of ``wheel`` (but its RECORD, which pip rewrites) is installed with the
    wheel's very bytes; how many were compared."""
    compared = 0
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.infolist():
            path = member.filename
            if member.is_dir() or path.endswith(".dist-info/RECORD") or ".data/" in path:
                continue
            installed = site_packages / path
            assert installed.read_bytes() == archive.read(member), f"{path} of {wheel.name}"
            compared += 1
    return compared


def test_a_real_application_installs_through_tufpi_with_its_pypi_dependencies_verified(
    mirror: IndexServer, tmp_path: Path
) -> None:
    root = publish(mirror, tmp_path, "net-user", [(APP, "1.0", {"dependencies": [DEPENDENCY]})])
    venv = tmp_path / "fresh"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60
    )
    report_path = tmp_path / "report.json"
    _install(mirror, tmp_path, root, venv, report_path)

    report = json.loads(report_path.read_text())["install"]
    pip_saw = {canonicalize_name(i["metadata"]["name"]): i["metadata"]["version"] for i in report}
    # Everything in the fresh environment is what this install put there, and it works.
    assert _installed(venv) == pip_saw
    assert set(pip_saw) >= EXPECTED, sorted(pip_saw)
    assert pip_saw["httpx"] == "0.28.1"
    code = "import httpx, tufpi_net_demo_app; print(httpx.__version__)"
    ran = subprocess.run(
        [venv / "bin" / "python", "-c", code], check=False, capture_output=True, timeout=60
    )
    assert ran.stdout.strip() == b"0.28.1", ran.stderr

    [site_packages] = venv.glob("lib/python*/site-packages")
    public = set()
    for item in report:
        name = canonicalize_name(item["metadata"]["name"])
        url = urlsplit(item["download_info"]["url"])
        sha256 = item["download_info"]["archive_info"]["hashes"]["sha256"]
        # From the verifying proxy, under the content address tufpi gives the file: not
        # from /opt/wheels, a file:// index or PyPI directly.
        assert (url.scheme, url.hostname) == ("http", "127.0.0.1"), item["download_info"]
        key = url.path[url.path.index("/packages/") + 1 :]
        filename = key.rpartition("/")[2]
        assert key == f"packages/{sha256[:2]}/{sha256[2:4]}/{sha256[4:]}/{filename}"
        stored = mirror.data_dir / "files" / key
        assert stored.is_file(), f"{filename} is not in tufpi's storage"
        _signed_and_held(mirror, tmp_path, key, sha256, stored.stat().st_size)
        assert _same_files(stored, site_packages) > 0
        if name != canonicalize_name(APP):
            public.add(name)
            log = (mirror.data_dir / "serve.log").read_text(errors="replace")
            assert log.count(f"{filename}: fetching from upstream {PYPI}") == 1
    # Each public project was mirrored from PyPI, and the transaction log says so.
    actors: dict[str, set[str]] = {}
    for project, actor in query(
        mirror.database_url, "SELECT DISTINCT project, actor FROM target_changes"
    ):
        actors.setdefault(project, set()).add(actor)
    assert {n: actors[n] for n in public} == {n: {f"upstream:{PYPI}"} for n in public}
    assert f"upstream:{PYPI}" not in actors[canonicalize_name(APP)]
    # And the pages they were resolved from are signed targets too.
    client = updater(mirror, tmp_path, "pages")
    client.refresh()
    for name in public:
        for page in ("index.json", "index.html"):
            assert client.get_targetinfo(f"simple/{name}/{page}") is not None, (name, page)
