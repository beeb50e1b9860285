"""Retry-After on 429 and 503: wait what the server asks (up to a ceiling), then retry.

Scrapy's RetryMiddleware retries 429/503 at once; a polite crawler waits. This middleware sits just
before it (priority 560; responses flow from high to low priority), so a response carrying
``Retry-After`` is retried here after the delay, and the per-host download slot is slowed down for the
same time so that other requests to that host wait too. Both forms of the header are understood:
delta-seconds and an HTTP-date. Delays above ``RETRY_AFTER_MAX_DELAY`` are capped to it.

The slowdown ends: the slot's delay before the first Retry-After is kept, and when the retried request
gets an answer that is not another Retry-After (it succeeded, or failed some other way) or fails with an
exception, the slot's delay returns to that value (AutoThrottle, when on, goes on adjusting from there).
Stats: ``politeness/retry_after`` (slowdowns), ``politeness/retry_after_ended`` (slots back to their
delay), ``politeness/slots_slowed`` (slots slowed right now; at the end of a crawl 0, unless it stopped
while waiting).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.exceptions import NotConfigured
from scrapy.http import Response

logger = logging.getLogger(__name__)

SLOWED_SLOT = "retry_after_slot"   # request.meta: the download slot key a Retry-After slowed for this retry


def parse_retry_after(value: str, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (delta-seconds or HTTP-date); None if unparseable."""
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class RetryAfterMiddleware:
    def __init__(self, crawler: Crawler, max_delay: float) -> None:
        self.crawler = crawler
        self.max_delay = max_delay
        self.restore_to: dict[str, float] = {}   # slowed slot key -> its delay before the first Retry-After

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RetryAfterMiddleware:
        if not crawler.settings.getbool("RETRY_ENABLED"):
            raise NotConfigured("RETRY_ENABLED is off")
        return cls(crawler, crawler.settings.getfloat("RETRY_AFTER_MAX_DELAY"))

    async def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        header = response.headers.get(b"Retry-After") if response.status in (429, 503) else None
        if not header or request.meta.get("dont_retry"):
            self._end_slowdown(request)
            return response
        delay = parse_retry_after(header.decode("latin-1"))
        if delay is None:
            logger.warning("ignoring unparseable Retry-After %r from %s", header, response.url)
            self._end_slowdown(request)
            return response
        delay = min(delay, self.max_delay)
        if self.crawler.spider is None:
            return response
        retry = get_retry_request(request, spider=self.crawler.spider, reason=f"{response.status} Retry-After {delay:g}s")
        if retry is None:
            self._end_slowdown(request)
            return response
        key = self._slow_down_slot(request, delay)
        if key is not None:
            retry.meta[SLOWED_SLOT] = key
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value("politeness/retry_after")
        logger.info("%s answered %d, retrying after %g s", response.url, response.status, delay)
        await asyncio.sleep(delay)
        return retry

    def process_exception(self, request: Request, exception: Exception, spider: Spider | None = None) -> None:
        self._end_slowdown(request)

    def _slot(self, key: str) -> Any:
        engine = self.crawler.engine
        return engine.downloader.slots.get(key) if engine is not None else None

    def _slow_down_slot(self, request: Request, delay: float) -> str | None:
        """Raise the delay of ``request``'s download slot to ``delay``; the slot key, None without a slot."""
        engine = self.crawler.engine
        if engine is None:
            return None
        key = engine.downloader.get_slot_key(request)
        slot = engine.downloader.slots.get(key)
        if slot is None:
            return None
        self.restore_to.setdefault(key, slot.delay)
        slot.delay = max(slot.delay, delay)
        self._count_slowed()
        return key

    def _end_slowdown(self, request: Request) -> None:
        """After the retry a Retry-After asked for: the slot goes back to its delay from before."""
        key = request.meta.get(SLOWED_SLOT)
        if key is None or key not in self.restore_to:
            return
        delay = self.restore_to.pop(key)
        self._count_slowed()
        slot = self._slot(key)
        if slot is None:
            return
        slot.delay = delay
        logger.info("%s: Retry-After slowdown over, download delay back to %g s", key, delay)
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value("politeness/retry_after_ended")

    def _count_slowed(self) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.set_value("politeness/slots_slowed", len(self.restore_to))
