"""Project names, versions and distribution filenames (tufpi.index.names)."""

from __future__ import annotations

import pytest
from packaging.version import Version

from tufpi.index.errors import InvalidRequest, InvalidUpload
from tufpi.index.names import (
    check_account_name,
    check_filename_matches,
    check_filename_safe,
    is_valid_project_name,
    normalize,
    parse_dist_filename,
    parse_version,
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("friendly-bard", "friendly-bard"),
        ("Friendly-Bard", "friendly-bard"),
        ("FRIENDLY-BARD", "friendly-bard"),
        ("friendly.bard", "friendly-bard"),
        ("friendly_bard", "friendly-bard"),
        ("friendly--bard", "friendly-bard"),
        ("FrIeNdLy-._.-bArD", "friendly-bard"),
        ("Tufpi.App", "tufpi-app"),
        ("a", "a"),
    ],
)
def test_normalize_follows_pep_503(name: str, expected: str) -> None:
    assert normalize(name) == expected


@pytest.mark.parametrize("name", ["a", "A1", "tufpi", "Tufpi.App", "a_b-c.d", "x9", "1"])
def test_valid_project_names(name: str) -> None:
    assert is_valid_project_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "-a",
        "a-",
        ".a",
        "a.",
        "_a",
        "a b",
        "a/b",
        "a\x00b",
        "caf\u00e9",
        "\uff41",  # fullwidth 'a'
    ],
)
def test_invalid_project_names(name: str) -> None:
    assert not is_valid_project_name(name)


def test_project_name_with_trailing_newline_is_invalid() -> None:
    assert not is_valid_project_name("foo\n")


@pytest.mark.parametrize("name", ["\u212aelvin", "\u017fetuptools"])
def test_non_ascii_case_folding_look_alikes_are_invalid(name: str) -> None:
    assert not is_valid_project_name(name)


def test_parse_version_accepts_pep_440() -> None:
    assert parse_version("1.0.post1") == Version("1.0.post1")
    assert parse_version("v2.0") == Version("2.0")


def test_parse_version_refuses_non_pep_440() -> None:
    with pytest.raises(InvalidUpload, match="not a PEP 440 version"):
        parse_version("one point oh")


@pytest.mark.parametrize(
    ("filename", "name", "version", "packagetype"),
    [
        ("tufpi_lib-1.0-py3-none-any.whl", "tufpi-lib", "1.0", "bdist_wheel"),
        ("Tufpi.App-0.1-py3-none-any.whl", "tufpi-app", "0.1", "bdist_wheel"),
        ("pkg-2.0-1-cp311-cp311-manylinux_2_17_x86_64.whl", "pkg", "2.0", "bdist_wheel"),
        ("tufpi_lib-1.0.tar.gz", "tufpi-lib", "1.0", "sdist"),
        ("tufpi_lib-1.0.zip", "tufpi-lib", "1.0", "sdist"),
        ("pkg-1!2.0+local.1.tar.gz", "pkg", "1!2.0+local.1", "sdist"),
    ],
)
def test_parse_dist_filename(filename: str, name: str, version: str, packagetype: str) -> None:
    parsed = parse_dist_filename(filename)
    assert (parsed.filename, parsed.name, parsed.version, parsed.packagetype) == (
        filename,
        normalize(name),
        Version(version),
        packagetype,
    )
    if packagetype == "sdist":
        assert (parsed.build, parsed.tags) == ((), frozenset())
    else:
        assert parsed.tags
        assert all(t.platform for t in parsed.tags)


def test_parse_dist_filename_keeps_a_wheels_build_tag_and_tags() -> None:
    parsed = parse_dist_filename("pkg-2.0-1b-py2.py3-none-any.whl")
    assert parsed.build == (1, "b")
    assert {t.interpreter for t in parsed.tags} == {"py2", "py3"}


@pytest.mark.parametrize("version", ["1.0+hotfix", "1.0+local.1", "2!1.0+ubuntu"])
def test_parse_version_refuses_local_versions(version: str) -> None:
    assert Version(version).local is not None  # PEP 440 allows it; the index does not
    with pytest.raises(InvalidUpload, match=r"local versions .* are not accepted"):
        parse_version(version)


HOSTILE_FILENAMES = {
    "parent": "../x-1.0-py3-none-any.whl",
    "absolute": "/abs-1.0-py3-none-any.whl",
    "nested": "a/x-1.0-py3-none-any.whl",
    "backslash": "..\\x-1.0-py3-none-any.whl",
    "nul": "x-1.0-py3-none-any.whl\x00.txt",
    "division slash": "a\u2215b-1.0-py3-none-any.whl",
    "fullwidth solidus": "a\uff0fb-1.0-py3-none-any.whl",
    "fullwidth full stop": "x-1\uff0e0.tar.gz",
    "rtl override": "x-1.0-py3-none-any\u202elhw.whl",
    "zero width space": "x\u200b-1.0.tar.gz",
    "newline": "x-1.0.tar.gz\nx",
    "tab": "x\t-1.0.tar.gz",
    "space": "x -1.0.tar.gz",
    "hidden": ".x-1.0.tar.gz",
    "dot dot": "..",
    "overlong": "x-1.0-" + "a" * 250 + ".tar.gz",
    "empty": "",
}


@pytest.mark.parametrize("filename", HOSTILE_FILENAMES.values(), ids=HOSTILE_FILENAMES.keys())
def test_hostile_filenames_are_refused(filename: str) -> None:
    with pytest.raises(InvalidUpload):
        check_filename_safe(filename)
    with pytest.raises(InvalidUpload):
        parse_dist_filename(filename)


def test_refusal_names_the_offending_character() -> None:
    with pytest.raises(InvalidUpload, match="U\\+202E"):
        check_filename_safe("x-1.0\u202e.tar.gz")


def test_longest_allowed_filename_is_accepted() -> None:
    filename = "x-1.0-" + "a" * (255 - len("x-1.0-.tar.gz")) + ".tar.gz"
    assert len(filename) == 255
    check_filename_safe(filename)
    with pytest.raises(InvalidUpload, match="longer than 255"):
        check_filename_safe("a" + filename)


def test_trailing_newline_filename_is_refused_by_parse() -> None:
    with pytest.raises(InvalidUpload):
        parse_dist_filename("x-1.0-py3-none-any.whl\n")


def test_check_filename_safe_refuses_trailing_newline() -> None:
    with pytest.raises(InvalidUpload):
        check_filename_safe("x-1.0-py3-none-any.whl\n")


@pytest.mark.parametrize(
    "filename",
    ["x-1.0.exe", "x-1.0.tar.bz2", "x-1.0.egg", "x-1.0-py3-none-any.WHL", "x-1.0.tgz"],
)
def test_unknown_extensions_are_refused(filename: str) -> None:
    with pytest.raises(InvalidUpload, match="Invalid file extension"):
        parse_dist_filename(filename)


@pytest.mark.parametrize(
    "filename",
    ["x.whl", "x-1.0.whl", "x-1.0-py3-none.whl", "x-notaversion-py3-none-any.whl", "x.tar.gz"],
)
def test_unparseable_filenames_are_refused(filename: str) -> None:
    with pytest.raises(InvalidUpload, match="Invalid distribution filename"):
        parse_dist_filename(filename)


def test_filename_must_match_declared_project_and_version() -> None:
    dist = parse_dist_filename("tufpi_lib-1.0-py3-none-any.whl")
    check_filename_matches(dist, "Tufpi.Lib", Version("1.0.0"))
    with pytest.raises(InvalidUpload, match="is for project"):
        check_filename_matches(dist, "other", Version("1.0"))
    with pytest.raises(InvalidUpload, match="is for version"):
        check_filename_matches(dist, "tufpi-lib", Version("1.1"))


@pytest.mark.parametrize("name", ["alice", "a", "bob.smith", "ci_bot-2", "A1"])
def test_valid_account_names(name: str) -> None:
    check_account_name(name)


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ('<img src=x onerror="alert(1)">', "Invalid account name"),
        ("alice smith", "Invalid account name"),
        ("-alice", "Invalid account name"),
        ("alice\n", "Invalid account name"),
        ("\u0430lice", "Invalid account name"),  # a Cyrillic a: a look-alike of alice
        ("alice\u202e", "Invalid account name"),  # a bidi override
        ("", "Invalid account name"),
        ("a" * 51, "at most 50"),
        ("admin", "reserved"),
        ("Admin", "reserved"),
    ],
)
def test_invalid_account_names_are_refused_saying_why(name: str, says: str) -> None:
    with pytest.raises(InvalidRequest, match=says):
        check_account_name(name)
