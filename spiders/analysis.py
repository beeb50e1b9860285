"""What the news spider reads from an HTML page: its kind, its canonical URL and the links it could follow.

``analyze_response`` is a pure function of the response: parse the page (``crawler.pagetree``, memory
bounded), classify it (``crawler.pagekind``), list its links (``spiders.links``). It is most of the
spider's CPU per page, so the spider may run it in a helper process (``crawler.sidecar``) through
``analyze``, which takes and returns only plain values (bytes, str, tuples) and rebuilds the same kind
of response there; ``PageAnalysis.of`` turns its result back into the record.
"""

from __future__ import annotations

import re
from collections.abc import Container
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from scrapy.http import HtmlResponse, TextResponse, XmlResponse
from scrapy.utils.response import get_base_url

from crawler.pagekind import classify
from crawler.pagetree import page_tree
from crawler.urls import join_url
from spiders.links import announced_feeds, canonical_or_none, page_links

_RESPONSE_TYPES: dict[str, type[TextResponse]] = {"html": HtmlResponse, "xml": XmlResponse, "text": TextResponse}


@dataclass(frozen=True)
class PageAnalysis:
    kind: str                                  # crawler.pagekind: "article" | "page"
    canonical: str | None                      # an article's rel=canonical URL, canonical form
    links: tuple[tuple[str, bool], ...]        # (canonical URL, pagination?) of its <a href>, in page order
    feeds: tuple[str, ...]                     # canonical URLs of the feeds it announces

    @classmethod
    def of(cls, value: tuple[Any, ...]) -> PageAnalysis:
        """The record of ``analyze``'s plain result."""
        kind, canonical, links, feeds = value
        return cls(kind, canonical, links, feeds)


def response_type(response: TextResponse) -> str:
    """The name ``analyze`` rebuilds this response's class from (XHTML served as XML parses as XML)."""
    if isinstance(response, HtmlResponse):
        return "html"
    return "xml" if isinstance(response, XmlResponse) else "text"


def _base_url(response: TextResponse) -> str:
    """The URL the page's links are relative to: its ``<base href>``, or its own URL when that is malformed
    (``<base href="http://[::1">``) or not absolute."""
    try:
        base = get_base_url(response)
        parts = urlsplit(base)
        parts.port  # noqa: B018  (raises ValueError for a bad port)
    except ValueError:
        return response.url
    return base if parts.scheme and parts.hostname else response.url


def analyze_response(
    response: TextResponse,
    *,
    max_tree: int,
    pattern: re.Pattern[str] | None = None,
    links: bool = True,
    skip: Container[str] = (),
) -> PageAnalysis:
    """The page's kind and canonical URL, and (``links``) its links but those in ``skip`` and its feeds."""
    tree = page_tree(response, max_tree)
    kind = classify(tree, response.url, pattern=pattern)
    base = _base_url(response)
    canonical = None
    if kind == "article":
        for link in tree.iterfind(".//link[@rel='canonical'][@href]"):
            absolute = join_url(base, link.get("href", "").strip())
            canonical = canonical_or_none(absolute) if absolute is not None else None
            break
    if not links:
        return PageAnalysis(kind, canonical, (), ())
    found = tuple((link.url, link.pagination) for link in page_links(tree, base, response.url, skip=skip))
    return PageAnalysis(kind, canonical, found, tuple(announced_feeds(tree, base)))


def analyze(
    body: bytes, url: str, encoding: str, kind_of_response: str, max_tree: int,
    pattern: str | None, flags: int, links: bool,
) -> tuple[Any, ...]:
    """``analyze_response`` of the response made of these plain values, as plain values (for
    ``crawler.sidecar``: every argument and the result travel through ``marshal``)."""
    response = _RESPONSE_TYPES[kind_of_response](url=url, body=body, encoding=encoding)
    regex = re.compile(pattern, flags) if pattern is not None else None
    result = analyze_response(response, max_tree=max_tree, pattern=regex, links=links)
    return (result.kind, result.canonical, result.links, result.feeds)

