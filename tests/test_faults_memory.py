"""20 MB pages: archived whole, their links found, not extracted, and the crawl's memory stays bounded.

The spider parses a tree of only the first ``LIMITS_PARSE_MAX_SIZE`` bytes of a bigger page and streams
the links of the rest (``crawler.pagetree``); a page over ``EXTRACT_MAX_SIZE`` gets a record with an
``extraction_error`` instead of going to a worker. Without these the crawl process peaked at ~550 MB on
one such page (the spider's lxml tree) and a worker at ~900 MB (trafilatura). The memory check is the
crawl process's own peak RSS (``ru_maxrss``), with a generous bound: no timing involved.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from scrapy.http import HtmlResponse

from crawler.pagekind import classify
from crawler.pagetree import MARKER, page_tree, stream_links
from spiders.links import page_links
from tests.misbehave import Misbehaving
from tests.test_faults_server import Crawl, run_crawl

SETTINGS = {"DOWNLOAD_TIMEOUT": "120", "LIMITS_RESPONSE_TIME": "90", "EXTRACT_WORKERS": "1",
            "EXTRACT_TIMEOUT": "60"}


@pytest.fixture(scope="module")
def huge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crawl]:
    tmp = tmp_path_factory.mktemp("huge")
    with Misbehaving() as server:
        seeds = [server.url("huge-links") + "?mb=20", server.url("ok")]
        crawl = run_crawl(server, seeds, tmp / "data", tmp, SETTINGS, timeout=300)
        assert crawl.proc.returncode == 0, crawl.proc.stderr[-3000:]
        yield crawl


def test_a_20_mb_page_keeps_the_crawl_process_under_400_mb(huge: Crawl) -> None:
    assert huge.max_rss_mb < 400, f"crawl peaked at {huge.max_rss_mb:.0f} MB"


def test_a_huge_page_is_archived_whole_and_recorded_without_extraction(huge: Crawl) -> None:
    url = huge.server.url("huge-links") + "?mb=20"
    rec = huge.responses()[url]
    assert rec.header("WARC-Truncated") is None and len(rec.raw_payload) >= 19_000_000
    record = huge.records()[url]
    assert record["status"] == 200 and record["text"] == ""
    assert record["warc"]["record_id"] == rec.record_id
    error = record["extraction_error"] or ""
    assert error.startswith("page too large to extract (20.0 MB > 8.4 MB, EXTRACT_MAX_SIZE)"), error
    assert f"{url}: page too large to extract" in huge.log
    assert "Nothing wrong here." in huge.records()[huge.server.url("ok")]["text"]


def test_links_past_the_parsed_prefix_are_followed(huge: Crawl) -> None:
    paths = huge.server.paths()
    assert "/b/page/huge-first" in paths     # in the tree's prefix
    assert "/b/page/huge-last" in paths      # 20 MB further, streamed
    assert "over LIMITS_PARSE_MAX_SIZE (4.2 MB): tree of its first 4.2 MB, 1 more link(s) streamed" in huge.log


def _page(html: str) -> HtmlResponse:
    return HtmlResponse("http://news.example/section/", body=html.encode("utf-8"), encoding="utf-8")


def test_a_page_under_the_limit_is_parsed_whole() -> None:
    response = _page("<html><head><title>Small</title></head><body><div class='pager'><a href='/a'>a</a></div>"
                     "<p>text</p><a href='/b'>b</a></body></html>")
    for limit in (1000, 0):                  # 0: no limit
        tree = page_tree(response, limit)
        assert not [d for d in tree.iter("div") if d.get(MARKER)]
        assert tree.findtext(".//title") == "Small" and tree.findtext(".//p") == "text"
        links = page_links(tree, response.url, response.url)
        assert [(link.url, link.pagination) for link in links] == [
            ("http://news.example/a", True), ("http://news.example/b", False)]


def test_a_page_over_the_limit_keeps_its_head_and_every_link() -> None:
    head = ("<?xml version='1.0' encoding='utf-8'?><html><head><title>Big</title>"
            "<link rel='alternate' type='application/rss+xml' href='/feed.xml'>"
            "<meta property='og:type' content='website'></head><body><h1>Section</h1>")
    rows = "".join(f"<div class='teaser'><p>Teaser {i} <a href='/story/{i}'>read</a> <a href='#top'>top</a></p></div>"
                   for i in range(3000))
    tail = "<a rel='next' href='/section/?page=2'>more</a><a href='/story/7'>again</a></body></html>"
    response = _page(head + rows + tail)
    tree = page_tree(response, 20_000)
    assert tree is not response.selector.root
    assert tree.findtext(".//title") == "Big"
    links = page_links(tree, response.url, response.url)
    assert [link.url for link in links if "/story/" in link.url] == [f"http://news.example/story/{i}" for i in range(3000)]
    assert [link.url for link in links if link.pagination] == ["http://news.example/section/?page=2"]
    assert classify(tree, response.url) == "page"
    (holder,) = [d for d in tree.iter("div") if d.get(MARKER)]
    assert 0 < int(holder.get(MARKER)) < 3000      # the teasers after the prefix, each once


def test_stream_links_dedupes_and_skips_fragments() -> None:
    html = "<p><a href='/a'>1</a><a href='#x'>2</a><a href=' /a '>3</a><a rel='next' href='/b'>4</a><a>5</a></p>"
    assert stream_links(html * 1000) == [("/a", ""), ("/b", "next")]


def test_nothing_parseable_in_the_prefix_still_gives_a_tree() -> None:
    response = _page(" " * 50_000 + "<a href='/after-blanks'>x</a>")
    tree = page_tree(response, 10_000)
    assert [link.url for link in page_links(tree, response.url, response.url)] == ["http://news.example/after-blanks"]
