"""A small, ordinary index to look at: a few projects with READMEs, links and classifiers,
several releases, one yanked; for the browser tests' accessibility and phone checks and for
the README's screenshots (scripts/screenshots)."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

import httpx
from packaging.metadata import parse_email
from packaging.utils import parse_wheel_filename

from tests.support.server import IndexServer
from tests.support.wheelfile import zip_wheel

README = """# {name}

{summary}. This is a demonstration project on a tufpi index: every file below is a
signed TUF target, and pip or uv install it unchanged.

## Install

```bash
pip install {name}
```

## Use

```python
import {module}

print({module}.__version__)
```

| Feature | Status |
|---------|--------|
| Signed metadata (PEP 458) | yes |
| Transparency log | yes |

See the [documentation](https://example.org/{name}/) for more.
"""

# name, summary, versions (the last is the latest), keywords.
PROJECTS = [
    ("sampleproject", "A sample Python project", ["3.0.0", "4.0.0", "4.1.0"], "sample,demo"),
    ("tinyhttp", "A tiny HTTP client with timeouts on every read", ["0.9", "1.0"], "http"),
    ("colorful-logs", "Log lines in colour for terminals that have it", ["2.3.1"], "logging"),
]
PASSWORD = "correct horse battery staple"
YANKED = ("sampleproject", "4.1.0", "Broken wheel for Python 3.13; use 4.0.0")


def metadata_wheel(name: str, version: str, metadata: bytes) -> tuple[str, bytes]:
    """A wheel of ``name`` ``version`` holding ``metadata`` as its METADATA: (filename,
    bytes)."""
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    files = {
        f"{dist}/__init__.py": f"__version__ = {version!r}\n".encode(),
        f"{info}/METADATA": metadata,
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    return f"{dist}-{version}-py3-none-any.whl", zip_wheel(files, info)


def metadata(name: str, version: str, summary: str, keywords: str) -> bytes:
    """Ordinary core metadata for a demonstration project, with a markdown README."""
    headers = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {version}",
        f"Summary: {summary}",
        "Author: The tufpi developers",
        "Author-email: Ada Example <ada@example.org>",
        "License: MIT",
        f"Keywords: {keywords}",
        "Requires-Python: >=3.9",
        f"Project-URL: Homepage, https://example.org/{name}/",
        f"Project-URL: Source, https://example.org/{name}/source/",
        "Classifier: Programming Language :: Python :: 3",
        "Classifier: License :: OSI Approved :: MIT License",
        "Description-Content-Type: text/markdown",
    ]
    module = name.replace("-", "_")
    readme = README.format(name=name, summary=summary, module=module)
    return ("\n".join(headers) + "\n\n" + readme).encode()


def wheels(directory: Path, projects: Sequence[tuple[str, str, list[str], str]]) -> list[Path]:
    """The demonstration wheels, written to ``directory``, oldest release first."""
    paths = []
    for name, summary, versions, keywords in projects:
        for version in versions:
            filename, data = metadata_wheel(
                name, version, metadata(name, version, summary, keywords)
            )
            (directory / filename).write_bytes(data)
            paths.append(directory / filename)
    return paths


def _form_metadata(wheel: bytes, filename: str) -> dict[str, str | list[str]]:
    """The core metadata fields of ``wheel`` as twine puts them in the upload form (PyPI
    and tufpi take the release's description from the form)."""
    dist, version, _ = filename.split("-", 2)
    with zipfile.ZipFile(io.BytesIO(wheel)) as archive:
        raw, _ = parse_email(archive.read(f"{dist}-{version}.dist-info/METADATA"))
    return {k: v for k, v in raw.items() if isinstance(v, (str, list))}


def post_wheels(server: IndexServer, token: str, paths: Sequence[Path]) -> None:
    """Upload wheels to ``/legacy/`` with the fields twine sends, from this process (a
    twine process costs seconds; the flows that are about twine run it)."""
    with httpx.Client(timeout=60) as client:
        for path in paths:
            name, version, _, _ = parse_wheel_filename(path.name)
            data = path.read_bytes()
            fields: dict[str, str | list[str]] = {
                **_form_metadata(data, path.name),
                ":action": "file_upload",
                "protocol_version": "1",
                "name": name,
                "version": str(version),
                "filetype": "bdist_wheel",
                "pyversion": "py3",
                "metadata_version": "2.1",
                "sha256_digest": hashlib.sha256(data).hexdigest(),
            }
            response = client.post(
                server.url + "legacy/",
                data=fields,
                files={"content": (path.name, data, "application/octet-stream")},
                auth=("__token__", token),
            )
            if response.status_code != 200:
                raise AssertionError(
                    f"upload of {path.name}: {response.status_code} {response.text}"
                )


def fill(
    server: IndexServer,
    directory: Path,
    user: str = "ada",
    password: str | None = None,
    others: Sequence[str] = (),
) -> str:
    """Create ``user`` (who signs in with ``password``, if given) and the accounts
    ``others`` (API tokens only), upload the demonstration projects as ``user`` and yank one
    release; returns ``user``'s API token."""
    commands = [["user", "add", name, "--no-password"] for name in others]
    if password is None:
        commands.insert(0, ["user", "add", user, "--no-password"])
    else:
        _with_password(server, ["user", "add", user, "--password-stdin"], password)
    token = server.cli_each(*commands, ["token", "create", "--user", user])[-1].strip()
    post_wheels(server, token, wheels(directory, PROJECTS))
    yank(server, token, *YANKED)
    return token


def yank(server: IndexServer, token: str, project: str, version: str, reason: str) -> None:
    """Yank a release through the management API (``/api/v1/``), as an owner's token."""
    response = httpx.post(
        f"{server.url}api/v1/projects/{project}/releases/{version}/yank",
        json={"reason": reason},
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    if response.status_code != 200:
        raise AssertionError(f"yank of {project} {version}: {response.status_code} {response.text}")


def _with_password(server: IndexServer, args: list[str], password: str) -> None:
    """``tufpi ARGS``, which reads ``password`` from its standard input."""
    result = subprocess.run(
        [sys.executable, "-m", "tufpi.cli", *args],
        input=password + "\n",
        capture_output=True,
        text=True,
        env=server.env,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"tufpi {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
