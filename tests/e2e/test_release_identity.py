"""Releases are immutable: attacks an ordinary upload token could make on what pip installs,
each shown working against the old rules (or a plain index), and refused by tufpi.

twine uploads, pip installs (isolated from the machine's configuration), on SQLite and
PostgreSQL. The rules are in ``tufpi.index.rules``; the refusals' wording is checked as twine
prints it (the reason phrase).
"""

from __future__ import annotations

import concurrent.futures
import re
import threading
from pathlib import Path

import httpx
import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from tests.support import clients
from tests.support.dists import make_dists
from tests.support.importing import run_import
from tests.support.server import IndexServer
from tests.support.state import query
from tests.support.uploads import post_wheel, tiny_wheel

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_JSON = "application/vnd.pypi.simple.v1+json"


@pytest.fixture(autouse=True)
def _wide_twine_output(monkeypatch: pytest.MonkeyPatch) -> None:
    # twine's rich console wraps at 80 columns and may split a long word; give it room.
    monkeypatch.setenv("COLUMNS", "1000")


@pytest.fixture(scope="module")
def token(index_server: IndexServer) -> str:
    return index_server.new_user("alice")


def twine(server: IndexServer, token: str, files: list[Path]) -> tuple[int, str]:
    """twine's exit code and its output on one line, without colours."""
    result = clients.twine_upload(server.url, token, files)
    return result.returncode, " ".join(_ANSI.sub("", result.stdout + result.stderr).split())


def wheel(work: Path, name: str, version: str, **kwargs: object) -> Path:
    return next(p for p in make_dists(work, name, version, **kwargs) if p.suffix == ".whl")


def sdist(work: Path, name: str, version: str, **kwargs: object) -> Path:
    return next(p for p in make_dists(work, name, version, **kwargs) if p.name.endswith(".gz"))


def pip_installs(index: str, target: Path, requirement: str) -> str:
    """The VERSION of the module pip installed for ``requirement``."""
    result = clients.pip_install(index, target, requirement)
    assert result.returncode == 0, result.stdout + result.stderr
    module = requirement.split("=", maxsplit=1)[0].replace("-", "_")
    return (target / module / "__init__.py").read_text()


def plain_index(root: Path, project: str, files: list[Path]) -> str:
    """A static PEP 503 index serving ``files`` in tufpi's page order (by filename): what
    the index served when both twins were accepted."""
    page = root / "simple" / project
    page.mkdir(parents=True)
    links = []
    for f in sorted(files, key=lambda p: p.name):
        (page / f.name).write_bytes(f.read_bytes())
        links.append(f'<a href="{f.name}">{f.name}</a>')
    (page / "index.html").write_text("<html><body>" + "".join(links) + "</body></html>")
    return (root / "simple").as_uri() + "/"


def file_rows(server: IndexServer, filename: str) -> int:
    return int(
        query(server.database_url, "SELECT count(*) FROM files WHERE filename = :f", f=filename)[0][
            0
        ]
    )


def test_a_twin_version_cannot_change_what_pip_installs(
    index_server: IndexServer, token: str, tmp_path: Path
) -> None:
    honest = wheel(tmp_path, "idt-swap", "1.0")
    code, output = twine(index_server, token, [honest])
    assert code == 0, output
    twin = wheel(tmp_path / "evil", "idt-swap", "1.0.0")  # idt_swap-1.0.0-py3-none-any.whl
    assert Version("1.0.0") == Version("1.0")
    assert str(Version("1.0.0")) != str(Version("1.0"))  # the old release key: two releases

    # The attack, where both are served (as the old rules allowed): ==1.0 gets the twin.
    both = plain_index(tmp_path / "plain", "idt-swap", [honest, twin])
    assert pip_installs(both, tmp_path / "fooled", "idt-swap==1.0") == "VERSION = '1.0.0'\n"

    for spelling in (twin, wheel(tmp_path / "evil2", "idt-swap", "1")):
        code, output = twine(index_server, token, [spelling])
        assert code != 0
        assert "400 Bad Request" in output
        assert "is the same wheel as 'idt_swap-1.0-py3-none-any.whl'" in output
    assert pip_installs(index_server.simple, tmp_path / "ok", "idt-swap==1.0") == (
        "VERSION = '1.0'\n"
    )


def test_a_yank_of_1_0_covers_a_file_uploaded_as_1_0_0(
    index_server: IndexServer, token: str, tmp_path: Path
) -> None:
    # Not twins: a wheel as 1.0 and an sdist as 1.0.0 are two files of one release.
    files = [wheel(tmp_path, "idt-yank", "1.0"), sdist(tmp_path / "b", "idt-yank", "1.0.0")]
    code, output = twine(index_server, token, files)
    assert code == 0, output
    project = httpx.get(index_server.url + "pypi/idt-yank/json").json()
    assert list(project["releases"]) == ["1.0"]  # the old rules made two: 1.0 and 1.0.0

    index_server.cli("yank", "idt-yank", "1.0", "--reason", "broken")
    page = httpx.get(index_server.simple + "idt-yank/", headers={"accept": _JSON}).json()
    assert {f["filename"]: f.get("yanked") for f in page["files"]} == {
        "idt_yank-1.0-py3-none-any.whl": "broken",
        "idt_yank-1.0.0.tar.gz": "broken",
    }
    unpinned = clients.pip_install(index_server.simple, tmp_path / "t", "idt-yank")
    assert unpinned.returncode != 0  # every file of the only release is yanked

    index_server.cli("yank", "--undo", "idt-yank", "1.0.0")  # any spelling names it
    page = httpx.get(index_server.simple + "idt-yank/", headers={"accept": _JSON}).json()
    assert [f.get("yanked", False) for f in page["files"]] == [False, False]


def test_a_local_version_is_refused(index_server: IndexServer, token: str, tmp_path: Path) -> None:
    assert SpecifierSet("==1.0").contains("1.0+hotfix")  # it would answer pip's ==1.0
    code, output = twine(index_server, token, [wheel(tmp_path, "idt-local", "1.0+hotfix")])
    assert code != 0
    assert "400 Bad Request" in output
    assert "local versions ('+hotfix') are not accepted" in output
    assert httpx.get(index_server.simple + "idt-local/").status_code == 404


def test_a_second_sdist_of_a_release_is_refused(
    index_server: IndexServer, token: str, tmp_path: Path
) -> None:
    code, output = twine(index_server, token, [sdist(tmp_path, "idt-sdist", "1.0")])
    assert code == 0, output
    other = sdist(tmp_path / "b", "idt-sdist", "1.0.0", summary="other bytes")
    code, output = twine(index_server, token, [other])
    assert code != 0
    assert "Release 1.0.0 of idt-sdist already has an sdist ('idt_sdist-1.0.tar.gz')" in output
    result = clients.pip_install(
        index_server.simple, tmp_path / "t", "--no-binary", ":all:", "idt-sdist==1.0"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "t" / "idt_sdist" / "__init__.py").read_text() == "VERSION = '1.0'\n"


def test_a_wheel_with_the_same_tags_under_another_spelling_is_refused(
    index_server: IndexServer, token: str, tmp_path: Path
) -> None:
    code, output = twine(index_server, token, [wheel(tmp_path, "idt-spell", "1.0")])
    assert code == 0, output
    rebuilt = wheel(tmp_path / "b", "idt-spell", "1.0", summary="other bytes")
    respelled = rebuilt.with_name("IDT.Spell-1.0-py3-none-any.whl")
    rebuilt.rename(respelled)
    code, output = twine(index_server, token, [respelled])
    assert code != 0
    assert "'IDT.Spell-1.0-py3-none-any.whl' is the same wheel as 'idt_spell-1.0-py3" in output
    # A wheel of other tags is another file of the release, as on PyPI.
    py2 = wheel(tmp_path / "c", "idt-spell", "1.0", wheel_tag="py2-none-any")
    code, output = twine(index_server, token, [py2])
    assert code == 0, output


def test_a_removed_filename_is_never_accepted_again(
    index_server: IndexServer, token: str, tmp_path: Path
) -> None:
    first = wheel(tmp_path, "idt-removed", "1.0")
    code, output = twine(index_server, token, [first])
    assert code == 0, output
    # Named in any spelling of the file (and of its release), as uploads compare names.
    removed = index_server.cli(
        "remove", "idt-removed", "1.0.0", "--file", "IDT.Removed-1.0.0-py3-none-any.whl", "--yes"
    )
    assert f"removed {first.name}" in removed.stdout
    # The old check looked at the files table only, where nothing is left to find.
    assert file_rows(index_server, first.name) == 0

    other = wheel(tmp_path / "b", "idt-removed", "1.0", summary="other bytes")
    assert other.name == first.name
    for attempt in (other, first):  # other bytes, and even the same bytes
        code, output = twine(index_server, token, [attempt])
        assert code != 0
        assert f"Filename '{first.name}' was used before (by a file since removed)" in output
    assert httpx.get(index_server.simple + "idt-removed/").status_code == 200
    assert first.name not in httpx.get(index_server.simple + "idt-removed/").text


def test_a_claimed_name_cannot_reuse_the_filenames_of_a_removed_project(
    index_server: IndexServer, token: str, tmp_path: Path
) -> None:
    first = wheel(tmp_path, "idt-claim", "1.0")
    code, output = twine(index_server, token, [first])
    assert code == 0, output
    index_server.cli("remove", "idt-claim", "--yes")
    assert httpx.get(index_server.simple + "idt-claim/").status_code == 404

    mallory = index_server.new_user("mallory-claims")
    evil = wheel(tmp_path / "evil", "idt-claim", "1.0", summary="mallory's")
    code, output = twine(index_server, mallory, [evil])
    assert code != 0
    assert f"Filename '{first.name}' was used before (by a file since removed)" in output
    # Claiming the name itself is allowed; only the old filenames are gone for good.
    code, output = twine(index_server, mallory, [wheel(tmp_path / "new", "idt-claim", "2.0")])
    assert code == 0, output
    result = clients.pip_install(index_server.simple, tmp_path / "t", "idt-claim==1.0")
    assert result.returncode != 0


def test_tufpi_import_obeys_the_same_rules(
    index_server: IndexServer, token: str, tmp_path: Path
) -> None:
    """Refusals are reported in the import's report (skipped as conflicts or invalid
    metadata), and the import goes on with the rest."""
    first = wheel(tmp_path, "idt-import", "1.0")
    code, output = twine(index_server, token, [first])
    assert code == 0, output
    index_server.cli("remove", "idt-import", "1.0", "--file", first.name, "--yes")

    source = tmp_path / "source"
    source.mkdir()
    files = {
        "reused": tiny_wheel("idt-import", "1.0"),  # the removed filename, other bytes
        "new": tiny_wheel("idt-import", "2.0"),
        "twin": tiny_wheel("idt-import", "2.0.0"),  # the same wheel as 2.0
        "local": tiny_wheel("idt-import", "3.0+local"),
    }
    for name, data in files.values():
        (source / name).write_bytes(data)
    result, summary = run_import(index_server, str(source), "--no-publish")
    assert result.returncode == 0, result.stdout + result.stderr
    assert summary["imported"] == 1
    skipped = {Path(s["location"]).name: s for s in summary["skipped"]}
    assert set(skipped) == {files[k][0] for k in ("reused", "twin", "local")}
    reused = skipped[files["reused"][0]]
    assert reused["reason"] == "conflict"
    assert "was used before (by a file since removed)" in reused["detail"]
    twin = skipped[files["twin"][0]]
    assert twin["reason"] == "conflict"
    assert "is the same wheel as 'idt_import-2.0-py3-none-any.whl'" in twin["detail"]
    local = skipped[files["local"][0]]
    assert local["reason"] == "invalid metadata"
    assert "local versions ('+local') are not accepted" in local["detail"]
    page = httpx.get(index_server.simple + "idt-import/").text
    assert files["new"][0] in page
    assert files["twin"][0] not in page


def test_concurrent_spellings_of_one_wheel_let_exactly_one_in(
    index_server: IndexServer, token: str
) -> None:
    """Racing the check: six spellings of one wheel (distinct bytes) sent at once, so that
    each passes the read-only check before any commits; the check under the project's lock
    lets one in."""
    spellings = ["1.0", "1.0.0", "1.00", "1", "1.0.0.0", "1.000"]
    barrier = threading.Barrier(len(spellings))

    def send(version: str) -> httpx.Response:
        with httpx.Client(timeout=60) as client:
            barrier.wait()
            return post_wheel(client, index_server.url, token, "idt-race", version)

    with concurrent.futures.ThreadPoolExecutor(len(spellings)) as pool:
        responses = list(pool.map(send, spellings))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [400] * (len(spellings) - 1), [r.text for r in responses]
    refusals = [r.text for r in responses if r.status_code == 400]
    assert all("is the same wheel as" in t or "concurrent upload" in t for t in refusals)
    page = httpx.get(index_server.simple + "idt-race/", headers={"accept": _JSON}).json()
    assert len(page["files"]) == 1
