"""``crawler list``: the records (or every capture) in the catalog, filterable by site, date and kind."""

from __future__ import annotations

import argparse
import json
from typing import Any

from crawler.commands._common import add_data_dir, catalog_errors, count


def register(sub: Any) -> None:
    p = sub.add_parser("list", help="list archived pages from the catalog", description=__doc__.split("\n")[0])
    add_data_dir(p)
    p.add_argument("--site", metavar="HOST", help="only this host (e.g. www.example.org)")
    p.add_argument("--since", metavar="DATE", help="fetched on or after DATE (ISO 8601)")
    p.add_argument("--until", metavar="DATE", help="fetched before DATE (ISO 8601)")
    p.add_argument("--kind", choices=["article", "page"], help="only articles or only other pages")
    p.add_argument("--captures", action="store_true",
                   help="list every HTTP capture (robots.txt, redirects, errors too), not only records")
    p.add_argument("--limit", type=count, default=None, metavar="N", help="at most N rows")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=run)


def _date(value: str | None, option: str) -> str | None:
    from datetime import datetime

    from crawler.errors import UsageError

    if value is None:
        return None
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{option}: not an ISO 8601 date: {value!r} (try 2024-05-01)") from None
    return value


def run(args: argparse.Namespace) -> int:
    from archive.catalog import Catalog
    from crawler.errors import UsageError

    path = args.data_dir / "catalog.sqlite"
    if not path.exists():
        raise UsageError(f"no catalog in {args.data_dir} (crawl something first, or pass --data-dir)")
    since, until = _date(args.since, "--since"), _date(args.until, "--until")
    with catalog_errors(args.data_dir), Catalog(path, readonly=True) as catalog:
        if args.captures:
            rows = catalog.captures(site=args.site, since=since, until=until, limit=args.limit)
        else:
            rows = catalog.records(site=args.site, since=since, until=until, kind=args.kind, limit=args.limit)
    for row in rows:
        d = dict(row) if not isinstance(row, dict) else row
        if args.json:
            print(json.dumps(d, ensure_ascii=False, default=str))
        elif args.captures:
            print(f"{d['fetched_at']}  {d['status']}  {d.get('mime') or '-':<24}  {d['url']}")
        else:
            title = (d.get("title") or "").replace("\n", " ")[:70]
            print(f"{d['fetched_at']}  {d.get('kind', ''):<7}  {d['url']}  {title}")
    return 0
