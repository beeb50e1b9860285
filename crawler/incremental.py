"""Incremental re-crawls: conditional requests, revisit records and article versions.

A crawl into a data directory that already holds captures does not archive an unchanged page twice:

* ``IncrementalMiddleware`` (downloader middleware, priority 800: its responses come after the capture
  middleware (950) and Scrapy's DownloaderStats (850), which count the real 304, and before decompression
  (590) and redirects (600)) looks up the URL's previous capture in the catalog. It adds ``If-None-Match`` /
  ``If-Modified-Since`` from that capture's response headers (read back from its WARC record) and puts
  the capture in ``request.meta["revisit_of"]``.
* ``crawler.capture.WarcCaptureMiddleware`` calls ``capture_revisit``: a 304 becomes a ``revisit`` record
  with the server-not-modified profile, a 200 whose payload digest equals the previous capture's an
  identical-payload-digest revisit; both refer to the earlier response (``WARC-Refers-To``,
  ``-Target-URI``, ``-Date``) so replay resolves them. The 304 revisit has an empty block (so pywb
  replays the original's status, headers and payload instead of a 304); the 304 as received goes into a
  ``metadata`` record (``application/http; msgtype=response``) concurrent to it. The catalog gets a ``revisit`` capture row: the
  page was seen again.
* Back in ``IncrementalMiddleware``, a 304 is replaced by the archived response it confirms, so the
  spider still follows the links of an unchanged section page. ``RevisitFilterPipeline`` (250, before
  extraction) drops the items of revisited pages: no duplicate JSON record.
* ``VersionPipeline`` (500, after extraction, before storage) compares the text fingerprint
  (``archive.records.text_fingerprint``) with the URL's latest record: same text (only ads or
  timestamps changed) is counted as unchanged and not stored again; changed text becomes a new record
  with ``version`` + 1 and ``previous`` = the earlier record's id.

Revisit policy (``RevisitPolicy``, settings ``INCREMENTAL_*``): seeds, section pages, feeds and sitemaps
are re-fetched on every run (conditionally) to discover new links. An article already captured is
re-checked when its listing date (sitemap ``lastmod``, feed date; ``request.meta["listing_date"]``) is
newer than its last capture, or when its re-check interval has passed: every run while it is younger
than ``INCREMENTAL_RECENT_HOURS`` (age counted from its first capture), then every
``age * INCREMENTAL_REVISIT_FACTOR``, at most ``INCREMENTAL_MAX_INTERVAL_HOURS``. Otherwise the request is
dropped (``IgnoreRequest``, counted as ``incremental/not_due``). The listing date is the newest any
listing of the run gave for the URL (``spider.listing_dates``): when the request is downloaded, and again
when the spider is idle, so an article met first through a link and dated anew by a sitemap parsed later
is still fetched (``incremental/relisted``). (A news sitemap's publication date never makes an article due; such sitemaps list
the last two days, which are re-checked every run anyway.)

Stats (``incremental/...``): ``conditional``, ``not_modified`` (304), ``identical`` (same digest),
``unchanged`` (both, plus unchanged text), ``unchanged_text``, ``new``, ``changed``, ``new_articles``,
``changed_articles``, ``not_due``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, DropItem, IgnoreRequest, NotConfigured
from scrapy.http import Response
from scrapy.http.headers import Headers
from scrapy.responsetypes import responsetypes

from archive.reader import ArchiveError, read_record
from archive.records import text_fingerprint
from archive.timeutil import parse_iso
from archive.writer import HttpExchange, WarcLocation, WarcWriter, sha1_digest
from crawler.items import PageItem
from crawler.storage import ArchiveStorage

__all__ = [
    "LISTING_DATE",
    "REVISIT",
    "REVISIT_OF",
    "IncrementalMiddleware",
    "IncrementalState",
    "PreviousCapture",
    "RevisitFilterPipeline",
    "RevisitPolicy",
    "VersionPipeline",
    "capture_revisit",
]

logger = logging.getLogger(__name__)

REVISIT_OF = "revisit_of"        # request.meta: PreviousCapture.to_meta() of the URL's last full capture
REVISIT = "revisit"              # request.meta, set by capture_revisit: the revisit profile written
LISTING_DATE = "listing_date"    # request.meta, set by the spider: the sitemap/feed date of the entry
NOT_MODIFIED_HEADERS_TYPE = "application/http; msgtype=response"   # metadata record: a 304's headers
_ROLE = "news_role"              # request.meta of spiders.news: "seed" requests are never skipped


@dataclass(frozen=True)
class PreviousCapture:
    """The last full (``response``) capture of a URL, and what a conditional request needs from it."""

    url: str
    fetched_at: datetime
    status: int
    location: WarcLocation
    etag: str | None = None
    last_modified: str | None = None

    def to_meta(self) -> dict[str, Any]:
        return {"url": self.url, "fetched_at": self.fetched_at.isoformat(), "status": self.status,
                "location": self.location.to_dict(), "etag": self.etag, "last_modified": self.last_modified}

    @classmethod
    def from_meta(cls, d: Mapping[str, Any]) -> PreviousCapture:
        return cls(url=d["url"], fetched_at=parse_iso(d["fetched_at"]), status=int(d["status"]),
                   location=WarcLocation.from_dict(d["location"]), etag=d.get("etag"),
                   last_modified=d.get("last_modified"))


def capture_revisit(writer: WarcWriter, exchange: HttpExchange, meta: MutableMapping[str, Any]) -> WarcLocation | None:
    """Write ``exchange`` as a revisit record when it confirms ``meta["revisit_of"]``; else ``None``.

    A 304 gives a server-not-modified revisit; a response with the previous status and payload digest
    (and not truncated) an identical-payload-digest revisit. Sets ``meta["revisit"]`` to the profile.
    """
    previous = meta.get(REVISIT_OF)
    if not previous:
        return None
    prev = PreviousCapture.from_meta(previous)
    if exchange.status == 304:
        profile = "server-not-modified"
    elif (exchange.status == prev.status and exchange.truncated is None
          and prev.location.payload_digest == sha1_digest(exchange.body)):
        profile = "identical-payload-digest"
    else:
        return None
    if profile == "server-not-modified":
        # Replay engines (pywb, wabac.js) serve a revisit's own status line when it has one, so a 304 would
        # replay as a 304; with an empty block they serve the original's status, headers and payload. The
        # 304 as received is kept in a metadata record (application/http) concurrent to the revisit.
        location, _request = writer.write_revisit(
            exchange, refers_to=prev.location, refers_to_uri=prev.url, refers_to_date=prev.fetched_at,
            profile=profile, http_headers=False)
        head = f"{exchange.protocol or 'HTTP/1.1'} {exchange.status} {exchange.reason or 'Not Modified'}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in exchange.response_headers) + "\r\n"
        writer.write_metadata(url=exchange.url, concurrent_to=location.record_id, date=exchange.date,
                              payload=head.encode("latin-1", "replace"), content_type=NOT_MODIFIED_HEADERS_TYPE)
    else:
        location, _request = writer.write_revisit(exchange, refers_to=prev.location, refers_to_uri=prev.url,
                                                  refers_to_date=prev.fetched_at, profile=profile)
    meta[REVISIT] = profile
    return location


@dataclass(frozen=True)
class RevisitPolicy:
    """When an article captured before is fetched again (see the module docstring)."""

    recent: timedelta = timedelta(hours=48)
    factor: float = 0.25
    max_interval: timedelta = timedelta(days=30)

    def interval(self, age: timedelta) -> timedelta:
        """Time between re-checks of an article first captured ``age`` ago."""
        if age < self.recent:
            return timedelta(0)
        return min(age * self.factor, self.max_interval)

    def due(self, now: datetime, first_seen: datetime, last_seen: datetime,
            listed_at: datetime | None = None) -> bool:
        """True when the article should be fetched (conditionally) again at ``now``."""
        if listed_at is not None and listed_at > last_seen:
            return True
        return now - last_seen >= self.interval(now - first_seen)


class IncrementalState:
    """Per-crawl state shared by the middleware and the pipelines (a Scrapy extension).

    ``revisits`` holds the record ids of the revisit records written in this run: items whose
    ``warc["record_id"]`` is one of them come from an unchanged page.
    """

    def __init__(self, crawler: Crawler, policy: RevisitPolicy, conditional: bool) -> None:
        self.crawler = crawler
        self._storage: ArchiveStorage | None = None
        self.policy = policy
        self.conditional = conditional
        self.revisits: set[str] = set()
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        # Article requests dropped as not due, with their last capture time: a listing parsed later in
        # the run may date them anew (see ``relist``).
        self.parked: dict[str, tuple[Request, datetime]] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> IncrementalState:
        settings = crawler.settings
        if not settings.getbool("INCREMENTAL_ENABLED", True):
            raise NotConfigured("INCREMENTAL_ENABLED is off")
        if not settings.getbool("ARCHIVE_ENABLED", True):
            raise NotConfigured("incremental re-crawls need the archive (ARCHIVE_ENABLED is off)")
        policy = RevisitPolicy(
            recent=timedelta(hours=settings.getfloat("INCREMENTAL_RECENT_HOURS", 48.0)),
            factor=settings.getfloat("INCREMENTAL_REVISIT_FACTOR", 0.25),
            max_interval=timedelta(hours=settings.getfloat("INCREMENTAL_MAX_INTERVAL_HOURS", 720.0)),
        )
        state = cls(crawler, policy, settings.getbool("INCREMENTAL_CONDITIONAL", True))
        crawler.signals.connect(state.relist, signal=signals.spider_idle)
        return state

    def relist(self, spider: Spider) -> None:
        """On spider_idle: fetch the dropped articles that a later listing dated after their last capture."""
        dates = getattr(spider, "listing_dates", {})
        due = [(request, dates[url]) for url, (request, last_seen) in self.parked.items()
               if isinstance(dates.get(url), datetime) and dates[url] > last_seen]
        if not due or self.crawler.engine is None:
            return
        for request, listed in due:
            del self.parked[request.url]
            self.inc("relisted")
            self.crawler.engine.crawl(request.replace(dont_filter=True, meta={**request.meta, LISTING_DATE: listed}))
        raise DontCloseSpider(f"{len(due)} article(s) dated anew by a later sitemap or feed")

    @property
    def storage(self) -> ArchiveStorage:
        """The crawl's ArchiveStorage (looked up on first use: extensions cannot find each other while built)."""
        if self._storage is None:
            storage = self.crawler.get_extension(ArchiveStorage)
            if storage is None:
                raise RuntimeError("incremental re-crawls need the crawler.storage.ArchiveStorage extension")
            self._storage = storage
        return self._storage

    def inc(self, key: str, count: int = 1) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(f"incremental/{key}", count)

    def history(self, url: str) -> tuple[PreviousCapture | None, datetime, datetime, dict[str, Any] | None] | None:
        """(last full capture, first seen, last seen, latest record row) of ``url``; ``None`` if never seen."""
        catalog = self.storage.catalog
        if catalog is None:
            raise RuntimeError("incremental lookup before the archive storage was opened")
        found = catalog.capture_history(url)
        if found is None:
            return None
        first, latest, row = found
        first_seen, last_seen = parse_iso(first["fetched_at"]), parse_iso(latest["fetched_at"])
        previous = None
        if row is not None:
            location = WarcLocation(row["warc_filename"], row["warc_offset"], row["warc_length"],
                                    row["record_id"], row["payload_digest"])
            previous = PreviousCapture(url, parse_iso(row["fetched_at"]), int(row["status"] or 0), location)
        return previous, first_seen, last_seen, catalog.latest_record(url)

    def load(self, location: WarcLocation) -> Any:
        """The archived record at ``location`` (``archive.reader.ArchivedRecord``)."""
        path = self.storage.data_dir / "warc" / location.filename
        if not path.exists() and Path(str(path) + ".open").exists():
            path = Path(str(path) + ".open")
        return read_record(path, location.offset, location.length)


class IncrementalMiddleware:
    """Conditional requests and the revisit policy (process_request); 304 -> archived page (process_response)."""

    def __init__(self, state: IncrementalState) -> None:
        self.state = state

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> IncrementalMiddleware:
        state = crawler.get_extension(IncrementalState)
        if state is None:
            raise NotConfigured("IncrementalMiddleware needs the crawler.incremental.IncrementalState extension")
        return cls(state)

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        parts = urlsplit(request.url)
        if parts.scheme not in ("http", "https") or request.method != "GET":
            return None
        found = self.state.history(request.url)
        if found is None:
            return None
        previous, first_seen, last_seen, record = found
        if record is not None and record.get("kind") == "article" and request.meta.get(_ROLE) != "seed":
            listed_at = self._listed_at(request)
            if not self.state.policy.due(self.state.clock(), first_seen, last_seen, listed_at):
                self.state.inc("not_due")
                self.state.parked[request.url] = (request, last_seen)
                raise IgnoreRequest(f"{request.url}: captured {last_seen:%Y-%m-%d %H:%M}Z, not due for a re-check")
        if previous is None:
            return None
        previous = self._from_warc(previous)
        # robots.txt is never fetched conditionally: Scrapy's robots parser would read a 304 as empty.
        conditional = self.state.conditional and parts.path != "/robots.txt" and previous.status == 200
        if conditional:
            if previous.etag:
                request.headers[b"If-None-Match"] = previous.etag
            if previous.last_modified:
                request.headers[b"If-Modified-Since"] = previous.last_modified
            if previous.etag or previous.last_modified:
                self.state.inc("conditional")
        request.meta[REVISIT_OF] = previous.to_meta()
        return None

    def _listed_at(self, request: Request) -> datetime | None:
        """The newest listing date of the URL: the request's own, or a newer one a later listing gave."""
        dates = []
        listed = request.meta.get(LISTING_DATE)
        if isinstance(listed, str | datetime):
            dates.append(parse_iso(listed))
        spider = getattr(self.state.crawler, "spider", None)
        newest = getattr(spider, "listing_dates", {}).get(request.url)
        if isinstance(newest, datetime):
            dates.append(parse_iso(newest))
        return max(dates) if dates else None

    def _from_warc(self, previous: PreviousCapture) -> PreviousCapture:
        """The validators (ETag, Last-Modified) and exact WARC-Date of the previous capture's record."""
        try:
            rec = self.state.load(previous.location)
        except (OSError, ArchiveError) as exc:
            logger.warning("cannot read the previous capture of %s (%s); fetching it unconditionally",
                           previous.url, exc)
            return previous
        return PreviousCapture(previous.url, rec.datetime or previous.fetched_at, previous.status,
                               previous.location, rec.http_header("ETag"), rec.http_header("Last-Modified"))

    def process_response(self, request: Request, response: Response, spider: Spider | None = None) -> Response:
        profile = request.meta.get(REVISIT)
        if profile is None:
            if request.meta.get(REVISIT_OF) and response.status == 200:
                self.state.inc("changed_payload")
            return response
        warc = request.meta.get("warc")
        if isinstance(warc, Mapping):
            self.state.revisits.add(str(warc["record_id"]))
        if profile == "identical-payload-digest":
            self.state.inc("identical")
            return response
        self.state.inc("not_modified")
        previous = PreviousCapture.from_meta(request.meta[REVISIT_OF])
        try:
            rec = self.state.load(previous.location)
        except (OSError, ArchiveError) as exc:
            logger.warning("%s answered 304 but its archived copy cannot be read (%s): links on it are "
                           "not followed this run", request.url, exc)
            return response
        headers = Headers()
        for name, value in rec.http_headers:
            headers.appendlist(name, value.encode("latin-1", "replace"))
        cls = responsetypes.from_args(headers=headers, url=response.url, body=rec.raw_payload)
        return cls(url=response.url, status=previous.status, headers=headers, body=rec.raw_payload,
                   request=request, flags=[*response.flags, "revisit"], protocol=response.protocol)


class RevisitFilterPipeline:
    """Drops the items of pages archived as revisits in this run, before extraction (no duplicate record)."""

    def __init__(self, state: IncrementalState) -> None:
        self.state = state

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RevisitFilterPipeline:
        state = crawler.get_extension(IncrementalState)
        if state is None:
            raise NotConfigured("RevisitFilterPipeline needs the crawler.incremental.IncrementalState extension")
        return cls(state)

    def process_item(self, item: Any, spider: Spider | None = None) -> Any:
        if isinstance(item, PageItem) and item.warc and str(item.warc.get("record_id")) in self.state.revisits:
            self.state.inc("unchanged")
            raise DropItem(f"unchanged since the last capture (revisit record): {item.url}", log_level="DEBUG")
        return item


class VersionPipeline:
    """Numbers versions by text fingerprint; a page whose text did not change is not stored again."""

    def __init__(self, state: IncrementalState) -> None:
        self.state = state

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> VersionPipeline:
        state = crawler.get_extension(IncrementalState)
        if state is None:
            raise NotConfigured("VersionPipeline needs the crawler.incremental.IncrementalState extension")
        return cls(state)

    def process_item(self, item: Any, spider: Spider | None = None) -> Any:
        if not isinstance(item, PageItem):
            return item
        catalog = self.state.storage.catalog
        if catalog is None:
            raise RuntimeError("VersionPipeline used before the archive storage was opened")
        ext = item.extraction
        fingerprint = text_fingerprint(ext.title, ext.text) if ext is not None else None
        previous = catalog.latest_record(item.url)
        article = item.kind == "article"
        if previous is None:
            item.extra.update(version=1, previous=None, text_fingerprint=fingerprint)
            self.state.inc("new")
            if article:
                self.state.inc("new_articles")
            return item
        if fingerprint is not None and previous.get("text_fingerprint") == fingerprint:
            self.state.inc("unchanged_text")
            self.state.inc("unchanged")
            raise DropItem(f"text unchanged since record {previous['id']}: {item.url}", log_level="DEBUG")
        item.extra.update(version=int(previous.get("version") or 1) + 1, previous=previous["id"],
                          text_fingerprint=fingerprint)
        self.state.inc("changed")
        if article:
            self.state.inc("changed_articles")
        return item
