"""The browser harness's pure parts (tests/support/browser.py, payloads.py): what fails an
audit, how it reads, which console messages mean script ran, and that every hostile
distribution passes tufpi's metadata checks (so the injection tests' uploads are accepted
for what they carry, not refused)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import browser as web
from tests.support import payloads
from tufpi.index.core_metadata import parse
from tufpi.index.names import parse_dist_filename

VIOLATION = {
    "id": "color-contrast",
    "impact": "serious",
    "help": "Elements must meet minimum color contrast ratio thresholds",
    "helpUrl": "https://dequeuniversity.com/rules/axe/4.12/color-contrast",
    "nodes": [
        {
            "target": [".muted"],
            "html": '<p class="muted">faint</p>',
            "failureSummary": "Fix any of the following:\n  contrast 2.1",
        }
    ],
}


def test_only_serious_and_critical_violations_fail() -> None:
    minor = {**VIOLATION, "impact": "minor"}
    moderate = {**VIOLATION, "impact": "moderate"}
    critical = {**VIOLATION, "impact": "critical"}
    assert web.failing([minor, VIOLATION, moderate, critical]) == [VIOLATION, critical]


def test_violations_read_as_rule_element_and_fix() -> None:
    text = web.described([VIOLATION])
    assert text.splitlines()[0].startswith("color-contrast (serious): Elements must meet")
    assert '.muted: <p class="muted">faint</p>' in text
    assert "contrast 2.1" in text


def test_browser_messages_are_not_script() -> None:
    watch = web.Watch(
        console=[
            "Refused to execute inline script because it violates the following Content "
            "Security Policy directive",
            "Failed to load resource: the server responded with a status of 404",
            "Uncaught ReferenceError: x is not defined",
        ]
    )
    assert watch.script_ran() == ["Uncaught ReferenceError: x is not defined"]


@pytest.mark.parametrize("hostile", payloads.HOSTILE, ids=lambda h: h.name)
def test_hostile_metadata_is_valid_metadata(hostile: payloads.Hostile) -> None:
    filename, _ = payloads.wheel(hostile)
    raw = parse(payloads.metadata(hostile), parse_dist_filename(filename))
    assert raw["summary"] == payloads.TEXT_FIELDS["Summary"]
    assert raw["description"].strip() == hostile.description.strip()
    assert len(raw["project_urls"]) == len(payloads.PROJECT_URLS)


def test_no_chromium_skips_and_fails_on_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(web, "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        web.need_chromium()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI runs the browser tests"):
        web.need_chromium()
