"""``crawler export wacz|jsonl|csv|txt``: hand the archive to other tools.

``wacz OUT.wacz`` writes a WACZ 1.1.1 package (WARC records, CDXJ index, pages with title and text,
datapackage.json with hashes) that ReplayWeb.page and pywb open. ``jsonl``, ``csv`` and ``txt`` write the
JSON records (one per capture, the newest extraction) to ``--output`` or stdout; ``txt`` in the plain-text
article layout of ``crawler show --text``. ``--site HOST`` and ``--since DATE`` select what is exported.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from crawler.commands._common import add_data_dir


def register(sub: Any) -> None:
    p = sub.add_parser("export", help="export the archive as WACZ, or the records as JSONL, CSV or text",
                       description=__doc__.split("\n")[0])
    formats = p.add_subparsers(dest="export_format", metavar="FORMAT", required=True)
    wacz = formats.add_parser("wacz", help="a WACZ 1.1.1 package of the captures (for ReplayWeb.page)")
    wacz.add_argument("output", type=Path, metavar="OUT.wacz")
    wacz.add_argument("--title", default=None, help="the package title (default: names the data directory)")
    _filters(wacz)
    wacz.set_defaults(func=run_wacz)
    for name, text in (("jsonl", "JSON Lines, one record per line"), ("csv", "CSV, one record per row"),
                       ("txt", "plain text, one article after another")):
        f = formats.add_parser(name, help=f"the records as {text}")
        f.add_argument("--output", "-o", type=Path, metavar="FILE", help="write here instead of stdout")
        f.add_argument("--kind", choices=("article", "page"), default="article" if name == "txt" else None,
                       help="only records of this kind" + (" (default: article)" if name == "txt" else ""))
        _filters(f)
        f.set_defaults(func=run_records, export_format=name)


def _filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--site", metavar="HOST", help="only this host (and its subdomains)")
    p.add_argument("--since", metavar="DATE", help="only captures at or after DATE (ISO 8601, UTC if no offset)")
    add_data_dir(p)


def _check_output(path: Path, data_dir: Path) -> None:
    """Refuse, before any work, an output that is a folder, lies in a folder that does not exist (it is not
    created: a mistyped path should not leave new folders behind), or is a file of the archive itself."""
    from crawler.errors import UsageError

    if path.is_dir():
        raise UsageError(f"the output {path} is a directory: give a file name (a new or existing file)")
    if not path.parent.is_dir():
        raise UsageError(f"the output's folder {path.parent} does not exist: create it first, or give another path")
    archive, target = data_dir.resolve(), path.resolve()
    if target.name.startswith("catalog.sqlite") and target.parent == archive or any(
            target.is_relative_to(archive / part) for part in ("records", "warc", "index")):
        raise UsageError(f"the output {path} is inside the archive's own files in {data_dir}: give another path")


def _os_error(exc: OSError, output: Path) -> str:
    """One line for a failed read or write: the file it concerns, and why."""
    name = exc.filename if exc.filename is not None else output
    if str(name).endswith(".part") and str(name)[:-5] == str(output):
        name = output
    verb = "write" if Path(name) == output else "read"
    return f"cannot {verb} {name}: {exc.strerror or exc}"


def _since(args: argparse.Namespace) -> Any:
    from archive.export import parse_since
    from crawler.errors import UsageError

    if args.since is None:
        return None
    try:
        return parse_since(args.since)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def run_records(args: argparse.Namespace) -> int:
    from archive.export import iter_records, write_csv, write_jsonl, write_txt
    from crawler.commands.show import render_text
    from crawler.errors import CommandError, UsageError

    since = _since(args)
    if not (args.data_dir / "records").is_dir():
        raise UsageError(f"no records in {args.data_dir} (crawl something first, or pass --data-dir)")
    if args.output:
        _check_output(args.output, args.data_dir)
    problems: list[str] = []
    records = iter_records(args.data_dir, site=args.site, since=since, kind=args.kind, problems=problems)

    def write(out: Any) -> int:
        if args.export_format == "jsonl":
            return write_jsonl(records, out)
        if args.export_format == "csv":
            return write_csv(records, out)
        return write_txt(records, out, render_text)

    if not args.output:
        n = write(sys.stdout)
    else:
        # Written beside the output and renamed at the end: a failed export leaves no half file behind.
        tmp = args.output.with_name(args.output.name + ".part")
        try:
            try:
                with tmp.open("w", encoding="utf-8", newline="") as out:
                    n = write(out)
                if n:
                    tmp.replace(args.output)
                else:
                    tmp.unlink()        # nothing matched: an earlier export of that name stays as it was
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise CommandError(_os_error(exc, args.output)) from None
    for problem in problems:
        print(f"crawler: bad record: {problem}", file=sys.stderr)
    if n == 0:
        raise CommandError("nothing matched: no record of that site or time")
    print(f"exported {n} record(s)" + (f" to {args.output}" if args.output else ""), file=sys.stderr)
    return 1 if problems else 0


def run_wacz(args: argparse.Namespace) -> int:
    from archive.cdxj import index_path, lookup, read_index
    from archive.export import host_matches, iter_records
    from archive.wacz import WaczPage, write_wacz
    from crawler import __version__
    from crawler.errors import CommandError, UsageError

    since = _since(args)
    index = index_path(args.data_dir)
    if not index.exists():
        raise UsageError(f"no index in {args.data_dir} (run 'crawler index', or pass --data-dir)")
    if args.output.suffix != ".wacz":
        raise UsageError(f"the output file must end in .wacz: {args.output}")
    _check_output(args.output, args.data_dir)
    since_ts = since.strftime("%Y%m%d%H%M%S") if since else None
    try:
        chosen = [line for line in read_index(index)
                  if (args.site is None or host_matches(line.url, args.site))
                  and (since_ts is None or line.timestamp >= since_ts)]
        if not chosen:
            raise CommandError("nothing matched: no capture of that site or time in the index")
        originals = [orig for line in chosen if line.is_revisit
                     for orig in lookup(index, line.url) if not orig.is_revisit and orig.digest == line.digest]
    except ValueError as exc:
        # the index is made from the WARC files, which are untouched: rebuilding it loses nothing
        raise CommandError(f"the index {index} is damaged ({exc}); rebuild it with "
                           f"'crawler index --data-dir {args.data_dir}'") from None
    problems: list[str] = []
    pages = [WaczPage(id=r["id"], url=r["url"], ts=r["fetched_at"], title=r.get("title"), text=r.get("text"))
             for r in iter_records(args.data_dir, site=args.site, since=since, kind="article", problems=problems)
             if isinstance(r.get("id"), str)] if (args.data_dir / "records").is_dir() else []
    for problem in problems:
        print(f"crawler: bad record: {problem} (its page has no text in the WACZ)", file=sys.stderr)
    title = args.title or f"Web archive of {args.data_dir.resolve().name}" + (f": {args.site}" if args.site else "")
    try:
        result = write_wacz(args.output, args.data_dir, chosen + originals, pages, title=title,
                            software=f"newsarchiver-crawler {__version__}")
    except OSError as exc:
        raise CommandError(_os_error(exc, args.output)) from None
    for bad in result.problems:
        print(f"crawler: bad record: {bad}", file=sys.stderr)
    print(f"wrote {result.path}: {result.captures} capture(s), {result.pages} page(s) with text")
    return 1 if result.problems or problems else 0
