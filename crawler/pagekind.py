"""Is a fetched HTML page an article or another page (home, section, tag, static)?

Decided from what the page says about itself: ``og:type`` article, JSON-LD ``NewsArticle``/``Article``/
``BlogPosting``..., microdata ``itemtype`` Article, one ``<article>`` with a headline and paragraphs, a byline
and a publication time. A URL shaped like an article (date in the path, ``-a12345`` id, long slug) adds a
little weight and can tip a borderline page, but never decides alone. Listing pages (many ``<article>``
teasers or many ``<time>`` elements) count against. A pure function; it runs on every page.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import lxml.etree
import lxml.html
from lxml.etree import ParserError, _Element

PageKind = Literal["article", "page"]

# JSON-LD / microdata types that mean "this page is one article".
ARTICLE_TYPES: frozenset[str] = frozenset(
    {
        "article", "newsarticle", "blogposting", "reportagenewsarticle", "analysisnewsarticle",
        "opinionnewsarticle", "reviewnewsarticle", "backgroundnewsarticle", "askpublicnewsarticle",
        "satiricalarticle", "scholarlyarticle", "techarticle", "socialmediaposting", "liveblogposting",
        "report", "advertisercontentarticle", "medicalscholarlyarticle", "posting",
    }
)
# og:type values that mean an article.
OG_ARTICLE_TYPES: frozenset[str] = frozenset({"article", "news", "blog", "blogpost", "newsarticle"})

_THRESHOLD = 3
_DATE_IN_PATH = re.compile(r"/(?:19|20)\d{2}/(?:0?[1-9]|1[0-2])(?:/(?:0?[1-9]|[12]\d|3[01]))?/[^/]+")
_ID_IN_PATH = re.compile(r"[-_/](?:a|article|story|news|id)?-?\d{4,}(?:\.html?)?/?$", re.IGNORECASE)
# <meta name=...> that date a page as a publication
_DATE_METAS = ("date", "pubdate", "publishdate", "publish-date", "dc.date", "dc.date.issued", "dcterms.date",
               "dcterms.created", "sailthru.date", "parsely-pub-date", "article.published", "og:published_time")
_BYLINE = re.compile(r"byline|author", re.IGNORECASE)
_WS = re.compile(r"\s+")


def _tree(html_or_tree: str | bytes | _Element) -> _Element | None:
    if isinstance(html_or_tree, _Element):
        return html_or_tree
    if not html_or_tree or not html_or_tree.strip():
        return None
    try:
        return lxml.html.fromstring(html_or_tree)
    except (ParserError, ValueError):
        # Unparseable markup carries no article signal; callers still get an answer ("page").
        return None


def _types_in(node: object, out: set[str], top: bool = True) -> None:
    """Collect the lower-cased @type values of the JSON-LD entities that describe the page itself
    (top level, lists and @graph), not those nested as values (an ItemList's items are not the page)."""
    if isinstance(node, list):
        for x in node:
            _types_in(x, out, top)
        return
    if not isinstance(node, dict):
        return
    t = node.get("@type")
    for name in t if isinstance(t, list) else [t]:
        if isinstance(name, str):
            out.add(name.rsplit("/", 1)[-1].lower())
    if "@graph" in node:
        _types_in(node["@graph"], out, top)
    main = node.get("mainEntity")
    if top and isinstance(main, dict | list):
        _types_in(main, out, False)


def jsonld_types(tree: _Element) -> set[str]:
    """Lower-cased @type names declared by the page's JSON-LD blocks (malformed blocks are skipped)."""
    return _jsonld_types_of(tree.iterfind(".//script[@type]"))


def _jsonld_types_of(scripts: Iterable[_Element]) -> set[str]:
    out: set[str] = set()
    for script in scripts:
        if script.get("type", "").split(";")[0].strip().lower() != "application/ld+json":
            continue
        text = (script.text or "").strip()
        if not text:
            continue
        try:
            data = json.loads(text, strict=False)
        except ValueError:
            # Broken JSON-LD is common on real sites; it simply gives no signal.
            continue
        _types_in(data, out)
    return out


_STRING = lxml.etree.XPath("string()")     # what lxml.html's text_content() is, for any element class


def _text_len(el: _Element) -> int:
    return len(_WS.sub(" ", str(_STRING(el))).strip())


def _body_text_points(paragraphs: list[_Element], has_h1: bool) -> int:
    """Pages without ``<article>``: a headline over several real paragraphs is +1, and +1 more when the text
    sits in one container (a story body), not spread over teasers."""
    by_parent: dict[_Element, int] = {}
    long_paragraphs = 0
    for p in paragraphs:
        n = _text_len(p)
        if n >= 80:
            long_paragraphs += 1
        if n >= 40:
            parent = p.getparent()
            if parent is not None:
                by_parent[parent] = by_parent.get(parent, 0) + n
    if long_paragraphs < 5:
        return 0
    points = 1 if has_h1 else 0
    if max(by_parent.values(), default=0) >= 1500:
        points += 1
    return points


def _main_article(articles: list[_Element]) -> _Element | None:
    """The ``<article>`` that is the page's story: a headline, 3+ paragraphs, and at least three times the
    text of any other ``<article>`` (related-story teasers are often ``<article>`` elements too)."""
    if not articles:
        return None
    main = articles[0]
    if len(articles) > 1:
        sized = sorted(((_text_len(a), a) for a in articles), key=lambda x: x[0], reverse=True)
        if sized[0][0] < 3 * sized[1][0]:
            return None
        main = sized[0][1]
    if not (main.xpath(".//h1") or (len(articles) == 1 and main.xpath(".//h2"))):
        return None
    paragraphs = 0
    for p in main.iter("p"):
        if _text_len(p) >= 60:
            paragraphs += 1
            if paragraphs == 3:
                return main
    return None


def url_hint(url: str, pattern: re.Pattern[str] | None = None) -> bool:
    """True when the URL's path looks like an article's (a hint only)."""
    path = url.split("://", 1)[-1].partition("/")[2].partition("?")[0].partition("#")[0]
    path = "/" + path
    if pattern is not None and pattern.search(path):
        return True
    if _DATE_IN_PATH.search(path) or _ID_IN_PATH.search(path.rstrip("/")):
        return True
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return last.count("-") >= 4 and len(last) >= 30


# Every element that carries a signal, in one pass over the document (lxml evaluates the union once).
_SIGNALS = lxml.etree.XPath(
    "//meta | //script[@type] | //article | //time | //h1 | //p | //*[@itemtype]"
    " | //*[@itemprop='author' or @itemprop='datePublished' or @rel='author']"
)


@dataclass
class _Signals:
    """What one pass over the page found; the costlier signals are computed only when asked for."""

    tree: _Element
    metas: dict[str, str]
    scripts: list[_Element]
    articles: list[_Element]
    paragraphs: list[_Element]
    times: int
    h1s: int
    article_items: int
    author: bool       # itemprop/rel author (the class names are looked at only when needed: _author())
    date_prop: bool


def _signals(tree: _Element) -> _Signals:
    metas: dict[str, str] = {}
    scripts, articles, paragraphs = [], [], []
    times = h1s = article_items = 0
    author = date_prop = False
    for el in _SIGNALS(tree):
        tag = el.tag
        if tag == "meta":
            key = (el.get("property") or el.get("name") or "").strip().lower()
            if key and key not in metas:
                metas[key] = (el.get("content") or "").strip().lower()
        elif tag == "script":
            scripts.append(el)
        elif tag == "article":
            articles.append(el)
        elif tag == "time":
            times += 1
        elif tag == "h1":
            h1s += 1
        elif tag == "p":
            paragraphs.append(el)
        itemtype = el.get("itemtype")
        if itemtype and itemtype.rstrip("/").rsplit("/", 1)[-1].lower() in ARTICLE_TYPES:
            article_items += 1
        itemprop = el.get("itemprop")
        author = author or itemprop == "author" or el.get("rel") == "author"
        date_prop = date_prop or itemprop == "datePublished"
    return _Signals(tree, metas, scripts, articles, paragraphs, times, h1s, article_items, author, date_prop)


def _author(s: _Signals) -> bool:
    return s.author or _byline_class(s.tree) or bool(s.metas.get("author"))


def _byline_class(tree: _Element) -> bool:
    """Whether a class name of the page names a byline or an author box (the walk ends at the first)."""
    root = tree.getroottree().getroot()
    return any(_BYLINE.search(c) for el in root.iter(lxml.etree.Element) if (c := el.get("class")))


def _head_points(s: _Signals, url: str, pattern: re.Pattern[str] | None) -> int:
    """The points that need no JSON-LD, class names or text lengths: og:type, microdata, published time,
    a date meta or itemprop, a known author, the URL."""
    points = 0
    og = s.metas.get("og:type", "")
    if og in OG_ARTICLE_TYPES or og.startswith("article"):
        points += 3
    if s.article_items == 1:
        points += 2
    if s.metas.get("article:published_time"):
        points += 1
    if s.date_prop or any(s.metas.get(m) for m in _DATE_METAS):
        points += 1
    if s.author or s.metas.get("author"):
        points += 1
    if url_hint(url, pattern):
        points += 1
    return points


def _jsonld_points(s: _Signals) -> int:
    types = _jsonld_types_of(s.scripts)
    if types & ARTICLE_TYPES:
        return 3
    if types & {"collectionpage", "itemlist", "searchresultspage", "profilepage"}:
        return -2
    return 0


def _body_points(s: _Signals) -> int:
    """The <article>/paragraph points, and the dateline ones unless a date meta or itemprop gave them."""
    points = 0
    main = _main_article(s.articles)
    if main is not None:
        points += 2                       # one dominant <article> with a headline and paragraphs
    elif len(s.articles) >= 4 or s.article_items >= 4:
        points -= 4                       # a listing of teasers
    elif not s.articles:
        points += _body_text_points(s.paragraphs, s.h1s > 0)
    if main is not None:
        dated = bool(main.xpath(".//time"))
    else:
        dated = 1 <= s.times <= 2         # a dateline
        if s.times >= 6:
            points -= 2                   # many dated items: a listing
    if dated and not (s.date_prop or any(s.metas.get(m) for m in _DATE_METAS)):
        points += 1
    return points


def _score(s: _Signals, url: str, pattern: re.Pattern[str] | None) -> int:
    points = _head_points(s, url, pattern) + _jsonld_points(s) + _body_points(s)
    if not (s.author or s.metas.get("author")) and _author(s):
        points += 1
    return points


def _bounds(s: _Signals, url: str, pattern: re.Pattern[str] | None) -> tuple[int, int]:
    """(lowest, highest) score the page can have, from the signals of the one pass alone."""
    head = _head_points(s, url, pattern)
    has_jsonld = any(el.get("type", "").split(";")[0].strip().lower() == "application/ld+json" for el in s.scripts)
    low, high = (-2, 3) if has_jsonld else (0, 0)
    body_low = -4 if len(s.articles) >= 4 or s.article_items >= 4 else 0
    if s.times >= 6:
        body_low -= 2
    low, high = low + body_low, high + 2 + 1      # <article> or paragraphs; a dateline
    if not (s.author or s.metas.get("author")):
        high += 1                                 # a byline class may add one
    return head + low, head + high


def score(html_or_tree: str | bytes | _Element, url: str, pattern: re.Pattern[str] | None = None) -> int:
    """The article score of a page: ``classify`` says "article" from ``_THRESHOLD`` up."""
    tree = _tree(html_or_tree)
    if tree is None:
        return 0
    return _score(_signals(tree), url, pattern)


def classify(
    html_or_tree: str | bytes | _Element, url: str, *, pattern: re.Pattern[str] | None = None
) -> PageKind:
    """"article" or "page" for the HTML (text or an lxml tree) fetched from ``url``.

    ``pattern``, when given, is a site's article path regex (a hint like the generic URL shapes).
    """
    tree = _tree(html_or_tree)
    if tree is None:
        return "page"
    signals = _signals(tree)
    # Most pages are decided by their head (og:type, dates, URL) whatever the rest says: then the JSON-LD,
    # class names and text lengths are not looked at (they were most of the time of this, on every page).
    low, high = _bounds(signals, url, pattern)
    if low >= _THRESHOLD:
        return "article"
    if high < _THRESHOLD:
        return "page"
    return "article" if _score(signals, url, pattern) >= _THRESHOLD else "page"
