"""Small helpers over the parsed page shared by the metadata modules: visible text, comparison keys,
and whether an element sits in content that is not the article's (comments, forms, page footer)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from lxml.etree import Element
from lxml.html import HtmlElement

_WS = re.compile(r"\s+")
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))


def clean(text: str) -> str:
    return _WS.sub(" ", text.translate(_INVISIBLE)).strip()


def text_of(el: HtmlElement) -> str:
    """The visible text of `el`, whitespace collapsed (style and script contents left out)."""
    if el.find(".//style") is None and el.find(".//script") is None:
        return clean(el.text_content())
    parts: list[str] = []
    for node in el.iter():
        if isinstance(node.tag, str) and node.tag not in ("style", "script") and node.text:
            parts.append(node.text)
        if node is not el and node.tail:
            parts.append(node.tail)
    return clean("".join(parts))


def norm(text: str) -> str:
    return _WS.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


_NOT_ALNUM = re.compile(r"[\W_]+")  # exactly the characters for which str.isalnum() is false


def squash(text: str) -> str:
    return _NOT_ALNUM.sub("", norm(text))


_OTHER_PEOPLE = re.compile(r"^(?:comments?|comment-.*|.*-comments?|commentlist|site-footer|footer|page-footer|"
                           r"related-posts|author-box|about-author)$")


def in_other_content(el: HtmlElement) -> bool:
    """Bylines inside comments, forms, the page footer or sidebars name someone else."""
    node: HtmlElement | None = el
    footer = False
    while node is not None and node.tag not in ("body", "html"):
        if node.tag in ("form", "aside"):
            return True
        if node.tag == "article":
            return False  # an article's own <footer> holds its byline
        footer = footer or node.tag == "footer"
        tokens = (node.get("class") or "").lower().split() + [(node.get("id") or "").lower()]
        if any(_OTHER_PEOPLE.match(t) for t in tokens if t):
            return True
        node = node.getparent()
    return footer


_NOT_SHOWN = frozenset({"script", "style", "noscript"})


def first_text(el: HtmlElement, limit: int) -> str:
    """The first `limit` characters of visible text under `el` (scripts and styles skipped, and the text
    right after them too)."""
    parts: list[str] = []
    size = 0
    for node in el.iter(Element):  # elements only: no comments or processing instructions
        if node.tag in _NOT_SHOWN:
            continue
        text = node.text
        if text and not text.isspace():
            parts.append(text)
            size += len(text)
        text = node.tail
        if text and not text.isspace():
            parts.append(text)
            size += len(text)
        if size > limit:
            break
    return " ".join(parts)[:limit]


def following(el: HtmlElement) -> Iterator[HtmlElement]:
    """The elements after `el` in document order, its own descendants excluded: XPath's following::*, but
    lazily (the XPath axis collects the rest of the document before any position() filter applies)."""
    node: HtmlElement | None = el
    while node is not None:
        for sibling in node.itersiblings():
            yield from (n for n in sibling.iter() if isinstance(n.tag, str))
        node = node.getparent()
