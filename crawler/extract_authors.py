"""Author names from bylines: "By Jane Doe and John Roe, Staff Writers | April 14, 2021" -> two names.

`clean_names(raw)` drops what a byline wraps around names (a "By"/"Von"/"Par" prefix, dates, times,
role words, e-mail addresses, placeholders such as "Admin"), splits lists joined by commas, "and",
"und", "&", ";" and returns the names in the page's own spelling, without duplicates.
"""

from __future__ import annotations

import html
import re

_WS = re.compile(r"\s+")
# what bylines put before names: "By", "Von", "Posted by", "Veröffentlicht von", "Zeige alle Beiträge von"
_LEAD_WORDS = (r"(?:post(?:ed)?|post\s+author|written|published|reported|reporting|story|words|text|texte|photos?|"
               r"veröffentlicht|eingestellt|erstellt|geschrieben|verfasst|publiziert|beitrag|beiträge|artikel|"
               r"pressemitteilung|autor(?:in)?|authors?|auteur|autore|publié|écrit|rédigé|escrito|publicado|"
               r"scritto|pubblicato|redakteur(?:in)?|bericht|interview|more\s+from|mehr\s+von|über|about|à\s+propos\s+de)")
_PREFIX = re.compile(
    rf"^(?:[^,;|]{{0,30}}?\b{_LEAD_WORDS}(?:\b|(?=[A-ZÄÖÜÉ]))(?:\s*(?:by|von|vom|par|por|da|de|door)\b)?\s*[:\-–—]?\s*"
    r"|(?:by|von|vom|par|por|door|av|af|di)\s*:?\s+|[~©]\s*)+",
    re.I)
_CUT = re.compile(
    r"\s(?:am|on|at|um|le|el|il|vor|ago|den|dem)\s.*$"
    r"|\s(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|montag|dienstag|mittwoch|donnerstag|"
    r"freitag|samstag|sonntag|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche)\b.*$"
    r"|(?<=[a-zäöüß])(?:Mo|Di|Mi|Do|Fr|Sa|So|Mon|Tue|Wed|Thu|Fri|Sat|Sun)\b.*$"
    r"|\s(?:Mo|Di|Mi|Do|Fr|Sa|So|Mon|Tue|Wed|Thu|Fri|Sat|Sun)\s*[.,]?\s*$"
    r"|\s(?:said|says|sagt|schreibt|wrote|writes)\b.*$|\s(?:at|am|on|um)\s*$",
    re.S)
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
_SPLIT = re.compile(r"\s*(?:;|,|&|\+|\s(?:and|und|y|et|e|en|og|och|és)\s)\s*", re.I)
# words that describe a role or a placeholder, never a name on their own
_ROLE_WORDS = frozenset("""
admin administrator administrador webmaster editor editors editorial redaktion redaktor redakteur redakteurin
staff reporter reporters correspondent correspondents writer writers contributor contributors journalist
autor autorin author authors auteur autore team guest gast anonymous anonym unknown user name datum date
photo photos foto fotos photographer bild bilder video quelle source sources by von par por mit und and
senior chief deputy managing political politics news newsdesk desk online digital social media weitere
am on at um the der die das le la el il von vom by par follow folgen share teilen more mehr
""".split())
_TRAILING_ROLE = re.compile(
    r"(?:,?\s+(?:\(?(?:staff|senior|chief|contributing|guest|political|deputy)?\s*"
    r"(?:writer|reporter|correspondent|editor|redakteur(?:in)?|korrespondent(?:in)?|journalist(?:in)?|"
    r"autor(?:in)?|contributor)s?\)?))+$",
    re.I)
_DEGREES = frozenset({"phd", "md", "mba", "msc", "bsc", "ma", "ba", "rd", "rn", "dr", "prof", "jr", "sr"})
_PLACEHOLDERS = frozenset({"no author", "unknown author", "admin", "administrator", "name", "author",
                           "anonymous", "guest", "user", "redaktion", "staff", "editor", "gast"})


def clean_names(raw: str | None, *, max_names: int = 8) -> tuple[str, ...]:
    """Names in a byline or author field, cleaned and split; () when nothing name-like is left."""
    if not raw:
        return ()
    text = _WS.sub(" ", html.unescape(raw).replace("\u00a0", " ")).strip()
    if not text or len(text) > 300 or _URL.search(text):
        return ()
    text = _EMAIL.sub(" ", text)
    text = _HANDLE.sub(" ", text)
    # a byline's first segment holds the names: "Jane Doe | April 14, 2021", "Jane Doe · 3 min read"
    parts = [p for p in _PIPE.split(text) if p.strip()]
    names: list[str] = []
    for part in parts[:4]:
        if names:
            break
        part = _DATE_CUT.sub("", part.strip()).strip(" ,;:-–—|()[]")
        part = _PREFIX.sub("", part)
        part = _CUT.sub("", _PREFIX.sub("", part))
        for piece in _SPLIT.split(part):
            name = _clean_one(piece)
            if name and name.casefold() not in {n.casefold() for n in names}:
                names.append(name)
    return tuple(names[:max_names])


def _clean_one(piece: str) -> str | None:
    name = _PREFIX.sub("", piece.strip())
    name = _TRAILING_ROLE.sub("", name)
    name = name.strip(" ,;:-–—|/()[]\"'“”„«»*•·")
    if not name or len(name) > 60:
        return None
    words = name.split()
    if len(words) > 6:
        return None
    lowered = name.casefold()
    if lowered in _PLACEHOLDERS or all(w.casefold().strip(".") in _ROLE_WORDS for w in words):
        return None
    if not any(c.isalpha() for c in name) or len(name) < 2 or name[0].isdigit():
        return None
    if lowered.replace(".", "") in _DEGREES:
        return None
    return name


_PARTICLES = frozenset({"von", "van", "de", "der", "den", "da", "di", "la", "le", "del", "dos", "zu", "y", "bin", "al"})


def looks_like_name(name: str) -> bool:
    """One to five words, each capitalized (or a particle such as "von"): how names in running bylines look."""
    words = name.split()
    return 1 <= len(words) <= 5 and all(w[:1].isupper() or w.lower() in _PARTICLES for w in words) \
        and words[0][:1].isupper()
