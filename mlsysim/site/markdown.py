"""Markdown in catalog text (descriptions, notes) rendered safely for the site.

markdown-it-py (CommonMark) with raw HTML off: any `<tag>` in the YAML is
escaped as text, never passed through. Links become links only when their
target is an absolute http(s) URL (`safety.http_url`); any other link stays
text. Images are not rendered (a page never loads anything from elsewhere).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from markupsafe import Markup

from mlsysim.site.safety import http_url


@lru_cache(maxsize=1)
def _parser() -> Any:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.disable(["image", "html_block", "html_inline"])
    md.validateLink = lambda url: http_url(url) is not None

    def link_open(renderer: Any, tokens: list[Any], idx: int, options: Any, env: Any) -> str:
        tokens[idx].attrSet("rel", "external noopener noreferrer")
        return renderer.renderToken(tokens, idx, options, env)

    md.add_render_rule("link_open", link_open)
    return md


def render_block(text: str | None) -> Markup:
    """Paragraphs, lists, emphasis, code and http(s) links; everything else escaped."""
    if not text or not str(text).strip():
        return Markup("")
    return Markup(_parser().render(str(text)).strip())


def render_inline(text: str | None) -> Markup:
    """One line of text with inline Markdown only (no paragraphs): for notes inside table cells."""
    if not text or not str(text).strip():
        return Markup("")
    return Markup(_parser().renderInline(" ".join(str(text).split())))
