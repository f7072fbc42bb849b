"""Running real clients (twine, pip, uv) isolated from this machine's global configuration."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PIP = [sys.executable, "-m", "pip"]


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without PIP_*/UV_*/TWINE_* settings, and no pip config file."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "UV_", "TWINE_")) and k not in ("PYTHONPATH",)
    }
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["UV_NO_CONFIG"] = "1"
    # pip's user agent asks `rustc --version` with a 0.5 s timeout; under load rustup's proxy
    # is killed at the timeout and the real rustc it started is left behind, an orphan the
    # suite's leak check then reports. No test builds Rust: rustc is kept off the PATH.
    path = env.get("PATH", os.defpath).split(os.pathsep)
    env["PATH"] = os.pathsep.join(d for d in path if not (Path(d) / "rustc").exists())
    env.update(extra)
    return env


def run(args: list[str], **extra_env: str) -> subprocess.CompletedProcess[str]:
    """Run a client command, capturing output; never raises on failure."""
    return subprocess.run(
        args, check=False, capture_output=True, text=True, env=clean_env(**extra_env), timeout=300
    )


def twine_upload(
    url: str, token: str, files: list[Path], *extra: str
) -> subprocess.CompletedProcess[str]:
    return run(
        [
            sys.executable,
            "-m",
            "twine",
            "upload",
            "--non-interactive",
            "--disable-progress-bar",
            "--repository-url",
            url + "legacy/",
            "-u",
            "__token__",
            "-p",
            token,
            *extra,
            *map(str, files),
        ]
    )


def uv_publish(url: str, token: str, files: list[Path]) -> subprocess.CompletedProcess[str]:
    return run(
        [
            sys.executable,
            "-m",
            "uv",
            "publish",
            "--publish-url",
            url + "legacy/",
            "--username",
            "__token__",
            "--password",
            token,
            *map(str, files),
        ]
    )


def pip_install(index: str, target: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--isolated",
            "--no-cache-dir",
            "--index-url",
            index,
            "--target",
            str(target),
            *args,
        ]
    )


def uv_pip_install(index: str, target: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run(
        [
            sys.executable,
            "-m",
            "uv",
            "pip",
            "install",
            "--no-cache",
            "--python",
            sys.executable,
            "--index-url",
            index,
            "--target",
            str(target),
            *args,
        ]
    )
