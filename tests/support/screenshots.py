"""The README's screenshots (``scripts/screenshots``): a real ``tufpi serve`` filled with
the demonstration projects (tests/support/demo.py), photographed in Chromium at 1280 x 800
(and one page at a phone's 390 x 844).

Usage: ``python -m tests.support.screenshots DIRECTORY`` (from the repository's root).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.support import browser as web
from tests.support import demo
from tests.support import server as server_support

# name: path, the screenshot shows what a 1280 x 800 window does.
PUBLIC = {
    "home": "",
    "project": "project/sampleproject/",
    "search": "search/?q=http",
    "trust": "trust/",
}


def _sign_in(page: Any, url: str) -> None:
    page.goto(url + "account/login/")
    page.get_by_label("User name").fill("ada")
    page.get_by_label("Password").fill(demo.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(url + "manage/")


def photograph(browser: Any, url: str, out: Path) -> list[Path]:
    """Each page of the index at ``url`` as ``out/NAME.png``; the paths written."""
    written = []
    with web.open_page(browser, java_script_enabled=False) as (page, _):
        for name, path in PUBLIC.items():
            page.goto(url + path)
            written.append(web.shoot(page, out, name, full_page=False))
        _sign_in(page, url)
        page.goto(url + "manage/project/sampleproject/")
        written.append(web.shoot(page, out, "manage-project", full_page=False))
    with web.phone_page(browser, java_script_enabled=False, device_scale_factor=1) as (page, _):
        page.goto(url + PUBLIC["project"])
        written.append(web.shoot(page, out, "project-phone", full_page=False))
    return written


def main(out: Path) -> None:
    """Start a demonstration index in a temporary directory and photograph it into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tufpi-screenshots-") as tmp:
        work = Path(tmp)
        server = server_support.start(work / "index")
        try:
            demo.fill(server, work, password=demo.PASSWORD)
            with web.chromium() as browser:
                for path in photograph(browser, server.url, out):
                    print(f"{path} ({path.stat().st_size // 1024} KiB)")
        finally:
            server.stop()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"))
