"""The demo site serves what its ground truth says, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import gzip
import http.client
import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from lxml import etree, html

from crawler.demosite import RunningServer, Site, serve

SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
NEWS = "{http://www.google.com/schemas/sitemap-news/0.9}"
ARTICLE_PATH = re.compile(r"^/\d{4}/\d{2}/\d{2}/[a-z0-9-]+-a\d{5}$")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def fetch(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    opener = urllib.request.build_opener(_NoRedirect)
    req = urllib.request.Request(url, headers={"Accept-Encoding": "identity", **(headers or {})}, method=method)
    try:
        with opener.open(req, timeout=10) as resp:
            return resp.status, dict(resp.headers.items()), resp.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, dict(err.headers.items()), err.read()


def links(body: bytes) -> list[str]:
    return [str(h) for h in html.fromstring(body).xpath("//a/@href")]


def sitemap_locs(site: RunningServer, url: str) -> set[str]:
    status, headers, body = fetch(url)
    assert status == 200, url
    if url.endswith(".gz"):
        assert headers["Content-Type"] in ("application/x-gzip", "application/gzip")
        assert "Content-Encoding" not in headers
        body = gzip.decompress(body)
    root = etree.fromstring(body)
    if root.tag == SM + "sitemapindex":
        return set().union(*(sitemap_locs(site, loc.text) for loc in root.iter(SM + "loc")))
    for url_el in root.iter(SM + "url"):
        assert url_el.find(SM + "lastmod") is not None or url_el.find(f"{NEWS}news/{NEWS}publication_date") is not None
    return {loc.text for loc in root.iter(SM + "loc")}


def test_robots_and_sitemaps_list_every_article(demo_site: RunningServer) -> None:
    status, headers, body = fetch(demo_site.base_url + "/robots.txt")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert "User-agent: *\nDisallow: /private/\n" in body.decode()
    assert f"Sitemap: {demo_site.base_url}/sitemap.xml" in body.decode()
    root = etree.fromstring(fetch(demo_site.base_url + "/sitemap.xml")[2])
    children = [loc.text for loc in root.iter(SM + "loc")]
    assert [urlsplit(c).path for c in children] == ["/sitemaps/articles-1.xml", "/sitemaps/news.xml",
                                                   "/sitemaps/archive.xml.gz"]
    news = etree.fromstring(fetch(children[1])[2])
    assert len(news.findall(f".//{NEWS}publication_date")) == 10
    assert sitemap_locs(demo_site, demo_site.base_url + "/sitemap.xml") == {t.url for t in demo_site.truth}


def test_feeds_list_latest_articles(demo_site: RunningServer) -> None:
    truth = {t.url: t for t in demo_site.truth}
    status, headers, body = fetch(demo_site.base_url + "/rss/news")
    assert status == 200 and headers["Content-Type"] == "application/rss+xml; charset=utf-8"
    items = etree.fromstring(body).findall("./channel/item")
    assert [i.findtext("link") for i in items] == [t.url for t in demo_site.truth[:15]]
    for item in items:
        published = parsedate_to_datetime(item.findtext("pubDate") or "")
        assert published.isoformat() == truth[item.findtext("link") or ""].published
    atom = etree.fromstring(fetch(demo_site.base_url + "/atom.xml")[2])
    entries = atom.findall("{http://www.w3.org/2005/Atom}entry")
    assert len(entries) == 15 and atom.findtext("{http://www.w3.org/2005/Atom}updated")


def test_home_links_sections_traps_and_duplicates(demo_site: RunningServer) -> None:
    status, _, body = fetch(demo_site.base_url + "/")
    hrefs = links(body)
    assert b'<link rel="alternate" type="application/rss+xml" title="Demo Times" href="/rss/news">' in body
    assert {"/world", "/business", "/culture", "/about", "/private/secret-page"} <= set(hrefs)
    first = demo_site.truth[1].path
    assert first + "?utm_source=twitter&utm_medium=social" in hrefs
    assert any(h.endswith("?gclid=abc") for h in hrefs) and any(h.endswith("#comments") for h in hrefs)
    assert {urlsplit(u).path for u in demo_site.redirects} | {urlsplit(u).path for u in demo_site.not_found_urls} <= set(hrefs)
    assert all(not h.startswith("http") for h in hrefs)     # root-relative links only


def test_sections_paginate_to_every_article(demo_site: RunningServer) -> None:
    found: set[str] = set()
    for section in ("world", "business", "culture"):
        url, pages = f"{demo_site.base_url}/{section}", 0
        while url:
            status, _, body = fetch(url)
            assert status == 200
            doc, pages = html.fromstring(body), pages + 1
            found |= {h for h in links(body) if ARTICLE_PATH.match(h)}
            nxt = doc.xpath("//link[@rel='next']/@href")
            assert nxt == doc.xpath("//a[text()='Next page']/@href")
            url = demo_site.base_url + nxt[0] if nxt else ""
        assert pages == 3
    assert found == {t.path for t in demo_site.truth}


def test_pages_match_truth(demo_site: RunningServer) -> None:
    markups = set()
    for t in demo_site.truth:
        status, headers, body = fetch(t.url)
        assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
        doc = html.fromstring(body)
        assert doc.findtext(".//title") == f"{t.title} - Demo Times"
        assert doc.xpath("string(//article//h1)") == t.title
        assert doc.xpath("string(//p[@class='byline'])") == "By " + " and ".join(t.authors)
        assert doc.xpath("//article//time/@datetime") == [t.published]
        assert "\n".join(p.text_content() for p in doc.xpath("//div[@class='article-body']/p")) == t.text
        assert doc.xpath("//link[@rel='canonical']/@href") == [t.url]
        ld = [json.loads(s) for s in doc.xpath("//script[@type='application/ld+json']/text()")]
        assert bool(ld) == t.has_jsonld and bool(doc.xpath("//meta[@property='og:type']")) == t.has_og
        if ld:
            assert ld[0]["headline"] == t.title and ld[0]["datePublished"] == t.published
            people = ld[0]["author"] if isinstance(ld[0]["author"], list) else [ld[0]["author"]]
            assert [p["name"] for p in people] == t.authors
        markups.add(t.markup)
    assert markups == {"full", "og", "plain"}
    texts = [p for t in demo_site.truth for p in t.text.split("\n")]
    assert len(texts) == len(set(texts))
    for url in demo_site.non_article_urls:
        doc = html.fromstring(fetch(url)[2])
        assert not doc.xpath("//article") and not doc.xpath("//meta[@property='og:type' and @content='article']")


def test_conditional_requests_head_and_gzip(demo_site: RunningServer) -> None:
    url = demo_site.truth[0].url
    status, headers, body = fetch(url)
    etag, modified = headers["ETag"], headers["Last-Modified"]
    assert int(headers["Content-Length"]) == len(body)
    assert fetch(url, {"If-None-Match": etag})[:2][0] == 304
    assert fetch(url, {"If-Modified-Since": modified})[0] == 304
    assert fetch(url, {"If-None-Match": '"other"', "If-Modified-Since": modified})[0] == 200
    status, headers, head_body = fetch(url, method="HEAD")
    assert status == 200 and head_body == b"" and int(headers["Content-Length"]) == len(body)
    status, headers, packed = fetch(url, {"Accept-Encoding": "gzip, deflate"})
    assert headers["Content-Encoding"] == "gzip" and gzip.decompress(packed) == body
    assert int(headers["Content-Length"]) == len(packed) and headers["ETag"] == "W/" + etag
    assert fetch(url, {"Accept-Encoding": "gzip", "If-None-Match": headers["ETag"]})[0] == 304
    assert "Content-Encoding" not in fetch(url, {"Accept-Encoding": "br, gzip;q=0"})[1]
    status, headers, png = fetch(demo_site.truth[0].image)
    assert headers["Content-Type"] == "image/png" and png.startswith(b"\x89PNG") and "Content-Encoding" not in headers


def test_keep_alive_serves_several_requests_on_one_connection(demo_site: RunningServer) -> None:
    conn = http.client.HTTPConnection(urlsplit(demo_site.base_url).netloc, timeout=10)
    try:
        for path in ("/", "/about", "/nope"):
            conn.request("GET", path)
            resp = conn.getresponse()
            assert resp.version == 11 and len(resp.read()) == int(resp.headers["Content-Length"])
    finally:
        conn.close()


def test_redirects_404_and_request_log(demo_site_clean: RunningServer) -> None:
    site = demo_site_clean
    for old, new in site.redirects.items():
        status, headers, _ = fetch(old)
        assert status == 301 and site.base_url + urlsplit(headers["Location"]).path == new
    assert {urlsplit(h["Location"]).scheme for h in (fetch(o)[1] for o in site.redirects)} == {"http", ""}
    for url in [*site.not_found_urls, site.base_url + "/no/such/page"]:
        status, headers, body = fetch(url)
        assert status == 404 and headers["Content-Type"].startswith("text/html") and b"not found" in body
    assert fetch(site.truth[3].url + "?utm_source=x")[0] == 200
    assert fetch(site.base_url + "/world?page=9")[0] == 404
    logged = site.requested_paths()
    assert urlsplit(site.not_found_urls[0]).path in logged and "/private/secret-page" not in logged
    assert site.requests[0].method == "GET" and ("Accept-Encoding", "identity") in site.requests[0].headers


def test_mutations_change_pages_feeds_and_sitemaps(fresh_site: Callable[..., RunningServer]) -> None:
    server = fresh_site(articles=12)
    site: Site = server.site
    target = server.truth[5]
    _, before, _ = fetch(target.url)
    edited = site.edit_article(target.id, "A correction was appended to this story.")
    status, after, body = fetch(target.url, {"If-None-Match": before["ETag"]})
    assert status == 200 and after["ETag"] != before["ETag"] and b"A correction was appended" in body
    assert parsedate_to_datetime(after["Last-Modified"]) > parsedate_to_datetime(before["Last-Modified"])
    assert edited.text.endswith("\nA correction was appended to this story.") and edited.modified > target.modified
    redirects = server.redirects
    added = site.add_article()
    assert server.truth[0] == added and len(server.truth) == 13 and server.redirects == redirects
    assert len(site.edit_article(added.id).text.split("\n")) == len(added.text.split("\n")) + 1
    assert fetch(added.url)[0] == 200 and added.url in fetch(server.base_url + "/rss/news")[2].decode()
    site.remove_article(target.id)
    assert fetch(target.url)[0] == 410 and target.url in site.removed_urls
    assert sitemap_locs(server, server.base_url + "/sitemap.xml") == {t.url for t in server.truth}
    assert target.url not in fetch(server.base_url + "/rss/news")[2].decode()


def test_moscowtimes_layout(moscow_site: RunningServer) -> None:
    robots = fetch(moscow_site.base_url + "/robots.txt")[2].decode()
    assert f"Sitemap: {moscow_site.base_url}/sitemap/sitemap.xml" in robots
    assert sitemap_locs(moscow_site, moscow_site.base_url + "/sitemap/sitemap.xml") == {t.url for t in moscow_site.truth}
    assert moscow_site.truth[0].path.endswith("-a73596") and all(ARTICLE_PATH.match(t.path) for t in moscow_site.truth)
    assert {"/news", "/opinion", "/business"} <= set(links(fetch(moscow_site.base_url + "/")[2]))
    assert {t.section for t in moscow_site.truth} == {"News", "Opinion", "Business"}
    doc = html.fromstring(fetch(moscow_site.truth[0].url)[2])
    assert doc.xpath("//meta[@property='og:site_name']/@content") == ["The Moscow Times"]


def test_generation_is_deterministic() -> None:
    a, b = Site(base_url="http://example.test"), Site(base_url="http://example.test")
    assert a.truth == b.truth and a.get("/").body == b.get("/").body
    assert Site(seed=2, base_url="http://example.test").truth != a.truth


def test_command_line_prints_the_url_it_serves() -> None:
    with subprocess.Popen([sys.executable, "-m", "crawler.demosite", "--port", "0", "--articles", "5"],
                          stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline().strip()
            assert re.fullmatch(r"serving http://127\.0\.0\.1:\d+/", line)
            assert fetch(line.removeprefix("serving ") + "robots.txt")[0] == 200
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    with serve(Site(articles=3)) as busy:
        port = urlsplit(busy.base_url).port
        done = subprocess.run([sys.executable, "-m", "crawler.demosite", "--port", str(port)],
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "choose another --port" in done.stderr
