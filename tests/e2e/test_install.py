"""twine / uv publish uploads, then real pip and uv installs from the running index."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from tests.support import clients
from tests.support.dists import make_dists
from tests.support.server import IndexServer


@pytest.fixture(scope="module")
def published(index_server: IndexServer, workdir: Path) -> dict[str, list[Path]]:
    """Projects uploaded once per module: a library, an app depending on it, and more."""
    token = index_server.new_user("alice")
    dists = {
        "lib": make_dists(workdir, "tufpi-lib", "1.0"),
        "lib2": make_dists(workdir, "tufpi-lib", "2.0"),
        "app": make_dists(workdir, "Tufpi.App", "0.1", dependencies=["tufpi-lib>=1.0"]),
        "future": make_dists(workdir, "tufpi-future", "1.0"),
        "future2": make_dists(workdir, "tufpi-future", "2.0", requires_python=">=4"),
    }
    for key in ("lib", "lib2", "future", "future2"):
        result = clients.twine_upload(index_server.url, token, dists[key])
        assert result.returncode == 0, result.stdout + result.stderr
    result = clients.uv_publish(index_server.url, token, dists["app"])
    assert result.returncode == 0, result.stdout + result.stderr
    return dists


def _installed(target: Path) -> set[str]:
    return {p.name for p in target.glob("*.dist-info")}


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_install_with_dependency(
    index_server: IndexServer, published: dict[str, list[Path]], tmp_path: Path, installer: str
) -> None:
    install = clients.pip_install if installer == "pip" else clients.uv_pip_install
    result = install(index_server.simple, tmp_path, "tufpi.app")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _installed(tmp_path) == {"tufpi_app-0.1.dist-info", "tufpi_lib-2.0.dist-info"}


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_requires_python_filters_out_newer_release(
    index_server: IndexServer, published: dict[str, list[Path]], tmp_path: Path, installer: str
) -> None:
    install = clients.pip_install if installer == "pip" else clients.uv_pip_install
    result = install(index_server.simple, tmp_path, "tufpi-future")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _installed(tmp_path) == {"tufpi_future-1.0.dist-info"}


def test_sdist_only_install_builds_from_source(
    index_server: IndexServer, published: dict[str, list[Path]], tmp_path: Path
) -> None:
    result = clients.pip_install(
        index_server.simple, tmp_path, "--no-binary", ":all:", "tufpi-lib==1.0"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert _installed(tmp_path) == {"tufpi_lib-1.0.dist-info"}
    assert (tmp_path / "tufpi_lib" / "__init__.py").read_text() == "VERSION = '1.0'\n"


def test_yanked_release_skipped_unless_pinned(
    index_server: IndexServer, published: dict[str, list[Path]], tmp_path: Path
) -> None:
    index_server.cli("yank", "tufpi-lib", "2.0", "--reason", "broken build")
    try:
        page = httpx.get(index_server.simple + "tufpi-lib/").text
        assert 'data-yanked="broken build"' in page
        result = clients.pip_install(index_server.simple, tmp_path / "a", "tufpi-lib")
        assert result.returncode == 0, result.stderr
        assert _installed(tmp_path / "a") == {"tufpi_lib-1.0.dist-info"}
        pinned = clients.pip_install(index_server.simple, tmp_path / "b", "tufpi-lib==2.0")
        assert pinned.returncode == 0, pinned.stderr
        assert _installed(tmp_path / "b") == {"tufpi_lib-2.0.dist-info"}
        assert "broken build" in pinned.stdout + pinned.stderr
    finally:
        index_server.cli("yank", "--undo", "tufpi-lib", "2.0")
    assert "data-yanked" not in httpx.get(index_server.simple + "tufpi-lib/").text


def test_pip_download_fetches_core_metadata_file(
    index_server: IndexServer, published: dict[str, list[Path]], tmp_path: Path
) -> None:
    log = index_server.data_dir / "serve.log"
    before = log.read_text().count(".whl.metadata HTTP")
    result = clients.run(
        [
            *clients.PIP,
            "download",
            "--isolated",
            "--no-cache-dir",
            "--no-deps",
            "--index-url",
            index_server.simple,
            "--dest",
            str(tmp_path),
            "tufpi.app==0.1",
            "--only-binary",
            ":all:",
        ]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["tufpi_app-0.1-py3-none-any.whl"]
    assert log.read_text().count(".whl.metadata HTTP") > before


def test_json_api_shape(index_server: IndexServer, published: dict[str, list[Path]]) -> None:
    response = httpx.get(index_server.url + "pypi/tufpi-lib/json")
    assert response.status_code == 200
    body = response.json()
    assert body["info"]["name"] == "tufpi-lib"
    assert body["info"]["version"] == "2.0"
    assert sorted(body["releases"]) == ["1.0", "2.0"]
    wheel = next(u for u in body["urls"] if u["packagetype"] == "bdist_wheel")
    downloaded = httpx.get(wheel["url"])
    assert downloaded.status_code == 200
    assert hashlib.sha256(downloaded.content).hexdigest() == wheel["digests"]["sha256"]
    one = httpx.get(index_server.url + "pypi/tufpi-lib/1.0/json").json()
    assert one["info"]["version"] == "1.0"
    assert "releases" not in one
    app = httpx.get(index_server.url + "pypi/Tufpi.App/json", follow_redirects=True).json()
    assert app["info"]["requires_dist"] == ["tufpi-lib>=1.0"]
    assert httpx.get(index_server.url + "pypi/nope/json").status_code == 404
    assert httpx.get(index_server.url + "pypi/tufpi-lib/9.9/json").status_code == 404
