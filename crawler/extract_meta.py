"""Article metadata chosen from what the page declares, then from what it shows.

Order of trust, field by field: JSON-LD article objects, then OpenGraph/`article:*`/Dublin Core meta
tags, then microdata, then visible markup (the headline `<h1>`, byline elements, `<time>`), then
patterns in the URL and in the text (htmldate as the last resort for dates). Every value is
normalized: titles lose a site-name suffix, authors become a tuple of names, dates ISO 8601.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from lxml.html import HtmlElement

from crawler.extract_authors import choose_authors
from crawler.extract_dates import choose_modified, choose_published
from crawler.extract_signals import Signals, collect, ld_list, ld_text
from crawler.extract_title import choose_title, site_keys
from crawler.urls import join_url

if TYPE_CHECKING:
    import tldextract


@dataclass(frozen=True)
class Metadata:
    title: str | None
    authors: tuple[str, ...]
    published: str | None
    modified: str | None
    language: str | None
    site_name: str | None
    description: str | None
    canonical_url: str | None
    image: str | None
    categories: tuple[str, ...]
    tags: tuple[str, ...]
    article_body: str | None = None  # JSON-LD articleBody, the publisher's own plain text of the article


_WS = re.compile(r"\s+")
_SITE_SEP = re.compile(r"\s+[|\-–—·•»›:]\s+")
# separators between a headline and a site name: "Headline | Site", "Headline - Site", "Site » Headline"
def extract_metadata(tree: HtmlElement, url: str, headers: Mapping[str, str] | None = None,
                     *, date_fallback: bool = True) -> Metadata:
    """Metadata of the page parsed as `tree` (not modified) fetched from `url`."""
    s = collect(tree)
    site_name = _site_name(s)
    keys = site_keys(site_name, url, s)
    return Metadata(
        title=choose_title(tree, s, keys),
        authors=choose_authors(tree, s, keys),
        published=choose_published(tree, s, url, date_fallback),
        modified=choose_modified(s),
        language=_language(tree, s, headers),
        site_name=site_name or _site_name_fallback(tree, url),
        description=s.first_ld("description") or s.first_meta("og:description", "description",
                                                                "twitter:description", "dc.description"),
        canonical_url=_canonical(s, url),
        image=_image(s, url),
        categories=_terms(_ld_values(s, "articleSection"), s.meta.get("article:section", [])),
        tags=_terms(_ld_values(s, "keywords"), s.meta.get("article:tag", []), s.meta.get("news_keywords", []),
                    s.meta.get("keywords", [])),
        article_body=next((b for b in (ld_text(o.get("articleBody")) for o in s.articles) if b), None),
    )


# ---- JSON-LD helpers ----

def _ld_values(s: Signals, key: str) -> list[str]:
    out: list[str] = []
    for obj in s.articles[:1]:
        for item in ld_list(obj.get(key)):
            value = ld_text(item)
            if value:
                out.extend(v for v in (value.split(",") if key == "keywords" else [value]))
    return out


def _terms(*groups: list[str]) -> tuple[str, ...]:
    for group in groups:
        terms: list[str] = []
        for raw in group:
            for term in raw.split(",") if "," in raw else [raw]:
                term = _WS.sub(" ", term).strip()
                if term and len(term) < 100 and term not in terms:
                    terms.append(term)
        if terms:
            return tuple(terms[:30])
    return ()


# ---- site name, title ----

def _site_name(s: Signals) -> str | None:
    name = s.first_meta("og:site_name", "application-name", "al:android:app_name", "al:ios:app_name")
    if not name:
        for obj in s.articles + s.pages + s.others:
            if "WebSite" in str(obj.get("@type")):
                name = ld_text(obj.get("name"))
                if name:
                    break
    if not name:
        for obj in s.articles:
            publisher = obj.get("publisher")
            name = ld_text(publisher.get("name")) if isinstance(publisher, dict) else None
            if name:
                break
    return _WS.sub(" ", name).strip().lstrip("@") if name else None


def _site_name_fallback(tree: HtmlElement, url: str) -> str | None:
    """Without a declared name: the last segment of "Headline | Site" titles, else the domain's name."""
    el = tree.find(".//title")
    title = " ".join(el.text_content().split()) if el is not None else ""
    parts = [p for p in _SITE_SEP.split(title) if p.strip()]
    if len(parts) >= 2 and len(parts[-1].split()) <= 4 and len(parts[-1]) < len(parts[0]):
        return parts[-1].strip()
    return _domain_name(urlsplit(url).hostname or "")


def _domain_name(host: str) -> str | None:
    """The name a domain is registered under, without its public suffix: ``www.bbc.co.uk`` -> "bbc",
    ``smh.com.au`` -> "smh" (the Public Suffix List, not the second-to-last label, which would give "co"
    and "com"). None for an IP address and for a host under no public suffix (``localhost``)."""
    host = host.strip().lower().rstrip(".")
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        parts = _suffixes().extract_str(host)
        if not (parts.domain and parts.suffix):
            return None
        try:
            return parts.domain.encode("ascii").decode("idna") if parts.domain.startswith("xn--") else parts.domain
        except UnicodeError:  # not valid punycode: the label as it is
            return parts.domain
    return None


@cache
def _suffixes() -> tldextract.TLDExtract:
    # tldextract's bundled Public Suffix List snapshot only: extraction never fetches it, never writes a cache.
    # Imported on first use: most pages name their site, and tldextract costs time at start-up.
    import tldextract

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)



# ---- dates ----

# ---- language, URLs ----

def _language(tree: HtmlElement, s: Signals, headers: Mapping[str, str] | None) -> str | None:
    candidates: list[Any] = [tree.get("lang"), tree.get("{http://www.w3.org/XML/1998/namespace}lang"),
                             s.first_meta("content-language", "og:locale", "dc.language", "language"),
                             s.first_ld("inLanguage")]
    if headers:
        candidates.append(next((v for k, v in headers.items() if k.lower() == "content-language"), None))
    for raw in candidates:
        if isinstance(raw, str) and raw.strip():
            tag = raw.strip().split(",")[0].strip().replace("_", "-")
            primary, _, region = tag.partition("-")
            if primary.isalpha() and 2 <= len(primary) <= 3:
                return primary.lower() + ("-" + region.upper() if region.isalpha() and len(region) == 2 else "")
    return None


def _absolute(value: str | None, url: str) -> str | None:
    if not value:
        return None
    value = value.strip()
    if value.startswith(("javascript:", "data:")):
        return None
    return join_url(url, value)  # None for a malformed one ("http://[bad"): it costs only that field


def _canonical(s: Signals, url: str) -> str | None:
    for href in s.links.get("canonical", []):
        if href:
            return _absolute(href, url)
    return _absolute(s.first_meta("og:url"), url)


def _image(s: Signals, url: str) -> str | None:
    raw = s.first_meta("og:image", "og:image:url", "og:image:secure_url", "twitter:image", "twitter:image:src")
    if not raw:
        for obj in s.articles:
            raw = ld_text(obj.get("image")) or ld_text(obj.get("thumbnailUrl"))
            if raw:
                break
    return _absolute(raw, url)
