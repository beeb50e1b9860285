"""``crawler frontier status|seed|clear|stop``: inspect and manage a shared Redis frontier.

status  what the frontier holds: the crawl, requests queued and leased (expired leases included), URLs
        seen, and the workers with the age of their last heartbeat
seed    store a crawl (spider, seeds, scope) in the frontier and queue its start requests, without crawling;
        workers started afterwards with 'crawler worker' do the work
clear   delete every key of the frontier (queue, seen set, leases, crawl); refused while workers are alive
        unless --force
stop    ask every worker to stop: each finishes the requests it holds and exits
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from crawler.commands.worker import add_frontier_option, open_frontier

ALIVE_SECONDS = 30      # a worker whose heartbeat is younger than this is taken as running


def register(sub: Any) -> None:
    from crawler.commands.crawl import add_scope_options

    p = sub.add_parser("frontier", help="inspect and manage a shared Redis frontier (status, seed, clear, stop)",
                       description=__doc__.split("\n")[0], epilog=__doc__.split("\n", 2)[2],
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    def common(q: argparse.ArgumentParser) -> None:
        add_frontier_option(q, required=True)
        q.add_argument("--key-prefix", default="frontier", metavar="PREFIX",
                       help="the frontier's key prefix (setting FRONTIER_KEY_PREFIX; default: frontier)")

    status = verbs.add_parser("status", help="what the frontier holds")
    common(status)
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    status.set_defaults(func=run_status)

    seed = verbs.add_parser("seed", help="store a crawl in the frontier and queue its start requests")
    seed.add_argument("spider", help="spider name: news (generic) or a site spider such as themoscowtimes")
    seed.add_argument("--seed", action="append", default=[], metavar="URL", help="a seed URL (repeatable)")
    seed.add_argument("--seeds-file", metavar="FILE", help="a file with one seed URL per line")
    add_scope_options(seed)
    seed.add_argument("-a", dest="spider_args", action="append", default=[], metavar="NAME=VALUE",
                      type=_setting, help="pass an extra argument to the spider (repeatable)")
    common(seed)
    seed.set_defaults(func=run_seed)

    clear = verbs.add_parser("clear", help="delete everything the frontier holds")
    common(clear)
    clear.add_argument("--force", action="store_true", help="clear even while workers are running")
    clear.set_defaults(func=run_clear)

    stop = verbs.add_parser("stop", help="ask every worker to finish what it holds and exit")
    common(stop)
    stop.set_defaults(func=run_stop)


def _setting(text: str) -> tuple[str, str]:
    from crawler.commands._common import parse_setting

    return parse_setting(text)


def run_status(args: argparse.Namespace) -> int:
    frontier = open_frontier(args.frontier, args.key_prefix)
    st = frontier.status()
    if args.json:
        print(json.dumps({"url": st.url, "crawl": st.spec, "queued": st.queued, "leased": st.leased,
                          "expired": st.expired, "seen": st.seen, "workers": st.workers,
                          "stopping": st.stopping}, indent=1, sort_keys=True))
        return 0
    crawl = f"{st.spec['spider']} {json.dumps(st.spec['args'], sort_keys=True)}" if st.spec else "(none)"
    print(f"frontier {st.url} (keys {args.key_prefix}:*)")
    print(f"  crawl:    {crawl}")
    print(f"  queued:   {st.queued}")
    print(f"  leased:   {st.leased}" + (f" ({st.expired} expired, returning to the queue)" if st.expired else ""))
    print(f"  seen:     {st.seen}")
    if st.stopping:
        print("  stopping: workers were asked to stop")
    print(f"  workers:  {len(st.workers)}")
    for wid, info in sorted(st.workers.items()):
        print(f"    {wid}  data {info.get('data_dir', '?')}  holds {info.get('leased', 0)}  "
              f"heartbeat {info.get('age', '?')} s ago")
    return 0


def run_seed(args: argparse.Namespace) -> int:
    from pathlib import Path

    from crawler.commands.crawl import spider_args_from
    from crawler.errors import CommandError, UsageError
    from crawler.frontier import FrontierError, start_requests_of
    from crawler.runner import CrawlSetupError, load_spider

    args.seeds_file = Path(args.seeds_file) if args.seeds_file else None
    kwargs = spider_args_from(args)
    try:
        _, spider = load_spider(args.spider, kwargs)
    except CrawlSetupError as exc:
        raise UsageError(str(exc)) from None
    frontier = open_frontier(args.frontier, args.key_prefix)
    try:
        frontier.set_spec(args.spider, kwargs)
    except FrontierError as exc:
        raise CommandError(str(exc)) from None
    requests = start_requests_of(spider)
    pushed = frontier.push_new(requests, spider)
    print(f"frontier {args.frontier}: crawl {args.spider} stored; {pushed} of {len(requests)} start request(s) "
          "queued (the others were seen before)")
    print(f"start workers with: crawler worker --frontier {args.frontier} --data-dir DIR")
    return 0


def run_clear(args: argparse.Namespace) -> int:
    from crawler.errors import CommandError

    frontier = open_frontier(args.frontier, args.key_prefix)
    alive = [w for w, info in frontier.status().workers.items() if int(info.get("age", 0)) < ALIVE_SECONDS]
    if alive and not args.force:
        raise CommandError(f"{len(alive)} worker(s) still running ({', '.join(sorted(alive))}); stop them with "
                           "'crawler frontier stop' first, or pass --force")
    deleted = frontier.clear()
    print(f"frontier {args.frontier}: deleted {deleted} key(s) under {args.key_prefix}:")
    return 0


def run_stop(args: argparse.Namespace) -> int:
    frontier = open_frontier(args.frontier, args.key_prefix)
    frontier.request_stop()
    workers = len(frontier.status().workers)
    print(f"frontier {args.frontier}: asked {workers} worker(s) to stop; each finishes what it holds "
          "(a new 'crawler worker' or 'crawler crawl --frontier' clears the request)")
    return 0
