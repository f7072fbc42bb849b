"""Which installer tufpi install runs, for which Python, with what (pure decisions)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tufpi.client import installers
from tufpi.client.installers import InstallerError

URL = "http://127.0.0.1:3141/h/simple/"


def _venv(root: Path) -> Path:
    python = root / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("")
    return python


def test_uv_when_on_path_unless_pip_is_asked_for() -> None:
    assert installers.choose_installer(None, lambda name: "/usr/bin/uv") == "uv"
    assert installers.choose_installer(None, lambda name: None) == "pip"
    assert installers.choose_installer("pip", lambda name: "/usr/bin/uv") == "pip"


def test_the_active_virtualenv_is_the_target(tmp_path: Path) -> None:
    python = _venv(tmp_path / "venv")
    target = installers.find_target(None, {"VIRTUAL_ENV": str(tmp_path / "venv")})
    assert target == installers.Target(str(python), "the active virtual environment")


def test_python_names_a_file_a_venv_directory_or_a_command(tmp_path: Path) -> None:
    python = _venv(tmp_path / "venv")
    env = {"VIRTUAL_ENV": "/elsewhere"}  # --python wins over the active environment
    assert installers.find_target(str(python), env).python == str(python)
    assert installers.find_target(str(tmp_path / "venv"), env).python == str(python)
    found = installers.find_target("python3", env, which=lambda name: f"/usr/bin/{name}")
    assert found == installers.Target("/usr/bin/python3", "--python")
    with pytest.raises(InstallerError, match="no such interpreter"):
        installers.find_target("python9", env, which=lambda name: None)
    with pytest.raises(InstallerError, match="without bin/python"):
        installers.find_target(str(tmp_path), env)


def test_without_a_virtualenv_or_python_tufpi_refuses_to_guess() -> None:
    """Why: pip used to install into tufpi's own environment (pipx's, say)."""
    with pytest.raises(InstallerError, match="no virtual environment is active"):
        installers.find_target(None, {})


def test_python_is_lifted_out_of_the_installers_arguments() -> None:
    assert installers.split_python(["--python", "/v/bin/python", "x"]) == ("/v/bin/python", ["x"])
    assert installers.split_python(["--python=/v", "-r", "r.txt"]) == ("/v", ["-r", "r.txt"])
    assert installers.split_python(["x"]) == (None, ["x"])
    with pytest.raises(InstallerError, match="given twice"):
        installers.split_python(["--python", "a", "--python", "b"])
    with pytest.raises(InstallerError, match="needs an interpreter"):
        installers.split_python(["--python"])


def test_pip_gets_python_before_its_subcommand() -> None:
    """Why: pip refuses --python after ``install`` ("must be placed before the pip
    subcommand name"), where the user's arguments go."""
    command = installers.installer_command("pip", URL, ["x"], 90, "/v/bin/python")
    assert command[command.index("--python") + 1] == "/v/bin/python"
    assert command.index("--python") < command.index("install") < command.index("x")
    # tufpi's own interpreter needs no re-execution.
    own = installers.installer_command("pip", URL, ["x"], 90, sys.executable)
    assert "--python" not in own


def test_pip_trusts_the_proxy_so_its_cache_is_used() -> None:
    """pip caches nothing from an http:// host it does not trust (its insecure adapter has
    no cache): without this every warm install downloads every file again."""
    command = installers.installer_command("pip", "http://127.0.0.1:3141/h/simple/", ["x"])
    assert command[command.index("--trusted-host") + 1] == "127.0.0.1:3141"
    assert "--trusted-host" not in installers.installer_command("uv", URL, ["x"])


def test_a_target_with_pip_runs_its_own(tmp_path: Path) -> None:
    """``python -m pip`` of the target, as its user would run it: pip once, not twice."""
    python = tmp_path / "v" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("")
    without = installers.installer_command("pip", URL, ["x"], 90, str(python))
    assert without[without.index("--python") + 1] == str(python)
    pip = tmp_path / "v" / "lib" / "python3.12" / "site-packages" / "pip"
    pip.mkdir(parents=True)
    (pip / "__init__.py").write_text("")
    command = installers.installer_command("pip", URL, ["x"], 90, str(python))
    assert command[:3] == [str(python), "-m", "pip"]
    assert "--python" not in command


def test_uv_gets_python_and_no_config() -> None:
    command = installers.installer_command("uv", URL, ["x"], 90, "/v/bin/python")
    assert command[command.index("install") :][:4] == [
        "install",
        "--no-config",
        "--python",
        "/v/bin/python",
    ]
    assert command[-1] == "x"


@pytest.mark.parametrize(
    "args",
    [
        ["--extra-index-url", "https://elsewhere/simple/", "x"],
        ["--index-url=https://elsewhere/simple/", "x"],
        ["-f", "https://elsewhere/links/", "x"],
        ["-e", "git+https://github.com/o/r#egg=r"],
        ["r @ https://elsewhere/r-1.0-py3-none-any.whl"],
        ["https://elsewhere/r-1.0-py3-none-any.whl"],
    ],
)
def test_other_sources_are_refused_in_words(args: list[str]) -> None:
    why = installers.refused_argument(args)
    assert why is not None
    assert "index" in why or "URL or VCS" in why


@pytest.mark.parametrize(
    "args",
    [
        ["-r", "requirements.txt", "-c", "constraints.txt"],
        ["px-app[fast]>=1", "--target", "/tmp/t@1"],
        ["-e", "./project", "--no-deps"],
        ["--upgrade", "px-lib==1.0"],
    ],
)
def test_ordinary_arguments_pass_unchanged(args: list[str]) -> None:
    assert installers.refused_argument(args) is None
    assert installers.installer_command("pip", URL, args)[-len(args) :] == args
