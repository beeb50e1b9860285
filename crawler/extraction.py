"""Article text and metadata from one decoded HTML page: a pure function of (html, url, headers).

This is the one adapter between the crawler and trafilatura (an upgrade of trafilatura touches this
module and its helpers only). No Scrapy, no network, no settings: the pipeline calls `extract()` in a
process pool and records any exception it raises.

The page is parsed once (trafilatura's `load_html`, which also repairs common breakage); the same
tree feeds the metadata (crawler.extract_meta) and the body (crawler.extract_text, where trafilatura
works on its own copy).

Body options, chosen on the extraction-dev set (numbers in benchmarks/RESULTS.md):
- comments off (`include_comments=False`): a news record is the article, not the discussion;
- trafilatura's balanced mode, not `favor_precision`: with comments off it recalls far more article
  text, and the boilerplate lines it lets through are removed afterwards (extract_text);
- trafilatura's fallbacks (readability, jusText) stay on; the page's JSON-LD articleBody is the
  fallback when the extraction comes out nearly empty; a lead paragraph kept outside the body
  container is put back;
- tables kept, images and links left out of the text.
Metadata does not come from trafilatura: declared JSON-LD/meta/microdata first, then the page's own
headline and bylines, dates by a vote of independent sources (see crawler.extract_meta).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from lxml.html import HtmlElement
from trafilatura.utils import load_html

from crawler.extract_meta import extract_metadata
from crawler.extract_text import article_text
from crawler.pagekind import PageKind, classify


@dataclass(frozen=True)
class Extraction:
    """What one page yields: the article text and its normalized metadata."""

    text: str
    title: str | None
    authors: tuple[str, ...]
    published: str | None  # ISO 8601, with offset where the page gives one
    modified: str | None
    language: str | None
    site_name: str | None
    description: str | None
    canonical_url: str | None
    image: str | None
    categories: tuple[str, ...]
    tags: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for key in ("authors", "categories", "tags"):
            d[key] = list(d[key])
        return d


EMPTY = Extraction(text="", title=None, authors=(), published=None, modified=None, language=None,
                   site_name=None, description=None, canonical_url=None, image=None, categories=(), tags=())


def extract(html: str, url: str, headers: Mapping[str, str] | None = None) -> Extraction:
    """Extract the article text and metadata from `html` (already decoded) fetched from `url`.

    `headers` are the HTTP response headers (Content-Language is used when the page declares no
    language). Ordinary junk input (empty, binary, not HTML) returns an Extraction with empty text.
    """
    if not html or not html.strip():
        return EMPTY
    tree = load_html(html)
    if tree is None:
        return EMPTY
    return _extract_tree(tree, url, headers)


def extract_and_classify(html: str, url: str,
                         headers: Mapping[str, str] | None = None) -> tuple[Extraction, PageKind]:
    """`extract(html, url, headers)` and `crawler.pagekind.classify` of the same page from one parse
    (what `crawler reextract` runs per page): the page kind comes from the tree the extraction parsed,
    as a crawl classifies from the tree of the response's bytes."""
    if not html or not html.strip():
        return EMPTY, "page"
    tree = load_html(html)
    if tree is None:
        return EMPTY, classify(html, url)
    kind = classify(tree, url)  # first: it only reads the tree
    return _extract_tree(tree, url, headers), kind


def _extract_tree(tree: HtmlElement, url: str, headers: Mapping[str, str] | None) -> Extraction:
    meta = extract_metadata(tree, url, headers)
    return Extraction(
        text=article_text(tree, url, meta.article_body, meta.description),
        title=meta.title,
        authors=meta.authors,
        published=meta.published,
        modified=meta.modified,
        language=meta.language,
        site_name=meta.site_name,
        description=meta.description,
        canonical_url=meta.canonical_url or url or None,
        image=meta.image,
        categories=meta.categories,
        tags=meta.tags,
    )


def extract_for_score(html: str, url: str) -> dict[str, Any]:
    """Adapter for extraction-dev's score.py: the fields it reads."""
    e = extract(html, url)
    return {"text": e.text, "title": e.title, "authors": list(e.authors), "date": e.published,
            "sitename": e.site_name}
