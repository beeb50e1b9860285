"""Capture every HTTP exchange into WARC records, as close to the wire as Scrapy allows.

``WarcCaptureMiddleware`` sits at priority 950, next to the downloader, so its ``process_response`` sees
each response before HttpCompressionMiddleware (590) decodes it, before RedirectMiddleware (600) follows
it and before RetryMiddleware (550) retries it: redirects, robots.txt, sitemaps, feeds and error pages
are all archived, with the body still content-encoded as received.

The response head (status line, header names, order and duplicates) comes from the wire, kept by
``crawler.wire.ArchivingHTTPDownloadHandler``. What Scrapy cannot give back is said in the record's
``WARC-X-Reconstructed`` header instead of being faked: the request record is rebuilt from the Request
object ("request"); Twisted removes chunked transfer coding ("transfer-encoding": the header is kept
renamed to ``X-Archive-Orig-Transfer-Encoding`` so that readers do not de-chunk the body again); and
when another download handler is configured, header names arrive Title-Cased ("header-case") and the
reason phrase is the standard one ("status-line").
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from urllib.parse import urlsplit

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import threads
from twisted.python.threadpool import ThreadPool

from archive.writer import HttpExchange, WarcLocation
from crawler.incremental import capture_revisit
from crawler.storage import ArchiveStorage
from crawler.wire import RAW_HEAD_META, parse_raw_head

logger = logging.getLogger(__name__)

_HOP_BY_HOP_RENAMED = b"X-Archive-Orig-Transfer-Encoding"


def _pairs(headers: object) -> list[tuple[str, str]]:
    """Scrapy Headers -> ordered (name, value) pairs, one per value, decoded as latin-1."""
    pairs: list[tuple[str, str]] = []
    for key, values in headers.items():  # type: ignore[attr-defined]
        name = key.decode("latin-1") if isinstance(key, bytes) else str(key)
        for value in values or [b""]:
            pairs.append((name, value.decode("latin-1") if isinstance(value, bytes) else str(value)))
    return pairs


def utc_iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class WarcCaptureMiddleware:
    """Writes a request + response record pair for every response that comes back from the downloader."""

    def __init__(self, crawler: Crawler, storage: ArchiveStorage, *, writer_thread: bool = True) -> None:
        self.crawler = crawler
        self.storage = storage
        # One thread writes every record, in arrival order: gzip and SHA-1 of the bodies release the GIL,
        # so they run on the second core while the reactor thread parses the next pages.
        self._pool: ThreadPool | None = None
        if writer_thread:
            self._pool = ThreadPool(minthreads=1, maxthreads=1, name="warc-writer")
            crawler.signals.connect(self._stop_pool, signal=signals.engine_stopped)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcCaptureMiddleware:
        storage = crawler.get_extension(ArchiveStorage)
        if storage is None:
            raise NotConfigured("WarcCaptureMiddleware needs the crawler.storage.ArchiveStorage extension")
        return cls(crawler, storage, writer_thread=crawler.settings.getbool("ARCHIVE_WRITER_THREAD", True))

    def _stop_pool(self) -> None:
        if self._pool is not None and self._pool.started:
            self._pool.stop()

    async def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Response:
        if urlsplit(response.url).scheme not in ("http", "https"):
            return response
        if request.meta.get("resumed_from"):  # crawler.resume replayed it from this run's WARC: archived already
            return response
        now = datetime.now(UTC)
        exchange = self.exchange(request, response, now)
        content_type = (response.headers.get(b"Content-Type") or b"").decode("latin-1")
        mime = content_type.split(";")[0].strip().lower()
        if self._pool is None:
            resp_loc, revisit = self._store(exchange, request.meta, mime)
        else:
            from twisted.internet import reactor

            if not self._pool.started:
                self._pool.start()
                # A forced shutdown (a second Ctrl-C) stops the reactor without engine_stopped: the
                # writer thread would then keep the process alive for ever.
                reactor.addSystemEventTrigger("during", "shutdown", self._stop_pool)  # type: ignore[arg-type]

            resp_loc, revisit = await maybe_deferred_to_future(
                threads.deferToThreadPool(reactor, self._pool, self._store, exchange, request.meta, mime)  # type: ignore[arg-type]
            )
        request.meta["warc"] = resp_loc.to_dict()
        request.meta["warc_date"] = utc_iso(now)
        stats = self.crawler.stats
        if stats is not None:
            stats.inc_value("archive/responses")
            stats.inc_value(f"archive/status/{response.status}")
            if not revisit:
                stats.inc_value("archive/bytes", len(response.body))
            else:
                stats.inc_value("archive/revisits")
        return response

    def _store(self, exchange: HttpExchange, meta: dict[str, object], mime: str) -> tuple[WarcLocation, bool]:
        """Write the exchange (or its revisit) and its catalog row; runs in the writer thread when enabled."""
        writer = self.storage.writer
        catalog = self.storage.catalog
        if writer is None or catalog is None:  # the spider has not opened yet: cannot happen in a crawl
            raise RuntimeError("WARC capture before the archive storage was opened")
        # Incremental re-crawl (crawler.incremental): when request.meta["revisit_of"] names the previous
        # capture and this response confirms it (304, or the same payload digest), write a revisit record.
        revisit_loc = capture_revisit(writer, exchange, meta)
        if revisit_loc is None:
            resp_loc, _req_loc = writer.write_exchange(exchange)
        else:
            resp_loc = revisit_loc
        catalog.add_capture(
            url=exchange.url,
            fetched_at=utc_iso(exchange.date),
            status=exchange.status,
            mime=mime,
            payload_digest=resp_loc.payload_digest,
            warc_filename=resp_loc.filename,
            warc_offset=resp_loc.offset,
            warc_length=resp_loc.length,
            record_id=resp_loc.record_id,
            warc_type="response" if revisit_loc is None else "revisit",
            run_id=self.storage.run_id,
        )
        return resp_loc, revisit_loc is not None

    def exchange(self, request: Request, response: Response, now: datetime) -> HttpExchange:
        reconstructed = ["request"]
        raw = request.meta.pop(RAW_HEAD_META, None)
        parsed = parse_raw_head(raw) if raw else None
        if parsed is not None and parsed[1] == response.status:
            # The head as sent (crawler.wire): status line, header case, order and duplicates kept.
            protocol, _status, reason, response_headers = parsed
        else:
            protocol, reason = response.protocol or "HTTP/1.1", ""
            response_headers = _pairs(response.headers)
            reconstructed += ["header-case", "status-line"]
            if not response.protocol:
                reconstructed.append("protocol")
        if any(k.lower() == "transfer-encoding" for k, _ in response_headers):
            reconstructed.append("transfer-encoding")
            response_headers = [
                (_HOP_BY_HOP_RENAMED.decode() if k.lower() == "transfer-encoding" else k, v)
                for k, v in response_headers
            ]
        parts = urlsplit(request.url)
        request_headers = [("Host", parts.netloc)] + [
            (k, v) for k, v in _pairs(request.headers) if k.lower() != "host"
        ]
        # WARC-Truncated: "length"/"time" when crawler.limits stopped the download, "length" when the
        # server sent less than it announced (DOWNLOAD_FAIL_ON_DATALOSS off keeps the partial body).
        truncated = request.meta.get("warc_truncated") or ("length" if "dataloss" in response.flags else None)
        return HttpExchange(
            url=response.url,
            date=now,
            method=request.method,
            request_headers=request_headers,
            request_body=request.body or b"",
            status=response.status,
            reason=reason,
            protocol=protocol,
            response_headers=response_headers,
            body=response.body,
            ip_address=str(response.ip_address) if response.ip_address else None,
            reconstructed=tuple(reconstructed),
            truncated=truncated,
        )
