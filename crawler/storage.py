"""One crawl's handle on the data directory: the WARC writer, the JSON record store and the catalog.

``ArchiveStorage`` is a Scrapy extension so that it exists once per crawler, before the downloader
middlewares and item pipelines are built; those find it with ``crawler.get_extension(ArchiveStorage)``.
It opens everything when the spider opens and closes the WARC files (renaming ``*.open``), the record
file and the catalog when the spider closes, after the pipelines have finished.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import deferred_from_coro

from archive.catalog import Catalog
from archive.cdxj import LiveIndex, append_to_index, index_filename, index_path
from archive.records import RecordStore
from archive.writer import WarcWriter, recover_open_files
from crawler import __version__
from crawler.diskfull import DiskSpaceGuard, GuardedWarcWriter, is_disk_full, truncate_partial_line

logger = logging.getLogger(__name__)


def new_run_id(now: datetime | None = None) -> str:
    """A sortable, collision-safe run id: UTC timestamp plus random suffix."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def prepare_data_dir(data_dir: Path) -> Path:
    """Create the data directory layout and check it is writable; raise OSError with a clear message."""
    data_dir = Path(data_dir)
    for sub in ("warc", "records", "index", "runs"):
        (data_dir / sub).mkdir(parents=True, exist_ok=True)
    probe = data_dir / f".write-test-{os.getpid()}"
    probe.write_bytes(b"")
    probe.unlink()
    return data_dir


def indexed_files(index: Path) -> set[str]:
    """The file names the CDXJ index at ``index`` refers to (its lines end with ``"filename": "NAME"}``)."""
    names: set[str] = set()
    if not index.exists():
        return names
    key = b'"filename": "'
    with index.open("rb") as fh:
        for line in fh:
            at = line.rfind(key)
            if at >= 0:
                start = at + len(key)
                names.add(line[start:line.index(b'"', start)].decode("utf-8", "replace"))
    return names


class ArchiveStorage:
    """Owns the writer, record store and catalog of one crawl run."""

    def __init__(
        self,
        crawler: Crawler,
        data_dir: Path,
        run_id: str,
        warc_prefix: str,
        warc_max_size: int,
        operator: str,
    ) -> None:
        self.crawler = crawler
        self.data_dir = Path(data_dir)
        self.run_id = run_id
        self.warc_prefix = warc_prefix
        self.warc_max_size = warc_max_size
        self.operator = operator
        self.writer: WarcWriter | None = None
        self.open_error: str | None = None     # why the archive could not be opened (the crawl stops)
        self.records: RecordStore | None = None
        self.catalog: Catalog | None = None
        self.closed_warcs: list[Path] = []
        self.live_index: LiveIndex | None = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchiveStorage:
        settings = crawler.settings
        if not settings.getbool("ARCHIVE_ENABLED", True):
            raise NotConfigured("ARCHIVE_ENABLED is off")
        run_id = settings.get("ARCHIVE_RUN_ID") or new_run_id()
        return cls(
            crawler,
            data_dir=Path(settings.get("ARCHIVE_DATA_DIR")),
            run_id=run_id,
            warc_prefix=settings.get("ARCHIVE_WARC_PREFIX"),
            warc_max_size=settings.getint("ARCHIVE_WARC_MAX_SIZE"),
            operator=settings.get("ARCHIVE_OPERATOR_CONTACT"),
        )

    # -- lifecycle ---------------------------------------------------------------------------------
    def open(self, spider: Spider) -> None:
        if self.writer is not None:
            return
        prepare_data_dir(self.data_dir)
        recovered = recover_open_files(self.data_dir / "warc")
        for result in recovered:
            if result.path is not None:
                logger.warning("recovered %s, left unfinished by an earlier crawl: %d complete record(s) kept as %s, "
                               "%d byte(s) of an incomplete last record cut", result.open_path, result.records,
                               result.path, result.dropped_bytes)
            else:
                logger.warning("removed %s, left unfinished by an earlier crawl: it held no complete record",
                               result.open_path)
        settings = self.crawler.settings
        warcinfo = {
            "software": f"newsarchiver/{__version__} (Scrapy, warcio)",
            "format": "WARC File Format 1.1",
            "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
            "isPartOf": self.run_id,
            "description": f"crawl run {self.run_id} of spider {spider.name}",
            "robots": "obey" if settings.getbool("ROBOTSTXT_OBEY") else "ignore",
            "operator": self.operator or "",
            "http-header-user-agent": settings.get("USER_AGENT") or "",
            "hostname": socket.gethostname(),
        }
        # Each record's index line is built as it is written; a closed file's lines are merged into the index.
        self.live_index = LiveIndex(self.data_dir, self.data_dir / "warc")
        # crawler.diskfull: a WarcWriter that stops the crawl and closes cleanly when the disk fills up
        self.writer = GuardedWarcWriter(
            self.data_dir / "warc",
            prefix=self.warc_prefix,
            max_size=self.warc_max_size,
            warcinfo=warcinfo,
            on_close=self._warc_closed,
            on_record=self.live_index.add,
            on_disk_full=self._disk_full,
        )
        self.records = RecordStore(self.data_dir / "records", self.run_id)
        self.catalog = Catalog(self.data_dir / "catalog.sqlite")
        # A killed writer's last catalog batch was lost: rows for the records the recovery kept.
        from crawler.resume import restore_captures  # crawler.resume imports this module

        for result in recovered:
            if result.path is not None:
                restore_captures(self.catalog, result.path)
                # its writer was killed before it could add the file to the index: its lines come from a scan
                append_to_index(self.data_dir, result.path)
        self._index_left_out()
        args = {k: v for k, v in vars(spider).items() if isinstance(v, str | int | float | bool | list)}
        if settings.get("RESUME_RUN") == self.run_id and self.catalog.run(self.run_id) is not None:
            logger.info("run %s goes on where it stopped (crawler.resume)", self.run_id)
        else:
            self.catalog.start_run(self.run_id, spider.name, json.loads(json.dumps(args, default=str)))

    def _index_left_out(self) -> None:
        """Index the closed WARC files of the data directory that are not in its index: a crawl stopped by a
        full disk could not write the index when it closed its file. Reads the file names of the index
        (one pass over it, no parsing) and scans only the files it lacks."""
        warcs = sorted((self.data_dir / "warc").glob("*.warc.gz"))
        if not warcs:
            return
        indexed = indexed_files(index_path(self.data_dir))
        for path in warcs:
            if index_filename(self.data_dir, path) in indexed:
                continue
            try:
                done = append_to_index(self.data_dir, path)
            except OSError as exc:
                logger.error("could not index %s, which is not in the index: %s; the next crawl in this data "
                             "directory tries again (or run 'crawler index')", path, exc)
                continue
            # a file without captures never gets a line: it is scanned again by the next crawl, quietly
            logger.log(logging.WARNING if done.indexed else logging.INFO,
                       "indexed %s (%d captures): it was not in the index (its crawl could not write the "
                       "index, e.g. on a full disk)", path.name, done.indexed)
            if self.crawler.stats is not None:
                self.crawler.stats.inc_value("archive/indexed_at_start")

    def _disk_full(self, exc: BaseException) -> None:
        guard = self.crawler.get_extension(DiskSpaceGuard)
        if guard is not None:
            guard.stop(f"a WARC record could not be written: {exc}")

    def _warc_closed(self, path: Path) -> None:
        self.closed_warcs.append(path)
        if self.live_index is None:
            return
        try:
            self.live_index.close_file(path)
        except OSError as exc:       # no room for the index (a full disk): the file itself is whole
            logger.error("could not index %s: %s; the next crawl in this data directory indexes it "
                         "(or run 'crawler index')", path, exc)
            if self.crawler.stats is not None:
                self.crawler.stats.inc_value("archive/unindexed_files")

    def spider_opened(self, spider: Spider) -> None:
        # Scrapy logs an exception of a signal handler and goes on: the crawl would then fetch pages it
        # cannot archive. Stop it instead, with reason "storage_error" (crawler crawl: exit 1).
        try:
            self.open(spider)
        except Exception as exc:  # noqa: BLE001 - any failure to open the archive stops the crawl; logged
            self.open_error = f"{type(exc).__name__}: {exc}"
            logger.error("cannot open the archive in %s: %s", self.data_dir, self.open_error)
            logger.info("the archive could not be opened", exc_info=True)   # the traceback, in the run log
            if self.crawler.stats is not None:
                self.crawler.stats.set_value("archive/open_error", self.open_error)
            engine = self.crawler.engine
            if engine is not None:
                deferred_from_coro(engine.close_spider_async(reason="storage_error"))

    def spider_closed(self, spider: Spider, reason: str) -> None:
        stats: dict[str, Any] = {}
        if self.crawler.stats is not None:
            stats = {
                k: (v.isoformat() if isinstance(v, datetime) else v)
                for k, v in self.crawler.stats.get_stats().items()
            }
        if self.writer is not None:
            self.writer.close()
        if self.records is not None:
            try:
                self.records.close()
            except OSError as exc:  # crawler.diskfull: the last line did not fit
                if not is_disk_full(exc):
                    raise
            truncate_partial_line(self.records.path)  # a no-op unless a write failed part-way
        if self.catalog is not None:
            status = "finished" if reason in ("finished", "max_pages", "closespider_pagecount") else reason
            try:
                self.catalog.finish_run(self.run_id, stats, status)
            except Exception as exc:  # SQLite "database or disk is full": the catalog stays as it was
                if not is_disk_full(exc):
                    raise
                logger.error("could not record the end of run %s in the catalog: %s", self.run_id, exc)
            self.catalog.close()
