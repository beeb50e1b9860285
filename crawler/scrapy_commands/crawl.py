"""``scrapy crawl SPIDER -a NAME=VALUE``: Scrapy's own command, with the spider's arguments checked first.

Scrapy 2.13+ builds the spider inside an asyncio task: an argument the spider refuses (``-a seeds=notaurl``,
no seeds at all) came out as a "Task exception was never retrieved" traceback, and the exit status did
not say so. Here the spider class is built once with the same arguments before the crawl, so a bad
argument is Scrapy's usage error: one "scrapy: error: ..." line and exit 2, as for a bad option.
"""

from __future__ import annotations

import argparse

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError


class Command(ScrapyCrawlCommand):
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) == 1 and self.crawler_process is not None:
            try:
                spidercls = self.crawler_process.spider_loader.load(args[0])
            except KeyError:
                raise UsageError(f"unknown spider {args[0]!r} (scrapy list names them)", print_help=False) from None
            try:
                spidercls(**opts.spargs)  # what the crawl does with them (the spider checks its options)
            except (TypeError, ValueError) as exc:
                raise UsageError(str(exc), print_help=False) from None
        super().run(args, opts)
