"""Redirects and content coding whose outcome would otherwise be silent or unclear in the run log.

Scrapy's ``RedirectMiddleware`` drops a chain longer than ``REDIRECT_MAX_TIMES`` with a DEBUG line, and a
redirect loop ends when the dupefilter drops the repeated URL, with no line at all. ``RedirectMiddleware``
here (replacing Scrapy's at 600, and ``MetaRefreshMiddleware`` at 580) says what happened, at WARNING,
naming the URL: "redirect loop: ..." (a hop that leads back to a URL already in the chain, not
followed) or "redirect chain longer than N hops: ...". Every hop was archived by the capture
middleware (950) before either decision; the crawl goes on with the next request.

``REDIRECT_MAX_TIMES`` stays at 20: browsers (Chrome, Firefox) and wget stop at 20 too, so a longer chain
is not a page any reader reaches; its hops are archived, its end is not fetched.

``HttpCompressionMiddleware`` (replacing Scrapy's at 590): a body labelled ``Content-Encoding: gzip`` that
is not gzip at all (it lacks the gzip magic bytes: a server that forgot to compress, or a proxy that
decompressed without fixing the header) is used as it is (identity), with a warning; the WARC keeps the
bytes and headers as received. Browsers and ``curl --compressed`` show an error for such a page; an
archive would lose its text for a mislabel whose bytes are unambiguous. Any other decoding failure
(corrupt deflate, br or zstd, gzip magic followed by garbage) drops the response with one WARNING line
"content decoding failed ... raw bytes archived, no record", instead of Scrapy's traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware as _ScrapyCompression
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware as _ScrapyMetaRefresh
from scrapy.downloadermiddlewares.redirect import RedirectMiddleware as _ScrapyRedirect
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import HtmlResponse, Request, Response

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

_GZIP_MAGIC = b"\x1f\x8b"


def not_gzip_at_all(coding: str, body: bytes) -> bool:
    """Whether a body labelled ``Content-Encoding: gzip`` (``coding``: the header's values joined) lacks the gzip
    magic bytes: a server that forgot to compress; the crawl (and reextract after it) uses it as it is."""
    return coding.strip().lower() in ("gzip", "x-gzip") and not body.startswith(_GZIP_MAGIC)


def _inc(crawler: Crawler, key: str) -> None:
    if crawler.stats is not None:
        crawler.stats.inc_value(key)


def _chain(request: Request) -> list[str]:
    return [*request.meta.get("redirect_urls", []), request.url]


def _checked(crawler: Crawler, request: Request, outcome: Request | Response) -> Request | Response:
    """``outcome`` unless it is a hop back into its own chain (then IgnoreRequest, with a WARNING)."""
    if isinstance(outcome, Request) and outcome is not request:
        earlier = outcome.meta.get("redirect_urls", [])
        if outcome.url in earlier:
            chain = " -> ".join([*earlier[earlier.index(outcome.url):], outcome.url])
            logger.warning("redirect loop: %s redirects back to %s (%s); not followed, every hop archived",
                           request.url, outcome.url, chain)
            _inc(crawler, "redirect/loop")
            raise IgnoreRequest(f"redirect loop at {request.url}")
    return outcome


def _too_long(crawler: Crawler, max_times: int, request: Request, exc: IgnoreRequest) -> IgnoreRequest:
    chain = _chain(request)
    logger.warning("redirect chain longer than %d hops: %s (from %s); the rest not followed, every hop archived "
                   "(REDIRECT_MAX_TIMES)", max_times, request.url, chain[0])
    _inc(crawler, "redirect/too_long")
    return exc


def _reported(crawler: Crawler, max_times: int, request: Request,
              follow: Callable[[], Request | Response]) -> Request | Response:
    """Scrapy's redirect handling (``follow``), with one WARNING line for a loop or a chain that is too long."""
    try:
        outcome = follow()
    except IgnoreRequest as exc:
        if str(exc) == "max redirections reached":
            raise _too_long(crawler, max_times, request, exc) from None
        raise
    return _checked(crawler, request, outcome)


class RedirectMiddleware(_ScrapyRedirect):
    """Scrapy's, with a WARNING line naming the URL for a redirect loop and for a chain that is too long."""

    def process_response(self, request: Request, response: Response, spider: Spider | None = None) -> Request | Response:
        return _reported(self.crawler, self.max_redirect_times, request,
                         partial(super().process_response, request, response))


def _may_refresh(response: Response) -> bool:
    """False when the page cannot hold a meta refresh where Scrapy looks for one (its first 4,096
    characters, at most 16 KiB of bytes): the word is not there in an ASCII-compatible encoding. Scrapy's
    check decodes the page and strips its tags, comments and entities first: a fifth of a millisecond per
    page on the reactor thread, for the rare page that has one."""
    if not isinstance(response, HtmlResponse):
        return True                                  # Scrapy's own check returns at once
    if "refresh".encode(response.encoding, "replace") != b"refresh":
        return True                                  # UTF-16, EBCDIC...: look the whole way
    return b"refresh" in response.body[:16384].lower()


class MetaRefreshMiddleware(_ScrapyMetaRefresh):
    """Scrapy's, with the same WARNING lines as ``RedirectMiddleware`` for loops and long chains, and
    without its parsing of pages that do not contain the word "refresh" at all."""

    def process_response(self, request: Request, response: Response, spider: Spider | None = None) -> Request | Response:
        if not _may_refresh(response):
            return response
        return _reported(self.crawler, self.max_redirect_times, request,
                         partial(super().process_response, request, response))


class HttpCompressionMiddleware(_ScrapyCompression):
    """Scrapy's, with plain bodies labelled gzip used as they are and one clear line for other failures."""

    crawler: Crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> HttpCompressionMiddleware:
        if not crawler.settings.getbool("COMPRESSION_ENABLED"):
            raise NotConfigured("COMPRESSION_ENABLED is off")
        mw = cls(crawler=crawler)
        mw.crawler = crawler
        return mw

    def process_response(self, request: Request, response: Response, spider: Spider | None = None) -> Request | Response:
        try:
            return super().process_response(request, response)
        except IgnoreRequest:
            raise   # a bomb stopped at DOWNLOAD_MAXSIZE: Scrapy logged it
        except Exception as exc:  # gzip.BadGzipFile, zlib.error, brotli/zstd errors: no common base class
            coding = b", ".join(response.headers.getlist("Content-Encoding")).decode("latin-1")
            reason = f"{type(exc).__name__}: {exc}"[:200]
            if not_gzip_at_all(coding, response.body):
                logger.warning("content decoding failed for %s: labelled Content-Encoding: %s but the body is "
                               "not gzip data (%s); used the body as it is (identity), archived as received",
                               response.url, coding, reason)
                _inc(self.crawler, "contentcoding/identity_fallback")
                del response.headers["Content-Encoding"]
                return response
            logger.warning("content decoding failed for %s: Content-Encoding: %s could not be decoded (%s); raw "
                           "bytes archived, no record", response.url, coding, reason)
            _inc(self.crawler, "contentcoding/failed")
            raise IgnoreRequest(f"content decoding failed for {response.url}: {reason}") from exc
