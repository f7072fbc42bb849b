"""The pin line in requirements files, and which index and root win (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tufpi.client.credentials import parse_index_url
from tufpi.client.pins import (
    Pin,
    PinError,
    choose,
    parse_pin,
    pin_line,
    read_pins,
    requirement_files,
)
from tufpi.client.settings import ProjectSettings

A = "a" * 64
B = "b" * 64
INDEX = "https://pypi.example.org/"


def _normalise(url: str) -> str:
    return parse_index_url(url).url


def test_the_line_round_trips_and_pip_reads_a_comment() -> None:
    line = pin_line(INDEX, A.upper())
    assert line == f"# tufpi: index={INDEX} root-sha256={A}"
    assert line.startswith("#")  # pip and uv skip it
    assert parse_pin(line, "r.txt:1", _normalise) == Pin(INDEX, A, "r.txt:1")
    # The simple API's URL names the same index.
    assert parse_pin(f"#tufpi: root-sha256={A} index={INDEX}simple/", "s", _normalise) == Pin(
        INDEX, A, "s"
    )
    assert parse_pin("# a comment", "s", _normalise) is None
    assert parse_pin("px-lib==1.0", "s", _normalise) is None


@pytest.mark.parametrize(
    ("line", "words"),
    [
        (f"# tufpi: index={INDEX}", "both"),
        (f"# tufpi: index={INDEX} root-sha256=abc", "64 hex"),
        (f"# tufpi: index={INDEX} root-sha256={A} extra=1", "not a tufpi pin"),
        (f"# tufpi: index=ftp://h/ root-sha256={A}", "http"),
        (f"# tufpi: index=https://__token__:t@h/ root-sha256={A}", "credentials"),
    ],
)
def test_malformed_pins_are_refused_naming_the_line(line: str, words: str) -> None:
    with pytest.raises(PinError, match=words) as refused:
        parse_pin(line, "req.txt:7", _normalise)
    assert "req.txt:7" in str(refused.value)


def test_requirement_files_among_the_arguments() -> None:
    args = ["-r", "a.txt", "-rb.txt", "--requirement", "c.txt", "--requirement=d.txt", "-c", "x"]
    assert requirement_files(args) == [Path(p) for p in ("a.txt", "b.txt", "c.txt", "d.txt")]


def test_nested_requirement_files_are_read_once(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "requirements.txt").write_text("px-app\n-r sub/base.txt\n")
    (tmp_path / "sub" / "base.txt").write_text(
        f"{pin_line(INDEX, A)}\n--requirement ../requirements.txt  # a cycle\n"
    )
    pins = read_pins([tmp_path / "requirements.txt"], _normalise)
    assert pins == [Pin(INDEX, A, f"{tmp_path / 'sub' / 'base.txt'}:1")]
    # A file that does not exist is left to the installer to report.
    assert read_pins([tmp_path / "missing.txt"], _normalise) == []


def _pin(index: str = INDEX, root: str = A, source: str = "r.txt:1") -> Pin:
    return Pin(index, root, source)


def test_the_pin_gives_index_and_root_unless_options_do() -> None:
    chosen = choose(None, None, [_pin()], ProjectSettings(), _normalise)
    assert (chosen.index, chosen.root_sha256, chosen.index_from, chosen.root_from) == (
        INDEX,
        A,
        "r.txt:1",
        "r.txt:1",
    )
    # The same pin given on the command line too: no conflict.
    assert choose(INDEX + "simple/", A, [_pin()], ProjectSettings(), _normalise).root_sha256 == A


def test_conflicting_pins_are_refused_naming_both() -> None:
    with pytest.raises(PinError, match=f"r.txt:1 says root-sha256 {A}, s.txt:2 says .*{B}"):
        choose(None, None, [_pin(), _pin(root=B, source="s.txt:2")], ProjectSettings(), _normalise)
    with pytest.raises(PinError, match="conflicting pins"):
        choose(None, B, [_pin()], ProjectSettings(), _normalise)
    with pytest.raises(PinError, match="says index"):
        choose("https://other.example.org/", None, [_pin()], ProjectSettings(), _normalise)
    project = ProjectSettings(Path("/p/pyproject.toml"), INDEX, B)
    with pytest.raises(PinError, match=r"/p/pyproject\.toml"):
        choose(None, None, [_pin()], project, _normalise)


def test_pyproject_is_the_default_for_its_own_index_only() -> None:
    project = ProjectSettings(Path("/p/pyproject.toml"), INDEX, A)
    chosen = choose(None, None, [], project, _normalise)
    assert (chosen.index, chosen.root_sha256, chosen.root_from) == (
        INDEX,
        A,
        "/p/pyproject.toml",
    )
    other = choose("https://other.example.org/", None, [], project, _normalise)
    assert (other.index, other.root_sha256) == ("https://other.example.org/", None)
    assert choose(None, None, [], ProjectSettings(), _normalise).index is None
