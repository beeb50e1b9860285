"""The SQLite catalog: every capture, every record and every run, for lookup and listing.

WAL mode; the schema version is ``PRAGMA user_version``. Writes are buffered in memory and committed in
one short transaction every ``batch_size`` rows, when the oldest buffered row is ``max_delay`` seconds old
(checked on the next write), on ``commit()`` and on ``close()``; reads see committed rows (a read first
commits what this object has buffered). Rows buffered when the process dies are lost.

A catalog whose file or directory is not writable (a read-only mount, an archive copied off the crawl
machine) is opened read-only: reads work, writes raise ``CatalogError`` naming the file. One opened for
writing is checked first (``PRAGMA quick_check``, about a second per 300 MB) so that a damaged catalog
stops a crawl at its start. Any SQLite error of a damaged catalog ("file is not a database", "database
disk image is malformed") becomes a ``CatalogError`` that says how to rebuild it.

Times are stored as fixed-width UTC strings (``2026-11-27T11:22:33.000000Z``) so that text order is time
order, and returned in the public ``2026-11-27T11:22:33Z`` form; a record's ``fetched_at`` is kept to the
second, and a capture extracted more than once is read as its newest record. Rows come back as plain dicts
(``authors``, ``args``, ``stats`` decoded from JSON).

One connection is shared behind a lock (``check_same_thread=False``): the Scrapy side calls it from
the reactor thread, the CLI from its main thread.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

from archive.records import Record
from archive.timeutil import iso_z, parse_iso, sortable_z, utc_now

__all__ = ["SCHEMA_VERSION", "Catalog", "CatalogError", "catalog_error", "connect_readonly", "writable"]

SCHEMA_VERSION = 2  # 2: records.version, records.previous, records.text_fingerprint

_SCHEMA = """
CREATE TABLE IF NOT EXISTS captures (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL,
    site TEXT NOT NULL,
    fetched_at TEXT NOT NULL,
    status INTEGER,
    mime TEXT,
    payload_digest TEXT,
    warc_filename TEXT NOT NULL,
    warc_offset INTEGER NOT NULL,
    warc_length INTEGER NOT NULL,
    record_id TEXT NOT NULL,
    warc_type TEXT NOT NULL,
    run_id TEXT
);
CREATE INDEX IF NOT EXISTS captures_url ON captures (url, fetched_at);
CREATE INDEX IF NOT EXISTS captures_fetched_at ON captures (fetched_at);
CREATE INDEX IF NOT EXISTS captures_site ON captures (site, fetched_at);
CREATE INDEX IF NOT EXISTS captures_digest ON captures (payload_digest);
CREATE TABLE IF NOT EXISTS records (
    id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    url TEXT NOT NULL,
    canonical_url TEXT,
    fetched_at TEXT NOT NULL,
    status INTEGER NOT NULL,
    kind TEXT NOT NULL,
    title TEXT,
    authors TEXT NOT NULL,
    published TEXT,
    payload_digest TEXT,
    warc_filename TEXT,
    warc_offset INTEGER,
    warc_length INTEGER,
    records_file TEXT NOT NULL,
    site TEXT NOT NULL,
    version INTEGER,
    previous TEXT,
    text_fingerprint TEXT
);
CREATE INDEX IF NOT EXISTS records_url ON records (url, fetched_at);
CREATE INDEX IF NOT EXISTS records_canonical ON records (canonical_url, fetched_at);
CREATE INDEX IF NOT EXISTS records_fetched_at ON records (fetched_at);
CREATE INDEX IF NOT EXISTS records_site ON records (site, fetched_at);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    spider TEXT NOT NULL,
    args TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL,
    stats TEXT
);
"""
# Schema 1 -> 2 (crawler.incremental: article versions); new catalogs get these columns from _SCHEMA.
_V2_COLUMNS = """
ALTER TABLE records ADD COLUMN version INTEGER;
ALTER TABLE records ADD COLUMN previous TEXT;
ALTER TABLE records ADD COLUMN text_fingerprint TEXT;
"""

_TIME_COLUMNS = ("fetched_at", "started_at", "finished_at")
_JSON_COLUMNS = ("authors", "args", "stats")


class CatalogError(RuntimeError):
    """The catalog file cannot be used (newer schema, damaged, read-only for a write, ...)."""


def _damaged(exc: sqlite3.Error) -> bool:
    """SQLite's answer for a file that is not (or no longer) a well-formed database."""
    return getattr(exc, "sqlite_errorname", "") in ("SQLITE_CORRUPT", "SQLITE_NOTADB") or any(
        text in str(exc) for text in ("malformed", "not a database"))


def catalog_error(path: Path, exc: sqlite3.Error, doing: str) -> CatalogError:
    """One line for an SQLite error on the catalog at ``path`` (also the schedule tables in it): what failed,
    and for a damaged file how to get a catalog back."""
    if _damaged(exc):
        return _damaged_error(path, doing, str(exc))
    return CatalogError(f"{path}: {doing} ({exc})")


def _damaged_error(path: Path, doing: str, detail: str) -> CatalogError:
    return CatalogError(
        f"{path}: {doing}: the file is damaged ({detail}); move it aside and run 'crawler reextract --data-dir "
        f"{Path(path).parent}' to rebuild the catalog's records from the WARC files (they are not affected)"
    )


def writable(path: Path) -> bool:
    """Can the catalog at ``path`` be written: the file and its directory (WAL mode keeps ``-wal`` and ``-shm``
    files next to it). False on a read-only mount, also for root."""
    path = Path(path)
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def connect_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection to the existing catalog at ``path``, usable from any thread.

    SQLite reads a WAL database only with its ``-shm`` file, which it cannot make in a read-only directory:
    there the file is opened as immutable instead, which is exact as long as no ``-wal`` file holds changes
    (a catalog closed cleanly has none). Raises ``CatalogError``, or ``sqlite3.Error`` for a damaged file."""
    path = Path(path)
    if not path.is_file():
        raise CatalogError(f"{path}: no catalog there (crawl something first, or pass --data-dir)")
    uri = "file:" + quote(str(path.resolve()))

    def connect(query: str) -> sqlite3.Connection:
        db = sqlite3.connect(f"{uri}?{query}", uri=True, check_same_thread=False, isolation_level=None)
        try:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()  # opens the file: damage shows here
        except BaseException:
            db.close()
            raise
        return db

    try:
        return connect("mode=ro")
    except sqlite3.OperationalError:
        if os.access(path.parent, os.W_OK):
            raise
    wal = Path(f"{path}-wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise CatalogError(
            f"{path}: cannot read the catalog: {wal.name} holds changes not yet in it, and SQLite cannot make the "
            f"{path.name}-shm file it needs to read them in a read-only directory; copy the data directory to "
            "writable storage (or open it once where it is writable)"
        )
    return connect("immutable=1")


def _site(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def _db_time(value: str | datetime) -> str:
    return sortable_z(parse_iso(value))


def _record_time(value: str | datetime) -> str:
    """A record's ``fetched_at`` in whole seconds: the crawl writes ``11:22:33Z``, ``crawler reextract`` the
    WARC-Date ``11:22:33.176053Z`` of the same capture; both must be one capture in the catalog."""
    return sortable_z(parse_iso(value).replace(microsecond=0))


# The newest record of each capture: a capture extracted again (``crawler reextract``) has a record per
# extraction, all with its URL, its WARC location and its fetched_at to the second (compared on the first 19
# characters, so that rows stored with microseconds by earlier versions count as the same capture too).
_NEWEST_OF_CAPTURE = (
    "NOT EXISTS (SELECT 1 FROM records AS n WHERE n.url = records.url"
    " AND substr(n.fetched_at, 1, 19) = substr(records.fetched_at, 1, 19)"
    " AND n.warc_filename IS records.warc_filename AND n.warc_offset IS records.warc_offset"
    " AND n.rowid > records.rowid)"
)


def _row(cursor: sqlite3.Cursor, raw: tuple[Any, ...]) -> dict[str, Any]:
    d: dict[str, Any] = {}
    for (name, *_), value in zip(cursor.description, raw, strict=True):
        if name in _TIME_COLUMNS and isinstance(value, str):
            value = iso_z(parse_iso(value))
        elif name in _JSON_COLUMNS and isinstance(value, str):
            value = json.loads(value)
        d[name] = value
    return d


class Catalog:
    """SQLite index of captures, records and runs at ``path`` (created if missing).

    ``readonly``: True opens an existing catalog for reading only; None (the default) does so when the
    catalog's file or directory is not writable (see ``writable``), and opens it for writing otherwise."""

    def __init__(self, path: Path, *, batch_size: int = 200, max_delay: float = 5.0,
                 readonly: bool | None = None) -> None:  # fmt: skip
        self.path = Path(path)
        self.batch_size = batch_size
        self.max_delay = max_delay
        if readonly is None:
            readonly = self.path.exists() and not writable(self.path)
        self.readonly = readonly
        self._lock = threading.RLock()
        self._pending: list[tuple[str, tuple[Any, ...]]] = []
        self._pending_since = 0.0
        # url / canonical_url of the buffered rows, by table: a read of one table commits only for its own rows
        # (an item's latest_record must not commit the capture row its response has just buffered)
        self._pending_urls: dict[str, set[str]] = {"captures": set(), "records": set()}
        self._stored_names: dict[str, str] = {}  # records_file as given -> as stored
        self._db: sqlite3.Connection | None = None
        try:
            if readonly:
                self._db = connect_readonly(self.path)
            else:
                try:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise CatalogError(f"{self.path}: cannot create the catalog ({exc})") from exc
                self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.row_factory = _row
            self._db.execute("PRAGMA busy_timeout=10000")
            if readonly:
                self._check_version()
            else:
                self._wal()
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._quick_check()
                self._migrate()
        except BaseException as exc:
            if self._db is not None:
                self._db.close()
                self._db = None
            if isinstance(exc, sqlite3.Error):
                raise self._error(exc, "cannot open the catalog") from exc
            raise

    def _error(self, exc: sqlite3.Error, doing: str) -> CatalogError:
        return catalog_error(self.path, exc, doing)

    def _wal(self) -> None:
        """Switch to WAL. SQLite answers "database is locked" at once, without its busy handler, when
        another process is creating the same new catalog (`crawl --processes` into a new data
        directory): try again for up to the busy timeout."""
        assert self._db is not None
        deadline = time.monotonic() + 10.0
        while True:
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def _quick_check(self) -> None:
        """Damage shows only when a query reaches the damaged page: a crawl would fetch and archive for
        nothing (its requests' catalog lookups failing one by one). Every page is read once here instead."""
        rows = self._conn().execute("PRAGMA quick_check(1)").fetchall()
        problem = rows[0]["quick_check"] if rows else "ok"
        if problem != "ok":
            problem = " ".join(problem.replace("*** in database main ***", "").split())  # one line
            raise _damaged_error(self.path, "cannot open the catalog", f"quick_check: {problem}")

    def _check_version(self) -> int:
        version: int = self._conn().execute("PRAGMA user_version").fetchone()["user_version"]
        if version > SCHEMA_VERSION:
            raise CatalogError(
                f"{self.path} has catalog schema {version}, this version knows up to {SCHEMA_VERSION}: "
                "upgrade the crawler"
            )
        return version

    def _migrate(self) -> None:
        db = self._conn()
        version = self._check_version()
        if version < SCHEMA_VERSION:
            upgrade = _V2_COLUMNS if version == 1 else ""
            db.executescript(
                "BEGIN IMMEDIATE;" + _SCHEMA + upgrade + f"PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
            )

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError(f"catalog {self.path} is closed")
        return self._db

    def _writing(self, what: str) -> None:
        if self.readonly:
            raise CatalogError(
                f"{self.path}: cannot {what}: the catalog is open read-only (its file or directory is not "
                "writable); run this where the data directory is writable"
            )

    # -- writing ---------------------------------------------------------------------------------

    def _write(self, sql: str, params: Iterable[Any], table: str = "", urls: Iterable[str | None] = ()) -> None:
        # Rows wait in memory, not in an open transaction: SQLite's write lock is held only while a
        # batch is flushed, so a second crawl or the CLI can write to the same catalog meanwhile.
        with self._lock:
            self._conn()
            self._writing("add rows to the catalog")
            if not self._pending:
                self._pending_since = time.monotonic()
            self._pending.append((sql, tuple(params)))
            if table:
                self._pending_urls[table].update(u for u in urls if u)
            if len(self._pending) >= self.batch_size or time.monotonic() - self._pending_since >= self.max_delay:
                self._commit_locked()

    def _commit_locked(self) -> None:
        if not self._pending:
            return
        db = self._conn()
        rows, self._pending = self._pending, []
        try:
            db.execute("BEGIN IMMEDIATE")
            for sql, params in rows:
                db.execute(sql, params)
            db.execute("COMMIT")
            for urls in self._pending_urls.values():
                urls.clear()
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            self._pending = rows + self._pending
            if _damaged(exc):
                raise self._error(exc, f"could not write {len(rows)} buffered rows") from exc
            raise CatalogError(
                f"{self.path}: could not write {len(rows)} buffered rows ({exc}); they stay buffered and "
                "are retried on the next commit. If the catalog is locked, another process holds it."
            ) from exc

    def commit(self) -> None:
        """Commit buffered writes."""
        with self._lock:
            self._commit_locked()

    def add_capture(
        self,
        *,
        url: str,
        fetched_at: str | datetime,
        status: int | None,
        mime: str | None,
        payload_digest: str | None,
        warc_filename: str,
        warc_offset: int,
        warc_length: int,
        record_id: str,
        warc_type: str = "response",
        run_id: str | None = None,
    ) -> None:
        """Index one WARC record (response, revisit, ...)."""
        self._write(
            "INSERT INTO captures (url, site, fetched_at, status, mime, payload_digest, warc_filename,"
            " warc_offset, warc_length, record_id, warc_type, run_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (url, _site(url), _db_time(fetched_at), status, mime, payload_digest, warc_filename,
             warc_offset, warc_length, record_id, warc_type, run_id),
            "captures", (url,),
        )  # fmt: skip

    def add_record(self, record: Record, records_file: Path | str) -> None:
        """Index one record; ``records_file`` is stored relative to the catalog's directory when inside it."""
        stored = self._stored_names.get(str(records_file))
        if stored is None:  # resolved once per file: a crawl adds every record of its run to the same one
            path = Path(records_file)
            try:
                stored = str(path.resolve().relative_to(self.path.parent.resolve()))
            except ValueError:
                stored = str(path)
            self._stored_names[str(records_file)] = stored
        loc = record.location
        self._write(
            "INSERT OR REPLACE INTO records (id, run_id, url, canonical_url, fetched_at, status, kind, title,"
            " authors, published, payload_digest, warc_filename, warc_offset, warc_length, records_file, site,"
            " version, previous, text_fingerprint) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (record.id, record.run_id, record.url, record.canonical_url, _record_time(record.fetched_at),
             record.status, record.kind, record.title, json.dumps(list(record.authors), ensure_ascii=False),
             record.published, loc.payload_digest if loc else None, loc.filename if loc else None,
             loc.offset if loc else None, loc.length if loc else None, stored, _site(record.url),
             record.version, record.previous, record.text_fingerprint),
            "records", (record.url, record.canonical_url),
        )  # fmt: skip

    def start_run(self, run_id: str, spider: str, args: Mapping[str, Any], *,
                  started_at: str | datetime | None = None) -> None:  # fmt: skip
        """Record the start of a crawl run (status ``running``); committed at once."""
        self._writing(f"record the start of run {run_id}")
        with self._lock:
            self._commit_locked()
            try:
                with self._conn() as db:
                    db.execute(
                        "INSERT INTO runs (run_id, spider, args, started_at, status) VALUES (?,?,?,?,?)",
                        (run_id, spider, json.dumps(dict(args), ensure_ascii=False, default=str),
                         _db_time(started_at or utc_now()), "running"),
                    )  # fmt: skip
            except sqlite3.IntegrityError as exc:
                raise ValueError(f"run {run_id!r} already exists in {self.path}; pick a new run id") from exc
            except sqlite3.Error as exc:
                raise self._error(exc, f"cannot record the start of run {run_id}") from exc

    def finish_run(self, run_id: str, stats: Mapping[str, Any], status: str = "finished", *,
                   finished_at: str | datetime | None = None) -> None:  # fmt: skip
        """Record the end of a run with its stats; committed at once. Raises ``KeyError`` for an unknown run."""
        self._writing(f"record the end of run {run_id}")
        with self._lock:
            self._commit_locked()
            try:
                with self._conn() as db:
                    cur = db.execute(
                        "UPDATE runs SET finished_at = ?, status = ?, stats = ? WHERE run_id = ?",
                        (_db_time(finished_at or utc_now()), status,
                         json.dumps(dict(stats), ensure_ascii=False, default=str), run_id),
                    )  # fmt: skip
            except sqlite3.Error as exc:
                raise self._error(exc, f"cannot record the end of run {run_id}") from exc
            if cur.rowcount == 0:
                raise KeyError(f"no run {run_id!r} in {self.path} (start_run was not called)")

    # -- reading ---------------------------------------------------------------------------------

    def _query(self, sql: str, params: Iterable[Any]) -> list[dict[str, Any]]:
        with self._lock:
            self._commit_locked()
            return self._fetch(sql, params)

    def _fetch(self, sql: str, params: Iterable[Any]) -> list[dict[str, Any]]:
        try:
            return list(self._conn().execute(sql, tuple(params)).fetchall())
        except sqlite3.Error as exc:
            raise self._error(exc, "cannot read the catalog") from exc

    def _query_url(self, url: str, table: str, sql: str, params: Iterable[Any]) -> list[dict[str, Any]]:
        """A query about rows of one URL in ``table``: the buffered rows are flushed first only when one of
        that table's is about that URL (the per-request lookups of a crawl would otherwise commit every page
        singly)."""
        with self._lock:
            if url in self._pending_urls[table]:
                self._commit_locked()
            return self._fetch(sql, params)

    @staticmethod
    def _filters(
        url: str | None = None,
        site: str | None = None,
        since: str | datetime | None = None,
        until: str | datetime | None = None,
        **equal: Any,
    ) -> tuple[str, list[Any]]:
        where: list[str] = []
        params: list[Any] = []
        if url is not None:
            where.append("url = ?")
            params.append(url)
        if site is not None:
            where.append("site = ?")
            params.append(site.lower())
        if since is not None:
            where.append("fetched_at >= ?")
            params.append(_db_time(since))
        if until is not None:
            where.append("fetched_at < ?")
            params.append(_db_time(until))
        for column, value in equal.items():
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        return (" WHERE " + " AND ".join(where)) if where else "", params

    @staticmethod
    def _limit(limit: int | None) -> str:
        return f" LIMIT {int(limit)}" if limit is not None else ""

    def captures(
        self,
        url: str | None = None,
        site: str | None = None,
        since: str | datetime | None = None,
        until: str | datetime | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Captures, oldest first; ``since`` inclusive, ``until`` exclusive, ``site`` a host name."""
        where, params = self._filters(url, site, since, until)
        return self._query(f"SELECT * FROM captures{where} ORDER BY fetched_at, id{self._limit(limit)}", params)

    def records(
        self,
        site: str | None = None,
        since: str | datetime | None = None,
        until: str | datetime | None = None,
        kind: str | None = None,
        limit: int | None = None,
        run_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """Records, oldest first, filtered like ``captures`` plus ``kind`` and ``run_id``: the newest record of
        each capture (a page extracted again by ``crawler reextract`` is listed once), or with ``run_id`` every
        record of that run."""
        where, params = self._filters(None, site, since, until, kind=kind, run_id=run_id)
        if run_id is None:
            where += (" AND " if where else " WHERE ") + _NEWEST_OF_CAPTURE
        return self._query(
            f"SELECT * FROM records{where} ORDER BY fetched_at, rowid{self._limit(limit)}", params
        )

    def records_for(self, url: str) -> list[dict[str, Any]]:
        """The records of ``url`` (as fetched, or as its canonical URL), oldest first: the newest of each
        capture."""
        return self._query(
            f"SELECT * FROM records WHERE (url = ? OR canonical_url = ?) AND {_NEWEST_OF_CAPTURE}"
            " ORDER BY fetched_at, rowid", (url, url)
        )

    def latest_record(self, url: str) -> dict[str, Any] | None:
        """The newest record of ``url`` (incl. ``records_file`` and ``id`` to load the JSON), or None."""
        rows = self._query_url(
            url, "records",
            "SELECT * FROM records WHERE url = ? OR canonical_url = ?"
            " ORDER BY fetched_at DESC, rowid DESC LIMIT 1",
            (url, url),
        )
        return rows[0] if rows else None

    def capture_history(self, url: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None] | None:
        """(first, latest, latest ``response``) capture of ``url``, or None if never captured.

        Three indexed lookups whatever the number of captures (crawler.incremental asks for every request).
        """
        first = self._query_url(url, "captures", "SELECT * FROM captures WHERE url = ? ORDER BY fetched_at, id LIMIT 1",
                                (url,))
        if not first:
            return None
        latest = self._query_url(
            url, "captures", "SELECT * FROM captures WHERE url = ? ORDER BY fetched_at DESC, id DESC LIMIT 1", (url,))
        full = self._query_url(url, "captures", "SELECT * FROM captures WHERE url = ? AND warc_type = 'response'"
                           " ORDER BY fetched_at DESC, id DESC LIMIT 1", (url,))
        return first[0], latest[0], full[0] if full else None

    def capture_ids(self, warc_filename: str) -> set[str]:
        """Record ids of the captures indexed in one WARC file (base name): what a recovery compares with
        the file's records to add the rows a killed process never committed."""
        rows = self._query("SELECT record_id FROM captures WHERE warc_filename = ?", (warc_filename,))
        return {row["record_id"] for row in rows}

    def runs(self, *, status: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Runs, newest first."""
        where, params = ("", []) if status is None else (" WHERE status = ?", [status])
        return self._query(f"SELECT * FROM runs{where} ORDER BY started_at DESC{self._limit(limit)}", params)

    def run(self, run_id: str) -> dict[str, Any] | None:
        rows = self._query("SELECT * FROM runs WHERE run_id = ?", (run_id,))
        return rows[0] if rows else None

    # -- lifecycle -------------------------------------------------------------------------------

    def close(self) -> None:
        """Commit and close (idempotent)."""
        with self._lock:
            if self._db is None:
                return
            self._commit_locked()
            self._db.close()
            self._db = None

    def __enter__(self) -> Catalog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
