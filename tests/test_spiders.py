"""The news and themoscowtimes spiders: argument checks, listings parsing, and real crawls of the demo site.

Crawls run the real Scrapy engine (``python -m scrapy crawl``) in a subprocess, one per crawl, with the
project's settings (robots.txt obeyed, WARC capture on) except the item pipelines: the items are read back
from a JSON Lines feed, and the demo server's request log says what was fetched.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from scrapy.http import Request
from scrapy.responsetypes import responsetypes

from crawler.items import PageItem
from spiders.links import announced_feeds, page_links
from spiders.listings import Entry, parse_date, parse_feed, parse_since, parse_sitemap, robots_sitemaps
from spiders.news import NewsSpider
from spiders.options import NO_SEEDS
from spiders.seeds import BodyError, Kind, detect_kind, read_seeds_file, split_seeds, xml_body
from spiders.themoscowtimes import TheMoscowTimesSpider

ROOT = Path(__file__).resolve().parents[1]
FIELDS = "url,status,kind,depth,content_type,encoding,fetched_at,warc,headers"


@dataclass
class Crawl:
    items: list[dict[str, Any]]
    log: str
    paths: list[str]            # request targets the demo server received during the crawl

    @property
    def urls(self) -> list[str]:
        return [i["url"] for i in self.items]

    def kind_of(self, url: str) -> str:
        return next(i["kind"] for i in self.items if i["url"] == url)


def crawl(server: Any, tmp_path: Path, spider: str = "news", settings: tuple[str, ...] = (), **args: str) -> Crawl:
    """Run one crawl against ``server`` and read back its items, log and the server's request log.
    ``settings`` are extra NAME=VALUE overrides."""
    out = tmp_path / "items.jsonl"
    cmd = [sys.executable, "-m", "scrapy", "crawl", spider, "-O", f"{out}:jsonlines",
           "-s", "ITEM_PIPELINES={}", "-s", "DOWNLOAD_DELAY=0",
           "-s", "AUTOTHROTTLE_ENABLED=False", "-s", f"ARCHIVE_DATA_DIR={tmp_path / 'data'}",
           "-s", f"FEED_EXPORT_FIELDS={FIELDS}", "-s", "LOG_LEVEL=INFO"]
    for setting in settings:
        cmd += ["-s", setting]
    for name, value in args.items():
        cmd += ["-a", f"{name}={value}"]
    server.clear_requests()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    items = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines() if line.strip()]
    return Crawl(items, proc.stderr, server.requested_paths())


def article_urls(site: Any) -> set[str]:
    return {t.url for t in site.truth}


# ----- arguments ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "message"), [
    ({}, NO_SEEDS),
    ({"seeds": "ftp://example.org/"}, "must start with http:// or https://"),
    ({"seeds": "example.org/news"}, "must start with http:// or https://"),
    ({"seeds": "http:///path"}, "has no host"),
    ({"seeds": "https://example.org/", "allow": "(unclosed"}, "bad allow regex"),
    ({"seeds": "https://example.org/", "deny": ["ok", "[z-a]"]}, "bad deny regex"),
    ({"seeds": "https://example.org/", "since": "last tuesday"}, "bad since date"),
    ({"seeds": "https://example.org/", "max_pages": "ten"}, "bad max_pages"),
    ({"seeds": "https://example.org/", "max_pages": "0"}, "bad max_pages"),
    ({"seeds": "https://example.org/", "max_depth": "-1"}, "bad max_depth"),
    ({"seeds": "https://example.org/", "follow": "maybe"}, "bad follow"),
    ({"seeds_file": "/nonexistent/seeds.txt"}, "cannot read seeds file"),
])
def test_bad_arguments_raise_one_line_value_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as info:
        NewsSpider(**kwargs)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_arguments_from_strings_and_from_python_values_mean_the_same(tmp_path: Path) -> None:
    seeds_file = tmp_path / "seeds.txt"
    seeds_file.write_text("# news sites\nhttps://b.example.org/\n\nhttps://c.example.net/feed  # a feed\n")
    from_cli = NewsSpider(seeds=["https://a.example.org/x"], seeds_file=str(seeds_file), follow=True,
                          max_pages=5, max_depth=2, allow=["/20\\d\\d/", "/news/"], deny=["/tag/"],
                          since="2024-05-01", domains=["cdn.example.com"])
    from_a = NewsSpider(seeds="https://a.example.org/x", seeds_file=str(seeds_file), follow="true",
                        max_pages="5", max_depth="2", allow="/20\\d\\d/\n/news/", deny="/tag/",
                        since="2024-05-01", domains="cdn.example.com")
    assert from_cli.options == from_a.options
    opts = from_a.options
    assert opts.seeds == ("https://a.example.org/x", "https://b.example.org/", "https://c.example.net/feed")
    assert opts.since == datetime(2024, 5, 1, tzinfo=UTC)
    assert from_a.scope.domains == {"example.org", "example.net", "example.com"}


def test_seeds_split_at_commas_that_start_a_url_only() -> None:
    assert split_seeds("https://a.org/x, https://b.org/7,114,270.html,http://c.org/ https://d.org/") == [
        "https://a.org/x", "https://b.org/7,114,270.html", "http://c.org/", "https://d.org/"]
    assert split_seeds(["https://b.org/7,114.html"]) == ["https://b.org/7,114.html"]
    assert split_seeds("https://a.org/,") == ["https://a.org/"]


def test_seeds_file_ignores_comments_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "s.txt"
    path.write_text("\n  # comment\nhttps://x.org/a\n   https://x.org/b   \n")
    assert read_seeds_file(path) == ["https://x.org/a", "https://x.org/b"]


def test_since_accepts_dates_and_datetimes() -> None:
    assert parse_since("2024-05-01") == datetime(2024, 5, 1, tzinfo=UTC)
    assert parse_since("2024-05-01T12:00:00Z") == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert parse_since("2024-05-01T12:00:00+03:00") == datetime(2024, 5, 1, 9, tzinfo=UTC)
    assert parse_since(None) is None


def test_themoscowtimes_defaults_and_base_url_override() -> None:
    default = TheMoscowTimesSpider()
    assert default.options.seeds[0] == "https://www.themoscowtimes.com/"
    assert "https://www.themoscowtimes.com/rss/news" in default.options.seeds
    local = TheMoscowTimesSpider(base_url="http://127.0.0.1:9/")
    assert all(s.startswith("http://127.0.0.1:9/") for s in local.options.seeds)
    assert TheMoscowTimesSpider(seeds="http://127.0.0.1:9/x").options.seeds == ("http://127.0.0.1:9/x",)
    with pytest.raises(ValueError, match="base_url"):
        TheMoscowTimesSpider(base_url="www.themoscowtimes.com")


# ----- sniffing and listings ---------------------------------------------------------------------------

URLSET = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
<url><loc>https://ex.org/2024/05/02/a-a1</loc><lastmod>2024-05-02T10:00:00+02:00</lastmod></url>
<url><loc>https://ex.org/2024/05/03/b-a2</loc>
  <news:news><news:publication><news:name>Ex</news:name><news:language>en</news:language></news:publication>
  <news:publication_date>2024-05-03</news:publication_date><news:title>B</news:title></news:news></url>
<url><loc>/relative-c</loc></url>
</urlset>"""
INDEX = b"""<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>https://ex.org/s1.xml.gz</loc><lastmod>2024-01-01</lastmod></sitemap></sitemapindex>"""
RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Ex</title>
<item><title>A</title><link>https://ex.org/a</link><pubDate>Thu, 02 May 2024 10:00:00 +0300</pubDate></item>
<item><title>B</title><guid>https://ex.org/b</guid></item></channel></rss>"""
ATOM = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>Ex</title>
<entry><link rel="alternate" type="text/html" href="https://ex.org/x"/><link rel="enclosure" href="https://ex.org/x.mp3"/>
<updated>2024-05-02T10:00:00Z</updated></entry></feed>"""
RDF = b"""<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
 xmlns:dc="http://purl.org/dc/elements/1.1/"><item rdf:about="https://ex.org/r"><title>R</title>
<dc:date>2024-05-02</dc:date></item></rdf:RDF>"""
HTML = b"<!DOCTYPE html><html><head><title>x</title></head><body><p>hi</p></body></html>"


@pytest.mark.parametrize(("body", "ctype", "kind"), [
    (URLSET, "application/xml", Kind.SITEMAP),
    (gzip.compress(URLSET), "application/x-gzip", Kind.SITEMAP),
    (INDEX, "text/xml", Kind.SITEMAP_INDEX),
    (RSS, "application/rss+xml", Kind.FEED),
    (RSS, "text/html", Kind.FEED),                  # servers lie about types: the body decides
    (ATOM, "application/atom+xml", Kind.FEED),
    (RDF, "application/rdf+xml", Kind.FEED),
    (HTML, "text/html; charset=utf-8", Kind.HTML),
    (HTML, "", Kind.HTML),
    (b"%PDF-1.7 ...", "application/pdf", Kind.OTHER),
    (b"", "text/plain", Kind.OTHER),
])
def test_detect_kind_sniffs_the_body(body: bytes, ctype: str, kind: Kind) -> None:
    assert detect_kind(body, ctype) is kind


def test_gzip_bodies_are_limited_and_checked() -> None:
    packed = gzip.compress(URLSET)
    assert xml_body(packed, max_size=10_000) == URLSET
    with pytest.raises(BodyError, match="too large"):
        xml_body(packed, max_size=100)
    with pytest.raises(BodyError, match="corrupt"):
        xml_body(b"\x1f\x8b" + b"\x00" * 30)


def test_sitemap_entries_take_the_newest_date_incl_news_publication_date() -> None:
    entries = list(parse_sitemap(URLSET, "https://ex.org/sitemap.xml"))
    assert entries == [
        Entry("https://ex.org/2024/05/02/a-a1", datetime(2024, 5, 2, 8, tzinfo=UTC)),
        Entry("https://ex.org/2024/05/03/b-a2", datetime(2024, 5, 3, tzinfo=UTC)),
        Entry("https://ex.org/relative-c", None),
    ]
    assert list(parse_sitemap(INDEX, "https://ex.org/")) == [
        Entry("https://ex.org/s1.xml.gz", datetime(2024, 1, 1, tzinfo=UTC))]


def test_sitemap_loc_is_the_page_not_its_images() -> None:
    xml = b"""<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
      xmlns:image="http://www.google.com/schemas/sitemap-image/1.1" xmlns:xhtml="http://www.w3.org/1999/xhtml">
    <url><image:image><image:loc>https://ex.org/i.jpg</image:loc></image:image><loc>https://ex.org/p</loc>
    <xhtml:link rel="alternate" hreflang="ru" href="https://ex.org/ru/p"/></url></urlset>"""
    assert [e.url for e in parse_sitemap(xml, "https://ex.org/")] == ["https://ex.org/p"]


def test_a_large_sitemap_streams() -> None:
    xml = (b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
           + b"".join(b"<url><loc>https://ex.org/%d</loc></url>" % i for i in range(20_000)) + b"</urlset>")
    urls = [e.url for e in parse_sitemap(xml, "https://ex.org/")]
    assert len(urls) == 20_000 and urls[-1] == "https://ex.org/19999"


def test_feed_entries_from_rss_atom_and_rdf() -> None:
    assert list(parse_feed(RSS, "https://ex.org/rss")) == [
        Entry("https://ex.org/a", datetime(2024, 5, 2, 7, tzinfo=UTC)), Entry("https://ex.org/b", None)]
    assert list(parse_feed(ATOM, "https://ex.org/atom")) == [
        Entry("https://ex.org/x", datetime(2024, 5, 2, 10, tzinfo=UTC))]
    assert list(parse_feed(RDF, "https://ex.org/rdf")) == [
        Entry("https://ex.org/r", datetime(2024, 5, 2, tzinfo=UTC))]


def test_entry_dates_and_since() -> None:
    since = datetime(2024, 5, 2, 9, tzinfo=UTC)
    assert Entry("u", datetime(2024, 5, 2, 8, tzinfo=UTC)).older_than(since)
    assert not Entry("u", datetime(2024, 5, 2, 9, tzinfo=UTC)).older_than(since)
    assert not Entry("u", None).older_than(since)          # undated entries are kept
    assert parse_date("not a date") is None
    assert parse_date("Thu, 02 May 2024 10:00:00 GMT") == datetime(2024, 5, 2, 10, tzinfo=UTC)


def test_robots_sitemaps() -> None:
    robots = b"User-agent: *\nDisallow: /private/\nSitemap: https://ex.org/s.xml\nsitemap: /news.xml\n"
    assert robots_sitemaps(robots, "https://ex.org/robots.txt") == ["https://ex.org/s.xml", "https://ex.org/news.xml"]


def test_page_links_mark_pagination() -> None:
    html = b"""<html><body><a href="/world?page=3">3</a><a href="/world/page/2/">2</a>
    <div class="c-pagination"><a href="/world/older">Older</a></div><a href="/world/story">Story</a>
    <a href="/world/story#comments">Story again</a><a href="https://ex.org/world?id=5&page=2">other query</a>
    </body></html>"""
    tree = lxml.html.fromstring(html)
    links = page_links(tree, "https://ex.org/world", "https://ex.org/world")
    assert [(x.url, x.pagination) for x in links] == [
        ("https://ex.org/world?page=3", True), ("https://ex.org/world/page/2/", True),
        ("https://ex.org/world/older", True), ("https://ex.org/world/story", False),
        ("https://ex.org/world?id=5&page=2", True)]


def test_page_links_leave_out_skipped_urls() -> None:
    html = b"""<html><body><a href="/world/story">Story</a><a href="/world?page=2">2</a>
    <a href="/sport">Sport</a><a href="/world/story">Story again</a></body></html>"""
    tree = lxml.html.fromstring(html)
    links = page_links(tree, "https://ex.org/world", "https://ex.org/world", skip={"https://ex.org/world/story"})
    assert [(x.url, x.pagination) for x in links] == [
        ("https://ex.org/world?page=2", True), ("https://ex.org/sport", False)]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("<html><head><title>Ünïcode</title></head><body><p>Привет <a href='/x'>x</a></p></body></html>".encode(),
         "text/html; charset=utf-8"),
        ("  \n<!DOCTYPE html><meta charset='windows-1251'><p>Привет</p>".encode(), "text/html; charset=utf-8"),
        ("<?xml version='1.0' encoding='iso-8859-1'?><html><p>é</p></html>".encode(), "text/html; charset=utf-8"),
        (b"\xef\xbb\xbf<html><p>bom</p></html>", "text/html; charset=utf-8"),
        (b"<html><p>nul\x00byte</p></html>", "text/html; charset=utf-8"),
        (b"<html><p>bad \xff utf-8</p></html>", "text/html; charset=utf-8"),
        ("<html><p>Привет</p></html>".encode("cp1251"), "text/html; charset=windows-1251"),
        (b"", "text/html; charset=utf-8"),
        (b"   ", "text/html; charset=utf-8"),
        (b"just text", "text/html"),
    ],
)
def test_whole_tree_is_the_tree_parsel_gives(body: bytes, content_type: str) -> None:
    from scrapy.http import HtmlResponse

    from crawler.pagetree import whole_tree

    def response() -> HtmlResponse:
        return HtmlResponse("https://ex.org/a", body=body, headers={"Content-Type": content_type})

    ours = whole_tree(response())
    theirs = response().selector.root
    assert lxml.html.tostring(ours, encoding="unicode") == lxml.html.tostring(theirs, encoding="unicode")
    assert [a.get("href") for a in ours.iter("a")] == [a.get("href") for a in theirs.iter("a")]


def test_announced_feeds() -> None:
    tree = lxml.html.fromstring(PAGE)
    assert announced_feeds(tree, "https://www.example.com/") == [
        "https://www.example.com/feed.xml", "https://other.org/atom.xml"]


# ----- crawls of the demo site -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def home_crawl(demo_site: Any, tmp_path_factory: pytest.TempPathFactory) -> Crawl:
    return crawl(demo_site, tmp_path_factory.mktemp("home"), seeds=demo_site.base_url + "/")


def test_home_seed_finds_every_article_exactly_once(home_crawl: Crawl, demo_site: Any) -> None:
    counts = Counter(home_crawl.urls)
    assert [u for u, n in counts.items() if n > 1] == []
    articles = {i["url"] for i in home_crawl.items if i["kind"] == "article"}
    assert articles == article_urls(demo_site)
    pages = {i["url"] for i in home_crawl.items if i["kind"] == "page"}
    assert set(demo_site.non_article_urls) <= pages
    assert pages.isdisjoint(article_urls(demo_site))
    assert f"'news/items/article': {len(demo_site.truth)}," in home_crawl.log      # the spider's stats


def test_home_crawl_fetches_each_article_once_without_tracking_copies(home_crawl: Crawl, demo_site: Any) -> None:
    requested = Counter(home_crawl.paths)
    for truth in demo_site.truth:
        assert requested[truth.path] == 1, truth.path
    assert [p for p in requested if "utm_" in p or "gclid" in p or "fbclid" in p or "#" in p] == []


def test_disallowed_page_is_never_requested(home_crawl: Crawl, demo_site: Any) -> None:
    for url in demo_site.disallowed_urls:
        path = url[len(demo_site.base_url):]
        assert path not in home_crawl.paths


def test_home_crawl_follows_pagination_and_reads_feeds_and_robots_sitemaps(home_crawl: Crawl) -> None:
    paths = set(home_crawl.paths)
    assert {"/world?page=2", "/world?page=3", "/robots.txt", "/rss/news", "/atom.xml", "/sitemap.xml"} <= paths
    assert "/sitemaps/archive.xml.gz" in paths


def test_items_carry_what_the_pipelines_need(home_crawl: Crawl, demo_site: Any) -> None:
    item = next(i for i in home_crawl.items if i["url"] == demo_site.base_url + "/")
    assert item["status"] == 200 and item["kind"] == "page" and item["depth"] == 0
    assert item["content_type"].startswith("text/html") and item["encoding"] == "utf-8"
    assert item["fetched_at"].endswith("Z") and datetime.fromisoformat(item["fetched_at"])
    assert ["Content-Type", "text/html; charset=utf-8"] in item["headers"]
    assert all(i["warc"] and i["warc"]["filename"].endswith(".warc.gz") for i in home_crawl.items)
    assert max(i["depth"] for i in home_crawl.items) >= 1


def test_single_article_seed_yields_just_that_page(demo_site: Any, tmp_path: Path) -> None:
    url = demo_site.truth[5].url
    result = crawl(demo_site, tmp_path, seeds=url + "?utm_source=newsletter#top")
    assert result.urls == [url]
    assert result.items[0]["kind"] == "article"
    assert sorted(set(result.paths)) == sorted({"/robots.txt", demo_site.truth[5].path})


def test_sitemap_index_seed_with_gzip_child_and_news_sitemap(demo_site: Any, tmp_path: Path) -> None:
    result = crawl(demo_site, tmp_path, seeds=demo_site.site.sitemap_url)
    assert Counter(result.urls) == Counter(article_urls(demo_site))
    assert {i["kind"] for i in result.items} == {"article"}
    assert {"/sitemaps/articles-1.xml", "/sitemaps/news.xml", "/sitemaps/archive.xml.gz"} <= set(result.paths)
    assert "/" not in result.paths                      # a sitemap seed does not crawl the site


def test_rss_seed(demo_site: Any, tmp_path: Path) -> None:
    result = crawl(demo_site, tmp_path, seeds=demo_site.site.rss_url)
    assert Counter(result.urls) == Counter(t.url for t in demo_site.truth[:15])   # the feed's 15 newest
    assert "/" not in result.paths


def test_since_skips_older_sitemap_and_feed_entries(demo_site: Any, tmp_path: Path) -> None:
    cut = demo_site.truth[7].published                       # truth is newest first
    newer = {t.url for t in demo_site.truth if datetime.fromisoformat(t.published) >= datetime.fromisoformat(cut)}
    result = crawl(demo_site, tmp_path, seeds=f"{demo_site.site.sitemap_url},{demo_site.site.rss_url}", since=cut)
    assert set(result.urls) == newer and len(result.urls) == len(newer) == 8
    assert "/sitemaps/archive.xml.gz" not in result.paths     # its lastmod is older than since


def test_max_pages_stops_the_crawl_with_its_own_reason(demo_site: Any, tmp_path: Path) -> None:
    result = crawl(demo_site, tmp_path, seeds=demo_site.base_url + "/", max_pages="5")
    assert 1 <= len(result.items) <= 5
    assert "'finish_reason': 'max_pages'" in result.log
    assert len([p for p in result.paths if p != "/robots.txt"]) <= 5     # no listings fetched past the limit
    assert "article" in {i["kind"] for i in result.items}                # article-shaped links go first


def test_max_depth_zero_is_the_seed_alone_and_pagination_is_not_a_hop(demo_site: Any, tmp_path: Path) -> None:
    alone = crawl(demo_site, tmp_path / "d0", seeds=demo_site.base_url + "/", max_depth="0")
    assert alone.urls == [demo_site.base_url + "/"]
    one = crawl(demo_site, tmp_path / "d1", seeds=demo_site.base_url + "/world", max_depth="1")
    assert "/world?page=3" in one.paths
    assert all(i["url"] != demo_site.base_url + "/about" or i["depth"] == 1 for i in one.items)


def test_allow_and_deny(demo_site: Any, tmp_path: Path) -> None:
    allow, deny = r"-a412\d\d$", demo_site.truth[1].path + "$"      # ids 41200-41299, not the 2nd one
    result = crawl(demo_site, tmp_path, seeds=demo_site.site.sitemap_url, allow=allow, deny=deny)
    expected = {t.url for t in demo_site.truth if re.search(allow, t.url) and not re.search(deny, t.url)}
    assert 3 <= len(expected) < len(demo_site.truth) - 3
    assert Counter(result.urls) == Counter(expected)
    fetched = {p for p in result.paths if re.search(r"-a\d+$", p)}
    assert fetched == {t.path for t in demo_site.truth if t.url in expected}          # nothing else requested


def test_themoscowtimes_spider_on_the_moscow_layout(moscow_site: Any, tmp_path: Path) -> None:
    result = crawl(moscow_site, tmp_path, spider="themoscowtimes", base_url=moscow_site.base_url)
    articles = {i["url"] for i in result.items if i["kind"] == "article"}
    assert articles == article_urls(moscow_site)
    assert Counter(result.urls).most_common(1)[0][1] == 1
    assert {"/", "/rss/news", "/sitemap/sitemap.xml"} <= set(result.paths)


def test_a_seed_redirected_to_another_domain_brings_that_domain_into_scope(demo_site: Any, tmp_path: Path) -> None:
    target = demo_site.truth[2]                        # its old URL answers 301 with an absolute Location
    old = next(o for o, new in demo_site.redirects.items() if new == target.url)
    seed = old.replace("127.0.0.1", "localhost")       # another registered domain, same server
    # the network guard allows only the seed's own host among local addresses: allow the redirect target
    result = crawl(demo_site, tmp_path, settings=("NETGUARD_ALLOW=127.0.0.1",), seeds=seed, follow="1",
                   max_depth="1")
    assert target.url in result.urls
    assert len(result.items) > 3
    assert all(u.startswith(demo_site.base_url) for u in result.urls)
    assert "adding 127.0.0.1 to the scope" in result.log


def test_an_article_is_not_fetched_again_under_its_canonical_url(demo_site: Any, tmp_path: Path) -> None:
    article = demo_site.truth[1]
    result = crawl(demo_site, tmp_path, seeds=article.url + "?from=homepage", follow="1", max_depth="2")
    assert len(result.items) > 5                       # the crawl went on to pages that link to the article
    assert result.paths.count(article.path + "?from=homepage") == 1
    assert article.path not in result.paths            # its canonical URL counts as fetched


# ----- callbacks in-process (a response built from bytes, as Scrapy hands it over) ----------------------

PAGE = b"""<!DOCTYPE html><html><head><title>Home</title>
<link rel="alternate" type="application/rss+xml" href="/feed.xml">
<link rel="alternate" type="application/atom+xml" href="https://other.org/atom.xml"></head><body>
<a href="/2021/04/14/story-a1">Story</a> <a href="/2021/04/14/story-a1?utm_source=x#c">Same story</a>
<a href="https://www.example.com/world">World</a> <a href="//cdn.example.com/x">CDN page</a>
<a href="https://other.org/a">Elsewhere</a> <a href="mailto:x@example.com">Mail</a> <a href="javascript:void(0)">JS</a>
<a href="/report.pdf">PDF</a> <a href="/photo.JPG">Photo</a> <a href="#top">Top</a> <a href="/world?page=2" rel="next">2</a>
</body></html>"""


def run_callback(spider: NewsSpider, url: str, body: bytes, content_type: str = "text/html; charset=utf-8",
                 **meta: Any) -> tuple[list[Any], list[Any]]:
    """What ``spider.parse`` makes of one response (the response class chosen as Scrapy chooses it)."""
    cls = responsetypes.from_args(headers={b"Content-Type": content_type.encode()}, url=url, body=body)
    request = Request(url, meta={"depth": 0, **meta})
    response = cls(url=url, body=body, headers={"Content-Type": content_type}, request=request)
    out = list(spider.parse(response))
    return [o for o in out if isinstance(o, PageItem)], [o for o in out if isinstance(o, Request)]


def test_a_page_seed_follows_in_scope_links_once_and_discovers_its_feeds() -> None:
    spider = NewsSpider(seeds="https://www.example.com/")
    items, requests = run_callback(spider, "https://www.example.com/", PAGE)
    assert [i.kind for i in items] == ["page"]
    assert [r.url for r in requests] == [
        "https://www.example.com/2021/04/14/story-a1",       # article-shaped first, tracking copy merged
        "https://www.example.com/world",
        "https://cdn.example.com/x",                          # protocol-relative, same registered domain
        "https://www.example.com/world?page=2",
        "https://www.example.com/feed.xml",                   # announced feed; the other-domain one is not
        "https://www.example.com/robots.txt",                 # for its Sitemap: lines
    ]
    hops = {r.url: r.meta.get("news_hops") for r in requests}
    assert hops["https://www.example.com/world"] == 1
    assert hops["https://www.example.com/world?page=2"] == 0     # pagination is no hop


def test_an_article_seed_yields_only_its_item_unless_follow() -> None:
    article = (b"<html><head><meta property='og:type' content='article'></head><body><article><h1>T</h1>"
               + (b"<p>" + b"word " * 30 + b"</p>") * 3 + b"</article></body></html>")
    url = "https://www.example.com/2021/04/14/story-a1"
    items, requests = run_callback(NewsSpider(seeds=url), url, article)
    assert [i.kind for i in items] == ["article"] and requests == []
    items, requests = run_callback(NewsSpider(seeds=url, follow="1"), url, article + PAGE)
    assert requests


def test_a_gzip_sitemap_response_yields_its_entries_and_no_item() -> None:
    spider = NewsSpider(seeds="https://ex.org/sitemap.xml.gz", since="2024-05-03")
    items, requests = run_callback(spider, "https://ex.org/sitemap.xml.gz", gzip.compress(URLSET),
                                   content_type="application/x-gzip")
    assert items == []
    assert [r.url for r in requests] == ["https://ex.org/2024/05/03/b-a2", "https://ex.org/relative-c"]


def test_a_pdf_yields_nothing() -> None:
    spider = NewsSpider(seeds="https://ex.org/report.pdf")
    assert run_callback(spider, "https://ex.org/report.pdf", b"%PDF-1.7\n...", "application/pdf") == ([], [])
