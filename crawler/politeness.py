"""Retry-After on 429 and 503: wait what the server asks (up to a ceiling), then retry.

Scrapy's RetryMiddleware retries 429/503 at once; a polite crawler waits. This middleware sits just
before it (priority 560; responses flow from high to low priority), so a response carrying
``Retry-After`` is retried here after the delay, and the per-host download slot is slowed down for the
same time so that other requests to that host wait too. Both forms of the header are understood:
delta-seconds and an HTTP-date. Delays above ``RETRY_AFTER_MAX_DELAY`` are capped to it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.exceptions import NotConfigured
from scrapy.http import Response

logger = logging.getLogger(__name__)


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

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RetryAfterMiddleware:
        if not crawler.settings.getbool("RETRY_ENABLED"):
            raise NotConfigured("RETRY_ENABLED is off")
        return cls(crawler, crawler.settings.getfloat("RETRY_AFTER_MAX_DELAY"))

    async def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        if response.status not in (429, 503) or request.meta.get("dont_retry"):
            return response
        header = response.headers.get(b"Retry-After")
        if not header:
            return response
        delay = parse_retry_after(header.decode("latin-1"))
        if delay is None:
            logger.warning("ignoring unparseable Retry-After %r from %s", header, response.url)
            return response
        delay = min(delay, self.max_delay)
        if self.crawler.spider is None:
            return response
        retry = get_retry_request(request, spider=self.crawler.spider, reason=f"{response.status} Retry-After {delay:g}s")
        if retry is None:
            return response
        self._slow_down_slot(request, delay)
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value("politeness/retry_after")
        logger.info("%s answered %d, retrying after %g s", response.url, response.status, delay)
        await asyncio.sleep(delay)
        return retry

    def _slow_down_slot(self, request: Request, delay: float) -> None:
        engine = self.crawler.engine
        if engine is None:
            return
        downloader = engine.downloader
        key = downloader.get_slot_key(request)
        slot = downloader.slots.get(key)
        if slot is not None:
            slot.delay = max(slot.delay, delay)
