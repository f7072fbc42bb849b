"""The attacks of PEP 458's appendix, carried out by a tampering mirror between client and index.

For each attack, plain pip through the mirror (``MIRROR/simple/``) is fooled or stalled, which
shows the attack is real, and ``tufpi install --index MIRROR`` through the same mirror refuses
it in plain words and installs nothing.

What the mirror tampers with: what plain pip reads (the page at ``/simple/<name>/``, the
files, the ``.metadata`` files). The signed page targets (``<sha256>.index.json``) are left
alone unless a test says so, so that the refusal shows the check of the file itself; a
mirror that changes them too is refused at the page (``test_arbitrary_installation``).

pip through the verifying proxy is given ``--retries 0``: a verdict is final, and a retry
would only slow the test down (refusals are HTTP 403s, which pip reports at once).

Only SQLite: these attacks are on the client side of the index.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tuf.api.metadata import Metadata, Targets

from tests.support import clients, faketime
from tests.support import server as server_support
from tests.support.dists import make_dists
from tests.support.mirror import HTML, JSON, Mirror, Moment, running
from tests.support.server import IndexServer
from tests.support.tuf_client import first_root, wait_for_target
from tufpi.client.credentials import parse_index_url
from tufpi.client.fetcher import BoundedFetcher, SlowDownload
from tufpi.client.verified_index import cache_dir_for

# Released once (1.0) before the recorded moment, and again (2.0) after it.
UPDATED = ("atk-roll", "atk-freeze", "atk-mix", "atk-hide")
ONCE = ("atk-swap", "atk-wrong", "atk-other", "atk-deps", "atk-extra", "atk-endless", "atk-slow")
_JSON_ACCEPT = "application/vnd.pypi.simple.v1+json"


# ----- the index, the mirror, what was published -----


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexServer]:
    srv = server_support.start(tmp_path_factory.mktemp("attacked-index"), None)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("attacks")


@pytest.fixture(scope="module")
def mirror(index: IndexServer) -> Iterator[Mirror]:
    with running(index.url) as m:
        yield m


@pytest.fixture(autouse=True)
def _honest_mirror(mirror: Mirror) -> None:
    mirror.honest()


def _wheels(work: Path, version: str, names: tuple[str, ...]) -> list[Path]:
    return [
        next(p for p in make_dists(work, name, version) if p.suffix == ".whl") for name in names
    ]


def _page(index: IndexServer, project: str) -> dict[str, Any]:
    response = httpx.get(f"{index.simple}{project}/", headers={"accept": _JSON_ACCEPT})
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


def _wait_published(index: IndexServer, work: Path, projects: tuple[str, ...]) -> None:
    """Until the signed metadata lists each project's current page."""
    for project in projects:
        response = httpx.get(f"{index.simple}{project}/", headers={"accept": _JSON_ACCEPT})
        sha256 = hashlib.sha256(response.content).hexdigest()
        wait_for_target(index, work, f"simple/{project}/index.json", sha256, timeout=60)


@pytest.fixture(scope="module")
def moment(index: IndexServer, work: Path, mirror: Mirror) -> Moment:
    """Everything published; returns the moment recorded between the 1.0 and 2.0 releases
    of ``UPDATED`` (their pages and all the metadata then)."""
    token = index.new_user("attacked")
    first = _wheels(work, "1.0", UPDATED + ONCE)
    result = clients.twine_upload(index.url, token, first)
    assert result.returncode == 0, result.stdout + result.stderr
    _wait_published(index, work, UPDATED + ONCE)
    recorded = mirror.record(*UPDATED)
    result = clients.twine_upload(index.url, token, _wheels(work, "2.0", UPDATED))
    assert result.returncode == 0, result.stdout + result.stderr
    _wait_published(index, work, UPDATED)
    return recorded


@pytest.fixture(scope="module")
def root(index: IndexServer, work: Path) -> Path:
    """The trusted root, obtained out of band."""
    path = work / "1.root.json"
    path.write_bytes(first_root(index))
    return path


# ----- the clients -----


def _pip(mirror: Mirror, target: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Plain pip through the mirror."""
    return clients.pip_install(mirror.url + "simple/", target, *args)


def _tufpi_command(
    mirror: Mirror,
    root: Path,
    cache: Path,
    target: Path,
    *args: str,
    options: list[str] | None = None,
) -> list[str]:
    """``tufpi install`` with its ``options``, then pip's ``args``."""
    return [
        sys.executable,
        "-m",
        "tufpi.cli",
        "install",
        "--python",
        sys.executable,
        "--index",
        mirror.url,
        "--root",
        str(root),
        "--cache-dir",
        str(cache),
        *(options or []),
        "--",
        "--retries",
        "0",
        "--target",
        str(target),
        *args,
    ]


def _tufpi(
    mirror: Mirror, root: Path, cache: Path, target: Path, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    """``tufpi install`` through the mirror; ``env`` is added to its environment."""
    return clients.run(_tufpi_command(mirror, root, cache, target, *args), **env)


def _stalls(command: list[str], seconds: float) -> bool:
    """Whether ``command`` is still running after ``seconds`` (it is then killed)."""
    process = subprocess.Popen(
        command, env=clients.clean_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return True
    return False


def _pip_command(mirror: Mirror, target: Path, *args: str) -> list[str]:
    return [
        *clients.PIP,
        "install",
        "--isolated",
        "--no-cache-dir",
        "--index-url",
        mirror.url + "simple/",
        "--target",
        str(target),
        *args,
    ]


def _installed(target: Path) -> set[str]:
    return {p.name for p in target.glob("*.dist-info")}


def _nothing_in(target: Path) -> bool:
    return not target.exists() or not any(target.iterdir())


def _refused(result: subprocess.CompletedProcess[str], *words: str) -> str:
    """Assert ``tufpi install`` failed and said ``words``; its output."""
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    for word in words:
        assert word in output, output
    return output


# ----- what the attacker serves -----


def _wheel_entry(index: IndexServer, project: str, version: str = "1.0") -> dict[str, Any]:
    files = _page(index, project)["files"]
    return next(f for f in files if f["filename"].endswith(f"-{version}-py3-none-any.whl"))


def _target_path(entry: dict[str, Any]) -> str:
    return str(entry["url"]).removeprefix("../../")


def _download(index: IndexServer, path: str) -> bytes:
    response = httpx.get(index.url + path)
    response.raise_for_status()
    return response.content


def _rewrite_wheel(data: bytes, edit: Callable[[str, bytes], tuple[str, bytes]]) -> bytes:
    """The wheel with each member passed through ``edit`` (new name, new bytes), and a RECORD
    that matches, as an attacker would build it."""
    members: dict[str, bytes] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        for info in source.infolist():
            if not info.filename.endswith(".dist-info/RECORD"):
                name, content = edit(info.filename, source.read(info))
                members[name] = content
    dist_info = next(n.split("/")[0] for n in members if n.split("/")[0].endswith(".dist-info"))
    lines = []
    for name, content in members.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=")
        lines.append(f"{name},sha256={digest.decode()},{len(content)}")
    members[f"{dist_info}/RECORD"] = ("\n".join([*lines, f"{dist_info}/RECORD,,"]) + "\n").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as wheel:
        for name, content in members.items():
            wheel.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), content)
    return out.getvalue()


def _mismatch_words(path: str, signed: bytes, served: bytes) -> str:
    """What tufpi says of ``served`` in place of the signed file: the cause, not "endless
    data" (ngclient reads a target up to its signed length, then checks length and hashes)."""
    if len(served) > len(signed):
        return (
            f"file does not match the signed metadata (longer than its signed length of "
            f"{len(signed)} bytes): {path}"
        )
    if len(served) < len(signed):
        return (
            f"file does not match the signed metadata (wrong length: {len(served)} bytes, "
            f"signed {len(signed)}): {path}"
        )
    return f"file hash does not match the signed metadata: {path}"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _swap_hashes(*pairs: tuple[str, str]) -> Callable[[bytes], bytes]:
    """A page edit replacing each old sha256 with a new one (links, core-metadata)."""

    def edit(body: bytes) -> bytes:
        for old, new in pairs:
            body = body.replace(old.encode(), new.encode())
        return body

    return edit


def _serve_file(mirror: Mirror, project: str, entry: dict[str, Any], data: bytes) -> None:
    """Serve ``data`` as the file of ``entry``, and a plain page that vouches for it."""
    mirror.replace_file(entry["filename"], data)
    swap = _swap_hashes((entry["hashes"]["sha256"], _sha256(data)))
    mirror.edit_page(project, swap, signed=False)


# ----- the attacks -----


def test_arbitrary_installation(
    index: IndexServer, mirror: Mirror, moment: Moment, root: Path, work: Path, tmp_path: Path
) -> None:
    """Other bytes for a file (and the page pip reads vouching for them), the signed page
    changed too, and a whole project the index never accepted. Stopped because a file is
    accepted only as a bin-n role lists it (length, sha256, sha512), and pages are targets."""
    entry = _wheel_entry(index, "atk-swap")
    genuine = _download(index, _target_path(entry))

    def evil(name: str, content: bytes) -> tuple[str, bytes]:
        return name, (b"EVIL = True\n" if name == "atk_swap/__init__.py" else content)

    _serve_file(mirror, "atk-swap", entry, _rewrite_wheel(genuine, evil))

    result = _pip(mirror, tmp_path / "pip", "atk-swap")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "EVIL" in (tmp_path / "pip" / "atk_swap" / "__init__.py").read_text()

    result = _tufpi(mirror, root, tmp_path / "cache", tmp_path / "t", "atk-swap")
    served = _rewrite_wheel(genuine, evil)
    _refused(result, _mismatch_words(_target_path(entry), genuine, served))
    assert _nothing_in(tmp_path / "t")

    # A mirror that also changes the signed page targets is refused at the page (for a
    # client that has not verified and cached that page already).
    new = _sha256(_rewrite_wheel(genuine, evil))
    mirror.edit_page("atk-swap", _swap_hashes((entry["hashes"]["sha256"], new)), signed=True)
    result = _tufpi(mirror, root, tmp_path / "cache2", tmp_path / "t2", "atk-swap")
    _refused(result, "file hash does not match the signed metadata: simple/atk-swap/index.json")
    assert _nothing_in(tmp_path / "t2")

    # A project the index never accepted, page and file made up by the mirror.
    ghost = next(p for p in make_dists(work, "atk-ghost", "1.0") if p.suffix == ".whl")
    path = f"packages/00/00/ghost/{ghost.name}"
    page = f'<a href="../../{path}#sha256={_sha256(ghost.read_bytes())}">{ghost.name}</a>'
    mirror.invent("/simple/atk-ghost/", page.encode(), "text/html")
    mirror.invent("/" + path, ghost.read_bytes(), "application/octet-stream")
    result = _pip(mirror, tmp_path / "pip-ghost", "atk-ghost")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _installed(tmp_path / "pip-ghost") == {"atk_ghost-1.0.dist-info"}

    # The mirror's page lists it: the proxy waits for a publication that never comes (1 s
    # here, not the default 10), then refuses.
    wait = ["--publication-wait", "1"]
    ghost_install = _tufpi_command(
        mirror, root, tmp_path / "cache", tmp_path / "t3", "atk-ghost", options=wait
    )
    result = clients.run(ghost_install)
    _refused(result, "not listed in the signed metadata: simple/atk-ghost/")
    assert _nothing_in(tmp_path / "t3")


def test_rollback(mirror: Mirror, moment: Moment, root: Path, tmp_path: Path) -> None:
    """Older (validly signed, unexpired) metadata and pages, to a client that has seen newer
    ones. Stopped because the client keeps the metadata it trusted and refuses a lower
    version (PEP 458: rollback; the TUF client workflow's version checks)."""
    cache = tmp_path / "cache"
    result = _tufpi(mirror, root, cache, tmp_path / "honest", "atk-roll")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _installed(tmp_path / "honest") == {"atk_roll-2.0.dist-info"}
    seen = cache_dir_for(cache, parse_index_url(mirror.url)) / "metadata" / "timestamp.json"
    trusted = json.loads(seen.read_bytes())["signed"]["version"]
    assert trusted > moment.timestamp_version

    mirror.replay(moment)
    result = _pip(mirror, tmp_path / "pip", "atk-roll")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _installed(tmp_path / "pip") == {"atk_roll-1.0.dist-info"}

    result = _tufpi(mirror, root, cache, tmp_path / "t", "atk-roll")
    _refused(
        result,
        f"rollback: timestamp version {moment.timestamp_version} is older than the trusted "
        f"{trusted}",
    )
    assert _nothing_in(tmp_path / "t")


@pytest.mark.skipif(faketime.library() is None, reason="needs Debian's faketime")
def test_indefinite_freeze(mirror: Mirror, moment: Moment, root: Path, tmp_path: Path) -> None:
    """The mirror keeps serving the metadata and pages of one moment, and time passes (the
    client's clock moved 36 hours on with libfaketime). Stopped by expiry: timestamp,
    snapshot and bin-n are signed for a day (``online_expiry``), and a client refuses
    metadata past its expiry, so a freeze hides newer releases for at most that long."""
    mirror.replay(moment)
    result = _pip(mirror, tmp_path / "pip", "atk-freeze")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _installed(tmp_path / "pip") == {"atk_freeze-1.0.dist-info"}

    frozen = json.loads(moment.tuf["timestamp.json"])["signed"]["expires"]
    expired_on = frozen.replace("T", " ").removesuffix("Z")
    later = faketime.env("+36h")
    result = _tufpi(mirror, root, tmp_path / "cache", tmp_path / "t", "atk-freeze", **later)
    _refused(result, f"metadata expired on {expired_on} UTC", "timestamp.json is expired")
    assert _nothing_in(tmp_path / "t")


def test_endless_data(
    index: IndexServer, mirror: Mirror, moment: Moment, root: Path, tmp_path: Path
) -> None:
    """A file whose body never ends, and a timestamp that never ends. Stopped because
    ngclient reads a target up to its signed length and metadata up to fixed maximum sizes
    (timestamp 16 KiB), then fails."""
    entry = _wheel_entry(index, "atk-endless")
    mirror.endless_file(entry["filename"])
    assert _stalls(_pip_command(mirror, tmp_path / "pip", "--timeout", "3", "atk-endless"), 6)
    assert f"/{_target_path(entry)}" in mirror.requests  # pip was reading the file
    assert _nothing_in(tmp_path / "pip")

    # Endless bytes for a target are bytes the signed length does not allow: not the file.
    result = _tufpi(mirror, root, tmp_path / "cache", tmp_path / "t", "atk-endless")
    _refused(
        result,
        "file does not match the signed metadata (longer than its signed length of "
        f"{entry['size']} bytes): {_target_path(entry)}",
    )
    assert _nothing_in(tmp_path / "t")

    mirror.endless_metadata("timestamp.json")
    result = _tufpi(mirror, root, tmp_path / "cache2", tmp_path / "t2", "atk-endless")
    _refused(
        result,
        "endless data: 'timestamp.json' is longer than the 16384 bytes the client accepts: "
        "refreshing the signed metadata",
    )
    assert _nothing_in(tmp_path / "t2")


def test_slow_retrieval(
    index: IndexServer, mirror: Mirror, moment: Moment, root: Path, tmp_path: Path
) -> None:
    """A file trickled a byte every quarter second: never quiet long enough for a read
    timeout (pip's ``--timeout 3``), so pip waits until it is killed. Stopped, partly, by the
    client alone (nothing in the metadata can): no download may take longer than
    ``--download-timeout`` (60 s by default, 5 s here to keep the test short)."""
    entry = _wheel_entry(index, "atk-slow")
    mirror.trickle_file(entry["filename"], interval=0.25)
    command = _tufpi_command(
        mirror,
        root,
        tmp_path / "cache",
        tmp_path / "t",
        "atk-slow",
        options=["--download-timeout", "5"],
    )
    started = time.monotonic()
    tufpi = subprocess.Popen(
        command, env=clients.clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        pip = _pip_command(mirror, tmp_path / "pip", "--timeout", "3", "atk-slow")
        assert _stalls(pip, 7)
        assert f"/{_target_path(entry)}" in mirror.requests  # pip was reading the file
        assert _nothing_in(tmp_path / "pip")
        stdout, stderr = tufpi.communicate(timeout=60)
    finally:
        tufpi.kill()
        tufpi.wait()
    elapsed = time.monotonic() - started
    result = subprocess.CompletedProcess(command, tufpi.returncode, stdout, stderr)
    output = _refused(result, f"s: {_target_path(entry)}")
    said = re.search(
        r"slow retrieval: (\d+) bytes in (\d+\.\d) s: " + re.escape(_target_path(entry)), output
    )
    assert said is not None, output
    assert 0 < int(said[1]) < entry["size"]
    assert 5.0 <= float(said[2]) < 7
    assert elapsed < 30
    assert _nothing_in(tmp_path / "t")


def test_extraneous_dependencies(
    index: IndexServer, mirror: Mirror, moment: Moment, root: Path, tmp_path: Path
) -> None:
    """A ``Requires-Dist`` added to the ``.metadata`` file (PEP 658) that resolvers read, and
    to the wheel, with the page pip reads vouching for both (pip 26 compares the two, so the
    wheel must agree). Stopped because the ``.metadata`` file must match the sha256 the
    *signed* page gives for it, and the wheel its signed hashes."""
    entry = _wheel_entry(index, "atk-deps")
    path = _target_path(entry)
    metadata = _download(index, path + ".metadata")
    added = metadata.replace(b"\n\n", b"\nRequires-Dist: atk-extra\n\n", 1)

    def with_dependency(name: str, content: bytes) -> tuple[str, bytes]:
        return name, (added if name.endswith(".dist-info/METADATA") else content)

    wheel = _rewrite_wheel(_download(index, path), with_dependency)
    mirror.replace_file(entry["filename"], wheel)
    mirror.replace_file(entry["filename"] + ".metadata", added)
    swap = _swap_hashes(
        (entry["hashes"]["sha256"], _sha256(wheel)),
        (entry["core-metadata"]["sha256"], _sha256(added)),
    )
    mirror.edit_page("atk-deps", swap, signed=False)

    result = _pip(mirror, tmp_path / "pip", "atk-deps")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _installed(tmp_path / "pip") == {"atk_deps-1.0.dist-info", "atk_extra-1.0.dist-info"}

    result = _tufpi(mirror, root, tmp_path / "cache", tmp_path / "t", "atk-deps")
    _refused(result, f"file hash does not match the signed metadata: {path}.metadata")
    assert _nothing_in(tmp_path / "t")


def _bin_of(moment: Moment, path: str) -> str:
    bins = Metadata[Targets].from_bytes(moment.tuf["1.bins.json"]).signed
    assert bins.delegations is not None
    assert bins.delegations.succinct_roles is not None
    return str(bins.delegations.succinct_roles.get_role_for_target(path))


def _meta_versions(tuf: dict[str, bytes]) -> dict[str, int]:
    """The role versions the snapshot among ``tuf`` names."""
    timestamp = json.loads(tuf["timestamp.json"])["signed"]
    name = f"{timestamp['meta']['snapshot.json']['version']}.snapshot.json"
    meta = json.loads(tuf[name])["signed"]["meta"]
    return {role.removesuffix(".json"): int(m["version"]) for role, m in meta.items()}


def test_mix_and_match(
    index: IndexServer, mirror: Mirror, moment: Moment, root: Path, tmp_path: Path
) -> None:
    """The current timestamp and snapshot, but the bins holding one project's pages from an
    older snapshot, served under the current names (and the matching older page for pip).
    Stopped because the snapshot names the version of every bin-n, and the timestamp the
    snapshot by its hashes: a set of metadata that never existed together does not verify."""
    now = mirror.record()
    old_versions, new_versions = _meta_versions(moment.tuf), _meta_versions(now.tuf)
    mixed = {}
    for page in ("index.json", "index.html"):
        role = _bin_of(moment, f"simple/atk-mix/{page}")
        old, new = old_versions[role], new_versions[role]
        assert old < new
        mirror.replace_metadata(f"{new}.{role}.json", moment.tuf[f"{old}.{role}.json"])
        mixed[role] = (old, new)
    pages = {m: moment.pages["atk-mix", m] for m in (JSON, HTML)}
    mirror.serve_pages("atk-mix", pages, signed=False)

    result = _pip(mirror, tmp_path / "pip", "atk-mix")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _installed(tmp_path / "pip") == {"atk_mix-1.0.dist-info"}

    result = _tufpi(mirror, root, tmp_path / "cache", tmp_path / "t", "atk-mix")
    output = _refused(result)
    said = re.search(
        r"mix-and-match: (bin-\w+) version (\d+) is not the version (\d+) the snapshot names",
        output,
    )
    assert said is not None, output
    assert mixed[said[1]] == (int(said[2]), int(said[3]))
    assert _nothing_in(tmp_path / "t")


def test_wrong_software(
    index: IndexServer, mirror: Mirror, moment: Moment, root: Path, tmp_path: Path
) -> None:
    """Another project's wheel served as this one's. pip itself rejects a wheel whose
    ``.dist-info`` names another project, so for pip the mirror relabels it (its code,
    this project's name and metadata); tufpi is also shown the other project's wheel as the
    index signed it. Stopped because a signed target path binds a name to its hashes:
    another file, even a trusted one, does not match."""
    entry = _wheel_entry(index, "atk-wrong")
    metadata = _download(index, _target_path(entry) + ".metadata")
    other = _download(index, _target_path(_wheel_entry(index, "atk-other")))

    def relabel(name: str, content: bytes) -> tuple[str, bytes]:
        name = name.replace("atk_other-1.0.dist-info", "atk_wrong-1.0.dist-info")
        return name, (metadata if name.endswith(".dist-info/METADATA") else content)

    _serve_file(mirror, "atk-wrong", entry, _rewrite_wheel(other, relabel))
    result = _pip(mirror, tmp_path / "pip", "atk-wrong")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _installed(tmp_path / "pip") == {"atk_wrong-1.0.dist-info"}
    assert (tmp_path / "pip" / "atk_other").is_dir()  # the other project's code
    assert not (tmp_path / "pip" / "atk_wrong").exists()

    genuine = _download(index, _target_path(entry))
    relabelled = _rewrite_wheel(other, relabel)
    result = _tufpi(mirror, root, tmp_path / "cache", tmp_path / "t", "atk-wrong")
    _refused(result, _mismatch_words(_target_path(entry), genuine, relabelled))
    assert _nothing_in(tmp_path / "t")

    _serve_file(mirror, "atk-wrong", entry, other)  # the other project's signed wheel as is
    result = _tufpi(mirror, root, tmp_path / "cache", tmp_path / "t2", "atk-wrong")
    _refused(result, _mismatch_words(_target_path(entry), genuine, other))
    assert _nothing_in(tmp_path / "t2")


def test_mirror_hides_a_new_release(
    index: IndexServer, mirror: Mirror, moment: Moment, root: Path, tmp_path: Path
) -> None:
    """The mirror serves the page from before the 2.0 release, so pip installs 1.0.

    What stops it depends on what the mirror withholds:

    1. Only the page (the signed page target too, under its current name): the current
       bin-n lists the new page's length and hashes, so the old page does not match. Pages
       are targets precisely so that a mirror cannot hide a release (PEP 458, Targets).
    2. The page and the newer metadata (timestamp, snapshot, bins of the moment before the
       release), to a client that has seen the newer timestamp: rollback, refused.
    3. The same, to a client that never saw newer metadata: nothing tells it apart from an
       index without the release, so it installs 1.0. Only expiry bounds this (a day, see
       ``test_indefinite_freeze``): PEP 458's "malicious mirrors blocking updates" is
       limited to the freeze bound.
    """
    old_pages = {m: moment.pages["atk-hide", m] for m in (JSON, HTML)}
    mirror.serve_pages("atk-hide", old_pages, signed=True)
    result = _pip(mirror, tmp_path / "pip", "atk-hide")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _installed(tmp_path / "pip") == {"atk_hide-1.0.dist-info"}

    cache = tmp_path / "cache"
    result = _tufpi(mirror, root, cache, tmp_path / "t", "atk-hide")
    current = httpx.get(f"{index.simple}atk-hide/", headers={"accept": _JSON_ACCEPT}).content
    path = "simple/atk-hide/index.json"
    _refused(result, _mismatch_words(path, current, old_pages[JSON]))
    assert _nothing_in(tmp_path / "t")

    mirror.replay(moment)
    seen = cache_dir_for(cache, parse_index_url(mirror.url)) / "metadata" / "timestamp.json"
    trusted = json.loads(seen.read_bytes())["signed"]["version"]
    result = _tufpi(mirror, root, cache, tmp_path / "t2", "atk-hide")
    _refused(
        result,
        f"rollback: timestamp version {moment.timestamp_version} is older than the trusted "
        f"{trusted}",
    )
    assert _nothing_in(tmp_path / "t2")

    result = _tufpi(mirror, root, tmp_path / "new-cache", tmp_path / "t3", "atk-hide")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _installed(tmp_path / "t3") == {"atk_hide-1.0.dist-info"}


# ----- the fetcher's bounds, with small limits -----


def _fetch_error(fetcher: BoundedFetcher, url: str, within: float) -> Exception:
    """The error fetching ``url`` ends in, which must come within ``within`` seconds."""
    errors: list[Exception] = []

    def fetch() -> None:
        try:
            for _ in fetcher.fetch(url):
                pass
        except Exception as e:  # whatever it is, the test reports it
            errors.append(e)

    thread = threading.Thread(target=fetch, daemon=True)
    thread.start()
    thread.join(within)
    assert not thread.is_alive(), f"still fetching {url} after {within} s"
    assert errors, f"{url} was fetched"
    return errors[0]


def test_fetcher_deadline_holds_for_trickles_and_empty_gzip(
    index: IndexServer, mirror: Mirror, moment: Moment
) -> None:
    """The fetcher's deadline holds however the bytes come: a trickle too thin to fill a
    chunk (the deadline used to be checked per 256 KiB, so a small file trickled for as long
    as it lasted), and an endless gzip body that decodes to nothing (ngclient counts decoded
    bytes, so only time can bound it; it used to run for ever)."""
    entry = _wheel_entry(index, "atk-slow")
    with httpx.Client() as client:
        fetcher = BoundedFetcher(client, read_timeout=1, total_timeout=1.5)
        mirror.trickle_file(entry["filename"], interval=0.05)
        error = _fetch_error(fetcher, mirror.url + _target_path(entry), within=5)
        assert isinstance(error, SlowDownload), error
        assert error.phase == "body"
        assert 0 < error.received < entry["size"]
        assert 1.5 <= error.elapsed < 2.5

        mirror.endless_metadata("timestamp.json", gzip=True)
        error = _fetch_error(fetcher, mirror.url + "tuf/timestamp.json", within=5)
        assert isinstance(error, SlowDownload), error
        assert error.received > 0
        assert 1.5 <= error.elapsed < 2.5
