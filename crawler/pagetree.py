"""The parsed tree a spider reads a page's kind and links from, with memory bounded on huge pages.

An lxml tree costs about 25 times the HTML of a page made of small elements: the 20 MB page of the fault
tests took ~500 MB in the crawl process, on the reactor thread, just to find its links. ``page_tree``
parses a page of up to ``LIMITS_PARSE_MAX_SIZE`` bytes whole (Scrapy's cached ``response.selector``, as
before). A larger page is parsed whole too, but in one streaming pass that keeps only a bounded amount:

- the first ``max_size`` characters become the tree (head, headline, the start of the body: what
  ``crawler.pagekind.classify`` and the canonical/feed look-ups need);
- the rest is fed to lxml's pull parser in 1 MiB pieces, each finished element is dropped as soon as it
  ends, and only the ``href``/``rel`` of its ``<a>`` elements are kept; they are appended to the tree's
  body as bare ``<a>`` elements, so ``spiders.links.page_links`` finds every link of the page (pagination
  by ``rel`` or URL shape still works; by a pager's class, only in the prefix).

Memory is then about 25 times ``max_size`` plus the links, whatever the page's size. Pure functions of the
response; the spider passes the limit it read in ``from_crawler``.
"""

from __future__ import annotations

import logging

import lxml.etree
import lxml.html
from lxml.etree import ParserError, _Element
from scrapy.http import TextResponse

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20
_ASCII_DEFAULTS = ("cp1252", "ascii", "iso8859-1")   # Scrapy's names for what a page without a charset gets
MARKER = "data-archiver-streamed"   # attribute of the element holding the links found after the prefix


def page_tree(response: TextResponse, max_size: int) -> _Element:
    """The page's tree: whole up to ``max_size`` bytes (0: no limit), else prefix tree + every link."""
    if not max_size or len(response.body) <= max_size:
        return whole_tree(response)
    text = response.text
    cut = text.rfind("<", 0, max_size)          # do not split a tag between the two parts
    if cut <= 0:
        cut = max_size
    tree = _parse_prefix(text[:cut])
    links = stream_links(text, cut)
    holder = lxml.etree.SubElement(_body_of(tree), "div", {MARKER: str(len(links))})
    for href, rel in links:
        a = lxml.etree.SubElement(holder, "a", {"href": href})
        if rel:
            a.set("rel", rel)
    logger.info("%s: page of %.1f MB, over LIMITS_PARSE_MAX_SIZE (%.1f MB): tree of its first %.1f MB, "
                "%d more link(s) streamed from the rest", response.url, len(response.body) / 1e6, max_size / 1e6,
                cut / 1e6, len(links))
    return tree


def whole_tree(response: TextResponse) -> _Element:
    """The tree of the whole page. A UTF-8 page (most of them; or ASCII read as windows-1252) is parsed
    straight from its body, as parsel would parse it but without decoding it to text and encoding that back
    first (a third of the parse time, on the reactor thread); other charsets, a BOM, NUL bytes or invalid
    UTF-8 go through Scrapy's ``response.selector`` (parsel)."""
    body = response.body.strip()
    utf8 = response.encoding == "utf-8" or (response.encoding in _ASCII_DEFAULTS and body.isascii())
    if utf8 and body and not body.startswith(b"\xef\xbb\xbf") and b"\x00" not in body and "\ufffd" not in response.text:
        # lxml.etree's parser, not lxml.html's: the same tree, without a Python class lookup for each
        # element the spider touches (a tenth of the link extraction's time)
        parser = lxml.etree.HTMLParser(recover=True, encoding="utf-8", huge_tree=True)
        try:
            root: _Element | None = lxml.etree.fromstring(body, parser=parser, base_url=response.url)
        except lxml.etree.XMLSyntaxError:
            root = None   # nothing lxml could make a tree of: parsel's way below gives the empty page
        if root is not None:
            return root
    selected: _Element = response.selector.root
    return selected


def _parse_prefix(html: str) -> _Element:
    # As parsel does: UTF-8 bytes, so that an XML declaration naming another encoding is no error.
    parser = lxml.html.HTMLParser(recover=True, huge_tree=True, encoding="utf-8")
    try:
        root: _Element = lxml.html.document_fromstring(html.encode("utf-8"), parser=parser)
    except (ParserError, ValueError) as exc:  # nothing parseable (NUL bytes, blanks): a page without signals
        logger.info("no HTML tree in the first %d characters (%s); links after them are still read", len(html), exc)
        root = lxml.html.document_fromstring(b"<html><body></body></html>")
    return root


def _body_of(tree: _Element) -> _Element:
    body = tree.find("body")
    return body if body is not None else tree


def stream_links(text: str, start: int = 0) -> list[tuple[str, str]]:
    """(href, rel) of the distinct ``<a href>`` targets in ``text[start:]`` (fragment-only links left out),
    parsed in pieces, dropping each element once it has ended: memory stays at the size of one piece plus
    the links, not a tree of the whole text."""
    parser = lxml.etree.HTMLPullParser(events=("end",), recover=True, huge_tree=True, encoding="utf-8")
    links: dict[str, str] = {}      # href -> rel of its first occurrence: a repeated link is kept once
    for offset in range(start, len(text), _CHUNK):
        parser.feed(text[offset:offset + _CHUNK].encode("utf-8"))
        _drain(parser, links)
    parser.close()
    _drain(parser, links)
    return list(links.items())


def _drain(parser: lxml.etree.HTMLPullParser, links: dict[str, str]) -> None:
    for _event, element in parser.read_events():
        if element.tag == "a":
            href = (element.get("href") or "").strip()
            if href and not href.startswith("#") and href not in links:   # "#...": this very page
                links[href] = element.get("rel") or ""
        element.clear()
        parent = element.getparent()
        if parent is not None:             # finished siblings before it are done with: free them
            while element.getprevious() is not None:
                del parent[0]
