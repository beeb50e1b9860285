"""extract(): article text and normalized metadata from hand-written pages."""

from __future__ import annotations

import json

import pytest

from crawler.extract_authors import clean_names
from crawler.extract_dates import iso_date, text_date, url_date
from crawler.extraction import Extraction, extract, extract_and_classify
from crawler.pagekind import classify

BODY = """<p>After weeks of drought the rain came back to the valley on Tuesday, farmers said, and the
river rose for the first time since the spring.</p>
<p>The reservoir rose by two metres overnight and the ban on watering gardens was lifted by the council
after a short meeting in the town hall.</p>
<p>Forecasters expect more rain until the weekend, with storms possible in the hills to the north.</p>"""


def page(head: str = "", body: str = "", *, lang: str = "en") -> str:
    return (f'<html lang="{lang}"><head><meta charset="utf-8">{head}</head><body>'
            f"<header><nav><a href='/'>Home</a> <a href='/news'>News</a></nav></header>"
            f"<main><article>{body}</article></main>"
            f"<footer><p>Example News, 1 Main Street. All rights reserved.</p></footer></body></html>")


def jsonld(obj: dict) -> str:
    return f'<script type="application/ld+json">{json.dumps(obj)}</script>'


URL = "https://news.example.com/world/rain-returns"


def test_returns_text_and_title() -> None:
    e = extract(page("<title>Rain returns - Example News</title>", f"<h1>Rain returns</h1>{BODY}"), URL)
    assert isinstance(e, Extraction)
    assert "reservoir rose by two metres" in e.text
    assert "All rights reserved" not in e.text
    assert e.title == "Rain returns"
    assert e.language == "en"


@pytest.mark.parametrize("html", ["", "   ", "\x00\x01\x02\xff\xfe binary", "<!-- only a comment -->",
                                  '<html><head><script type="application/ld+json">' + "[" * 10000 + "]" * 10000
                                  + "</script></head><body></body></html>",
                                  "<html><body></body></html>"])
def test_junk_gives_empty_result(html: str) -> None:
    e = extract(html, "https://example.com/")
    assert e.text == "" and e.authors == ()
    assert e.to_dict()["authors"] == [] and e.to_dict()["tags"] == []


def test_deeply_nested_and_huge_pages_do_not_raise() -> None:
    nested = "<html><body>" + "<div>" * 5000 + "deep text" + "</div>" * 5000 + "</body></html>"
    assert isinstance(extract(nested, "https://example.com/"), Extraction)
    huge = page("<title>Big</title>", "<h1>Big</h1><p>" + "word " * 1_000_000 + "</p>")
    assert isinstance(extract(huge, "https://example.com/big"), Extraction)


# ---- titles ----

def test_site_name_suffix_is_dropped_without_an_h1() -> None:
    head = '<title>Rain returns to the valley | Example News</title><meta property="og:site_name" content="Example News">'
    assert extract(page(head, BODY), URL).title == "Rain returns to the valley"


def test_site_name_prefix_is_dropped() -> None:
    head = "<title>Example News » Rain returns to the valley</title>"
    assert extract(page(head, BODY), "https://examplenews.com/a").title == "Rain returns to the valley"


def test_headline_keeps_its_page_spelling() -> None:
    head = '<meta property="og:title" content="\'Rain\' returns - Example News">'
    e = extract(page(head, f"<h1>\u201eRain\u201c returns</h1>{BODY}"), URL)
    assert e.title == "\u201eRain\u201c returns"


# ---- authors ----

@pytest.mark.parametrize(("byline", "names"), [
    ("By AFP", ("AFP",)),
    ("By Jane Doe and John Roe", ("Jane Doe", "John Roe")),
    ("Von Anna Muster und Max Beispiel", ("Anna Muster", "Max Beispiel")),
    ("By Jane Doe, John Roe & Ann Poe, Staff Writers", ("Jane Doe", "John Roe", "Ann Poe")),
    ("Jane Doe | April 14, 2021", ("Jane Doe",)),
    ("Posted by Jane Doe on 14.04.2021 at 10:00", ("Jane Doe",)),
    ("Par Jean Dupont, publié le 14 avril 2021", ("Jean Dupont",)),
    ("Christoph von Ritter", ("Christoph von Ritter",)),
    ("Admin", ()),
    ("https://www.facebook.com/janedoe", ()),
    ("jane@example.com", ()),
])
def test_byline_clean_up(byline: str, names: tuple[str, ...]) -> None:
    assert clean_names(byline) == names


def test_authors_from_json_ld_persons_before_the_publisher() -> None:
    head = jsonld({"@context": "https://schema.org", "@type": "NewsArticle", "headline": "Rain returns",
                   "author": [{"@type": "Person", "name": "Jane Doe"}, {"@type": "Person", "name": "John Roe"}],
                   "publisher": {"@type": "Organization", "name": "Example News"}})
    assert extract(page(head, f"<h1>Rain returns</h1>{BODY}"), URL).authors == ("Jane Doe", "John Roe")


def test_author_reference_in_a_json_ld_graph_is_resolved() -> None:
    graph = {"@context": "https://schema.org", "@graph": [
        {"@type": "Article", "@id": "#a", "headline": "Rain returns", "author": {"@id": "#jane"}},
        {"@type": "Person", "@id": "#jane", "name": "Jane Doe"}]}
    assert extract(page(jsonld(graph), f"<h1>Rain returns</h1>{BODY}"), URL).authors == ("Jane Doe",)


def test_agency_byline_in_the_page() -> None:
    body = f'<h1>Rain returns</h1><p class="byline">By AFP</p>{BODY}'
    assert extract(page("", body), URL).authors == ("AFP",)


def test_byline_element_with_several_authors_and_a_date() -> None:
    body = (f'<h1>Rain returns</h1><div class="article-author">Von Anna Muster und Max Beispiel, '
            f'14.04.2021</div>{BODY}')
    assert extract(page("", body, lang="de"), URL).authors == ("Anna Muster", "Max Beispiel")


def test_comment_authors_are_not_article_authors() -> None:
    body = (f"<h1>Rain returns</h1>{BODY}<section class='comments'><div class='comment-author'>"
            f"By Troll McTrollface</div><p>First!</p></section>")
    assert extract(page("", body), URL).authors == ()


def test_meta_author_naming_the_site_gives_way_to_the_byline() -> None:
    head = '<meta name="author" content="Example News"><meta property="og:site_name" content="Example News">'
    body = f'<h1>Rain returns</h1><span class="author">By Jane Doe</span>{BODY}'
    assert extract(page(head, body), URL).authors == ("Jane Doe",)


# ---- dates ----

def test_json_ld_date_keeps_time_and_offset() -> None:
    head = jsonld({"@type": "NewsArticle", "headline": "Rain returns", "datePublished": "2021-04-14T10:00:00+02:00",
                   "dateModified": "2021-04-15T08:30:00Z"})
    e = extract(page(head, f"<h1>Rain returns</h1>{BODY}"), URL)
    assert e.published == "2021-04-14T10:00:00+02:00"
    assert e.modified == "2021-04-15T08:30:00Z"


def test_meta_tag_date_agreeing_with_the_page_text() -> None:
    head = '<meta property="article:published_time" content="2021-04-14T08:00:00Z">'
    body = f'<h1>Rain returns</h1><p class="date">April 14, 2021</p>{BODY}'
    assert extract(page(head, body), URL).published == "2021-04-14T08:00:00Z"


def test_visible_date_and_url_outvote_a_stale_meta_date() -> None:
    head = '<meta property="article:published_time" content="2009-01-01T00:00:00Z">'
    body = f'<h1>Rain returns</h1><span class="date">14.04.2021</span>{BODY}'
    e = extract(page(head, body, lang="de"), "https://news.example.com/2021/04/14/rain")
    assert e.published is not None and e.published.startswith("2021-04-14")


def test_date_from_the_url_alone() -> None:
    assert extract(page("", f"<h1>Rain returns</h1>{BODY}"), "https://example.com/2021/04/14/rain/").published \
        == "2021-04-14"


def test_dateline_in_the_text() -> None:
    body = f"<h1>Rain returns</h1><p>LONDON, April 14, 2021 - {BODY[3:]}"
    assert extract(page("", body), URL).published == "2021-04-14"


def test_page_without_any_date() -> None:
    e = extract(page("<title>About us</title>", f"<h1>About us</h1>{BODY}"), "https://example.com/about")
    assert e.published is None and e.modified is None


@pytest.mark.parametrize(("raw", "iso"), [
    ("2021-04-14T10:00:00+0200", "2021-04-14T10:00:00+02:00"),
    ("2021-04-14T10:00:00.123Z", "2021-04-14T10:00:00Z"),
    ("2021-04-14 10:00", "2021-04-14T10:00:00"),
    ("2021-04-14", "2021-04-14"),
    ("Wed, 14 Apr 2021 10:00:00 GMT", "2021-04-14T10:00:00+00:00"),
    ("Wed, 14 Apr 2021 10:00:00 CEST", "2021-04-14T10:00:00+02:00"),
    ("14 April 2021", "2021-04-14"),
    ("1618387200", None),
    ("yesterday", None),
    ("2021-02-30", None),
])
def test_iso_date(raw: str, iso: str | None) -> None:
    assert iso_date(raw) == iso


@pytest.mark.parametrize(("text", "day"), [
    ("Published April 14, 2021 by Jane", "2021-04-14"),
    ("Veröffentlicht am 14. April 2021", "2021-04-14"),
    ("Stand: 14.04.2021 18:00 Uhr", "2021-04-14"),
    ("publié le 14 avril 2021", "2021-04-14"),
    ("14 de abril de 2021", "2021-04-14"),
    ("no date here, only 42 and 1234", None),
])
def test_text_date(text: str, day: str | None) -> None:
    assert text_date(text) == day


def test_url_date() -> None:
    assert url_date("https://x.org/2021/04/14/slug") == "2021-04-14"
    assert url_date("https://x.org/news/20210414-slug") == "2021-04-14"
    assert url_date("https://x.org/2021/13/45/slug") is None
    assert url_date("https://x.org/article/123456") is None


# ---- the rest of the record ----

def test_other_metadata_fields() -> None:
    head = ('<link rel="canonical" href="/world/rain-returns"><meta property="og:image" content="/img/rain.jpg">'
            '<meta name="description" content="Rain is back."><meta property="article:section" content="World">'
            '<meta property="article:tag" content="weather"><meta property="article:tag" content="farming">'
            '<meta property="og:site_name" content="Example News">')
    e = extract(page(head, f"<h1>Rain returns</h1>{BODY}"), URL + "?utm_source=x")
    assert e.canonical_url == URL
    assert e.image == "https://news.example.com/img/rain.jpg"
    assert e.description == "Rain is back."
    assert e.categories == ("World",) and e.tags == ("weather", "farming")
    assert e.site_name == "Example News"
    assert json.loads(json.dumps(e.to_dict()))["tags"] == ["weather", "farming"]


def test_language_from_headers_when_the_page_has_none() -> None:
    html = f"<html><head><title>Regen</title></head><body><article><h1>Regen</h1>{BODY}</article></body></html>"
    assert extract(html, URL, {"Content-Language": "de-DE"}).language == "de-DE"


def test_lead_paragraph_outside_the_body_container_is_kept() -> None:
    body = (f'<h1>Rain returns</h1><div class="teaser-text"><p>The long drought in the valley ended on Tuesday '
            f'with the first heavy rain in four months.</p></div><div class="article-body">{BODY}</div>')
    text = extract(page("", body), URL).text
    assert text.startswith("The long drought in the valley ended")
    assert "reservoir rose" in text


def test_read_more_lines_are_dropped() -> None:
    body = f"<h1>Rain returns</h1>{BODY}<p>Read more: Drought hits the valley again</p>"
    text = extract(page("", body), URL).text
    assert "reservoir rose" in text and "Read more" not in text


def test_description_shown_after_the_headline_is_the_lead() -> None:
    lead = "The long drought in the valley ended on Tuesday with the first heavy rain in four months."
    html = (f'<html lang="en"><head><meta name="description" content="{lead}"></head><body>'
            f'<div class="top"><h1>Rain returns</h1><div class="hero"><span>{lead}</span></div></div>'
            f'<nav><a href="/">Home</a></nav><article><div class="story-body">{BODY}</div></article></body></html>')
    text = extract(html, URL).text
    assert text.count("The long drought in the valley") == 1
    assert text.index("The long drought") < text.index("reservoir rose")


def test_another_storys_teaser_summary_is_not_taken_as_the_lead() -> None:
    body = "".join(f"<p>Paragraph {i} of the story itself, long enough to be body text for sure.</p>" for i in range(6))
    html = (
        "<html><head><title>Main story</title>"
        '<meta name="description" content="What the main story is about, in one sentence.">'
        f"</head><body><article><h1>Main story</h1>{body}</article>"
        '<section class="related"><h2>Related articles</h2><ul><li class="teaser"><a href="/other">Other</a>'
        '<p class="teaser-summary">A summary of another story that must stay out of this one.</p></li></ul>'
        "</section></body></html>"
    )
    text = extract(html, "https://example.org/2021/04/14/main-story-a1").text
    assert "another story" not in text
    assert "Paragraph 0 of the story itself" in text


@pytest.mark.parametrize(("text", "day"), [
    ("Printed 2021-05-01, first published April 14, 2021", "2021-05-01"),   # the first in the text, any pattern
    ("Updated 2021-05-01, first published April 14, 2021", "2021-04-14"),   # but not an announced update
    ("February 30, 2021 was no day; March 3, 2021 was", "2021-03-03"),      # an impossible date is skipped
    ("on 3 March 2020 and on 14.04.2021", "2020-03-03"),
    ("MÄRZ 2020, then 14. März 2021", "2021-03-14"),                        # month names in any case
])
def test_text_date_is_the_first_valid_date_whatever_its_pattern(text: str, day: str) -> None:
    assert text_date(text) == day


# ---- extract and classify from one parse (crawler reextract) ----

ARTICLE = page('<title>Rain returns</title><meta property="og:type" content="article">',
               f"<h1>Rain returns</h1>{BODY}")
LISTING = page("<title>News</title>", "".join(f'<article><h2><a href="/n/{i}">Story {i}</a></h2><time>2021</time>'
                                              "</article>" for i in range(8)))


@pytest.mark.parametrize("html", [ARTICLE, LISTING, "", "\x00\x01 binary"])
def test_extract_and_classify_is_extract_and_classify(html: str) -> None:
    extraction, kind = extract_and_classify(html, URL, {"Content-Language": "en"})
    assert extraction == extract(html, URL, {"Content-Language": "en"})
    assert kind == classify(html, URL)


def test_extract_and_classify_reads_an_xhtml_page_with_an_xml_declaration_as_a_crawl_does() -> None:
    # lxml refuses a str that declares its encoding: classify(str) saw no page, the crawl (bytes) an article
    html = '<?xml version="1.0" encoding="UTF-8"?>\n' + ARTICLE
    extraction, kind = extract_and_classify(html, URL)
    assert "reservoir rose by two metres" in extraction.text
    assert kind == classify(html.encode("utf-8"), URL) == "article"


@pytest.mark.parametrize("url", [URL, "https://example.org/caf\udce9", ""])
def test_body_options_are_those_bare_extraction_builds_from_its_keywords(url: str) -> None:
    from trafilatura.settings import Extractor

    from crawler.extract_text import body_options

    built = Extractor(output_format="python", comments=False, tables=True, url=url)  # bare_extraction's, as called before
    ours = body_options(url)
    assert {k: getattr(ours, k) for k in Extractor.__slots__} == {k: getattr(built, k) for k in Extractor.__slots__}
    assert body_options("https://other.example/").url == "https://other.example/" and ours.url == url


def test_the_date_patterns_scan_as_one_alternation() -> None:
    from crawler import extract_dates

    # _first_date reads the matched pattern's day, month and year from the three groups after its own
    assert all(pattern.groups == 3 for pattern, _ in extract_dates._DATE_PATTERNS)
    assert extract_dates._ANY_DATE.groups == 4 * len(extract_dates._DATE_PATTERNS)
    assert text_date("2021-04-14 or 14.04.2021") == "2021-04-14"            # one position, the earlier pattern
    assert text_date("99.99.2021, then 31.02.2021, then 1.3.2021") == "2021-03-01"
