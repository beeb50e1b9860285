"""Fast extraction for very large crawls: resiliparse's main-content text and the metadata of the page head.

Same signature and result type as ``crawler.extraction.extract`` (a pure function of html, url and
headers), chosen with the setting ``EXTRACT_ENGINE = "fast"``. About ten times faster than the default
(Lexbor's C parser and a main-content heuristic instead of trafilatura's rules and the project's
metadata voting), at a lower text precision: bylines, captions and teasers near the article may stay in
the text, and metadata comes only from ``<title>``, ``<meta>`` (Open Graph, ``article:*``, ``name=``),
``<link rel=canonical>`` and ``<html lang>``. ``benchmarks/RESULTS.md`` has its F1 and speed next to the
default's.
"""

from __future__ import annotations

from collections.abc import Mapping

from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.html import HTMLTree

from crawler.extraction import EMPTY, Extraction

__all__ = ["extract_fast"]


def _clean(value: str | None) -> str | None:
    value = " ".join((value or "").split())
    return value or None


def extract_fast(html: str, url: str, headers: Mapping[str, str] | None = None) -> Extraction:
    """The main-content text and head metadata of ``html`` (decoded) fetched from ``url``."""
    if not html or not html.strip():
        return EMPTY
    tree = HTMLTree.parse(html)
    meta: dict[str, list[str]] = {}
    head = tree.head
    canonical = None
    if head is not None:
        for el in head.query_selector_all("meta"):
            key = (el.getattr("property") or el.getattr("name") or el.getattr("itemprop") or "").strip().lower()
            content = _clean(el.getattr("content"))
            if key and content:
                meta.setdefault(key, []).append(content)
        for el in head.query_selector_all("link"):
            if "canonical" in (el.getattr("rel") or "").lower().split():
                canonical = _clean(el.getattr("href"))
                break

    def first(*keys: str) -> str | None:
        for key in keys:
            if meta.get(key):
                return meta[key][0]
        return None

    root = tree.document.query_selector("html") if tree.document is not None else None
    language = _clean(root.getattr("lang")) if root is not None else None
    if not language and headers:
        language = _clean({k.lower(): v for k, v in headers.items()}.get("content-language"))
    authors = tuple(dict.fromkeys(meta.get("author", []) + meta.get("article:author", [])))
    text = extract_plain_text(tree, main_content=True, alt_texts=False, list_bullets=False, comments=False)
    return Extraction(
        text=text.strip(),
        title=first("og:title", "twitter:title") or _clean(tree.title),
        authors=authors,
        published=first("article:published_time", "datepublished", "date", "pubdate"),
        modified=first("article:modified_time", "datemodified", "og:updated_time"),
        language=(language or "").split("-")[0].lower() or None,
        site_name=first("og:site_name", "application-name"),
        description=first("description", "og:description", "twitter:description"),
        canonical_url=canonical or first("og:url") or url or None,
        image=first("og:image", "twitter:image"),
        categories=tuple(meta.get("article:section", [])),
        tags=tuple(dict.fromkeys(meta.get("article:tag", []) + meta.get("keywords", []))),
    )
