"""A tufpi whose upstream is a real pypiserver: projects not hosted here are mirrored on
demand, signed like uploads, fetched once and then served from tufpi's storage; a name
hosted here never falls through to upstream (the dependency confusion that plain pip with
``--extra-index-url`` falls for); what upstream changes later cannot alter a held file.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import json
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import clients
from tests.support.dists import make_dists
from tests.support.hostile_http import Action, HostileServer
from tests.support.hostile_http import running as hostile_server
from tests.support.importing import pypiserver
from tests.support.proxy import verified_install
from tests.support.server import IndexServer, postgres_database, start
from tests.support.state import query
from tests.support.tuf_client import updater, wait_for_target
from tests.support.uploads import tiny_wheel
from tests.support.waiting import wait_until

ALLOWED = "shared-lib"


@dataclass(frozen=True)
class Setup:
    public: str  # the pypiserver's simple URL
    front: HostileServer  # in front of it: tufpi's upstream, honest unless told otherwise
    packages: Path  # its directory
    index: IndexServer  # tufpi, mirroring the pypiserver
    token: str  # an uploader's token on tufpi
    internal: Path  # acme-internal 1.0, the organisation's own project

    @property
    def upstream(self) -> str:
        """The upstream simple URL tufpi is configured with."""
        return self.front.url + "simple/"


def _write(directory: Path, name: str, version: str) -> Path:
    filename, data = tiny_wheel(name, version)
    path = directory / filename
    path.write_bytes(data)
    return path


def _settings(public: str) -> dict[str, str]:
    return {
        "upstream": public,
        "upstream_allow": ALLOWED,
        "upstream_refresh": "1",
        "upstream_page_timeout": "10",
        "upstream_file_timeout": "10",
    }


def _late(seconds: float) -> Action:
    """The honest answer, after ``seconds`` of silence: a slow upstream."""

    async def act(ex: Any) -> None:
        await ex.send(b"", seconds)
        await ex.send(ex.head(**{"content-length": str(len(ex.honest.body))}) + ex.honest.body)

    return act


@pytest.fixture(scope="module")
def setup(database_url: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("upstream")
    packages = root / "public"
    packages.mkdir()
    for built in make_dists(root, "up-lib", "1.0") + make_dists(
        root, "up-app", "0.1", dependencies=["up-lib>=1.0"]
    ):
        built.rename(packages / built.name)
    # The attacker's "public" acme-internal, versioned above the organisation's own.
    _write(packages, "acme-internal", "99.0")
    _write(packages, ALLOWED, "2.0")
    _write(packages, "churn", "1.0")
    _write(packages, "churn", "1.1")
    _write(packages, "two-nodes", "1.0")
    _write(packages, "no-size", "1.0")
    internal = _write(root, "acme-internal", "1.0")
    with contextlib.ExitStack() as stack:
        public = stack.enter_context(pypiserver(packages))
        front = stack.enter_context(hostile_server(public.removesuffix("simple/")))
        # Files answered whole, then the connection closed (a HEAD's answer carries no body).
        front.attack(lambda path: path.startswith("/packages/"), _late(0))
        index = start(root / "tufpi", database_url, **_settings(front.url + "simple/"))
        stack.callback(index.stop)
        token = index.new_user("acme")
        for path in (internal, _write(root, ALLOWED, "1.0")):
            result = clients.twine_upload(index.url, token, [path])
            assert result.returncode == 0, result.stdout + result.stderr
        yield Setup(public, front, packages, index, token, internal)


def _page(setup: Setup, name: str) -> dict[str, object]:
    response = httpx.get(
        f"{setup.index.url}simple/{name}/",
        headers={"accept": "application/vnd.pypi.simple.v1+json"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    page: dict[str, object] = response.json()
    return page


def _files(page: dict[str, object]) -> dict[str, dict[str, object]]:
    return {f["filename"]: f for f in page["files"]}  # type: ignore[attr-defined, index]


def _file_url(setup: Setup, name: str, page: dict[str, object], filename: str) -> str:
    relative = str(_files(page)[filename]["url"])
    return urllib.parse.urljoin(f"{setup.index.url}simple/{name}/", relative)


def _upstream_gets(setup: Setup, filename: str, log_name: str = "serve.log") -> int:
    """How many times tufpi fetched ``filename`` from upstream (its log says each time)."""
    log = (setup.index.data_dir / log_name).read_text(errors="replace")
    return log.count(f"{filename}: fetching from upstream")


def _signed(setup: Setup, tmp_path: Path, *names: str) -> None:
    """Mirror ``names`` and wait until their pages are signed: the verifying client reads
    the signed metadata, which lists a page mirrored a moment ago once the signer ran."""
    for name in names:
        _page(setup, name)
        for page in ("index.json", "index.html"):
            wait_for_target(setup.index, tmp_path, f"simple/{name}/{page}")


def test_a_project_not_hosted_here_is_mirrored_and_signed(setup: Setup, tmp_path: Path) -> None:
    page = _page(setup, "up-lib")
    wheel = (setup.packages / "up_lib-1.0-py3-none-any.whl").read_bytes()
    sha256 = hashlib.sha256(wheel).hexdigest()
    entry = _files(page)["up_lib-1.0-py3-none-any.whl"]
    key = f"packages/{sha256[:2]}/{sha256[2:4]}/{sha256[4:]}/up_lib-1.0-py3-none-any.whl"
    # tufpi's own URL and upstream's hash and size; PEP 708 says whose it is.
    assert entry["url"] == "../../" + key
    assert entry["hashes"] == {"sha256": sha256}
    assert entry["size"] == len(wheel)
    assert page["tracks"] == [setup.upstream + "up-lib/"]
    # Listed and signed before it is held: a sha256-only target of upstream's length.
    assert not (setup.index.data_dir / "files" / key).exists()
    info = wait_for_target(setup.index, tmp_path, key)
    assert info.length == len(wheel)
    assert info.hashes == {"sha256": sha256}
    # ngclient downloads it by its consistent name: tufpi fetches it from upstream, and
    # ngclient checks the length and the one hash it is signed with.
    client = updater(setup.index, tmp_path, "first-download")
    client.refresh()
    listed = client.get_targetinfo(key)
    assert listed is not None
    assert Path(client.download_target(listed, str(tmp_path / "w.whl"))).read_bytes() == wheel
    wait_for_target(setup.index, tmp_path, "simple/up-lib/index.json")
    actors = query(
        setup.index.database_url,
        "SELECT DISTINCT actor FROM target_changes WHERE project = 'up-lib'",
    )
    assert actors == [(f"upstream:{setup.upstream}",)]


def test_a_mirrored_file_is_fetched_once_then_served_from_storage(
    setup: Setup, tmp_path: Path
) -> None:
    data = (setup.packages / "up_lib-1.0.tar.gz").read_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    page = _page(setup, "up-lib")
    url = _file_url(setup, "up-lib", page, "up_lib-1.0.tar.gz")
    before = _upstream_gets(setup, "up_lib-1.0.tar.gz")
    # Upstream takes 1.5 s: every request arrives while the first one's download runs.
    setup.front.attack(lambda path: path.endswith("up_lib-1.0.tar.gz"), _late(1.5))
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        bodies = list(pool.map(lambda _: httpx.get(url, timeout=30), range(8)))
    assert [r.status_code for r in bodies] == [200] * 8
    assert all(r.content == data for r in bodies)
    assert _upstream_gets(setup, "up_lib-1.0.tar.gz") == before + 1
    # Held: the target gains its sha512, and ngclient downloads and verifies it.
    key = f"packages/{sha256[:2]}/{sha256[2:4]}/{sha256[4:]}/up_lib-1.0.tar.gz"
    sha512 = hashlib.sha512(data).hexdigest()

    def with_sha512() -> bool:
        client = updater(setup.index, tmp_path, f"c{len(list(tmp_path.iterdir()))}")
        client.refresh()
        info = client.get_targetinfo(key)
        return info is not None and info.hashes.get("sha512") == sha512

    wait_until(with_sha512, "the held file's target never gained its sha512")
    client = updater(setup.index, tmp_path, "download")
    client.refresh()
    info = client.get_targetinfo(key)
    assert info is not None
    assert Path(client.download_target(info, str(tmp_path / "f"))).read_bytes() == data
    assert httpx.get(url, timeout=30).content == data
    assert _upstream_gets(setup, "up_lib-1.0.tar.gz") == before + 1


def test_pip_and_the_verifying_client_install_mirrored_projects(
    setup: Setup, tmp_path: Path
) -> None:
    result = clients.pip_install(setup.index.simple, tmp_path / "pip", "up-app")
    assert result.returncode == 0, result.stdout + result.stderr
    assert {p.name for p in (tmp_path / "pip").glob("*.dist-info")} == {
        "up_app-0.1.dist-info",
        "up_lib-1.0.dist-info",
    }
    _signed(setup, tmp_path, "up-app", "up-lib")
    assert verified_install(setup.index, tmp_path, "up-app") == {
        "up_app-0.1.dist-info",
        "up_lib-1.0.dist-info",
    }


def test_the_verifying_client_installs_a_local_project_with_a_dependency_nobody_asked_for(
    setup: Setup, tmp_path: Path
) -> None:
    """The whole path cold: an application uploaded here depends on a library only upstream
    has and nobody requested. The verifying client misses it in the signed metadata, asks
    the index's page (which mirrors it), waits for its publication and installs both,
    verified with the one pinned root."""
    for built in make_dists(tmp_path, "cold-lib", "1.0"):
        built.rename(setup.packages / built.name)
    app = make_dists(tmp_path, "acme-app", "1.0", dependencies=["cold-lib>=1"])
    result = clients.twine_upload(setup.index.url, setup.token, app)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not query(
        setup.index.database_url, "SELECT id FROM projects WHERE normalized_name = 'cold-lib'"
    )
    assert verified_install(setup.index, tmp_path, "acme-app") == {
        "acme_app-1.0.dist-info",
        "cold_lib-1.0.dist-info",
    }
    assert _upstream_gets(setup, "cold_lib-1.0-py3-none-any.whl") == 1


def test_dependency_confusion_works_on_plain_pip_and_not_through_tufpi(
    setup: Setup, tmp_path: Path
) -> None:
    # The attack: pip merges both indexes and takes the highest version, the attacker's.
    result = clients.pip_install(
        setup.index.simple, tmp_path / "naive", "--extra-index-url", setup.public, "acme-internal"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "naive" / "acme_internal-99.0.dist-info").is_dir()
    # tufpi as the only index: the local name never falls through to upstream.
    files = _files(_page(setup, "acme-internal"))
    assert set(files) == {"acme_internal-1.0-py3-none-any.whl"}
    result = clients.pip_install(setup.index.simple, tmp_path / "pip", "acme-internal")
    assert result.returncode == 0, result.stdout + result.stderr
    assert {p.name for p in (tmp_path / "pip").glob("*.dist-info")} == {
        "acme_internal-1.0.dist-info"
    }
    _signed(setup, tmp_path, "acme-internal")
    assert verified_install(setup.index, tmp_path, "acme-internal") == {
        "acme_internal-1.0.dist-info"
    }


def test_an_upload_to_a_mirrored_name_is_refused(setup: Setup, tmp_path: Path) -> None:
    _page(setup, "churn")  # mirrored now
    path = _write(tmp_path, "churn", "5.0")
    result = clients.twine_upload(setup.index.url, setup.token, [path])
    assert result.returncode != 0
    assert "upstream's" in result.stdout + result.stderr
    assert "churn_5.0" not in json.dumps(_page(setup, "churn"))


def test_an_allowed_name_has_local_and_upstream_files_and_says_so(setup: Setup) -> None:
    page = _page(setup, ALLOWED)
    assert set(_files(page)) == {
        "shared_lib-1.0-py3-none-any.whl",
        "shared_lib-2.0-py3-none-any.whl",
    }
    assert page["alternate-locations"] == [setup.upstream + f"{ALLOWED}/"]
    assert "tracks" not in page


def test_refresh_adds_new_files_and_refuses_a_changed_held_file(
    setup: Setup, tmp_path: Path
) -> None:
    page = _page(setup, "churn")
    held = "churn-1.0-py3-none-any.whl"
    original = (setup.packages / held).read_bytes()
    url = _file_url(setup, "churn", page, held)
    assert httpx.get(url, timeout=30).content == original
    unheld = "churn-1.1-py3-none-any.whl"
    unheld_url = _file_url(setup, "churn", page, unheld)
    # Upstream changes both files' bytes under the same names, and publishes a new one.
    for name in (held, unheld):
        (setup.packages / name).write_bytes((setup.packages / name).read_bytes() + b"\0")
    _write(setup.packages, "churn", "2.0")
    wait_until(
        lambda: "churn-2.0-py3-none-any.whl" in _files(_page(setup, "churn")),
        "the new upstream file was never mirrored",
    )
    log = setup.index.data_dir / "serve.log"
    wait_until(
        lambda: log.read_text().count("refused upstream's change") >= 2,
        "the changed files were not refused in the log",
    )
    files = _files(_page(setup, "churn"))
    assert files[held]["hashes"] == {"sha256": hashlib.sha256(original).hexdigest()}
    assert httpx.get(url, timeout=30).content == original
    # Never held, now changed upstream: never served with other bytes than signed.
    response = httpx.get(unheld_url, timeout=30)
    assert response.status_code == 502
    assert setup.upstream in response.text
    # Upstream removes the held file: it stays.
    (setup.packages / held).unlink()
    before = _refreshed(setup, "churn")
    wait_until(
        lambda: bool(_page(setup, "churn")) and _refreshed(setup, "churn") != before,
        "churn was not read from upstream again",
    )
    assert held in _files(_page(setup, "churn"))
    assert httpx.get(url, timeout=30).content == original


def _status(status: int) -> Action:
    async def act(ex: Any) -> None:
        await ex.send(ex.head(status, **{"content-length": "0"}))

    return act


def test_a_file_whose_size_is_unknown_is_left_off_until_it_is_known(setup: Setup) -> None:
    # pypiserver's pages give no size (PEP 700): tufpi asks with a HEAD, which fails here.
    filename = "no_size-1.0-py3-none-any.whl"
    setup.front.attack(lambda path: path.endswith(filename), _status(500))
    assert _files(_page(setup, "no-size")) == {}
    log = setup.index.data_dir / "serve.log"
    assert f"{filename}: left off, upstream states no size for it" in log.read_text()
    setup.front.attack(lambda path: path.endswith(filename), _late(0))
    wait_until(
        lambda: filename in _files(_page(setup, "no-size")),
        "the file was not listed once its size was known",
    )
    assert _files(_page(setup, "no-size"))[filename]["size"] == len(
        (setup.packages / filename).read_bytes()
    )


def _refreshed(setup: Setup, name: str) -> object:
    return query(
        setup.index.database_url,
        "SELECT refreshed FROM upstream_projects u JOIN projects p ON p.id = u.project_id "
        "WHERE p.normalized_name = :name",
        name=name,
    )


def test_a_name_nowhere_is_not_found(setup: Setup) -> None:
    response = httpx.get(f"{setup.index.url}simple/no-such-project/", timeout=30)
    assert response.status_code == 404
    assert "nor upstream" in response.text


def test_two_web_nodes_fetch_a_file_once(
    setup: Setup, database_url: str | None, tmp_path: Path
) -> None:
    if database_url is None:
        pytest.skip("several web nodes share a PostgreSQL database")
    filename = "two_nodes-1.0-py3-none-any.whl"
    setup.front.attack(lambda path: path.endswith(filename), _late(1.5))
    with contextlib.ExitStack() as stack:
        db = stack.enter_context(postgres_database())
        settings = {**_settings(setup.upstream), "upstream_refresh": "600"}
        nodes = [start(tmp_path / "nodes", db, **settings)]
        stack.callback(nodes[0].stop)
        nodes.append(
            start(
                tmp_path / "nodes",
                db,
                serve_args=["--no-signer"],
                log_name="serve-2.log",
                **settings,
            )
        )
        stack.callback(nodes[1].stop)
        response = httpx.get(f"{nodes[0].url}simple/two-nodes/", timeout=30)
        assert response.status_code == 200, response.text
        relative = next(a for a in response.text.split('"') if filename in a and "../" in a)
        urls = [urllib.parse.urljoin(f"{n.url}simple/two-nodes/", relative) for n in nodes] * 4
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda url: httpx.get(url, timeout=30), urls))
        assert [a.status_code for a in answers] == [200] * 8
        assert answers[0].content == (setup.packages / filename).read_bytes()
        logs = [(tmp_path / "nodes" / name).read_text() for name in ("serve.log", "serve-2.log")]
        assert sum(log.count(f"{filename}: fetching from upstream") for log in logs) == 1
