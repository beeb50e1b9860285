"""Live progress on a terminal and a summary at the end of every run.

On a TTY (stderr), one line is redrawn every ``PROGRESS_INTERVAL`` seconds: pages fetched, articles
stored, errors and the rate. Off a terminal (cron, CI, pipes) it logs a line every
``PROGRESS_LOG_INTERVAL`` seconds instead, so long unattended runs still show they are alive.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, TextIO

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from twisted.internet import task

logger = logging.getLogger(__name__)


def summarize(stats: dict[str, Any]) -> dict[str, Any]:
    """The numbers a user cares about, from Scrapy's stats of one run."""
    # Requests dropped on purpose (robots.txt, offsite, max_pages) are not errors.
    ignored = sum(v for k, v in stats.items() if k.startswith("downloader/exception_type_count/")
                  and k.endswith(("IgnoreRequest", "IgnoreRequestError")))
    errors = stats.get("log_count/ERROR", 0) + stats.get("downloader/exception_count", 0) - ignored
    replayed = stats.get("resume/replayed", 0)  # a resumed run's pages read back from its WARC files, not fetched
    return {
        "pages_fetched": max(0, stats.get("archive/responses", stats.get("response_received_count", 0)) - replayed),
        "replayed": replayed,
        "records": stats.get("archive/records", 0),
        "articles": stats.get("archive/articles", 0),
        "extraction_errors": stats.get("extract/errors", 0),
        "errors": errors,
        "bytes_archived": stats.get("archive/bytes", 0),
    }


def progress_line(s: dict[str, Any], elapsed: float) -> str:
    """The progress line of a crawl: ``s`` is its ``summarize``-d stats, ``elapsed`` its seconds so far."""
    elapsed = max(elapsed, 1e-6)
    return (
        f"{s['pages_fetched']} pages, {s['articles']} articles, {s['errors']} errors, "
        f"{s['bytes_archived'] / 1e6:.1f} MB, {s['pages_fetched'] / elapsed:.1f} pages/s, {elapsed:.0f} s"
    )


class Progress:
    def __init__(self, crawler: Crawler, interval: float, log_interval: float, stream: TextIO) -> None:
        self.crawler = crawler
        self.interval = interval
        self.log_interval = log_interval
        self.stream = stream
        self.tty = stream.isatty()
        self.started = time.monotonic()
        self.last_log = self.started
        self.loop: task.LoopingCall | None = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Progress:
        if not crawler.settings.getbool("PROGRESS_ENABLED", True):
            raise NotConfigured("PROGRESS_ENABLED is off")
        progress = cls(
            crawler,
            interval=crawler.settings.getfloat("PROGRESS_INTERVAL", 1.0),
            log_interval=crawler.settings.getfloat("PROGRESS_LOG_INTERVAL", 60.0),
            stream=sys.stderr,
        )
        # a process of a crawl shared by several (crawler.partition) logs; its parent draws the line
        progress.tty = progress.tty and crawler.settings.getbool("PROGRESS_TERMINAL", True)
        return progress

    def spider_opened(self, spider: Spider) -> None:
        self.started = time.monotonic()
        self.loop = task.LoopingCall(self.tick)
        self.loop.start(self.interval if self.tty else self.log_interval, now=False)

    def line(self) -> str:
        return progress_line(summarize(self.crawler.stats.get_stats() if self.crawler.stats else {}),
                             time.monotonic() - self.started)

    def tick(self) -> None:
        if self.tty:
            self.stream.write("\r\x1b[K" + self.line())
            self.stream.flush()
        else:
            logger.info("progress: %s", self.line())

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        if self.tty:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
        logger.info("finished (%s): %s", reason, self.line())
