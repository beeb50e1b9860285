"""Resume an interrupted or crashed run from what it archived: ``crawler crawl SPIDER --resume RUN``.

Scrapy's ``JOBDIR`` keeps its request queue and seen-set on disk, but only a clean stop leaves them
consistent: the disk queue writes its index when it is closed and the seen-set is a buffered file, so
after a SIGKILL requests that were queued but never fetched would be marked seen and lost. The truth
that survives any crash is the archive itself, so resuming replays it:

- at start, ``ArchiveStorage`` recovers ``*.warc.gz.open`` files (truncated to their last complete
  record) and the record store drops a partial last JSON line (``archive.writer``/``archive.records``);
- ``ResumeState`` then reads the WARC files of run RUN (``warcinfo`` ``isPartOf``) for the responses
  already captured, and ``records/RUN.jsonl`` for the pages already recorded; records and captures
  missing from the catalog (its last batch died with the process: ``archive.catalog`` buffers rows) are
  added back (``restore_captures``; ``ArchiveStorage`` does the same for any recovered ``.open`` file);
- ``ResumeMiddleware`` (downloader middleware, 790, before the incremental middleware's 800) answers a request for an already captured URL from
  the WARC record instead of the network, once per URL: the spider sees the same response, finds the
  same links, and only what was never captured (what was in flight at the crash, and what was still
  queued) is fetched. The capture middleware does not write replayed responses again;
- ``ResumeFilterPipeline`` (200) drops the items of pages that already have their record, so nothing
  is extracted or recorded twice; a page captured but not yet recorded at the crash gets its record now.

The spider arguments and settings of a run are saved in ``runs/RUN/state/crawl.json`` when it starts,
so ``--resume RUN`` needs nothing else.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured
from scrapy.http import Headers, Response
from scrapy.responsetypes import responsetypes

from archive.catalog import Catalog
from archive.reader import ArchivedRecord, ArchiveError, iter_records, read_record
from archive.records import Record, RecordFileError, iter_jsonl
from archive.writer import WarcLocation
from crawler.items import PageItem
from crawler.storage import ArchiveStorage

logger = logging.getLogger(__name__)

RESUMED = "resumed_from"      # request.meta: the WarcLocation dict a response was replayed from
STATE_FILE = "crawl.json"


def state_dir(data_dir: Path, run_id: str) -> Path:
    return Path(data_dir) / "runs" / run_id / "state"


def save_run_args(data_dir: Path, run_id: str, spider: str, spider_args: dict[str, Any],
                  settings: dict[str, Any], processes: int = 1) -> Path:
    """Write what ``--resume`` needs to start the run again (atomically). ``processes``: how many crawl
    processes the run has (crawler.partition); a resume must use as many, or its parts find nothing."""
    directory = state_dir(data_dir, run_id)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / STATE_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"run_id": run_id, "spider": spider, "spider_args": spider_args,
                               "settings": settings, "processes": processes}, indent=2, default=str),
                   encoding="utf-8")
    tmp.replace(path)
    return path


def load_run_args(data_dir: Path, run_id: str) -> dict[str, Any]:
    """The saved arguments of ``run_id``; raises ``FileNotFoundError`` naming what is missing."""
    path = state_dir(data_dir, run_id) / STATE_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no run {run_id!r} to resume in {data_dir} ({path} is missing)")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def run_processes(data_dir: Path, run_id: str, saved: dict[str, Any]) -> int:
    """How many crawl processes run ``run_id`` was crawled in: the number its state file says; for a state
    file written before it said so, the partitions' logs ``runs/RUN-p<i>.log`` (none: 1)."""
    n = saved.get("processes")
    if isinstance(n, int) and n >= 1:
        return n
    prefix = f"{run_id}-p"
    indexes = [int(p.name[len(prefix):-len(".log")]) for p in (Path(data_dir) / "runs").glob("*.log")
               if p.name.startswith(prefix) and p.name[len(prefix):-len(".log")].isdigit()]
    return max(indexes) + 1 if indexes else 1


def _run_of(path: Path) -> str | None:
    """The ``isPartOf`` of a WARC file's warcinfo record (None if it has none or is unreadable)."""
    try:
        first = next(iter_records(path), None)
    except ArchiveError:
        return None
    if first is None or first.rec_type != "warcinfo":
        return None
    for line in first.raw_payload.decode("utf-8", "replace").splitlines():
        name, _, value = line.partition(":")
        if name.strip().lower() == "ispartof":
            return value.strip()
    return None


def _location(rec: ArchivedRecord) -> WarcLocation:
    return WarcLocation(rec.filename, rec.offset, rec.length, rec.record_id or "", rec.payload_digest)


CAPTURE_TYPES = ("response", "revisit")     # the WARC records crawler.capture gives a catalog row


def _capture_row(rec: ArchivedRecord, run_id: str | None) -> dict[str, Any]:
    """The ``Catalog.add_capture`` arguments crawler.capture would have given this record."""
    status = rec.http_status
    if status is None and rec.rec_type == "revisit" and "server-not-modified" in (rec.header("WARC-Profile") or ""):
        status = 304   # an empty-block revisit of a 304 (crawler.incremental)
    content_type = rec.http_header("Content-Type") or ""
    return dict(url=rec.target_uri or "", fetched_at=rec.date or "", status=status,
                mime=content_type.split(";")[0].strip().lower(), payload_digest=rec.payload_digest,
                warc_filename=rec.filename, warc_offset=rec.offset, warc_length=rec.length,
                record_id=rec.record_id or "", warc_type=rec.rec_type, run_id=run_id)


def restore_captures(catalog: Catalog, path: Path) -> int:
    """Add the catalog rows missing for the response and revisit records of one closed WARC file.

    The catalog buffers its rows (up to 200, or 5 s) before it commits them, so after a SIGKILL the last
    records of a WARC file can be in the (recovered) file but not in the catalog. Rows are matched by
    record id, so running this again adds nothing. Returns the number of rows added; a damaged record
    stops the scan of that file with a warning (the rows read until then are added).
    """
    path = Path(path)
    known = catalog.capture_ids(path.name)
    run_id = _run_of(path)
    added = 0
    try:
        for rec in iter_records(path):
            if rec.rec_type in CAPTURE_TYPES and rec.target_uri and rec.record_id not in known:
                catalog.add_capture(**_capture_row(rec, run_id))
                added += 1
    except ArchiveError as exc:
        logger.warning("catalog: %s; its records after that point have no catalog row", exc)
    if added:
        catalog.commit()
        logger.warning("catalog: %d capture(s) of %s were missing (the process that wrote them was killed); "
                       "added back", added, path.name)
    return added


@dataclass
class ResumeState:
    """What run ``run_id`` already holds: captured responses (by URL) and recorded pages."""

    run_id: str
    # url -> [(location, date, refers_to)] in capture order: a URL fetched twice (robots.txt: once by the
    # robots middleware, once by the spider) is replayed twice. refers_to: for a revisit record (an
    # unchanged page, crawler.incremental), the record id of the response holding its payload.
    captured: dict[str, list[tuple[WarcLocation, str, str | None]]] = field(default_factory=dict)
    responses: dict[str, WarcLocation] = field(default_factory=dict)   # record id -> response location
    recorded: set[str] = field(default_factory=set)
    files: dict[Path, int] = field(default_factory=dict)   # WARC file of the run -> its captures read

    @classmethod
    def load(cls, data_dir: Path, run_id: str) -> ResumeState:
        state = cls(run_id)
        for path in sorted((Path(data_dir) / "warc").glob("*.warc.gz")):
            if _run_of(path) != run_id:
                continue
            state.files[path] = 0
            try:
                for rec in iter_records(path):
                    if rec.rec_type not in CAPTURE_TYPES or not rec.target_uri:
                        continue
                    state.files[path] += 1
                    refers_to = rec.header("WARC-Refers-To") if rec.rec_type == "revisit" else None
                    entry = (_location(rec), rec.date or "", refers_to)
                    state.captured.setdefault(rec.target_uri, []).append(entry)
                    if rec.rec_type == "response" and rec.record_id:
                        state.responses[rec.record_id] = entry[0]
            except ArchiveError as exc:  # keep what was read before the damage
                logger.warning("resume: %s; captures after that point will be fetched again", exc)
        records = Path(data_dir) / "records" / f"{run_id}.jsonl"
        if records.exists():
            try:
                for d in iter_jsonl(records):
                    state.recorded.add(str(d.get("url")))
            except RecordFileError as exc:
                logger.warning("resume: %s; pages after it will be recorded again", exc)
        return state


class ResumeMiddleware:
    """Answers requests for URLs this run already captured from its WARC files (priority 790)."""

    def __init__(self, crawler: Crawler, storage: ArchiveStorage, run_id: str) -> None:
        self.crawler = crawler
        self.storage = storage
        self.run_id = run_id
        self.state: ResumeState | None = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ResumeMiddleware:
        run_id = crawler.settings.get("RESUME_RUN")
        if not run_id:
            raise NotConfigured("not resuming a run")
        storage = crawler.get_extension(ArchiveStorage)
        if storage is None:
            raise NotConfigured("resuming needs the crawler.storage.ArchiveStorage extension")
        return cls(crawler, storage, run_id)

    def spider_opened(self, spider: Spider) -> None:
        self.storage.open(spider)  # recovery of .open files and partial lines happens there, first
        self.state = ResumeState.load(self.storage.data_dir, self.run_id)
        self._restore_catalog()
        self._restore_captures()
        set_state(self.crawler, self.state)
        logger.info("resuming run %s: %d URLs archived, %d pages recorded", self.run_id,
                    len(self.state.captured), len(self.state.recorded))

    def _restore_catalog(self) -> None:
        """Records written to the JSON file whose catalog rows were lost with the last batch."""
        catalog, path = self.storage.catalog, self.storage.data_dir / "records" / f"{self.run_id}.jsonl"
        if catalog is None or not path.exists():
            return
        known = {row["id"] for row in catalog.records(run_id=self.run_id)}
        restored = 0
        for d in iter_jsonl(path):
            if d.get("id") not in known:
                catalog.add_record(Record.from_dict(d), path)
                restored += 1
        if restored:
            logger.warning("resume: %d records of run %s were missing from the catalog; added back",
                           restored, self.run_id)

    def _restore_captures(self) -> None:
        """Captures of this run's WARC files whose catalog rows were lost with the last batch (a file closed
        or rolled over just before a kill; a recovered ``.open`` file was already handled at start)."""
        catalog, state = self.storage.catalog, self.state
        if catalog is None or state is None:
            return
        for path, captures in state.files.items():
            if len(catalog.capture_ids(path.name)) < captures:   # read again only the incomplete files
                restore_captures(catalog, path)

    def process_request(self, request: Request, spider: Spider | None = None) -> Response | None:
        state = self.state
        if state is None or not state.captured.get(request.url):
            return None
        location, date, refers_to = state.captured[request.url].pop(0)
        warc_dir = self.storage.data_dir / "warc"
        try:
            rec = read_record(warc_dir / location.filename, location.offset, location.length)
            original = rec
            if refers_to is not None:  # a revisit: the payload (and maybe the headers) are the original's
                orig_loc = state.responses.get(refers_to) or self._original(rec, refers_to)
                if orig_loc is None:
                    logger.info("resume: %s was a revisit of a capture that is not in the catalog; fetching it",
                                request.url)
                    return None
                original = read_record(_existing(warc_dir / orig_loc.filename), orig_loc.offset, orig_loc.length)
        except ArchiveError as exc:
            logger.warning("resume: cannot replay %s (%s); fetching it again", request.url, exc)
            return None
        headers = Headers()
        for name, value in rec.http_headers or original.http_headers:
            headers.appendlist(name, value)
        body = original.raw_payload
        cls = responsetypes.from_args(headers=headers, url=request.url, body=body)
        request.meta[RESUMED] = location.to_dict()
        request.meta["warc"] = location.to_dict()
        request.meta["warc_date"] = (date or "").replace("+00:00", "Z")
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value("resume/replayed")
        status = rec.http_status if rec.http_headers else original.http_status
        return cls(url=request.url, status=status or 200, headers=headers, body=body, flags=["resumed"],
                   request=request)

    def _original(self, revisit: ArchivedRecord, record_id: str) -> WarcLocation | None:
        """Where the response a revisit refers to is, when it is outside this run (an earlier run, or the
        other process of a ``--processes`` run): from the catalog, by URL and record id."""
        catalog = self.storage.catalog
        if catalog is None:
            return None
        url = revisit.header("WARC-Refers-To-Target-URI") or revisit.target_uri or ""
        for row in catalog.captures(url=url):
            if row["record_id"] == record_id and row["warc_type"] == "response":
                return WarcLocation(row["warc_filename"], row["warc_offset"], row["warc_length"], record_id,
                                    row["payload_digest"])
        return None


def _existing(path: Path) -> Path:
    """A WARC file by its final name, or by its ``.open`` name while its writer (another process) is at it."""
    unfinished = path.with_name(path.name + ".open")
    return unfinished if not path.exists() and unfinished.exists() else path


_STATE_ATTR = "_resume_state"


def set_state(crawler: Crawler, state: ResumeState) -> None:
    setattr(crawler, _STATE_ATTR, state)


def get_state(crawler: Crawler) -> ResumeState | None:
    state = getattr(crawler, _STATE_ATTR, None)
    return state if isinstance(state, ResumeState) else None


class ResumeFilterPipeline:
    """Drops the items of pages that already have their JSON record in the resumed run (priority 200)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ResumeFilterPipeline:
        if not crawler.settings.get("RESUME_RUN"):
            raise NotConfigured("not resuming a run")
        return cls(crawler)

    def process_item(self, item: Any, spider: Spider | None = None) -> Any:
        state = get_state(self.crawler)
        if state is None or not isinstance(item, PageItem) or item.url not in state.recorded:
            return item
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value("resume/already_recorded")
        raise DropItem(f"already recorded before the interruption: {item.url}", log_level="DEBUG")
