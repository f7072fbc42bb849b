"""The pages for people (issue 16): Jinja2 templates, autoescaped, rendered on the server.

Every page extends ``templates/base.html``. Values are escaped by the template engine, never
by hand; the one value marked safe is a long description already sanitised by
readme_renderer. No page needs JavaScript, and the ``PAGE_HEADERS`` every page carries
forbid any script from running (a Content-Security-Policy with no script source).
"""

from __future__ import annotations

import functools
from typing import Any

import jinja2
from starlette.responses import HTMLResponse

# Sent with every page: no script, no plugin, no framing, forms only to this origin, styles
# only from /static/; images from this origin, data: URLs and https (a README's badges).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data: https:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
PAGE_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}


@functools.cache
def environment() -> jinja2.Environment:
    """The one template environment: autoescaping on, an undefined name is an error."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("tufpi.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(template: str, **values: Any) -> str:
    """``template`` (a file in ``templates/``) rendered with ``values``."""
    return environment().get_template(template).render(**values)


def page(
    template: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **values: Any,
) -> HTMLResponse:
    """An HTML answer with ``PAGE_HEADERS`` (and ``headers``)."""
    return HTMLResponse(
        render(template, **values), status_code=status, headers={**PAGE_HEADERS, **(headers or {})}
    )
