"""Descriptions made accessible after sanitising (web.pages_view.accessible): the empty
heading anchors go, code blocks become reachable by the keyboard and lose their ``lang``,
and nothing a description holds can use the change to add markup."""

from __future__ import annotations

from readme_renderer import markdown

from tufpi.web.pages_view import accessible, description_html

README = "# Install\n\n```bash\npip install x\n```\n\nSee [install](#install).\n"


def test_heading_anchors_and_code_blocks() -> None:
    rendered = markdown.render(README, variant="GFM")
    assert '<a href="#user-content-install" rel="nofollow"></a>' in rendered
    assert '<pre lang="bash">' in rendered
    html = accessible(rendered)
    assert '<a href="#user-content-install" rel="nofollow"></a>' not in html
    assert "<h1" in html
    assert "Install</h1>" in html
    assert "<pre tabindex=0>" in html
    assert "lang=" not in html
    assert ">install</a>" in html  # a link with text stays


def test_pre_inside_an_attribute_value_stays_inside_it() -> None:
    """nh3 leaves ``<`` as it is in an attribute value: the attribute added has no quote,
    so the value is not ended early."""
    html = accessible('<a href="https://example.org/" title="<pre> x">t</a>')
    assert html == '<a href="https://example.org/" title="<pre tabindex=0> x">t</a>'


def test_description_html_is_accessible() -> None:
    html = str(description_html(README, "text/markdown"))
    assert "<pre tabindex=0>" in html
    assert 'rel="nofollow"></a>' not in html
