"""``tufpi install`` where people install: into the active virtualenv or ``--python``, with
uv when it is on PATH, requirements, constraints, extras and editable installs passed
through, ``--index`` as the root or the ``/simple/`` URL, settings from the nearest
pyproject.toml, and the pin carried in a requirements file (``tufpi pin``).

Real pip and uv into real virtual environments, against a real index."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import clients
from tests.support.clients import clean_env
from tests.support.dists import make_project
from tests.support.proxy import publish
from tests.support.server import IndexServer


@pytest.fixture(scope="module")
def database_url() -> None:
    """The client's workflows do not depend on the index's database: SQLite only."""
    return


@pytest.fixture(scope="module")
def fingerprint(index_server: IndexServer, workdir: Path) -> str:
    """Projects published once per module; the index's root fingerprint."""
    releases = (
        ("wf-lib", "1.0", {}),
        ("wf-lib", "2.0", {}),
        ("wf-app", "0.1", {"dependencies": ["wf-lib>=1.0"]}),
        (
            "wf-extra",
            "1.0",
            {"extras": ["fast"], "dependencies": ['wf-app; extra == "fast"']},
        ),
    )
    root = publish(index_server, workdir, "workflow-user", releases)
    return hashlib.sha256(root.read_bytes()).hexdigest()


def _venv(path: Path) -> Path:
    """A real virtual environment, without pip (the installer brings its own)."""
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, env=clean_env()
    )
    return path


def _installed(venv: Path) -> set[str]:
    return {p.name for p in venv.glob("lib/python*/site-packages/*.dist-info")}


def _tufpi(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tufpi.cli", *args],
        check=False,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=clean_env(**env),
        timeout=300,
    )


def _output(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_installs_into_the_active_virtualenv(
    index_server: IndexServer, fingerprint: str, tmp_path: Path, installer: str
) -> None:
    venv = _venv(tmp_path / "venv")
    result = _tufpi(
        "install",
        *("--index", index_server.url, "--root-sha256", fingerprint),
        *("--cache-dir", str(tmp_path / "cache"), "--installer", installer),
        *("--", "wf-app"),
        VIRTUAL_ENV=str(venv),
    )
    assert result.returncode == 0, _output(result)
    assert (
        f"installing with {installer} for {venv / 'bin' / 'python'} "
        "(the active virtual environment)" in result.stderr
    )
    assert _installed(venv) == {"wf_app-0.1.dist-info", "wf_lib-2.0.dist-info"}
    # Not into tufpi's own environment, as pip did before.
    own = Path(sys.prefix).glob("lib/python*/site-packages/wf_app*")
    assert not list(own)


def test_pip_keeps_what_the_proxy_served_in_its_cache(
    index_server: IndexServer, fingerprint: str, tmp_path: Path
) -> None:
    """pip caches nothing from an http:// host it does not trust: tufpi tells it to trust
    its proxy (which verified every byte), so a second install downloads nothing again."""
    venv = _venv(tmp_path / "venv")
    pip_cache = tmp_path / "pip-cache"
    result = _tufpi(
        "install",
        *("--index", index_server.url, "--root-sha256", fingerprint),
        *("--cache-dir", str(tmp_path / "cache"), "--installer", "pip"),
        *("--", "--cache-dir", str(pip_cache), "wf-lib==2.0"),
        VIRTUAL_ENV=str(venv),
    )
    assert result.returncode == 0, _output(result)
    kept = [p for p in (pip_cache / "http-v2").rglob("*") if p.is_file()]
    assert kept, "pip kept nothing from the proxy"


def test_a_virtualenv_with_pip_installs_with_its_own_pip(
    index_server: IndexServer, fingerprint: str, tmp_path: Path
) -> None:
    """``python -m pip`` of the environment, as its user would run it (not tufpi's pip
    started twice by ``--python``): pip's own report says which pip ran."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=clean_env())
    python = venv / "bin" / "python"
    own_version = subprocess.run(
        [str(python), "-c", "import pip; print(pip.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    report = tmp_path / "report.json"
    result = _tufpi(
        "install",
        *("--index", index_server.url, "--root-sha256", fingerprint),
        *("--cache-dir", str(tmp_path / "cache"), "--installer", "pip"),
        *("--", "--report", str(report), "wf-app"),
        VIRTUAL_ENV=str(venv),
    )
    assert result.returncode == 0, _output(result)
    assert json.loads(report.read_text())["pip_version"] == own_version
    assert _installed(venv) >= {"wf_app-0.1.dist-info", "wf_lib-2.0.dist-info"}


@pytest.mark.parametrize("installer", ["pip", "uv"])
@pytest.mark.parametrize("where", ["tufpi-option", "installer-argument"])
def test_python_names_the_target(
    index_server: IndexServer, fingerprint: str, tmp_path: Path, installer: str, where: str
) -> None:
    """``--python`` as tufpi's option, or among the installer's arguments as pip and uv take
    it (pip refused it there: it wants it before its subcommand)."""
    venv = _venv(tmp_path / "venv")
    python = ["--python", str(venv)]
    result = _tufpi(
        "install",
        *("--index", index_server.url, "--root-sha256", fingerprint),
        *("--cache-dir", str(tmp_path / "cache"), "--installer", installer),
        *(python if where == "tufpi-option" else []),
        "--",
        *(python if where == "installer-argument" else []),
        "wf-lib==1.0",
        VIRTUAL_ENV="",
    )
    assert result.returncode == 0, _output(result)
    assert _installed(venv) == {"wf_lib-1.0.dist-info"}


def test_without_a_virtualenv_tufpi_refuses_to_guess(
    index_server: IndexServer, fingerprint: str, tmp_path: Path
) -> None:
    result = _tufpi(
        "install",
        *("--index", index_server.url, "--root-sha256", fingerprint),
        *("--cache-dir", str(tmp_path / "cache"), "--installer", "pip", "--", "wf-lib"),
        VIRTUAL_ENV="",
    )
    assert result.returncode == 2
    assert "no virtual environment is active" in result.stderr
    assert "give --python" in result.stderr


def test_uv_is_used_when_it_is_on_path(
    index_server: IndexServer, fingerprint: str, tmp_path: Path
) -> None:
    uv = Path(sys.executable).parent / "uv"
    assert uv.is_file(), "the test extras install uv"
    with_uv = tmp_path / "with-uv"
    with_uv.mkdir()
    (with_uv / "uv").symlink_to(uv)
    without = tmp_path / "without-uv"
    without.mkdir()
    for path, expected in ((with_uv, "uv"), (without, "pip")):
        venv = _venv(tmp_path / f"venv-{expected}")
        result = _tufpi(
            "install",
            *("--index", index_server.url, "--root-sha256", fingerprint),
            *("--cache-dir", str(tmp_path / "cache"), "--", "wf-lib==1.0"),
            VIRTUAL_ENV=str(venv),
            PATH=str(path),
        )
        assert result.returncode == 0, _output(result)
        assert f"installing with {expected} for" in result.stderr
        assert _installed(venv) == {"wf_lib-1.0.dist-info"}


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_requirements_constraints_and_extras_pass_through(
    index_server: IndexServer, fingerprint: str, tmp_path: Path, installer: str
) -> None:
    venv = _venv(tmp_path / "venv")
    (tmp_path / "requirements.txt").write_text("wf-extra[fast]\n")
    (tmp_path / "constraints.txt").write_text("wf-lib==1.0\n")
    result = _tufpi(
        "install",
        *("--index", index_server.url, "--root-sha256", fingerprint),
        *("--cache-dir", str(tmp_path / "cache"), "--installer", installer),
        *("-r", "requirements.txt", "-c", "constraints.txt"),
        cwd=tmp_path,
        VIRTUAL_ENV=str(venv),
    )
    assert result.returncode == 0, _output(result)
    # The extra brought wf-app, whose wf-lib the constraint held at 1.0 (2.0 is newer).
    assert _installed(venv) == {
        "wf_extra-1.0.dist-info",
        "wf_app-0.1.dist-info",
        "wf_lib-1.0.dist-info",
    }


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_an_editable_local_project_installs_its_dependencies_verified(
    index_server: IndexServer, fingerprint: str, tmp_path: Path, installer: str
) -> None:
    venv = _venv(tmp_path / "venv")
    source = make_project(tmp_path, "wf-local", "0.1", dependencies=["wf-lib==1.0"])
    result = _tufpi(
        "install",
        *("--index", index_server.url, "--root-sha256", fingerprint),
        *("--cache-dir", str(tmp_path / "cache"), "--installer", installer),
        *("--", "-e", str(source)),
        VIRTUAL_ENV=str(venv),
    )
    assert result.returncode == 0, _output(result)
    assert _installed(venv) == {"wf_local-0.1.dist-info", "wf_lib-1.0.dist-info"}
    pth = next(venv.glob("lib/python*/site-packages/wf_local_editable.pth"))
    assert pth.read_text().strip() == str(source)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["-e", "git+https://127.0.0.1:9/o/r.git#egg=r"], "URL or VCS requirement"),
        (["--extra-index-url", "http://127.0.0.1:9/simple/", "wf-lib"], "--extra-index-url"),
    ],
)
def test_sources_no_signed_metadata_covers_are_refused(
    index_server: IndexServer, fingerprint: str, tmp_path: Path, args: list[str], words: str
) -> None:
    venv = _venv(tmp_path / "venv")
    result = _tufpi(
        "install",
        *("--index", index_server.url, "--root-sha256", fingerprint),
        *("--cache-dir", str(tmp_path / "cache"), "--", *args),
        VIRTUAL_ENV=str(venv),
    )
    assert result.returncode == 2
    assert words in result.stderr
    assert not _installed(venv)


def test_index_is_the_root_or_the_simple_url(
    index_server: IndexServer, fingerprint: str, tmp_path: Path
) -> None:
    venv = _venv(tmp_path / "venv")
    trust = ["--root-sha256", fingerprint, "--cache-dir", str(tmp_path / "cache")]
    ok = _tufpi(
        "install",
        "--index",
        index_server.simple,
        *trust,
        "--",
        "wf-lib==1.0",
        VIRTUAL_ENV=str(venv),
    )
    assert ok.returncode == 0, _output(ok)
    assert _installed(venv) == {"wf_lib-1.0.dist-info"}
    page = _tufpi("install", "--index", index_server.simple + "wf-lib/", *trust, "--", "x")
    assert page.returncode == 2
    assert "names a project page" in page.stderr
    elsewhere = _tufpi(
        "install", "--index", index_server.url + "no/", *trust, "--", "x", VIRTUAL_ENV=str(venv)
    )
    assert elsewhere.returncode == 1
    assert f"{index_server.url}no/ is not a tufpi index" in elsewhere.stderr
    assert "its simple API's" in elsewhere.stderr


def test_settings_come_from_the_nearest_pyproject_upward(
    index_server: IndexServer, fingerprint: str, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    deep = project / "src" / "pkg"
    deep.mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        f'[tool.tufpi]\nindex = "{index_server.simple}"\nroot-sha256 = "{fingerprint}"\n'
    )
    # A pyproject.toml without [tool.tufpi] on the way is passed by, as uv does.
    (project / "src" / "pyproject.toml").write_text('[project]\nname = "inner"\n')
    venv = _venv(tmp_path / "venv")
    result = _tufpi(
        "install",
        *("--cache-dir", str(tmp_path / "cache"), "--", "wf-lib==1.0"),
        cwd=deep,
        VIRTUAL_ENV=str(venv),
    )
    assert result.returncode == 0, _output(result)
    assert f"from {project / 'pyproject.toml'}" in result.stderr
    assert _installed(venv) == {"wf_lib-1.0.dist-info"}


def test_pin_prints_one_line_and_says_it_is_trust_on_first_use(
    index_server: IndexServer, fingerprint: str
) -> None:
    result = _tufpi("pin", index_server.simple)
    assert result.returncode == 0, _output(result)
    assert result.stdout == f"# tufpi: index={index_server.url} root-sha256={fingerprint}\n"
    assert "trust on first use" in result.stderr
    assert "Compare it with the fingerprint the index's operators publish" in result.stderr
    missing = _tufpi("pin", index_server.url + "no/")
    assert missing.returncode == 1
    assert "is not a tufpi index" in missing.stderr
    assert not missing.stdout


def _pinned_requirements(directory: Path, lines: list[str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "requirements.txt"
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_a_requirements_file_carries_the_pin(
    index_server: IndexServer, fingerprint: str, tmp_path: Path
) -> None:
    """echo "$(tufpi pin URL)" >> requirements.txt; tufpi install -r requirements.txt"""
    pin = _tufpi("pin", index_server.url).stdout.strip()
    requirements = _pinned_requirements(tmp_path, ["wf-app", pin])
    # pip reads the line as a comment.
    plain = clients.pip_install(index_server.simple, tmp_path / "plain", "-r", str(requirements))
    assert plain.returncode == 0, _output(plain)
    venv = _venv(tmp_path / "venv")
    result = _tufpi(
        "install",
        *("--cache-dir", str(tmp_path / "cache"), "-r", "requirements.txt"),
        cwd=tmp_path,
        VIRTUAL_ENV=str(venv),
    )
    assert result.returncode == 0, _output(result)
    assert f"index {index_server.url} from requirements.txt:2" in result.stderr
    assert f"root-sha256 {fingerprint} from requirements.txt:2" in result.stderr
    assert _installed(venv) == {"wf_app-0.1.dist-info", "wf_lib-2.0.dist-info"}


def test_a_pin_in_a_nested_requirements_file_is_honoured(
    index_server: IndexServer, fingerprint: str, tmp_path: Path
) -> None:
    pin = f"# tufpi: index={index_server.url} root-sha256={fingerprint}"
    _pinned_requirements(tmp_path / "base", [pin, "wf-lib==1.0"])
    _pinned_requirements(tmp_path, ["-r base/requirements.txt"])
    venv = _venv(tmp_path / "venv")
    result = _tufpi(
        "install",
        *("--cache-dir", str(tmp_path / "cache"), "-r", "requirements.txt"),
        cwd=tmp_path,
        VIRTUAL_ENV=str(venv),
    )
    assert result.returncode == 0, _output(result)
    assert _installed(venv) == {"wf_lib-1.0.dist-info"}


def _tampered(fingerprint: str) -> str:
    return ("0" if fingerprint[0] != "0" else "1") + fingerprint[1:]


def test_a_tampered_pin_is_refused_naming_both_fingerprints(
    index_server: IndexServer, fingerprint: str, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    tampered = _tampered(fingerprint)
    pin = f"# tufpi: index={index_server.url} root-sha256={tampered}"
    _pinned_requirements(tmp_path, ["wf-lib==1.0", pin])
    venv = _venv(tmp_path / "venv")
    # A cache already bootstrapped from the real root does not help the tampered pin either.
    honest = _tufpi(
        "install",
        *("--index", index_server.url, "--root-sha256", fingerprint, "--cache-dir", str(cache)),
        *("--", "wf-lib==1.0"),
        VIRTUAL_ENV=str(venv),
    )
    assert honest.returncode == 0, _output(honest)
    other = _venv(tmp_path / "other")
    for cache_dir in (tmp_path / "fresh-cache", cache):
        result = _tufpi(
            "install",
            *("--cache-dir", str(cache_dir), "-r", "requirements.txt"),
            cwd=tmp_path,
            VIRTUAL_ENV=str(other),
        )
        assert result.returncode == 1
        assert f"has sha256 {fingerprint}, not the pinned {tampered}" in result.stderr
        assert not _installed(other)


def test_conflicting_pins_are_refused(
    index_server: IndexServer, fingerprint: str, tmp_path: Path
) -> None:
    pin = f"# tufpi: index={index_server.url} root-sha256="
    _pinned_requirements(tmp_path, [pin + fingerprint, "wf-lib", pin + _tampered(fingerprint)])
    venv = _venv(tmp_path / "venv")
    result = _tufpi(
        "install",
        *("--cache-dir", str(tmp_path / "cache"), "-r", "requirements.txt"),
        cwd=tmp_path,
        VIRTUAL_ENV=str(venv),
    )
    assert result.returncode == 1
    assert "conflicting pins: requirements.txt:1 says root-sha256" in result.stderr
    assert "requirements.txt:3 says" in result.stderr
    # So is a pin the command line contradicts.
    _pinned_requirements(tmp_path, [pin + fingerprint, "wf-lib"])
    result = _tufpi(
        "install",
        *("--root-sha256", _tampered(fingerprint), "--cache-dir", str(tmp_path / "cache")),
        *("-r", "requirements.txt"),
        cwd=tmp_path,
        VIRTUAL_ENV=str(venv),
    )
    assert result.returncode == 1
    assert "conflicting pins" in result.stderr
    assert not _installed(venv)
