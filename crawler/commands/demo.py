"""``crawler demo``: serve the bundled demo news site on 127.0.0.1, crawl it, and show what was archived."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from crawler.commands._common import print_summary


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="crawl the bundled demo site (no internet needed) and show the result",
                       description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", type=Path, default=Path("demo-data"), metavar="DIR",
                   help="where to write the demo archive (default: ./demo-data)")
    p.add_argument("--articles", type=_articles, default=30, metavar="N", help="articles on the demo site (30)")
    p.add_argument("--port", type=_port, default=DEMO_PORT, metavar="PORT",
                   help=f"port of the demo site on 127.0.0.1 ({DEMO_PORT}; a free one when it is taken). The same "
                        "port each time makes a second demo a re-crawl of the same site, not a copy under another host")
    p.add_argument("-v", "--verbose", action="store_true", help="log what the crawl does to stderr")
    p.set_defaults(func=run)


DEMO_PORT = 8642


def _port(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = -1
    if not 0 <= n <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number, 0 to 65535, not {text!r}")
    return n


def _articles(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number, 1 or more, not {text!r}")
    return n


def run(args: argparse.Namespace) -> int:
    from crawler.demosite import Site, serve
    from crawler.errors import CommandError, UsageError
    from crawler.runner import CrawlSetupError, run_crawl

    try:
        server = serve(Site(articles=args.articles), port=args.port)
    except OSError as exc:  # taken (another demo, another program): any free port will do
        server = serve(Site(articles=args.articles), port=0)
        print(f"demo site: port {args.port} is not free ({exc.strerror or exc}); using {server.base_url.rsplit(':', 1)[-1]}")
    with server:
        print(f"demo site: serving {server.base_url}/ on 127.0.0.1 ({args.articles} articles)")
        try:
            result = run_crawl("news", {"seeds": [server.base_url + "/"]}, args.data_dir,
                               {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False}, verbose=args.verbose)
        except CrawlSetupError as exc:
            raise UsageError(str(exc)) from None
    print_summary(result)
    revisits = int(result.stats.get("archive/revisits", 0))
    if result.summary["articles"] == 0 and not revisits:
        raise CommandError(f"the demo crawl archived no article; see {result.log_file}")
    if revisits:  # a demo again, into the same data directory: the site has not changed since
        print(f"  {revisits} page(s) unchanged since the last demo crawl: archived as revisit records "
              "(crawler show URL --versions)")
    index = Path(args.data_dir) / "index"
    if any(index.glob("*.cdxj")):
        print(f"  CDXJ index:   {index}")
    print("next:")
    print(f"  crawler list --data-dir {args.data_dir} --kind article")
    print(f"  crawler show URL --text --data-dir {args.data_dir}")
    print(f"  crawler replay serve --data-dir {args.data_dir}     # browse the archive through pywb")
    return 0
