"""``crawler worker --frontier redis://HOST:PORT/DB``: take part in the crawl a shared frontier holds.

The worker reads the crawl (spider and arguments) from the frontier, fetches requests from it until the
frontier is empty (no request queued, none held by another worker) or it is told to stop (Ctrl-C or
SIGTERM: it finishes the requests it holds, then exits; 'crawler frontier stop' stops every worker),
and writes WARC files, JSON records and catalog rows into its own --data-dir.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from crawler.commands._common import print_summary

EPILOG = """\
Start the crawl once (it works as a worker too), then add workers on any machine that reaches Redis:
  crawler crawl news --seed https://example.org/ --frontier redis://10.0.0.5:6379/0 --data-dir /data/a
  crawler worker --frontier redis://10.0.0.5:6379/0 --data-dir /data/b
Merge the workers' archives into one index with 'crawler index --data-dir MERGED WARC...'.
"""


def add_frontier_option(parser: argparse.ArgumentParser, *, required: bool) -> None:
    default = os.environ.get("CRAWLER_FRONTIER")
    parser.add_argument("--frontier", metavar="REDIS_URL", default=default, required=required and not default,
                        help="the shared frontier, redis://HOST:PORT/DB (default: $CRAWLER_FRONTIER)")


def frontier_settings(args: argparse.Namespace, url: str) -> tuple[str, str]:
    """The frontier URL and key prefix in force: --frontier, or -s FRONTIER_URL / FRONTIER_KEY_PREFIX."""
    given = dict(getattr(args, "settings", []) or [])
    return url or given.get("FRONTIER_URL", ""), given.get("FRONTIER_KEY_PREFIX") or "frontier"


def open_frontier(url: str, prefix: str) -> Any:
    from crawler.errors import CommandError, UsageError
    from crawler.frontier import Frontier, FrontierError

    try:
        frontier = Frontier(url, prefix)
    except FrontierError as exc:
        raise UsageError(str(exc)) from None
    try:
        frontier.check()
    except FrontierError as exc:
        raise CommandError(str(exc)) from None
    return frontier


def join_frontier(args: argparse.Namespace, spider: str, spider_kwargs: dict[str, Any]) -> None:
    """For ``crawler crawl --frontier``: store the crawl in the frontier (or check it is the one there) and
    point the crawl's settings at it."""
    from crawler.errors import CommandError
    from crawler.frontier import FrontierError

    url, prefix = frontier_settings(args, getattr(args, "frontier", None) or "")
    if not url:
        return
    frontier = open_frontier(url, prefix)
    try:
        frontier.set_spec(spider, spider_kwargs)
    except FrontierError as exc:
        raise CommandError(str(exc)) from None
    frontier.server.delete(frontier.stop_key)
    args.settings = [*args.settings, ("FRONTIER_URL", url)]


def register(sub: Any) -> None:
    from crawler.commands.crawl import add_run_options

    p = sub.add_parser("worker", help="work on the crawl a shared Redis frontier holds",
                       description=__doc__.split("\n")[0], epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_frontier_option(p, required=False)
    add_run_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from crawler.commands.crawl import settings_from
    from crawler.errors import CommandError, UsageError
    from crawler.runner import CrawlSetupError, run_crawl

    url, prefix = frontier_settings(args, args.frontier or "")
    if not url:
        raise UsageError("give the frontier with --frontier redis://HOST:PORT/DB (or $CRAWLER_FRONTIER)")
    frontier = open_frontier(url, prefix)
    spec = frontier.spec()
    if spec is None:
        raise CommandError(f"the frontier at {url} holds no crawl yet: start one with 'crawler crawl SPIDER "
                           f"--seed URL --frontier {url}' or 'crawler frontier seed SPIDER --seed URL'")
    frontier.server.delete(frontier.stop_key)
    settings = {**settings_from(args), "FRONTIER_URL": url, "FRONTIER_KEY_PREFIX": prefix}
    spider_kwargs = {**spec["args"], **dict(args.spider_args)}
    try:
        result = run_crawl(spec["spider"], spider_kwargs, args.data_dir, settings, verbose=args.verbose)
    except CrawlSetupError as exc:
        raise UsageError(str(exc)) from None
    print_summary(result)
    if result.finish_reason == "frontier_unreachable":
        raise CommandError(f"the frontier's Redis at {url} stayed unreachable; start the worker again once "
                           f"it is back (details in {result.log_file})")
    return 0
