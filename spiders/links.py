"""Links of an HTML page that a crawl could follow: ``<a href>`` (with which ones are pagination) and the
feeds it announces with ``<link rel="alternate">``. Pure functions of the parsed page; scope, depth and
the seen-set are the spider's business.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Container
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from lxml.etree import _Element
from scrapy.linkextractors import IGNORED_EXTENSIONS

from crawler.urls import canonicalize_url, join_url

logger = logging.getLogger(__name__)

# Not worth following from a page (seeds are fetched whatever they are): images, media, archives, office.
SKIP_EXTENSIONS: tuple[str, ...] = tuple(f".{e}" for e in IGNORED_EXTENSIONS) + (".gz",)
FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/rdf+xml"})
_NOT_FOLLOWED = ("#", "javascript:", "mailto:", "tel:", "data:", "sms:", "whatsapp:", "fax:")
_PAGE_PARAMS = re.compile(r"(?:^|&)(?:page|p|pg|paged|start|offset)=\d+(?:&|$)", re.IGNORECASE)
_PAGE_PATH = re.compile(r"/page/\d+/?$", re.IGNORECASE)


@dataclass(frozen=True)
class Link:
    url: str              # canonical (crawler.urls.canonicalize_url)
    pagination: bool      # another page of the same listing: not a hop away from it


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def canonical_or_none(url: str) -> str | None:
    """The canonical form of a URL found in a page, or None when it is malformed (logged at DEBUG)."""
    try:
        return canonicalize_url(url)
    except ValueError as exc:
        logger.debug(f"ignoring malformed link {url!r}: {exc}")   # a broken href on someone's page
        return None


def page_links(tree: _Element, base_url: str, page_url: str, skip: Container[str] = ()) -> list[Link]:
    """The distinct http(s) ``<a href>`` targets of a page, canonical, in page order, without the page
    itself, fragments-only links, non-web schemes, binary files (``SKIP_EXTENSIONS``) and the canonical
    URLs in ``skip`` (those the crawl has requested already: most links of a page are its site's
    navigation, so leaving them out here spares their pagination check)."""
    origin = _origin(base_url)
    here = canonicalize_url(page_url)
    links: dict[str, Link] = {}
    done: set[str] = {here}
    pagers: dict[_Element, bool] = {}     # element -> inside a pager (shared by the links of one nav)
    current = urlsplit(here)
    for a in tree.iter("a"):
        href = (a.get("href") or "").strip()
        if not href or href.lower().startswith(_NOT_FOLLOWED):
            continue
        if href.startswith("/") and not href.startswith("//") and "/." not in href:
            absolute: str | None = origin + href          # root-relative (most links): no need for urljoin
        else:
            absolute = join_url(base_url, href)
        url = canonical_or_none(absolute) if absolute is not None else None
        if url is None or url in done or url in skip:
            continue
        done.add(url)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or parts.path.lower().endswith(SKIP_EXTENSIONS):
            continue
        links[url] = Link(url, _is_pagination(a, parts, current, pagers))
    return list(links.values())


def announced_feeds(tree: _Element, base_url: str) -> list[str]:
    """Canonical URLs of the RSS/Atom/RDF feeds a page announces with ``<link rel="alternate" type=...>``."""
    feeds: dict[str, None] = {}
    for link in tree.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        if "alternate" in rel and (link.get("type") or "").strip().lower() in FEED_TYPES:
            absolute = join_url(base_url, (link.get("href") or "").strip())
            url = canonical_or_none(absolute) if absolute is not None else None
            if url:
                feeds[url] = None
    return list(feeds)


def is_pagination(a: _Element, url: str, here: str, pagers: dict[_Element, bool] | None = None) -> bool:
    """True for a link to another page of the same listing (rel=next/prev, a pager, ?page=N, /page/N).
    ``pagers`` memoizes the pager test of ancestors across the links of one page (pass the same dict)."""
    return _is_pagination(a, urlsplit(url), urlsplit(here), pagers if pagers is not None else {})


def _is_pagination(a: _Element, target: SplitResult, current: SplitResult, pagers: dict[_Element, bool]) -> bool:
    rel = (a.get("rel") or "").lower().split()
    if "next" in rel or "prev" in rel or "previous" in rel:
        return True
    if target.netloc == current.netloc:
        if target.path == current.path and _PAGE_PARAMS.search(target.query):
            return True
        if _PAGE_PATH.search(target.path) and target.path.startswith(_PAGE_PATH.sub("", current.path)):
            return True
    return _in_pager(a.getparent(), pagers)


def _in_pager(element: _Element | None, memo: dict[_Element, bool]) -> bool:
    """Whether ``element`` or an ancestor has a pager's class or id; each element is looked at once."""
    chain: list[_Element] = []
    while element is not None and element not in memo:
        chain.append(element)
        element = element.getparent()
    inside = memo[element] if element is not None else False
    for node in reversed(chain):           # from the top down: inside once any ancestor is a pager
        if not inside:
            marker = f"{node.get('class') or ''} {node.get('id') or ''}".lower()
            inside = "pagination" in marker or "pager" in marker or "paging" in marker
        memo[node] = inside
    return inside
