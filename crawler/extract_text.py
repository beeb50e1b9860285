"""The article body: trafilatura's text, then the lead paragraph it drops and the lines it should drop.

trafilatura runs in its balanced mode with comments off. On the extraction-dev set that beats its
precision mode on recall by far more than it loses on precision; the precision it loses is mostly
one-line boilerplate ("Lesen Sie auch: ...", "Read more: ...", photo credits, newsletter calls),
which `drop_boilerplate_lines` removes by multilingual line patterns. The lead paragraph (standfirst,
"teaser-text", "excerpt", "chapo", or the page's own meta description shown as a paragraph) sits
outside the body container on many sites and is put back when it follows the headline.
"""

from __future__ import annotations

import re
from copy import copy
from functools import cache
from itertools import islice

from lxml.html import HtmlElement
from trafilatura import bare_extraction
from trafilatura.settings import Document, Extractor

from crawler.extract_dom import following

_WS = re.compile(r"\s+")
_SHORT_TEXT = 500  # below this many characters, a longer JSON-LD articleBody replaces the extracted text
# class names that mark the lead paragraph of an article (English, German, French, Spanish, Polish, Czech)
_LEAD_CLASS = re.compile(
    r"(?:^|[-_ ])(?:lead|intro|teaser-text|excerpt|standfirst|chapo|subheadline|sub-headline|dek|deck|summary|"
    r"abstract|article-lead|art-lead|introduction|perex|entradilla|bajada|sapo|chapeau|descr)(?:$|[-_ ])",
    re.I)
_LEAD_TAGS = frozenset({"p", "div", "h2", "span", "section"})
_FOLLOWING = 400  # how many elements after the headline a lead may start
# one-line boilerplate: pointers to other stories, calls to subscribe or share, credits, contact lines
_BOILERPLATE_LINE = re.compile(
    r"^(?:(?:lesen sie (?:auch|mehr|hier)|lies auch|auch interessant|das könnte (?:sie|dich) (?:auch )?interessieren|"
    r"mehr zum thema|mehr dazu|lust auf mehr|weitere (?:artikel|beiträge|informationen|infos|themen|aktuelle)|"
    r"weiterlesen|ähnliche (?:artikel|beiträge)|verwandte (?:artikel|beiträge)|empfohlene (?:artikel|beiträge)|"
    r"zum newsletter|newsletter|jetzt abonnieren|anzeige|werbung|video verfügbar bis|"
    r"read (?:more|also|next)|see also|related(?: articles?| posts?| stories| content)?|recommended|more from|"
    r"sign up|subscribe|you may also like|also read|advertisement|follow us|download the app|"
    r"à lire aussi|lire aussi|voir aussi|abonnez-vous|"
    r"lea también|lee también|lee además|vea también|ver también|mire|te puede interesar|noticias relacionadas|"
    r"contenido relacionado|artículos relacionados|suscríbete|únete|leia também|leia mais|veja também|"
    r"leggi anche|czytaj (?:też|także|więcej)|zobacz (?:też|także)|przeczytaj (?:też|także|również)|polecamy|"
    r"titelbild|beitragsbild|bildquelle|foto|photo|image|kontakt|telefon|tel\.|e-mail|fax|kategorie|category|"
    r"tags?|letzte änderung|keine kommentare|kommentare|comments?|teilen|share)\b.{0,160}$"
    r"|^(?:©|\(c\)|copyright\b).{0,200}$"
    # (behind a bullet or arrow) pointers to other stories and calls to follow, subscribe or write in, with
    # their colon; paywall teasers; credit, source and release-date lines; image-viewer labels
    r"|^[*•►▶>»·\s]*(?:lea(?: más| también)?\s*:|(?:te|le) (?:puede|podría) interesar|mira\s*:|puedes ver\s*:|"
    r"notas relacionadas|s[ií]guenos|schon gelesen|top-themen|if you enjoyed|for the latest (?:news|stories)|"
    r"to view the full story|pour lire la suite|pour accéder|zapraszamy|ten tekst przeczytasz|puede escribirnos|"
    r"submit your letter|crédits? photos?|quellen?\s*:|release date\s*:|bild anzeigen).{0,200}$)",
    re.I)


def article_text(tree: HtmlElement, url: str, declared_body: str | None = None,
                 description: str | None = None) -> str:
    """The article body of the page parsed as `tree` (trafilatura works on its own copy).

    `declared_body` is the page's JSON-LD articleBody: it replaces an extraction that came out nearly
    empty (articles rendered by script keep their text only there).
    """
    doc = bare_extraction(tree, options=body_options(url))
    text = doc.text if isinstance(doc, Document) and doc.text else ""
    if declared_body and len(text) < _SHORT_TEXT and len(declared_body) > 2 * len(text):
        return drop_boilerplate_lines(declared_body.strip())
    if not text:
        return ""
    lead = lead_paragraph(tree, text, description)
    if lead:
        text = lead + "\n" + text
    return drop_boilerplate_lines(text)


@cache
def _options() -> Extractor:
    return Extractor(output_format="python", comments=False, tables=True, with_metadata=False)


def body_options(url: str | None) -> Extractor:
    """The options `bare_extraction(url=url, with_metadata=False, include_comments=False, include_tables=True)`
    builds, without reading trafilatura's config on every page: one Extractor per process, copied with the
    page's URL (date_params, set from today's date, only serve trafilatura's metadata, which is off)."""
    options = copy(_options())
    options.url = url
    source = url or None  # as Extractor.__init__ sets it
    options.source = source and source.encode("utf-8", "replace").decode("utf-8")
    return options


def lead_paragraph(tree: HtmlElement, text: str, description: str | None = None) -> str | None:
    """The lead after the first <h1>, if the extracted `text` lacks it: the first block with a lead-like
    class, or that starts with the page's own description (the standfirst the page declares)."""
    h1 = tree.find(".//h1")
    if h1 is None:
        return None
    body_start = _collapsed_start(text, 40)
    summary = _WS.sub(" ", description or "").strip()[:40]  # the page's description, shown as its lead
    for el in islice(following(h1), _FOLLOWING):
        if el.tag not in _LEAD_TAGS:
            continue
        if body_start and _starts_with(el, body_start):
            return None  # the body has begun: a lead stands between the headline and the body, not after
        if not _LEAD_CLASS.search(el.get("class") or "") and not (summary and _starts_with(el, summary)):
            continue
        if _in_teaser(el):
            continue  # another story's summary (related links, sidebars, lists of teasers)
        lead = _WS.sub(" ", el.text_content()).strip()
        if not 40 <= len(lead) <= 1500:
            continue
        return None if lead[:60] in _WS.sub(" ", text) else lead
    return None


_TEASER_CONTAINER = re.compile(r"related|teaser|recommend|sidebar|promo|more-?stories|read-?more|trending", re.I)
_TEASER_TAGS = frozenset({"li", "aside", "nav", "footer", "a"})


def _in_teaser(el: HtmlElement) -> bool:
    """Whether `el` sits in a list item, aside, link or a container named like related stories."""
    for node in el.iterancestors():
        if node.tag in _TEASER_TAGS:
            return True
        if node.tag in ("article", "main", "body"):
            return False
        if _TEASER_CONTAINER.search(f"{node.get('class') or ''} {node.get('id') or ''}"):
            return True
    return False


def _starts_with(el: HtmlElement, prefix: str) -> bool:
    """Whether the text of `el` begins with `prefix` (first chunk checked lazily, big blocks stay cheap)."""
    first = next((t.strip() for t in el.itertext() if t.strip()), "")
    if not (first.startswith(prefix[:20]) or prefix.startswith(first)):
        return False
    return _collapsed_start(el.text_content(), len(prefix)) == prefix


def _collapsed_start(text: str, n: int) -> str:
    """`_WS.sub(" ", text).strip()[:n]`, collapsing only the start of a long text: the collapsed start of a
    text is a prefix of the whole collapsed text, and one more character shows the end is not near."""
    text = text.lstrip()
    start = _WS.sub(" ", text[:4 * n + 64])
    if len(start) > n:
        return start[:n]
    return _WS.sub(" ", text).strip()[:n]


def drop_boilerplate_lines(text: str) -> str:
    """Remove lines that point elsewhere or credit someone rather than tell the story."""
    kept = [line for line in text.split("\n")
            if not (len(line) < 200 and _BOILERPLATE_LINE.match(line.strip()))]
    return "\n".join(kept).strip()
