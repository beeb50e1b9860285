"""Author names from bylines: "By Jane Doe and John Roe, Staff Writers | April 14, 2021" -> two names.

`clean_names(raw)` drops what a byline wraps around names (a "By"/"Von"/"Par" prefix, dates, times,
role words, e-mail addresses, placeholders such as "Admin"), splits lists joined by commas, "and",
"und", "&", ";" and returns the names in the page's own spelling, without duplicates.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable, Iterator
from typing import Any

from lxml.etree import XPath
from lxml.html import HtmlElement

from crawler.extract_dom import clean, in_other_content, squash
from crawler.extract_signals import Signals, ld_list, ld_text

_WS = re.compile(r"\s+")
# what bylines put before names: "By", "Von", "Posted by", "Veröffentlicht von", "Zeige alle Beiträge von"
_LEAD_WORDS = (r"(?:autoren|autorinnen|post(?:ed)?|post\s+author|written|submitted|published|reported|reporting|story|words|"
               r"(?:text|words)\s*(?:&|\+|/|und|and|et)\s*(?:fotos?|photos?|bild(?:er)?|images?)|text|texte|photos?|"
               r"veröffentlicht|eingestellt|erstellt|geschrieben|verfasst|publiziert|beitrag|beiträge|artikel|"
               r"pressemitteilung|gastbeitrag|blogbeitrag|article|autor(?:in)?|authors?|auteur|autore|publié|écrit|rédigé|escrito|publicado|"
               r"scritto|pubblicato|redakteur(?:in)?|bericht|interview|more\s+from|mehr\s+von|über|about|[àa]\s+propos\s+de|"
               r"gespeichert|redaktion(?=\s*:))")
_PREFIX = re.compile(
    rf"^(?:[^,;|]{{0,30}}?\b{_LEAD_WORDS}(?:\b|(?=[A-ZÄÖÜÉ]))(?:\s*(?:by|von|vom|par|por|da|de|door)\b)?\s*[:\-–—]?\s*"
    r"|(?:by|von|vom|par|por|door|av|af|di)\s*:?\s+|[~©]\s*"
    r"|(?:作者|记者|記者|撰文|编辑|編輯|بقلم|كتب|teksti|tekst)\s*[:：]?\s*|文\s*[:：]\s*)+",
    re.I)
_CUT = re.compile(
    r"\s(?:am|on|at|um|le|el|il|vor|ago|den|dem)\s.*$"
    r"|\s(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|montag|dienstag|mittwoch|donnerstag|"
    r"freitag|samstag|sonntag|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche)\b.*$"
    r"|(?<=[a-zäöüß])(?:Mo|Di|Mi|Do|Fr|Sa|So|Mon|Tue|Wed|Thu|Fri|Sat|Sun)\b.*$"
    r"|\s(?:Mo|Di|Mi|Do|Fr|Sa|So|Mon|Tue|Wed|Thu|Fri|Sat|Sun)\s*[.,]?\s*$"
    r"|\s(?:said|says|sagt|schreibt|wrote|writes)\b.*$|\s(?:at|am|on|um)\s*$"
    r"|\s(?:[Ii]llustrations?|[Ff]otos?|[Pp]hotos?|[Bb]ild(?:er)?|[Gg]rafik|[Vv]ideo)\b.*$|\s*\(.*$",
    re.S)
# "Posted on September 21, 2020 by Jane Doe": a date first, then the byline
_DATED_BY = re.compile(r"^[^|]{0,60}?\d[^|]{0,30}?\s(?:by|von|par|por|door)\s+(?=[A-ZÄÖÜÉ])")
_SLASH_SPACE = re.compile(r"(?<=[^\s/])/\s+(?=\S)")
# after a name, an author box's link to all of the author's articles: "Alle Artikel", "View all posts"
_MORE_LINK = re.compile(r"\s+(?:(?:view|see|show)\s+)?(?:all|alle|more|mehr|weitere)\s+(?:artikel|articles|posts|beiträge|stories|texte)"
                        r"\s*(?:[»›→>]\s*)?$", re.I)
_EMAIL = re.compile(r"\S+@\S+\.\w+")
_HANDLE = re.compile(r"(?<!\w)@\w+")
_URL = re.compile(r"^(?:https?:|www\.)|^\S+\.\w{2,4}/\S*$", re.I)
_DATE_CUT = re.compile(
    r"(?:\b(?:on|am|le|el|il|published|updated|posted|aktualisiert|veröffentlicht|stand|publié|mis à jour|"
    r"actualizado|publicado)\b\s*:?\s*){0,2}"
    r"(?:\d{1,4}[./-]\d{1,2}(?:[./-]\d{1,4})?|\d{1,2}\.?\s+[A-Za-zäéû]{3,}\.?\s+\d{4}|[A-Z][a-z]{2,8}\.?\s+\d{1,2},?\s+\d{4}"
    r"|\d{1,2}:\d{2}|\b(?:19|20)\d{2}\b|\b(?:vor|ago)\b).*$",
    re.I | re.S)
_PIPE = re.compile(r"\s+[|•·–—]\s+|\s*[|•·]\s*|\n")
_SPLIT = re.compile(r"\s*(?:;|,(?:\s*(?:and|und|y|et|e|en|og|och|és)\s)?|&|\+|"
                    r"\s(?:and|und|y|et|e|en|og|och|és|im\s+gespräch\s+mit|in\s+conversation\s+with)\s)\s*",
                    re.I)
# words that describe a role or a placeholder, never a name on their own
_ROLE_WORDS = frozenset("""
admin administrator administrador webmaster editor editors editorial redaktor redakteur redakteurin
zuletzt geändert aktualisiert bearbeitet updated modified last
staff agencies agency wires agenturen reporter reporters correspondent correspondents writer writers contributor contributors journalist
autor autorin author authors auteur autore team guest gast anonymous anonym unknown user name datum date
photo photos foto fotos photographer bild bilder video quelle source sources by von par por mit und and userprofile
senior chief deputy managing political politics news desk online digital social media weitere
am on at um the der die das le la el il von vom by par follow folgen share teilen more mehr profile profil
monday tuesday wednesday thursday friday saturday sunday montag dienstag mittwoch donnerstag freitag
samstag sonntag lundi mardi mercredi jeudi vendredi samedi dimanche january february march april may june
july august september october november december januar februar märz juni juli oktober dezember
""".split())
_TRAILING_ROLE = re.compile(
    r"(?:,?\s+(?:\(?(?:staff|senior|chief|contributing|guest|political|deputy)?\s*"
    r"(?:writer|reporter|correspondent|editor|redakteur(?:in)?|korrespondent(?:in)?|journalist(?:in)?|"
    r"autor(?:in)?|contributor|staff)s?\)?))+$",
    re.I)
_OCCUPATIONS = frozenset("""
reporter reporterin redakteur redakteurin korrespondent korrespondentin journalist journalistin autor autorin
editor writer correspondent columnist kolumnist kolumnistin rechtsanwalt rechtsanwältin fachanwalt fachanwältin
anwalt anwältin attorney lawyer photographer fotograf fotografin
""".split())
_DEGREES = frozenset({"phd", "md", "mba", "msc", "bsc", "ma", "ba", "rd", "rn", "dr", "prof", "jr", "sr"})
_PLACEHOLDERS = frozenset({"no author", "unknown author", "admin", "administrator", "name", "author",
                           "anonymous", "guest", "user", "staff", "editor", "gast"})


def clean_names(raw: str | None, *, max_names: int = 8) -> tuple[str, ...]:
    """Names in a byline or author field, cleaned and split; () when nothing name-like is left."""
    if not raw:
        return ()
    text = _WS.sub(" ", html.unescape(raw).replace("\u00a0", " ")).strip()
    if not text or len(text) > 300 or _URL.search(text):
        return ()
    text = _SLASH_SPACE.sub("/", text)  # "wien.ORF.at/ Agenturen": a gap left by joining the texts of two elements
    text = _MORE_LINK.sub("", text)  # "Jane Doe Alle Artikel": the author box's link to the author's page
    text = _EMAIL.sub(" ", text)
    text = _HANDLE.sub(" ", text)
    # a byline's first segment holds the names: "Jane Doe | April 14, 2021", "Jane Doe · 3 min read"
    m = _DATED_BY.match(text)
    if m:
        text = text[m.end():]
    parts = [p for p in _PIPE.split(text) if p.strip()]
    names: list[str] = []
    for part in parts[:4]:
        if names:
            break
        part = _DATE_CUT.sub("", part.strip()).strip(" ,;:-–—|()[]")
        part = _PREFIX.sub("", part)
        part = _CUT.sub("", _PREFIX.sub("", part))
        for piece in _SPLIT.split(part):
            if names and _describes(piece):
                continue  # "Jane Doe, Health Correspondent", "Jane Doe, Monash University": about the name before
            name = _clean_one(piece)
            if name and name.casefold() not in {n.casefold() for n in names}:
                names.append(name)
    return tuple(names[:max_names])


# where a byline's author works ("Jane Doe, Monash University"): not another author
_INSTITUTION = re.compile(r"\b(?:university|universität|université|universidad|università|universiteit|institute|"
                          r"institut|instituto|college|school|hospital|klinikum|foundation|stiftung|center|centre|"
                          r"zentrum)\b", re.I)


def _describes(piece: str) -> bool:
    """Whether a byline piece after a name describes that name: a role ending in an occupation ("Health
    Correspondent", "Contributing Writers") or a workplace, in at most five words."""
    words = piece.split()
    if not words or len(words) > 5:
        return False
    last = words[-1].casefold().strip(".,:;()")
    return (last in _OCCUPATIONS or last.removesuffix("s") in _OCCUPATIONS or last == "contributor"
            or _INSTITUTION.search(piece) is not None)


# "Julia Weber in Berlin", "Max Muster aus Wien": where the author reports from
_IN_PLACE = re.compile(r"^([A-ZÄÖÜÉ][\w.'-]*(?:\s+[\w.'-]+){1,3}?)\s+(?:in|aus)\s+[A-ZÄÖÜÉ][\w-]+(?:\s+[A-ZÄÖÜÉ][\w-]+)?$")
# "Eine Kolumne von Nils Pickert", "A column by ...", "Im Wortlaut von ...": an article, a noun, the lead
_SHORT_LEAD = re.compile(r"^(?i:ein|eine|einen|der|die|das|im|a|an|the|un|une|le|la|el|una)\s+\S+(?:\s+\S+)?"
                         r"\s+(?:von|by|par|por)\s+(?=[A-ZÄÖÜÉ])")
# "Peter Maahn/SP-X": an agency's short name after a full name
_SLASH_AGENCY = re.compile(r"^([A-ZÄÖÜÉ][\w.'-]*(?:\s+[A-ZÄÖÜÉ][\w.'-]*)+)\s*/\s*[\w-]{2,8}$")
# "Kiran C Nair - Chrome Safe Browsing team": what follows a full name after a dash describes it
_DASH_TAIL = re.compile(r"^([A-ZÄÖÜÉ][\w.'-]*(?:\s+[A-ZÄÖÜÉ][\w.'-]*)+)\s+[-–—]\s+(?=.*\s[a-zäöüß])(?!\S+@).*$")


def _clean_one(piece: str) -> str | None:
    name = _PREFIX.sub("", piece.strip())
    name = _SHORT_LEAD.sub("", name)
    name = _SLASH_AGENCY.sub(r"\1", name)
    name = _DASH_TAIL.sub(r"\1", name)
    name = _IN_PLACE.sub(r"\1", name)
    stripped = _TRAILING_ROLE.sub("", name)
    if len(stripped.split()) != 1 or not re.fullmatch(r"\w+\s+\w+", name):
        name = stripped  # but "Rasender Reporter": a pen name of two words stays whole
    name = name.strip(" ,;:-–—|/()[]\"'“”„«»*•·")
    if not name or len(name) > 60:
        return None
    words = name.split()
    if len(words) > 2 and words[0].casefold() in _OCCUPATIONS and looks_like_name(" ".join(words[1:])):
        words = words[1:]  # "Rechtsanwalt Jane Doe", "Reporter Jane Doe": the occupation before a full name
        name = " ".join(words)
    if len(words) > 6:
        return None
    lowered = name.casefold()
    if lowered in _PLACEHOLDERS or all(w.casefold().strip(".") in _ROLE_WORDS for w in words):
        return None
    if not any(c.isalpha() for c in name) or len(name) < 2 or name[0].isdigit():
        return None
    if lowered.replace(".", "") in _DEGREES:
        return None
    if len(words) > 1 and words[0].isalpha() and words[0].islower() and words[0] not in _PARTICLES \
            and any(w[:1].isupper() for w in words[1:]):
        return None  # "seite von Schließen", "deinen Hochzeitsbloggern": words of a sentence, not a name
    return name


_PARTICLES = frozenset({"von", "van", "de", "der", "den", "da", "di", "la", "le", "del", "dos", "zu", "y", "bin", "al"})


def looks_like_name(name: str) -> bool:
    """One to five words, each capitalized (or a particle such as "von"): how names in running bylines look."""
    words = name.split()
    return 1 <= len(words) <= 5 and all(w[:1].isupper() or w.lower() in _PARTICLES for w in words) \
        and words[0][:1].isupper()


# ---- choosing the byline of a page ----

_AUTHOR_META = ("author", "article:author", "og:article:author", "parsely-author", "sailthru.author",
                "dc.creator", "dcterms.creator", "citation_author", "byl", "cxenseparse:author",
                "article.author", "twitter:data1_author")
_MAX_META_AUTHORS = 8
# an organization giving its web address after its name: "Deutsche Welle (www.dw.com)"
_OWN_DOMAIN = re.compile(r"\(\s*(?:https?://)?(?:www\.)?[\w-]+(?:\.[\w-]+)*\.[a-z]{2,6}/?\s*\)", re.I)
_DOMAIN = re.compile(r"\w\.(?:com|org|net|info|de|at|ch|fr|es|it|uk|eu|io|pl|nl|be)\b", re.I)
_BYLINES = XPath(  # what _bylines() finds, kept for a page with more than one <body>
    "//body//*[@class or @id or @rel]"
    "[@rel='author' or contains(@class,'author') or contains(@class,'Author') or contains(@class,'byline')"
    " or contains(@class,'Byline') or contains(@id,'author') or contains(@class,'autor') or contains(@class,'Autor')"
    " or contains(@class,'writer') or contains(@class,'creator') or contains(@class,'auteur')"
    " or contains(@class,'contributor')]"
    "[not(contains(@class,'related'))]"
)
_BYLINE_CLASS = re.compile(r"author|Author|byline|Byline|autor|Autor|writer|creator|auteur|contributor")
# a label, then the name: "<h5>Autor:</h5>Peter Maahn", "<h4>Author</h4><p>Jane Doe</p>"
_LABELS = frozenset({"Autor:", "Autor", "Author:", "Author", "Autorin:", "Autorin", "Text:", "Verfasser:", "Auteur :",
                     "Auteur:", "Autore:", "Written by:", "Von:", "By:"})
# the short texts that may be one (each label holds one of these; normalize-space changes only whitespace)
_LABEL_TEXTS = XPath(
    "//body//text()[string-length(.) < 80][contains(., 'Aut') or contains(., 'Text:') or contains(., 'Verfasser:')"
    " or contains(., 'Written') or contains(., 'Von:') or contains(., 'By:')]"
)
_XML_SPACE = re.compile(r"[ \t\r\n]+")  # what XPath's normalize-space() collapses


def _bylines(tree: HtmlElement) -> list[HtmlElement]:
    """The first 30 elements in the <body> named like a byline (rel=author, author/byline/writer... classes,
    an author id), not in related stories: one walk, not an XPath of eleven contains() per element."""
    bodies = list(tree.getroottree().getroot().iter("body"))
    if len(bodies) != 1:
        return list(_BYLINES(tree)[:30])
    out = []
    for el in bodies[0].iterdescendants():
        if not isinstance(el.tag, str):
            continue
        cls, id_ = el.get("class"), el.get("id")
        if ((el.get("rel") == "author" or (cls is not None and _BYLINE_CLASS.search(cls))
             or (id_ is not None and "author" in id_)) and not (cls is not None and "related" in cls)):
            out.append(el)
            if len(out) == 30:
                break
    return out


def _author_labels(tree: HtmlElement) -> list[Any]:
    """The first three text nodes in the <body> that are only an author label (lxml's text results)."""
    return [t for t in _LABEL_TEXTS(tree) if _XML_SPACE.sub(" ", t).strip(" ") in _LABELS][:3]


_AUTHOR_LINKS = XPath("//a[contains(@href,'/author/') or contains(@href,'/autor/') or contains(@href,'/authors/')"
                      " or contains(@href,'/autoren/') or contains(@href,'/auteur/') or contains(@href,'/profile/')]")
# short blocks whose text starts like a byline: "By Jane Doe", "Von Max Muster", "Par Jean Dupont"
_TEXT_BYLINES = XPath(
    "//body//*[self::p or self::span or self::div or self::strong or self::em or self::b or self::small or self::li]"
    "[string-length(text()[1]) < 300]"
    "[text()[1][starts-with(normalize-space(.),'By ') or starts-with(normalize-space(.),'Von ')"
    " or starts-with(normalize-space(.),'Par ') or starts-with(normalize-space(.),'Por ')"
    " or starts-with(normalize-space(.),'BY ') or starts-with(normalize-space(.),'VON ')"
    " or starts-with(normalize-space(.),'by ') or starts-with(normalize-space(.),'von ')"
    # "Ein Artikel von Jane Doe", "Text von Jane Doe", "Posted by Jane Doe", "Blog Beitrag von Jane Doe",
    # "Gastbeitrag von Jane Doe", "Guest post by Jane Doe": a short lead naming the piece, then the name
    " or (string-length(normalize-space(.)) < 40 and (contains(., ' von ') or contains(., ' by ')"
    " or contains(., 'Autoren ') or contains(., 'Autorin ') or contains(., 'Autor '))"
    " and (starts-with(normalize-space(.),'Ein') or starts-with(normalize-space(.),'Text')"
    " or starts-with(normalize-space(.),'Post') or starts-with(normalize-space(.),'Written')"
    " or starts-with(normalize-space(.),'Gespeichert') or starts-with(normalize-space(.),'Veröffentlicht')"
    " or starts-with(normalize-space(.),'Autor') or starts-with(normalize-space(.),'Blog')"
    " or starts-with(normalize-space(.),'Gast') or starts-with(normalize-space(.),'Guest')"
    " or starts-with(normalize-space(.),'Beitrag') or starts-with(normalize-space(.),'Artikel')"
    " or starts-with(normalize-space(.),'Article')))]]"
)


# a dateline opening a paragraph: "Hamburg (dpa/lno) – ", "WASHINGTON (AP) — ", "Paris (AFP) - "
_DATELINES = XPath("//body//p[contains(substring(normalize-space(text()), 1, 60), ') ')]")
_DATELINE = re.compile(r"^(?!(?:Der|Die|Das|Den|Dem|Ein|Eine|The|An?|Le|La|Les|El|Los|Il|Un|Une)\s)[A-ZÄÖÜ][\w.'’/-]*(?:\s[A-ZÄÖÜ][\w.'’/-]*){0,3},?\s\(([A-Za-z]{2,8}(?:/[A-Za-z]{2,8})?)\)"
                       r"\s*[-–—:]\s")
_NEXT_TEXTS = XPath("following::text()[normalize-space()][position() <= 2]")
_INNER_TEXTS = XPath("descendant::text()[normalize-space()][position() <= 2]")
# "By Jane Doe", "Posted by jane", "| By ", "06.11.2023 13:30 von Olga", "Verfasst von:", "Text von Jane Doe": a
# byline's grammar at the start of a text node: only digits and separators before it, at most a verb of
# publishing or the word for what was written
_GRAMMAR = re.compile(  # "*+": what follows starts with a letter, so giving back separators never helps
    r"^[\d\s.,:/|·•—–-]*+(?:(?:posted|written|published|reported|gespeichert|verfasst|geschrieben|erstellt|"
    r"veröffentlicht|eingestellt|publié|écrit|rédigé|publicado|escrito|publicada|escrita|text|texte|words|story)\s+)?"
    r"(?:(?:by|von|par|por)\s*:?(?:\s+|$)"
    # or a label: "Redaktion: Jane Doe", "Autorin: ...", "Text & Fotos: ...", "责任编辑： 焦鹏"
    r"|(?:autor(?:in|en)?|authors?|auteurs?|autore|redaktion|verfasser(?:in)?|herausgeber(?:in)?|作者|责任编辑|编辑|记者"
    r"|text(?:\s*(?:&|\+|/|und|and)\s*(?:fotos?|photos?|bild(?:er)?))?)"
    r"\s*[:：]\s*)",
    re.I)
# a dateline, then a name and nothing else: "04.02.2022 | 13:10 Uhr | Jane Doe", "April 14, 2021 - Jane Doe"
# (case-sensitive and apart from _GRAMMAR: it fails at the first letter of nearly every text, so costs little)
_DATE_BYLINE = re.compile(
    r"^\s*+(?:\d{1,2}\.\s?\d{1,2}\.\s?(?:\d{4}|\d{2})|\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{2,4}"
    r"|\d{1,2}\.?\s+[^\W\d]{3,9}\.?\s+\d{4}|[A-Z][a-zäé]{2,8}\.?\s+\d{1,2},?\s+\d{4})"
    r"(?:\s*[|,·•–—-]?\s*\d{1,2}[:.]\d{2}(?:\s*(?:Uhr|h|[AaPp]\.?[Mm]\.?))?)?\s*[|·•–—-]\s*"
    r"(?=(?:\s*(?:[A-ZÄÖÜÉ][\w'’.-]*[a-zäöüßéèáíóúñ.][\w'’]*|von|van|de|der|den|da|di|del|dos|zu)\b){2,4}\s*$)")


def _lead_texts(tree: HtmlElement) -> Iterator[tuple[HtmlElement, str, bool, re.Match[str]]]:
    """(element, text, is its tail, match) for each short text in the body that opens like a byline."""
    for body in tree.iter("body"):
        for el in body.iter():
            text = el.text
            if text and len(text) < 160 and el.tag not in ("script", "style") and isinstance(el.tag, str):
                m = _GRAMMAR.match(text) or _DATE_BYLINE.match(text)
                if m:
                    yield el, text, False, m
            tail = el.tail
            if tail and len(tail) < 160 and el is not body:
                m = _GRAMMAR.match(tail) or _DATE_BYLINE.match(tail)
                if m:
                    yield el, tail, True, m


def _grammar_bylines(tree: HtmlElement, usable: Callable[[str | None], tuple[str, ...]]) -> Iterator[tuple[str, ...]]:
    """Names after a byline's lead ("By", "Von", "Par", "Por", "Posted by") at the start of a short text,
    in the same text or the next one ("Gespeichert von <span>rasos</span>"). The grammar vouches for the
    name, so an account name in lower case is accepted; a name runs until a word in lower case."""
    found = 0
    for el, text, is_tail, m in _lead_texts(tree):
        if found >= 3:
            break
        if in_other_content(el):
            continue
        rest = text[m.end():].strip()
        alone = not rest
        if alone:  # the name is the next text: "<b>Von:</b> Jane Doe", "Posted by <a>jane</a>"
            if is_tail:
                texts = _NEXT_TEXTS(el)[1:]
            else:
                texts = _INNER_TEXTS(el)[1:] or _NEXT_TEXTS(el)
            rest = texts[0].strip() if texts else ""
        if not rest or len(rest) > 80:
            continue
        pieces = usable(rest)
        runs = [_name_run(piece) for piece in pieces]
        names = tuple(run for run in runs if run)
        if len(names) > 1 and all(len(n.split()) < 2 for n in names):
            continue  # "von Künstlern, Bands, DJs": a list of words in a sentence, not of people
        # a later piece that runs into words in lower case describes the first ("Jane Doe, Projektleiterin
        # der HSS in Tunesien"): an apposition, not a second name
        names = tuple(run for i, (piece, run) in enumerate(zip(pieces, runs, strict=True))
                      if run and (i == 0 or run == piece))
        if len(names) == 1 and not alone and names[0][:1].islower() \
                and not _AFTER_HANDLE.match(rest[rest.find(names[0]) + len(names[0]):]):
            continue  # "made by human hands": an account name in running text is followed by a date or nothing
        if names:
            found += 1
            yield names


_AFTER_HANDLE = re.compile(r"\s*(?:$|[|,;·•—–(@-]|\d|(?:on|am|at|um|le|el|il|under|in)\s)")


def _name_run(name: str) -> str | None:
    """"Nesselsetzer under" -> "Nesselsetzer": a name stops at a word in lower case (particles aside)."""
    words = name.split()
    run = words[:1]
    for word in words[1:]:
        if word[:1].islower() and word not in _PARTICLES:
            break
        run.append(word)
    if len(run) == 1 and not run[0][:1].isupper() and not _HANDLE_SHAPE.match(run[0]):
        return None
    return " ".join(run)


_COLLECTIVE = frozenset({"redaktion", "team", "desk", "newsroom", "editorial", "rédaction", "redacción"})


def _without_site(name: str, keys: set[str]) -> str:
    """"Adam Aaronson PhillyVoice" -> "Adam Aaronson", "FOCUS-Online-Experte Robin Tschöpe" -> "Robin Tschöpe":
    words before or after a name that are the site's name (or a compound starting with it) go."""
    words = name.split()
    if any(w.casefold() in _COLLECTIVE for w in words):
        return name  # "Example News Redaktion" is the site's newsroom: keep it whole

    def is_site_word(word: str) -> bool:
        parts = word.split("-")
        return any(squash("".join(parts[:i])) in keys for i in range(1, len(parts) + 1))

    def droppable(word: str) -> bool:  # what is left must still be a full name, unless an account name goes
        rest = [w for w in words if w is not word]
        return is_site_word(word) and (len(rest) > 1 or (word.isalpha() and word.islower() and rest[0].isalpha()))

    while len(words) > 1 and droppable(words[-1]):
        words.pop()
    while len(words) > 1 and droppable(words[0]):
        words.pop(0)
    return " ".join(words)


_ARTICLES = frozenset({"the", "der", "die", "das", "le", "la", "les", "el", "il", "lo", "het", "de"})


def _names_site(name: str, keys: set[str]) -> bool:
    """"EFC Example Club" on example-club.de, "Die FURCHE" on furche.at, "Krimiblog-Archiv" on krimiblog.de:
    a name holding the site's name as whole words is the site, or its club or archive, not a person
    (a newsroom, "Example Redaktion", is left to the caller)."""
    words = name.split()
    if len(words) > 1 and any(w.casefold() in _COLLECTIVE for w in words):
        return False
    for i in range(len(words)):  # two words or more, or the first part of a compound ("Jane Lemire": a person)
        for j in range(i + 2, min(len(words), i + 3) + 1):
            if squash("".join(words[i:j])) in keys:
                return True
    if len(words) == 2 and words[0].casefold() in _ARTICLES and squash(words[1]) in keys:
        return True  # "Die FURCHE" on furche.at, "The Example" on example.com: an article, then the site's name
    return any("-" in w and squash(w.split("-")[0]) in keys for w in words)


# a description that opens with the person's first name and a surname: "Stefanus Stahl - Maschinenbauer ...",
# "Jane Doe ist Redakteurin", "Jane Doe, editor": the surname runs to a dash, comma, colon, bracket or lower case
_SURNAME_AFTER = r"\s+((?:(?:von|van|de|der|da|di|del|la|le)\s+)?[A-ZÄÖÜÉ][\w'’-]+)(?=\s*[-–—,:(]|\s+[a-zäöüß])"


def _full_name(name: str | None, description: str | None) -> str | None:
    """A Person's name given as a first name only ("Stefanus"), completed from its own description when that
    opens with the full name ("Stefanus Stahl - Maschinenbauer, Abenteurer ...")."""
    if not name or not description or len(name.split()) != 1 or not name[:1].isupper():
        return name
    m = re.match(re.escape(name) + _SURNAME_AFTER, description.strip())
    return f"{name} {m.group(1)}" if m else name


def _ld_authors(s: Signals, keys: set[str], *, persons: bool) -> tuple[str, ...]:
    """JSON-LD authors of the article: persons (or untyped names) first, organizations on request."""
    for obj in s.articles + s.pages:
        names: list[str] = []
        for person in ld_list(obj.get("author")) + ld_list(obj.get("creator")):
            person = s.resolve(person)
            if isinstance(person, dict):
                is_org = "organization" in str(person.get("@type", "")).lower()
                raw = _full_name(ld_text(person.get("name")), ld_text(person.get("description")))
            else:
                is_org, raw = False, ld_text(person)
            if raw and is_org != persons:
                names.extend(n for n in (_without_site(c, keys) for c in clean_names(raw)) if squash(n) not in keys)
        if names:
            return tuple(dict.fromkeys(names))
    people = s.persons()
    if persons and not s.articles and len(people) == 1:  # a blog's graph: the page and its one author
        return tuple(n for n in clean_names(ld_text(people[0].get("name"))) if squash(n) not in keys)
    return ()


def _byline_text(el: HtmlElement) -> str:
    return clean(" ".join(el.itertext()))


_MAX_CANDIDATES = 2  # sources consulted after the first one, to complete or confirm its names (more cost
# time on every page and gained nothing on the dev set)
_MAX_CONTESTED = 5  # when no later source confirms the first, how many are consulted in all for two that agree


def _overlap(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    return bool({fold(n) for n in a} & {fold(n) for n in b})


def _confirmed(candidates: list[tuple[str, ...]]) -> bool:
    """Whether a later source names one of the first source's names too."""
    return any(_overlap(candidates[0], other) for other in candidates[1:])


def _agreed(candidates: list[tuple[str, ...]], sources: list[str], first: int) -> int:
    """The candidate to start from: `first`, unless no other source confirms it while two later sources of
    different kinds (a label and a link, a meta tag and a byline) agree with each other on other names: two
    independent witnesses outweigh one (a JSON-LD "Editorial Team" against "Blog Redaktion" shown twice)."""
    if any(_overlap(candidates[first], other) for i, other in enumerate(candidates) if i != first):
        return first
    for i in range(first + 1, len(candidates)):
        for j in range(i + 1, len(candidates)):
            if sources[i] != sources[j] and {fold(n) for n in candidates[i]} == {fold(n) for n in candidates[j]} \
                    and not _weak(candidates[i]) and not (_newsroom(candidates[i]) and not _newsroom(candidates[first])):
                return i  # (but a newsroom, "Redaktion" shown twice, does not replace a person the page declares)
    return first


def _newsroom(names: tuple[str, ...]) -> bool:
    return any(w.casefold() in _COLLECTIVE for n in names for w in n.split())


def choose_authors(tree: HtmlElement, s: Signals, keys: set[str]) -> tuple[str, ...]:
    """The article's authors: the first source, in order of trust, that names someone other than the site,
    completed by later sources that agree with it (see `refine`)."""
    fallback: list[tuple[str, ...]] = []
    candidates: list[tuple[str, ...]] = []
    sources: list[str] = []
    for source, names in author_candidates(tree, s, keys, fallback):
        candidates.append(names)
        sources.append(source)
        if len(candidates) > _MAX_CANDIDATES and (len(candidates) > _MAX_CONTESTED or _confirmed(candidates)):
            break
    if not candidates:
        signed = _sign_off(tree) or _post_author_comment(tree)
        if signed and all(squash(n) in keys for n in signed):  # the site's own account answering comments
            fallback.append(signed)
            signed = ()
        if signed:
            return signed
        notices = _copyright_notices(tree)
        return _site_owner(notices, keys) or (fallback[0] if fallback else _copyright_holder(notices))
    first = 0
    if _weak(candidates[0]):  # a phrase or an organization: a later source may name the person
        first = next((i for i, names in enumerate(candidates) if not _weak(names)), 0)
    first = _agreed(candidates, sources, first)
    names = refine(candidates[first], candidates[first + 1:] + fallback)
    return _owner_surname(tree, names, keys) if len(names) == 1 and len(names[0].split()) == 1 else names


_TEXTS_WITH = XPath("//body//text()[contains(., $a) or contains(., $b)]")


def _owner_surname(tree: HtmlElement, names: tuple[str, ...], keys: set[str]) -> tuple[str, ...]:
    """"Henry" on steinhau.com, where the page also shows "Henry Steinhau": a first name completed by the
    site's own name when the page writes them together as a name (a personal site named after its author;
    "Matthias herrpfleger" is an account name after a first name, no surname)."""
    name = names[0]
    surnames = [k for k in keys if k.isalpha() and len(k) > 2 and k != name.casefold()]
    if not name.isalpha() or not name[:1].isupper() or not surnames:
        return names
    texts = _TEXTS_WITH(tree, a=name, b=name.upper())  # lxml finds the few texts holding the name
    for key in surnames:  # written as a name ("Steinhau", "STEINHAU"), not as an account ("Henry steinhau")
        for m in (m for t in texts for m in re.finditer(rf"\b{re.escape(name)}\s+({re.escape(key)})\b", t, re.I)):
            shown = m.group(1)
            if shown[:1].isupper():
                return (f"{name} {shown.capitalize() if shown.isupper() else shown}",)
    return names


_LEGAL_FORM = re.compile(r"\b(?:e\.\s?V|GmbH|gGmbH|AG|SE|KG|Inc|Ltd|LLC|S\.A|SA|SARL|S\.L|plc|Corp)\.?$")


def _weak(names: tuple[str, ...]) -> bool:
    """Names that are more likely a phrase ("En kiosques : juillet") or an organization ("Example e.V.")."""
    return any((_PHRASE.search(n) and not _HANDLE_SHAPE.match(n)) or len(n.split()) > 4 or _LEGAL_FORM.search(n)
               for n in names)


_PHRASE = re.compile(r":|\s[-–—]\s|\d|^[a-zà-ÿ]+\s+[a-zà-ÿ]+\s")


# the last paragraph of its container, short, soon after a long one: where an article is signed
# ("<p><em>Jane Doe</em></p>"; bold subheadings and "More information" headings have paragraphs after them);
# only footnotes may follow ("(1) Ces chiffres ...", "[1] ...", "* ...")
_SIGN_OFFS = XPath("//body//p[string-length(normalize-space()) > 3][string-length(normalize-space()) < 40]"
                   "[preceding-sibling::*[position() <= 3][self::p][string-length(normalize-space()) > 120]]"
                   "[not(following-sibling::p[normalize-space()][not(starts-with(normalize-space(), '('))]"
                   "[not(starts-with(normalize-space(), '['))][not(starts-with(normalize-space(), '*'))])]")


def _sign_off(tree: HtmlElement) -> tuple[str, ...]:
    """When nothing names an author: the name that signs the article, a paragraph of its own after the text,
    set apart (right-aligned, or all of it in italics or bold) or over the date, as signatures are."""
    for p in _SIGN_OFFS(tree)[:5]:
        text = clean(p.text_content())
        emphasized = [el for el in p.iter("em", "i", "b", "strong") if clean(el.text_content()) == text]
        if (p.get("align") == "right" or emphasized) and looks_like_name(text) and len(text.split()) > 1 \
                and not in_other_content(p):
            return clean_names(text)
        # "Benni<br>10. September 2017": a name on a line of its own, the date under it
        first = clean(p.text or "")
        br = p[0] if len(p) and p[0].tag == "br" else None
        if br is not None and first and looks_like_name(first) and _DATE_LINE.match(clean(br.tail or "")) \
                and not in_other_content(p):
            return clean_names(first)
    return ()


_DATE_LINE = re.compile(r"^(?:\d{1,2}\.\s?(?:\d{1,2}\.|[^\W\d]{3,9})\s?\d{4}|[A-Z][a-z]{2,8}\.?\s+\d{1,2},?\s+\d{4}"
                        r"|\d{4}-\d{2}-\d{2})$")


# WordPress marks a comment written by the post's author: class="comment byuser comment-author-jane bypostauthor"
_POST_AUTHOR_COMMENTS = XPath("//body//*[contains(@class, 'bypostauthor')]")
_COMMENT_LOGIN = re.compile(r"(?:^|\s)comment-author-([\w.-]+)")


def _post_author_comment(tree: HtmlElement) -> tuple[str, ...]:
    """When nothing names an author: the post's author answering in the comments, by the name the comment
    shows (`class="fn"`, `class="comment-author"`), else by the login its class names."""
    for el in [el for el in _POST_AUTHOR_COMMENTS(tree) if "bypostauthor" in (el.get("class") or "").split()][:1]:
        for node in el.iterdescendants():
            tokens = (node.get("class") or "").split() if isinstance(node.tag, str) else []
            if "fn" in tokens or "comment-author" in tokens:
                shown = _byline_text(node)
                names = clean_names(shown) if len(shown) < 60 else ()
                if len(names) == 1:
                    return names
                break
        m = _COMMENT_LOGIN.search(el.get("class") or "")
        if m:
            return clean_names(m.group(1))
    return ()


_COPYRIGHT_TEXTS = XPath("//body//text()[contains(., '©') or contains(., '(c)') or contains(., '(C)')"
                         " or contains(., 'opyright') or contains(., 'OPYRIGHT')][string-length(.) < 200]")
_COPYRIGHT = re.compile(r"^.*?(?:(?:©|\([cC]\)|[cC]opyright|COPYRIGHT)\s*)+(?:since\s+|seit\s+)?"
                        r"(?:(?:19|20)\d\d\s*(?:[-–]\s*(?:(?:19|20)\d\d)?)?)?\s*(?:by\s+|von\s+)?(.*)$", re.S)
_COPYRIGHT_END = re.compile(r"\s*(?:[.|•·,;]\s|\b(?:all rights|alle rechte|tous droits|todos los derechos)|"
                            r"riproduzione riservata|derechos reservados|(?:19|20)\d\d\b|$).*$", re.I | re.S)


def _copyright_notices(tree: HtmlElement) -> list[str]:
    """Who the page's last copyright notices name as the holder, the last first: the page's own notice is in
    its footer, earlier ones credit photos."""
    holders = []
    for node in reversed(_COPYRIGHT_TEXTS(tree)[-5:]):
        m = _COPYRIGHT.match(clean(node))
        if m:
            holders.append(_COPYRIGHT_END.sub("", m.group(1)).strip())
    return holders


def _copyright_holder(notices: list[str]) -> tuple[str, ...]:
    """The last resort: whoever the page says holds its copyright ("© 2019 Jane Doe", "Copyright (c) 2012-
    Example AG. All rights reserved."): on a personal site its author, on a company's its publisher."""
    for holder in notices:
        names = clean_names(holder) if holder and not _DOMAIN.search(holder) else ()
        if len(names) == 1 and looks_like_name(names[0]) and len(names[0]) > 2 and "/" not in names[0] \
                and names[0].casefold() not in ("copyright", "alle rechte"):  # "Jane Doe/Getty Images": a photo
            return names
    return ()


_OWNED_BY = re.compile(r"^(.+?)\s+(?:by|von|par|por)\s+(.+)$")


def _site_owner(notices: list[str], keys: set[str]) -> tuple[str, ...]:
    """A copyright notice naming the site and who runs it ("© Example Blog by Ramona"): on a blog, the author
    (asked before the site itself is taken as the author)."""
    for holder in notices:
        owned = _OWNED_BY.match(holder)
        if owned and squash(owned.group(1)) in keys:
            names = clean_names(owned.group(2))
            if len(names) == 1 and looks_like_name(names[0]) and squash(names[0]) not in keys:
                return names
    return ()


def refine(names: tuple[str, ...], others: list[tuple[str, ...]]) -> tuple[str, ...]:
    """The first source's names, completed where a later source says the same thing more fully.

    - a later source lists the same people and more (the JSON-LD names one of three authors the byline shows);
    - a name given as a first name only ("Nils"), an account ("jane_doe", "jane.doe") or with a description
      glued to it ("Jane Doe A computer science professor") is replaced by the later source's full,
      plain name that it agrees with ("Nils Pickert", "Jane Doe").
    """
    keys = {fold(n) for n in names}
    for other in others:
        if len(other) <= 6 and keys < {fold(n) for n in other} \
                and all(fold(n) in keys or (looks_like_name(n) and len(n.split()) > 1) for n in other):
            names = other
            keys = {fold(n) for n in other}
            break
    out: list[str] = []
    for name in names:
        better = next((o for other in others for o in other if _completes(name, o)), None)
        out.append(better or name)
    return tuple(dict.fromkeys(out))


def fold(name: str) -> str:
    """Letters and digits of a name, lower case, without accents: "Gàbor_Muniér" -> "gabormunier"."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return "".join(c for c in decomposed if c.isalnum() and not unicodedata.combining(c))


_HANDLE_SHAPE = re.compile(r"^[\w.\-]+$")


def _completes(name: str, other: str) -> bool:
    """Whether `other` is the same person as `name`, written more fully or more plainly."""
    words, other_words = name.split(), other.split()
    if name == other or not looks_like_name(other) or len(other_words) > 4:
        return False
    if len(words) == 1 and len(other_words) > 1:
        if other_words[0] == name:  # "Nils" -> "Nils Pickert"
            return True
        # an account name: "jane_doe", "jane.doe", "janedoe" -> "Jane Doe"
        return bool(_HANDLE_SHAPE.match(name)) and not name[:1].isupper() and fold(name) == fold(other)
    # "Jane Doe A computer science professor" -> "Jane Doe": the rest is not part of a name
    return 1 < len(other_words) < len(words) and words[:len(other_words)] == other_words \
        and any(w[:1].islower() and w not in _PARTICLES for w in words[len(other_words):])


_PROFILE_HREF = re.compile(r"/(?:author|autor|authors|autoren|auteur|profile|people|team)s?/", re.I)


def _in_teaser(el: HtmlElement, text: str) -> bool:
    """A byline of another article: in a link that holds more than the byline (a card linking to that
    article: its headline, summary), or in an <article> inside an <aside>."""
    node = el.getparent() if el.tag == "a" else el  # the author's name as a link is the byline itself
    article = False
    while node is not None and node.tag not in ("body", "html"):
        tag = node.tag
        if tag == "a" and len(clean(node.text_content())) > len(text) + 20 \
                and not _PROFILE_HREF.search(node.get("href") or ""):  # an author card: name, role, avatar
            return True
        if tag == "aside" and article:
            return True
        article = article or tag == "article"
        node = node.getparent()
    return False


def _element_names(source: str, elements: list[HtmlElement], max_length: int,
                   usable: Callable[[str | None], tuple[str, ...]], *, min_length: int = 3,
                   name_like: bool = False) -> Iterator[tuple[str, tuple[str, ...]]]:
    """(source, names) for each element whose text is a byline's length, outside other content."""
    for el in elements:
        raw = _byline_text(el)
        if min_length <= len(raw) < max_length and not in_other_content(el) and not _in_teaser(el, raw):
            names = usable(raw)
            if name_like:
                names = tuple(n for n in names if looks_like_name(n))
            if names:
                yield source, names


_INLINE = frozenset({"a", "span", "b", "strong", "em", "i", "small", "abbr"})


def author_candidates(tree: HtmlElement, s: Signals, keys: set[str],
                      fallback: list[tuple[str, ...]]) -> Iterator[tuple[str, tuple[str, ...]]]:
    """(source, names) from each source in order of trust; names that only repeat the site's name go to
    `fallback` instead (a last resort: press releases are often signed by the site itself)."""

    def usable(raw: str | None) -> tuple[str, ...]:
        cleaned = clean_names(raw)
        names = tuple(_without_site(n, keys) for n in cleaned)
        if names and (squash("".join(cleaned)) in keys  # "Jobs & Hire" on jobsnhire.com: one name, not two
                      or all(squash(n) in keys or _DOMAIN.search(n) or _names_site(c, keys)
                             for n, c in zip(names, cleaned, strict=True))):
            fallback.append(names)
            return ()
        return tuple(n for n in names if squash(n) not in keys)  # "Jane Doe, CNN" on cnn.com: Jane Doe

    names = _ld_authors(s, keys, persons=True)
    if names:
        yield "jsonld", names
    for key in _AUTHOR_META:
        values = s.meta.get(key, ())
        if len(values) > _MAX_META_AUTHORS:
            continue  # a list of cited works' authors, not the article's byline
        if any(_OWN_DOMAIN.search(raw) for raw in values):  # "Deutsche Welle (www.dw.com)": the publisher
            fallback.extend(clean_names(raw) for raw in values if clean_names(raw))
            continue
        # one tag per author (<meta name="citation_author"> repeated): together they are the byline
        names = tuple(dict.fromkeys(n for raw in values for n in usable(raw)))
        if names:
            yield "meta", names
    for el in s.itemprops.get("author", []) + s.itemprops.get("creator", []):
        if in_other_content(el):
            continue
        inner = el.xpath(".//*[@itemprop='name']")
        raw = (inner[0].get("content") or _byline_text(inner[0])) if inner else (el.get("content") or _byline_text(el))
        names = usable(raw)
        if names:
            yield "microdata", names
    yield from _element_names("byline", _bylines(tree), 120, usable)
    for label in _author_labels(tree):
        parent = label.getparent()
        if parent is None or in_other_content(parent):
            continue
        if label.is_tail:  # "<b>Autor:</b> Jane Doe" has the label as the <b>'s text; here it is a tail
            following = parent.getnext()
        else:
            following = parent.getnext() if not (parent.tail or "").strip() else None
            if following is None:
                names = usable(parent.tail)
                if names:
                    yield "label", names
        if following is not None:
            raw = _byline_text(following)
            tail = clean(following.tail or "")
            if tail and following.tag in _INLINE and len(tail) < 60:
                raw = f"{raw} {tail}"  # "Autor: <a href=...>Rechtsanwalt</a> Jane Doe": the name runs on
            names = usable(raw)
            if names:
                yield "label", names
    yield from _element_names("link", _AUTHOR_LINKS(tree)[:10], 80, usable)
    # a text that only opens like a byline ("By ...") vouches less for what follows: names must look like names
    yield from _element_names("text", _TEXT_BYLINES(tree)[:10], 120, usable, min_length=0, name_like=True)
    for names in _grammar_bylines(tree, usable):
        yield "grammar", names
    for el in _DATELINES(tree)[:3]:  # "Hamburg (dpa/lno) – ...": the wire service that wrote the story
        m = _DATELINE.match(clean(el.text or ""))
        if m and not in_other_content(el):
            yield "dateline", (m.group(1),)
            break
    names = _ld_authors(s, keys, persons=False)
    if names:
        yield "jsonld-organization", names
