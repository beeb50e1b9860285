"""Re-extraction: new JSON records from archived HTML responses, without touching the network.

Every HTML response (status 200) of the given WARC files, ours or another tool's, is decoded as the crawl
decoded it (``as_crawled``: content coding removed as ``crawler.redirects.HttpCompressionMiddleware``
does, HTML told apart as the spider does, text by ``crawler.charset.decode_html``) and run through
``crawler.extraction.extract`` and ``crawler.pagekind.classify`` (``crawler.extraction.extract_and_classify``:
both from one parse) in a process pool (one worker per core), and becomes a new record in
``records/<run-id>.jsonl`` and the catalog. The run's catalog row names the extractor version (the record
schema has no field for it), so a later, better extractor is one ``crawler reextract`` away from improving
the whole archive. Bad WARC records are reported with file and offset and skipped; a page whose content
coding cannot be removed is not a bad record (the archive holds it as received): it gets a record with an
``extraction_error``.

Which responses are pages: those a crawl makes a record of. The ``Content-Type`` alone does not say
(HTML served as ``image/png`` is a page to the crawl, which sniffs the body), so every status-200
response but robots.txt goes to the workers, which decode it and keep the HTML ones.

Where the work happens: the parent scans each WARC once (``archive.cdxj.iter_scan``, which finds the
status-200 responses and the bad records, handing out each as it reaches it, so the workers start on a big
file's first pages while the scan goes on) and sends the workers only where each page is (file, offset,
length), CHUNK pages per task; a worker reads and decompresses its pages itself, extracts them and
builds their records, so the parent neither decompresses a page twice nor pickles HTML, and one pool
task carries many pages. Time box: a chunk that runs past ``timeout`` (or whose worker dies) is run
again one page per task, each page with ``timeout`` of its own; a page that still does not finish gets
a record with an ``extraction_error``.
"""

from __future__ import annotations

import os
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pebble import ProcessPool

from archive.cdxj import BadRecord, CdxjLine, index_filename, iter_scan
from archive.reader import ArchiveError, read_record, remove_chunking
from archive.records import Record, TextEncoding, text_fingerprint
from crawler.extraction import Extraction

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
CHUNK = 16          # pages per pool task: one task's overhead is shared by many pages
_WARC_NAME = re.compile(r"^[A-Za-z0-9._-]+\.warc(\.gz)?$")
_ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")


def extractor_version() -> str:
    """What produced the records: this package and trafilatura, with their versions."""
    import trafilatura

    from crawler import __version__

    return f"newsarchiver-crawler {__version__}, trafilatura {trafilatura.__version__}"


@dataclass(frozen=True)
class PageRef:
    """Where one archived response (status 200) is: all a worker needs to read it itself."""

    path: Path                # the WARC file to read
    line: CdxjLine            # its index line (filename as the index names it, offset, length, url, status)


@dataclass(frozen=True)
class Page:
    """One archived response, read from its WARC record."""

    line: CdxjLine
    fetched_at: str                         # WARC-Date, ISO 8601 "Z"
    headers: tuple[tuple[str, str], ...]
    body: bytes                             # payload without transfer coding, content coding as received
    record_id: str | None
    payload_digest: str | None


@dataclass(frozen=True)
class Crawled:
    """A page as the crawl's spider got it: the body without content coding, and its ``Content-Type``."""

    body: bytes
    content_type: str | None


class UndecodableError(ValueError):
    """An HTML page whose content coding cannot be removed (the crawl archived it and made no record)."""


@dataclass(frozen=True)
class Outcome:
    """A worker's answer for one response: its record, or why its WARC record could not be read, or
    neither when it is not a page (not HTML)."""

    record: Record | None
    problem: BadRecord | None = None


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


def iter_refs(data_dir: Path, warcs: Iterable[Path], stats: ReextractStats) -> Iterator[PageRef]:
    """The responses of ``warcs`` that may be pages (status 200, not robots.txt, whatever their
    ``Content-Type``), in file order; bad records go to ``stats.problems``."""
    for path in warcs:
        stats.files += 1
        for line in iter_scan(path, index_filename(data_dir, path)):   # pages go out while the scan goes on
            if isinstance(line, BadRecord):
                stats.problems.append(line)
            elif not (line.is_revisit or line.status != 200 or _is_robots_txt(line.url)):
                yield PageRef(path, line)


def _is_robots_txt(url: str) -> bool:
    """robots.txt is read by the crawl, never a page of it, even when a server answers it with HTML."""
    path = url.split("?", 1)[0].split("#", 1)[0]
    return path.count("/") == 3 and path.endswith("/robots.txt")


def read_page(ref: PageRef) -> Page:
    """Read one response's WARC record; raises ``ArchiveError`` when it is unreadable."""
    line = ref.line
    try:
        record = read_record(ref.path, line.offset, line.length)
        body = remove_chunking(record.raw_payload, record.http_headers)
    except ArchiveError:
        raise
    except Exception as exc:  # the parser meets many kinds of corrupt input: each is a bad record
        raise ArchiveError(ref.path, line.offset, f"unreadable record ({type(exc).__name__}: {exc})") from exc
    if record.rec_type != "response":
        raise ArchiveError(ref.path, line.offset, f"expected a response record, found {record.rec_type!r}")
    return Page(line=line, fetched_at=_iso_z(record.date or "", line.timestamp), headers=record.http_headers,
                body=body, record_id=record.record_id, payload_digest=record.payload_digest)


def _iso_z(warc_date: str, ts: str) -> str:
    if _ISO_Z.match(warc_date):
        return warc_date
    return f"{ts[:4]}-{ts[4:6]}-{ts[6:8]}T{ts[8:10]}:{ts[10:12]}:{ts[12:14]}Z"


def as_crawled(page: Page) -> Crawled | None:
    """``page`` as the crawl's spider got it, or None when the crawl made no record of it (not HTML).

    The same steps, with the same code where it can be called: Scrapy's response class from the headers,
    URL and body (``responsetypes``); content coding removed by Scrapy's decoders as its
    ``HttpCompressionMiddleware`` does (a truncated gzip body gives what it holds), a body labelled gzip
    without the gzip magic used as it is (``crawler.redirects.HttpCompressionMiddleware``); HTML as the
    news spider tells it (``spiders.seeds.detect_kind`` and a text response). Raises ``UndecodableError``
    for a page labelled HTML whose content coding does not decode (a crawl archives it, logs a warning and
    makes no record; a re-extraction keeps the page in view with a record that says why it has no text).
    """
    from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
    from scrapy.http import Headers, TextResponse
    from scrapy.responsetypes import responsetypes

    from crawler.redirects import not_gzip_at_all  # the crawl's own test
    from crawler.settings import DOWNLOAD_MAXSIZE  # what a crawl's HttpCompressionMiddleware decodes up to
    from spiders.seeds import BodyError, Kind, detect_kind

    url = page.line.url
    headers = Headers()
    for name, value in page.headers:
        headers.appendlist(name, value)
    raw_type = headers.get(b"Content-Type")
    content_type = raw_type.decode("latin-1") if raw_type is not None else None
    labelled_html = (content_type or "").split(";")[0].strip().lower() in HTML_TYPES
    body = page.body
    codings = headers.getlist("Content-Encoding")
    if codings:
        try:
            to_decode, to_keep = HttpCompressionMiddleware._split_encodings(codings)
            for coding in to_decode:
                body = HttpCompressionMiddleware._decode(body, coding, DOWNLOAD_MAXSIZE)
        except Exception as exc:  # gzip.BadGzipFile, zlib.error, brotli/zstd errors, size: no common base
            label = b", ".join(codings).decode("latin-1")
            if not_gzip_at_all(label, page.body):
                body = page.body                                   # not gzip at all: used as it is
            else:
                if not labelled_html:
                    return None
                reason = f"{type(exc).__name__}: {exc}"[:200]
                raise UndecodableError(f"content decoding failed: Content-Encoding: {label} could not be "
                                       f"decoded ({reason}); the WARC holds the payload as received") from exc
        else:
            headers["Content-Encoding"] = to_keep
            if not to_keep:
                del headers["Content-Encoding"]
    if not issubclass(responsetypes.from_args(headers=headers, url=url, body=body), TextResponse):
        return None                                        # Scrapy gives the spider no text: no page
    try:
        if detect_kind(body, content_type or "", DOWNLOAD_MAXSIZE) is not Kind.HTML:
            return None
    except BodyError as exc:    # gzip inside the decoded body (compressed twice) that does not decode
        if not labelled_html:
            return None
        raise UndecodableError(f"content decoding failed: {exc}; the WARC holds the payload as received") from exc
    return Crawled(body, content_type)


def extract_pages(refs: list[PageRef], run_id: str) -> list[Outcome]:
    """In a worker: read, decode, extract and classify each page; one outcome per response, in order.

    A payload that does not decode, or an exception of the extractor, becomes that page's
    ``extraction_error``; the other pages go on.
    """
    from crawler.charset import decode_html
    from crawler.extraction import extract_and_classify

    outcomes = []
    for ref in refs:
        try:
            page = read_page(ref)
        except ArchiveError as exc:
            outcomes.append(Outcome(None, BadRecord(ref.line.filename, ref.line.offset, exc.reason)))
            continue
        try:
            crawled = as_crawled(page)
        except UndecodableError as exc:
            outcomes.append(Outcome(build_record(page, run_id, None, "page", str(exc))))
            continue
        if crawled is None:
            outcomes.append(Outcome(None))                 # not a page: no record, as in the crawl
            continue
        extraction: Extraction | None = None
        kind, error, encoding = "page", None, None
        try:
            html, encoding = decode_html(crawled.body, crawled.content_type)
            extraction, kind = extract_and_classify(html, page.line.url, dict(page.headers))
        except Exception as exc:  # kept in the page's record (extraction_error), counted in the stats
            extraction, kind, error = None, "page", f"{type(exc).__name__}: {exc}"[:500]
        outcomes.append(Outcome(build_record(page, run_id, extraction, kind, error, encoding,
                                             crawled.content_type)))
    return outcomes


def _content_type(headers: tuple[tuple[str, str], ...]) -> str | None:
    return next((v for k, v in reversed(headers) if k.lower() == "content-type"), None)  # the last, as Scrapy


def build_record(page: Page, run_id: str, extraction: Extraction | None, kind: str, error: str | None,
                 encoding: TextEncoding | None = None, content_type: str | None = None) -> Record:
    """The record of one re-extracted page (validated when it is stored)."""
    ext = extraction
    text = ext.text if ext else ""
    name = Path(page.line.filename).name
    warc = None
    if _WARC_NAME.match(name) and page.record_id:
        warc = {"filename": name, "offset": page.line.offset, "length": page.line.length,
                "record_id": page.record_id, "payload_digest": page.payload_digest}
    return Record(
        run_id=run_id, url=page.line.url, canonical_url=(ext.canonical_url if ext else None) or page.line.url,
        fetched_at=page.fetched_at, status=page.line.status or 200,
        content_type=content_type if content_type is not None else _content_type(page.headers),
        kind=kind, title=ext.title if ext else None, authors=list(ext.authors) if ext else [],
        published=ext.published if ext else None, modified=ext.modified if ext else None,
        language=ext.language if ext else None, site_name=ext.site_name if ext else None,
        description=ext.description if ext else None, image=ext.image if ext else None,
        categories=list(ext.categories) if ext else [], tags=list(ext.tags) if ext else [],
        text=text, word_count=len(text.split()), warc=warc, extraction_error=error,
        text_fingerprint=text_fingerprint(ext.title, text) if ext else None, encoding=encoding,
    )


def _chunks(refs: Iterator[PageRef], size: int) -> Iterator[list[PageRef]]:
    """Runs of up to ``size`` pages of one WARC file."""
    chunk: list[PageRef] = []
    for ref in refs:
        if chunk and (len(chunk) >= size or ref.path != chunk[0].path):
            yield chunk
            chunk = []
        chunk.append(ref)
    if chunk:
        yield chunk


def reextract(data_dir: Path, warcs: list[Path], *, run_id: str, workers: int = 0, timeout: float = 60.0,
              on_record: Callable[[Record], None], chunk: int = CHUNK) -> ReextractStats:
    """Extract every HTML response of ``warcs`` again in a process pool; ``on_record`` gets each record
    in WARC order. ``workers`` 0 means one per core; ``timeout`` is each page's time limit."""
    stats = ReextractStats()
    workers = workers or os.cpu_count() or 1
    window = workers * 4                      # tasks in flight: bounded memory, every core busy
    pending: deque[tuple[list[PageRef], Future[Any]]] = deque()
    pool = ProcessPool(max_workers=workers)

    def submit(refs: list[PageRef]) -> Future[Any]:
        return pool.schedule(extract_pages, args=(refs, run_id), timeout=timeout)

    def deliver(outcome: Outcome) -> None:
        if outcome.problem is not None:
            stats.pages += 1
            stats.problems.append(outcome.problem)
            return
        if outcome.record is None:        # not HTML: the crawl made no record of it either
            return
        stats.pages += 1
        stats.records += 1
        stats.articles += outcome.record.kind == "article"
        stats.extraction_errors += outcome.record.extraction_error is not None
        on_record(outcome.record)

    def finish(refs: list[PageRef], future: Future[Any]) -> None:
        try:
            outcomes: list[Outcome] = future.result()
        except Exception as exc:  # timed out or the worker died: each page again on its own, or its error
            if len(refs) > 1:
                for ref, single in [(ref, submit([ref])) for ref in refs]:
                    finish([ref], single)
                return
            outcomes = [_failed(refs[0], run_id, _failure(exc, timeout))]
        for outcome in outcomes:
            deliver(outcome)

    try:
        for refs in _chunks(iter_refs(data_dir, warcs, stats), chunk):
            pending.append((refs, submit(refs)))
            if len(pending) >= window:
                finish(*pending.popleft())
        while pending:
            finish(*pending.popleft())
    finally:
        for _, future in pending:
            future.cancel()
        pool.close()
        pool.join()
    return stats


def _failure(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, FutureTimeout):
        return f"extraction timed out after {timeout:g} s"
    return f"{type(exc).__name__}: {exc}"[:500]


def _failed(ref: PageRef, run_id: str, error: str) -> Outcome:
    """The record of a page whose extraction did not finish (read again here for its capture details),
    or no record when it is not a page."""
    try:
        page = read_page(ref)
    except ArchiveError as exc:
        return Outcome(None, BadRecord(ref.line.filename, ref.line.offset, exc.reason))
    try:
        crawled = as_crawled(page)
    except UndecodableError as exc:
        return Outcome(build_record(page, run_id, None, "page", str(exc)))
    if crawled is None:
        return Outcome(None)
    return Outcome(build_record(page, run_id, None, "page", error, content_type=crawled.content_type))
