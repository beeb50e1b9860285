"""``crawler archive URL ...``: archive these pages now, and nothing else."""

from __future__ import annotations

import argparse
import re
from typing import Any

from crawler.commands.crawl import add_run_options, execute


def register(sub: Any) -> None:
    p = sub.add_parser("archive", help="archive the given pages now (no link following)",
                       description=__doc__.split("\n")[0] + " Each URL is fetched once, archived as WARC "
                       "and turned into a JSON record; links are not followed.")
    p.add_argument("urls", nargs="+", metavar="URL", help="page URL(s) to archive")
    add_run_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    only_these = "^(?:" + "|".join(re.escape(u) for u in args.urls) + ")$"
    kwargs: dict[str, Any] = {"seeds": list(args.urls), "allow": [only_these], "max_pages": len(args.urls)}
    kwargs.update(dict(args.spider_args))
    return execute("news", args, kwargs)
