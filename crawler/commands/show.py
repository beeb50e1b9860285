"""``crawler show URL``: the latest JSON record of a page, or its plain-text rendering."""

from __future__ import annotations

import argparse
import json
from typing import Any

from crawler.commands._common import add_data_dir, catalog_errors


def register(sub: Any) -> None:
    p = sub.add_parser("show", help="show the archived record of a URL", description=__doc__.split("\n")[0])
    p.add_argument("url", metavar="URL")
    add_data_dir(p)
    p.add_argument("--text", action="store_true",
                   help="plain text: title, 'By' line, date, body and 'Original url:' (like a saved article)")
    p.add_argument("--versions", action="store_true",
                   help="list the versions of the page (a new one each time its text changed)")
    p.add_argument("--diff", nargs="*", type=int, metavar="N",
                   help="text diff between two versions: --diff (the last two) or --diff 1 3")
    p.set_defaults(func=run)


def render_text(record: dict[str, Any]) -> str:
    """An article as plain text, the layout of an article saved as text."""
    lines = [record.get("title") or record["url"], ""]
    if record.get("authors"):
        lines.append("By " + ", ".join(record["authors"]))
    if record.get("published"):
        lines.append(str(record["published"]))
    if lines[-1] != "":
        lines.append("")
    lines.append((record.get("text") or "").strip())
    lines += ["", f"Original url: {record['url']}"]
    return "\n".join(lines) + "\n"


def _load(data_dir: Any, row: Any) -> dict[str, Any]:
    """The full JSON record behind a catalog row (the catalog keeps only the indexed fields)."""
    from pathlib import Path

    from archive.records import iter_jsonl

    d = dict(row)
    path = Path(d["records_file"])
    if not path.is_absolute():
        path = Path(data_dir) / path
    for record in iter_jsonl(path):
        if record.get("id") == d["id"]:
            return record
    raise FileNotFoundError(f"record {d['id']} not found in {path}")


def run(args: argparse.Namespace) -> int:
    from archive.catalog import Catalog
    from crawler.errors import CommandError, UsageError

    path = args.data_dir / "catalog.sqlite"
    if not path.exists():
        raise UsageError(f"no catalog in {args.data_dir} (crawl something first, or pass --data-dir)")
    urls = [args.url]
    try:
        from crawler.urls import canonicalize_url

        urls.append(canonicalize_url(args.url))
    except (ImportError, ValueError):
        pass
    if args.versions or args.diff is not None:
        return _versions(args, path, urls)
    with catalog_errors(args.data_dir), Catalog(path, readonly=True) as catalog:
        row = next((r for r in (catalog.latest_record(u) for u in urls) if r), None)
    if row is None:
        raise CommandError(f"no record for {args.url} in {args.data_dir} (see 'crawler list')")
    record = _load(args.data_dir, row)
    if args.text:
        print(render_text(record), end="")
    else:
        print(json.dumps(record, ensure_ascii=False, indent=2))
    return 0


# -- versions (crawler.incremental: a record per text change, numbered by ``version``) ----------------


def _versions(args: argparse.Namespace, path: Any, urls: list[str]) -> int:
    import difflib

    from archive.catalog import Catalog
    from crawler.errors import CommandError, UsageError

    with catalog_errors(args.data_dir), Catalog(path, readonly=True) as catalog:
        rows = next((r for r in (catalog.records_for(u) for u in urls) if r), [])
    if not rows:
        raise CommandError(f"no record for {args.url} in {args.data_dir} (see 'crawler list')")
    numbered = {int(r.get("version") or i): r for i, r in enumerate(rows, 1)}   # schema 1 rows: by date
    if args.diff is None:
        print(f"{rows[-1]['url']}: {len(numbered)} version(s)")
        for n, r in numbered.items():
            print(f"{n:<3} {r['fetched_at']}  run {r['run_id']}  {r['id']}  {r.get('title') or ''}")
        return 0
    if len(args.diff) not in (0, 2):
        raise UsageError("--diff takes no version (the last two) or two version numbers, e.g. --diff 1 2")
    if len(numbered) < 2 and not args.diff:
        raise CommandError(f"{args.url} has one version only: nothing to compare")
    a, b = args.diff or sorted(numbered)[-2:]
    missing = [n for n in (a, b) if n not in numbered]
    if missing:
        raise UsageError(f"no version {missing[0]} of {args.url}; versions: {', '.join(map(str, sorted(numbered)))}")
    old, new = _load(args.data_dir, numbered[a]), _load(args.data_dir, numbered[b])
    diff = difflib.unified_diff(
        render_text(old).splitlines(keepends=True), render_text(new).splitlines(keepends=True),
        fromfile=f"version {a} ({old['fetched_at']})", tofile=f"version {b} ({new['fetched_at']})")
    print("".join(diff), end="")
    return 0
