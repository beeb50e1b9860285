"""Re-extraction: new JSON records from archived HTML responses, without touching the network.

Every HTML response (status 200) of the given WARC files, ours or another tool's, is decoded and run
through ``crawler.extraction.extract`` and ``crawler.pagekind.classify`` in a process pool (one worker per
core, each page time-boxed), and becomes a new record in ``records/<run-id>.jsonl`` and the catalog. The
run's catalog row names the extractor version (the record schema has no field for it), so a later,
better extractor is one ``crawler reextract`` away from improving the whole archive. Bad WARC records are
reported with file and offset and skipped.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pebble import ProcessPool

from archive.cdxj import BadRecord, CdxjLine, index_filename, scan_warc
from archive.records import Record
from archive.replay import Archive, CaptureError, LoadedCapture
from crawler.extraction import Extraction

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_WARC_NAME = re.compile(r"^[A-Za-z0-9._-]+\.warc(\.gz)?$")


def extractor_version() -> str:
    """What produced the records: this package and trafilatura, with their versions."""
    import trafilatura

    from crawler import __version__

    return f"newsarchiver-crawler {__version__}, trafilatura {trafilatura.__version__}"


@dataclass(frozen=True)
class Page:
    """One archived HTML response, ready for a worker."""

    line: CdxjLine
    fetched_at: str                         # WARC-Date, ISO 8601 "Z"
    headers: tuple[tuple[str, str], ...]
    body: bytes
    record_id: str | None
    payload_digest: str | None


@dataclass
class ReextractStats:
    files: int = 0
    pages: int = 0
    records: int = 0
    articles: int = 0
    extraction_errors: int = 0
    problems: list[BadRecord] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"files": self.files, "pages": self.pages, "records": self.records, "articles": self.articles,
                "extraction_errors": self.extraction_errors, "bad_records": len(self.problems)}


def iter_pages(data_dir: Path, warcs: Iterable[Path], stats: ReextractStats) -> Iterator[Page]:
    """The HTML responses of ``warcs`` in file order; bad records go to ``stats.problems``."""
    archive = Archive(data_dir)
    for path in warcs:
        stats.files += 1
        scan = scan_warc(path, index_filename(data_dir, path))
        stats.problems.extend(scan.problems)
        for line in scan.lines:
            if line.is_revisit or line.status != 200 or line.mime not in HTML_TYPES:
                continue
            try:
                capture = archive.load(line)
            except CaptureError as exc:
                stats.problems.append(exc.problem)
                continue
            yield _page(line, capture)


def _page(line: CdxjLine, capture: LoadedCapture) -> Page:
    warc = {k.lower(): v for k, v in capture.warc_headers}
    date = warc.get("warc-date") or ""
    digest = warc.get("warc-payload-digest")
    return Page(line=line, fetched_at=_iso_z(date, line.timestamp), headers=capture.http_headers,
                body=capture.body, record_id=warc.get("warc-record-id"), payload_digest=digest)


def _iso_z(warc_date: str, ts: str) -> str:
    if re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$", warc_date):
        return warc_date
    return f"{ts[:4]}-{ts[4:6]}-{ts[6:8]}T{ts[8:10]}:{ts[10:12]}:{ts[12:14]}Z"


def _work(body: bytes, url: str, headers: tuple[tuple[str, str], ...]) -> tuple[Extraction, str]:
    """In a worker: decode, extract, classify."""
    from w3lib.encoding import html_to_unicode

    from crawler.extraction import extract
    from crawler.pagekind import classify

    content_type = next((v for k, v in headers if k.lower() == "content-type"), None)
    _, html = html_to_unicode(content_type, body)
    return extract(html, url, dict(headers)), classify(html, url)


def build_record(page: Page, run_id: str, extraction: Extraction | None, kind: str,
                 error: str | None) -> Record:
    """The record of one re-extracted page (validated when it is stored)."""
    from archive.records import text_fingerprint

    ext = extraction
    text = ext.text if ext else ""
    content_type = next((v for k, v in page.headers if k.lower() == "content-type"), None)
    name = Path(page.line.filename).name
    warc = None
    if _WARC_NAME.match(name) and page.record_id:
        warc = {"filename": name, "offset": page.line.offset, "length": page.line.length,
                "record_id": page.record_id, "payload_digest": page.payload_digest}
    record = Record(
        run_id=run_id, url=page.line.url, canonical_url=(ext.canonical_url if ext else None) or page.line.url,
        fetched_at=page.fetched_at, status=page.line.status or 200, content_type=content_type, kind=kind,
        title=ext.title if ext else None, authors=list(ext.authors) if ext else [],
        published=ext.published if ext else None, modified=ext.modified if ext else None,
        language=ext.language if ext else None, site_name=ext.site_name if ext else None,
        description=ext.description if ext else None, image=ext.image if ext else None,
        categories=list(ext.categories) if ext else [], tags=list(ext.tags) if ext else [],
        text=text, word_count=len(text.split()), warc=warc, extraction_error=error,
        text_fingerprint=text_fingerprint(ext.title, text) if ext else None,
    )
    return record


def reextract(data_dir: Path, warcs: list[Path], *, run_id: str, workers: int = 0, timeout: float = 60.0,
              on_record: Callable[[Record], None]) -> ReextractStats:
    """Extract every HTML response of ``warcs`` again in a process pool; ``on_record`` gets each record
    in WARC order. ``workers`` 0 means one per core."""
    stats = ReextractStats()
    workers = workers or os.cpu_count() or 1
    window = workers * 4                      # pages in flight: bounded memory, every core busy
    pending: list[tuple[Page, Future[Any]]] = []

    def finish(page: Page, future: Future[Any]) -> None:
        extraction: Extraction | None = None
        kind, error = "page", None
        try:
            extraction, kind = future.result()
        except FutureTimeout:
            error = f"extraction timed out after {timeout:g} s"
        except Exception as exc:  # the worker's exception, or the worker dying: kept in the record
            error = f"{type(exc).__name__}: {exc}"[:500]
        if error:
            stats.extraction_errors += 1
        record = build_record(page, run_id, extraction, kind, error)
        stats.records += 1
        stats.articles += record.kind == "article"
        on_record(record)

    pool = ProcessPool(max_workers=workers)
    try:
        for page in iter_pages(data_dir, warcs, stats):
            stats.pages += 1
            pending.append((page, pool.schedule(_work, args=(page.body, page.line.url, page.headers),
                                                timeout=timeout)))
            if len(pending) >= window:
                finish(*pending.pop(0))
        while pending:
            finish(*pending.pop(0))
    finally:
        for _, future in pending:
            future.cancel()
        pool.close()
        pool.join()
    return stats
