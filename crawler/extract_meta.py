"""Article metadata chosen from what the page declares, then from what it shows.

Order of trust, field by field: JSON-LD article objects, then OpenGraph/`article:*`/Dublin Core meta
tags, then microdata, then visible markup (the headline `<h1>`, byline elements, `<time>`), then
patterns in the URL and in the text (htmldate as the last resort for dates). Every value is
normalized: titles lose a site-name suffix, authors become a tuple of names, dates ISO 8601.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from htmldate import find_date
from lxml.etree import XPath
from lxml.html import HtmlElement

from crawler.extract_authors import clean_names, looks_like_name
from crawler.extract_dates import iso_date, text_date, url_date
from crawler.extract_signals import Signals, collect, ld_list, ld_text


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
# separators between a headline and a site name: "Headline | Site", "Headline - Site", "Site » Headline"
_TITLE_SEP = re.compile(r"\s+(?:[|\-–—~·•»«›‹/:]|::|\\\\|\|\|)\s+|\s*[|·•»«›‹│]\s*")
_SEGMENT_SEP = re.compile(_TITLE_SEP.pattern + r"|(?<=\w)[:：]\s+")
_PUBLISHED_META = ("article:published_time", "og:published_time", "og:article:published_time",
                   "datepublished", "article.published", "publish-date", "publish_date", "pubdate",
                   "publishdate", "publication_date", "date.published", "parsely-pub-date",
                   "sailthru.date", "dc.date.issued", "dcterms.issued", "dc.date", "dcterms.date",
                   "dc.date.created", "dcterms.created", "citation_publication_date", "citation_date",
                   "date", "article_date_original", "originalpublicationdate", "cxenseparse:recs:publishtime",
                   "displaydate", "dateCreated".lower(), "created", "release_date")
_MODIFIED_META = ("article:modified_time", "og:updated_time", "datemodified", "dc.date.modified",
                  "dcterms.modified", "last-modified", "lastmod", "article.updated", "updated")
_AUTHOR_META = ("author", "article:author", "og:article:author", "parsely-author", "sailthru.author",
                "dc.creator", "dcterms.creator", "citation_author", "byl", "cxenseparse:author",
                "article.author", "twitter:data1_author")
_BYLINES = XPath(
    "//body//*[@rel='author' or contains(@class,'author') or contains(@class,'Author') or contains(@class,'byline')"
    " or contains(@class,'Byline') or contains(@id,'author') or contains(@class,'autor') or contains(@class,'Autor')"
    " or contains(@class,'writer') or contains(@class,'creator') or contains(@class,'auteur')]"
    "[not(contains(@class,'related'))]"
)
# a label, then the name: "<h5>Autor:</h5>Peter Maahn", "<h4>Author</h4><p>Jane Doe</p>"
_AUTHOR_LABELS = XPath(
    "//body//text()[normalize-space(.)='Autor:' or normalize-space(.)='Autor' or normalize-space(.)='Author:'"
    " or normalize-space(.)='Author' or normalize-space(.)='Autorin:' or normalize-space(.)='Autorin'"
    " or normalize-space(.)='Text:' or normalize-space(.)='Verfasser:' or normalize-space(.)='Auteur :'"
    " or normalize-space(.)='Auteur:' or normalize-space(.)='Autore:' or normalize-space(.)='Written by:'"
    " or normalize-space(.)='Von:' or normalize-space(.)='By:']"
)
_AUTHOR_LINKS = XPath("//a[contains(@href,'/author/') or contains(@href,'/autor/') or contains(@href,'/authors/')"
                      " or contains(@href,'/autoren/') or contains(@href,'/auteur/') or contains(@href,'/profile/')]")
# short blocks whose text starts like a byline: "By Jane Doe", "Von Max Muster", "Par Jean Dupont"
_TEXT_BYLINES = XPath(
    "//body//*[self::p or self::span or self::div or self::strong or self::em or self::b or self::small or self::li]"
    "[text()[1][starts-with(normalize-space(.),'By ') or starts-with(normalize-space(.),'Von ')"
    " or starts-with(normalize-space(.),'Par ') or starts-with(normalize-space(.),'Por ')"
    " or starts-with(normalize-space(.),'BY ') or starts-with(normalize-space(.),'VON ')"
    " or starts-with(normalize-space(.),'by ') or starts-with(normalize-space(.),'von ')]]"
)
_OTHER_PEOPLE = re.compile(r"^(?:comments?|comment-.*|.*-comments?|commentlist|site-footer|footer|page-footer|"
                           r"widget|related-posts|author-box|about-author)$")


def _boilerplate(el: HtmlElement) -> bool:
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


def _norm(text: str) -> str:
    return _WS.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def _squash(text: str) -> str:
    return "".join(c for c in _norm(text) if c.isalnum())


_DOMAIN = re.compile(r"\w\.(?:com|org|net|info|de|at|ch|fr|es|it|uk|eu|io|pl|nl|be)\b", re.I)
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))


def _clean(text: str) -> str:
    return _WS.sub(" ", text.translate(_INVISIBLE)).strip()


def _text(el: HtmlElement) -> str:
    return _clean(el.text_content())


def extract_metadata(tree: HtmlElement, url: str, headers: Mapping[str, str] | None = None,
                     *, date_fallback: bool = True) -> Metadata:
    """Metadata of the page parsed as `tree` (not modified) fetched from `url`."""
    s = collect(tree)
    site_name = _site_name(s)
    keys = _site_keys(site_name, url, s)
    return Metadata(
        title=_title(tree, s, keys),
        authors=_authors(tree, s, keys),
        published=_published(tree, s, url, date_fallback),
        modified=_modified(s),
        language=_language(tree, s, headers),
        site_name=site_name,
        description=_first_ld(s, "description") or s.first_meta("og:description", "description",
                                                                "twitter:description", "dc.description"),
        canonical_url=_canonical(s, url),
        image=_image(s, url),
        categories=_terms(_ld_values(s, "articleSection"), s.meta.get("article:section", [])),
        tags=_terms(_ld_values(s, "keywords"), s.meta.get("article:tag", []), s.meta.get("news_keywords", []),
                    s.meta.get("keywords", [])),
        article_body=next((b for b in (ld_text(o.get("articleBody")) for o in s.articles) if b), None),
    )


# ---- JSON-LD helpers ----

def _first_ld(s: Signals, key: str) -> str | None:
    for obj in s.articles:
        value = ld_text(obj.get(key))
        if value:
            return _WS.sub(" ", value).strip()
    return None


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


def _site_keys(site_name: str | None, url: str, s: Signals) -> set[str]:
    keys = set()
    for name in (site_name, s.first_meta("application-name"), s.first_meta("twitter:site")):
        if name:
            keys.add(_squash(name.lstrip("@")))
    host = (urlsplit(url).hostname or "").lower()
    if host.startswith("www."):
        host = host[4:]
    if host:
        keys.add(_squash(host))
        labels = host.split(".")
        keys.add(_squash(labels[0]))
        if len(labels) >= 2:
            keys.add(_squash(labels[-2]))
    keys.discard("")
    return keys


def _is_site(segment: str, keys: set[str]) -> bool:
    sq = _squash(segment)
    if not sq:
        return True
    return any(sq == k or (len(k) >= 4 and (k in sq or sq in k) and len(sq) <= len(k) + 12) for k in keys)


def strip_site_name(title: str, keys: set[str]) -> str:
    """"Headline | Site" -> "Headline": drop leading and trailing segments that name the site."""
    parts = _TITLE_SEP.split(title)
    seps = _TITLE_SEP.findall(title)
    if len(parts) < 2:
        return title
    start, end = 0, len(parts)
    while end - start > 1 and _is_site(parts[end - 1], keys):
        end -= 1
    while end - start > 1 and _is_site(parts[start], keys):
        start += 1
    if (start, end) == (0, len(parts)):
        return title
    out = parts[start]
    for i in range(start + 1, end):
        out += seps[i - 1] + parts[i]
    return out.strip()


_HEADLINE_XPATH = (
    "//h1 | //*[@itemprop='headline'] | //*[self::h2 or self::h3 or self::div or self::span or self::p]"
    "[contains(@class,'entry-title') or contains(@class,'post-title') or contains(@class,'article-title')"
    " or contains(@class,'headline') or contains(@class,'article__title') or contains(@class,'page-title')] | //h2"
)


_MAIN_HEADLINE = XPath(
    "//*[@itemprop='headline'] | //*[contains(@class,'entry-title') or contains(@class,'post-title')"
    " or contains(@class,'article-title')]"
)


def _headings(tree: HtmlElement) -> list[str]:
    """Visible headline candidates: <h1>, itemprop=headline, *-title classes, then <h2>, in that order."""
    out: list[str] = []
    h2s: list[str] = []
    for el in tree.xpath(_HEADLINE_XPATH):
        text = _text(el)
        if not text or len(text) > 400 or text in out:
            continue
        # a kicker in its own child ("<span>Covid-19</span> Headline"): the headline without it comes first
        texts = [text]
        children = [t for t in (_text(child) for child in el if isinstance(child.tag, str)) if t]
        kicker = next((t for t in (_text(d) for d in el.iterdescendants() if isinstance(d.tag, str))
                       if t and t != text), None)
        if kicker and text.startswith(kicker) and len(kicker) < len(text) / 2:
            texts.insert(0, text[len(kicker):].strip(" :|-–—"))
        texts += children
        if el.tag == "h2" and "title" not in (el.get("class") or "") and el.get("itemprop") != "headline":
            if len(h2s) < 20:
                h2s.extend(texts)
        elif len(out) < 20:
            out.extend(texts)
    return out + [h for h in h2s if h not in out]


def _segments(title: str) -> set[str]:
    """Squashed runs of consecutive segments of a declared title ("A | B | C" -> A, B, C, A|B, B|C, ...)."""
    parts = _SEGMENT_SEP.split(title)
    seps = _SEGMENT_SEP.findall(title)
    out = set()
    for i in range(len(parts)):
        run = parts[i]
        out.add(_squash(run))
        for j in range(i + 1, len(parts)):
            run += seps[j - 1] + parts[j]
            out.add(_squash(run))
    out.discard("")
    return out


def _title(tree: HtmlElement, s: Signals, keys: set[str]) -> str | None:
    declared = [t for t in (_first_ld(s, "headline"), s.first_meta("og:title"), s.first_meta("twitter:title"),
                            _html_title(tree), _first_ld(s, "name")) if t]
    declared = [_clean(t) for t in declared]
    stripped = [strip_site_name(t, keys) for t in declared]
    # 1. a visible headline that the declared titles confirm, in its on-page spelling
    segments: set[str] = set()
    for t in declared:
        segments |= _segments(t)
    headings = [strip_site_name(h, keys) for h in _headings(tree)]
    exact = {_squash(t) for t in stripped}
    for pool in (exact, segments):  # a heading equal to a declared title, else to a part of one
        for h in headings:
            sq = _squash(h)
            if len(sq) >= 3 and sq in pool and not _is_site(h, keys):
                return h
    # 2. the page's own headline element, unless it only names the site
    for el in tree.xpath("//h1")[:2] + _MAIN_HEADLINE(tree)[:2]:
        text = strip_site_name(_text(el), keys)
        if len(text) > 10 and not _is_site(text, keys):
            return text
    # 3. the declared headline without the site name
    for t in stripped:
        if t and not _is_site(t, keys):
            return t
    # 4. a visible heading, else whatever is declared
    if headings:
        return headings[0]
    return stripped[0] if stripped else None


def _html_title(tree: HtmlElement) -> str | None:
    el = tree.find(".//title")
    return _text(el) if el is not None else None


# ---- authors ----

def _ld_authors(s: Signals, keys: set[str], *, persons: bool) -> tuple[str, ...]:
    """JSON-LD authors of the article: persons (or untyped names) first, organizations on request."""
    for obj in s.articles + s.pages:
        names: list[str] = []
        for person in ld_list(obj.get("author")) + ld_list(obj.get("creator")):
            person = s.resolve(person)
            if isinstance(person, dict):
                is_org = "organization" in str(person.get("@type", "")).lower()
                raw = ld_text(person.get("name"))
            else:
                is_org, raw = False, ld_text(person)
            if raw and is_org != persons:
                names.extend(n for n in clean_names(raw) if _squash(n) not in keys)
        if names:
            return tuple(dict.fromkeys(names))
    people = s.persons()
    if persons and not s.articles and len(people) == 1:  # a blog's graph: the page and its one author
        return tuple(n for n in clean_names(ld_text(people[0].get("name"))) if _squash(n) not in keys)
    return ()


def _byline_text(el: HtmlElement) -> str:
    return _clean(" ".join(el.itertext()))


def _authors(tree: HtmlElement, s: Signals, keys: set[str]) -> tuple[str, ...]:
    fallback: list[tuple[str, ...]] = []

    def usable(raw: str | None) -> tuple[str, ...]:
        """Names, unless they only repeat the site's name (kept as a last resort)."""
        names = clean_names(raw)
        if names and all(_squash(n) in keys or _DOMAIN.search(n) for n in names):
            fallback.append(names)
            return ()
        return tuple(n for n in names if _squash(n) not in keys)  # "Jane Doe, CNN" on cnn.com: Jane Doe

    names = _ld_authors(s, keys, persons=True)
    if names:
        return names
    for key in _AUTHOR_META:
        for raw in s.meta.get(key, ()):
            names = usable(raw)
            if names:
                return names
    for el in s.itemprops.get("author", []) + s.itemprops.get("creator", []):
        if _boilerplate(el):
            continue
        inner = el.xpath(".//*[@itemprop='name']")
        raw = (inner[0].get("content") or _byline_text(inner[0])) if inner else (el.get("content") or _byline_text(el))
        names = usable(raw)
        if names:
            return names
    for el in _BYLINES(tree)[:30]:
        raw = _byline_text(el)
        if 2 < len(raw) < 120 and not _boilerplate(el):
            names = usable(raw)
            if names:
                return names
    for label in _AUTHOR_LABELS(tree)[:3]:
        parent = label.getparent()
        if parent is None or _boilerplate(parent):
            continue
        if label.is_tail:  # "<b>Autor:</b> Jane Doe" has the label as the <b>'s text; here it is a tail
            following = parent.getnext()
        else:
            following = parent.getnext() if not (parent.tail or "").strip() else None
            if following is None:
                names = usable(parent.tail)
                if names:
                    return names
        if following is not None:
            names = usable(_byline_text(following))
            if names:
                return names
    for el in _AUTHOR_LINKS(tree)[:10]:
        raw = _byline_text(el)
        if 2 < len(raw) < 80 and not _boilerplate(el):
            names = usable(raw)
            if names:
                return names
    for el in _TEXT_BYLINES(tree)[:10]:
        raw = _byline_text(el)
        if len(raw) < 120 and not _boilerplate(el):
            names = tuple(n for n in usable(raw) if looks_like_name(n))
            if names:
                return names
    return _ld_authors(s, keys, persons=False) or (fallback[0] if fallback else ())


# ---- dates ----

# Each source of a publication date votes for its day with a weight (how often that source alone is right
# on the extraction-dev set's even half); the day with the most weight wins. Sources disagree on a fifth of
# pages (stale JSON-LD, UTC stamps across midnight, "last updated" shown as the date), and agreement
# between independent sources is the best evidence there is.
_DATE_WEIGHTS = {"url": 0.7, "meta": 0.6, "jsonld": 1.1, "microdata": 1.2, "time": 0.4, "visible": 1.3,
                 "text": 0.4, "htmldate": 1.1, "htmldate_original": 0.5}
_VISIBLE_DATES = XPath(
    "//*[contains(@class,'date') or contains(@class,'Date') or contains(@class,'datum') or contains(@class,'time')"
    " or contains(@class,'publish') or contains(@class,'stand') or self::time]"
)


def _date_votes(tree: HtmlElement, s: Signals, url: str, date_fallback: bool) -> dict[str, str]:
    """Each source's publication date (ISO 8601, as precise as the source gives it)."""
    votes: dict[str, str] = {}
    for obj in s.articles + s.pages:
        value = iso_date(ld_text(obj.get("datePublished")) or ld_text(obj.get("dateCreated")))
        if value:
            votes["jsonld"] = value
            break
    for key in _PUBLISHED_META:
        value = next((v for v in map(iso_date, s.meta.get(key, ())) if v), None)
        if value:
            votes["meta"] = value
            break
    for el in s.itemprops.get("datepublished", []) + s.itemprops.get("datecreated", []):
        value = iso_date(el.get("content") or el.get("datetime")) or text_date(_text(el))
        if value:
            votes["microdata"] = value
            break
    for el in tree.iter("time"):
        value = iso_date(el.get("datetime"))
        if value:
            votes["time"] = value
        break
    for el in _VISIBLE_DATES(tree)[:40]:
        if len(el) > 6:  # a container, not a date
            continue
        text = _text(el)
        if len(text) < 100 and not _boilerplate(el):
            value = text_date(text)
            if value:
                votes["visible"] = value
                break
    body = tree.find(".//body")
    if body is not None:
        value = text_date(_first_text(body, 5000))
        if value:
            votes["text"] = value
    value = url_date(url)
    if value:
        votes["url"] = value
    if date_fallback:
        value = find_date(tree, extensive_search=True, original_date=False, url=url)
        if value:
            votes["htmldate"] = value
        value = find_date(tree, extensive_search=False, original_date=True, url=url)
        if value:
            votes["htmldate_original"] = value
    return votes


def _first_text(el: HtmlElement, limit: int) -> str:
    """The first `limit` characters of visible text under `el` (scripts and styles skipped)."""
    parts: list[str] = []
    size = 0
    for node in el.iter():
        if node.tag in ("script", "style", "noscript") or not isinstance(node.tag, str):
            continue
        for text in (node.text, node.tail):
            if text and not text.isspace():
                parts.append(text)
                size += len(text)
        if size > limit:
            break
    return " ".join(parts)[:limit]


def _published(tree: HtmlElement, s: Signals, url: str, date_fallback: bool) -> str | None:
    votes = _date_votes(tree, s, url, date_fallback)
    if not votes:
        return None
    tally: dict[str, float] = {}
    for source, value in votes.items():
        tally[value[:10]] = tally.get(value[:10], 0.0) + _DATE_WEIGHTS[source]
    day = max(tally, key=lambda d: tally[d])  # first-seen wins a tie: JSON-LD, meta, microdata, ...
    # the most precise value for that day: a full timestamp with its offset where a source gives one
    return max((v for v in votes.values() if v[:10] == day), key=len)


def _modified(s: Signals) -> str | None:
    for obj in s.articles + s.pages:
        value = iso_date(ld_text(obj.get("dateModified")))
        if value:
            return value
    for key in _MODIFIED_META:
        for raw in s.meta.get(key, ()):
            value = iso_date(raw)
            if value:
                return value
    return None


# ---- language, URLs ----

def _language(tree: HtmlElement, s: Signals, headers: Mapping[str, str] | None) -> str | None:
    candidates: list[Any] = [tree.get("lang"), tree.get("{http://www.w3.org/XML/1998/namespace}lang"),
                             s.first_meta("content-language", "og:locale", "dc.language", "language"),
                             _first_ld(s, "inLanguage")]
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
    return urljoin(url, value)


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
