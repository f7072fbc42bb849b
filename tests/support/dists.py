"""Throwaway projects for tests, built by real build front-ends (uv build / pip wheel).

Each project carries a tiny in-tree PEP 517 backend with no build requirements, so building
it, and pip building its sdist at install time, needs no network and no setuptools.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.clients import clean_env

_BACKEND = r'''
"""A minimal PEP 517 backend (stdlib only) for tufpi's test projects."""
import base64, hashlib, io, json, os, tarfile, time, zipfile

CONFIG = json.loads(%(config)r)
NAME, VERSION = CONFIG["name"], CONFIG["version"]
DIST = NAME.replace("-", "_").replace(".", "_").lower()
MODULE = CONFIG["module"]


def _metadata():
    lines = ["Metadata-Version: 2.1", "Name: " + NAME, "Version: " + VERSION,
             "Summary: " + CONFIG["summary"]]
    if CONFIG.get("requires_python"):
        lines.append("Requires-Python: " + CONFIG["requires_python"])
    lines += ["Provides-Extra: " + e for e in CONFIG.get("extras", [])]
    lines += ["Requires-Dist: " + d for d in CONFIG.get("dependencies", [])]
    return ("\n".join(lines) + "\n\n" + CONFIG.get("description", "") + "\n").encode()


def _code():
    return ("VERSION = %%r\n" %% VERSION).encode()


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def _record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%%s,sha256=%%s,%%d" %% (path, digest, len(data))


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    tag = CONFIG.get("wheel_tag", "py3-none-any")
    filename = "%%s-%%s-%%s.whl" %% (DIST, VERSION, tag)
    info = "%%s-%%s.dist-info" %% (DIST, VERSION)
    files = {
        MODULE + "/__init__.py": _code(),
        info + "/METADATA": _metadata(),
        info + "/WHEEL": ("Wheel-Version: 1.0\nGenerator: tufpi-tests\nRoot-Is-Purelib: true\n"
                          "Tag: %%s\n" %% tag).encode(),
    }
    record = [_record_line(p, d) for p, d in files.items()] + [info + "/RECORD,,"]
    files[info + "/RECORD"] = ("\n".join(record) + "\n").encode()
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as zf:
        for path, data in files.items():
            zf.writestr(zipfile.ZipInfo(path, (2020, 1, 1, 0, 0, 0)), data)
    return filename


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    """PEP 660: a wheel whose .pth puts this source tree on sys.path."""
    filename = "%%s-%%s-py3-none-any.whl" %% (DIST, VERSION)
    info = "%%s-%%s.dist-info" %% (DIST, VERSION)
    here = os.path.dirname(os.path.abspath(__file__))
    files = {
        DIST + "_editable.pth": (here + "\n").encode(),
        info + "/METADATA": _metadata(),
        info + "/WHEEL": b"Wheel-Version: 1.0\nGenerator: tufpi-tests\nRoot-Is-Purelib: true\n"
                         b"Tag: py3-none-any\n",
    }
    record = [_record_line(p, d) for p, d in files.items()] + [info + "/RECORD,,"]
    files[info + "/RECORD"] = ("\n".join(record) + "\n").encode()
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as zf:
        for path, data in files.items():
            zf.writestr(zipfile.ZipInfo(path, (2020, 1, 1, 0, 0, 0)), data)
    return filename


def build_sdist(sdist_directory, config_settings=None):
    base = "%%s-%%s" %% (DIST, VERSION)
    filename = base + ".tar.gz"
    here = os.path.dirname(os.path.abspath(__file__))
    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz") as tf:
        def add(name, data):
            ti = tarfile.TarInfo(base + "/" + name)
            ti.size, ti.mtime = len(data), 1577836800
            tf.addfile(ti, io.BytesIO(data))
        add("PKG-INFO", _metadata())
        for name in ("pyproject.toml", "backend.py"):
            with open(os.path.join(here, name), "rb") as f:
                add(name, f.read())
    return filename
'''

_PYPROJECT = """\
[build-system]
requires = []
build-backend = "backend"
backend-path = ["."]
"""


def make_project(
    root: Path,
    name: str,
    version: str,
    *,
    dependencies: list[str] | None = None,
    requires_python: str | None = None,
    summary: str = "A throwaway project for tufpi's tests",
    wheel_tag: str = "py3-none-any",
    extras: list[str] | None = None,
) -> Path:
    """Write a buildable project source tree and return its directory (``extras``: the
    extras it provides, named in ``dependencies`` markers such as ``extra == "fast"``)."""
    config = {
        "name": name,
        "version": version,
        "module": name.replace("-", "_").replace(".", "_").lower(),
        "summary": summary,
        "dependencies": dependencies or [],
        "requires_python": requires_python,
        "wheel_tag": wheel_tag,
        "extras": extras or [],
    }
    src = root / f"src-{name}-{version}"
    src.mkdir(parents=True)
    (src / "pyproject.toml").write_text(_PYPROJECT)
    (src / "backend.py").write_text(_BACKEND % {"config": json.dumps(config)})
    return src


def build(src: Path, out: Path) -> list[Path]:
    """Build an sdist and a wheel of ``src`` into ``out`` with ``uv build`` (no network)."""
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "uv",
            "build",
            "--sdist",
            "--wheel",
            "--out-dir",
            str(out),
            str(src),
        ],
        check=True,
        capture_output=True,
        env=clean_env(),
    )
    return sorted(p for p in out.iterdir() if p.name.endswith((".whl", ".tar.gz")))


def make_dists(root: Path, name: str, version: str, **kwargs: object) -> list[Path]:
    """Build a throwaway project into ``root/dist-NAME-VERSION``; returns [sdist, wheel]."""
    src = make_project(root, name, version, **kwargs)  # type: ignore[arg-type]
    return build(src, root / f"dist-{name}-{version}")
