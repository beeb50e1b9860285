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

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response

from archive.writer import HttpExchange
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

    def __init__(self, crawler: Crawler, storage: ArchiveStorage) -> None:
        self.crawler = crawler
        self.storage = storage

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcCaptureMiddleware:
        storage = crawler.get_extension(ArchiveStorage)
        if storage is None:
            raise NotConfigured("WarcCaptureMiddleware needs the crawler.storage.ArchiveStorage extension")
        return cls(crawler, storage)

    def process_response(self, request: Request, response: Response, spider: Spider | None = None) -> Response:
        if urlsplit(response.url).scheme not in ("http", "https"):
            return response
        if request.meta.get("resumed_from"):  # crawler.resume replayed it from this run's WARC: archived already
            return response
        now = datetime.now(UTC)
        exchange = self.exchange(request, response, now)
        writer = self.storage.writer
        catalog = self.storage.catalog
        if writer is None or catalog is None:  # the spider has not opened yet: cannot happen in a crawl
            raise RuntimeError("WARC capture before the archive storage was opened")
        # Incremental re-crawl (crawler.incremental): when request.meta["revisit_of"] names the previous
        # capture and this response confirms it (304, or the same payload digest), write a revisit record.
        revisit_loc = capture_revisit(writer, exchange, request.meta)
        if revisit_loc is None:
            resp_loc, _req_loc = writer.write_exchange(exchange)
        else:
            resp_loc = revisit_loc
        content_type = (response.headers.get(b"Content-Type") or b"").decode("latin-1")
        catalog.add_capture(
            url=response.url,
            fetched_at=utc_iso(now),
            status=response.status,
            mime=content_type.split(";")[0].strip().lower(),
            payload_digest=resp_loc.payload_digest,
            warc_filename=resp_loc.filename,
            warc_offset=resp_loc.offset,
            warc_length=resp_loc.length,
            record_id=resp_loc.record_id,
            warc_type="response" if revisit_loc is None else "revisit",
            run_id=self.storage.run_id,
        )
        request.meta["warc"] = resp_loc.to_dict()
        request.meta["warc_date"] = utc_iso(now)
        stats = self.crawler.stats
        if stats is not None:
            stats.inc_value("archive/responses")
            stats.inc_value(f"archive/status/{response.status}")
            if revisit_loc is None:
                stats.inc_value("archive/bytes", len(response.body))
            else:
                stats.inc_value("archive/revisits")
        return response

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
