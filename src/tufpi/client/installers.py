"""Which installer ``tufpi install`` runs, into which Python, and with which command line.

The target is the interpreter given with ``--python`` (a path, a virtual environment's
directory, or a command name on ``PATH``, as ``pip --python`` and ``uv pip install --python``
take it), else the active virtual environment (``VIRTUAL_ENV``); with neither, tufpi refuses
rather than install into its own environment. Both installers are told the target
explicitly: pip with ``--python`` *before* its ``install`` subcommand (pip refuses it after:
"The --python option must be placed before the pip subcommand name", which is why a
``--python`` among the installer's arguments used to fail), uv with ``--python``.

uv is used when it is on ``PATH``, unless ``--installer pip`` is given.

Pure decisions, apart from looking up programs and interpreters on this machine.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import os
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from tufpi.client.credentials import TOKEN_ENV
from tufpi.client.forward import installer_proxy_env, origin_of

__all__ = [
    "INSTALLERS",
    "InstallerError",
    "Target",
    "choose_installer",
    "find_target",
    "installer_command",
    "installer_env",
    "installer_timeout",
    "refused_argument",
    "split_python",
]

PIP = "pip"
UV = "uv"
INSTALLERS = (PIP, UV)
# Seconds the installer waits beyond tufpi's download deadline (``installer_timeout``).
INSTALLER_TIMEOUT_MARGIN = 30.0
# Settings that could make an installer read from another index, unverified.
_INDEX_ENV_PREFIXES = ("PIP_", "UV_")
# Installer options that name another source of packages than the verifying proxy.
_OTHER_SOURCES = frozenset(
    {"-i", "--index-url", "--extra-index-url", "--index", "--default-index", "-f", "--find-links"}
)
_VCS_PREFIXES = ("git+", "hg+", "svn+", "bzr+")
_URLS = ("http", "https")

Which = Callable[[str], str | None]


class InstallerError(ValueError):
    """The installer, its target or an argument cannot be used (the message says why)."""


@dataclasses.dataclass(frozen=True)
class Target:
    """The interpreter packages are installed for, and why that one (for the user)."""

    python: str
    why: str


def choose_installer(requested: str | None, which: Which = shutil.which) -> str:
    """``requested``, else uv when it is on ``PATH``, else pip."""
    if requested is not None:
        return requested
    return UV if which(UV) else PIP


def split_python(args: Sequence[str]) -> tuple[str | None, list[str]]:
    """A ``--python X`` (or ``--python=X``) among the installer's arguments, lifted out: it
    names the target, which tufpi gives each installer where it accepts it.

    Raises:
        InstallerError: ``--python`` without a value, or given twice.
    """
    python: str | None = None
    rest: list[str] = []
    items = iter(args)
    for arg in items:
        if arg != "--python" and not arg.startswith("--python="):
            rest.append(arg)
            continue
        value = arg.partition("=")[2] if "=" in arg else next(items, "")
        if not value:
            raise InstallerError("--python needs an interpreter (a path or a command name)")
        if python is not None and value != python:
            raise InstallerError(f"--python given twice: {python!r} and {value!r}")
        python = value
    return python, rest


def _venv_python(directory: Path) -> Path | None:
    for name in ("bin/python", "Scripts/python.exe"):
        if (directory / name).is_file():
            return directory / name
    return None


def _interpreter(python: str, which: Which) -> str:
    """The path of the interpreter ``python`` names: a file, a virtual environment's
    directory (its ``bin/python``), or a command on ``PATH`` (as pip and uv take it)."""
    path = Path(python).expanduser()
    if path.is_dir():
        found = _venv_python(path)
        if found is None:
            raise InstallerError(f"--python {python!r}: a directory without bin/python")
        return str(found.absolute())
    if path.is_file():
        return str(path.absolute())
    on_path = which(python)
    if on_path is None:
        raise InstallerError(f"--python {python!r}: no such interpreter (not a file, not on PATH)")
    return on_path


def find_target(
    python: str | None, environ: Mapping[str, str] = os.environ, which: Which = shutil.which
) -> Target:
    """The interpreter to install for: ``--python``, else the active virtual environment.

    Raises:
        InstallerError: neither, or what they name is not an interpreter.
    """
    if python is not None:
        return Target(_interpreter(python, which), "--python")
    venv = environ.get("VIRTUAL_ENV")
    if venv:
        found = _venv_python(Path(venv))
        if found is None:
            raise InstallerError(f"VIRTUAL_ENV names {venv}, which has no bin/python")
        return Target(str(found), "the active virtual environment")
    raise InstallerError(
        "no virtual environment is active: activate one, or give --python (an interpreter, "
        f"a virtual environment's directory, or a command such as python3). tufpi does not "
        f"install into its own environment ({sys.prefix})"
    )


def refused_argument(args: Sequence[str]) -> str | None:
    """Why one of the installer's arguments is refused (None: all may pass).

    Everything ``tufpi install`` installs comes through the verifying proxy, so arguments
    that name another source are refused up front, in words, rather than by the proxy
    mid-install: other indexes (``--extra-index-url``...), and URL or VCS requirements
    (``-e git+https://...``, ``name @ https://...``), which no signed metadata covers.
    A local directory (``-e ./project``) is the user's own code and passes; its build
    requirements and dependencies come from the index, verified. Requirements files pass:
    what they name is installed through the proxy, which refuses every other host.
    """
    for arg in args:
        option = arg.partition("=")[0]
        if option in _OTHER_SOURCES:
            return (
                f"{option}: tufpi install takes packages from the verified index only "
                "(give the index with --index)"
            )
        requirement = arg.partition("@")[2].strip() if "@" in arg else arg
        if requirement.startswith(_VCS_PREFIXES) or urlsplit(requirement).scheme in _URLS:
            return (
                f"{arg!r} is a URL or VCS requirement, which no signed metadata covers: "
                "install it from the index, or from a local directory you checked"
            )
    return None


def installer_timeout(download_timeout: float) -> float:
    """The installer's network timeout: above tufpi's download deadline, so that a slow file
    is refused by tufpi, in its words ("slow retrieval"), before the installer gives up on
    the proxy with its own "Read timed out" (pip's default is 15 s, uv's 30 s; tufpi's 60 s).
    """
    return download_timeout + INSTALLER_TIMEOUT_MARGIN


def _has_own_pip(python: str) -> bool:
    """Whether pip is installed beside the interpreter ``python`` (in its environment's
    site-packages), seen on disk without starting it."""
    root = Path(python).parent.parent
    unix = root.glob("lib/python3*/site-packages/pip/__init__.py")
    return any(unix) or (root / "Lib" / "site-packages" / "pip" / "__init__.py").is_file()


def _pip(python: str | None) -> list[str]:
    """pip, for the interpreter ``python``: the pip installed there (``python -m pip``, as a
    user would run it), else tufpi's own pip with ``--python`` (which must come before the
    subcommand; it starts pip a second time, under ``python``: 0.2 s more)."""
    if python is None or Path(python) == Path(sys.executable):
        return [sys.executable, "-m", "pip"]
    if _has_own_pip(python) or importlib.util.find_spec("pip") is None:
        return [python, "-m", "pip"]
    return [sys.executable, "-m", "pip", "--python", python]


def installer_command(
    installer: str,
    simple_url: str,
    args: Sequence[str],
    timeout: float | None = None,
    python: str | None = None,
) -> list[str]:
    """pip or uv, told to install for ``python``, to use only the proxy and to ignore
    configured extra indexes (pip also to reach every host through the proxy, which serves
    only itself: ``forward``); pip given ``timeout`` (seconds) before ``args``, which may
    still override it (uv: see ``installer_env``)."""
    if installer == PIP:
        pip = [*_pip(python), "--isolated", "--disable-pip-version-check"]
        timeout_args = ["--timeout", f"{timeout:g}"] if timeout is not None else []
        proxy_args = ["--proxy", origin_of(simple_url)]
        # pip keeps nothing in its cache from an http:// host it is not told to trust: the
        # proxy is on loopback and verifies every byte, so a warm install may use the cache.
        proxy_args += ["--trusted-host", urlsplit(simple_url).netloc]
        return [*pip, "install", "--index-url", simple_url, *proxy_args, *timeout_args, *args]
    if installer == UV:
        uv = shutil.which(UV)
        program = [uv] if uv else [sys.executable, "-m", "uv"]
        target = ["--python", python] if python is not None else []
        return [
            *program,
            "pip",
            "install",
            "--no-config",
            *target,
            "--index-url",
            simple_url,
            *args,
        ]
    raise ValueError(f"unknown installer {installer!r}")


def installer_env(timeout: float | None = None, proxy_url: str | None = None) -> dict[str, str]:
    """This environment without PIP_*/UV_* settings (extra indexes, find-links...), and
    without the index token: the installer talks only to the proxy, and the build backends
    it runs for sdists are code from the index. uv's HTTP timeout is ``timeout`` (whole
    seconds, rounded up). With ``proxy_url``, every HTTP proxy variable names it and
    ``NO_PROXY`` is dropped (``forward.installer_proxy_env``)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_INDEX_ENV_PREFIXES) and k != TOKEN_ENV
    }
    env["PIP_CONFIG_FILE"] = os.devnull
    if timeout is not None:
        env["UV_HTTP_TIMEOUT"] = str(math.ceil(timeout))
    return env if proxy_url is None else installer_proxy_env(env, proxy_url)
