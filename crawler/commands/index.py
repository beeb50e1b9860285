"""``crawler index [WARC ...]``: build the CDXJ index (data directory's ``index/index.cdxj``) from WARC files.

With no WARC argument the index is rebuilt from every closed WARC file in the data directory's ``warc/``;
with arguments, those files' lines are added (replacing older lines of the same files). WARC files from
other tools (wget, Heritrix) are indexed in place. Bad records are reported with file and offset and
skipped; the exit status is then 1. ``--check`` compares the index with the catalog instead.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from crawler.commands._common import add_data_dir, catalog_errors


def register(sub: Any) -> None:
    p = sub.add_parser("index", help="build the CDXJ index from WARC files (or --check it against the catalog)",
                       description=__doc__.split("\n")[0])
    p.add_argument("warcs", nargs="*", type=Path, metavar="WARC", help="WARC files (default: all in DIR/warc)")
    add_data_dir(p)
    p.add_argument("--output", "-o", metavar="FILE",
                   help="write the CDXJ of the given WARC files to FILE ('-' for stdout) instead of the index")
    p.add_argument("--check", action="store_true",
                   help="report captures missing from the catalog or from the index; exit 1 if any")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from archive.cdxj import index_filename, index_path, merge_into_index, scan_warc, write_index
    from crawler.errors import UsageError

    if args.check:
        return _check(args)
    if args.output and args.output != "-":
        output = Path(args.output)
        if output.is_dir():
            raise UsageError(f"--output {output} is a directory: give a file name, e.g. {output / 'index.cdxj'}")
        if not output.parent.is_dir():
            raise UsageError(f"--output {output}: no directory {output.parent}")
    warc_dir = args.data_dir / "warc"
    if args.warcs:
        missing = [str(p) for p in args.warcs if not p.exists()]
        if missing:
            raise UsageError(f"no such file: {', '.join(missing)}")
        paths = list(args.warcs)
    else:
        if not warc_dir.is_dir():
            raise UsageError(f"no WARC directory {warc_dir} (crawl something first, or pass --data-dir or WARC files)")
        paths = sorted(p for p in warc_dir.iterdir() if p.name.endswith((".warc.gz", ".warc", ".arc.gz")))
        for line in _unfinished(args.data_dir, sorted(p for p in warc_dir.iterdir() if p.name.endswith(".open"))):
            print(f"crawler: skipping {line}", file=sys.stderr)
    scans = [scan_warc(p, index_filename(args.data_dir, p)) for p in paths]
    problems = [problem for scan in scans for problem in scan.problems]
    for problem in problems:
        print(f"crawler: bad record: {problem}", file=sys.stderr)
    count = sum(len(scan.lines) for scan in scans)
    if args.output:
        lines = [line for scan in scans for line in scan.lines]
        if args.output == "-":
            for text in sorted({line.to_text() for line in lines}):
                sys.stdout.write(text + "\n")
        else:
            with _writing(Path(args.output)):
                write_index(Path(args.output), lines)
            print(f"indexed {count} capture(s) from {len(paths)} file(s) into {args.output}", file=sys.stderr)
    else:
        target = index_path(args.data_dir)
        with _writing(target):
            total = merge_into_index(target, scans, replace_all=not args.warcs)
        print(f"indexed {count} capture(s) from {len(paths)} file(s); {target} holds {total} line(s)")
    if problems:
        print(f"crawler: {len(problems)} bad record(s) skipped (listed above)", file=sys.stderr)
        return 1
    return 0


def _run_of(path: Path) -> tuple[str, str] | None:
    """(spider, run) of a WARC file of ours, from its warcinfo record (``isPartOf``, and ``description``
    "crawl run RUN of spider NAME", crawler.storage), or None."""
    from archive.reader import ArchiveError, iter_records

    try:
        first = next(iter_records(path), None)
    except (ArchiveError, OSError):
        return None
    if first is None or first.rec_type != "warcinfo":
        return None
    fields = {}
    for line in first.raw_payload.decode("utf-8", "replace").splitlines():
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    run, _, spider = fields.get("description", "").partition(" of spider ")
    if not fields.get("ispartof") or not spider:
        return None
    return spider, fields["ispartof"]


def _unfinished(data_dir: Path, paths: list[Path]) -> list[str]:
    """Why each ``.open`` WARC file is skipped. Its name carries the writer's host and pid: a process of this
    host with that pid still running is writing it; any other was left by a crawl that was killed, and only
    the recovery at the start of the next crawl into this data directory closes it. The test is the
    recovery's own (archive.writer.recover_open_files), so that the two never disagree."""
    import socket

    from archive.writer import _sanitize_name_part, _written_by_live_process

    host = _sanitize_name_part(socket.gethostname())
    lines = []
    for path in paths:
        if _written_by_live_process(path, host):
            lines.append(f"{path.name}: still being written by a running crawl (process "
                         f"{path.name.removesuffix('.warc.gz.open').rpartition('-')[2]}); index it once the crawl "
                         "has closed it")
            continue
        spider, run = _run_of(path) or ("SPIDER", "RUN")
        resume = f"'crawler crawl {spider} --resume {run} --data-dir {data_dir}'"
        lines.append(f"{path.name}: left unfinished by an interrupted crawl (its writer is gone): {resume}, or any "
                     "new crawl into this data directory, recovers it; then run 'crawler index' again")
    return lines


@contextmanager
def _writing(target: Path) -> Iterator[None]:
    """The index cannot be written (read-only data directory, disk full, ...): one line naming the file."""
    from crawler.errors import CommandError

    try:
        yield
    except OSError as exc:
        raise CommandError(f"cannot write the index {exc.filename or target}: {exc.strerror or exc}") from exc


def _check(args: argparse.Namespace) -> int:
    from archive.cdxj import check_index
    from crawler.errors import UsageError

    if not (args.data_dir / "catalog.sqlite").exists():
        raise UsageError(f"no catalog in {args.data_dir} (crawl something first, or pass --data-dir)")
    with catalog_errors(args.data_dir):
        report = check_index(args.data_dir)
    for line in report.lines():
        print(line)
    return 0 if report.ok else 1
