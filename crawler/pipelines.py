"""Item pipelines: extraction in a pool of worker processes, then storage as JSON record + WARC metadata.

``ExtractionPipeline`` never runs trafilatura on the reactor thread: each page goes to a worker process
(``pebble.ProcessPool``), with a per-page time limit after which the worker is killed and the record
carries an ``extraction_error`` instead of text. The number of pages in flight is bounded by Scrapy's
scraper (``CONCURRENT_ITEMS`` and ``SCRAPER_SLOT_MAX_ACTIVE_SIZE``), which stops downloading while the
pool is busy, so neither the pool queue nor memory grows without bound.

``ArchivePipeline`` turns the page and its extraction into an ``archive.records.Record``, writes the
WARC ``metadata`` record (tied to the response by WARC-Concurrent-To), appends the JSON line and
indexes it in the catalog. It returns the record as a dict, so Scrapy feed exports (``-o out.jsonl``)
export records.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import uuid
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pebble import ProcessPool
from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from archive.records import Record, text_fingerprint
from crawler.items import PageItem
from crawler.storage import ArchiveStorage

if TYPE_CHECKING:
    from crawler.extraction import Extraction

logger = logging.getLogger(__name__)


# EXTRACT_ENGINE values: the project's extract() (trafilatura + own metadata), or resiliparse's main-content
# text and the page head's metadata (crawler.extraction_fast, about ten times faster, lower precision).
ENGINES = ("default", "fast")


def _extract_in_worker(html: str, url: str, headers: dict[str, str], engine: str = "default") -> Extraction:
    if engine == "fast":
        from crawler.extraction_fast import extract_fast

        return extract_fast(html, url, headers)
    from crawler.extraction import extract  # imported by the parent before the pool forks (open_spider)

    return extract(html, url, headers)


def _worker_init() -> None:
    """A pool worker ignores SIGTERM as it ignores SIGINT (pebble's default): a SIGTERM sent to the crawl's
    process group (the scheduler's --max-runtime, systemd, ``kill -TERM -- -PGID``) is for the crawl
    process, which closes cleanly and waits for the pool to extract the pages it has archived. The pool
    still stops a worker itself (a page over EXTRACT_TIMEOUT): SIGTERM, then SIGKILL 3 s later; SIGKILL to
    the group still ends everything."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


class ExtractionPipeline:
    """Runs ``crawler.extraction.extract`` for every PageItem in a process pool, time-boxed."""

    def __init__(self, crawler: Crawler, workers: int, timeout: float, engine: str = "default",
                 max_size: int = 0) -> None:
        self.crawler = crawler
        self.max_size = max_size   # EXTRACT_MAX_SIZE: larger pages are not sent to a worker
        self.workers = workers
        self.timeout = timeout
        self.engine = engine
        self.pool: ProcessPool | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ExtractionPipeline:
        settings = crawler.settings
        if not settings.getbool("EXTRACT_ENABLED"):
            raise NotConfigured("EXTRACT_ENABLED is off")
        workers = settings.getint("EXTRACT_WORKERS") or (os.cpu_count() or 1)
        engine = str(settings.get("EXTRACT_ENGINE") or "default")
        if engine not in ENGINES:
            raise ValueError(f"EXTRACT_ENGINE must be one of {', '.join(ENGINES)}, not {engine!r}")
        return cls(crawler, workers=workers, timeout=settings.getfloat("EXTRACT_TIMEOUT"), engine=engine,
                   max_size=settings.getint("EXTRACT_MAX_SIZE"))

    def open_spider(self, spider: Spider | None = None) -> None:
        # Imported here, not with this module: an archive-mode crawl (extraction off) never loads trafilatura
        # (a quarter of a second at start-up); the pool's workers, forked now, inherit it loaded.
        import crawler.extraction  # noqa: F401

        self.pool = ProcessPool(max_workers=self.workers, initializer=_worker_init)

    def close_spider(self, spider: Spider | None = None) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool.join()
            self.pool = None

    async def process_item(self, item: Any, spider: Spider | None = None) -> Any:
        if not isinstance(item, PageItem):
            return item
        if self.pool is None:
            raise RuntimeError("ExtractionPipeline used before open_spider")
        if self.max_size and len(item.html) > self.max_size:
            return self._too_large(item)
        headers = {k: v for k, v in item.headers}
        future = self.pool.schedule(_extract_in_worker, args=(item.html, item.url, headers, self.engine),
                                    timeout=self.timeout)
        stats = self.crawler.stats
        try:
            item.extraction = await asyncio.wrap_future(future)
        except FutureTimeout:
            item.extraction_error = f"extraction timed out after {self.timeout:g} s"
            logger.warning("%s: %s", item.url, item.extraction_error)
        except Exception as exc:  # the worker's own exception, or the worker dying
            item.extraction_error = f"{type(exc).__name__}: {exc}"[:500]
            logger.warning("extraction failed for %s: %s", item.url, item.extraction_error)
        if stats is not None:
            stats.inc_value("extract/pages")
            if item.extraction_error:
                stats.inc_value("extract/errors")
        return item

    def _too_large(self, item: PageItem) -> PageItem:
        """A page over EXTRACT_MAX_SIZE: archived, recorded, not extracted (pickling it to a worker and
        trafilatura's tree of it would cost hundreds of MB, and minutes until EXTRACT_TIMEOUT)."""
        item.extraction_error = (f"page too large to extract ({len(item.html) / 1e6:.1f} MB > "
                                 f"{self.max_size / 1e6:.1f} MB, EXTRACT_MAX_SIZE)")
        logger.warning("%s: %s", item.url, item.extraction_error)
        if self.crawler.stats is not None:
            for key in ("extract/pages", "extract/errors", "extract/too_large"):
                self.crawler.stats.inc_value(key)
        return item


class ArchivePipeline:
    """Stores each PageItem as a JSON record, a catalog row and a WARC metadata record."""

    def __init__(self, crawler: Crawler, storage: ArchiveStorage) -> None:
        self.crawler = crawler
        self.storage = storage

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchivePipeline:
        storage = crawler.get_extension(ArchiveStorage)
        if storage is None:
            raise NotConfigured("ArchivePipeline needs the crawler.storage.ArchiveStorage extension")
        return cls(crawler, storage)

    def process_item(self, item: Any, spider: Spider | None = None) -> Any:
        if not isinstance(item, PageItem):
            return item
        record = build_record(item, self.storage.run_id)
        writer, store, catalog = self.storage.writer, self.storage.records, self.storage.catalog
        if writer is None or store is None or catalog is None:
            raise RuntimeError("ArchivePipeline used before the archive storage was opened")
        if item.warc and record.text:
            payload = json.dumps(
                {"record_id": record.id, "url": record.url, **_metadata_of(record)}, ensure_ascii=False
            ).encode("utf-8")
            writer.write_metadata(
                url=item.url,
                concurrent_to=item.warc["record_id"],
                date=datetime.fromisoformat(item.fetched_at.replace("Z", "+00:00")),
                payload=payload,
            )
        records_file = store.append(record)
        catalog.add_record(record, records_file)
        stats = self.crawler.stats
        if stats is not None:
            stats.inc_value("archive/records")
            if record.kind == "article":
                stats.inc_value("archive/articles")
        return record.to_dict()


def _metadata_of(record: Record) -> dict[str, Any]:
    d = record.to_dict()
    for key in ("warc", "schema_version", "id", "url", "run_id"):
        d.pop(key, None)
    return d


def build_record(item: PageItem, run_id: str) -> Record:
    """Combine a page, its capture and its extraction into a typed record."""
    ext: Extraction | None = item.extraction
    text = ext.text if ext else ""
    warc = None
    if item.warc:
        warc = {k: item.warc[k] for k in ("filename", "offset", "length", "record_id", "payload_digest")}
    return Record(
        id=uuid.uuid4().hex,
        run_id=run_id,
        url=item.url,
        canonical_url=(ext.canonical_url if ext else None) or item.url,
        fetched_at=item.fetched_at,
        status=item.status,
        content_type=item.content_type,
        kind=item.kind,
        title=ext.title if ext else None,
        authors=list(ext.authors) if ext else [],
        published=ext.published if ext else None,
        modified=ext.modified if ext else None,
        language=ext.language if ext else None,
        site_name=ext.site_name if ext else None,
        description=ext.description if ext else None,
        image=ext.image if ext else None,
        categories=list(ext.categories) if ext else [],
        tags=list(ext.tags) if ext else [],
        text=text,
        word_count=len(text.split()),
        warc=warc,
        extraction_error=item.extraction_error,
        # Versions (crawler.incremental.VersionPipeline fills item.extra; a URL's first record is version 1).
        version=int(item.extra.get("version", 1)),
        previous=item.extra.get("previous"),
        text_fingerprint=item.extra.get("text_fingerprint") or (text_fingerprint(ext.title, text) if ext else None),
        encoding=item.extra.get("encoding"),    # crawler.charset: charset, its source, undecodable bytes
    )
