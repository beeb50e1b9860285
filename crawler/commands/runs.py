"""``crawler runs [NAME]``: the run history of the schedules (``--failed``: failed runs and their errors)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crawler.commands._common import add_data_dir, catalog_errors, count, human_bytes

if TYPE_CHECKING:
    from archive.schedules import RunRow


def register(sub: Any) -> None:
    p = sub.add_parser("runs", help="list the runs of schedules", description=__doc__.split("\n")[0])
    p.add_argument("name", nargs="?", help="only the runs of this schedule")
    p.add_argument("--failed", action="store_true", help="only failed runs (and timeouts), with their errors")
    p.add_argument("--limit", type=count, default=50, metavar="N", help="at most N runs, newest first (default 50)")
    add_data_dir(p)
    p.set_defaults(func=run)


def _when(dt: Any) -> str:
    return dt.strftime("%Y-%m-%d %H:%M:%SZ") if dt else "-"


def _runs(args: argparse.Namespace) -> list[RunRow]:
    """The runs asked for. On a read-only catalog (a read-only mount) they are read over a read-only
    connection: ``ScheduleStore`` itself opens the catalog for writing (it creates its tables)."""
    import sqlite3

    from archive.catalog import connect_readonly, writable
    from archive.schedules import FAILED, ScheduleStore

    path = Path(args.data_dir) / "catalog.sqlite"
    statuses = FAILED if args.failed else None
    if writable(path):
        with ScheduleStore(path) as store:
            return store.runs(args.name, statuses=statuses, limit=args.limit)
    db = connect_readonly(path)
    try:
        if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'schedule_runs'").fetchone() is None:
            return []                                   # nothing was ever scheduled here
        db.row_factory = sqlite3.Row
        store = ScheduleStore.__new__(ScheduleStore)    # its reads need only .path and ._db
        store.path, store._db = path, db
        return store.runs(args.name, statuses=statuses, limit=args.limit)
    finally:
        db.close()


def run(args: argparse.Namespace) -> int:
    from crawler.errors import UsageError

    if not (args.data_dir / "catalog.sqlite").exists():
        raise UsageError(f"no catalog in {args.data_dir} (pass --data-dir)")
    with catalog_errors(args.data_dir):
        runs = _runs(args)
    if not runs:
        what = "failed runs" if args.failed else "runs"
        print(f"no {what}" + (f" of {args.name}" if args.name else "") + f" in {args.data_dir}")
        return 0
    print(f"{'RUN ID':<26} {'SCHEDULE':<14} {'STATUS':<9} {'STARTED (UTC)':<21} {'TIME':>7} {'PAGES':>6} "
          f"{'NEW':>5} {'CHANGED':>7} {'SAME':>5} {'ERRORS':>6} {'BYTES':>9}")
    for r in runs:
        n = r.numbers
        duration = f"{r.duration:.0f}s" if r.duration is not None else "-"

        def num(key: str, numbers: Any = n) -> str:
            value = numbers.get(key)
            return "-" if value is None else str(value)

        size = human_bytes(n["bytes"] or 0) if n.get("bytes") is not None else "-"
        print(f"{r.run_id:<26} {r.schedule:<14} {r.status:<9} {_when(r.started_at or r.created_at):<21} "
              f"{duration:>7} {num('pages'):>6} {num('new_articles'):>5} {num('changed_articles'):>7} "
              f"{num('unchanged'):>5} {num('errors'):>6} {size:>9}")
        if (args.failed or r.status in ("failed", "timeout", "skipped")) and r.error:
            print(f"    {r.error}")
    return 0
