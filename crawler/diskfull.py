"""Stop a crawl cleanly when the disk fills up: no corrupt file under a final name, a distinct exit code.

Two ways in:

- ``DiskSpaceGuard`` (extension) looks at the free space of the data directory every
  ``DISKFULL_CHECK_INTERVAL`` seconds and stops the crawl (finish reason ``disk_full``) when less than
  ``DISKFULL_MIN_FREE`` bytes are left: the usual case, before any write fails.
- ``GuardedWarcWriter`` (the writer ``ArchiveStorage`` uses) notices a write failing with ENOSPC, EDQUOT
  or EFBIG, asks for the same stop, refuses later writes with ``DiskFullError`` and, when closed, cuts
  the ``.open`` file back to its last complete record *before* renaming it, so the partial gzip member
  never reaches a final ``.warc.gz`` name. The JSON record file loses its partial last line the same way
  (``truncate_partial_line``); SQLite keeps the catalog consistent on its own.

``crawler crawl`` exits with code 3 after a ``disk_full`` stop and says how to go on (free space, then
``--resume RUN``).
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from twisted.internet import task

from archive.writer import OPEN_SUFFIX, WarcLocation, WarcWriter

logger = logging.getLogger(__name__)

DISK_FULL_REASON = "disk_full"
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


class DiskFullError(OSError):
    """A write was refused because the disk (or quota, or file size limit) is full."""


def is_disk_full(exc: BaseException) -> bool:
    """True for errors that mean "no space left" (also SQLite's "database or disk is full")."""
    if isinstance(exc, DiskFullError):
        return True
    if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
        return True
    return "database or disk is full" in str(exc)


def truncate_partial_line(path: Path) -> None:
    """Cut a text file back to its last newline (a JSON Lines file whose last write failed)."""
    if not path.exists():
        return
    with open(path, "r+b") as fh:
        size = fh.seek(0, os.SEEK_END)
        pos = size
        while pos > 0:
            step = min(65536, pos)
            fh.seek(pos - step)
            nl = fh.read(step).rfind(b"\n")
            if nl >= 0:
                pos = pos - step + nl + 1
                break
            pos -= step
        if pos < size:
            os.truncate(path, pos)
            logger.warning("%s: removed a partial last line (%d bytes) after a failed write", path, size - pos)


class GuardedWarcWriter(WarcWriter):
    """A WarcWriter that survives a full disk: stop requested, later writes refused, clean close."""

    def __init__(self, *args: Any, on_disk_full: Callable[[BaseException], None] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._on_disk_full = on_disk_full
        self.disk_full: BaseException | None = None
        self._good_end = 0          # end of the last complete record of the current file

    def _write(self, headers: list[tuple[str, str]], block: tuple[bytes, ...], rec_id: str,
               digest: str | None) -> WarcLocation:
        if self.disk_full is not None:
            raise DiskFullError(errno.ENOSPC, f"not writing to {self._open_path}: the disk is full")
        try:
            loc = super()._write(headers, block, rec_id, digest)
        except OSError as exc:
            if not is_disk_full(exc):
                raise
            self.disk_full = exc
            logger.error("disk full while writing %s (%s): stopping the crawl", self._open_path, exc)
            if self._on_disk_full is not None:
                self._on_disk_full(exc)
            raise DiskFullError(errno.ENOSPC, f"disk full while writing {self._open_path}: {exc}") from exc
        self._good_end = loc.offset + loc.length
        return loc

    def _ensure_open(self) -> None:
        opened = self._fh is None
        try:
            super()._ensure_open()
        except OSError as exc:
            if not is_disk_full(exc) or self._open_path is None:
                raise
            # the warcinfo record itself did not fit: leave nothing behind for this file
            self.disk_full = self.disk_full or exc
            self._abandon()
            raise
        if opened:
            self._good_end = self._fh.tell() if self._fh is not None else 0

    def close(self) -> list[Path]:
        if self.disk_full is None:
            return super().close()
        with self._lock:
            self._abandon()
            self._closed = True
            return list(self._closed_files)

    def _abandon(self) -> None:
        """Close the current file without flushing what did not fit, cut it to its last complete record
        and give it its final name (or remove it when no record is complete)."""
        fh, open_path = self._fh, self._open_path
        self._fh = None
        self._open_path = None
        if fh is None or open_path is None:
            return
        try:
            fh.close()  # the unflushed tail of the failed record may or may not reach the disk here
        except OSError as exc:
            logger.info("closing %s after a full disk: %s (expected; the file is cut back next)", open_path, exc)
        final = open_path.with_name(open_path.name[: -len(OPEN_SUFFIX)])
        if self._good_end == 0:
            open_path.unlink(missing_ok=True)
            return
        os.truncate(open_path, self._good_end)
        os.rename(open_path, final)
        self._closed_files.append(final)
        logger.warning("closed %s at its last complete record (%d bytes) after the disk filled up",
                       final, self._good_end)
        if self._on_close is not None:
            try:
                self._on_close(final)
            except OSError as exc:
                logger.error("could not index %s after the disk filled up: %s; run 'crawler index'", final, exc)


class DiskSpaceGuard:
    """Extension: stops the crawl with reason ``disk_full`` before the data directory runs out of space."""

    def __init__(self, crawler: Crawler, data_dir: Path, min_free: int, interval: float) -> None:
        self.crawler = crawler
        self.data_dir = data_dir
        self.min_free = min_free
        self.interval = interval
        self.stopping = False
        self._loop: task.LoopingCall | None = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self.item_error, signal=signals.item_error)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DiskSpaceGuard:
        s = crawler.settings
        if not s.getbool("DISKFULL_ENABLED"):
            raise NotConfigured("DISKFULL_ENABLED is off")
        return cls(crawler, Path(s.get("ARCHIVE_DATA_DIR")), s.getint("DISKFULL_MIN_FREE"),
                   s.getfloat("DISKFULL_CHECK_INTERVAL"))

    def spider_opened(self, spider: Spider) -> None:
        if self.min_free > 0 and self.interval > 0:
            self._loop = task.LoopingCall(self.check)
            self._loop.start(self.interval, now=True)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()

    def check(self) -> None:
        try:
            free = shutil.disk_usage(self.data_dir).free
        except OSError as exc:
            logger.warning("cannot read the free space of %s: %s", self.data_dir, exc)
            return
        if free < self.min_free:
            self.stop(f"only {free} bytes free in {self.data_dir} (DISKFULL_MIN_FREE is {self.min_free})")

    def item_error(self, item: Any, response: Any, spider: Spider, failure: Any) -> None:
        if is_disk_full(failure.value):
            self.stop(f"a record could not be stored: {failure.value}")

    def stop(self, why: str) -> None:
        """Close the spider with reason ``disk_full`` (callable from any thread)."""
        from twisted.internet import reactor

        reactor.callFromThread(self._stop, why)  # type: ignore[attr-defined]

    def _stop(self, why: str) -> None:
        if self.stopping:
            return
        self.stopping = True
        logger.error("stopping the crawl: %s", why)
        if self.crawler.stats is not None:
            self.crawler.stats.set_value("diskfull/reason", why)
        engine = self.crawler.engine
        if engine is not None:
            from scrapy.utils.defer import deferred_from_coro

            deferred_from_coro(engine.close_spider_async(reason=DISK_FULL_REASON))


class RunLogHandler(logging.FileHandler):
    """The run's log file handler: when the disk is full it stops writing instead of printing a
    "--- Logging error ---" traceback per log line to stderr; the crawl itself stops with ``disk_full``
    and the command says so in one line."""

    disk_full = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.disk_full:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:
        import sys

        exc = sys.exc_info()[1]
        if exc is not None and is_disk_full(exc):
            self.disk_full = True  # reported by the crawl's disk_full stop, not once per log line
            return
        super().handleError(record)
