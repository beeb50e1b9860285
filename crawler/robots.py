"""robots.txt as RFC 9309 says, on top of Scrapy's RobotsTxtMiddleware.

Scrapy parses whatever body comes back, whatever the status, and allows everything when the fetch
fails. RFC 9309 (section 2.3.1) asks for:

- 2xx: parse it; at least the first 500 KiB must be parsed (``ROBOTSTXT_MAX_SIZE``, cut at a line end);
- 4xx ("unavailable"): the crawler may access any resource;
- 5xx or a network error ("unreachable"): assume complete disallow, and try again later (but not when
  the connection is refused or the name does not resolve: the pages would fail the same way). Requests for
  that host wait here (they hold no download slot) and the robots.txt is fetched again after
  ``ROBOTSTXT_RETRY_DELAY`` seconds, at most ``ROBOTSTXT_RETRY_TIMES`` times; if it is still unreachable,
  the waiting and later requests are dropped as disallowed, with one warning per host.
- too many redirects (a 3xx left after Scrapy's RedirectMiddleware): unavailable, as the RFC allows.

Every robots.txt response is archived by the capture middleware like any other exchange.
"""

from __future__ import annotations

import asyncio
import logging
import time

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import CannotResolveHostError, DownloadConnectionRefusedError, IgnoreRequest
from scrapy.http import Response
from scrapy.http.request import NO_CALLBACK
from scrapy.robotstxt import RobotParser
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler
from twisted.internet.defer import Deferred
from twisted.internet.error import DNSLookupError

logger = logging.getLogger(__name__)

_DISALLOW_ALL = b"User-agent: *\nDisallow: /\n"


def cut_robots(body: bytes, limit: int) -> bytes:
    """The first ``limit`` bytes of a robots.txt, ending at a line end (a partial rule is not parsed)."""
    if limit <= 0 or len(body) <= limit:
        return body
    head = body[:limit]
    end = max(head.rfind(b"\n"), head.rfind(b"\r"))
    return head[: end + 1] if end >= 0 else b""


class RobotsMiddleware(RobotsTxtMiddleware):
    """RFC 9309 status handling, retry of unreachable robots.txt and a parse size limit."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        s = crawler.settings
        self.retry_delay = s.getfloat("ROBOTSTXT_RETRY_DELAY")
        self.retry_times = s.getint("ROBOTSTXT_RETRY_TIMES")
        self.max_size = s.getint("ROBOTSTXT_MAX_SIZE")
        # netloc -> (monotonic time of the next attempt, failed attempts so far); only unreachable hosts
        self._unreachable: dict[str, tuple[float, int]] = {}

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        if request.meta.get("dont_obey_robotstxt"):
            if request.callback is NO_CALLBACK and urlparse_cached(request).path == "/robots.txt":
                # this middleware's own fetch: it is tried again on its own schedule (ROBOTSTXT_RETRY_*),
                # not also by RetryMiddleware (which made each attempt three requests)
                request.meta.setdefault("dont_retry", True)
            return
        netloc = urlparse_cached(request).netloc
        while True:
            await self.robot_parser(request)
            # Not the value robot_parser returns: requests that waited for the same robots.txt fetch get
            # None from it (each Deferred.asFuture callback passes None down the chain), which Scrapy
            # reads as "allow everything". The parser stored for the host is the one to apply.
            rp = self._parsers.get(netloc)
            if isinstance(rp, Deferred):
                continue
            state = self._unreachable.get(netloc)
            if state is None:
                break
            retry_at, failures = state
            if failures > self.retry_times:
                raise IgnoreRequest(f"robots.txt of {netloc} unreachable after {failures} attempts: "
                                    "complete disallow (RFC 9309)")
            await asyncio.sleep(max(0.0, retry_at - time.monotonic()))
            if self._parsers.get(netloc) is rp:  # the first waiter to wake up fetches it again
                del self._parsers[netloc]
        self.process_request_2(rp, request)

    async def _parse_robots(self, response: Response, netloc: str, request: Request) -> None:
        status = response.status
        self._stats.inc_value("robotstxt/response_count")
        self._stats.inc_value(f"robotstxt/response_status_count/{status}")
        if status >= 500:
            self._mark_unreachable(netloc, f"HTTP {status}")
            return
        if 200 <= status < 300:
            body = cut_robots(response.body, self.max_size)
            if len(body) < len(response.body):
                logger.warning("robots.txt of %s is %d bytes: parsed its first %d (ROBOTSTXT_MAX_SIZE)",
                               netloc, len(response.body), len(body))
        else:  # 4xx, or a redirect chain that did not end: unavailable, everything allowed
            body = b""
        self._unreachable.pop(netloc, None)
        self._resolve(netloc, build_from_crawler(self._parserimpl, self.crawler, body))

    def _robots_error(self, exc: Exception, netloc: str) -> None:
        if isinstance(exc, IgnoreRequest):
            # Refused here, not by the site (crawler.netguard, an offsite or scheme rule): the same rule
            # refuses the page requests too, so there is nothing to wait for.
            self._unreachable.pop(netloc, None)
            self._resolve(netloc, build_from_crawler(self._parserimpl, self.crawler, b""))
            return
        self._stats.inc_value(f"robotstxt/exception_count/{type(exc)}")
        if isinstance(exc, (DownloadConnectionRefusedError, CannotResolveHostError, DNSLookupError,
                            ConnectionRefusedError)):
            # Nobody answers at all: the host's pages would fail the same way, so disallow at once
            # instead of holding them for ROBOTSTXT_RETRY_DELAY (a dead site fails fast).
            self._unreachable[netloc] = (0.0, self.retry_times + 1)
            logger.warning("robots.txt of %s unreachable (%s): not crawling that host (RFC 9309)",
                           netloc, f"{type(exc).__name__}: {exc}")
            self._resolve(netloc, build_from_crawler(self._parserimpl, self.crawler, _DISALLOW_ALL))
            return
        self._mark_unreachable(netloc, f"{type(exc).__name__}: {exc}")

    def _mark_unreachable(self, netloc: str, why: str) -> None:
        _retry_at, failures = self._unreachable.get(netloc, (0.0, 0))
        failures += 1
        self._unreachable[netloc] = (time.monotonic() + self.retry_delay, failures)
        if failures > self.retry_times:
            logger.warning("robots.txt of %s unreachable (%s), %d attempts: not crawling that host (RFC 9309)",
                           netloc, why, failures)
        else:
            logger.info("robots.txt of %s unreachable (%s): its requests wait %g s for another try",
                        netloc, why, self.retry_delay)
        self._resolve(netloc, build_from_crawler(self._parserimpl, self.crawler, _DISALLOW_ALL))

    def _resolve(self, netloc: str, rp: RobotParser) -> None:
        pending = self._parsers.get(netloc)
        self._parsers[netloc] = rp
        if isinstance(pending, Deferred):
            pending.callback(rp)
