"""Schedules and their run history, in the data directory's SQLite catalog (``catalog.sqlite``).

Two tables next to the catalog's own (created here with ``CREATE TABLE IF NOT EXISTS``, on this module's
own connection; the catalog's ``user_version`` is left alone):

* ``schedules``: name, spider, crawl arguments, timing (``every_seconds`` or a ``cron`` expression, UTC),
  wall-clock limit, paused flag, ``next_run_at``.
* ``schedule_runs``: one row per run (or skipped fire time) of a schedule: status, times, pid, exit
  code, the run's numbers (pages, new/changed/unchanged articles, errors, bytes, duration), error, log.

Every write is one short ``BEGIN IMMEDIATE`` transaction, so that the scheduler and the crawl processes
writing the catalog at the same time only ever wait a moment for each other. ``claim`` is the one
atomic step the scheduler relies on: it moves ``next_run_at`` forward and inserts the run row together,
so a scheduler killed at any point can never start the same fire time twice.

Times are stored in the catalog's fixed-width UTC form and returned as aware UTC datetimes.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from archive.runstats import merge_stats
from archive.timeutil import parse_iso, sortable_z

__all__ = ["ACTIVE", "FAILED", "NAME_RE", "RunRow", "ScheduleRow", "ScheduleStore", "ScheduleStoreError"]

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
ACTIVE = ("pending", "running")          # a run in one of these states may still be going on
FAILED = ("failed", "timeout")           # shown by ``crawler runs --failed``

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schedules (
    name TEXT PRIMARY KEY,
    spider TEXT NOT NULL,
    args TEXT NOT NULL,
    every_seconds INTEGER,
    cron TEXT,
    max_runtime_seconds INTEGER NOT NULL,
    paused INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    next_run_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS schedule_runs (
    run_id TEXT PRIMARY KEY,
    schedule TEXT NOT NULL,
    trigger TEXT NOT NULL,
    scheduled_for TEXT,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    pid INTEGER,
    exit_code INTEGER,
    pages INTEGER,
    new_articles INTEGER,
    changed_articles INTEGER,
    unchanged INTEGER,
    errors INTEGER,
    bytes INTEGER,
    duration REAL,
    error TEXT,
    log_file TEXT
);
CREATE INDEX IF NOT EXISTS schedule_runs_schedule ON schedule_runs (schedule, created_at);
CREATE INDEX IF NOT EXISTS schedule_runs_status ON schedule_runs (status);
"""
_NUMBERS = ("pages", "new_articles", "changed_articles", "unchanged", "errors", "bytes")


class ScheduleStoreError(RuntimeError):
    """A schedule operation cannot be done (unknown or duplicate name, unusable catalog)."""


@dataclass(frozen=True)
class ScheduleRow:
    """A stored schedule. Exactly one of ``every`` and ``cron`` is set."""

    name: str
    spider: str
    args: tuple[str, ...]               # ``crawler crawl`` arguments after the spider name (seeds, options)
    every: timedelta | None
    cron: str | None
    max_runtime: timedelta
    paused: bool
    created_at: datetime
    next_run_at: datetime


@dataclass(frozen=True)
class RunRow:
    """One run of a schedule (``status``: pending, running, finished, failed, timeout, skipped)."""

    run_id: str
    schedule: str
    trigger: str                        # "schedule" or "manual"
    scheduled_for: datetime | None
    status: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    pid: int | None
    exit_code: int | None
    numbers: Mapping[str, int | None]   # pages, new_articles, changed_articles, unchanged, errors, bytes
    duration: float | None
    error: str | None
    log_file: str | None


def _t(value: datetime) -> str:
    return sortable_z(value)


def _dt(value: str | None) -> datetime | None:
    return parse_iso(value) if value else None


def _schedule(row: sqlite3.Row) -> ScheduleRow:
    every = row["every_seconds"]
    return ScheduleRow(
        name=row["name"], spider=row["spider"], args=tuple(json.loads(row["args"])),
        every=timedelta(seconds=every) if every else None, cron=row["cron"],
        max_runtime=timedelta(seconds=row["max_runtime_seconds"]), paused=bool(row["paused"]),
        created_at=parse_iso(row["created_at"]), next_run_at=parse_iso(row["next_run_at"]),
    )


def _run(row: sqlite3.Row) -> RunRow:
    return RunRow(
        run_id=row["run_id"], schedule=row["schedule"], trigger=row["trigger"],
        scheduled_for=_dt(row["scheduled_for"]), status=row["status"], created_at=parse_iso(row["created_at"]),
        started_at=_dt(row["started_at"]), finished_at=_dt(row["finished_at"]), pid=row["pid"],
        exit_code=row["exit_code"], numbers={k: row[k] for k in _NUMBERS}, duration=row["duration"],
        error=row["error"], log_file=row["log_file"],
    )


class ScheduleStore:
    """The ``schedules`` and ``schedule_runs`` tables of ``<data_dir>/catalog.sqlite``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ScheduleStoreError(f"cannot create {self.path.parent}: {exc.strerror or exc}") from exc
        self.readonly = self.path.is_file() and not (os.access(self.path, os.W_OK) and os.access(self.path.parent, os.W_OK))
        try:
            if self.readonly:  # a read-only mount or file: the schedules can be listed, not changed
                from archive.catalog import CatalogError, connect_readonly

                try:
                    self._db = connect_readonly(self.path)
                except CatalogError as exc:
                    raise ScheduleStoreError(str(exc)) from exc
                self._db.row_factory = sqlite3.Row
                return
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=60.0)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA busy_timeout=60000")
            self._db.executescript("BEGIN IMMEDIATE;" + _SCHEMA + "COMMIT;")
        except sqlite3.DatabaseError as exc:
            raise ScheduleStoreError(f"{self.path}: cannot open the schedules ({exc}); is it an SQLite catalog? "
                                     "If it is damaged, move it aside: 'crawler schedule add' starts a new one") from exc

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> ScheduleStore:
        return cls(Path(data_dir) / "catalog.sqlite")

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        if self.readonly:
            raise ScheduleStoreError(f"{self.path} is read-only: schedules can be listed here, not changed")
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ScheduleStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schedules -------------------------------------------------------------------------------

    def add(self, s: ScheduleRow) -> None:
        """Store a new schedule; ``ScheduleStoreError`` when the name is taken or not a valid name."""
        if not NAME_RE.match(s.name):
            raise ScheduleStoreError(
                f"bad schedule name {s.name!r}: use letters, digits, '.', '_' or '-' (up to 64, first a letter or digit)")
        if (s.every is None) == (s.cron is None):
            raise ScheduleStoreError("a schedule needs exactly one of an interval and a cron expression")
        try:
            with self._tx() as db:
                db.execute(
                    "INSERT INTO schedules (name, spider, args, every_seconds, cron, max_runtime_seconds, paused,"
                    " created_at, next_run_at) VALUES (?,?,?,?,?,?,?,?,?)",
                    (s.name, s.spider, json.dumps(list(s.args)), int(s.every.total_seconds()) if s.every else None,
                     s.cron, int(s.max_runtime.total_seconds()), int(s.paused), _t(s.created_at), _t(s.next_run_at)),
                )
        except sqlite3.IntegrityError:
            raise ScheduleStoreError(f"a schedule named {s.name!r} exists already (see 'crawler schedule list')") from None

    def get(self, name: str) -> ScheduleRow:
        row = self._db.execute("SELECT * FROM schedules WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise ScheduleStoreError(f"no schedule named {name!r} in {self.path} (see 'crawler schedule list')")
        return _schedule(row)

    def schedules(self) -> list[ScheduleRow]:
        return [_schedule(r) for r in self._db.execute("SELECT * FROM schedules ORDER BY name")]

    def remove(self, name: str) -> None:
        """Delete the schedule; its run history stays."""
        with self._tx() as db:
            if db.execute("DELETE FROM schedules WHERE name = ?", (name,)).rowcount == 0:
                raise ScheduleStoreError(f"no schedule named {name!r} (see 'crawler schedule list')")

    def set_paused(self, name: str, paused: bool, next_run_at: datetime | None = None) -> None:
        with self._tx() as db:
            cur = db.execute("UPDATE schedules SET paused = ?, next_run_at = COALESCE(?, next_run_at) WHERE name = ?",
                             (int(paused), _t(next_run_at) if next_run_at else None, name))
            if cur.rowcount == 0:
                raise ScheduleStoreError(f"no schedule named {name!r} (see 'crawler schedule list')")

    def set_next_run(self, name: str, next_run_at: datetime) -> None:
        with self._tx() as db:
            db.execute("UPDATE schedules SET next_run_at = ? WHERE name = ?", (_t(next_run_at), name))

    # -- runs ------------------------------------------------------------------------------------

    def claim(self, name: str, due: datetime, next_run_at: datetime, run_id: str, now: datetime,
              *, status: str = "pending", error: str | None = None) -> bool:
        """Atomically: if ``name`` is still due at ``due``, move it to ``next_run_at`` and add run ``run_id``.

        Returns False when another scheduler got there first (``next_run_at`` is no longer ``due``).
        ``status="skipped"`` records a fire time that was not run (with ``error`` saying why).
        """
        with self._tx() as db:
            cur = db.execute("UPDATE schedules SET next_run_at = ? WHERE name = ? AND next_run_at = ?",
                             (_t(next_run_at), name, _t(due)))
            if cur.rowcount == 0:
                return False
            db.execute(
                "INSERT INTO schedule_runs (run_id, schedule, trigger, scheduled_for, status, created_at, error)"
                " VALUES (?,?,?,?,?,?,?)",
                (run_id, name, "schedule", _t(due), status, _t(now), error),
            )
        return True

    def add_run(self, run_id: str, schedule: str, now: datetime, *, trigger: str = "manual") -> None:
        """A run not claimed from the schedule (``crawler schedule run-now``)."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO schedule_runs (run_id, schedule, trigger, status, created_at) VALUES (?,?,?,?,?)",
                (run_id, schedule, trigger, "pending", _t(now)),
            )

    def mark_running(self, run_id: str, pid: int, started_at: datetime, log_file: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE schedule_runs SET status = 'running', pid = ?, started_at = ?, log_file = ?"
                       " WHERE run_id = ?", (pid, _t(started_at), log_file, run_id))

    def finish(self, run_id: str, status: str, finished_at: datetime, *, exit_code: int | None = None,
               numbers: Mapping[str, int] | None = None, duration: float | None = None,
               error: str | None = None) -> None:
        """Record the end of a run: its status, exit code, numbers and error."""
        numbers = numbers or {}
        with self._tx() as db:
            cur = db.execute(
                "UPDATE schedule_runs SET status = ?, finished_at = ?, exit_code = ?, duration = ?, error = ?,"
                + ", ".join(f"{k} = ?" for k in _NUMBERS) + " WHERE run_id = ?",
                (status, _t(finished_at), exit_code, duration, error, *(numbers.get(k) for k in _NUMBERS), run_id),
            )
            if cur.rowcount == 0:
                raise ScheduleStoreError(f"no run {run_id!r} in {self.path}")

    def run(self, run_id: str) -> RunRow:
        row = self._db.execute("SELECT * FROM schedule_runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise ScheduleStoreError(f"no run {run_id!r} in {self.path} (see 'crawler runs')")
        return _run(row)

    def runs(self, schedule: str | None = None, *, statuses: Sequence[str] | None = None,
             limit: int | None = None) -> list[RunRow]:
        """Runs, newest first, optionally of one schedule and in some statuses."""
        where, params = [], []
        if schedule is not None:
            where.append("schedule = ?")
            params.append(schedule)
        if statuses:
            where.append(f"status IN ({','.join('?' * len(statuses))})")
            params.extend(statuses)
        sql = "SELECT * FROM schedule_runs" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY created_at DESC, rowid DESC" + (f" LIMIT {int(limit)}" if limit is not None else "")
        return [_run(r) for r in self._db.execute(sql, params)]

    def stats_of(self, run_id: str) -> dict[str, Any] | None:
        """The crawl's own stats from the catalog's ``runs`` table (None when the crawl never started)."""
        try:
            row = self._db.execute("SELECT stats, status FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        except sqlite3.OperationalError:        # no crawl ever ran here: the catalog has no runs table yet
            return None
        if row is None:
            return self._stats_of_parts(run_id)
        stats: dict[str, Any] = json.loads(row["stats"]) if row["stats"] else {}
        return stats

    def _stats_of_parts(self, run_id: str) -> dict[str, Any] | None:
        """A crawl run in several processes (``--processes``) has a run ``RUN-p<i>`` per process: their
        stats, the numbers added up."""
        rows = self._db.execute("SELECT stats FROM runs WHERE run_id GLOB ? ORDER BY run_id",
                                (f"{run_id}-p[0-9]*",)).fetchall()
        if not rows:
            return None
        return merge_stats([json.loads(row["stats"]) if row["stats"] else {} for row in rows])
