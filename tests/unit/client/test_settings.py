"""[tool.tufpi] from the nearest pyproject.toml upward, as uv finds [tool.uv]."""

from __future__ import annotations

from pathlib import Path

import pytest

from tufpi.client.settings import ProjectSettings, SettingsError, find_project_settings

PIN = '[tool.tufpi]\nindex = "https://pypi.example.org/"\nroot-sha256 = "ab"\n'


def test_settings_come_from_a_parent_directory(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(PIN)
    deep = tmp_path / "src" / "pkg" / "sub"
    deep.mkdir(parents=True)
    found = find_project_settings(deep)
    assert found == ProjectSettings(tmp_path / "pyproject.toml", "https://pypi.example.org/", "ab")


def test_the_nearest_file_with_the_table_wins(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(PIN)
    member = tmp_path / "member"
    member.mkdir()
    # A workspace member without [tool.tufpi] takes its workspace's, as uv does.
    (member / "pyproject.toml").write_text('[project]\nname = "member"\n')
    assert find_project_settings(member).path == tmp_path / "pyproject.toml"
    (member / "pyproject.toml").write_text('[tool.tufpi]\nindex = "https://other/"\n')
    assert find_project_settings(member) == ProjectSettings(
        member / "pyproject.toml", "https://other/", None
    )


def test_no_file_no_settings(tmp_path: Path) -> None:
    # tmp_path's parents hold no pyproject.toml with [tool.tufpi] (the filesystem root ends it).
    assert find_project_settings(tmp_path).index is None


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[tool.tufpi\n", "pyproject.toml"),
        ("[tool]\ntufpi = 3\n", "not a table"),
        ("[tool.tufpi]\nindex = 3\n", "must be a string"),
        ('[tool.tufpi]\nindex = "https://__token__:s3cret@h/"\n', "holds credentials"),
    ],
)
def test_unusable_settings_are_named(tmp_path: Path, text: str, words: str) -> None:
    (tmp_path / "pyproject.toml").write_text(text)
    with pytest.raises(SettingsError, match=words) as refused:
        find_project_settings(tmp_path)
    assert "s3cret" not in str(refused.value)
    assert str(tmp_path / "pyproject.toml") in str(refused.value)
