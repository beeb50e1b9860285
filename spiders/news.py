"""``news``: a generic news-site spider. Give it seeds; it works out what each one is.

Arguments (``scrapy crawl news -a name=value``; ``crawler crawl news --name value`` passes the same):

``seeds``       comma-separated URLs       ``seeds_file``  a file, one URL a line, ``#`` comments
``follow``      1/true: also follow links from article seeds and from sitemap/feed entries
``max_pages``   stop scheduling pages after this many (the spider then closes with reason "max_pages")
``max_depth``   link hops from a seed (pagination, sitemap and feed hops do not count)
``allow``/``deny``  regexes (a list, or one per line) searched in canonical URLs of followed links and
                sitemap/feed entries (seeds are always fetched; child sitemaps and feeds obey deny only)
``since``       ISO 8601 date/datetime: sitemap and feed entries dated before it are skipped
``domains``     extra registered domains in scope (comma-separated); the seeds' domains always are

A seed is sniffed from its response: an article (archived alone unless ``follow``), any other HTML page
(its in-scope links are followed, its feeds and its site's robots.txt sitemaps discovered), a sitemap or
sitemap index (plain or gzip, incl. news sitemaps) or an RSS/RDF/Atom feed (their entries are fetched).
Every HTML 2xx response becomes a ``crawler.items.PageItem``; other content is archived by the capture
middleware but yields no item.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import UTC, datetime
from itertools import chain
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider
from scrapy.http import Request, Response, TextResponse
from scrapy.settings import BaseSettings
from scrapy.utils.reactor import is_asyncio_reactor_installed

from crawler.items import PageItem
from crawler.pagekind import url_hint
from crawler.partition import LOCAL
from crawler.sidecar import Sidecar, SidecarError
from crawler.urls import Scope, canonicalize_url, registered_domain
from spiders.analysis import PageAnalysis, analyze_response, response_type
from spiders.listings import parse_feed, parse_sitemap, robots_sitemaps
from spiders.options import SpiderOptions
from spiders.seeds import BodyError, Kind, detect_kind, xml_body
from spiders.seen import ListingDates, SeenUrls

# request.meta keys of this spider
ROLE = "news_role"          # "seed" | "page" | "listing" | "robots"
SCOPE_ADDED = "news_scope_added"   # domains a seed's redirect added to the scope (see _widen_scope)
FOLLOW = "news_follow"      # follow links of this page when it is HTML
HOPS = "news_hops"          # link hops from the seed (pagination, sitemap and feed hops excluded)
COUNTED = "news_counted"    # the request used a unit of max_pages


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _content_type(response: Response) -> str:
    return (response.headers.get(b"Content-Type") or b"").decode("latin-1")


def _utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _analysis_process(settings: BaseSettings) -> bool:
    """SPIDER_ANALYSIS_PROCESS: "auto" is on when extraction is off (archive mode: the second core is
    free) on a machine with two cores or more; with extraction on, its pool has the other cores."""
    value = settings.get("SPIDER_ANALYSIS_PROCESS", "auto")
    if str(value).lower() == "auto":
        on = not settings.getbool("EXTRACT_ENABLED") and (os.cpu_count() or 1) > 1
    else:
        try:
            on = settings.getbool("SPIDER_ANALYSIS_PROCESS")
        except ValueError:
            raise ValueError(f"SPIDER_ANALYSIS_PROCESS must be auto, true or false, not {value!r}") from None
    return on


class NewsSpider(scrapy.Spider):
    name = "news"
    # A site's article path regex: a hint for crawler.pagekind.classify (site spiders set it).
    article_pattern: re.Pattern[str] | None = None

    def __init__(
        self,
        *args: Any,
        seeds: str | Iterable[str] | None = None,
        seeds_file: str | None = None,
        follow: object = None,
        max_pages: object = None,
        max_depth: object = None,
        allow: str | Iterable[str] | None = None,
        deny: str | Iterable[str] | None = None,
        since: object = None,
        domains: str | Iterable[str] | None = None,
        default_seeds: Iterable[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.options = SpiderOptions.from_args(
            seeds=seeds, seeds_file=seeds_file, follow=follow, max_pages=max_pages, max_depth=max_depth,
            allow=allow, deny=deny, since=since, domains=domains, default_seeds=default_seeds,
        )
        self.scope = Scope.for_seeds(
            list(self.options.seeds), allow=self.options.allow, deny=self.options.deny,
            extra_domains=self.options.domains,
        )
        self._seen = SeenUrls()                           # canonical URLs already requested (compact)
        self._pages = 0                                   # page requests counted against max_pages
        self._limit_reached = False
        self._robots: dict[str, list[str]] = {}           # origin -> sitemaps named in its robots.txt
        self._discover: set[str] = set()                  # origins whose robots sitemaps are wanted
        self._robots_requested: set[str] = set()
        self._added: frozenset[str] = frozenset()          # domains a seed's redirect added to the scope
        self._max_gunzip = 0
        self._max_tree = 0                                # LIMITS_PARSE_MAX_SIZE (crawler.pagetree)
        self._sidecar: Sidecar | None = None              # page analysis in a helper process (from_crawler)
        # Newest sitemap/feed date per URL over every listing of this run: crawler.incremental's revisit
        # policy reads it when the request is downloaded, so a later listing's newer date still counts.
        self.listing_dates = ListingDates()

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> NewsSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider._max_gunzip = crawler.settings.getint("DOWNLOAD_MAXSIZE")
        spider._max_tree = crawler.settings.getint("LIMITS_PARSE_MAX_SIZE")
        crawler.signals.connect(spider._on_idle, signal=signals.spider_idle)
        if _analysis_process(crawler.settings):
            spider._sidecar = Sidecar("spiders.analysis:analyze", name="page-analysis")
            crawler.signals.connect(spider._start_sidecar, signal=signals.spider_opened)
            crawler.signals.connect(spider._stop_sidecar, signal=signals.spider_closed)
        return spider

    def _start_sidecar(self, spider: scrapy.Spider) -> None:
        if spider is self and self._sidecar is not None:
            if is_asyncio_reactor_installed():
                self._sidecar.start()
            else:                                 # it answers on the asyncio event loop
                self.logger.info("SPIDER_ANALYSIS_PROCESS needs Twisted's asyncio reactor: pages are analysed "
                                 "in the crawl process")
                self._sidecar = None

    def _stop_sidecar(self, spider: scrapy.Spider) -> None:
        if spider is self and self._sidecar is not None:
            self._sidecar.close()
            self._count("news/analysed_in_process", self._sidecar.done)

    # --- requests -------------------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[Any]:
        origins: dict[str, None] = {}
        for seed in self.options.seeds:
            url = canonicalize_url(seed)
            origins[_origin(url)] = None
            request = self._request(url, role="seed", follow=False, hops=0, callback=self.parse_seed)
            if request is not None:
                yield request
        for origin in origins:
            for robots in self._robots_txt(origin):
                yield robots

    def _request(
        self, url: str, *, role: str, follow: bool, hops: int, callback: Any = None
    ) -> Request | None:
        """A request for a canonical URL not requested before; ``None`` when seen or over max_pages."""
        if url in self._seen:
            return None
        counted = role in ("seed", "page")
        if self.options.max_pages is not None:
            if self._pages >= self.options.max_pages:    # no more pages, nor listings that would list some
                self._limit_reached = True
                self._count("news/not_scheduled_max_pages")
                return None
            self._pages += counted
        self._seen.add(url)
        self._count(f"news/requests/{role}")
        meta = {ROLE: role, FOLLOW: follow, HOPS: hops, COUNTED: counted}
        if self._added:
            meta[SCOPE_ADDED] = sorted(self._added)
        # No callback means self.parse (Scrapy's default): a request naming a method is slower to queue, since
        # the disk queue's Request.to_dict looks the method's name up among all the spider's members.
        return Request(url, callback=callback, meta=meta)

    def _count(self, key: str, count: int = 1) -> None:
        crawler = getattr(self, "crawler", None)
        if crawler is not None and crawler.stats is not None:
            crawler.stats.inc_value(key, count)

    def _on_idle(self, spider: scrapy.Spider) -> None:
        if spider is self and self._limit_reached:
            raise CloseSpider("max_pages")

    # --- callbacks ------------------------------------------------------------------------------------

    def parse_seed(self, response: Response) -> Iterable[Any] | AsyncIterator[Any]:
        """A seed's response: what it is decides what the crawl does next."""
        return self.parse(response)

    def parse(self, response: Response, **kwargs: Any) -> Iterable[Any] | AsyncIterator[Any]:
        """Items and requests of a response: an iterable, or an async one while the page is analysed in
        the helper process (Scrapy takes either from a callback)."""
        content_type = _content_type(response)
        first: list[Request] = []
        added = response.meta.get(SCOPE_ADDED)
        if added and not self._added.issuperset(added):
            self._add_to_scope(added)
        if response.meta.get(ROLE, "seed") == "seed":
            first.extend(self._widen_scope(response))
        try:
            kind = detect_kind(response.body, content_type, self._max_gunzip)
        except BodyError as exc:
            self.logger.error(f"skipping {response.url}: {exc}")
            return first
        self._count(f"news/responses/{kind.value}")
        if kind in (Kind.SITEMAP, Kind.SITEMAP_INDEX, Kind.FEED):
            if response.meta.get(COUNTED):      # a listing is not a page: give the unit back
                self._pages -= 1
            return chain(first, self._parse_listing(response, kind))
        if kind is Kind.HTML and isinstance(response, TextResponse):
            return self._parse_html(response, first)
        self.logger.debug(f"not HTML, no item: {response.url} ({content_type or 'no Content-Type'})")
        return first

    def _widen_scope(self, response: Response) -> Iterator[Request]:
        """A seed redirected to another registered domain (example.com -> example.net): the site lives
        there now, so that domain joins the scope and its robots.txt is read for sitemaps."""
        if self.scope.in_domain(response.url):
            return
        host = urlsplit(response.url).hostname or ""
        self.logger.info(f"seed moved to {response.url}: adding {host} to the scope")
        self._add_to_scope([registered_domain(host)])
        yield from self._robots_txt(_origin(response.url))

    def _add_to_scope(self, domains: Iterable[str]) -> None:
        """Widen the scope. The added domains travel in the meta of every later request, so that another
        process of the same crawl (crawler.partition) that gets one of them widens its scope too."""
        self._added = self._added | frozenset(domains)
        self.scope = Scope(self.scope.domains | self._added, self.scope.allow, self.scope.deny)

    def _robots_txt(self, origin: str) -> Iterator[Request]:
        """The robots.txt of an origin, once (for its Sitemap: lines; the robots middleware reads its rules)."""
        if origin not in self._robots_requested:
            self._robots_requested.add(origin)
            # Fetched by this process even in a crawl shared by several (crawler.partition): the sitemaps it
            # names are requested here, once a seed of the origin has been seen here.
            yield Request(f"{origin}/robots.txt", callback=self.parse_robots, meta={ROLE: "robots", LOCAL: True})

    def parse_robots(self, response: Response) -> Iterator[Request]:
        """Remember the sitemaps a robots.txt names; fetch them once a seed of that origin is a page."""
        origin = _origin(response.url)
        self._robots[origin] = robots_sitemaps(response.body, response.url)
        if origin in self._discover:
            yield from self._robots_requests(origin)

    def _robots_requests(self, origin: str) -> Iterator[Request]:
        """Sitemaps from robots.txt: their entries are one hop from the seed, like its links."""
        if self.options.max_depth == 0:
            return
        for listed in self._robots.pop(origin, []):
            url = self._canonical(listed)
            if url and self.scope.in_domain(url) and not any(p.search(url) for p in self.scope.deny):
                request = self._request(url, role="listing", follow=True, hops=1)
                if request is not None:
                    yield request

    def _parse_listing(self, response: Response, kind: Kind) -> Iterator[Request]:
        role = response.meta.get(ROLE, "seed")
        follow = self.options.follow if role == "seed" else bool(response.meta.get(FOLLOW))
        hops = int(response.meta.get(HOPS, 0))
        body = xml_body(response.body, self._max_gunzip)  # detect_kind has decoded it once already
        try:
            if kind is Kind.FEED:
                entries = list(parse_feed(body, response.url))
            else:
                entries = list(parse_sitemap(body, response.url))
        except ValueError as exc:
            self.logger.error(f"skipping {response.url}: {exc}")
            return
        for entry in entries:
            url = self._canonical(entry.url)
            if url is None:
                continue
            if entry.older_than(self.options.since):
                self._count("news/entries_older_than_since")
                continue
            if kind is Kind.SITEMAP_INDEX:
                if not self.scope.in_domain(url) or any(p.search(url) for p in self.scope.deny):
                    continue
                request = self._request(url, role="listing", follow=follow, hops=hops)
            else:
                if not self.scope.allows(url):
                    self._count("news/entries_out_of_scope")     # e.g. a feed's links through a tracker
                    continue
                if entry.date is not None and (url not in self.listing_dates or entry.date > self.listing_dates[url]):
                    self.listing_dates[url] = entry.date         # the newest date any listing gives
                request = self._request(url, role="page", follow=follow, hops=hops)
                if request is not None and entry.date is not None:
                    request.meta["listing_date"] = entry.date    # crawler.incremental's revisit policy
            if request is not None:
                yield request

    def _parse_html(self, response: TextResponse, first: list[Request]) -> Iterable[Any] | AsyncIterator[Any]:
        """The page's item and links, from ``spiders.analysis``: in the helper process when it has room
        for the page (the callback then awaits it), else here."""
        links = response.meta.get(ROLE, "seed") == "seed" or bool(response.meta.get(FOLLOW))
        future = None
        if self._sidecar is not None:
            pattern = self.article_pattern
            future = self._sidecar.submit(
                response.body, response.url, response.encoding, response_type(response), self._max_tree,
                pattern.pattern if pattern else None, pattern.flags if pattern else 0, links,
            )
        if future is None:
            return chain(first, self._page_output(response, self._analyze_here(response, links)))
        return self._page_output_later(response, first, future, links)

    def _analyze_here(self, response: TextResponse, links: bool) -> PageAnalysis:
        return analyze_response(response, max_tree=self._max_tree, pattern=self.article_pattern, links=links,
                                skip=self._seen)

    async def _page_output_later(
        self, response: TextResponse, first: list[Request], future: asyncio.Future[Any], links: bool
    ) -> AsyncIterator[Any]:
        for request in first:
            yield request
        try:
            analysis = PageAnalysis.of(await future)
        except SidecarError as exc:
            if self._sidecar is not None and not self._sidecar.dead:   # (its death is logged once, as an error)
                self.logger.warning(f"analysing {response.url} in the helper process failed ({exc}); again here")
            analysis = self._analyze_here(response, links)
        for out in self._page_output(response, analysis):
            yield out

    def _page_output(self, response: TextResponse, analysis: PageAnalysis) -> Iterator[Any]:
        kind = analysis.kind
        self._count(f"news/items/{kind}")
        yield self._item(response, kind)
        # An article fetched under another URL than its rel=canonical one (an old path, a query string):
        # the canonical URL counts as fetched. Only for articles, whose canonical link is specific; some
        # sites point every listing's canonical at the home page.
        if analysis.canonical and self.scope.in_domain(analysis.canonical):
            self._seen.add(analysis.canonical)
        role = response.meta.get(ROLE, "seed")
        if role == "seed":
            follow = self.options.follow or kind == "page"
        else:
            follow = bool(response.meta.get(FOLLOW))
        if not follow:
            return
        # Links before listings: under max_pages the budget goes to pages this page links to first.
        yield from self._follow_links(response, analysis)
        if role == "seed":
            origin = _origin(response.url)
            self._discover.add(origin)
            yield from self._robots_txt(origin)       # the seed may have moved (http -> https, www.)
            yield from self._robots_requests(origin)

    def _item(self, response: TextResponse, kind: str) -> PageItem:
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, values in response.headers.items()
            for value in values
        ]
        when = response.meta.get("warc_date")
        if isinstance(when, datetime):
            fetched_at = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        else:
            fetched_at = str(when) if when else _utc_now()
        return PageItem(
            url=response.url,
            status=response.status,
            headers=headers,
            content_type=_content_type(response),
            html=response.text,
            encoding=response.encoding,
            fetched_at=fetched_at,
            warc=response.meta.get("warc"),
            kind=kind,
            depth=int(response.meta.get("depth", 0)),
        )

    # --- links ----------------------------------------------------------------------------------------

    def _canonical(self, url: str) -> str | None:
        try:
            return canonicalize_url(url)
        except ValueError:
            self.logger.debug(f"ignoring malformed URL {url!r}")
            return None

    def _follow_links(self, response: TextResponse, analysis: PageAnalysis) -> Iterator[Request]:
        hops = int(response.meta.get(HOPS, 0))
        max_depth = self.options.max_depth
        seen = self._seen
        links = [
            (url, hops if pagination else hops + 1)
            for url, pagination in analysis.links
            if url not in seen and self.scope.allows(url)
        ]
        # Article-shaped links first: when max_pages cuts the crawl short, it has archived articles.
        links.sort(key=lambda pair: not url_hint(pair[0], self.article_pattern))
        for url, next_hops in links:
            if max_depth is None or next_hops <= max_depth:
                request = self._request(url, role="page", follow=True, hops=next_hops)
                if request is not None:
                    yield request
        if max_depth is not None and hops + 1 > max_depth:
            return
        for url in analysis.feeds:
            if self.scope.in_domain(url) and not any(p.search(url) for p in self.scope.deny):
                request = self._request(url, role="listing", follow=True, hops=hops + 1)
                if request is not None:
                    yield request
