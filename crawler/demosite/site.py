"""The demo site as a whole: every URL's response, the ground truth, and mutations for re-crawl tests.

Pages are rebuilt in memory after each mutation (a few dozen pages; milliseconds) and swapped in as a
whole, so a request being served never sees half an update.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from crawler.demosite import render
from crawler.demosite.generate import LAYOUTS, Article, ArticleTruth, generate_articles, section_label

HTML = "text/html; charset=utf-8"
XML = "application/xml; charset=utf-8"
ABOUT = ["{name} is a small news site that exists only to be crawled. It is generated in memory.",
         "Our newsroom does not exist; our reporters are made of word lists and a seeded random generator.",
         "Write to the editors at editors@example.org. We do not answer, because we are a test fixture."]
CSS = ("body{font-family:Georgia,serif;margin:0}.layout{display:flex;gap:2em}main{flex:3}"
       ".sidebar{flex:1}.ad{background:#eee;text-align:center;min-height:90px}.byline{font-style:italic}\n")


def _png(rgb: tuple[int, int, int]) -> bytes:
    """A 1x1 PNG of one colour: the article's picture."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" + bytes(rgb))) + chunk(b"IEND", b"")


@dataclass(frozen=True)
class Page:
    """One response the server can send (before content negotiation and conditional requests)."""

    status: int
    content_type: str
    body: bytes
    etag: str | None = None
    last_modified: datetime | None = None
    location: str | None = None
    gzipped: bytes | None = None      # the body gzip-compressed, offered when the client accepts gzip


def _page(body: str | bytes, *, status: int = 200, content_type: str = HTML,
          last_modified: datetime | None = None) -> Page:
    data = body.encode("utf-8") if isinstance(body, str) else body
    etag = '"' + hashlib.sha1(data).hexdigest()[:20] + '"'
    packed = gzip.compress(data, mtime=0) if content_type == HTML else None
    return Page(status, content_type, data, etag, last_modified, None, packed)


class Site:
    """A deterministic news site. ``bind(base_url)`` (done by ``serve``) builds its pages."""

    def __init__(self, *, articles: int = 30, seed: int = 1, layout: str = "demo", per_page: int = 4,
                 base_url: str | None = None, clock: Callable[[], datetime] | None = None) -> None:
        if layout not in LAYOUTS:
            raise ValueError(f"unknown demo site layout {layout!r}; choose one of {sorted(LAYOUTS)}")
        self.layout = LAYOUTS[layout]
        self.per_page = per_page
        self._clock = clock or (lambda: datetime.now(UTC).replace(microsecond=0))
        self._gen, self._articles = generate_articles(articles, seed, layout)
        self._removed: list[str] = []
        self._old_ids = [a.id for a in self._articles[2:4]]    # reachable through /old/<slug> (301)
        self._lock = threading.Lock()
        self._pages: dict[str, Page] = {}
        self.base_url = ""
        if base_url:
            self.bind(base_url)

    # ----- ground truth ----------------------------------------------------------------------------
    @property
    def truth(self) -> list[ArticleTruth]:
        """Every live article, newest first."""
        b, name = self._base(), self.layout.name
        return [ArticleTruth(a.id, b + a.path, a.path, a.title, list(a.authors), a.published.isoformat(),
                             a.modified.isoformat(), "\n".join(a.paragraphs), section_label(a.section),
                             a.description, list(a.keywords), f"{b}/static/img/{a.id}.png", name, a.markup,
                             a.markup != "plain", a.markup == "full") for a in self._articles]

    @property
    def disallowed_urls(self) -> list[str]:
        return [self._base() + "/private/secret-page"]

    @property
    def redirects(self) -> dict[str, str]:
        """Old URL -> article URL (both absolute); the server answers 301."""
        return {self._base() + old: self._base() + a.path for old, a in self._old_paths().items()}

    @property
    def not_found_urls(self) -> list[str]:
        return [self._base() + p for p in self._missing_paths()]

    @property
    def removed_urls(self) -> list[str]:
        """Articles taken down by ``remove_article``; the server answers 410 Gone."""
        return [self._base() + p for p in self._removed]

    @property
    def non_article_urls(self) -> list[str]:
        return [self._base() + p for p, pg in self._pages.items()
                if pg.content_type == HTML and pg.status == 200 and p not in self._article_paths()
                and not p.startswith("/private/")]

    @property
    def home_url(self) -> str:
        return self._base() + "/"

    @property
    def sitemap_url(self) -> str:
        return self._base() + self.layout.sitemap

    @property
    def rss_url(self) -> str:
        return self._base() + "/rss/news"

    @property
    def atom_url(self) -> str:
        return self._base() + "/atom.xml"

    # ----- mutations (for re-crawl tests) -----------------------------------------------------------
    def edit_article(self, article_id: int, new_paragraph: str | None = None) -> ArticleTruth:
        """Append a paragraph (default: a new generated one); dateModified, Last-Modified and ETag change."""
        with self._lock:
            i = self._index(article_id)
            a = self._articles[i]
            added = new_paragraph if new_paragraph is not None else self._gen.paragraph()
            self._articles[i] = replace(a, paragraphs=(*a.paragraphs, added), modified=self._later(a.modified))
            self._rebuild()
        return self._truth_of(article_id)

    def add_article(self) -> ArticleTruth:
        """Publish a new article, newest of all, in the feeds, sitemaps, home and its section."""
        with self._lock:
            newest = max(self._articles, key=lambda a: a.published) if self._articles else None
            when = self._later(newest.published if newest else self._clock()).astimezone(self.layout.tz)
            next_id = max((a.id for a in self._articles), default=self.layout.first_id) + 11
            self._articles.insert(0, self._gen.article(len(self._articles), next_id, when, self.layout.sections))
            self._rebuild()
        return self._truth_of(next_id)

    def remove_article(self, article_id: int) -> None:
        """Take an article down: 410 Gone from then on, gone from feeds, sitemaps and listings."""
        with self._lock:
            self._removed.append(self._articles.pop(self._index(article_id)).path)
            self._rebuild()

    # ----- serving ----------------------------------------------------------------------------------
    def bind(self, base_url: str) -> None:
        """Set the URL the site is served at (absolute links use it) and build every page."""
        with self._lock:
            self.base_url = base_url.rstrip("/")
            self._rebuild()

    def get(self, target: str) -> Page:
        """The response for a request target (path and query). Unknown query parameters are ignored,
        as most sites do, except ``page`` on section pages."""
        pages = self._pages
        parts = urlsplit(target)
        key = parts.path.rstrip("/") or "/"
        page_no = parse_qs(parts.query).get("page", [""])[0]
        if key.strip("/") in self.layout.sections and page_no not in ("", "1"):
            key = f"{key}?page={page_no}"
        return pages.get(key) or pages["__404__"]

    # ----- internals --------------------------------------------------------------------------------
    def _base(self) -> str:
        if not self.base_url:
            raise RuntimeError("the demo site has no base URL yet: call site.bind(url) or serve(site) first")
        return self.base_url

    def _index(self, article_id: int) -> int:
        for i, a in enumerate(self._articles):
            if a.id == article_id:
                return i
        raise KeyError(f"no live article with id {article_id}; see site.truth for the ids")

    def _truth_of(self, article_id: int) -> ArticleTruth:
        return next(t for t in self.truth if t.id == article_id)

    def _later(self, previous: datetime) -> datetime:
        """Now, but at least one second after ``previous`` (so Last-Modified always moves)."""
        return max(self._clock(), previous + timedelta(seconds=1))

    def _article_paths(self) -> set[str]:
        return {a.path for a in self._articles}

    def _old_paths(self) -> dict[str, Article]:
        return {f"/old/{a.slug}": a for a in self._articles if a.id in self._old_ids}

    def _missing_paths(self) -> list[str]:
        return ["/2020/01/01/this-story-was-never-written-a1", "/news/broken-link"]

    def _rebuild(self) -> None:
        base, lay, arts = self._base(), self.layout, self._articles
        pages = {**self._html_pages(base, arts), **self._machine_pages(base, arts)}
        for a in arts:
            pages[f"/static/img/{a.id}.png"] = _page(_png((a.id % 256, a.id // 256 % 256, 128)), content_type="image/png")
        pages["/static/site.css"] = _page(CSS, content_type="text/css; charset=utf-8")
        pages["/static/logo.png"] = _page(_png((20, 40, 90)), content_type="image/png")
        for path in self._removed:
            pages[path] = _page(render.text_page_html(lay, "Gone", ["This article was removed."], []), status=410)
        pages["__404__"] = _page(render.text_page_html(lay, "Page not found", ["Nothing here."], []), status=404)
        self._pages = pages

    def _html_pages(self, base: str, arts: list[Article]) -> dict[str, Page]:
        """Articles, redirects, section and tag listings, home, about and the disallowed page."""
        lay, sidebar = self.layout, arts[:5]
        pages: dict[str, Page] = {}
        for a in arts:
            related = [r for r in arts if r.section == a.section and r is not a][:3]
            html = render.article_html(lay, a, base, related, [s for s in sidebar if s is not a][:4])
            pages[a.path] = _page(html, last_modified=a.modified)
        for old, a in self._old_paths().items():
            moved = render.text_page_html(lay, "Moved Permanently", ["This page has moved."], [])
            loc = base + a.path if a.id == self._old_ids[0] else a.path   # one absolute, one root-relative
            pages[old] = replace(_page(moved, status=301), location=loc, gzipped=None)
        for section in lay.sections:
            items, label = [a for a in arts if a.section == section], section_label(section)
            chunks = [items[i:i + self.per_page] for i in range(0, len(items), self.per_page)] or [[]]
            for n, chunk in enumerate(chunks, start=1):
                prev = None if n == 1 else f"/{section}" if n == 2 else f"/{section}?page={n - 1}"
                nxt = f"/{section}?page={n + 1}" if n < len(chunks) else None
                pages[f"/{section}" if n == 1 else f"/{section}?page={n}"] = _page(render.listing_html(
                    lay, title=label, heading=label, items=chunk, sidebar=sidebar, prev_url=prev, next_url=nxt))
        for tag in sorted({k for a in arts for k in a.keywords}):
            pages[f"/tag/{tag}"] = _page(render.listing_html(lay, title=f"Topic: {tag}", heading=f"Topic: {tag}",
                                                             items=[a for a in arts if tag in a.keywords], sidebar=sidebar))
        extra = render.home_extra(arts, list(self._old_paths()), self._missing_paths()) if arts else ""
        pages["/"] = _page(render.listing_html(lay, title="", heading="Latest news", items=arts[:10],
                                               sidebar=sidebar, extra=extra))
        about = [p.format(name=lay.name) for p in ABOUT]
        pages["/about"] = _page(render.text_page_html(lay, "About us", about, sidebar))
        pages["/private/secret-page"] = _page(render.text_page_html(
            lay, "Staff only", ["Internal page. Crawlers that obey robots.txt never see it."], []))
        return pages

    def _machine_pages(self, base: str, arts: list[Article]) -> dict[str, Page]:
        """robots.txt, feeds and sitemaps: the only places with absolute URLs besides canonical links."""
        lay, half, d = self.layout, (len(arts) + 1) // 2, self.layout.sitemap_dir
        children = {f"{d}/articles-1.xml": arts[:half], f"{d}/news.xml": arts[:10], f"{d}/archive.xml.gz": arts[half:]}
        index = render.sitemap_index(base, [(p, max((a.modified for a in items), default=None))
                                            for p, items in children.items()])
        return {
            "/robots.txt": _page(f"User-agent: *\nDisallow: /private/\n\nSitemap: {base}{lay.sitemap}\n",
                                 content_type="text/plain; charset=utf-8"),
            "/rss/news": _page(render.rss(lay, base, arts[:15]), content_type="application/rss+xml; charset=utf-8"),
            "/atom.xml": _page(render.atom(lay, base, arts[:15]), content_type="application/atom+xml; charset=utf-8"),
            lay.sitemap: _page(index, content_type=XML),
            f"{d}/articles-1.xml": _page(render.urlset(base, arts[:half]), content_type=XML),
            f"{d}/news.xml": _page(render.urlset(base, arts[:10], news_name=lay.name), content_type=XML),
            f"{d}/archive.xml.gz": _page(gzip.compress(render.urlset(base, arts[half:]).encode(), mtime=0),
                                         content_type="application/x-gzip"),
        }
