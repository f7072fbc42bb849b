"""Real browser tests: Python Playwright driving Debian's Chromium, headless.

One browser per test module (``chromium``, for a module-scoped fixture), a fresh context per
page (``open_page``): no cookie, cache or storage passes from one test to the next. Pages are
watched (``Watch``) for what script would betray: a dialog, an uncaught error, a console
message, ``window.__pwned``. ``hostile_markup`` lists what must never reach a page from user
data, ``audit`` runs axe-core, ``phone_problems`` checks the page at a phone's size, and
``shoot`` saves screenshots where ``TUFPI_SCREENSHOTS`` says.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SCREENSHOTS_ENV = "TUFPI_SCREENSHOTS"
# The impacts axe-core reports that fail a page (it also has "minor" and "moderate").
FAILING_IMPACTS = ("serious", "critical")
# The smallest font size, in CSS pixels, of the main text on a phone.
MIN_FONT_PX = 12.0


def need_chromium() -> None:
    """Skip the calling test when Chromium is not installed; fail it on CI (``CI=true``),
    whose ``.ci/run`` installs it."""
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing but CI runs the browser tests")
        pytest.skip(f"browser tests need Chromium at {CHROMIUM}")


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (Playwright's ``Browser``), closed at the end."""
    need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclasses.dataclass
class Watch:
    """What a page did that only script does: dialogs (their messages), uncaught errors and
    console messages of type error (CSP refusals among them, which are not script run)."""

    dialogs: list[str] = dataclasses.field(default_factory=list)
    errors: list[str] = dataclasses.field(default_factory=list)
    console: list[str] = dataclasses.field(default_factory=list)

    def attach(self, page: Any) -> None:
        """Record ``page``'s dialogs (dismissing each), errors and console errors."""

        def dialog(d: Any) -> None:
            self.dialogs.append(d.message)
            d.dismiss()

        page.on("dialog", dialog)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("console", lambda m: m.type == "error" and self.console.append(m.text))

    def script_ran(self) -> list[str]:
        """Console errors that only running script could cause: not a CSP refusal, not a
        resource that failed to load (a favicon's 404)."""
        browser_own = ("Content Security Policy", "Failed to load resource")
        return [m for m in self.console if not any(b in m for b in browser_own)]


@contextlib.contextmanager
def open_page(
    browser: Any, viewport: dict[str, int] = DESKTOP, **options: Any
) -> Iterator[tuple[Any, Watch]]:
    """A page in a fresh context of its own, watched; ``options`` go to ``new_context``
    (``is_mobile``, ``bypass_csp``, ``base_url``...)."""
    context = browser.new_context(viewport=viewport, **options)
    try:
        page = context.new_page()
        watch = Watch()
        watch.attach(page)
        yield page, watch
    finally:
        context.close()


def phone_page(browser: Any, **options: Any) -> contextlib.AbstractContextManager[Any]:
    """``open_page`` as a phone: 390 x 844 CSS pixels, touch, the page's meta viewport."""
    phone = {"is_mobile": True, "has_touch": True, "device_scale_factor": 2}
    return open_page(browser, PHONE, **{**phone, **options})


def pwned(page: Any) -> object:
    """``window.__pwned`` of ``page`` and of its frames: None unless a payload ran."""
    for frame in page.frames:
        with contextlib.suppress(Exception):  # a frame gone or cross-origin
            value = frame.evaluate("() => window.__pwned")
            if value is not None:
                return value
    return None


# Elements, attributes and URL schemes that carry script or take over the page: none may
# reach a page from the data it shows (tufpi's own templates use none of them).
_HOSTILE_MARKUP = r"""() => {
  const found = [];
  const bad = ['SCRIPT', 'IFRAME', 'FRAME', 'OBJECT', 'EMBED', 'BASE', 'STYLE'];
  const urls = ['href', 'src', 'action', 'formaction', 'xlink:href', 'data', 'poster',
                'background', 'srcset'];
  const describe = (el) => el.outerHTML.slice(0, 160);
  for (const el of document.querySelectorAll('body *')) {
    if (bad.includes(el.tagName)) found.push('element ' + describe(el));
    // tufpi's own forms post to its own paths (or their own page); one from user data
    // would go elsewhere.
    const action = el.getAttribute('action');
    if (el.tagName === 'FORM' && action !== null && !/^\/(?!\/)/.test(action))
      found.push('form to elsewhere ' + describe(el));
    if (el.tagName === 'META') found.push('meta in body ' + describe(el));
    for (const a of el.attributes) {
      const name = a.name.toLowerCase();
      const value = a.value.replace(/[\s\u0000-\u001f]/g, '').toLowerCase();
      if (name.startsWith('on')) found.push('handler ' + name + ' on ' + describe(el));
      if (name === 'style' || name === 'srcdoc') found.push(name + ' on ' + describe(el));
      if (urls.includes(name) && /^(javascript|vbscript|data:text\/html)/.test(value))
        found.push('url ' + name + ' on ' + describe(el));
    }
  }
  return found;
}"""


def hostile_markup(page: Any) -> list[str]:
    """Every script element, frame, style, form posting to anywhere but a path of this
    site, inline style, event handler attribute and ``javascript:``/``vbscript:``/
    ``data:text/html`` URL in ``page``'s body, described (an empty list on a safe page)."""
    found: list[str] = page.evaluate(_HOSTILE_MARKUP)
    return found


def forbids_script(response: Any) -> str | None:
    """What is wrong with ``response``'s Content-Security-Policy, if it does not forbid
    every script (``default-src 'none'`` and no ``script-src``); None when it does."""
    policy: str = response.headers.get("content-security-policy", "")
    if "default-src 'none'" not in policy or "script-src" in policy:
        return f"the Content-Security-Policy does not forbid script: {policy!r}"
    return None


def _axe_script() -> str:
    import axe_playwright_python

    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()


def audit(
    browser: Any, url: str, viewport: dict[str, int] = DESKTOP, **options: Any
) -> list[dict[str, Any]]:
    """axe-core's violations on ``url``, every impact (``failing`` picks those that fail);
    ``options`` go to the context (``storage_state``: a signed-in session's cookies).

    The page's CSP allows no script, axe's included: it runs in a context of its own with
    ``bypass_csp``, used for the audit only.
    """
    with open_page(browser, viewport, bypass_csp=True, **options) as (page, _):
        page.goto(url)
        page.evaluate(_axe_script())
        results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    violations: list[dict[str, Any]] = results["violations"]
    return violations


def failing(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The violations of impact serious or critical."""
    return [v for v in violations if v.get("impact") in FAILING_IMPACTS]


def described(violations: list[dict[str, Any]]) -> str:
    """axe-core's violations as lines a person reads: rule, impact, help, each element."""
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']} <{v.get('helpUrl', '')}>")
        for node in v.get("nodes", [])[:5]:
            lines.append(f"    {' '.join(map(str, node.get('target', [])))}: {node['html'][:160]}")
            if node.get("failureSummary"):
                lines.append("      " + node["failureSummary"].replace("\n", "\n      "))
    return "\n".join(lines)


_PHONE_PROBLEMS = """(minPx) => {
  const problems = [];
  const width = window.innerWidth;
  const scroll = document.documentElement.scrollWidth;
  if (scroll > width) {
    problems.push(`the page scrolls sideways: ${scroll} px wide in a ${width} px window`);
    for (const el of document.querySelectorAll('body *')) {
      const box = el.getBoundingClientRect();
      if (box.right > width + 1 && getComputedStyle(el).position !== 'fixed')
        problems.push(`  wider than the window: ${el.outerHTML.slice(0, 120)} (${box.right} px)`);
      if (problems.length > 8) break;
    }
  }
  const main = document.querySelector('main') || document.body;
  const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (!node.textContent.trim() || !node.parentElement) continue;
    const size = parseFloat(getComputedStyle(node.parentElement).fontSize);
    if (size < minPx) {
      problems.push(`text in ${size} px: ${node.textContent.trim().slice(0, 60)}`);
      break;
    }
  }
  return problems;
}"""


def phone_problems(page: Any) -> list[str]:
    """What makes ``page`` (opened with ``phone_page``) hard to use on a phone: the body
    scrolling sideways (and the elements wider than the window), text in ``main`` smaller
    than ``MIN_FONT_PX``; empty when it is fine."""
    problems: list[str] = page.evaluate(_PHONE_PROBLEMS, MIN_FONT_PX)
    return problems


def screenshots_dir(default: Path, group: str) -> Path:
    """``$TUFPI_SCREENSHOTS/GROUP`` if that is set, else ``default/GROUP``; created."""
    directory = Path(os.environ.get(SCREENSHOTS_ENV) or default) / group
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def shoot(page: Any, directory: Path, name: str, full_page: bool = True) -> Path:
    """Save ``page`` as ``directory/name.png`` (the whole page, or what the window shows)."""
    path = directory / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
