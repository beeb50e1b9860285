"""``themoscowtimes``: https://www.themoscowtimes.com/, written as a site spider is: seeds and a URL hint.

Everything else (sniffing seeds, sitemaps, feeds, scope, article recognition) is the ``news`` spider's.
``-a base_url=http://127.0.0.1:PORT`` points it at a local copy of the site's structure (tests, demos).
"""

from __future__ import annotations

import re
from typing import Any

from crawler.urls import seed_error
from spiders.news import NewsSpider


class TheMoscowTimesSpider(NewsSpider):
    name = "themoscowtimes"
    # Article paths look like /2021/04/14/armenia-says-wants-more-russian-troops-on-its-soil-a73596
    article_pattern = re.compile(r"^/\d{4}/\d{2}/\d{2}/[^/]+-a\d+$")
    seed_paths = ("/", "/rss/news", "/sitemap/sitemap.xml")

    def __init__(self, *args: Any, base_url: str = "https://www.themoscowtimes.com/", **kwargs: Any) -> None:
        if error := seed_error(base_url):
            raise ValueError(error.replace("seed URL", "base_url", 1))
        origin = base_url.strip().rstrip("/")
        super().__init__(*args, default_seeds=[origin + p for p in self.seed_paths], **kwargs)
