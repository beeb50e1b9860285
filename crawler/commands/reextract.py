"""``crawler reextract [WARC ...]``: new JSON records from archived pages, without fetching anything.

Every HTML response of the WARC files (default: all closed files in the data directory's ``warc/``; WARC
files of other tools work too) goes through the current extractor in a process pool, one worker per
core. The records go to ``records/<run-id>.jsonl`` and the catalog, whose run row names the extractor
version. Pages are decoded as the crawl decoded them (a body labelled gzip that is not gzip is used as it is,
a truncated one gives what it holds, HTML under another ``Content-Type`` is sniffed), so the records are
those the crawl made; a page whose content coding cannot be decoded gets a record with an
``extraction_error``. Bad WARC records are reported with file and offset and skipped; the exit status is
then 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from crawler.commands._common import add_data_dir


def register(sub: Any) -> None:
    p = sub.add_parser("reextract", help="extract archived pages again into new JSON records (no network)",
                       description=__doc__.split("\n")[0])
    p.add_argument("warcs", nargs="*", type=Path, metavar="WARC", help="WARC files (default: all in DIR/warc)")
    add_data_dir(p)
    p.add_argument("--workers", type=int, default=0, metavar="N", help="worker processes (default: one per core)")
    p.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                   help="time limit per page; a page over it gets a record with an extraction_error (default 60)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from archive.catalog import Catalog
    from archive.records import Record, RecordStore
    from crawler.errors import UsageError
    from crawler.reextract import extractor_version, reextract
    from crawler.storage import new_run_id, prepare_data_dir

    if args.workers < 0 or args.timeout <= 0:
        raise UsageError("--workers must be >= 0 and --timeout > 0")
    if args.warcs:
        missing = [str(p) for p in args.warcs if not p.is_file()]
        if missing:
            raise UsageError(f"no such file: {', '.join(missing)}")
        warcs = list(args.warcs)
    else:
        warc_dir = args.data_dir / "warc"
        warcs = sorted(p for p in warc_dir.glob("*") if p.name.endswith((".warc.gz", ".warc"))) \
            if warc_dir.is_dir() else []
        if not warcs:
            raise UsageError(f"no WARC files in {warc_dir} (crawl something first, or pass WARC files)")
    try:
        prepare_data_dir(args.data_dir)
    except OSError as exc:
        raise UsageError(str(exc)) from exc
    run_id = new_run_id()
    version = extractor_version()
    store = RecordStore(args.data_dir / "records", run_id)
    catalog = Catalog(args.data_dir / "catalog.sqlite")
    status = "failed"
    stats = None
    try:
        catalog.start_run(run_id, "reextract", {"extractor": version, "warcs": [str(p) for p in warcs]})

        def keep(record: Record) -> None:
            path = store.append(record)          # validates against the record schema
            catalog.add_record(record, path)

        stats = reextract(args.data_dir, warcs, run_id=run_id, workers=args.workers, timeout=args.timeout,
                          on_record=keep)
        status = "finished"
    finally:
        store.close()
        catalog.finish_run(run_id, {"extractor": version, **(stats.as_dict() if stats else {})}, status)
        catalog.close()
    for problem in stats.problems:
        print(f"crawler: bad record: {problem}", file=sys.stderr)
    print(f"re-extracted {stats.pages} page(s) from {stats.files} WARC file(s) with {version}: "
          f"{stats.records} record(s), {stats.articles} article(s), {stats.extraction_errors} extraction error(s)")
    print(f"  JSON records: {store.path}")
    if stats.problems:
        print(f"crawler: {len(stats.problems)} bad record(s) skipped (listed above)", file=sys.stderr)
        return 1
    return 0
