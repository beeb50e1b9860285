"""crawler.pagekind.classify: article or page, from what the page says about itself."""

from __future__ import annotations

import json
import re

import lxml.html
import pytest

from crawler.pagekind import classify, jsonld_types, url_hint

ARTICLE_URL = "https://example.com/2021/04/14/armenia-says-wants-more-russian-troops-on-its-soil-a73596"
PLAIN_URL = "https://example.com/world"
PARAS = "".join(
    f"<p>Paragraph {i}: officials in the capital announced a new agreement on Tuesday after many days of talks, "
    "according to a spokesman who asked not to be named.</p>" for i in range(6))


def doc(head: str = "", body: str = "") -> str:
    return f"<!DOCTYPE html><html><head><title>T</title>{head}</head><body>{body}</body></html>"


def ld(data: object) -> str:
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


def teasers(n: int, tag: str = "article") -> str:
    return "".join(
        f'<{tag} class="teaser"><h2><a href="/2021/04/{i:02d}/story-a{i}">Story {i}</a></h2>'
        f'<p>A summary of story {i}, long enough to look like a paragraph of real text on a page.</p>'
        f'<time datetime="2021-04-{i:02d}">April {i}</time></{tag}>' for i in range(1, n + 1))


ARTICLE_BODY = (f'<article><h1>Armenia says it wants more troops</h1><p class="byline">By Jane Doe</p>'
                f'<time datetime="2021-04-14T18:30:00+03:00">April 14</time>{PARAS}</article>')


@pytest.mark.parametrize(("html", "url"), [
    (doc('<meta property="og:type" content="article">', f"<h1>Title</h1>{PARAS}"), PLAIN_URL),
    (doc(ld({"@context": "https://schema.org", "@type": "NewsArticle", "headline": "x"}), PARAS), PLAIN_URL),
    (doc(ld({"@context": "https://schema.org", "@graph": [{"@type": "WebSite"}, {"@type": ["BlogPosting"]}]})), PLAIN_URL),
    (doc(ld([{"@type": "BreadcrumbList"}, {"@type": "ReportageNewsArticle"}])), PLAIN_URL),
    (doc(ld({"@type": "WebPage", "mainEntity": {"@type": "Article"}})), PLAIN_URL),
    (doc(body=f'<div itemscope itemtype="https://schema.org/NewsArticle"><h1>T</h1>{PARAS}</div>'), PLAIN_URL),
    (doc(body=ARTICLE_BODY), PLAIN_URL),                              # markup alone: <article>, byline, time
    (doc(body=ARTICLE_BODY + teasers(3, "div")), ARTICLE_URL),          # related teasers do not make it a list
    (doc(body=ARTICLE_BODY + teasers(8)), PLAIN_URL),                   # ... even as <article> elements with <time>
    (doc('<meta property="og:type" content="article">', f"<main>{ARTICLE_BODY}</main><aside>{teasers(6)}</aside>"),
     ARTICLE_URL),
])
def test_articles(html: str, url: str) -> None:
    assert classify(html, url) == "article"


@pytest.mark.parametrize(("html", "url"), [
    (doc('<meta property="og:type" content="website">', f"<h1>World</h1>{teasers(12)}"), PLAIN_URL),
    (doc(body=f"<h1>World</h1><ul>{teasers(20, 'li')}</ul>"), PLAIN_URL),
    # a CMS that stamps og:type=article on every page: the teaser list still makes it a page
    (doc('<meta property="og:type" content="article">', f"<h1>Latest</h1>{teasers(10)}"), PLAIN_URL),
    (doc(ld({"@type": "CollectionPage"}), teasers(8)), PLAIN_URL),
    # a section page whose lead story is a big <article>: no single dominant story, so still a page
    (doc(body=f"<h1>World</h1><article><h2>Lead</h2>{PARAS}</article>{teasers(9)}"), PLAIN_URL),
    # an ItemList of articles describes the listing, not the page
    (doc(ld({"@type": "ItemList", "itemListElement": [{"@type": "NewsArticle", "url": "/a"}]}), teasers(8)), PLAIN_URL),
    (doc(body="<h1>About us</h1><p>We are a small newsroom.</p><p>Write to us.</p>"), "https://example.com/about"),
    (doc(), ARTICLE_URL),                                             # an article-shaped URL never decides alone
    ("", ARTICLE_URL),
    ("   ", PLAIN_URL),
])
def test_pages(html: str, url: str) -> None:
    assert classify(html, url) == "page"


LONG_BODY = "<h1>Headline</h1><div class='text'>" + PARAS * 2 + "</div>"


def test_an_old_style_article_without_markup_is_recognized_from_its_body_and_date() -> None:
    dated = doc('<meta name="date" content="2020-02-19">', LONG_BODY)
    assert classify(dated, "https://example.com/local/story.htm") == "article"
    bylined = doc('<meta name="author" content="Jane Doe">', LONG_BODY)
    assert classify(bylined, "https://example.com/local/story.htm") == "article"


def test_long_text_alone_is_not_an_article() -> None:
    # a privacy policy: a headline over a lot of text in one container, but no date, byline or article URL
    assert classify(doc(body=LONG_BODY), "https://example.com/privacy-policy") == "page"


def test_teasers_with_long_summaries_are_a_listing_even_with_a_site_wide_author_meta() -> None:
    listing = doc('<meta name="author" content="Example News">',
                  "<h1>Politics</h1><ul>" + re.sub(r"<time.*?</time>", "", teasers(12, "li")) + "</ul>")
    assert classify(listing, "https://example.com/politics") == "page"


def test_the_url_hint_tips_a_borderline_page() -> None:
    borderline = doc(body=f'<h1>Headline</h1><div class="author">Jane Doe</div>{PARAS}')
    assert classify(borderline, ARTICLE_URL) == "article"
    assert classify(borderline, "https://example.com/world/") == "page"


def test_a_site_pattern_is_a_hint_too() -> None:
    borderline = doc(body=f'<h1>Headline</h1><div class="author">Jane Doe</div>{PARAS}')
    pattern = re.compile(r"^/story/\w+$")
    assert classify(borderline, "https://example.com/story/xyz") == "page"
    assert classify(borderline, "https://example.com/story/xyz", pattern=pattern) == "article"


def test_accepts_text_bytes_or_a_parsed_tree() -> None:
    html = doc('<meta property="og:type" content="article">', ARTICLE_BODY)
    assert classify(html, PLAIN_URL) == "article"
    assert classify(html.encode(), PLAIN_URL) == "article"
    assert classify(lxml.html.fromstring(html), PLAIN_URL) == "article"


def test_broken_jsonld_is_no_signal() -> None:
    tree = lxml.html.fromstring(doc('<script type="application/ld+json">{"@type": "NewsArticle",</script>'
                                    + ld({"@type": "Organization"})))
    assert jsonld_types(tree) == {"organization"}


@pytest.mark.parametrize(("url", "hint"), [
    (ARTICLE_URL, True),
    ("https://example.com/2021/04/story", True),
    ("https://example.com/news/12345678", True),
    ("https://example.com/politics/a-very-long-slug-with-many-words-in-it", True),
    ("https://example.com/world", False),
    ("https://example.com/world?page=2", False),
    ("https://example.com/tag/energy", False),
    ("https://example.com/", False),
])
def test_url_hint(url: str, hint: bool) -> None:
    assert url_hint(url) is hint


def test_the_early_decision_is_the_full_score_s() -> None:
    """classify decides from the head's signals when the rest cannot change the answer: the bounds it uses
    hold the full score, and its answer is the full score's, on every page of these tests."""
    from crawler.pagekind import _THRESHOLD, _bounds, _signals, score

    pages = [doc('<meta property="og:type" content="article">', f"<h1>Title</h1>{PARAS}"),
             doc(ld({"@type": "NewsArticle"}), PARAS), doc(ld({"@type": "ItemList"}), teasers(8)),
             doc(body=ARTICLE_BODY), doc(body=ARTICLE_BODY + teasers(8)), doc(body=teasers(12)),
             doc('<meta name="author" content="X"><meta property="og:type" content="article">', teasers(10)),
             doc(body=f'<div itemscope itemtype="https://schema.org/NewsArticle"><h1>T</h1>{PARAS}</div>' * 4),
             doc(body="".join(f"<time>{i}</time>" for i in range(8)) + PARAS), doc(), doc(body="<h1>x</h1>")]
    for html in pages:
        for url in (PLAIN_URL, ARTICLE_URL):
            tree = lxml.html.fromstring(html)
            low, high = _bounds(_signals(tree), url, None)
            full = score(tree, url)
            assert low <= full <= high, (html, url)
            assert classify(tree, url) == ("article" if full >= _THRESHOLD else "page")
