"""Uploads as twine sends them, straight from memory: for tests that upload many files fast."""

from __future__ import annotations

import hashlib
import io
import zipfile

import httpx


def tiny_wheel(name: str, version: str) -> tuple[str, bytes]:
    """A minimal valid wheel: (filename, bytes), the same bytes for the same arguments."""
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    members = {
        f"{dist}/__init__.py": f"VERSION = {version!r}\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{info}/RECORD": "",
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, content in members.items():
            # A fixed timestamp: the bytes (and the hashes) depend on the arguments only.
            archive.writestr(zipfile.ZipInfo(path, (2020, 1, 1, 0, 0, 0)), content)
    return f"{dist}-{version}-py3-none-any.whl", buffer.getvalue()


def post_wheel(
    client: httpx.Client, index_url: str, token: str, name: str, version: str
) -> httpx.Response:
    """POST a tiny wheel to ``/legacy/`` with the fields twine sends."""
    filename, data = tiny_wheel(name, version)
    fields = {
        ":action": "file_upload",
        "protocol_version": "1",
        "name": name,
        "version": version,
        "filetype": "bdist_wheel",
        "pyversion": "py3",
        "metadata_version": "2.1",
        "sha256_digest": hashlib.sha256(data).hexdigest(),
    }
    return client.post(
        index_url + "legacy/",
        data=fields,
        files={"content": (filename, data, "application/octet-stream")},
        auth=("__token__", token),
    )
