"""``GIL_SWITCH_INTERVAL``: how soon a thread holding the GIL gives it up to another that waits.

A crawl process runs two busy threads: the reactor (Scrapy's engine, Twisted's I/O, the callbacks) and the
WARC writer (``ARCHIVE_WRITER_THREAD``: gzip and digests release the GIL, the record's headers, catalog row
and index line do not). Each time the reactor thread returns from a system call (a socket read or write, a
pipe write to the page-analysis helper) while the writer holds the GIL, it waits for the writer to let go:
by default after up to 5 ms (``sys.getswitchinterval()``), a stall of the whole engine. A shorter interval
(0.2 ms) cut those stalls: archive mode on the benchmark site went from about 133 to 140 pages/s
(interleaved runs, same machine). ``SwitchInterval`` sets it when the spider opens and restores the old
value when it closes; ``None`` leaves Python's default.
"""

from __future__ import annotations

import logging
import sys

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

logger = logging.getLogger(__name__)


class SwitchInterval:
    """An extension: ``sys.setswitchinterval(GIL_SWITCH_INTERVAL)`` for the length of the crawl."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._previous: float | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SwitchInterval:
        value = crawler.settings.get("GIL_SWITCH_INTERVAL")
        if value is None:
            raise NotConfigured("GIL_SWITCH_INTERVAL is not set")
        try:
            interval = crawler.settings.getfloat("GIL_SWITCH_INTERVAL")
        except ValueError:
            interval = -1.0
        if not 0 < interval <= 1:
            raise ValueError(f"GIL_SWITCH_INTERVAL must be a number of seconds in (0, 1], not {value!r}")
        ext = cls(interval)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider: Spider) -> None:
        self._previous = sys.getswitchinterval()
        sys.setswitchinterval(self.interval)
        logger.debug("GIL switch interval %.4f s (was %.4f s)", self.interval, self._previous)

    def spider_closed(self, spider: Spider) -> None:
        if self._previous is not None:
            sys.setswitchinterval(self._previous)
            self._previous = None
