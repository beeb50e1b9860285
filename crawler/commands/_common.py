"""Options and output shared by several verbs."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DEFAULT_DATA_DIR = "archive-data"


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("CRAWLER_DATA_DIR", DEFAULT_DATA_DIR)),
        metavar="DIR",
        help="the archive's data directory (default: $CRAWLER_DATA_DIR or ./archive-data)",
    )


@contextmanager
def catalog_errors(data_dir: Path) -> Iterator[None]:
    """A catalog (or its schedule tables) that cannot be used, damaged or read-only: one line and exit 1,
    never a traceback."""
    import sqlite3

    from archive.catalog import CatalogError, catalog_error
    from archive.schedules import ScheduleStoreError
    from crawler.errors import CommandError

    path = Path(data_dir) / "catalog.sqlite"
    try:
        yield
    except CatalogError as exc:
        raise CommandError(str(exc)) from exc
    except ScheduleStoreError as exc:
        cause = exc.__cause__
        message = str(catalog_error(path, cause, "cannot use the schedules")) \
            if isinstance(cause, sqlite3.Error) else str(exc)
        raise CommandError(message) from exc
    except sqlite3.Error as exc:   # archive.schedules reads without a wrapper of its own
        raise CommandError(str(catalog_error(path, exc, "cannot read the catalog"))) from exc


def count(text: str) -> int:
    """An argparse type: a whole number, 0 or more (``--limit``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def parse_setting(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name.strip(), value


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def print_summary(result: Any, out: Any = None) -> None:
    """The end-of-run summary: what was archived, and where."""
    out = out or sys.stdout
    s = result.summary
    data_dir = Path(result.data_dir)
    parts = getattr(result, "parts", ())
    print(f"run {result.run_id} ({result.spider}) finished: {result.finish_reason}"
          + (f" ({len(parts)} processes: runs {', '.join(parts)})" if parts else ""), file=out)
    print(
        f"  pages fetched: {s['pages_fetched']}   records: {s['records']}   articles: {s['articles']}   "
        f"errors: {s['errors']}   bytes archived: {human_bytes(s['bytes_archived'])}"
        + (f"   replayed from the archive: {s['replayed']}" if s.get("replayed") else ""),
        file=out,
    )
    print(f"  WARC files:   {data_dir / 'warc'}", file=out)
    for records in getattr(result, "records_files", [result.records_file]):
        print(f"  JSON records: {records}", file=out)
    print(f"  catalog:      {data_dir / 'catalog.sqlite'}", file=out)
    print(f"  log:          {result.log_file}", file=out)
