"""Malformed URLs written by someone else's page, sitemap or feed cost that URL only: a link like
``http://[bad`` or a ``<base href="http://[::1">`` used to raise in the spider and lose the page's record and
every other link on it; one bad ``<loc>`` made the whole sitemap unreadable. Seeds with credentials are
refused at input."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawler.urls import join_url, seed_error
from spiders.listings import parse_feed, parse_sitemap, robots_sitemaps
from tests.misbehave import Conn, Misbehaving, behaviour
from tests.test_faults_server import Crawl, run_crawl

ROOT = Path(__file__).resolve().parents[1]


def _section(c: Conn, head: str, links: str) -> None:
    items = "".join(f'<li><a href="/b/page/m-{i}">story {i}</a></li>' for i in range(3))
    c.html(f"<html><head><title>Section</title>{head}</head><body><ul>{links}{items}</ul></body></html>")


@behaviour("malformed-link")
def _malformed_link(c: Conn) -> None:
    _section(c, "", '<li><a href="http://[bad">broken</a></li><li><a href="https://[::1/x">v6</a></li>')


@behaviour("malformed-base")
def _malformed_base(c: Conn) -> None:
    _section(c, '<base href="http://[::1">', "")


@pytest.fixture(scope="module")
def crawl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crawl]:
    tmp = tmp_path_factory.mktemp("malformed")
    with Misbehaving() as server:
        result = run_crawl(server, [server.url("malformed-link"), server.url("malformed-base")], tmp / "data", tmp)
        assert result.proc.returncode == 0, result.proc.stderr[-3000:]
        yield result


def test_a_page_with_a_malformed_link_keeps_its_record_and_its_other_links(crawl: Crawl) -> None:
    records = crawl.records()
    for name in ("malformed-link", "malformed-base"):
        assert crawl.server.url(name) in records, sorted(records)
    for i in range(3):  # the good links of both pages were followed (the base falls back to the page's URL)
        assert crawl.server.url(f"page/m-{i}") in records
    assert "Spider error" not in crawl.log and "Invalid IPv6 URL" not in crawl.log


def test_join_url_gives_none_for_malformed_urls() -> None:
    assert join_url("http://example.com/a/", "b") == "http://example.com/a/b"
    assert join_url("http://example.com/", "http://[bad") is None
    assert join_url("http://[::1", "/x") is None


def test_one_malformed_loc_costs_only_itself() -> None:
    sitemap = (b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>http://[bad</loc></url>'
               b"<url><loc>/a/60</loc></url></urlset>")
    assert [e.url for e in parse_sitemap(sitemap, "http://example.com/sitemap.xml")] == ["http://example.com/a/60"]
    feed = (b"<rss><channel><item><link>http://[bad</link></item><item><link>/a/61</link></item>"
            b"</channel></rss>")
    assert [e.url for e in parse_feed(feed, "http://example.com/feed")] == ["http://example.com/a/61"]
    robots = b"Sitemap: http://[bad\nSitemap: /sitemap.xml\n"
    assert robots_sitemaps(robots, "http://example.com/robots.txt") == ["http://example.com/sitemap.xml"]


def test_a_seed_with_credentials_is_refused_at_input(tmp_path: Path) -> None:
    assert "user name or password" in (seed_error("http://user:pass@127.0.0.1:9/a") or "")
    assert seed_error("http://127.0.0.1:9/a") is None
    proc = subprocess.run([sys.executable, "-m", "crawler.cli", "crawl", "news", "--seed",
                           "http://user:pass@127.0.0.1:9/a", "--data-dir", str(tmp_path / "d")],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "user name or password" in proc.stderr
    assert not (tmp_path / "d").exists()  # refused before the data directory is made


def test_an_entity_bomb_sitemap_is_unreadable_not_empty() -> None:
    lol = '<!ENTITY l0 "lol">' + "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    bomb = (f'<?xml version="1.0"?><!DOCTYPE b [{lol}<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>http://h/a/&l9;</loc></url>'
            "<url><loc>http://h/a/&xxe;</loc></url><url><loc>http://h/a/60</loc></url></urlset>").encode()
    with pytest.raises(ValueError, match="unreadable sitemap at http://h/s.xml: .*amplification"):
        list(parse_sitemap(bomb, "http://h/s.xml"))


def test_malformed_urls_in_a_page_cost_the_extraction_only_those_fields() -> None:
    import json

    from crawler.extraction import extract_and_classify

    bad = "http://[bad"
    ld = json.dumps({"@type": "NewsArticle", "headline": "Rain returns", "url": bad, "image": bad,
                     "author": {"@type": "Person", "name": "Jane Doe", "url": bad}})
    html = (f'<html><head><link rel="canonical" href="{bad}"><meta property="og:image" content="{bad}">'
            f'<meta property="og:url" content="{bad}"><script type="application/ld+json">{ld}</script></head>'
            f'<body><h1><a href="{bad}">Rain returns</a></h1><p class="byline">By <a href="{bad}">Jane Doe</a></p>'
            f"<p>{'After weeks of drought the rain came back. ' * 20}</p></body></html>")
    extraction, _kind = extract_and_classify(html, "https://example.com/2021/04/14/rain-returns")
    assert extraction.title == "Rain returns" and extraction.authors == ("Jane Doe",)
    assert extraction.canonical_url == "https://example.com/2021/04/14/rain-returns" and extraction.image is None
    assert "After weeks of drought" in extraction.text
