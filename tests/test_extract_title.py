"""Titles chosen by crawler.extract_title, on hand-written pages: one test per rule."""

from __future__ import annotations

from crawler.extraction import extract

BODY = """<p>After weeks of drought the rain came back to the valley on Tuesday, farmers said, and the
river rose for the first time since the spring.</p>
<p>The reservoir rose by two metres overnight and the ban on watering gardens was lifted by the council
after a short meeting in the town hall.</p>"""
URL = "https://news.example.com/world/rain-returns"


def title(head: str, body: str, url: str = URL) -> str | None:
    html = (f'<html lang="en"><head><meta charset="utf-8">{head}</head><body>{body}'
            f"<footer><p>Example News, 1 Main Street.</p></footer></body></html>")
    return extract(html, url).title


def test_a_heading_that_links_to_the_home_page_names_the_site() -> None:
    head = "<title>Rain returns to the valley | Weather Notes</title>"
    body = f'<header><h1><a href="https://news.example.com/">Weather Notes</a></h1></header><article>{BODY}</article>'
    assert title(head, body) == "Rain returns to the valley"


def test_an_archived_home_page_link_names_the_site_too() -> None:
    head = "<title>Rain returns to the valley | Weather Notes</title>"
    body = ('<h1><a href="https://web.archive.org/web/2014/http://www.weathernotes.example/">Weather Notes</a></h1>'
            f'<div class="post"><h2>Rain returns to the valley</h2>{BODY}</div>')
    assert title(head, body) == "Rain returns to the valley"


def test_a_logo_heading_is_not_the_headline() -> None:
    head = "<title>Rain returns to the valley and the river rises | Weather Notes</title>"
    body = f'<h1 class="site-title">Weather Notes</h1><article><h1 class="entry-title">Rain returns</h1>{BODY}</article>'
    assert title(head, body) == "Rain returns"


def test_a_site_name_with_its_own_separator_is_dropped_whole() -> None:
    head = "<title>Rain returns - Weather - Notes from the valley</title>"
    body = f'<h1><a href="/">Weather - Notes from the valley</a></h1><article><p>{BODY}</p></article>'
    assert title(head, body, "https://other.example.org/rain") == "Rain returns"


def test_a_kicker_in_its_own_element_is_left_out() -> None:
    head = '<meta property="og:title" content="Climate: Drilling until it gets hot">'
    body = ('<article><h1><span class="kicker">Climate</span><span class="visually-hidden">: </span>'
            f'<span class="title">Drilling until it gets hot</span></h1>{BODY}</article>')
    assert title(head, body) == "Drilling until it gets hot"


def test_a_kicker_without_a_separator_is_left_out() -> None:
    head = "<title>Leaked online: Data of an arms maker hacked | Example News</title>"
    body = (f'<article><h1> <span class="topline">Leaked online</span> <span class="headline">Data of an arms maker'
            f" hacked</span> </h1>{BODY}</article>")
    assert title(head, body) == "Data of an arms maker hacked"


def test_a_label_in_a_child_of_the_heading_is_left_out() -> None:
    head = '<meta property="og:title" content="Spectators return to the stadiums">'
    body = (f"<article><h1>Spectators return to the stadiums<br><small>02.02.2022 • Press, General</small></h1>"
            f"{BODY}</article>")
    assert title(head, body) == "Spectators return to the stadiums"


def test_a_hidden_heading_is_not_the_headline() -> None:
    head = '<title>News - Lake Institute</title><meta property="og:title" content="The first electron counts">'
    body = f'<h1 class="pagetitle hidden">News</h1><article><h1>The first electron counts</h1>{BODY}</article>'
    assert title(head, body, "https://www.lake.example/news/electron") == "The first electron counts"


def test_a_site_name_that_copies_the_title_does_not_hide_the_title() -> None:
    head = ('<meta property="og:site_name" content="Cup preview: Brothers meet in the final - Handball Union">'
            '<meta property="og:title" content="Cup preview: Brothers meet in the final - Handball Union">')
    body = f"<nav><h2>Leagues &amp; teams</h2></nav><article>{BODY}</article>"
    assert title(head, body, "https://www.handball.example/news/cup") == "Cup preview: Brothers meet in the final"


def test_dublin_core_title_confirms_a_heading() -> None:
    head = ('<title>Data collection as a challenge - What does the society say? - Ypart</title>'
            '<meta name="DC.title" content="Data collection as a challenge">')
    body = f"<h1>What does the society say?</h1><h2>Data collection as a challenge</h2><p>{BODY}</p>"
    assert title(head, body, "https://bigdata.ypart.example/page/x") == "Data collection as a challenge"


def test_a_heading_confirmed_by_an_article_title_beats_one_confirmed_by_the_title_tag() -> None:
    head = ("<title>Christmas without weight gain: 10 tips | Health Weekly</title>"
            '<meta name="title" content="Christmas without weight gain: 10 tips for a slim feast">')
    body = (f"<nav><h1>Christmas without weight gain: 10 tips</h1></nav>"
            f"<article><h2>Christmas without weight gain: 10 tips for a slim feast</h2>{BODY}</article>")
    assert title(head, body, "https://www.healthweekly.example/x") == (
        "Christmas without weight gain: 10 tips for a slim feast")


def test_a_json_ld_headline_escaped_twice_is_unescaped() -> None:
    head = ('<script type="application/ld+json">{"@type": "NewsArticle", '
            '"headline": "&#8222;Idiot&#8220;: The couple splits up"}</script>'
            '<title>The couple splits up: "Idiot"</title>')
    body = f'<h1>The couple splits up: "Idiot"</h1><article><h2>\u201eIdiot\u201c: The couple splits up</h2>{BODY}</article>'
    assert title(head, body) == "\u201eIdiot\u201c: The couple splits up"


def test_of_several_headings_in_the_title_the_longest_is_the_headline() -> None:
    head = "<title>Customs online - Notices - Announcement of the tobacco tax act</title>"
    body = f"<h1>Notices</h1><article><h1>Announcement of the tobacco tax act</h1>{BODY}</article>"
    assert title(head, body, "https://www.customs.example/notices/1") == "Announcement of the tobacco tax act"


def test_a_headline_that_mentions_the_site_is_kept_when_declared_as_such() -> None:
    head = ('<script type="application/ld+json">{"@type": "BlogPosting", "headline": "15 years of rainnotes.net"}'
            "</script><title>15 years of rainnotes.net \u2014 rainnotes.net</title>")
    body = f'<h1>Menu</h1><article><h1 class="entry-title">15 years of rainnotes.net</h1>{BODY}</article>'
    assert title(head, body, "https://rainnotes.net/15-years/") == "15 years of rainnotes.net"


def test_ruby_readings_are_not_part_of_the_headline() -> None:
    head = '<meta property="og:title" content="NEWS EASY|\u5b50\u3069\u3082\u306e\u6cd5\u5f8b">'
    body = (f"<article><h1><ruby>\u5b50<rt>\u3053</rt></ruby>\u3069\u3082\u306e<ruby>\u6cd5\u5f8b<rt>\u307b\u3046"
            f"\u308a\u3064</rt></ruby></h1>{BODY}</article>")
    assert title(head, body, "https://www3.nhk.example/news/easy/k1.html") == "\u5b50\u3069\u3082\u306e\u6cd5\u5f8b"


def test_a_headline_that_says_more_than_its_declared_title_is_kept_whole() -> None:
    head = ('<meta property="og:title" content="Battery maker raises its factory capacity - Battery News">'
            '<meta property="og:site_name" content="Battery News">')
    body = (f"<article><h1>Battery maker raises its factory capacity in Tennessee</h1>{BODY}</article>"
            "<aside><h2>Battery maker raises its factory capacity</h2></aside>")
    assert title(head, body) == "Battery maker raises its factory capacity in Tennessee"


def test_a_byline_inside_the_headline_does_not_extend_it() -> None:
    head = '<meta property="og:title" content="Top 100 metal vocalists of all time">'
    body = f"<article><h1>Top 100 metal vocalists of all time <small>by Oz on December 4</small></h1>{BODY}</article>"
    assert title(head, body) == "Top 100 metal vocalists of all time"


def test_without_an_h1_a_headline_named_by_its_class_that_agrees_with_the_title() -> None:
    head = '<meta property="og:title" content="Mrs Pyke gave the meal kit 5 stars">'
    body = (f'<nav><li><span class="menu-title">Meal kits and recipes</span></li></nav>'
            f'<article><h2 class="review__title">The meal kit has changed my life</h2>{BODY}</article>')
    assert title(head, body) == "The meal kit has changed my life"


def test_without_an_h1_a_named_headline_that_shares_nothing_with_the_title_is_a_widget() -> None:
    head = "<title>Rain returns to the valley</title>"
    body = f'<article><p>{BODY}</p><div class="share-title">Share this with your friends:</div></article>'
    assert title(head, body) == "Rain returns to the valley"


def test_an_embedded_videos_name_does_not_confirm_a_heading() -> None:
    head = ('<script type="application/ld+json">{"@type": "VideoObject", "name": "Watch: the river rises"}</script>'
            "<title>11 things we learned from the flood - Example News</title>")
    body = (f"<article><h1>The river, the farmers and the council: 11 things we learned from the flood</h1>{BODY}"
            "<div><h2>Watch: the river rises</h2></div></article>")
    assert title(head, body, "https://www.example.org/flood") == (
        "The river, the farmers and the council: 11 things we learned from the flood")


def test_each_meta_title_name_is_a_declared_title() -> None:
    head = ('<meta itemprop="headline" content="Rain">'
            '<meta name="title" content="Christmas without weight gain: 10 tips for a slim feast">'
            "<title>Christmas without weight gain: 10 tips | Health Weekly</title>")
    body = (f"<nav><h1>Christmas without weight gain: 10 tips</h1></nav>"
            f"<article><h2>Christmas without weight gain: 10 tips for a slim feast</h2>{BODY}</article>")
    assert title(head, body, "https://www.healthweekly.example/x") == (
        "Christmas without weight gain: 10 tips for a slim feast")


def test_without_an_h1_the_first_heading_is_the_headline() -> None:
    head = "<title>Fire brigade Oldenburg - Training</title>"
    body = f"<main><h2>Boat service training</h2><p>{BODY}</p><h2>Dates</h2></main>"
    assert title(head, body, "https://firedivers.example/boats/training.html") == "Boat service training"


def test_the_first_heading_inside_navigation_is_not_the_headline() -> None:
    head = "<title>Rain returns to the valley</title>"
    body = f"<nav><ul><li><h2>Weather and climate</h2></li></ul></nav><main><p>{BODY}</p></main>"
    assert title(head, body) == "Rain returns to the valley"


def test_a_container_of_headings_is_not_a_heading() -> None:
    head = '<meta property="og:title" content="Outsourcing sales - different from the others, good to know">'
    body = ('<div class="sp-page-title"><div class="container"><h2 class="sp-page-title-heading">Good to know</h2>'
            '<h3 class="sp-page-title-sub-heading">anything but ordinary</h3><ol><li>Home</li></ol></div></div>'
            f"<main><p>{BODY}</p></main>")
    assert title(head, body, "https://www.salesman.example/outsourcing") == "Good to know"


def test_a_title_segment_that_is_only_a_date_is_not_the_headline() -> None:
    head = "<title>Rain returns to the valley | 14.04.2021</title>"
    assert title(head, f"<div>{BODY}</div>") == "Rain returns to the valley"
    head = "<title>2021-04-14 - Rain returns to the valley</title>"
    assert title(head, f"<div>{BODY}</div>") == "Rain returns to the valley"


def test_a_trailing_segment_containing_the_sites_domain_names_the_site() -> None:
    head = "<title>Rain returns to the valley - Valley Weather Festival 2022</title>"
    assert title(head, f"<div>{BODY}</div>", "https://www.valleyweather.example/rain") == "Rain returns to the valley"
