"""Dates as ISO 8601: from machine-readable values, from URLs and from datelines in the page text.

`iso_date("2021-04-14T10:00:00+0200")` gives "2021-04-14T10:00:00+02:00": the time and the offset are
kept where the source gives them, a date alone stays a date ("2021-04-14"), a naive time stays naive.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from itertools import islice
from typing import Any

from dateutil import parser as _dateparser
from htmldate import find_date
from lxml.etree import Element
from lxml.html import HtmlElement

from crawler.extract_dom import clean, first_text, following, in_other_content, text_of
from crawler.extract_signals import Signals, ld_text

MIN_YEAR = 1990  # the web news era; earlier years in pages are almost always something else
_ISO_LIKE = re.compile(r"^\s*(\d{4})-?(\d{2})-?(\d{2})(?:[T ](\d{1,2}):?(\d{2})(?::?(\d{2})(?:[.,]\d+)?)?)?\s*"
                       r"(Z|[+-]\d{2}:?\d{2}|[+-]\d{2})?\s*$", re.I)
_URL_DATE = re.compile(r"/((?:19|20)\d{2})[/_-]?(0[1-9]|1[0-2])[/_-]?(0[1-9]|[12]\d|3[01])(?:/|[_-]|\.|$)")
_URL_DATE_SLASHED = re.compile(r"/((?:19|20)\d{2})/(0?[1-9]|1[0-2])/(0?[1-9]|[12]\d|3[01])/")

_MONTH_NAMES = (
    # by month: English, German, French, Spanish, Italian, Portuguese, Dutch, Scandinavian, Polish (genitive),
    # Czech (genitive), Finnish (partitive), Russian and Ukrainian (genitive), Turkish, Romanian, Catalan,
    # Greek (genitive), and the abbreviations these languages print ("janv.", "abr.", "Okt.", "mrt")
    ("jan", "january", "januar", "jänner", "janvier", "janv", "enero", "ene", "gennaio", "gen", "janeiro",
     "januari", "stycznia", "sty", "ledna", "tammikuuta", "января", "січня", "ocak", "ianuarie", "gener",
     "ιανουαρίου"),
    ("feb", "february", "februar", "feber", "février", "fevrier", "févr", "fevr", "febrero", "febbraio", "fevereiro",
     "fev", "februari", "lutego", "lut", "února", "helmikuuta", "февраля", "лютого", "şubat", "subat", "februarie",
     "febrer", "φεβρουαρίου"),
    ("mar", "march", "märz", "maerz", "mär", "mrz", "mars", "marzo", "março", "maart", "mrt", "marts", "marca",
     "března", "maaliskuuta", "марта", "березня", "mart", "martie", "març", "μαρτίου"),
    ("apr", "april", "avril", "avr", "abril", "abr", "aprile", "kwietnia", "kwi", "dubna", "huhtikuuta",
     "апреля", "квітня", "nisan", "aprilie", "απριλίου"),
    ("may", "mai", "mayo", "maggio", "mag", "maio", "mei", "maj", "maja", "května", "toukokuuta", "мая",
     "травня", "mayıs", "mayis", "maig", "μαΐου", "μαίου"),
    ("jun", "june", "juni", "juin", "junio", "giugno", "giu", "junho", "czerwca", "cze", "června",
     "kesäkuuta", "июня", "червня", "haziran", "iunie", "juny", "ιουνίου"),
    ("jul", "july", "juli", "juillet", "juil", "julio", "luglio", "lug", "julho", "lipca", "lip", "července",
     "heinäkuuta", "июля", "липня", "temmuz", "iulie", "juliol", "ιουλίου"),
    ("aug", "august", "augusti", "août", "aout", "agosto", "ago", "augustus", "sierpnia", "sie", "srpna",
     "elokuuta", "августа", "серпня", "ağustos", "agustos", "agost", "αυγούστου"),
    ("sep", "sept", "september", "septembre", "septiembre", "settembre", "set", "setembro", "września", "wrz",
     "září", "syyskuuta", "сентября", "вересня", "eylül", "eylul", "septembrie", "setembre", "σεπτεμβρίου"),
    ("oct", "october", "oktober", "okt", "octobre", "octubre", "ottobre", "ott", "outubro", "out",
     "października", "paź", "října", "lokakuuta", "октября", "жовтня", "ekim", "octombrie", "οκτωβρίου"),
    ("nov", "november", "novembre", "noviembre", "novembro", "listopada", "lis", "listopadu", "marraskuuta",
     "ноября", "листопада", "kasım", "kasim", "noiembrie", "νοεμβρίου"),
    ("dec", "december", "dezember", "dez", "décembre", "decembre", "déc", "diciembre", "dic", "dicembre",
     "dezembro", "desember", "grudnia", "gru", "prosince", "joulukuuta", "декабря", "грудня", "aralık", "aralik",
     "decembrie", "desembre", "δεκεμβρίου"),
)
_MONTHS = {name: number for number, names in enumerate(_MONTH_NAMES, 1) for name in names}


def _fold(name: str) -> str:
    """A month name as the lookup knows it: lower case, dotted and dotless i as plain i (a case-blind match
    of "MAYIS" or "JANVİER" lowers to other letters than the table's)."""
    return name.lower().replace("\u0307", "").replace("ı", "i")


_MONTH_NUMBER = {_fold(name): number for name, number in _MONTHS.items()}


def _month(name: str) -> int:
    """The number of a month name the patterns matched (0, an invalid month, for none)."""
    return _MONTH_NUMBER.get(_fold(name), 0)


def _trie(words: Iterable[str]) -> str:
    """An alternation of `words` as a prefix tree ("jan(?:uar(?:i|y)?|vier)?"): the same strings as "a|b|...",
    but a text position tries one branch per first letter, not every word (3x faster over page texts)."""
    root: dict[str, dict[str, Any]] = {}
    for word in words:
        node = root
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        branches = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return emit(root)


# a month name is always followed by "." "," or a space in the patterns, so one name at most fits a position
_MONTH_RE = _trie(_MONTHS)
# month first ("April 14, 2021", "Sept. 14 2021") is English (a month name tried at every word is costly: the
# abbreviations of other languages are common words, "set", "out", "ago")
_MONTH_FIRST = ("jan", "january", "feb", "february", "mar", "march", "apr", "april", "may", "jun", "june", "jul",
                "july", "aug", "august", "sep", "sept", "september", "oct", "october", "nov", "november", "dec",
                "december")
_MONTH_FIRST_RE = _trie(_MONTH_FIRST)
# "April 14, 2021" / "Apr. 14 2021"
_TEXT_MDY = re.compile(rf"\b({_MONTH_FIRST_RE})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+((?:19|20)\d{{2}})\b", re.I)
# "14 April 2021" / "14. April 2021" / "14 de abril de 2021" / "14 avril 2021"
_TEXT_DMY = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th|er)?\.?\s+(?:de\s+|d[’'])?({_MONTH_RE})\.?,?\s+(?:de\s+)?"
                       rf"((?:19|20)\d{{2}})\b", re.I)
# "14.04.2021" / "14/04/2021" (day first, as in most of the world) and "2021-04-14" / "2021/04/14"
_TEXT_NUMERIC_DMY = re.compile(r"(?<![\d.])(\d{1,2})(?:/|\.\s?)(\d{1,2})(?:/|\.\s?)((?:19|20)\d{2})(?![\d])")
_YEAR = re.compile(r"(?:19|20)\d{2}")
_TEXT_YMD = re.compile(r"(?<![\d])((?:19|20)\d{2})[-/.](\d{1,2})[-/.](\d{1,2})(?![\d])")
# "2021年4月14日" (Chinese, Japanese), "2021년 4월 14일" (Korean)
_TEXT_CJK = re.compile(r"((?:19|20)\d{2})\s*[年년]\s*(\d{1,2})\s*[月월]\s*(\d{1,2})\s*[日일]")


# common zone abbreviations in pages (seconds east of UTC); unknown ones leave the time naive
_ZONES = {"UTC": 0, "GMT": 0, "Z": 0, "UT": 0, "WET": 0, "BST": 3600, "IST": 19800, "CET": 3600, "MEZ": 3600,
          "CEST": 7200, "MESZ": 7200, "EET": 7200, "EEST": 10800, "MSK": 10800, "EST": -18000, "EDT": -14400,
          "CST": -21600, "CDT": -18000, "MST": -25200, "MDT": -21600, "PST": -28800, "PDT": -25200,
          "JST": 32400, "KST": 32400, "AEST": 36000, "AEDT": 39600}


def _tzinfos(name: str | None, offset: int | None) -> int | None:
    if offset is not None:
        return offset
    return _ZONES.get((name or "").upper())


def _valid(y: int, m: int, d: int) -> date | None:
    if y < MIN_YEAR or y > 2100:
        return None
    try:
        return date(y, m, d)
    except ValueError:
        return None


def iso_date(value: str | None) -> str | None:
    """Normalize a machine-readable date (ISO 8601, RFC 2822, "2021/04/14 10:00") to ISO 8601, or None."""
    if not value:
        return None
    value = value.strip()[:64]
    if not value or not any(c.isdigit() for c in value):
        return None
    m = _ISO_LIKE.match(value)
    if m:
        y, mo, d, hh, mm, ss, tz = m.groups()
        day = _valid(int(y), int(mo), int(d))
        if day is None:
            return None
        if hh is None:
            return day.isoformat()
        try:
            dt = datetime(day.year, day.month, day.day, int(hh), int(mm), int(ss or 0))
        except ValueError:
            return day.isoformat()
        return _with_offset(dt, tz)
    if value.isdigit():  # a bare number (epoch, id) is not a date we trust
        return None
    try:
        dt = _dateparser.parse(value, default=datetime(1, 1, 1), tzinfos=_tzinfos)
    except (ValueError, OverflowError, TypeError):  # dateutil raises these on text it cannot read
        return None
    if dt.year == 1 or _valid(dt.year, dt.month, dt.day) is None:
        return None
    if dt.tzinfo is None and dt.hour == dt.minute == dt.second == 0 and not re.search(r"\d:\d", value):
        return dt.date().isoformat()
    return dt.isoformat()


def _with_offset(dt: datetime, tz: str | None) -> str:
    if not tz:
        return dt.isoformat()
    if tz.upper() == "Z":
        return dt.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")
    sign = -1 if tz[0] == "-" else 1
    digits = tz[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    if hours > 14 or minutes > 59:
        return dt.isoformat()
    offset = timezone(sign * timedelta(hours=hours, minutes=minutes))
    return dt.replace(tzinfo=offset).isoformat()


def url_date(url: str) -> str | None:
    """The date in a URL path such as /2021/04/14/ or /20210414-, as YYYY-MM-DD."""
    for pattern in (_URL_DATE_SLASHED, _URL_DATE):
        m = pattern.search(url)
        if m:
            day = _valid(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            if day:
                return day.isoformat()
    return None


def text_date(text: str) -> str | None:
    """The first date written out in a short text (a dateline), as YYYY-MM-DD: the first that no update label
    announces ("Updated 15.04.2021 | Published 14.04.2021"), else the first."""
    found = _first_date(text)
    if found is None:
        return None
    first = found
    while _UPDATE_LABEL.search(text, max(0, found[0] - _LABEL_REACH), found[0]):
        rest = _first_date(text[found[0] + _SHORTEST_DATE:])
        if rest is None:
            return first[1].isoformat()  # only the last change is shown: what readers (and annotators) take
        found = (found[0] + _SHORTEST_DATE + rest[0], rest[1])
    return found[1].isoformat()


_SHORTEST_DATE = 8  # "1.2.2021": a date found again starts past this much of the last one
_LABEL_REACH = 30  # characters before a date where its label is
# a label saying the date after it is the last change, not the publication
_UPDATE_LABEL = re.compile(
    r"(?:updated|last\s+modified|modified|aktualisiert|geändert|mis\s+à\s+jour|màj|actualizado|actualització|"
    r"aggiornato|atualizado|bijgewerkt|zaktualizowano|aktualizacja|päivitetty|обновлено|обновлён|更新)"
    r"[^\d]{0,20}$", re.I)


def labelled_date(text: str) -> str | None:
    """The date that follows a publication label ("Published on", "Erschienen am:", "Publié le")."""
    for m in _PUBLISHED_LABEL.finditer(text):
        found = _first_date(text[m.end():m.end() + 50])
        if found and found[0] <= 20:  # the label's own date, not one further on in the sentence
            return found[1].isoformat()
    return None


_DATE_PATTERNS = ((_TEXT_MDY, "mdy"), (_TEXT_DMY, "dmy"), (_TEXT_YMD, "ymd"), (_TEXT_NUMERIC_DMY, "dmy#"),
                  (_TEXT_CJK, "ymd"))
# the five in one alternation, each in a group of its own: one scan stops at the first date of any of them
# (the same match: at a position, the alternation tries them in order, as the tie rule below ranks them)
_ANY_DATE = re.compile("|".join(f"({p.pattern})" for p, _ in _DATE_PATTERNS), re.I)
_ORDER_OF_GROUP = {1 + 4 * i: order for i, (_, order) in enumerate(_DATE_PATTERNS)}  # 3 groups each + its own


def _first_date(text: str) -> tuple[int, date] | None:
    """(position, day) of the first date written out in `text` (on a tie, the earlier pattern's)."""
    if not _YEAR.search(text):  # every pattern has a four-digit year: most short texts end here
        return None
    m = _ANY_DATE.search(text)
    if m is None:
        return None
    group = m.lastindex or 0  # the matched pattern's own group (it closes last); its three come next
    day = _day(_ORDER_OF_GROUP[group], *m.group(group + 1, group + 2, group + 3))
    if day:
        return m.start(), day
    # an impossible date ("February 30, 2021") came first: each pattern's first valid date, as before
    first: tuple[int, date] | None = None
    for pattern, order in _DATE_PATTERNS:
        for m in pattern.finditer(text):  # up to this pattern's first valid date, not all of the text's
            if first is not None and m.start() >= first[0]:
                break
            day = _day(order, *m.groups())
            if day:
                first = (m.start(), day)
                break
    return first


def _day(order: str, a: str, b: str, c: str) -> date | None:
    if order == "mdy":
        return _valid(int(c), _month(a), int(b))
    if order == "dmy":
        return _valid(int(c), _month(b), int(a))
    if order == "ymd":
        return _valid(int(a), int(b), int(c))
    # day first, as most of the world writes it; month first (US) only where day first is impossible ("04/14/2021")
    return _valid(int(c), int(b), int(a)) or (_valid(int(c), int(a), int(b)) if int(b) > 12 else None)


# a label that says the date after it is the publication date
_PUBLISHED_LABEL = re.compile(
    r"\b(?:erschienen|veröffentlicht|publiziert|published|posted|publié|publicado|pubblicato|gepubliceerd|"
    r"opublikowano)(?:\s+(?:am|on|le|el|il|em|op|at))?\s*:?", re.I)


# ---- choosing the publication date of a page ----

_PUBLISHED_META = ("article:published_time", "og:published_time", "og:article:published_time",
                   "datepublished", "article.published", "publish-date", "publish_date", "pubdate",
                   "publishdate", "publication_date", "date.published", "parsely-pub-date",
                   "sailthru.date", "dc.date.issued", "dcterms.issued", "citation_publication_date", "citation_date",
                   "article_date_original", "originalpublicationdate", "cxenseparse:recs:publishtime",
                   "displaydate", "release_date")
# meta tags that name a date without saying which: content systems fill them with the creation, the
# last change or the time the page was generated (right on ~70% of dev pages, vs ~90% for the above)
_GENERIC_META = ("dc.date", "dcterms.date", "dc.date.created", "dcterms.created", "date", "datecreated", "created")
_MODIFIED_META = ("article:modified_time", "og:updated_time", "datemodified", "dc.date.modified",
                  "dcterms.modified", "last-modified", "lastmod", "article.updated", "updated")
# Each source of a publication date votes for its day with a weight (set on the extraction-dev set's even
# half, checked on the odd half); the day with the most weight wins. Sources disagree on a fifth of pages
# (stale JSON-LD, UTC stamps across midnight, "last updated" shown as the date), and agreement between
# independent sources is the best evidence there is. The dateline next to the headline ("headline") and a
# date after a publication label ("label") are what a reader sees as the date, and are right most often.
_DATE_WEIGHTS = {"url": 0.7, "meta": 0.6, "meta_date": 0.6, "jsonld": 1.1, "microdata": 1.2, "time": 0.2,
                 "visible": 1.3, "headline": 1.5, "label": 1.7, "text": 0.4, "htmldate": 1.1,
                 "htmldate_original": 0.5}
_ECHO = 0.5  # the weight left to htmldate's votes when they repeat a generic date meta tag (see _tally)
_SHOWN = ("headline", "label")  # what a reader sees as the page's date (not "visible": often a masthead's today)
# <time> and elements with one of these in their class (case as written), in document order
_VISIBLE_DATE_CLASS = re.compile(r"date|Date|datum|time|publish|stand")
# class words of elements kept from the reader's eyes (a date there is for machines, often the last change)
_HIDDEN = re.compile(r"(?:^|\s)(?:hidden|hide|is-hidden|uk-hidden|element-hidden|d-none|invisible|"
                     r"rich-snippet-hidden)(?:$|\s)")  # not "hidden-xs" (small screens) nor "visually-hidden"
# a class or id word of a box listing other stories like this one ("similar_threads", "similar-posts"); not
# "related" nor "teaser" (on the dev set's even half they hid the article's own date as often as others')
_SIMILAR_STORIES = re.compile(r"(?:^|[\s_-])similar(?=$|[\s_-])", re.I)
# a site's navigation bar or menu by its class ("vhb-c-nav-top", "td-header-sp-top-menu"), where sites show
# today's date above the headline, as in <nav> (see _nav_bar)
_NAV_CLASS = re.compile(r"(?:^|[\s_-])(?:nav|navbar|navigation|menu|topbar)(?=$|[\s_-])", re.I)
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)


def _date_votes(tree: HtmlElement, s: Signals, url: str, date_fallback: bool) -> dict[str, str]:
    """Each source's publication date (ISO 8601, as precise as the source gives it)."""
    votes: dict[str, str] = {}
    for obj in s.articles + s.pages:
        value = iso_date(ld_text(obj.get("datePublished")) or ld_text(obj.get("dateCreated")))
        if value:
            votes["jsonld"] = value
            break
    for source, keys in (("meta", _PUBLISHED_META), ("meta_date", _GENERIC_META)):
        for key in keys:
            value = next((v for v in map(iso_date, s.meta.get(key, ())) if v), None)
            if value:
                votes[source] = value
                break
        if source in votes:
            break
    for el in s.itemprops.get("datepublished", []) + s.itemprops.get("datecreated", []):
        value = iso_date(el.get("content") or el.get("datetime")) or text_date(text_of(el))
        if value:
            votes["microdata"] = value
            break
    for el in tree.iter("time"):
        value = iso_date(el.get("datetime"))
        if value and not _hidden(el) and not _in_masthead(el):
            votes["time"] = value
        break
    for el in islice(_visible_dates(tree), 40):
        if len(el) > 6:  # a container, not a date
            continue
        text = text_of(el)
        if len(text) < 100:
            value = _shown_date(el, text)
            if value:
                votes["visible"] = value
                break
    value = _headline_date(tree)
    if value:
        votes["headline"] = value
    body = tree.find(".//body")
    if body is not None:
        text = first_text(body, 100_000)
        value = text_date(text[_after_headline(body, text):][:5000])
        if value:
            votes["text"] = value
        value = labelled_date(text)
        if value:
            votes["label"] = value
    value = url_date(url)
    if value:
        votes["url"] = value
    if date_fallback and not _decided(votes):
        value = find_date(tree, extensive_search=True, original_date=False, url=url)
        if value:
            votes["htmldate"] = value
        value = find_date(tree, extensive_search=False, original_date=True, url=url)
        if value:
            votes["htmldate_original"] = value
    return votes


def _after_headline(body: HtmlElement, text: str) -> int:
    """Where the page text reaches the headline (the first <h1>): a date in the text before it is the
    navigation's or the masthead's (today's), after it the article's dateline. Without an <h1>, where the
    text leaves the site's masthead, if the page has one, else 0."""
    h1 = body.find(".//h1")
    if h1 is None:
        return _after_masthead(body, text)
    heading = " ".join(h1.text_content().split())[:40]
    return max(text.find(heading), 0) if heading else 0


def _after_masthead(body: HtmlElement, text: str) -> int:
    """Where the page text (`first_text` of `body`) leaves the first <header> if that is the site's masthead,
    else 0: found by the end of the header's last piece of visible text."""
    header = body.find(".//header")
    if header is None or not _masthead(header):
        return 0
    last = ""
    for node in header.iter(Element):  # as first_text reads it: no scripts or styles, nor the text after them
        if node.tag in ("script", "style", "noscript"):
            continue
        for part in (node.text, node.tail if node is not header else None):
            if part and not part.isspace():
                last = part
    last = last.strip()[-30:]
    at = text.find(last) if last else -1
    return at + len(last) if at >= 0 else 0


def _elsewhere(el: HtmlElement) -> bool:
    """A date element that is not the article's as a reader sees it: in comments, forms, sidebars or the
    page footer, in the site's navigation or masthead (where sites show today's date), in a box of similar
    stories, or hidden (itself or its parent: a machine-readable copy, often of the last change; hidden
    further up is page layout). An <aside> inside the <article> is the article's own box of facts, not a
    sidebar."""
    if _hidden(el) or (el.getparent() is not None and _hidden(el.getparent())):
        return True
    if _NAV_CLASS.search(el.get("class") or ""):
        return True
    aside = None
    for node in el.iterancestors():
        names = f"{node.get('class') or ''} {node.get('id') or ''}"
        if node.tag == "nav" or _SIMILAR_STORIES.search(names) or (_NAV_CLASS.search(names) and _nav_bar(node)):
            return True
        if node.tag == "header" and _masthead(node):
            return True
        if node.tag == "aside" and aside is None:
            aside = node
        if node.tag == "article" and aside is not None:  # the article's own aside: judge from outside it
            return in_other_content(aside.getparent())
    return in_other_content(el)


def _nav_bar(node: HtmlElement) -> bool:
    """Whether an element with a navigation class is a bar or menu, not a page layout named after one
    (`<body class="site-navigation">`, a wrapper holding the headline)."""
    return node.tag not in ("body", "html") and next(node.iter("h1"), None) is None


def _in_masthead(el: HtmlElement) -> bool:
    return any(node.tag == "header" and _masthead(node) for node in el.iterancestors())


def _masthead(header: HtmlElement) -> bool:
    """Whether a <header> is the site's masthead, where sites show today's date: outside any <article> or
    <main>, and without the page's headline (an <h1> there holds the site's logo, see _logo)."""
    if any(node.tag in ("article", "main") for node in header.iterancestors()):
        return False
    return all(_logo(h1) for h1 in header.iter("h1"))


def _logo(h1: HtmlElement) -> bool:
    """An <h1> that is the site's logo, a link to its home page ("/"), not a headline."""
    link = h1.find(".//a")
    return link is not None and link.get("href") == "/"


def _hidden(el: HtmlElement) -> bool:
    return (_HIDDEN.search(el.get("class") or "") is not None or el.get("hidden") is not None
            or _HIDDEN_STYLE.search(el.get("style") or "") is not None)


def _shown_date(el: HtmlElement, text: str, short_year: bool = False) -> str | None:
    """The date in the text of a date element as a reader sees it: none if the element is not the
    article's or hidden; hidden parts of it (machine-readable stamps, separators) left out. With
    `short_year`, a date with a two-digit year counts too."""
    read = _text_or_short_year_date if short_year else text_date
    value = read(text)
    if value is None or _elsewhere(el):
        return None
    if any(_hidden(n) for n in el.iterdescendants() if isinstance(n.tag, str)):
        value = read(clean(_reader_text(el)))
    return value


def _text_or_short_year_date(text: str) -> str | None:
    return text_date(text) or _short_year_date(text)


# two-digit years, read only in the dateline by the headline, where a date is what is expected ("10.12.19",
# "14 Gennaio 20"): elsewhere such numbers are as often versions, scores or another story's date
_SHORT_YEAR_NUMERIC = re.compile(r"(?<![\d.])(\d{1,2})\.(\d{1,2})\.(\d{2})(?![\d.])")
_SHORT_YEAR_DMY = re.compile(rf"\b(\d{{1,2}})\.?\s+({_MONTH_RE})\.?\s+'?(\d{{2}})(?![\d:.])", re.I)


def _short_year_date(text: str) -> str | None:
    """The first day-first date with a two-digit year in `text` ("19" is 2019, "95" 1995), as YYYY-MM-DD."""
    for pattern, named in ((_SHORT_YEAR_NUMERIC, False), (_SHORT_YEAR_DMY, True)):
        m = pattern.search(text)
        if m:
            d, mo, yy = m.groups()
            day = _valid(int(yy) + (1900 if int(yy) >= 90 else 2000), _month(mo) if named else int(mo), int(d))
            if day:
                return day.isoformat()
    return None


def _reader_text(el: HtmlElement, depth: int = 0) -> str:
    """The text of `el` without its hidden descendants (nor scripts and styles)."""
    parts = [el.text or ""]
    for child in el:
        if isinstance(child.tag, str) and child.tag not in ("script", "style") and not _hidden(child):
            parts.append(_reader_text(child, depth + 1) if depth < 20 else child.text_content())
        parts.append(child.tail or "")
    return "".join(parts)


def _visible_dates(tree: HtmlElement) -> Iterator[HtmlElement]:
    """The page's elements that may show a date, lazily (an XPath of contains(@class) tests over every element
    cost as much as the rest of the date vote)."""
    for el in tree.getroottree().getroot().iter():
        if el.tag == "time" or (isinstance(el.tag, str) and _VISIBLE_DATE_CLASS.search(el.get("class") or "")):
            yield el


def _tally(votes: dict[str, str]) -> dict[str, float]:
    tally: dict[str, float] = {}
    days = local_days(votes)
    # htmldate reads the meta tags too: where no other declared date backs a generic date tag, htmldate
    # agreeing with it is mostly that tag read again (and such tags are often the last change)
    echo = days.get("meta_date")
    if echo and any(days.get(source) == echo for source in ("jsonld", "meta", "microdata")):
        echo = None
    for source, day in days.items():
        weight = _DATE_WEIGHTS[source]
        if source.startswith("htmldate") and day == echo:
            weight *= _ECHO
        tally[day] = tally.get(day, 0.0) + weight
    return tally


def _decided(votes: dict[str, str]) -> bool:
    """Whether htmldate's two votes could not change the winner (they are most of the time it takes):
    the leading day is ahead of the next by more than their weight together."""
    weights = sorted(_tally(votes).values(), reverse=True) + [0.0, 0.0]
    return weights[0] - weights[1] > _DATE_WEIGHTS["htmldate"] + _DATE_WEIGHTS["htmldate_original"]


_AFTER_HEADLINE = 60  # elements after the headline where its dateline may be
_BEFORE_HEADLINE = 12  # and before it (a date above the headline)


def _headline_date(tree: HtmlElement) -> str | None:
    """The date in a short element next to the headline (the article's dateline): the first one after
    the first <h1>, else the nearest one before it."""
    h1 = tree.find(".//body//h1")
    if h1 is None:
        return None
    for candidates in (islice(following(h1), _AFTER_HEADLINE), islice(_preceding(h1), _BEFORE_HEADLINE)):
        for el in candidates:
            if len(el) > 3 or el.tag in ("script", "style", "a", "li") or len(el.text_content()) > 2000:
                continue  # a container, a link, a list item or a block of text: not a dateline
            text = text_of(el)
            if 6 <= len(text) <= 80:
                value = _shown_date(el, text, short_year=True)
                if value:
                    return value
            elif el.tag == "p" and len(text) > 80:
                value = _lead_dateline(text)
                if value and not _elsewhere(el):
                    return value
    return None


# a paragraph that opens with its date: "29.11.2022 – Text", "(21. November 2022) Text",
# "BERLIN, 14 April 2021 - Text", "Berlin (dpa), 14.04.2021: Text"
_LEAD_PLACE = re.compile(r"^\(?(?:[^\W\d_][\w .'/()-]{0,40}?,\s*)?")
_LEAD_END = re.compile(r"\)?\s*(?:[–—:|-]|\)\s)")


def _lead_dateline(text: str) -> str | None:
    """The date a paragraph opens with, as a dateline: a date (after a place name at most) followed by a
    dash, colon or closing parenthesis."""
    start = _LEAD_PLACE.match(text)
    m = _ANY_DATE.match(text, start.end() if start else 0)
    if m is None or not _LEAD_END.match(text, m.end()):
        return None
    return text_date(m.group(0))


def _preceding(el: HtmlElement) -> Iterator[HtmlElement]:
    """The elements before `el`, nearest first, its ancestors excluded (XPath's preceding::*)."""
    node: HtmlElement | None = el
    while node is not None:
        for sibling in node.itersiblings(preceding=True):
            yield from (n for n in reversed(list(sibling.iter())) if isinstance(n.tag, str))
        node = node.getparent()


def choose_published(tree: HtmlElement, s: Signals, url: str, date_fallback: bool) -> str | None:
    votes = _date_votes(tree, s, url, date_fallback)
    if not votes:
        return None
    tally = _tally(votes)
    day = max(tally, key=lambda d: tally[d])  # first-seen wins a tie: JSON-LD, meta, microdata, ...
    # the most precise value for that day: a full timestamp with its offset where a source gives one
    return max((v for v in votes.values() if v[:10] == day), key=len, default=day)


_UTC_STAMP = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2}):(\d{2})(?:Z|\+00:00)$")
_LOCAL_STAMP = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2}):(\d{2})(?:[+-](?!00:00)\d{2}:\d{2})?$")
_MIDNIGHT_EAST_OF_UTC = 20  # a UTC stamp at 20:00:00-23:00:00 is local midnight at UTC+1..+4 (a date saved as a time)


def local_days(votes: dict[str, str]) -> dict[str, str]:
    """The day each source's value means where the page is published, not in UTC.

    Pages often give the same instant twice: converted to UTC in metadata and in local time on the
    page (`<time>`, a naive stamp). A UTC value a whole number of quarter hours (at most 14 hours) from
    a local value, to the second (and by its offset, if it gives one), is that instant: it votes for
    the local day. A UTC value at exactly 20:00-23:00 with no local twin is a date stored as local
    midnight east of UTC: it votes for the next day. Without either, a UTC value votes for the day before
    or after its own when the page shows that day as its date (the dateline by the headline or after a
    publication label) and a time zone makes it that instant's local day. A page that shows the UTC day and not the local one keeps the UTC day. htmldate, which
    reads the same metadata, follows such a move.
    """
    days = {source: value[:10] for source, value in votes.items()}
    moved: dict[str, str] = {}  # UTC day -> local day
    local = [m for m in map(_LOCAL_STAMP.match, votes.values()) if m]
    shown = {days[source] for source in _SHOWN if source in days}
    for source, value in votes.items():
        utc = _UTC_STAMP.match(value)
        if not utc:
            continue
        instant = datetime.fromisoformat(f"{utc[1]}T{utc[2]}:{utc[3]}:{utc[4]}")
        twin = None
        for m in local:
            other = datetime.fromisoformat(f"{m[1]}T{m[2]}:{m[3]}:{m[4]}")
            shift = (other - instant).total_seconds()
            declared = datetime.fromisoformat(m[0]).utcoffset()  # None for a naive stamp
            if (other != instant and shift % 900 == 0 and abs(shift) <= 14 * 3600  # zones are quarter hours
                    and (declared is None or declared.total_seconds() == shift)):
                twin = m[1]
                break
        if twin:
            local_day = twin
        elif int(utc[2]) >= _MIDNIGHT_EAST_OF_UTC and utc[3] == utc[4] == "00":
            local_day = (instant.date() + timedelta(days=1)).isoformat()
        else:
            local_day = _shown_neighbour(instant, shown)
        if local_day and (utc[1] not in shown or local_day in shown):
            days[source] = moved[utc[1]] = local_day
    for source in ("htmldate", "htmldate_original"):  # htmldate reads the same UTC metadata, as a day
        if source in days and days[source] in moved:
            days[source] = moved[days[source]]
    return days


def _shown_neighbour(instant: datetime, shown: set[str]) -> str | None:
    """The day before or after a UTC instant's that the page shows as its date, if that is the instant's day
    in some time zone (UTC-12 to UTC+14): an evening west of UTC or a morning east of it."""
    if instant.date().isoformat() in shown:
        return None
    before = (instant.date() - timedelta(days=1)).isoformat()
    after = (instant.date() + timedelta(days=1)).isoformat()
    if instant.hour < 12 and before in shown:
        return before
    if instant.hour >= 10 and after in shown:
        return after
    return None


def choose_modified(s: Signals) -> str | None:
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
