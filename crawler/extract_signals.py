"""Structured metadata a page declares about itself: meta tags, JSON-LD and microdata.

One pass over the parsed tree collects every declared value (no choosing here); `extract_meta`
decides which one wins. Nothing here reads the article text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from lxml.html import HtmlElement

# JSON-LD @type values that describe the article itself (lower case, without schema.org prefix)
ARTICLE_TYPES = frozenset({
    "article", "newsarticle", "reportagenewsarticle", "analysisnewsarticle", "opinionnewsarticle",
    "reviewnewsarticle", "backgroundnewsarticle", "blogposting", "socialmediaposting", "techarticle",
    "scholarlyarticle", "liveblogposting", "report", "posting", "discussionforumposting", "recipe",
    "review", "medicalwebpage", "creativework", "howto", "videoobject", "event", "product", "podcastepisode",
})
PAGE_TYPES = frozenset({"webpage", "itempage", "aboutpage", "collectionpage", "profilepage", "qapage", "faqpage"})
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


@dataclass
class Signals:
    """Everything the page declares, in document order; keys are lower case."""

    meta: dict[str, list[str]] = field(default_factory=dict)        # name/property/http-equiv -> contents
    articles: list[dict[str, Any]] = field(default_factory=list)    # JSON-LD objects of ARTICLE_TYPES
    pages: list[dict[str, Any]] = field(default_factory=list)       # JSON-LD WebPage-like objects
    others: list[dict[str, Any]] = field(default_factory=list)      # all other JSON-LD objects
    itemprops: dict[str, list[HtmlElement]] = field(default_factory=dict)  # microdata, outside <meta>
    links: dict[str, list[str]] = field(default_factory=dict)       # rel -> hrefs
    ids: dict[str, dict[str, Any]] = field(default_factory=dict)    # JSON-LD "@id" -> object

    def resolve(self, value: Any) -> Any:
        """A JSON-LD reference ({"@id": ...} alone) replaced by the object it names, if the page has it."""
        if isinstance(value, dict) and set(value) == {"@id"} and isinstance(value["@id"], str):
            return self.ids.get(value["@id"], value)
        return value

    def persons(self) -> list[dict[str, Any]]:
        return [o for o in self.others if "person" in str(o.get("@type", "")).lower()]

    def first_ld(self, key: str) -> str | None:
        """The first non-empty value of `key` among the article's JSON-LD objects, whitespace collapsed."""
        for obj in self.articles:
            value = ld_text(obj.get(key))
            if value:
                return " ".join(value.split())
        return None

    def first_meta(self, *names: str) -> str | None:
        for name in names:
            for value in self.meta.get(name, ()):
                if value.strip():
                    return value.strip()
        return None


def collect(tree: HtmlElement) -> Signals:
    """Collect meta tags, link rels, JSON-LD objects and microdata items from the whole tree."""
    s = Signals()
    for el in tree.iter("meta", "link", "script"):
        tag = el.tag
        if tag == "meta":
            content = el.get("content")
            if content is None:
                continue
            for attr in ("property", "name", "itemprop", "http-equiv"):
                key = el.get(attr)
                if key:
                    s.meta.setdefault(key.strip().lower(), []).append(content)
        elif tag == "link":
            href = el.get("href")
            for rel in (el.get("rel") or "").lower().split():
                if href:
                    s.links.setdefault(rel, []).append(href.strip())
        elif (el.get("type") or "").strip().lower() == "application/ld+json":
            for obj in _jsonld_objects(el.text or ""):
                if isinstance(obj.get("@id"), str) and len(obj) > 1:
                    s.ids.setdefault(obj["@id"], obj)
                types = {t.rsplit("/", 1)[-1].lower() for t in _types(obj)}
                if types & ARTICLE_TYPES:
                    s.articles.append(obj)
                elif types & PAGE_TYPES:
                    s.pages.append(obj)
                else:
                    s.others.append(obj)
    for el in tree.xpath("//*[@itemprop][not(self::meta)]"):
        for prop in el.get("itemprop", "").lower().split():
            s.itemprops.setdefault(prop, []).append(el)
    return s


def _types(obj: dict[str, Any]) -> list[str]:
    t = obj.get("@type")
    if isinstance(t, str):
        return [t]
    if isinstance(t, list):
        return [x for x in t if isinstance(x, str)]
    return []


def _jsonld_objects(text: str) -> Iterator[dict[str, Any]]:
    """Top-level objects of one JSON-LD script, @graph flattened; invalid JSON yields nothing."""
    text = _CONTROL.sub(" ", text.strip())
    if text.startswith("<!--"):
        text = text[4:].rsplit("-->", 1)[0]
    try:
        data = json.loads(text, strict=False)
    except (ValueError, RecursionError):  # broken or absurdly nested JSON-LD is common and carries no signal
        return
    yield from _flatten(data, 0)


def _flatten(data: Any, depth: int) -> Iterator[dict[str, Any]]:
    if depth > 4:
        return
    if isinstance(data, list):
        for item in data:
            yield from _flatten(item, depth + 1)
    elif isinstance(data, dict):
        graph = data.get("@graph")
        if graph is not None:
            yield from _flatten(graph, depth + 1)
        if "@type" in data:
            yield data
        main = data.get("mainEntity")
        if isinstance(main, dict | list):
            yield from _flatten(main, depth + 1)


def ld_text(value: Any) -> str | None:
    """A plain string from a JSON-LD value (str, number, {"@value"}, {"name"}, or the first of a list)."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, dict):
        for key in ("@value", "name", "url", "@id"):
            if key in value:
                return ld_text(value[key])
        return None
    if isinstance(value, list):
        for item in value:
            text = ld_text(item)
            if text:
                return text
    return None


def ld_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
