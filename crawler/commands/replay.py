"""``crawler replay get|list|serve``: archived pages from the command line, or through pywb in a browser.

``get URL [--at TIMESTAMP]`` prints the capture nearest to the timestamp (default: the latest) straight
from its WARC via the index: the decoded body, ``--headers`` the status line and headers, ``--raw`` the
record's bytes as stored, ``--text`` the extracted article text. ``list URL`` shows every capture.
``serve`` starts pywb on the archive (framed replay, archive banner, pywb's CSP) on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from crawler.commands._common import add_data_dir


def register(sub: Any) -> None:
    p = sub.add_parser("replay", help="replay archived pages: get/list from the command line, serve through pywb",
                       description=__doc__.split("\n")[0])
    verbs = p.add_subparsers(dest="replay_verb", metavar="VERB", required=True)

    get = verbs.add_parser("get", help="print the capture of URL nearest to --at")
    get.add_argument("url", metavar="URL")
    get.add_argument("--at", metavar="TIMESTAMP",
                     help="YYYYMMDDhhmmss (any prefix) or ISO 8601 as for 'list --since' (UTC unless an offset "
                          "is given); default: latest")
    mode = get.add_mutually_exclusive_group()
    mode.add_argument("--headers", action="store_true", help="the HTTP status line and headers only")
    mode.add_argument("--raw", action="store_true", help="the HTTP response exactly as stored in the WARC")
    mode.add_argument("--text", action="store_true", help="the text extracted from the page")
    add_data_dir(get)
    get.set_defaults(func=run_get)

    lst = verbs.add_parser("list", help="list every capture of URL")
    lst.add_argument("url", metavar="URL")
    add_data_dir(lst)
    lst.set_defaults(func=run_list)

    serve = verbs.add_parser("serve", help="start pywb on the archive and print the collection URL")
    serve.add_argument("--port", type=int, default=8080, help="TCP port (default 8080; 0 picks a free one)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, local only)")
    serve.add_argument("--pywb", type=Path, metavar="VENV",
                       help="pywb's virtualenv (default: $CRAWLER_PYWB_VENV, else .venv-pywb of the project, "
                            "else 'wayback' on PATH)")
    add_data_dir(serve)
    serve.set_defaults(func=run_serve)


def _archive(args: argparse.Namespace) -> Any:
    from archive.cdxj import index_path
    from archive.replay import Archive
    from crawler.errors import UsageError

    if not index_path(args.data_dir).exists():
        raise UsageError(f"no index in {args.data_dir} (run 'crawler index', or pass --data-dir)")
    return Archive(args.data_dir)


def _urls(url: str) -> list[str]:
    """The URL as given, then its canonical form (tracking parameters, fragment, default port dropped), as
    ``crawler show`` looks it up: crawls archive canonical URLs, other tools' WARCs the URLs as they were."""
    from archive.replay import normalize_url
    from crawler.urls import canonicalize_url

    urls = [normalize_url(url)]
    try:
        canonical = canonicalize_url(urls[0])
    except ValueError:
        return urls
    return urls if canonical in urls else [*urls, canonical]


def _captures(archive: Any, url: str) -> tuple[str, Any]:
    """The first of ``_urls(url)`` that is archived, and its captures; CommandError naming ``url`` otherwise."""
    from archive.replay import NotCaptured
    from crawler.errors import CommandError

    first: NotCaptured | None = None
    for candidate in _urls(url):
        try:
            return candidate, archive.captures(candidate)
        except NotCaptured as exc:
            first = first or exc
        except ValueError as exc:
            raise CommandError(_damaged_index(archive, exc)) from None
    raise CommandError(str(first)) from None


def _damaged_index(archive: Any, exc: ValueError) -> str:
    # the index is made from the WARC files, which are untouched: rebuilding it loses nothing
    return (f"the index {archive.index} is damaged ({exc}); rebuild it with "
            f"'crawler index --data-dir {archive.data_dir}'")


def _find(archive: Any, url: str, at: str | None) -> Any:
    from archive.replay import normalize_timestamp
    from crawler.errors import UsageError

    try:
        when = normalize_timestamp(at) if at is not None else None
    except ValueError as exc:
        raise UsageError(f"--at: {exc}") from None
    archived_url, found = _captures(archive, url)
    return archive.nearest(archived_url, when) if when else found[-1]


def run_get(args: argparse.Namespace) -> int:
    from archive.replay import CaptureError
    from crawler.errors import CommandError

    archive = _archive(args)
    line = _find(archive, args.url, args.at)
    try:
        capture = archive.load(line)
    except CaptureError as exc:
        raise CommandError(f"cannot read the capture: {exc}") from exc
    except ValueError as exc:           # a revisit's original is looked up in the index
        raise CommandError(_damaged_index(archive, exc)) from None
    print(f"capture of {line.url} at {line.timestamp} ({line.filename} offset {line.offset})"
          + (f", revisit of {capture.original.timestamp}" if capture.original else ""), file=sys.stderr)
    out = sys.stdout.buffer
    if args.raw:
        out.write(capture.raw)
    elif args.headers:
        out.write(capture.raw[: capture.raw.find(b"\r\n\r\n") + 4] if b"\r\n\r\n" in capture.raw
                  else _format_headers(capture))
    elif args.text:
        out.write(_text(capture).encode("utf-8"))
    else:
        out.write(capture.body)
    out.flush()
    return 0


def _format_headers(capture: Any) -> bytes:
    lines = [f"{k}: {v}" for k, v in capture.http_headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")


def _text(capture: Any) -> str:
    from w3lib.encoding import html_to_unicode

    from crawler.extraction import extract

    _, html = html_to_unicode(capture.header("Content-Type"), capture.body)
    result = extract(html, capture.line.url, dict(capture.http_headers))
    return (result.text or "").rstrip("\n") + "\n"


def run_list(args: argparse.Namespace) -> int:
    archive = _archive(args)
    _, captures = _captures(archive, args.url)
    print(f"{'TIMESTAMP':14}  {'STATUS':6}  {'MIME':24}  {'DIGEST':32}  URL")
    for c in captures:
        status = "-" if c.status is None else str(c.status)
        mime = "revisit" if c.is_revisit else c.mime
        print(f"{c.timestamp:14}  {status:6}  {mime:24}  {c.digest or '-':32}  {c.url}")
    return 0


def run_serve(args: argparse.Namespace) -> int:
    from archive.pywb import BadAddress, PywbError, check_address, find_wayback, prepare, serve
    from crawler.errors import CommandError, UsageError

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be 0..65535, got {args.port}")
    try:
        check_address(args.host, args.port)
    except BadAddress as exc:
        raise UsageError(str(exc)) from None
    except PywbError as exc:
        raise CommandError(str(exc)) from None
    try:
        wayback = find_wayback(args.pywb)
        layout = prepare(args.data_dir)
        return serve(layout, wayback, host=args.host, port=args.port, announce=print)
    except PywbError as exc:
        raise CommandError(str(exc)) from exc
