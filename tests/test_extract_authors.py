"""Authors from hand-written pages: name clean-up, and later sources completing the first one."""

from __future__ import annotations

import json

import pytest

from crawler.extract_authors import clean_names, fold, refine
from crawler.extraction import extract

BODY = """<p>After weeks of drought the rain came back to the valley on Tuesday, farmers said, and the
river rose for the first time since the spring.</p>
<p>The reservoir rose by two metres overnight and the ban on watering gardens was lifted by the council
after a short meeting in the town hall.</p>
<p>Forecasters expect more rain until the weekend, with storms possible in the hills to the north.</p>"""
URL = "https://news.example.com/world/rain-returns"


def page(head: str = "", body: str = "", *, lang: str = "en") -> str:
    return (f'<html lang="{lang}"><head><meta charset="utf-8">{head}</head><body>'
            f"<header><nav><a href='/'>Home</a> <a href='/news'>News</a></nav></header>"
            f"<main><article><h1>Rain returns</h1>{body}</article></main>"
            f"<footer><p>Example News, 1 Main Street. All rights reserved.</p></footer></body></html>")


def jsonld(obj: dict[str, object]) -> str:
    return f'<script type="application/ld+json">{json.dumps(obj)}</script>'


def article_ld(*authors: str) -> str:
    return jsonld({"@context": "https://schema.org", "@type": "NewsArticle", "headline": "Rain returns",
                   "author": [{"@type": "Person", "name": a} for a in authors]})


def authors(head: str = "", body: str = "", *, lang: str = "en") -> tuple[str, ...]:
    return extract(page(head, body, lang=lang), URL).authors


# ---- clean-up of one byline ----

@pytest.mark.parametrize(("byline", "names"), [
    ("Donnerstag", ()),                                   # a weekday left over from a dateline
    ("By Jane Doe | Monday", ("Jane Doe",)),
    ("seite von Schließen", ()),                          # words of a sentence, not a name
    ("deinen Hochzeitsbloggern", ()),
    ("von Anna Muster", ("Anna Muster",)),                # a lower-case "von" is the byline's lead
    ("jane_doe", ("jane_doe",)),                          # an account name is kept as it is
    ("revamp-it Webteam", ("revamp-it Webteam",)),        # a brand written in lower case
    ("Eine Kolumne von Nils Pickert", ("Nils Pickert",)),  # an article and a noun before the lead
    ("A column by Jane Doe", ("Jane Doe",)),
    ("Christoph von Ritter", ("Christoph von Ritter",)),  # but "von" inside a name stays
    ("Alexa von Heyden", ("Alexa von Heyden",)),
    ("Peter Maahn/SP-X", ("Peter Maahn",)),               # an agency's short name after a full name
    ("red, wien.ORF.at/Agenturen", ("red", "wien.ORF.at/Agenturen")),
    ("Jane Doe and Kiran C Nair - Chrome Safe Browsing team", ("Jane Doe", "Kiran C Nair")),
    ("Matthias Hille - Lukas Balbach", ("Matthias Hille - Lukas Balbach",)),  # two names: left to the caller
    ("red, wien.ORF.at/ Agenturen", ("red", "wien.ORF.at/Agenturen")),  # texts of two elements joined
    ("Jane Doe / John Roe", ("Jane Doe / John Roe",)),  # spaced on both sides: left as written
    ("Richard David Precht im Gespräch mit Karin Fischer", ("Richard David Precht", "Karin Fischer")),
    ("Jane Doe in conversation with John Roe", ("Jane Doe", "John Roe")),
    ("Jane Doe Reporter", ("Jane Doe",)),                 # a role after a full name goes
    ("Rasender Reporter", ("Rasender Reporter",)),        # a two-word pen name stays whole
    ("Zuletzt geändert", ()),                             # "last modified": a label, not a name
    ("Last updated", ()),
    ("By Jane Doe, John Smith, and Mary Major", ("Jane Doe", "John Smith", "Mary Major")),  # serial comma
    ("Markus Balser, Berlin, und Thomas Fromm", ("Markus Balser", "Berlin", "Thomas Fromm")),
    ("By Chloe Barnes, Health Correspondent", ("Chloe Barnes",)),  # a role after a name describes it
    ("Jane Doe, Contributing Writers", ("Jane Doe",)),
    ("Scarlett Howard, Monash University", ("Scarlett Howard",)),  # and so does a workplace
    ("By Julia Weber in Berlin", ("Julia Weber",)),  # where she reports from
    ("Max Muster aus Wien", ("Max Muster",)),
    ("Staff and agencies", ()),
    ("Submitted by Karen Liu on Wed, 04/14/2021 - 10:15", ("Karen Liu",)),  # Drupal's byline
    ("作者：李明", ("李明",)), ("记者 张伟", ("张伟",)), ("记者王敬照", ("王敬照",)), ("文：王小明", ("王小明",)),
    ("文雅 王", ("文雅 王",)),  # a name that starts with 文 (a surname) keeps it
    ("بقلم: أحمد حسن", ("أحمد حسن",)), ("Teksti: Jukka Niemi", ("Jukka Niemi",)),
])
def test_clean_names(byline: str, names: tuple[str, ...]) -> None:
    assert clean_names(byline) == names


def test_fold_drops_case_accents_and_separators() -> None:
    assert fold("Gàbor_Muniér") == fold("gabor.munier") == "gabormunier"


# ---- later sources complete the first ----

@pytest.mark.parametrize(("first", "others", "expected"), [
    # the byline lists more authors than the JSON-LD
    (("Jane Doe",), [("Jane Doe", "John Roe")], ("Jane Doe", "John Roe")),
    # but not when the extra "names" are labels or initials
    (("Jane Doe",), [("Jane Doe", "Online-Redaktion")], ("Jane Doe",)),
    (("Jane Doe",), [("Jane Doe", "JD")], ("Jane Doe",)),
    # a first name only, an account name, a name with a description glued on
    (("Nils",), [("Eine Kolumne",), ("Nils Pickert",)], ("Nils Pickert",)),
    (("jane_doe",), [("Jane Doe",)], ("Jane Doe",)),
    (("gabor.munier",), [("Gàbor Muniér",)], ("Gàbor Muniér",)),
    (("Jane Doe A computer science professor",), [("Jane Doe",)], ("Jane Doe",)),
    # a different person is no completion
    (("Nils",), [("Anna Muster",)], ("Nils",)),
    (("Jane Doe",), [("Jane",)], ("Jane Doe",)),
    (("Jane",), [("Jane Doe", "John Roe")], ("Jane Doe",)),  # completed, not joined by John
])
def test_refine(first: tuple[str, ...], others: list[tuple[str, ...]], expected: tuple[str, ...]) -> None:
    assert refine(first, others) == expected


def test_byline_completes_the_json_ld_author_list() -> None:
    body = f'<p class="byline">By Jane Doe and John Roe</p>{BODY}'
    assert authors(article_ld("Jane Doe"), body) == ("Jane Doe", "John Roe")


def test_visible_name_replaces_an_account_name_in_json_ld() -> None:
    body = f'<span class="author-name">Jane Doe</span>{BODY}'
    assert authors(article_ld("jane.doe"), body) == ("Jane Doe",)


def test_weekday_in_a_byline_element_is_no_author() -> None:
    head = '<meta name="author" content="Example News Redaktion">'
    body = f'<span class="author-date">Donnerstag</span>{BODY}'
    assert authors(head, body) == ("Example News Redaktion",)


# ---- bylines recognized by their grammar ----

@pytest.mark.parametrize(("byline", "names"), [
    ('<div class="meta">Posted in <a href="/c/news">News</a> by jane_doe on August 3, 2019</div>', ("jane_doe",)),
    ('<div class="submitted">Gespeichert von <span class="username">rasos</span> am 24. Juli 2017</div>',
     ("rasos",)),
    ("<p><i>von Daniela Obers</i></p>", ("Daniela Obers",)),
    ("<div><b>Von:</b> <br> <br> Götz Warnke</div>", ("Götz Warnke",)),
    ('<div>Posted by Nesselsetzer under <a href="/c/fun">Just For Fun</a></div>', ("Nesselsetzer",)),
    ('<div><span class="trending">yas!</span><span class="sr">| By </span><span>Cara Stiles</span> | '
     "<time>April 13, 2020</time></div>", ("Cara Stiles",)),
    ('<h2>Stars (1 / 1) <span>06.11.2023 13:30 von Olga </span></h2>', ("Olga",)),
    ("<p><small>Verfasst von: <strong>mitundvoneinander</strong> | 31. Dezember 2008</small></p>",
     ("mitundvoneinander",)),
    # a label inside a text: "Redaktion:", "Autorin:", Chinese "责任编辑：" (editor in charge)
    ('<div class="timedata">05.02.2020 <span>-&nbsp;Redaktion: Eberhard Fuhr (Pressesprecher)</span></div>',
     ("Eberhard Fuhr",)),
    ("<p><em>Autorin: Jane Doe</em></p>", ("Jane Doe",)),
    ('<div class="p-tags"><span>责任编辑： 焦鹏</span></div>', ("焦鹏",)),
    ('<h6>Herausgeber: <a href="/firma/1">Nordex SE</a></h6>', ("Nordex SE",)),  # a press release's issuer
])
def test_byline_grammar(byline: str, names: tuple[str, ...]) -> None:
    assert authors("", byline + BODY, lang="de") == names


@pytest.mark.parametrize("text", [
    "<p>Neuer Music-Channel, rund um die Uhr Musik<br> von Künstlern, Bands, DJs,<br> die spielen.</p>",
    '<p>Powered by <a href="https://wordpress.org">WordPress</a></p>',
    '<p>Photo by <a href="/p/jane">Jane Doe</a></p>',
    "<p>Die Zukunft von Europa entscheidet sich jetzt, sagt die Kommission.</p>",
])
def test_no_byline_in_running_text_or_credits(text: str) -> None:
    assert authors("", text + BODY, lang="de") == ()


def test_first_name_in_a_byline_completed_by_the_site_name_of_a_personal_site() -> None:
    # the meta author names the site, so it is only a last resort; it still completes the byline's first name
    head = '<meta property="og:site_name" content="Pamela Anderson"><meta name="author" content="Pamela Anderson">'
    assert authors(head, f"<p>By Pamela</p>{BODY}") == ("Pamela Anderson",)


# ---- the site's name around a person's ----

@pytest.mark.parametrize(("byline", "site", "names"), [
    ("Adam Aaronson PhillyVoice Staff", "PhillyVoice", ("Adam Aaronson",)),
    ("FOCUS-Online-Experte Robin Tschöpe", "FOCUS Online", ("Robin Tschöpe",)),
    ("Matthias herrpfleger", "herrpfleger", ("Matthias",)),           # an account name after the name
    ("Helge Fahrnberger", "Fahrnberger", ("Helge Fahrnberger",)),     # a personal site: the name stays whole
    ("Houzz Deutschland", "Houzz", ("Houzz Deutschland",)),
])
def test_site_name_around_the_author_is_dropped(byline: str, site: str, names: tuple[str, ...]) -> None:
    head = f'<meta property="og:site_name" content="{site}">'
    assert authors(head, f'<span class="byline">{byline}</span>{BODY}') == names


def test_profile_link_is_no_author() -> None:
    body = f'<a class="author-link" href="/profile/7">Profile</a>{BODY}'
    assert authors("", body) == ()


# ---- a phrase or an organization first: a later source names the person ----

def test_organization_in_meta_gives_way_to_a_person_in_the_page() -> None:
    head = '<meta name="author" content="Bund der Verbraucher e.V.">'
    assert authors(head, f"<p>Von Leonora Holling</p>{BODY}", lang="de") == ("Leonora Holling",)


def test_phrase_in_a_byline_element_gives_way_to_a_name() -> None:
    body = (f'<div class="author-info">En kiosques : juillet</div>{BODY}'
            f'<p class="author">Didier Roy</p>')
    assert authors("", body, lang="fr") == ("Didier Roy",)


def test_organization_stays_when_no_person_is_named() -> None:
    head = '<meta name="author" content="Bund der Verbraucher e.V.">'
    assert authors(head, BODY, lang="de") == ("Bund der Verbraucher e.V.",)


def test_account_name_with_digits_is_no_phrase() -> None:
    body = f'<span class="author">r23</span>{BODY}<p class="author">Jane Doe</p>'
    assert authors("", body) == ("r23",)


# ---- a wire service's dateline ----

@pytest.mark.parametrize(("first", "names"), [
    ("Hamburg (dpa/lno) – Trotz eines Gespräches bleiben die Fronten verhärtet.", ("dpa/lno",)),
    ("WASHINGTON (AP) — The Senate voted on Tuesday.", ("AP",)),
    ("Der Bürgermeister (SPD) - so hieß es - blieb.", ()),  # a party after a name is no dateline
])
def test_dateline_names_the_wire_service(first: str, names: tuple[str, ...]) -> None:
    assert authors("", f"<p>{first}</p>{BODY}", lang="de") == names


def test_byline_wins_over_the_dateline() -> None:
    body = f"<p class='byline'>Von Anna Muster</p><p>Hamburg (dpa) – Trotz eines Gespräches.</p>{BODY}"
    assert authors("", body, lang="de") == ("Anna Muster",)


# ---- the copyright holder, as a last resort ----

def copyright_page(body: str, footer: str) -> str:
    return (f'<html lang="en"><head><meta charset="utf-8"></head><body><main><article><h1>Rain returns</h1>'
            f"{body}</article></main><footer><p>{footer}</p></footer></body></html>")


@pytest.mark.parametrize(("footer", "names"), [
    ("Copyright (c) 2012- Gregory Szorc. All rights reserved.", ("Gregory Szorc",)),
    ("© 2022 Example Energie AG. Alle Rechte vorbehalten.", ("Example Energie AG",)),
    ("(c) Johannes Wolf • Weitere Rechte siehe Impressum", ("Johannes Wolf",)),
    ("© since 2010 by C.Habermueller All rights reserved", ("C.Habermueller",)),
    ("© 2022 example.com", ()),                       # a domain names the site, not a person
    ("Copyright © All rights reserved", ()),
    ("© Oli Scarff/Getty Images", ()),                # a photo's credit, not the page's
])
def test_copyright_holder_when_nothing_else_names_anyone(footer: str, names: tuple[str, ...]) -> None:
    assert extract(copyright_page(BODY, footer), URL).authors == names


def test_footer_notice_counts_not_a_photo_credit() -> None:
    body = f"<figure><img src='/a.jpg'><figcaption>© Photo Agency</figcaption></figure>{BODY}"
    assert extract(copyright_page(body, "© 2020 Jane Doe"), URL).authors == ("Jane Doe",)


def test_copyright_holder_does_not_override_a_byline() -> None:
    body = f"<p class='byline'>By John Roe</p>{BODY}"
    assert extract(copyright_page(body, "© 2020 Jane Doe"), URL).authors == ("John Roe",)


# ---- the site named as the author: a person named later wins ----

@pytest.mark.parametrize("meta_author", [
    "EFC Bembel Club",         # a club or desk holding the site's name as whole words
    "Bembelclub-Archiv",       # a compound starting with the site's name
])
def test_meta_author_naming_the_site_gives_way_to_a_byline(meta_author: str) -> None:
    head = f'<meta property="og:site_name" content="Bembel Club"><meta name="author" content="{meta_author}">'
    body = f'<p class="meta">Posted by <a href="/u/6">Jane Doe</a></p>{BODY}'
    assert authors(head, body) == ("Jane Doe",)


def test_meta_author_naming_the_site_stays_when_no_one_else_is_named() -> None:
    head = '<meta property="og:site_name" content="Bembel Club"><meta name="author" content="EFC Bembel Club">'
    assert authors(head, BODY) == ("EFC Bembel Club",)


def test_person_whose_surname_is_the_domain_is_no_site() -> None:
    head = '<meta name="author" content="Daniel Example">'  # on news.example.com: a personal site's author
    assert authors(head, BODY) == ("Daniel Example",)


# ---- several meta tags of one name ----

def test_repeated_meta_tags_are_one_author_list() -> None:
    head = "".join(f'<meta name="citation_author" content="{n}">' for n in ("Jane Doe", "John Roe", "Ann Poe"))
    assert authors(head, BODY) == ("Jane Doe", "John Roe", "Ann Poe")


def test_meta_tag_repeated_for_a_reference_list_is_no_byline() -> None:
    cited = "".join(f'<meta name="author" content="A. Cited{i}">' for i in range(12))
    head = cited + '<meta name="citation_author" content="Jane Doe">'
    assert authors(head, BODY) == ("Jane Doe",)


# ---- a date, then a name: "04.02.2022 | 13:10 Uhr | Jane Doe" ----

@pytest.mark.parametrize(("line", "names"), [
    ("<small>04.02.2022 | 13:10 Uhr | Uta Muster</small>", ("Uta Muster",)),
    ('<p class="text-muted">11.12.2019 - Amelie Muster</p>', ("Amelie Muster",)),
    ("<p>April 14, 2021 · Jane O'Neill</p>", ("Jane O'Neill",)),
    ("<p>12.03.2020 | PAID CONTENT</p>", ()),            # a label in capitals, not a name
    ("<p>12.03.2020 - Berlin</p>", ()),                  # one word: a place as often as a name
    ("<p>1.2.2020 - Jane Doe said the rain came</p>", ()),  # a sentence, not a byline
])
def test_date_then_name(line: str, names: tuple[str, ...]) -> None:
    assert authors("", line + BODY, lang="de") == names


# ---- the name signing the article, when nothing else names anyone ----

@pytest.mark.parametrize(("signature", "names"), [
    ("<p><b><i>Jane Doe</i></b></p>", ("Jane Doe",)),
    ('<p align="right">Jane Doe</p>', ("Jane Doe",)),
    ("<p>Jane Doe</p>", ()),                                   # not set apart: any short line
    ("<p><b>Weather Outlook</b></p><p>" + "More rain is expected. " * 8 + "</p>", ()),  # a subheading
    ("<p>Jane<br>10. September 2017</p>", ("Jane",)),          # a name over the date
    ("<p>Rain<br>more to come</p>", ()),
    ("<p><b>Jane Doe</b></p><p>Photos: agency</p>", ()),       # not the last paragraph: a heading
])
def test_sign_off_after_the_text(signature: str, names: tuple[str, ...]) -> None:
    last = "<p>" + "The council will meet again next week to decide on the summer rules. " * 3 + "</p>"
    assert authors("", BODY + last + signature) == names


def test_sign_off_does_not_override_a_byline() -> None:
    last = "<p>" + "The council will meet again next week to decide on the summer rules. " * 3 + "</p>"
    assert authors("", f"<p class='byline'>By John Roe</p>{BODY}{last}<p><em>Jane Doe</em></p>") == ("John Roe",)


# ---- the post's author answering in the comments (WordPress's "bypostauthor") ----

def comments(*items: str) -> str:
    return f'<div id="comments" class="comments-area"><ol class="comment-list">{"".join(items)}</ol></div>'


@pytest.mark.parametrize(("comment", "names"), [
    ('<li class="comment byuser comment-author-jdoe bypostauthor"><div class="comment-author vcard">'
     '<cite class="fn">Jane Doe</cite></div><p>Thanks!</p></li>', ("Jane Doe",)),
    ('<li class="comment byuser comment-author-hansehrlich bypostauthor"><p>Thanks!</p></li>', ("hansehrlich",)),
    ('<li class="comment byuser comment-author-admin bypostauthor"><p>Thanks!</p></li>', ()),  # a placeholder
    ('<li class="comment comment-author-jroe"><cite class="fn">John Roe</cite><p>Great post</p></li>', ()),
])
def test_post_author_in_the_comments(comment: str, names: tuple[str, ...]) -> None:
    assert authors("", BODY + comments(comment)) == names


def test_post_author_comment_does_not_override_a_byline() -> None:
    comment = '<li class="comment comment-author-jdoe bypostauthor"><cite class="fn">Jane Doe</cite></li>'
    assert authors("", f"<p class='byline'>By John Roe</p>{BODY}" + comments(comment)) == ("John Roe",)


def test_site_name_with_an_ampersand_is_one_name_not_two() -> None:
    head = '<meta property="og:site_name" content="Rain & Shine"><meta name="author" content="Rain & Shine">'
    assert authors(head, f"<p>By Jane Doe</p>{BODY}") == ("Jane Doe",)


# ---- bylines of other articles: teaser cards and asides ----

def test_byline_in_a_link_card_to_another_article_is_not_the_authors() -> None:
    card = ('<a href="/world/other-story"><h3>Drought in the south</h3><p>Farmers wait for rain.</p>'
            '<span class="author">Von John Roe</span></a>')
    body = f'{card}{BODY}<p class="meta">Posted by <a href="/u/6">Jane Doe</a></p>'
    assert authors("", body) == ("Jane Doe",)


def test_author_name_as_a_link_is_still_the_byline() -> None:
    body = f'<a href="/author/jane-doe"><span class="author">Jane Doe</span></a>{BODY}'
    assert authors("", body) == ("Jane Doe",)


def test_byline_of_an_article_in_an_aside_is_not_the_authors() -> None:
    aside = '<aside><article><h3>Opinion</h3><footer><span class="author">John Roe</span></footer></article></aside>'
    page_html = (f'<html lang="en"><head><meta charset="utf-8"></head><body>{aside}<main><h1>Rain returns</h1>'
                 f'{BODY}<p>By <a href="/author/jane-doe">Jane Doe</a></p></main></body></html>')
    assert extract(page_html, URL).authors == ("Jane Doe",)


@pytest.mark.parametrize("meta_author", ["Die Furche", "The Furche"])
def test_article_and_the_sites_name_is_the_site(meta_author: str) -> None:
    head = f'<meta name="author" content="{meta_author}">'  # on furche.example: the site, not a person
    page_html = page(head, f"<p>By Jane Doe</p>{BODY}")
    assert extract(page_html, "https://www.furche.example/story-1").authors == ("Jane Doe",)


# ---- the author box's own links, and leads naming the piece ----

@pytest.mark.parametrize(("byline", "names"), [
    ("Johanna Muster Alle Artikel", ("Johanna Muster",)),
    ("Jane Doe View all posts", ("Jane Doe",)),
    ("Jane Doe More articles »", ("Jane Doe",)),
])
def test_link_to_all_articles_after_the_name_goes(byline: str, names: tuple[str, ...]) -> None:
    assert clean_names(byline) == names


def test_author_box_with_a_link_to_all_articles() -> None:
    body = (f'{BODY}<div class="teaser-box author short"><div class="title-small">Johanna Muster</div>'
            '<div class="moreinfo"><a href="/search?author=johanna-muster">Alle Artikel</a></div></div>')
    assert authors("", body, lang="de") == ("Johanna Muster",)


@pytest.mark.parametrize("lead", ["Blog Beitrag von", "Gastbeitrag von", "Guest post by", "Article by"])
def test_lead_naming_the_piece_wins_over_an_account_name(lead: str) -> None:
    body = (f'<div class="submitted">Gespeichert von <span class="username">webmaster7</span></div>'
            f"<p>{lead} Margarita Muster</p>{BODY}")
    assert authors("", body, lang="de") == ("Margarita Muster",)


@pytest.mark.parametrize(("credit", "names"), [
    ("<p><em>Text von Christian Muster &nbsp; Illustration von Markus Roe</em></p>", ("Christian Muster",)),
    ("<p>Words by Jane Doe, photos by John Roe</p>", ("Jane Doe",)),
    ("<p>Story by Jane Doe</p>", ("Jane Doe",)),
])
def test_text_by_credit_names_the_author(credit: str, names: tuple[str, ...]) -> None:
    assert authors("", credit + BODY, lang="de") == names


# ---- JSON-LD: a first name completed by the person's own description ----

@pytest.mark.parametrize(("description", "names"), [
    ("Stefanus Stahl - Maschinenbauer, Abenteurer und Projektleiter.", ("Stefanus Stahl",)),
    ("Stefanus Stahl ist Maschinenbauer.", ("Stefanus Stahl",)),
    ("Stefanus writes about bikes.", ("Stefanus",)),               # no surname given
    ("Stefanus Stahl Maschinenbauer und Abenteurer.", ("Stefanus",)),  # where the surname ends is unclear
])
def test_json_ld_first_name_completed_from_the_persons_description(description: str,
                                                                   names: tuple[str, ...]) -> None:
    person = {"@type": "Person", "@id": "https://news.example.com/#/person/1", "name": "Stefanus",
              "description": description}
    graph = {"@context": "https://schema.org", "@graph": [
        {"@type": "NewsArticle", "headline": "Rain returns", "author": {"@id": person["@id"]}}, person]}
    assert authors(jsonld(graph), BODY, lang="de") == names


# ---- an organization's web address in the author tag; the site's owner in its copyright notice ----

def test_meta_author_with_its_web_address_is_the_publisher() -> None:
    head = '<meta name="author" content="Deutsche Welle (www.dw.com)">'
    assert authors(head, f"<p>Auteur : Kossivi Muster</p>{BODY}", lang="fr") == ("Kossivi Muster",)
    assert authors(head, BODY, lang="fr") == ("Deutsche Welle",)  # the last resort when no one else is named


def owned_page(footer: str, comment: str = "") -> str:
    return (f'<html lang="de"><head><meta charset="utf-8"><meta property="og:site_name" content="Stylegart">'
            f'<meta name="author" content="stylegart"></head><body><main><article><h1>Naturkosmetik</h1>{BODY}'
            f"{comment}</article></main><footer><ul><li>{footer}</li></ul></footer></body></html>")


@pytest.mark.parametrize(("footer", "names"), [
    ("© Stylegart by Ramona", ("Ramona",)),
    ("© 2021 Stylegart von Ramona Muster", ("Ramona Muster",)),
    ("© Stylegart", ("stylegart",)),                         # no owner named: the site itself
    ("© Otherblog by Ramona", ("stylegart",)),               # another site's notice names no owner of this one
])
def test_site_owner_in_the_copyright_notice_before_the_site_itself(footer: str, names: tuple[str, ...]) -> None:
    assert extract(owned_page(footer), "https://www.stylegart.example/post").authors == names


def test_site_account_answering_comments_is_the_site_not_the_author() -> None:
    comment = comments('<li class="comment byuser comment-author-stylegart bypostauthor"><p>Danke!</p></li>')
    assert extract(owned_page("© Stylegart by Ramona", comment), "https://www.stylegart.example/post").authors \
        == ("Ramona",)


# ---- a label, then the name running on after a link; an occupation before a name ----

def test_label_then_a_link_then_the_name() -> None:
    body = f'{BODY}<div>Quelle: dpa<br><br>Autor: <a href="/rechtsanwalt/">Rechtsanwalt</a> Sebastian Muster</div>'
    assert authors("", body, lang="de") == ("Sebastian Muster",)


@pytest.mark.parametrize(("byline", "names"), [
    ("Rechtsanwalt Sebastian Muster", ("Sebastian Muster",)),
    ("Reporter Jane Doe", ("Jane Doe",)),
    ("Reporter Doe", ("Reporter Doe",)),          # one word after it: maybe a name of two words
    ("April Roach", ("April Roach",)),            # a month is no occupation
])
def test_occupation_before_a_full_name_goes(byline: str, names: tuple[str, ...]) -> None:
    assert clean_names(byline) == names


def test_sign_off_followed_by_footnotes() -> None:
    last = "<p>" + "The council will meet again next week to decide on the summer rules. " * 3 + "</p>"
    notes = "<p>(1) These figures come from the national statistics office.</p><p>[2] Ibid.</p>"
    assert authors("", BODY + last + '<p align="right"><em>Denis Muster</em></p>' + notes) == ("Denis Muster",)
    # a paragraph of text after it: a heading or a caption, not a signature
    assert authors("", BODY + last + '<p align="right"><em>Denis Muster</em></p><p>More rain is due.</p>') == ()


@pytest.mark.parametrize(("byline", "names"), [
    ("<p><strong>Autorin: Uta Muster, Projektleiterin der HSS in Tunesien.</strong></p>", ("Uta Muster",)),
    ("<p><strong>Autoren: Uta Muster, Hans Roe</strong></p>", ("Uta Muster", "Hans Roe")),
])
def test_apposition_after_the_name_is_no_second_author(byline: str, names: tuple[str, ...]) -> None:
    assert authors("", byline + BODY, lang="de") == names


def owner_page(byline: str, elsewhere: str) -> str:
    return (f'<html lang="de"><head><meta charset="utf-8"><title>Einmal zahlen – steinhau</title></head><body>'
            f"<main><article><h1>Einmal zahlen</h1><p class='byline'>{byline}</p>{BODY}</article></main>"
            f"<aside><h3>{elsewhere}</h3></aside></body></html>")


@pytest.mark.parametrize(("elsewhere", "names"), [
    ("MEHR VON HENRY STEINHAU", ("Henry Steinhau",)),
    ("Henry Steinhau über Medien", ("Henry Steinhau",)),
    ("Henry steinhau", ("Henry",)),          # an account name after the first name, not a surname
    ("Henry Ford", ("Henry",)),              # someone else's surname: not the site's
])
def test_first_name_completed_by_the_personal_sites_name(elsewhere: str, names: tuple[str, ...]) -> None:
    assert extract(owner_page("Von Henry", elsewhere), "http://www.steinhau.example/post").authors == names


# ---- two sources that agree outweigh a first one that nothing confirms ----

def test_two_agreeing_sources_outweigh_an_unconfirmed_json_ld_author() -> None:
    body = (f'<div class="category">Lautsprecher | Heimkino</div>{BODY}'
            '<div class="author-info"><h4>Autor:</h4><h4><a href="/author/redaktion/">Example Blog Redaktion</a></h4></div>')
    assert authors(article_ld("Example Editorial Team"), body, lang="de") == ("Example Blog Redaktion",)


def test_json_ld_author_confirmed_by_one_source_stays() -> None:
    body = (f'<p class="byline">By Jane Doe</p>{BODY}'
            '<p>Autor: <a href="/author/john-roe/">John Roe</a></p><a href="/author/john-roe/">John Roe</a>')
    assert authors(article_ld("Jane Doe"), body) == ("Jane Doe",)


def test_one_dissenting_source_does_not_outweigh_json_ld() -> None:
    body = f'<span class="author">John Roe</span>{BODY}'
    assert authors(article_ld("Jane Doe"), body) == ("Jane Doe",)


@pytest.mark.parametrize(("credit", "names"), [
    ("Text & Fotos: Ivan Muster", ("Ivan Muster",)),
    ("Text und Bild: Jane Doe", ("Jane Doe",)),
    ("Words and photos by Jane Doe", ("Jane Doe",)),
    ("Jane Doe Bild: dpa", ("Jane Doe",)),          # a picture credit after the name goes
])
def test_text_and_photo_credit(credit: str, names: tuple[str, ...]) -> None:
    assert clean_names(credit) == names


def test_meta_author_nothing_confirms_gives_way_to_the_shown_credit() -> None:
    # a CMS default in the meta tag (another magazine of the publisher); the page credits someone else
    head = '<meta name="author" content="Auto Illustrierte">'
    body = f'<table><tr><td class="authorbold"><span>Text &amp; Fotos:</span> Ivan Muster</td></tr></table>{BODY}'
    assert authors(head, body, lang="de") == ("Ivan Muster",)


def test_newsroom_shown_twice_does_not_replace_a_declared_person() -> None:
    body = (f'<span class="author">Redaktion</span>{BODY}'
            '<div><h4>Autor:</h4><h4>Redaktion</h4></div>')
    assert authors(article_ld("Jannik Muster"), body, lang="de") == ("Jannik Muster",)


def test_author_card_linking_to_the_authors_page_is_the_byline() -> None:
    card = ('<a href="/authors/jane-doe/"><img src="/jane.jpg" alt=""><span class="author-name">Jane Doe</span>'
            "<span>Senior political correspondent, Washington</span></a>")
    assert authors("", card + BODY) == ("Jane Doe",)
