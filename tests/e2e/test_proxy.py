"""Unmodified pip and uv install through ``tufpi proxy``, which verifies with ngclient."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support import clients
from tests.support.clients import clean_env
from tests.support.dists import make_dists
from tests.support.proxy import proxy, publish, tufpi_install
from tests.support.rotation import rotate_root
from tests.support.server import IndexServer
from tests.support.tuf_client import first_root


@pytest.fixture(scope="module")
def published(index_server: IndexServer, workdir: Path) -> Path:
    """A library, an app depending on it (sdist and wheel each), all published; returns the
    trusted root file."""
    releases = (
        ("px-lib", "1.0", {}),
        ("px-lib", "2.0", {}),
        ("px-app", "0.1", {"dependencies": ["px-lib>=1.0"]}),
    )
    return publish(index_server, workdir, "proxy-user", releases)


def _installed(target: Path) -> set[str]:
    return {p.name for p in target.glob("*.dist-info")}


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_installers_through_the_proxy(
    index_server: IndexServer, published: Path, tmp_path: Path, installer: str
) -> None:
    with proxy(index_server.url, tmp_path / "cache", "--root", str(published)) as simple:
        install = clients.pip_install if installer == "pip" else clients.uv_pip_install
        result = install(simple, tmp_path / "wheels", "px-app")
        assert result.returncode == 0, result.stdout + result.stderr
        assert _installed(tmp_path / "wheels") == {"px_app-0.1.dist-info", "px_lib-2.0.dist-info"}
        # An sdist, built by the installer from verified bytes.
        result = install(simple, tmp_path / "sdist", "--no-binary", ":all:", "px-lib==1.0")
        assert result.returncode == 0, result.stdout + result.stderr
        assert _installed(tmp_path / "sdist") == {"px_lib-1.0.dist-info"}


def test_unknown_project_is_not_listed(
    index_server: IndexServer, published: Path, tmp_path: Path
) -> None:
    with proxy(index_server.url, tmp_path / "cache", "--root", str(published)) as simple:
        response = httpx.get(simple + "no-such-project/")
        assert response.status_code == 404
        assert "not found: simple/no-such-project/ (the index has no such project)" in (
            response.text
        )


def test_tufpi_install_with_pinned_root(
    index_server: IndexServer, published: Path, tmp_path: Path
) -> None:
    fingerprint = hashlib.sha256(published.read_bytes()).hexdigest()
    assert fingerprint in index_server.cli("trust", "status").stdout
    trust = ["--root-sha256", fingerprint]
    result = tufpi_install(
        index_server.url, tmp_path / "cache", trust, "--target", str(tmp_path / "t"), "px-app"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert _installed(tmp_path / "t") == {"px_app-0.1.dist-info", "px_lib-2.0.dist-info"}
    result = tufpi_install(
        index_server.url,
        tmp_path / "cache-uv",
        trust,
        "--target",
        str(tmp_path / "u"),
        "px-lib==1.0",
        installer="uv",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert _installed(tmp_path / "u") == {"px_lib-1.0.dist-info"}


def test_wrong_root_fingerprint_is_refused(
    index_server: IndexServer, published: Path, tmp_path: Path
) -> None:
    result = tufpi_install(
        index_server.url,
        tmp_path / "cache",
        ["--root-sha256", "0" * 64],
        "--target",
        str(tmp_path / "t"),
        "px-lib",
    )
    assert result.returncode != 0
    assert "not the pinned" in result.stderr
    assert not (tmp_path / "t").exists()


def test_installer_exit_code_is_returned(
    index_server: IndexServer, published: Path, tmp_path: Path
) -> None:
    result = tufpi_install(
        index_server.url,
        tmp_path / "cache",
        ["--root", str(published)],
        "--target",
        str(tmp_path / "t"),
        "px-lib==9.9",
    )
    assert result.returncode == 1
    assert "No matching distribution" in result.stdout + result.stderr


def test_unpublished_upload_is_hidden_unless_allowed(
    unsigned_server: IndexServer, tmp_path: Path
) -> None:
    """An upload the signer has not published yet: refused with a warning, or passed through
    unverified with --allow-unpublished."""
    token = unsigned_server.new_user("pending-user")
    result = clients.twine_upload(
        unsigned_server.url, token, make_dists(tmp_path, "px-pending", "1.0")
    )
    assert result.returncode == 0, result.stderr
    root = tmp_path / "root.json"
    root.write_bytes(first_root(unsigned_server))
    trust = ["--root", str(root)]
    hidden = tufpi_install(
        unsigned_server.url,
        tmp_path / "c1",
        [*trust, "--publication-wait", "1"],
        "--target",
        str(tmp_path / "a"),
        "px-pending",
    )
    assert hidden.returncode != 0
    assert "no signed snapshot did within 1 s: its publication is pending" in (
        hidden.stdout + hidden.stderr
    )
    assert not _installed(tmp_path / "a")
    allowed = tufpi_install(
        unsigned_server.url,
        tmp_path / "c2",
        [*trust, "--allow-unpublished"],
        "--target",
        str(tmp_path / "b"),
        "px-pending",
    )
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert "UNVERIFIED" in allowed.stderr
    # The warning names each file let through.
    assert "passed through: 'px_pending-1.0-py3-none-any.whl'" in allowed.stderr
    assert _installed(tmp_path / "b") == {"px_pending-1.0.dist-info"}


def test_installers_may_keep_what_the_proxy_verified(
    index_server: IndexServer, published: Path, tmp_path: Path
) -> None:
    """Files and PEP 658 files are immutable (their URLs carry their sha256), pages are
    revalidated by ETag: a warm installer asks for nothing it has. A PEP 658 file is read
    from the index once, and read again if the kept copy was altered."""
    json_page = {"accept": "application/vnd.pypi.simple.v1+json"}
    with proxy(index_server.url, tmp_path / "cache", "--root", str(published)) as simple:
        page = httpx.get(simple + "px-lib/", headers=json_page)
        assert page.status_code == 200
        assert page.headers["cache-control"] == "max-age=0, must-revalidate"
        etag = page.headers["etag"]
        same = httpx.get(simple + "px-lib/", headers={**json_page, "if-none-match": etag})
        assert same.status_code == 304
        assert same.content == b""
        html = httpx.get(simple + "px-lib/", headers={"if-none-match": etag})
        assert html.status_code == 200  # another representation, another tag
        assert html.headers["etag"] != etag

        wheel = next(f for f in page.json()["files"] if f["filename"].endswith(".whl"))
        base = simple.removesuffix("simple/")
        url = base + wheel["url"].removeprefix("../../")
        served = httpx.get(url)
        assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert hashlib.sha256(served.content).hexdigest() == wheel["hashes"]["sha256"]

        expected = wheel["core-metadata"]["sha256"]
        log = tmp_path / "cache" / "proxy.log"
        for _ in range(2):
            metadata = httpx.get(url + ".metadata")
            assert metadata.status_code == 200
            assert metadata.headers["cache-control"] == "public, max-age=31536000, immutable"
            assert hashlib.sha256(metadata.content).hexdigest() == expected
        fetched = wheel["filename"] + '.metadata "HTTP/1.1 200'
        assert log.read_text().count(fetched) == 1
        kept = next((tmp_path / "cache").glob(f"*/targets/core-metadata/{expected}"))
        kept.write_bytes(b"Metadata-Version: 2.1\nName: evil\n")
        metadata = httpx.get(url + ".metadata")
        assert hashlib.sha256(metadata.content).hexdigest() == expected
        assert log.read_text().count(fetched) == 2
        assert hashlib.sha256(kept.read_bytes()).hexdigest() == expected


def test_pinned_root_survives_two_root_rotations(
    index_server: IndexServer, published: Path, tmp_path: Path
) -> None:
    fingerprint = hashlib.sha256(published.read_bytes()).hexdigest()
    trust = ["--root-sha256", fingerprint]
    returning = tmp_path / "returning"
    first = tufpi_install(
        index_server.url, returning, trust, "--target", str(tmp_path / "a"), "px-lib==1.0"
    )
    assert first.returncode == 0, first.stderr
    assert [rotate_root(index_server), rotate_root(index_server)][-1] >= 3
    for cache, target in ((returning, "b"), (tmp_path / "new-user", "c")):
        result = tufpi_install(
            index_server.url, cache, trust, "--target", str(tmp_path / target), "px-lib==1.0"
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert _installed(tmp_path / target) == {"px_lib-1.0.dist-info"}
        # The client walked the chain: its trusted root is now the newest version.
        trusted = next(cache.glob("*/metadata/root.json")).read_bytes()
        assert trusted == (index_server.data_dir / "files" / "tuf" / "root.json").read_bytes()


def test_project_pins_its_index_in_pyproject(
    index_server: IndexServer, published: Path, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    fingerprint = hashlib.sha256(published.read_bytes()).hexdigest()
    (project / "pyproject.toml").write_text(
        f'[tool.tufpi]\nindex = "{index_server.url}"\nroot-sha256 = "{fingerprint}"\n'
    )
    command = [
        sys.executable,
        "-m",
        "tufpi.cli",
        "install",
        "--python",
        sys.executable,
        "--cache-dir",
        str(tmp_path / "cache"),
        "--",
        "--target",
        str(tmp_path / "t"),
        "px-lib==1.0",
    ]
    result = subprocess.run(
        command, cwd=project, env=clean_env(), capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert _installed(tmp_path / "t") == {"px_lib-1.0.dist-info"}
    (project / "pyproject.toml").write_text(
        f'[tool.tufpi]\nindex = "{index_server.url}"\nroot-sha256 = "{"1" * 64}"\n'
    )
    wrong = subprocess.run(
        command, cwd=project, env=clean_env(), capture_output=True, text=True, check=False
    )
    assert wrong.returncode != 0
    assert "not the pinned" in wrong.stderr
