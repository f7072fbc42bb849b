"""Distributions as setuptools built them for years: ``Metadata-Version: 2.1`` with
``License-File``, a field of 2.4. PyPI serves them (six, python-dateutil, botocore...), so
tufpi accepts them from twine and from ``tufpi import``, and serves their metadata files as
they are; a field newer than its Metadata-Version that PyPI refuses is still refused, with
a message naming it. Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from tests.support import clients
from tests.support.importing import run_import
from tests.support.server import IndexServer
from tests.support.setuptools_metadata import (
    BOTOCORE_1_44,
    BOTOCORE_WHEEL,
    DATEUTIL_2_9,
    DATEUTIL_WHEEL,
    SIX_1_17,
    SIX_WHEEL,
    wheel_of,
    with_header,
    with_name,
)

JSON = "application/vnd.pypi.simple.v1+json"
TOO_NEW = (
    "Invalid License-Expression: license-expression introduced in metadata version 2.4, not 2.1"
)


@pytest.fixture(scope="module")
def token(index_server: IndexServer) -> str:
    return index_server.new_user("setuptools-user")


def _write(directory: Path, filename: str, metadata: bytes) -> Path:
    path = directory / filename
    path.write_bytes(wheel_of(filename, metadata))
    return path


def _files(server: IndexServer, project: str) -> dict[str, dict[str, object]]:
    page = httpx.get(f"{server.simple}{project}/", headers={"accept": JSON}, timeout=30)
    assert page.status_code == 200, page.text
    return {f["filename"]: f for f in page.json()["files"]}


def test_twine_uploads_wheels_with_license_file_under_metadata_2_1(
    index_server: IndexServer, token: str, tmp_path: Path
) -> None:
    paths = [_write(tmp_path, SIX_WHEEL, SIX_1_17), _write(tmp_path, DATEUTIL_WHEEL, DATEUTIL_2_9)]
    result = clients.twine_upload(index_server.url, token, paths)
    assert result.returncode == 0, result.stdout + result.stderr
    for project, path, metadata in (
        ("six", paths[0], SIX_1_17),
        ("python-dateutil", paths[1], DATEUTIL_2_9),
    ):
        entry = _files(index_server, project)[path.name]
        assert entry["hashes"] == {"sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
        # The PEP 658 file is the wheel's METADATA byte for byte, License-File included.
        url = httpx.URL(f"{index_server.simple}{project}/").join(str(entry["url"]) + ".metadata")
        assert httpx.get(url, timeout=30).content == metadata
        assert b"License-File: LICENSE" in metadata
    info = httpx.get(index_server.url + "pypi/six/json", timeout=30).json()["info"]
    assert info["license"] == "MIT"
    assert info["version"] == "1.17.0"


def test_uv_publish_uploads_a_wheel_with_license_file_under_metadata_2_1(
    index_server: IndexServer, token: str, tmp_path: Path
) -> None:
    """uv puts the file's License-File in its form (astral-sh/uv#9513), where PyPI, which
    checks the form, refuses it; tufpi judges the file, and takes it from either client."""
    path = _write(tmp_path, BOTOCORE_WHEEL, BOTOCORE_1_44)
    result = clients.uv_publish(index_server.url, token, [path])
    assert result.returncode == 0, result.stdout + result.stderr
    assert path.name in _files(index_server, "botocore")


def test_a_field_newer_than_its_metadata_version_pypi_refuses_is_refused(
    index_server: IndexServer, token: str
) -> None:
    """``License-Expression`` under 2.1: twine itself refuses to send it, so the request is
    made as twine would have made it."""
    name = "six-expression"
    filename = "six_expression-1.17.0-py2.py3-none-any.whl"
    metadata = with_header(with_name(SIX_1_17, name), "License-Expression: MIT")
    content = wheel_of(filename, metadata)
    response = httpx.post(
        index_server.url + "legacy/",
        data={
            ":action": "file_upload",
            "protocol_version": "1",
            "name": name,
            "version": "1.17.0",
            "filetype": "bdist_wheel",
            "pyversion": "py2.py3",
            "metadata_version": "2.1",
            "sha256_digest": hashlib.sha256(content).hexdigest(),
        },
        files={"content": (filename, content, "application/octet-stream")},
        auth=("__token__", token),
        timeout=60,
    )
    assert response.status_code == 400, response.text
    assert TOO_NEW in response.reason_phrase
    page = httpx.get(f"{index_server.simple}{name}/", timeout=30)
    assert page.status_code == 404


def test_tufpi_import_takes_license_file_under_metadata_2_1(
    index_server: IndexServer, tmp_path: Path
) -> None:
    source = tmp_path / "source"
    source.mkdir()
    taken = _write(
        source,
        "python_dateutil_twin-2.9.0.post0-py2.py3-none-any.whl",
        with_name(DATEUTIL_2_9, "python-dateutil-twin"),
    )
    refused = _write(
        source,
        "python_dateutil_refused-2.9.0.post0-py2.py3-none-any.whl",
        with_header(with_name(DATEUTIL_2_9, "python-dateutil-refused"), "License-Expression: MIT"),
    )
    result, summary = run_import(index_server, str(source), "--no-publish")
    assert result.returncode == 0, result.stdout + result.stderr
    assert summary["imported"] == 1
    skipped = {Path(s["location"]).name: s for s in summary["skipped"]}
    assert set(skipped) == {refused.name}
    assert skipped[refused.name]["reason"] == "invalid metadata"
    assert TOO_NEW in skipped[refused.name]["detail"]
    assert taken.name in _files(index_server, "python-dateutil-twin")
