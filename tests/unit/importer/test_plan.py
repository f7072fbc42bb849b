"""What to do with a project's files: new, already imported, or in conflict; in what order."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from packaging.version import Version

from tufpi.importer.model import SkipReason
from tufpi.importer.plan import Ready, plan_project, python_version, release_info
from tufpi.index.names import parse_dist_filename
from tufpi.index.rules import UsedFilename
from tufpi.index.upload import Digests, InspectedDist, StagedFile

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def ready(filename: str, content: bytes, minutes: int = 0, version: str = "1.0") -> Ready:
    digests = Digests(len(content), hashlib.sha256(content).hexdigest(), "", "", "")
    fields = {"name": "Demo", "version": version, "description": f"about {filename}"}
    dist = InspectedDist(
        parse_dist_filename(filename), StagedFile(Path(filename), digests), b"", fields
    )
    return Ready(f"/src/{filename}", dist, T0 + dt.timedelta(minutes=minutes))


def test_new_files_come_in_upload_order() -> None:
    late = ready("demo-1.0.tar.gz", b"a", minutes=5)
    early = ready("demo-1.0-py3-none-any.whl", b"b", minutes=1)
    plan = plan_project([late, early], [])
    assert plan.new == (early, late)
    assert plan.created == early.upload_time
    assert plan.project_name == "Demo"
    assert plan.present == ()
    assert plan.conflicts == ()


def test_same_content_is_present_other_content_a_conflict() -> None:
    same = ready("demo-1.0.tar.gz", b"a")
    other = ready("demo-2.0.tar.gz", b"changed")
    existing = [
        UsedFilename("demo-1.0.tar.gz", "demo-1.tar.gz", hashlib.sha256(b"a").hexdigest()),
        UsedFilename("demo-2.0.tar.gz", "demo-2.tar.gz", hashlib.sha256(b"b").hexdigest()),
    ]
    plan = plan_project([same, other], existing)
    assert plan.new == ()
    assert plan.present == (same,)
    assert [(c.location, c.reason) for c in plan.conflicts] == [
        ("/src/demo-2.0.tar.gz", SkipReason.CONFLICT)
    ]


def test_two_files_of_one_name_in_the_source() -> None:
    first = ready("demo-1.0.tar.gz", b"a", minutes=1)
    copy = ready("demo-1.0.tar.gz", b"a", minutes=2)
    clash = ready("demo-1.0.tar.gz", b"z", minutes=3)
    plan = plan_project([clash, copy, first], [])
    assert plan.new == (first,)
    assert plan.present == (copy,)
    assert len(plan.conflicts) == 1


def test_the_upload_rules_hold_for_imported_files() -> None:
    """Another spelling of a wheel or sdist of one release, or a filename whose file was
    removed, is a conflict, as an upload would be refused."""
    first = ready("demo-1.0-py3-none-any.whl", b"a", minutes=1)
    twin = ready("Demo-1.0.0-py3-none-any.whl", b"b", minutes=2)
    sdist = ready("demo-1.0.tar.gz", b"c", minutes=3)
    other_sdist = ready("demo-1.0.0.zip", b"d", minutes=4)
    removed = ready("demo-2.0.tar.gz", b"e", minutes=5)
    used = [UsedFilename("demo-2.0.tar.gz", "demo-2.tar.gz", None)]
    plan = plan_project([first, twin, sdist, other_sdist, removed], used)
    assert plan.new == (first, sdist)
    assert plan.present == ()
    details = {c.location: c.detail for c in plan.conflicts}
    assert set(details) == {twin.location, other_sdist.location, removed.location}
    assert all(c.reason == SkipReason.CONFLICT for c in plan.conflicts)
    assert "same wheel as 'demo-1.0-py3-none-any.whl'" in details[twin.location]
    assert "already has an sdist ('demo-1.0.tar.gz')" in details[other_sdist.location]
    assert "was used before" in details[removed.location]


def test_release_info_is_what_the_upload_form_would_say() -> None:
    info = release_info(ready("demo-1.0.tar.gz", b"a", minutes=3, version="1.0.0a1"))
    assert info.version == str(Version("1.0.0a1")) == "1.0.0a1"
    assert info.created == T0 + dt.timedelta(minutes=3)
    assert info.description == "about demo-1.0.tar.gz"


def test_python_version() -> None:
    assert python_version(parse_dist_filename("demo-1.0-py2.py3-none-any.whl")) == "py2.py3"
    assert python_version(parse_dist_filename("demo-1.0-1-cp311-cp311-linux_x86_64.whl")) == (
        "cp311"
    )
    assert python_version(parse_dist_filename("demo-1.0.zip")) == "source"
