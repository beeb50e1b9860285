"""Publication dates on hand-written pages: the dateline by the headline, publication labels, time zones."""

from __future__ import annotations

import json

from trafilatura.utils import load_html

from crawler.extract_dates import _date_votes, _decided, _tally, labelled_date, local_days, text_date
from crawler.extract_signals import collect
from crawler.extraction import extract

BODY = """<p>After weeks of drought the rain came back to the valley on Tuesday, farmers said, and the
river rose for the first time since the spring.</p>
<p>The reservoir rose by two metres overnight and the ban on watering gardens was lifted by the council
after a short meeting in the town hall.</p>
<p>Forecasters expect more rain until the weekend, with storms possible in the hills to the north.</p>"""
URL = "https://news.example.com/world/rain-returns"


def page(head: str = "", before: str = "", article: str = "", after: str = "", *, lang: str = "en") -> str:
    return (f'<html lang="{lang}"><head><meta charset="utf-8">{head}</head><body>'
            f"<header><nav><a href='/'>Home</a> <a href='/news'>News</a></nav></header>{before}"
            f"<main><article>{article}</article></main>{after}"
            f"<footer><p>Example News, 1 Main Street.</p></footer></body></html>")


def jsonld(obj: dict[str, object]) -> str:
    return f'<script type="application/ld+json">{json.dumps(obj)}</script>'


# ---- time zones: the day where the page is published ----

def test_utc_stamp_with_a_local_twin_votes_for_the_local_day() -> None:
    votes = {"jsonld": "2023-11-09T05:30:59Z", "time": "2023-11-08T23:30:59-06:00", "htmldate": "2023-11-09"}
    assert local_days(votes) == {"jsonld": "2023-11-08", "time": "2023-11-08", "htmldate": "2023-11-08"}


def test_naive_local_stamp_is_a_twin_too() -> None:
    votes = {"meta": "2022-05-04T03:37:37+00:00", "time": "2022-05-03T23:37:37"}
    assert local_days(votes)["meta"] == "2022-05-03"


def test_twin_in_a_half_hour_zone() -> None:
    votes = {"jsonld": "2021-04-13T20:15:07Z", "time": "2021-04-14T01:45:07+05:30"}
    assert local_days(votes)["jsonld"] == "2021-04-14"


def test_local_stamp_whose_offset_does_not_match_is_another_instant() -> None:
    votes = {"jsonld": "2021-04-13T20:15:07Z", "time": "2021-04-14T01:15:07+02:00"}
    assert local_days(votes)["jsonld"] == "2021-04-13"


def test_utc_stamps_of_other_instants_keep_their_day() -> None:
    votes = {"jsonld": "2021-04-14T05:30:59Z", "time": "2021-04-13T23:31:00+02:00", "meta": "2021-04-14T12:00:00Z"}
    assert local_days(votes) == {"jsonld": "2021-04-14", "time": "2021-04-13", "meta": "2021-04-14"}


def test_utc_late_evening_on_the_hour_is_local_midnight_of_the_next_day() -> None:
    votes = {"meta": "2022-11-06T23:00:00Z", "htmldate": "2022-11-06", "url": "2022-11-06"}
    assert local_days(votes) == {"meta": "2022-11-07", "htmldate": "2022-11-07", "url": "2022-11-06"}


def test_page_with_utc_metadata_and_a_local_time_element() -> None:
    head = jsonld({"@type": "NewsArticle", "headline": "Rain returns", "datePublished": "2023-11-09T05:30:59Z"})
    article = f'<h1>Rain returns</h1><time datetime="2023-11-08T23:30:59-06:00">Nov 8</time>{BODY}'
    assert extract(page(head, article=article), URL).published == "2023-11-08T23:30:59-06:00"


def test_date_stored_as_local_midnight_in_utc() -> None:
    head = '<meta property="article:published_time" content="2022-11-06T23:00:00Z">'
    assert extract(page(head, article=f"<h1>Rain returns</h1>{BODY}"), URL).published == "2022-11-07"


# ---- the dateline next to the headline ----

def test_dateline_under_the_headline_outvotes_a_stale_meta_date() -> None:
    head = '<meta property="article:published_time" content="2019-06-17T00:00:00+00:00">'
    article = f'<h1>Rain returns</h1><p class="byline">By Jane Doe | <span class="date">June 4, 2020</span></p>{BODY}'
    assert extract(page(head, article=article), URL).published == "2020-06-04"


def test_dateline_above_the_headline() -> None:
    article = f'<div class="kicker"><span>Weather</span> <span>14.04.2021</span></div><h1>Rain returns</h1>{BODY}'
    assert extract(page(article=article, lang="de"), URL).published == "2021-04-14"


def test_dates_of_teasers_in_a_sidebar_are_not_the_dateline() -> None:
    sidebar = ('<aside><ul><li><span>May 3, 2022</span> <a href="/a">Storm warning</a></li>'
               '<li><span>May 2, 2022</span> <a href="/b">Dry spell ends</a></li></ul></aside>')
    article = f"<h1>Rain returns</h1><p>Jane Doe, April 14, 2021</p>{BODY}"
    assert extract(page(article=article, after=sidebar), URL).published == "2021-04-14"


# ---- publication labels ----

def test_labelled_date_is_the_one_after_the_label() -> None:
    text = "Letzte Änderung: 31.10.2023 - 14:49:39 Erschienen am: 01.11.2023 Lesungen: 61"
    assert labelled_date(text) == "2023-11-01"
    assert labelled_date("Published on Tuesday, April 14, 2021 by Jane") == "2021-04-14"
    assert labelled_date("publié le 14 avril 2021 à 10h") == "2021-04-14"


def test_label_far_from_a_date_gives_nothing() -> None:
    assert labelled_date("She published three books, the last one in the spring of 2019.") is None
    assert labelled_date("Published by the council after the meeting on 14 April 2021") is None


def test_publication_label_in_the_page_footer() -> None:
    article = f"<h1>Rain returns</h1>{BODY}"
    after = "<div class='meta'><p>Erschienen am: 14.04.2021 · Letzte Änderung: 20.04.2021</p></div>"
    assert extract(page(article=article, after=after, lang="de"), URL).published == "2021-04-14"


# ---- htmldate is asked only when it could change the answer ----

def test_agreeing_sources_leave_nothing_for_htmldate_to_decide() -> None:
    assert _decided({"jsonld": "2021-04-14T10:00:00+02:00", "meta": "2021-04-14T10:00:00+02:00",
                     "headline": "2021-04-14"})
    assert not _decided({"jsonld": "2021-04-14T10:00:00+02:00", "headline": "2021-04-15"})
    assert not _decided({"text": "2021-04-14"})
    assert not _decided({})


def test_disagreement_is_settled_with_htmldate_as_before() -> None:
    head = '<meta property="article:published_time" content="2021-04-14T08:00:00Z">'
    article = f'<h1>Rain returns</h1><p class="date">April 15, 2021</p>{BODY}'
    assert extract(page(head, article=article), URL).published in ("2021-04-14T08:00:00Z", "2021-04-15")


# ---- what a reader sees: hidden copies, today's date in the navigation, spaced numeric dates ----

def test_hidden_machine_copy_of_the_last_change_is_not_the_dateline() -> None:
    # the hidden stamp was the dateline next to the headline and outvoted the declared date with the text's
    article = ('<h1>Rain returns</h1><time itemprop="dateModified" class="hidden">2018-08-29 14:15:57</time>'
               '<time itemprop="datePublished" datetime="2018-06-22 10:20:00" class="hidden">2018-06-22 10:20</time>'
               '<span class="v-box">22.06.2018 10:20</span>' + BODY)
    assert extract(page(article=article, lang="de"), URL).published == "2018-06-22T10:20:00"


def test_hidden_part_of_a_dateline_is_left_out() -> None:
    head = '<meta property="article:published_time" content="2022-12-25T11:00:02+00:00">'
    article = ('<h1>Rain returns</h1><p class="info"><span class="updated rich-snippet-hidden">'
               '2022-12-07T10:10:52+01:00</span><span>25. Dezember 2022</span></p>' + BODY)
    assert (extract(page(head, article=article, lang="de"), URL).published or "")[:10] == "2022-12-25"


def test_hidden_separator_inside_a_dateline_keeps_its_date() -> None:
    article = ('<h1>Rain returns</h1><p class="date">Written: 2023-11-07 15:03:30<span class="hidden"> / </span>'
               'Updated: 2023-11-07 15:30:46</p>' + BODY)
    assert extract(page(article=article), URL).published == "2023-11-07"


def test_todays_date_in_the_navigation_is_not_the_articles() -> None:
    before = '<nav class="top"><p class="date">Friday, 21 January 2022</p><a href="/">Home</a></nav>'
    article = f'<h1>Rain returns</h1><p class="byline">By Jane Doe, <span class="date">14 January 2022</span></p>{BODY}'
    assert extract(page(before=before, article=article), URL).published == "2022-01-14"


def test_todays_date_in_a_navigation_bar_known_by_its_class() -> None:
    before = ('<div class="site-header"><div class="site-header__nav-top">'
              '<time class="nav-top--date">Mittwoch, 8. Juli 2020</time><a href="/">Start</a></div></div>')
    article = f'<h1>Rain returns</h1><p class="byline">By Jane Doe, <span class="date">27.04.2020</span></p>{BODY}'
    votes = _votes(page(before=before, article=article))
    assert votes["visible"] == "2020-04-27"
    assert extract(page(before=before, article=article), URL).published == "2020-04-27"
    # a layout named after the navigation, around the headline, is no navigation bar
    html = (f'<html><body class="site-navigation"><div class="nav-wrapper"><h1>Rain returns</h1>'
            f'<span class="date">14.04.2021</span>{BODY}</div></body></html>')
    assert _votes(html)["visible"] == "2021-04-14"


def test_day_first_numeric_date_with_spaces_after_the_dots() -> None:
    assert text_date("Von Deutscher Tennis Bund 4.\u20092.\u20092022.") == "2022-02-04"
    assert text_date("Stand: 14. 04. 2021, 10:00 Uhr") == "2021-04-14"


def test_generic_date_meta_tag_votes_when_nothing_else_dates_the_page() -> None:
    head = '<meta name="date" content="2020-02-12">'
    assert extract(page(head, article=f"<h1>Rain returns</h1>{BODY}"), URL).published == "2020-02-12"


# ---- a UTC stamp and the day the page shows ----

def test_utc_stamp_after_midnight_votes_for_the_evening_the_page_shows() -> None:
    votes = {"jsonld": "2022-05-04T02:41:00+00:00", "headline": "2022-05-03", "htmldate": "2022-05-04"}
    assert local_days(votes) == {"jsonld": "2022-05-03", "headline": "2022-05-03", "htmldate": "2022-05-03"}


def test_utc_stamp_in_the_evening_votes_for_the_next_morning_the_page_shows() -> None:
    assert local_days({"meta": "2021-04-13T22:15:07Z", "headline": "2021-04-14"})["meta"] == "2021-04-14"


def test_first_date_element_of_the_page_does_not_move_a_utc_stamp() -> None:
    # often today's date in the masthead: the article's own date is its local twin's
    votes = {"jsonld": "2022-04-29T02:08:28+00:00", "time": "2022-04-28T22:08:28-04:00", "visible": "2022-04-29"}
    assert local_days(votes)["jsonld"] == "2022-04-28"
    assert local_days({"meta": "2021-04-14T05:00:00Z", "visible": "2021-04-13"})["meta"] == "2021-04-14"


def test_utc_stamp_keeps_its_day_when_no_zone_could_make_it_the_shown_one() -> None:
    # 14:00 UTC is the previous day nowhere (UTC-12 makes it 02:00), nor is 05:00 UTC the next day anywhere
    assert local_days({"meta": "2021-04-14T14:00:00Z", "headline": "2021-04-13"})["meta"] == "2021-04-14"
    assert local_days({"meta": "2021-04-14T05:00:00Z", "headline": "2021-04-15"})["meta"] == "2021-04-14"


def test_page_showing_the_utc_day_keeps_it_over_the_local_twin() -> None:
    votes = {"jsonld": "2022-05-05T21:00:00-05:00", "meta": "2022-05-06T02:00:00Z", "headline": "2022-05-06"}
    assert local_days(votes) == {"jsonld": "2022-05-05", "meta": "2022-05-06", "headline": "2022-05-06"}


def test_dateline_in_local_time_with_utc_metadata_past_midnight() -> None:
    head = jsonld({"@type": "NewsArticle", "headline": "Rain returns", "datePublished": "2022-05-04T02:41:00Z"})
    article = f'<h1>Rain returns</h1><h6>Ariel Melgar <span>3/5/2022 22:41</span></h6>{BODY}'
    assert extract(page(head, article=article, lang="es"), URL).published == "2022-05-03"


# ---- htmldate repeating a generic date meta tag ----

def test_htmldate_repeating_the_generic_date_tag_counts_half() -> None:
    votes = {"meta_date": "2020-02-12", "visible": "2020-02-05", "text": "2020-02-05",
             "htmldate": "2020-02-12", "htmldate_original": "2020-02-12"}
    tally = _tally(votes)
    assert max(tally, key=lambda d: tally[d]) == "2020-02-05"
    # a declared date that disagrees with the tag does not back it
    tally = _tally({"meta_date": "2022-01-21T15:38:44+01:00", "microdata": "2022-01-27", "time": "2022-01-27",
                    "text": "2022-01-27", "htmldate": "2022-01-21", "htmldate_original": "2022-01-21"})
    assert max(tally, key=lambda d: tally[d]) == "2022-01-27"
    # a tag that says it is the publication date is evidence of its own, and htmldate agreeing adds to it
    votes = {("meta" if k == "meta_date" else k): v for k, v in votes.items()}
    tally = _tally(votes)
    assert max(tally, key=lambda d: tally[d]) == "2020-02-12"


def test_dateline_outvotes_a_generic_date_tag_of_the_last_change() -> None:
    head = '<meta name="date" content="2020-02-12">'
    article = (f'<h2>Rain returns</h2><div class="news-single-timedata">05.02.2020 <span>- Redaktion: Jane Doe'
               f'</span></div>{BODY}')
    assert extract(page(head, article=article, lang="de"), URL).published == "2020-02-05"


def test_aside_inside_the_article_holds_its_own_date() -> None:
    head = '<meta name="Date" content="2022-1-26T14:32:06+02:00">'
    article = (f'<h1>Rain returns</h1>{BODY}<aside class="meta"><div class="meta__row"><p>'
               '<time datetime="2022-01-21" class="meta__label">21.01.2022 - 13:30</time></p></div></aside>')
    sidebar = '<aside><ul><li><span class="date">26.01.2022</span> <a href="/a">Storm warning</a></li></ul></aside>'
    assert extract(page(head, article=article, after=sidebar, lang="de"), URL).published == "2022-01-21"


def test_page_text_date_is_the_first_after_the_headline() -> None:
    before = "<div class='top'><p>Friday, 21 January 2022</p><p>Weather: 3°C</p></div>"
    article = f"<h1>Rain returns</h1><p>Jane Doe, 14 January 2022</p>{BODY}"
    tree = load_html(page(before=before, article=article))
    assert _date_votes(tree, collect(tree), URL, False)["text"] == "2022-01-14"
    tree = load_html(page(before=before, article=article.replace("h1>", "h2>")))  # no headline: the first date
    assert _date_votes(tree, collect(tree), URL, False)["text"] == "2022-01-21"


# ---- the site's masthead, boxes of similar stories, a lead paragraph's dateline ----

def _votes(html: str) -> dict[str, str]:
    tree = load_html(html)
    return _date_votes(tree, collect(tree), URL, False)


MASTHEAD = ('<header><h1><a href="/" class="logo">Example News</a></h1>'
            '<span class="date">Wednesday, 26.02.2020</span><time datetime="2020-02-26">today</time></header>')


def test_todays_date_in_the_site_masthead_does_not_vote() -> None:
    html = (f'<html><head><meta name="date" content="2017-05-01T17:05:00+0200"></head><body>{MASTHEAD}'
            f'<div class="content"><h2>Rain returns</h2>{BODY}</div></body></html>')
    votes = _votes(html)
    assert "visible" not in votes and "time" not in votes
    assert extract(html, URL).published == "2017-05-01T17:05:00+02:00"


def test_a_page_header_holding_the_headline_is_the_articles() -> None:
    html = ('<html><body><header><h1>Rain returns</h1><span class="date">14.04.2021</span>'
            f'<time datetime="2021-04-14">14 April</time></header><div>{BODY}</div></body></html>')
    votes = _votes(html)
    assert votes["visible"] == "2021-04-14" and votes["time"] == "2021-04-14"
    # and a <header> inside the <article> is the article's own, logo or not
    article = f'<header><h1><a href="/">Rain</a></h1><span class="date">14.04.2021</span></header>{BODY}'
    assert _votes(page(article=article))["visible"] == "2021-04-14"


def test_a_box_of_similar_stories_holds_their_dates() -> None:
    similar = ('<ol class="similar_threads"><li><a href="/t/1">Update delayed</a> '
               '<div class="dateblock">Last post: 18.10.2010, 23:08</div></li></ol>')
    article = f'<h1>Update ships</h1><div class="byline"><span class="date">03.03.2011</span></div>{BODY}'
    votes = _votes(page(before=similar, article=article, lang="de"))
    assert votes["visible"] == "2011-03-03"


def test_a_lead_paragraph_opening_with_its_date_is_the_dateline() -> None:
    lead = ("29.11.2022 – Again and again the industry had pointed out the drawbacks of the planned law, "
            "but the government went ahead with it.")
    assert _votes(page(article=f"<h1>Rain returns</h1><p>{lead}</p>{BODY}"))["headline"] == "2022-11-29"
    for opening in ("(21. November 2022) Consumers", "BERLIN, April 14, 2021 - Consumers",
                    "Berlin (dpa), 14.04.2021: Consumers"):
        text = f"{opening} get one price rise after the next, and the suppliers say there is more to come soon."
        html = page(article=f"<h1>Rain returns</h1><p>{text}</p>{BODY}", lang="de")
        assert _votes(html)["headline"] in ("2022-11-21", "2021-04-14"), opening


def test_a_date_inside_a_lead_paragraph_is_no_dateline() -> None:
    lead = ("The council decided on 29.11.2022 – after a long debate – that the ban on watering gardens will "
            "be lifted, farmers said.")
    assert "headline" not in _votes(page(article=f"<h1>Rain returns</h1><p>{lead}</p>{BODY}"))
    lead = ("29.11.2022 was the day the council decided that the ban on watering gardens would be lifted, "
            "farmers said on Tuesday.")
    assert "headline" not in _votes(page(article=f"<h1>Rain returns</h1><p>{lead}</p>{BODY}"))


def test_dateline_by_the_headline_may_have_a_two_digit_year() -> None:
    for dateline, day in (("10.12.19", "2019-12-10"), ("( Pescasseroli, 14 Gennaio 20 )", "2020-01-14"),
                          ("Mo, 3.2.98 - 10:00", "1998-02-03")):
        article = f"<h1>Rain returns</h1><p class='meta'>{dateline}</p>{BODY}"
        assert _votes(page(article=article, lang="de"))["headline"] == day, dateline
    # a four-digit year still comes first, and elsewhere a two-digit year is no date
    article = "<h1>Rain returns</h1><p class='meta'>Version 1.2.19, 14.04.2021</p>" + BODY
    assert _votes(page(article=article))["headline"] == "2021-04-14"
    before = "<div class='date'>10.12.19</div>"
    votes = _votes(page(before=before, article=f"<h2>Rain returns</h2>{BODY}"))
    assert "visible" not in votes and "headline" not in votes
    assert text_date("Version 10.12.19 is out") is None


def test_without_a_headline_the_page_text_is_read_from_the_end_of_the_masthead() -> None:
    html = (f'<html><body>{MASTHEAD.replace("<h1>", "<div>").replace("</h1>", "</div>")}'
            '<div class="content"><h2>Rain returns</h2><p>Jane Doe, 14 January 2022</p>'
            f'{BODY}</div></body></html>')
    assert _votes(html)["text"] == "2022-01-14"
    # a page header that is not a masthead (inside <main>) is read as before
    html = html.replace("<header>", "<main><header>").replace("</body>", "</main></body>")
    assert _votes(html)["text"] == "2020-02-26"


# ---- dates written out in more languages and scripts ----

def test_month_names_and_abbreviations_of_many_languages() -> None:
    written = ["14 апреля 2021", "14. huhtikuuta 2021", "14. dubna 2021", "14 Nisan 2021", "14 квітня 2021",
               "14 aprilie 2021", "14 d’abril de 2021", "14 Απριλίου 2021", "14 avr. 2021", "14 abr. 2021",
               "14 kwi 2021", "Apr. 14, 2021", "2021年4月14日", "2021년 4월 14일", "2021 年 4 月 14 日"]
    for text in written:
        assert text_date(f"Publicado: {text}, 10:30") == "2021-04-14", text
    assert text_date("14. Okt. 2021") == "2021-10-14" and text_date("14 mrt 2021") == "2021-03-14"


def test_case_blind_matches_of_turkish_letters_do_not_break_the_month_lookup() -> None:
    assert text_date("14 MAYIS 2021") == "2021-05-14" and text_date("14 Mayıs 2021") == "2021-05-14"
    assert text_date("14 JANVİER 2021") == "2021-01-14"  # İ lowers to i + a combining dot


def test_slashed_date_read_month_first_only_where_day_first_is_impossible() -> None:
    assert text_date("Posted 04/14/2021") == "2021-04-14"
    assert text_date("Posted 03/04/2021") == "2021-04-03"  # day first, as most of the world writes it
    assert text_date("Posted 14/13/2021") is None


def test_a_russian_dateline_moves_a_utc_stamp_to_the_local_day() -> None:
    head = '<meta property="article:published_time" content="2021-12-30T21:30:00Z">'
    article = f'<h1>Новогодний концерт</h1><p class="date">31 декабря 2021, 00:30</p>{BODY}'
    assert extract(page(head=head, article=article, lang="ru"), URL).published[:10] == "2021-12-31"


def test_a_dateline_that_shows_the_last_change_first_gives_the_publication() -> None:
    assert text_date("Aktualisiert am 15.04.2021, 09:12 Uhr · Veröffentlicht am 14.04.2021, 17:40 Uhr") == "2021-04-14"
    assert text_date("Mis à jour le 15/04/2021 à 10h12, publié le 14/04/2021") == "2021-04-14"
    assert text_date("April 14, 2021, updated April 15, 2021") == "2021-04-14"
    # a page that shows only its last change keeps that date: readers take it as the page's
    assert text_date("Updated: April 15, 2021") == "2021-04-15"
    article = ('<h1>Rain returns</h1><p class="dates"><span>Actualizado 15/04/2021 09:12</span> · '
               f'<span>Publicado 14/04/2021 17:40</span></p>{BODY}')
    head = '<meta name="date" content="2021-04-15">'
    assert extract(page(head=head, article=article, lang="es"), URL).published == "2021-04-14"
