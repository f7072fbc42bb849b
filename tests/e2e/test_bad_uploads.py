"""Every bad input of the upload API, sent to a running server: each is refused with its own
message, and afterwards the database rows and stored files are exactly as before.

Hostile requests are built by hand (multipart bodies whose every byte we choose) and sent with
httpx; what twine itself can send (a reused filename, an oversized file) goes through twine, and
its output must show our message.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import os
import re
import struct
import tarfile
import time
import uuid
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import pytest

from tests.support import clients
from tests.support import server as server_support
from tests.support.dists import make_dists
from tests.support.server import IndexServer
from tests.support.state import snapshot

NAME, VERSION = "tufpi-bad", "1.0"
WHEEL = "tufpi_bad-1.0-py3-none-any.whl"
SDIST = "tufpi_bad-1.0.tar.gz"
MiB = 1024 * 1024
SMALL_LIMIT = 200_000  # max_upload_bytes of the second server

# -- hand-made distributions and requests ---------------------------------------------------


def metadata(name: str = NAME, version: str = VERSION, *extra: str) -> bytes:
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}", *extra]
    return ("\n".join(lines) + "\n\nA hand-made distribution.\n").encode()


def _dist(name: str) -> str:
    return name.replace("-", "_")


def wheel(members: Mapping[str, bytes | None] | None = None, name: str = NAME) -> bytes:
    """A wheel of ``name`` 1.0; ``members`` replace, add or (None) drop archive members."""
    info = f"{_dist(name)}-1.0.dist-info"
    files: dict[str, bytes | None] = {
        f"{_dist(name)}/__init__.py": b"",
        f"{info}/METADATA": metadata(name),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
        f"{info}/RECORD": b"",
    }
    files.update(members or {})
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in files.items():
            if data is not None:
                archive.writestr(zipfile.ZipInfo(path, (2020, 1, 1, 0, 0, 0)), data)
    return out.getvalue()


def sdist(members: Mapping[str, bytes | None] | None = None, name: str = NAME) -> bytes:
    """An sdist of ``name`` 1.0; ``members`` (below its top directory) as for ``wheel``."""
    files: dict[str, bytes | None] = {"PKG-INFO": metadata(name), "pyproject.toml": b""}
    files.update(members or {})
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for path, data in files.items():
            if data is not None:
                info = tarfile.TarInfo(f"{_dist(name)}-1.0/{path}")
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def patch_zip(data: bytes, local: tuple[int, int], central: tuple[int, int]) -> bytes:
    """Set a 16-bit field (offset, value) in every local and every central directory header."""
    patched = bytearray(data)
    for signature, (offset, value) in ((b"PK\x03\x04", local), (b"PK\x01\x02", central)):
        at = patched.find(signature)
        while at != -1:
            struct.pack_into("<H", patched, at + offset, value)
            at = patched.find(signature, at + 1)
    return bytes(patched)


@dataclasses.dataclass
class Upload:
    """One ``POST /legacy/`` as twine sends it, with every part replaceable."""

    fields: list[tuple[str, str]]
    files: list[tuple[str, bytes, bytes]]  # (field name, raw filename bytes, content)
    content_type: str | None = None

    def encode(self) -> tuple[bytes, str]:
        boundary = "tufpi-" + uuid.uuid4().hex
        out = bytearray()
        for name, value in self.fields:
            out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            out += value.encode() + b"\r\n"
        for name, filename, content in self.files:
            out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '.encode()
            out += b'filename="' + filename + b'"\r\nContent-Type: application/octet-stream\r\n\r\n'
            out += content + b"\r\n"
        out += f"--{boundary}--\r\n".encode()
        return bytes(out), self.content_type or f"multipart/form-data; boundary={boundary}"


def upload(
    changes: Mapping[str, str | None] | None = None,
    *,
    filename: str | bytes = WHEEL,
    content: bytes | None = None,
) -> Upload:
    """The fields twine sends for ``content`` (a valid wheel of tufpi-bad 1.0 by default).

    ``changes`` replace fields (None removes one); digests are of the content actually sent.
    """
    raw_name = filename if isinstance(filename, bytes) else filename.encode()
    is_sdist = raw_name.endswith(b".tar.gz")
    if content is None:
        content = sdist() if is_sdist else wheel()
    fields: dict[str, str | None] = {
        ":action": "file_upload",
        "protocol_version": "1",
        "name": NAME,
        "version": VERSION,
        "filetype": "sdist" if is_sdist else "bdist_wheel",
        "pyversion": "source" if is_sdist else "py3",
        "metadata_version": "2.1",
        "sha256_digest": hashlib.sha256(content).hexdigest(),
        "blake2_256_digest": hashlib.blake2b(content, digest_size=32).hexdigest(),
        "md5_digest": hashlib.md5(content).hexdigest(),
    }
    fields.update(changes or {})
    kept = [(k, v) for k, v in fields.items() if v is not None]
    return Upload(kept, [("content", raw_name, content)])


def send(server: IndexServer, request: Upload, token: str | None) -> httpx.Response:
    body, content_type = request.encode()
    return httpx.post(
        server.url + "legacy/",
        content=body,
        headers={"content-type": content_type},
        auth=("__token__", token) if token else None,
        timeout=60,
    )


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def twine(server: IndexServer, token: str, files: list[Path], *args: str) -> tuple[int, str]:
    """Run twine; return its exit code and its output with colours and line breaks removed."""
    result = clients.twine_upload(server.url, token, files, *args)
    output = _ANSI.sub("", result.stdout + result.stderr)
    return result.returncode, " ".join(output.split())


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def token(index_server: IndexServer) -> str:
    """A token of the user who owns every project of this module."""
    return index_server.new_user("mallory")


@pytest.fixture(scope="module")
def existing(index_server: IndexServer, token: str, workdir: Path) -> list[Path]:
    """A real project (sdist and wheel built by uv build), uploaded by twine."""
    dists = make_dists(workdir, "tufpi-existing", "1.0")
    code, output = twine(index_server, token, dists)
    assert code == 0, output
    return dists


@pytest.fixture(autouse=True)
def _wide_twine_output(monkeypatch: pytest.MonkeyPatch) -> None:
    # twine's rich console wraps at 80 columns and may split a long word; give it room.
    monkeypatch.setenv("COLUMNS", "1000")


# -- the control: the unmodified request is accepted --------------------------------------


@pytest.mark.parametrize("kind", ["wheel", "sdist"])
def test_the_unmodified_request_is_accepted_once(
    index_server: IndexServer, token: str, kind: str
) -> None:
    """Each bad case below changes one thing of this request; unchanged, it uploads.

    It is sent for another project so that tufpi-bad stays absent for the cases below. Sent
    again, it gets a clear answer and nothing is duplicated.
    """
    name = "tufpi-control"
    filename = "tufpi_control-1.0" + ("-py3-none-any.whl" if kind == "wheel" else ".tar.gz")
    content = wheel(name=name) if kind == "wheel" else sdist(name=name)
    request = upload({"name": name}, filename=filename, content=content)
    response = send(index_server, request, token)
    assert response.status_code == 200, response.text
    assert f"Uploaded {filename}" in response.text
    assert filename in httpx.get(index_server.simple + f"{name}/").text

    before = snapshot(index_server)
    again = send(index_server, request, token)
    assert again.status_code == 200, again.text
    assert "already exists with identical content; nothing changed" in again.text
    assert snapshot(index_server) == before


# -- every malformed or hostile request ---------------------------------------------------

_META = "tufpi_bad-1.0.dist-info/METADATA"


def _big_metadata() -> bytes:
    return metadata() + b"x" * (5 * MiB)


def _two_content_parts() -> Upload:
    request = upload()
    request.files.append(request.files[0])
    return request


def _name_twice() -> Upload:
    request = upload()
    request.fields.append(("name", "tufpi-other"))
    return request


def _content_as_field() -> Upload:
    request = upload()
    request.fields.append(("content", "not a file"))
    request.files.clear()
    return request


def _urlencoded() -> Upload:
    request = upload()
    request.files.clear()
    request.content_type = "application/x-www-form-urlencoded"
    return request


def _not_multipart() -> Upload:
    request = upload()
    request.content_type = "application/json"
    return request


def _bad_boundary() -> Upload:
    request = upload()
    request.content_type = "multipart/form-data; boundary=not-the-one-used"
    return request


CASES = [
    # the form
    pytest.param(upload({":action": None}), 400, "Unsupported :action ''", id="no-action"),
    pytest.param(upload({":action": "doc_upload"}), 400, "Unsupported :action", id="doc-upload"),
    pytest.param(upload({"protocol_version": "2"}), 400, "protocol_version", id="protocol-2"),
    pytest.param(upload({"name": None}), 400, "Missing required field 'name'", id="no-name"),
    pytest.param(upload({"version": None}), 400, "Missing required field 'version'", id="no-ver"),
    pytest.param(upload({"filetype": None}), 400, "Missing required field 'filetype'", id="no-ft"),
    pytest.param(upload({"name": "  "}), 400, "Missing required field 'name'", id="blank-name"),
    pytest.param(_name_twice(), 400, "'name' is given more than once", id="name-twice"),
    pytest.param(
        upload({"description": "README\x00"}), 400, "contains a NUL", id="nul-in-description"
    ),
    pytest.param(upload({"pyversion": "py3\x00"}), 400, "contains a NUL", id="nul-in-pyversion"),
    pytest.param(upload({"pyversion": "p" * 51}), 400, "pyversion is longer", id="long-pyversion"),
    # invalid project names
    pytest.param(upload({"name": "-tufpi-bad"}), 400, "Invalid project name", id="name-dash"),
    pytest.param(upload({"name": "tufpi bad"}), 400, "Invalid project name", id="name-space"),
    pytest.param(upload({"name": "tufpi/bad"}), 400, "Invalid project name", id="name-slash"),
    pytest.param(upload({"name": "../tufpi"}), 400, "Invalid project name", id="name-dotdot"),
    pytest.param(
        upload({"name": "tufpi\u2215bad"}), 400, "Invalid project name", id="name-division-slash"
    ),
    pytest.param(upload({"name": "t\u00fcfpi-bad"}), 400, "Invalid project name", id="name-umlaut"),
    pytest.param(
        upload({"name": "t" * 201}, filename=f"{'t' * 201}-1.0.tar.gz", content=sdist()),
        400,
        "Project name is longer than 200",
        id="name-too-long",
    ),
    # invalid versions
    pytest.param(upload({"version": "banana"}), 400, "not a PEP 440 version", id="ver-banana"),
    pytest.param(upload({"version": "1.0-a-b"}), 400, "not a PEP 440 version", id="ver-dashes"),
    pytest.param(upload({"version": "1\u20240"}), 400, "not a PEP 440 version", id="ver-lookalike"),
    pytest.param(upload({"version": "1.0/../2"}), 400, "not a PEP 440 version", id="ver-path"),
    pytest.param(
        upload({"version": "1." + ".".join(["0"] * 60)}),
        400,
        "Version is longer than 100",
        id="ver-too-long",
    ),
    # unknown file types and extensions
    pytest.param(upload({"filetype": "bdist_egg"}), 400, "Unknown filetype", id="ft-egg"),
    pytest.param(upload({"filetype": "bdist_wininst"}), 400, "Unknown filetype", id="ft-wininst"),
    pytest.param(upload({"filetype": "bdist_msi"}), 400, "Unknown filetype", id="ft-msi"),
    pytest.param(
        upload(filename="tufpi_bad-1.0-py3.11.egg"), 400, "Invalid file extension", id="ext-egg"
    ),
    pytest.param(upload(filename="tufpi_bad-1.0.exe"), 400, "Invalid file extension", id="ext-exe"),
    pytest.param(
        upload(filename="tufpi_bad-1.0.tar.bz2"), 400, "Invalid file extension", id="ext-bz2"
    ),
    pytest.param(
        upload(filename="tufpi_bad-1.0-py3-none-any.whl.exe"),
        400,
        "Invalid file extension",
        id="ext-whl-exe",
    ),
    # the filename disagrees with the form
    pytest.param(
        upload(filename="tufpi_bad-1.0.whl"), 400, "Invalid distribution filename", id="wheel-name"
    ),
    pytest.param(
        upload(filename="tufpi_other-1.0-py3-none-any.whl"),
        400,
        "is for project 'tufpi-other'",
        id="filename-project",
    ),
    pytest.param(
        upload(filename="tufpi_bad-2.0-py3-none-any.whl"),
        400,
        "is for version 2.0",
        id="filename-version",
    ),
    pytest.param(
        upload({"filetype": "sdist"}), 400, "is a bdist_wheel, but filetype says sdist", id="ft-mix"
    ),
    # hostile filenames
    pytest.param(upload(filename="../" + WHEEL), 400, "path separators", id="dotdot-slash"),
    pytest.param(
        upload(filename="../../../../../tmp/" + WHEEL), 400, "path separators", id="deep-dotdot"
    ),
    pytest.param(upload(filename="/tmp/" + WHEEL), 400, "path separators", id="absolute"),
    pytest.param(upload(filename="..\\" + WHEEL), 400, "path separators", id="dotdot-backslash"),
    pytest.param(
        upload(filename="C:\\Windows\\" + WHEEL), 400, "path separators", id="windows-absolute"
    ),
    pytest.param(
        upload(filename="\\\\\\\\server\\share\\" + WHEEL), 400, "path separators", id="unc-path"
    ),
    pytest.param(upload(filename=WHEEL + "\x00.txt"), 400, "NUL", id="nul"),
    pytest.param(upload(filename="\x00" + WHEEL), 400, "NUL", id="leading-nul"),
    pytest.param(upload(filename=".." + WHEEL), 400, "may not start with '.'", id="dotdot-prefix"),
    pytest.param(upload(filename=".."), 400, "may not start with '.'", id="dotdot"),
    pytest.param(upload(filename="." + WHEEL), 400, "may not start with '.'", id="hidden"),
    pytest.param(upload(filename="etc\u2215" + WHEEL), 400, "U+2215", id="division-slash"),
    pytest.param(upload(filename="etc\u2044" + WHEEL), 400, "U+2044", id="fraction-slash"),
    pytest.param(upload(filename="etc\uff0f" + WHEEL), 400, "U+FF0F", id="fullwidth-slash"),
    pytest.param(upload(filename="etc\u29f8" + WHEEL), 400, "U+29F8", id="big-solidus"),
    pytest.param(upload(filename="etc\u2216" + WHEEL), 400, "U+2216", id="set-minus"),
    pytest.param(upload(filename="etc\uff3c" + WHEEL), 400, "U+FF3C", id="fullwidth-backslash"),
    pytest.param(upload(filename="etc\ufe68" + WHEEL), 400, "U+FE68", id="small-backslash"),
    pytest.param(upload(filename="\u2024\u2024\u2215" + WHEEL), 400, "U+2024", id="one-dot-leader"),
    pytest.param(
        upload(filename="tufpi_bad-1.0-py3-none-any\u202elhw.exe"), 400, "U+202E", id="rtl-override"
    ),
    pytest.param(upload(filename="%2e%2e%2f" + WHEEL), 400, "U+0025", id="percent-encoded"),
    pytest.param(upload(filename=b"\xff\xfe" + WHEEL.encode()), 400, "U+00FF", id="not-utf8"),
    pytest.param(upload(filename="t" * 250 + WHEEL), 400, "longer than 255", id="long-filename"),
    pytest.param(upload(filename=""), 400, "Missing the 'content' file part", id="empty-filename"),
    # digests
    pytest.param(
        upload({"sha256_digest": "0" * 64}), 400, "sha256_digest does not match", id="bad-sha256"
    ),
    pytest.param(
        upload({"blake2_256_digest": "0" * 64}), 400, "blake2_256_digest does not", id="bad-blake2"
    ),
    pytest.param(upload({"md5_digest": "0" * 32}), 400, "md5_digest does not match", id="bad-md5"),
    pytest.param(
        upload({"sha256_digest": "not-hex"}), 400, "sha256_digest does not match", id="sha-junk"
    ),
    pytest.param(
        upload({"sha256_digest": "\u00e9" * 64}), 400, "sha256_digest does not", id="sha-non-ascii"
    ),
    # the content
    pytest.param(upload(content=b""), 400, "The uploaded file is empty", id="empty-file"),
    pytest.param(upload(content=b"PK not a zip"), 400, "Invalid distribution file", id="not-zip"),
    pytest.param(
        upload(filename=SDIST, content=b"not gzip"), 400, "Invalid distribution file", id="not-gz"
    ),
    pytest.param(
        upload(content=wheel({_META: None})),
        400,
        "expected exactly one .dist-info/METADATA",
        id="wheel-without-metadata",
    ),
    pytest.param(
        upload(content=wheel({"other-1.0.dist-info/METADATA": metadata()})),
        400,
        "expected exactly one .dist-info/METADATA",
        id="wheel-two-metadata",
    ),
    pytest.param(
        upload(content=patch_zip(wheel(), local=(6, 1), central=(8, 1))),
        400,
        "its METADATA is encrypted",
        id="wheel-encrypted",
    ),
    pytest.param(
        upload(content=patch_zip(wheel(), local=(8, 99), central=(10, 99))),
        400,
        "Invalid distribution file",
        id="wheel-unknown-compression",
    ),
    pytest.param(
        upload(content=wheel({_META: metadata("tufpi-other")})),
        400,
        "is for project 'tufpi-other'",
        id="metadata-other-project",
    ),
    pytest.param(
        upload(content=wheel({_META: metadata(version="2.0")})),
        400,
        "is for version 2.0, not 1.0",
        id="metadata-other-version",
    ),
    pytest.param(
        upload(content=wheel({_META: metadata(version="1.0\x01")})),
        400,
        "is for version 1.0\\x01, not 1.0",
        id="metadata-control-character",
    ),
    pytest.param(
        upload(content=wheel({_META: b"Metadata-Version: 2.1\nName: tufpi-bad\n"})),
        400,
        "lacks Name or Version",
        id="metadata-no-version",
    ),
    pytest.param(
        upload(content=wheel({_META: metadata("tufpi-bad", "1.0", "Requires-Python: banana")})),
        400,
        "Invalid Requires-Python",
        id="metadata-bad-requires-python",
    ),
    pytest.param(
        upload(content=wheel({_META: metadata("tufpi-bad", "1.0", "Requires-Python: >=3\x00")})),
        400,
        "contains a NUL byte",
        id="metadata-nul",
    ),
    pytest.param(
        upload(
            content=wheel({_META: metadata("tufpi-bad", "1.0", "Requires-Python: " + ">=3," * 60)})
        ),
        400,
        "Invalid Requires-Python",
        id="metadata-long-requires-python",
    ),
    pytest.param(
        upload(content=wheel({_META: _big_metadata()})), 400, "larger than", id="metadata-bomb"
    ),
    # strict core metadata (packaging's validation): the old parse accepted each of these
    pytest.param(
        upload(content=wheel({_META: metadata(NAME, VERSION, "Requires-Dist: evil >>= 1")})),
        400,
        "Invalid Requires-Dist: 'evil >>= 1' is invalid",
        id="metadata-bad-requires-dist",
    ),
    pytest.param(
        upload(content=wheel({_META: metadata(NAME, VERSION).replace(b"2.1", b"9.0", 1)})),
        400,
        "Invalid Metadata-Version: '9.0' is not a valid metadata version",
        id="metadata-version-9",
    ),
    pytest.param(
        upload(content=wheel({_META: metadata(NAME, VERSION, "Name: tufpi-other")})),
        400,
        "Invalid Name: the field may appear once, it appears 2 times",
        id="metadata-name-twice",
    ),
    # a local version (PEP 440 "+..."): ==1.0 would match it
    pytest.param(
        upload(
            {"version": "1.0+hotfix"},
            filename="tufpi_bad-1.0+hotfix-py3-none-any.whl",
            content=wheel({_META: metadata(NAME, "1.0+hotfix")}),
        ),
        400,
        "local versions ('+hotfix') are not accepted",
        id="local-version",
    ),
    pytest.param(
        upload(filename=SDIST, content=sdist({"PKG-INFO": None})),
        400,
        "no top-level PKG-INFO",
        id="sdist-without-pkg-info",
    ),
    pytest.param(
        upload(filename=SDIST, content=sdist({"PKG-INFO": metadata("tufpi-other")})),
        400,
        "is for project 'tufpi-other'",
        id="sdist-other-project",
    ),
    # the body
    pytest.param(_two_content_parts(), 400, "exactly one 'content'", id="two-content-parts"),
    pytest.param(_content_as_field(), 400, "Missing the 'content' file part", id="content-field"),
    pytest.param(_urlencoded(), 400, "must be multipart/form-data", id="urlencoded"),
    pytest.param(_not_multipart(), 400, "must be multipart/form-data", id="json"),
    pytest.param(_bad_boundary(), 400, "Malformed upload body", id="bad-boundary"),
]


@pytest.mark.parametrize(("request_", "status", "message"), CASES)
def test_bad_upload_is_refused_and_changes_nothing(
    index_server: IndexServer, token: str, request_: Upload, status: int, message: str
) -> None:
    before = snapshot(index_server)
    response = send(index_server, request_, token)
    assert response.status_code == status, response.text
    assert message in response.text
    # twine shows the reason phrase: the same message, on one line.
    assert message in response.reason_phrase
    assert snapshot(index_server) == before


# -- what twine itself sends --------------------------------------------------------------


def test_twine_reused_filename_with_other_content_is_refused(
    index_server: IndexServer, token: str, existing: list[Path], workdir: Path
) -> None:
    rebuilt = make_dists(workdir / "rebuilt", "tufpi-existing", "1.0", summary="Other content")
    old_wheel, new_wheel = (next(p for p in d if p.suffix == ".whl") for d in (existing, rebuilt))
    assert new_wheel.name == old_wheel.name
    assert new_wheel.read_bytes() != old_wheel.read_bytes()
    before = snapshot(index_server)
    code, output = twine(index_server, token, [new_wheel])
    assert code != 0
    assert "400 Bad Request" in output
    assert "File already exists ('tufpi_existing-1.0-py3-none-any.whl') with different" in output
    assert snapshot(index_server) == before


def test_twine_identical_reupload_is_a_clear_no_op(
    index_server: IndexServer, token: str, existing: list[Path]
) -> None:
    before = snapshot(index_server)
    code, output = twine(index_server, token, existing, "--verbose")
    assert code == 0, output
    for dist in existing:
        assert f"File {dist.name} already exists with identical content; nothing changed" in output
    assert snapshot(index_server) == before


# -- bodies over the size limit -----------------------------------------------------------


@pytest.fixture(scope="module")
def small_server(
    database_url: str | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[IndexServer]:
    """A second index, on its own database, that accepts bodies of at most SMALL_LIMIT bytes."""
    with contextlib.ExitStack() as stack:
        url = None
        if database_url is not None:
            url = stack.enter_context(server_support.postgres_database())
        srv = server_support.start(
            tmp_path_factory.mktemp("small"), url, max_upload_bytes=str(SMALL_LIMIT)
        )
        stack.callback(srv.stop)
        yield srv


@pytest.fixture(scope="module")
def small_token(small_server: IndexServer) -> str:
    return small_server.new_user("mallory")


def _too_big_wheel() -> bytes:
    # Random bytes do not compress: the wheel is larger than the limit.
    return wheel({"tufpi_bad/blob.bin": os.urandom(SMALL_LIMIT)})


_TOO_LARGE = f"Upload too large: the limit is {SMALL_LIMIT} bytes."


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def test_upload_under_the_limit_is_accepted(small_server: IndexServer, small_token: str) -> None:
    """The control: the small server does accept an ordinary upload."""
    request = upload()
    body, _ = request.encode()
    assert len(body) < SMALL_LIMIT
    response = send(small_server, request, small_token)
    assert response.status_code == 200, response.text


def test_declared_content_length_over_the_limit_is_refused(
    small_server: IndexServer, small_token: str
) -> None:
    request = upload(content=_too_big_wheel())
    body, _ = request.encode()
    assert len(body) > SMALL_LIMIT
    before = snapshot(small_server)
    response = send(small_server, request, small_token)
    assert response.status_code == 413, response.text
    assert _TOO_LARGE in response.text
    assert _TOO_LARGE in response.reason_phrase
    assert snapshot(small_server) == before


def test_chunked_body_over_the_limit_is_refused_without_buffering(
    small_server: IndexServer, small_token: str
) -> None:
    """50 MiB sent without Content-Length: refused, and the server's memory barely moves."""
    assert small_server.process is not None
    pid = small_server.process.pid
    head, content_type = upload(content=b"").encode()
    # The (empty) content ends where the closing boundary starts: stream 50 MiB in its place.
    end = head.rindex(b"\r\n--")

    def body() -> Iterator[bytes]:
        yield head[:end]
        for _ in range(50):
            yield b"\x00" * MiB
        yield head[end:]

    Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset the peak RSS to the current RSS
    rss_before = _status_kib(pid, "VmRSS")
    before = snapshot(small_server)
    response = httpx.post(
        small_server.url + "legacy/",
        content=body(),
        headers={"content-type": content_type},
        auth=("__token__", small_token),
        timeout=60,
    )
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 413, response.text
    assert _TOO_LARGE in response.reason_phrase
    growth_kib = _status_kib(pid, "VmHWM") - rss_before
    assert growth_kib < 16 * 1024, f"server RSS grew by {growth_kib} KiB for a 50 MiB body"
    assert snapshot(small_server) == before


def test_twine_oversized_file_is_refused(
    small_server: IndexServer, small_token: str, tmp_path: Path
) -> None:
    big = tmp_path / WHEEL
    big.write_bytes(_too_big_wheel())
    before = snapshot(small_server)
    code, output = twine(small_server, small_token, [big])
    assert code != 0
    assert "413" in output
    assert _TOO_LARGE in output
    assert snapshot(small_server) == before


def test_default_limit_is_100_mib(index_server: IndexServer, token: str) -> None:
    """A declared Content-Length of 100 MiB + 1 is refused before the body is read."""
    declared = 100 * MiB + 1
    sent = 0

    def body() -> Iterator[bytes]:
        nonlocal sent
        while sent < declared:
            chunk = b"\x00" * min(MiB, declared - sent)
            sent += len(chunk)
            yield chunk

    before = snapshot(index_server)
    started = time.monotonic()
    response = httpx.post(
        index_server.url + "legacy/",
        content=body(),
        headers={
            "content-type": "multipart/form-data; boundary=x",
            "content-length": str(declared),
        },
        auth=("__token__", token),
        timeout=60,
    )
    assert response.status_code == 413, response.text
    assert f"the limit is {100 * MiB} bytes" in response.reason_phrase
    assert time.monotonic() - started < 30
    assert snapshot(index_server) == before
