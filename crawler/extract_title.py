"""The article's title: the page's own headline, confirmed by the titles it declares, without the site name.

The visible headline (<h1>, itemprop=headline, *-title classes) wins when a declared title (JSON-LD
headline, og:title, twitter:title, <title>) or a part of one confirms it; then the first meaningful
<h1>; then the declared title with leading or trailing segments naming the site dropped ("Headline |
Site", "Site » Headline"), recognized by og:site_name, application-name or the domain.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from lxml.etree import XPath
from lxml.html import HtmlElement

from crawler.extract_dom import clean, squash, text_of
from crawler.extract_signals import Signals

# between spaces, or a bar or bullet even without them; guillemets only between spaces (they also quote)
_TITLE_SEP = re.compile(r"\s+(?:[|\-–—~·•»«›‹/:]|::|\\\\|\|\|)\s+|\s*[|·•│]\s*")
_SEGMENT_SEP = re.compile(_TITLE_SEP.pattern + r"|(?<=\w)[:：]\s+")


def site_keys(site_name: str | None, url: str, s: Signals) -> set[str]:
    keys = set()
    for name in (site_name, s.first_meta("application-name"), s.first_meta("twitter:site")):
        if name:
            keys.add(squash(name.lstrip("@")))
    host = (urlsplit(url).hostname or "").lower()
    if host.startswith("www."):
        host = host[4:]
    if host:
        keys.add(squash(host))
        labels = host.split(".")
        keys.add(squash(labels[0]))
        if len(labels) >= 2:
            keys.add(squash(labels[-2]))
    keys.discard("")
    return keys


def is_site(segment: str, keys: set[str]) -> bool:
    sq = squash(segment)
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
    while end - start > 1 and is_site(parts[end - 1], keys):
        end -= 1
    while end - start > 1 and is_site(parts[start], keys):
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
        text = text_of(el)
        if not text or len(text) > 400 or text in out:
            continue
        # a kicker in its own child ("<span>Covid-19</span> Headline"): the headline without it comes first
        texts = [text]
        children = [t for t in (text_of(child) for child in el if isinstance(child.tag, str)) if t]
        kicker = next((t for t in (text_of(d) for d in el.iterdescendants() if isinstance(d.tag, str))
                       if t and t != text), None)
        if kicker and text.startswith(kicker) and len(kicker) < len(text) / 2:
            texts.insert(0, text[len(kicker):].strip(" :|/-–—"))
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
        out.add(squash(run))
        for j in range(i + 1, len(parts)):
            run += seps[j - 1] + parts[j]
            out.add(squash(run))
    out.discard("")
    return out


def choose_title(tree: HtmlElement, s: Signals, keys: set[str]) -> str | None:
    declared = [t for t in (s.first_ld("headline"), s.first_meta("og:title"), s.first_meta("twitter:title"),
                            _html_title(tree), s.first_ld("name")) if t]
    declared = [clean(t) for t in declared]
    stripped = [strip_site_name(t, keys) for t in declared]
    # 1. a visible headline that the declared titles confirm, in its on-page spelling
    segments: set[str] = set()
    for t in declared:
        segments |= _segments(t)
    headings = [strip_site_name(h, keys) for h in _headings(tree)]
    exact = {squash(t) for t in stripped}
    for pool in (exact, segments):  # a heading equal to a declared title, else to a part of one
        for h in headings:
            sq = squash(h)
            if len(sq) >= 3 and sq in pool and not is_site(h, keys):
                return h
    # 2. the page's own headline element, unless it only names the site
    for el in tree.xpath("//h1")[:2] + _MAIN_HEADLINE(tree)[:2]:
        text = strip_site_name(text_of(el), keys)
        if len(text) > 10 and not is_site(text, keys):
            return text
    # 3. the declared headline without the site name
    for t in stripped:
        if t and not is_site(t, keys):
            return t
    # 4. a visible heading, else whatever is declared
    if headings:
        return headings[0]
    return stripped[0] if stripped else None


def _html_title(tree: HtmlElement) -> str | None:
    el = tree.find(".//title")
    return text_of(el) if el is not None else None
