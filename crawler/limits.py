"""Per-response limits: keep the first bytes of a body that is too big or too slow, mark it truncated.

Scrapy's own limits drop a response outright (``DOWNLOAD_MAXSIZE`` cancels the download, and
``DOWNLOAD_TIMEOUT`` fails it), so nothing of it is archived. ``ResponseLimitsMiddleware`` stops the
download earlier and keeps what arrived, through Scrapy's ``StopDownload(fail=False)`` from the
``bytes_received`` signal; the partial response then flows on as usual and the capture middleware writes
it with ``WARC-Truncated: length`` (more than ``LIMITS_MAX_BODY_SIZE`` bytes on the wire) or
``WARC-Truncated: time`` (the body took longer than ``LIMITS_RESPONSE_TIME`` seconds after its headers:
a server trickling a byte every few seconds never trips an idle timeout).

The limits and why they are sized as they are (see ``crawler/settings.py``):

- ``LIMITS_MAX_BODY_SIZE`` (24 MiB) bounds the bytes buffered per response; with
  ``CONCURRENT_REQUESTS`` 16 the worst case is a few hundred MB.
- ``DOWNLOAD_MAXSIZE`` (32 MiB) is Scrapy's hard cap; ``HttpCompressionMiddleware`` applies it to the
  *decompressed* size too and stops inflating a gzip/deflate/br bomb there (the capture already holds the
  raw, still-compressed bytes). Decompression runs on the reactor thread, one response at a time, so
  bombs in flight cost at most about twice that limit at once, not the 1 GiB each of Scrapy's default.
- A response announcing a ``Content-Length`` above ``DOWNLOAD_MAXSIZE`` would be cancelled by Scrapy
  before any byte arrives; for those the wire cap is lifted for that request only (our byte limit stops
  it instead) and restored before decompression.
- A server that sends headers and then nothing (or stops mid-body) never calls ``bytes_received``
  again, so the download handler (``crawler.wire``) also arms a timer at the headers: when the body is
  still incomplete ``LIMITS_RESPONSE_TIME`` seconds later it ends the download with what arrived (perhaps
  nothing but the head), marked ``WARC-Truncated: time`` like the trickle. ``LIMITS_RESPONSE_TIME`` must
  stay below ``DOWNLOAD_TIMEOUT``, or Scrapy's timeout fails the download first and nothing is archived.
- A server that sends nothing at all within ``DOWNLOAD_TIMEOUT`` has nothing to archive: the download
  fails, is retried, and the failure goes to the run log.
"""

from __future__ import annotations

import logging
import time

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured, StopDownload
from scrapy.http import Headers, Response

logger = logging.getLogger(__name__)

# request.meta keys
TRUNCATED = "warc_truncated"          # "length" | "time": read by crawler.capture
_STARTED = "limits_started"           # monotonic time the headers arrived
_RECEIVED = "limits_received"         # body bytes so far
_LIFTED = "limits_maxsize_lifted"     # DOWNLOAD_MAXSIZE lifted for this request at headers time


def mark_truncated(crawler: Crawler, request: Request, reason: str, detail: str) -> None:
    """Mark a download stopped early (``reason`` "length" | "time") for the capture; one log line, one stat."""
    request.meta[TRUNCATED] = reason
    logger.warning("truncated %s: %s; archived what arrived, marked WARC-Truncated: %s",
                   request.url, detail, reason)
    if crawler.stats is not None:
        crawler.stats.inc_value(f"limits/truncated/{reason}")


def body_time_limit(crawler: Crawler) -> float:
    """Seconds a body may take after its headers (``LIMITS_RESPONSE_TIME``); 0 when the limits are off."""
    s = crawler.settings
    return s.getfloat("LIMITS_RESPONSE_TIME") if s.getbool("LIMITS_ENABLED") else 0.0


class ResponseLimitsMiddleware:
    """Truncates over-long and over-slow bodies instead of losing them (priority 955, next to capture)."""

    def __init__(self, crawler: Crawler, max_body: int, max_time: float, hard_max: int) -> None:
        self.crawler = crawler
        self.max_body = max_body
        self.max_time = max_time
        self.hard_max = hard_max
        crawler.signals.connect(self.headers_received, signal=signals.headers_received)
        crawler.signals.connect(self.bytes_received, signal=signals.bytes_received)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ResponseLimitsMiddleware:
        s = crawler.settings
        if not s.getbool("LIMITS_ENABLED"):
            raise NotConfigured("LIMITS_ENABLED is off")
        max_body, hard_max = s.getint("LIMITS_MAX_BODY_SIZE"), s.getint("DOWNLOAD_MAXSIZE")
        if hard_max and max_body >= hard_max:
            raise ValueError(
                f"LIMITS_MAX_BODY_SIZE ({max_body}) must be below DOWNLOAD_MAXSIZE ({hard_max}), or bodies "
                "between the two are dropped by Scrapy instead of archived truncated; lower it or raise "
                "DOWNLOAD_MAXSIZE"
            )
        max_time, timeout = s.getfloat("LIMITS_RESPONSE_TIME"), s.getfloat("DOWNLOAD_TIMEOUT")
        if max_time and timeout and max_time >= timeout:
            logger.warning("LIMITS_RESPONSE_TIME (%g s) is not below DOWNLOAD_TIMEOUT (%g s): a body that stalls "
                           "fails with the timeout and is not archived; lower LIMITS_RESPONSE_TIME", max_time, timeout)
        return cls(crawler, max_body, max_time, hard_max)

    # -- signals (called by the download handler) ---------------------------------------------------

    def headers_received(self, headers: Headers, body_length: object, request: Request, spider: Spider) -> None:
        request.meta[_STARTED] = time.monotonic()
        request.meta[_RECEIVED] = 0
        # body_length is Twisted's UNKNOWN_LENGTH (not an int) for chunked or close-delimited bodies
        if isinstance(body_length, int) and self.hard_max and body_length > self.hard_max and self.max_body:
            # Let Scrapy start the download; bytes_received stops it at max_body and keeps the head.
            request.meta["download_maxsize"] = 0
            request.meta[_LIFTED] = True

    def bytes_received(self, data: bytes, request: Request, spider: Spider) -> None:
        received = request.meta.get(_RECEIVED, 0) + len(data)
        request.meta[_RECEIVED] = received
        reason = None
        if self.max_body and received >= self.max_body:
            reason = "length"
            detail = f"{received} bytes, LIMITS_MAX_BODY_SIZE is {self.max_body}"
        elif self.max_time and time.monotonic() - request.meta.get(_STARTED, time.monotonic()) > self.max_time:
            reason = "time"
            detail = f"body still arriving after LIMITS_RESPONSE_TIME ({self.max_time:g} s)"
        if reason is None:
            return
        mark_truncated(self.crawler, request, reason, detail)
        raise StopDownload(fail=False)

    # -- downloader middleware ---------------------------------------------------------------------------

    def process_response(self, request: Request, response: Response, spider: Spider | None = None) -> Response:
        if request.meta.pop(_LIFTED, False):
            # Restore the cap before HttpCompressionMiddleware (590) reads it as the decompression limit.
            request.meta["download_maxsize"] = self.hard_max
        return response
