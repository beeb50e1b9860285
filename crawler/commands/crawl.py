"""``crawler crawl SPIDER``: crawl seeds into WARC files, JSON records and the catalog."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from crawler.commands._common import add_data_dir, parse_setting, print_summary

EPILOG = """\
A seed may be a home or section page (links inside the site are followed), an article (archived alone
unless --follow), a sitemap or sitemap index (plain, gzip or news sitemaps) or an RSS/Atom feed; the kind
is detected from the response. Examples:
  crawler crawl news --seed https://www.themoscowtimes.com/ --max-pages 200
  crawler crawl news --seed https://example.org/sitemap.xml --since 2024-01-01
  crawler crawl themoscowtimes --max-pages 50
"""


def add_scope_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("scope")
    g.add_argument("--max-pages", type=int, metavar="N", help="stop after N pages")
    g.add_argument("--max-depth", type=int, metavar="N", help="follow links at most N hops from a seed")
    g.add_argument("--allow", action="append", default=[], metavar="REGEX",
                   help="only follow URLs matching REGEX (repeatable)")
    g.add_argument("--deny", action="append", default=[], metavar="REGEX",
                   help="never follow URLs matching REGEX (repeatable)")
    g.add_argument("--since", metavar="DATE", help="skip sitemap and feed entries older than DATE (ISO 8601)")
    g.add_argument("--follow", action="store_true", help="also follow links from article seeds")


def add_run_options(parser: argparse.ArgumentParser) -> None:
    add_data_dir(parser)
    g = parser.add_argument_group("run")
    g.add_argument("--contact", metavar="URL_OR_EMAIL",
                   help="how site operators can reach you; goes into the User-Agent and the WARC warcinfo")
    g.add_argument("--no-extract", action="store_true",
                   help="archive only (WARC + catalog); fill the records later with 'crawler reextract'")
    g.add_argument("-s", "--set", dest="settings", action="append", default=[], type=parse_setting,
                   metavar="NAME=VALUE", help="override a Scrapy/project setting (repeatable)")
    g.add_argument("-a", dest="spider_args", action="append", default=[], type=parse_setting,
                   metavar="NAME=VALUE", help="pass an extra argument to the spider (repeatable)")
    g.add_argument("-v", "--verbose", action="store_true", help="log what the crawl does (INFO) to stderr")


def add_processes_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--processes", metavar="N",
        help="crawl in N processes of this machine, each owning part of the URLs (one run RUN-p<i> each, "
             "sharing the data directory and the politeness limits); 'auto' is one per core with "
             "--no-extract, else 1 (default: CRAWL_PROCESSES, 1)")


def register(sub: Any) -> None:
    p = sub.add_parser("crawl", help="crawl seed URLs with a spider", description=__doc__.split("\n")[0],
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("spider", help="spider name: news (generic) or a site spider such as themoscowtimes")
    p.add_argument("--seed", action="append", default=[], metavar="URL", help="a seed URL (repeatable)")
    p.add_argument("--seeds-file", type=Path, metavar="FILE", help="a file with one seed URL per line")
    p.add_argument("--resume", metavar="RUN",
                   help="continue run RUN (interrupted or crashed) in the same data directory: what it archived "
                        "is not fetched again; its seeds and options are reused unless given")
    add_scope_options(p)
    add_run_options(p)
    add_processes_option(p)
    from crawler.commands.worker import add_frontier_option

    add_frontier_option(p, required=False)   # share the crawl through Redis (crawler/frontier.py)
    p.set_defaults(func=run)


def spider_args_from(args: argparse.Namespace) -> dict[str, Any]:
    from crawler.errors import UsageError

    kwargs: dict[str, Any] = {}
    if getattr(args, "seed", None):
        kwargs["seeds"] = list(args.seed)
    if getattr(args, "seeds_file", None):
        if not args.seeds_file.exists():
            raise UsageError(f"seeds file not found: {args.seeds_file}")
        if args.seeds_file.is_dir():
            raise UsageError(f"seeds file {args.seeds_file} is a directory: give a file with one URL a line")
        if not args.seeds_file.is_file():
            raise UsageError(f"seeds file {args.seeds_file} is not a regular file")
        kwargs["seeds_file"] = str(args.seeds_file)
    for name in ("max_pages", "max_depth", "since"):
        value = getattr(args, name, None)
        if value is not None:
            kwargs[name] = value
    if getattr(args, "max_pages", None) is not None and args.max_pages < 1:
        raise UsageError("--max-pages must be at least 1")
    if getattr(args, "max_depth", None) is not None and args.max_depth < 0:
        raise UsageError("--max-depth must be 0 or more")
    if getattr(args, "allow", None):
        kwargs["allow"] = list(args.allow)
    if getattr(args, "deny", None):
        kwargs["deny"] = list(args.deny)
    if getattr(args, "follow", False):
        kwargs["follow"] = True
    kwargs.update(dict(args.spider_args))
    return kwargs


def settings_from(args: argparse.Namespace) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    # --max-depth goes to the spider (max_depth), not to DEPTH_LIMIT: Scrapy's limit counts pagination,
    # sitemap and feed hops too, so `crawler crawl --max-depth 1` would stop where `scrapy crawl -a max_depth=1` does not.
    if args.contact:
        from crawler import __version__

        settings["ARCHIVE_OPERATOR_CONTACT"] = args.contact
        settings["USER_AGENT"] = f"newsarchiver/{__version__} (+{args.contact})"
    if args.no_extract:
        settings["EXTRACT_ENABLED"] = False
    if getattr(args, "processes", None) is not None:
        settings["CRAWL_PROCESSES"] = args.processes
    settings.update(dict(args.settings))
    return settings


# Exit codes of a crawl beyond 0/1/2 (see crawler.cli): the run stopped early and can be resumed.
EXIT_DISK_FULL = 3
EXIT_INTERRUPTED = 130


def _prepare_run(spider: str, args: argparse.Namespace, spider_kwargs: dict[str, Any],
                 settings: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any], int]:
    """Run id, spider arguments, settings and process count of this run; ``--resume`` reloads the saved
    ones (crawler.resume), and every run saves its own so that it can be resumed. Nothing is written
    before the arguments are known to be right."""
    from crawler.errors import UsageError
    from crawler.resume import load_run_args, run_processes, save_run_args
    from crawler.runner import CrawlSetupError, load_spider
    from crawler.storage import new_run_id, prepare_data_dir

    resume = getattr(args, "resume", None)
    if resume:
        try:
            saved = load_run_args(args.data_dir, resume)
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot resume: {exc}") from None
        if saved.get("spider") != spider:
            raise UsageError(f"run {resume} was crawled with spider {saved.get('spider')!r}, not {spider!r}")
        spider_kwargs = {**saved.get("spider_args", {}), **spider_kwargs}
        given = settings.get("CRAWL_PROCESSES")             # --processes or -s CRAWL_PROCESSES
        settings = {**saved.get("settings", {}), **settings}
        # Each process of a run is a run of its own (RUN-p<i>) that resumes from what it archived: another
        # count would find nothing to resume and crawl everything again into the same run.
        had = run_processes(args.data_dir, resume, saved)
        if given is not None and _processes(settings) != had:
            raise UsageError(f"run {resume} was crawled with {had} process{'es' if had > 1 else ''}; "
                             f"resume it with --processes {had}")
        settings["CRAWL_PROCESSES"] = had
        run_id = resume
    else:
        run_id = settings.get("ARCHIVE_RUN_ID") or new_run_id()
    processes = _processes(settings)
    try:  # the spider checks its arguments (seeds, dates, numbers) before the data directory is made
        load_spider(spider, spider_kwargs)
    except CrawlSetupError as exc:
        raise UsageError(str(exc)) from None
    try:
        prepare_data_dir(args.data_dir)
        save_run_args(args.data_dir, run_id, spider, spider_kwargs, settings, processes)
    except OSError as exc:
        raise UsageError(f"cannot write to data directory {args.data_dir}: {exc.strerror or exc}") from None
    if resume:
        settings = {**settings, "RESUME_RUN": resume}
    return run_id, spider_kwargs, settings, processes


def _processes(settings: dict[str, Any]) -> int:
    """CRAWL_PROCESSES of this run (crawler.partition); UsageError when it is wrong or cannot be used."""
    from crawler.errors import UsageError
    from crawler.partition import processes_from
    from crawler.runner import project_settings

    effective = project_settings(settings)
    try:
        n = processes_from(effective.get("CRAWL_PROCESSES", 1), extract=effective.getbool("EXTRACT_ENABLED", True))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if n > 1 and effective.get("FRONTIER_URL"):
        raise UsageError("--processes cannot be combined with --frontier: start more `crawler worker` processes instead")
    if n > 1 and effective.get("JOBDIR"):
        raise UsageError("--processes cannot be combined with JOBDIR (one job directory per process)")
    return n


def execute(spider: str, args: argparse.Namespace, spider_kwargs: dict[str, Any]) -> int:
    import sys

    from crawler.errors import CommandError, UsageError
    from crawler.runner import CrawlSetupError, run_crawl

    run_id, spider_kwargs, settings, processes = _prepare_run(spider, args, spider_kwargs, settings_from(args))
    try:
        if processes > 1:
            from crawler.partition import run_partitioned

            result = run_partitioned(spider, spider_kwargs, args.data_dir, settings, run_id, processes,
                                     verbose=args.verbose)
        else:
            result = run_crawl(spider, spider_kwargs, args.data_dir, settings, run_id=run_id, verbose=args.verbose)
    except CrawlSetupError as exc:
        raise UsageError(str(exc)) from None
    print_summary(result)
    again = f"crawler crawl {spider} --resume {run_id} --data-dir {args.data_dir}"
    if result.finish_reason == "disk_full":
        why = result.stats.get("diskfull/reason", "no space left")
        unindexed = int(result.stats.get("archive/unindexed_files") or 0)
        index = (f" (it first indexes the {unindexed} WARC file{'s' if unindexed > 1 else ''} the full disk kept "
                 f"out of the index; without resuming: crawler index --data-dir {args.data_dir})" if unindexed else "")
        print(f"crawler: error: the disk is full ({why}); everything archived so far is intact. "
              f"Free some space, then: {again}{index}", file=sys.stderr)
        return EXIT_DISK_FULL
    if result.finish_reason == "storage_error":
        raise CommandError(f"cannot open the archive in {args.data_dir}: "
                           f"{result.stats.get('archive/open_error', 'see the log')}; the crawl stopped at its start, "
                           f"and nothing archived before was touched (details in {result.log_file})")
    if result.finish_reason == "crashed":
        raise CommandError(f"the crawl stopped: {result.stats.get('partition/crashed', 'a crawl process')} died "
                           f"without finishing; everything archived so far is intact. To continue: {again}")
    if result.finish_reason == "unknown":     # Scrapy's forced shutdown (a second Ctrl-C): nothing was closed
        print(f"crawler: interrupted before the crawl could close; nothing archived is lost (the next crawl "
              f"in this data directory recovers the unfinished WARC files). To continue: {again}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if result.finish_reason == "shutdown":
        print(f"crawler: interrupted; WARC files closed, nothing archived is lost. To continue: {again}",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    robots = int(result.stats.get("robotstxt/response_count", 0))
    if result.summary["pages_fetched"] - robots <= 0 and not result.summary.get("replayed"):
        if robots and any(k.startswith("robotstxt/response_status_count/5") for k in result.stats):
            raise CommandError("nothing could be fetched: robots.txt kept answering with a server error, which "
                               "means crawl nothing (RFC 9309); try again later "
                               f"(details in {result.log_file})")
        if result.stats.get("robotstxt/forbidden"):
            raise CommandError(f"nothing could be fetched: robots.txt forbids every page this crawl asked for "
                               f"(details in {result.log_file})")
        errors = sorted(k.rsplit("/", 1)[-1] for k in result.stats if k.startswith("downloader/exception_type_count/")
                        and not k.endswith(".IgnoreRequest"))
        why = f" ({', '.join(errors)})" if errors else ""
        raise CommandError(f"nothing could be fetched{why}; is the site reachable? details in {result.log_file}")
    return 0


def run(args: argparse.Namespace) -> int:
    from crawler.commands.worker import join_frontier

    kwargs = spider_args_from(args)
    processes = _processes(settings_from(args))        # a bad value fails before anything is written
    if getattr(args, "frontier", None) and processes > 1:
        from crawler.errors import UsageError

        raise UsageError("--processes cannot be combined with --frontier: start more `crawler worker` processes instead")
    join_frontier(args, args.spider, kwargs)
    return execute(args.spider, args, kwargs)
