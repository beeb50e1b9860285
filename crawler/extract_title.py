"""The article's title: the page's own headline, confirmed by the titles it declares, without the site name.

Declared titles: the article's own (JSON-LD headline, og:title, twitter:title, meta headline/DC.title/title),
then the general ones (<title>, the JSON-LD name of the page's main object). Visible headings: <h1>,
itemprop=headline, *-title/*headline classes, then <h2>; a heading that is the site's logo (a site-title
class, or only a link to the home page) names the site instead, hidden headings come last. In order:
the page's headline when it extends an article title it begins with; a heading equal to a declared title
(article titles first; a kicker or a label in its own child element left out when the rest is confirmed);
the longest heading equal to a segment of one; the first meaningful <h1>; without one, a named headline
sharing a word with a declared title, else the first heading outside navigation; then the declared title
with leading or trailing segments naming the site dropped ("Headline | Site", "Site » Headline"),
recognized by og:site_name, application-name, the domain or a logo heading.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from urllib.parse import urlsplit

from lxml.html import HtmlElement

from crawler.extract_dom import clean, squash, text_of
from crawler.extract_signals import Signals, ld_text

# between spaces, or a bar or bullet even without them; guillemets only between spaces (they also quote)
_TITLE_SEP = re.compile(r"\s+(?:[|\-–—~·•»«›‹/:]|::|\\\\|\|\|)\s+|\s*[|·•│]\s*")
_DATE_ONLY = re.compile(r"^\s*\d{1,4}[./-]\d{1,2}[./-]\d{1,4}\s*$")
_EMBEDDED_TYPES = frozenset({"videoobject", "product", "event", "podcastepisode"})
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


def is_site(segment: str, keys: set[str], names: frozenset[str] = frozenset()) -> bool:
    """Whether `segment` names the site: like one of `keys` (its name, domain), or equal to one of `names`."""
    sq = squash(segment)
    if not sq or sq in names:
        return True
    return any(sq == k or (len(k) >= 4 and (k in sq or sq in k) and len(sq) <= len(k) + 12) for k in keys)


def strip_site_name(title: str, keys: set[str], names: frozenset[str] = frozenset()) -> str:
    """"Headline | Site" -> "Headline": drop leading and trailing segments that name the site."""
    parts = _TITLE_SEP.split(title)
    seps = _TITLE_SEP.findall(title)
    if len(parts) < 2:
        return title
    start, end = 0, len(parts)
    if names and end > 2:  # a site name with a separator of its own ("Headline - Section - Site")
        end = next((k for k in range(1, end - 1) if "".join(map(squash, parts[k:end])) in names), end)
    # a trailing segment containing the site's name ("Headline - European Championships Munich 2022" on
    # munich2022.com) names the site too, unless the site is already named up front; a segment that is only
    # a date ("Headline | 14.04.2021") is the page's date, not its headline
    loose = not is_site(parts[0], keys, names)
    while end - start > 1 and (is_site(parts[end - 1], keys, names) or _DATE_ONLY.match(parts[end - 1])
                               or (loose and any(len(k) >= 5 and k in squash(parts[end - 1]) for k in keys))):
        end -= 1
    while end - start > 1 and (is_site(parts[start], keys, names) or _DATE_ONLY.match(parts[start])):
        start += 1
    if (start, end) == (0, len(parts)):
        return title
    out = parts[start]
    for i in range(start + 1, end):
        out += seps[i - 1] + parts[i]
    return out.strip()


# Headline candidates in document order, found in one lazy walk of the page (XPath's contains(@class, ...)
# over every element cost more than the rest of choosing the title; the walk stops when enough are found):
# <h1>, <h2>, itemprop=headline, and <h3>/<div>/<span>/<p> with a headline-like class
_HEADLINE_CLASS = re.compile(r"entry-title|post-title|article-title|headline|article__title|page-title")
_HEADLINE_TAGS = frozenset({"h3", "div", "span", "p"})
# itemprop=headline or a main headline class, on any element
_MAIN_CLASS = re.compile(r"entry-title|post-title|article-title")
# any element but <title> with "headline" or "title" in its class
_NAMED_CLASS = re.compile(r"headline|title")


def _elements(tree: HtmlElement) -> Iterator[HtmlElement]:
    """Every element of the document `tree` belongs to, in document order (as XPath's //*)."""
    return (el for el in tree.getroottree().getroot().iter() if isinstance(el.tag, str))


def _headline_elements(tree: HtmlElement) -> Iterator[HtmlElement]:
    for el in _elements(tree):
        tag = el.tag
        if tag in ("h1", "h2") or el.get("itemprop") == "headline":
            yield el
        elif tag in _HEADLINE_TAGS and _HEADLINE_CLASS.search(el.get("class") or ""):
            yield el


def _main_headlines(tree: HtmlElement) -> Iterator[HtmlElement]:
    return (el for el in _elements(tree) if el.get("itemprop") == "headline" or _MAIN_CLASS.search(el.get("class") or ""))


def _named_headlines(tree: HtmlElement) -> Iterator[HtmlElement]:
    return (el for el in _elements(tree) if el.tag != "title" and _NAMED_CLASS.search(el.get("class") or ""))


_WORD = re.compile(r"\w{4,}")
_NAMED = re.compile(r"(?:^|[-_])(?:headline|title)$")
_NOT_HEADLINE_CONTAINERS = frozenset({"nav", "header", "footer", "aside", "li", "a", "form", "button", "label"})
# class/id tokens of headings that carry the site's name (a logo) or are only read aloud by screen readers
_SITE_TOKEN = re.compile(r"^(?:site-?(?:title|name|logo|branding)|logo|brand|blog-?(?:title|name))$")
_HIDDEN_TOKEN = re.compile(r"^(?:sr-only|visually-?hidden.*|screen-reader.*|element-invisible|aural|hidden|"
                           r"invisible|offscreen|a11y-hidden)$")


@dataclass(frozen=True)
class _Heading:
    whole: str                  # the heading's visible text
    cores: tuple[str, ...]      # the headline without a kicker or a trailing label in its own element
    parts: tuple[str, ...]      # texts of the heading's child elements
    main: bool                  # <h1>, itemprop=headline or a *-title class, not a plain <h2>
    hidden: bool                # for screen readers only


def _tokens(el: HtmlElement) -> list[str]:
    return (el.get("class") or "").lower().split() + (el.get("id") or "").lower().split()


def _is_root_link(href: str) -> bool:
    """A link to a site's home page ("/", "https://host", an archived "https://host/")."""
    href = href.strip()
    inner = max(href.rfind("http://"), href.rfind("https://"))
    if inner > 0:  # an archive's wrapped URL: judge the original
        href = href[inner:]
    try:
        parts = urlsplit(href)
    except ValueError:  # a malformed link ("http://[bad") on someone's page
        return False
    return not parts.query and parts.path in ("", "/") and (bool(parts.netloc) or href == "/")


def _is_site_heading(el: HtmlElement, text: str) -> bool:
    """A heading that is the site's logo: marked as such, or nothing but a link to the home page."""
    if any(_SITE_TOKEN.match(t) for t in _tokens(el)):
        return True
    for a in el.iter("a"):
        if (a.get("rel") or "").lower() == "home" or (_is_root_link(a.get("href") or "") and text_of(a) == text):
            return True
    return False


def _holds_headings(el: HtmlElement) -> bool:
    """A container of headings (a "page-title" band holding an <h2> and an <h3>) is not a heading itself."""
    return next(el.iterdescendants("h1", "h2", "h3"), None) is not None


def _is_hidden(el: HtmlElement) -> bool:
    return (el.get("hidden") is not None or (el.get("aria-hidden") or "").lower() == "true"
            or any(_HIDDEN_TOKEN.match(t) for t in _tokens(el)))


def _heading_text(el: HtmlElement) -> str:
    """The heading as read: ruby annotations (<rt>, <rp>: readings of the characters) left out."""
    if el.find(".//rt") is None:
        return text_of(el)
    skipped = ("rt", "rp", "script", "style")
    parts = [el.text or ""]
    for node in el.iterdescendants():
        inside = any(a.tag in skipped for a in node.iterancestors() if a is not el)
        if isinstance(node.tag, str) and node.tag not in skipped and not inside and node.text:
            parts.append(node.text)
        if node.tail and not inside:
            parts.append(node.tail)
    return clean("".join(parts))


def _own_text(el: HtmlElement) -> str:
    """The heading's text outside its child elements ("Headline<small>date, tags</small>" -> "Headline")."""
    parts = [el.text or ""] + [child.tail or "" for child in el]
    return clean(" ".join(parts))


def _headings(tree: HtmlElement) -> tuple[list[_Heading], set[str]]:
    """Visible headline candidates (<h1>, itemprop=headline, *-title classes, then <h2>) and the site names
    shown as headings."""
    out: list[_Heading] = []
    seen: set[str] = set()
    site_names: set[str] = set()
    for el in _headline_elements(tree):
        text = _heading_text(el)
        if not text or len(text) > 400 or text in seen:
            continue
        seen.add(text)
        if _is_site_heading(el, text):
            site_names.add(text)
            continue
        children = [t for t in (text_of(child) for child in el if isinstance(child.tag, str)) if t]
        cores = []
        # a kicker in its own child ("<span>Covid-19</span> Headline"): the headline without it
        kicker = next((t for t in (text_of(d) for d in el.iterdescendants() if isinstance(d.tag, str))
                       if t and t != text), None)
        if kicker and text.startswith(kicker):
            cores.append(text[len(kicker):].strip(" :|/-–—"))
        own = _own_text(el)
        if children and own and own != text:
            cores.append(own)
        main = el.tag != "h2" or "title" in (el.get("class") or "") or el.get("itemprop") == "headline"
        out.append(_Heading(text, tuple(c for c in cores if c and c != text), tuple(children), main, _is_hidden(el)))
        if len(out) >= 40:
            break
    out.sort(key=lambda h: (h.hidden, not h.main))
    return out, site_names


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


def _declared(tree: HtmlElement, s: Signals) -> tuple[list[str], int]:
    """The titles the page declares about itself, the most specific first, and how many are specific to the
    article (the headline, OpenGraph, Twitter, Dublin Core; not the <title> tag or a JSON-LD name)."""
    specific = [s.first_ld("headline"), s.first_meta("og:title"), s.first_meta("twitter:title"),
                s.first_meta("headline"), s.first_meta("dc.title"), s.first_meta("title")]
    general = [_html_title(tree), _ld_name(s)]
    # html.unescape: JSON-LD is often escaped twice ("&#8222;Quote&#8220;")
    found = [[clean(html.unescape(t)) for t in group if t and clean(t)] for group in (specific, general)]
    return found[0] + found[1], len(found[0])


def choose_title(tree: HtmlElement, s: Signals, keys: set[str]) -> str | None:
    declared, specific = _declared(tree, s)
    headings, site_names = _headings(tree)
    # a site name equal to a whole declared title is that title copied, not a name of the site
    whole = {squash(t) for t in declared}
    keys = {k for k in keys if k not in whole}
    names = frozenset(squash(n) for n in site_names) - {""}
    stripped = [strip_site_name(t, keys, names) for t in declared]
    segments: set[str] = set()
    for t in stripped:
        segments |= _segments(t)

    def confirmed(text: str, pool: set[str], strict: bool = False) -> bool:
        """`text` is in `pool` and does not name the site (strict: is not exactly the site's name)."""
        sq = squash(text)
        if len(sq) < 3 or sq not in pool:
            return False
        return sq not in keys and sq not in names if strict else not is_site(text, keys, names)

    # 0. the page's headline that says more than the declared title it begins with ("Headline in Place"
    # declared as "Headline"), as long as what it adds is no separated segment (a site or section name)
    first = next((h for h in headings if h.main and not h.hidden), None)
    if first is not None and not first.parts:  # (a subtitle or a byline in a child element adds nothing)
        sq = squash(first.whole)
        parts = len(_TITLE_SEP.split(first.whole))
        for t in stripped[:specific]:
            st = squash(t)
            if (len(st) >= 10 and sq.startswith(st) and len(sq) > len(st) and 2 * len(st) >= len(sq)
                    and len(_TITLE_SEP.split(t)) == parts and not is_site(first.whole, keys, names)):
                return first.whole
    # 1. a visible headline that a declared title confirms, in its on-page spelling, the most specific
    # declared title first; a kicker shown in its own element ("<span>Topic</span> Headline") is left out
    # when a declared title has the rest as a segment
    for pool in ({squash(t) for t in stripped[:specific]}, {squash(t) for t in stripped[specific:]}):
        for h in headings:
            whole_text = strip_site_name(h.whole, keys, names)
            for text in (*h.cores, whole_text, *h.parts):
                if confirmed(text, pool, strict=True):
                    if text == whole_text:
                        core = next((c for c in h.cores if confirmed(c, segments)), None)
                        return core or text
                    return text
    # a visible heading equal to a part of a declared title: the longest such part
    best: tuple[int, str] | None = None
    for h in headings:
        for text in (*h.cores, strip_site_name(h.whole, keys, names), *h.parts):
            if confirmed(text, segments) and (best is None or len(squash(text)) > best[0]):
                best = (len(squash(text)), text)
    if best:
        return best[1]
    # 2. the page's own headline element, unless it only names the site or is hidden
    own = [el for el in tree.xpath("//h1") if not _is_hidden(el) and not _holds_headings(el)][:2]
    own += islice(_main_headlines(tree), 2)
    for el in own:
        text = _heading_text(el)
        if squash(text) in names:
            continue
        text = strip_site_name(text, keys, names)
        if len(text) > 10 and not is_site(text, keys, names):
            return text
    # 2b. without an <h1>: the first element named as a headline or title, outside navigation and lists,
    # that shares a word with a declared title
    declared_words = {w for t in declared for w in _WORD.findall(t.casefold())}
    for el in islice(_named_headlines(tree), 10):
        text = _heading_text(el)
        sq = squash(text)
        if (10 < len(text) <= 300 and not _is_hidden(el) and not is_site(text, keys, names) and not _holds_headings(el)
                and (any(sq in squash(t) for t in declared) or declared_words & set(_WORD.findall(text.casefold())))
                and not any(a.tag in _NOT_HEADLINE_CONTAINERS for a in el.iterancestors())
                and any(_NAMED.search(t) for t in _tokens(el))):
            return text
    # 2c. the page's first heading of any kind (an <h2>, a named headline), unless in navigation
    first_heading = next((el for el in _headline_elements(tree) if not _holds_headings(el)), None)
    if first_heading is not None and first_heading.tag != "h1":
        text = _heading_text(first_heading)
        if (10 < len(text) <= 300 and not _is_hidden(first_heading) and not is_site(text, keys, names)
                and not any(a.tag in _NOT_HEADLINE_CONTAINERS for a in first_heading.iterancestors())):
            return text
    # 3. the declared headline without the site name
    for t in stripped:
        if t and not is_site(t, keys, names):
            return t
    # 4. a visible heading, else whatever is declared
    if headings:
        return headings[0].whole
    return stripped[0] if stripped else None


def _ld_name(s: Signals) -> str | None:
    """The JSON-LD name of the page's main object; an embedded video's or product's name titles that only."""
    for obj in s.articles:
        if str(obj.get("@type", "")).lower().rsplit("/", 1)[-1] not in _EMBEDDED_TYPES:
            name = ld_text(obj.get("name"))
            return " ".join(name.split()) if name else None
    return None


def _html_title(tree: HtmlElement) -> str | None:
    el = tree.find(".//title")
    return text_of(el) if el is not None else None
