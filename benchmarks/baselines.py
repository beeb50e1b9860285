"""Baselines the project is measured against, each a plain Scrapy crawl of one site in this process.

    python benchmarks/baselines.py plain URL OUTDIR   CrawlSpider + LinkExtractor, follows links, keeps nothing
    python benchmarks/baselines.py naive URL OUTDIR   the naive archiver: the same crawl, and in the callback
                                                      warcio WARC records + trafilatura, inline on the reactor

Both obey robots.txt, use no delay and the project's concurrency (16, 4 per site), and write the crawl's
Scrapy stats to OUTDIR/stats.json. They import nothing from the project on purpose.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scrapy.crawler import CrawlerProcess
from scrapy.http import Response, TextResponse
from scrapy.linkextractors import LinkExtractor
from scrapy.spiders import CrawlSpider, Rule

SETTINGS: dict[str, Any] = {
    "ROBOTSTXT_OBEY": True,
    "DOWNLOAD_DELAY": 0,
    "AUTOTHROTTLE_ENABLED": False,
    "CONCURRENT_REQUESTS": 16,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 4,
    "TELNETCONSOLE_ENABLED": False,
    "LOG_LEVEL": "INFO",
    "USER_AGENT": "bench-baseline/1.0",
}


class PlainSpider(CrawlSpider):
    """Follows every in-site link; the callback does nothing."""

    name = "plain"

    def __init__(self, url: str, **kwargs: Any) -> None:
        self.start_urls = [url]
        self.allowed_domains = [urlsplit(url).hostname or ""]
        self.rules = (Rule(LinkExtractor(), callback="parse_page", follow=True),)
        super().__init__(**kwargs)

    def parse_page(self, response: Response) -> Iterator[Any]:
        return iter(())


class NaiveArchiver(PlainSpider):
    """The same crawl, writing WARC request/response records and a trafilatura JSON line per page, inline."""

    name = "naive"

    def __init__(self, url: str, outdir: str, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        from warcio.warcwriter import WARCWriter

        out = Path(outdir)
        self._warc_file = (out / "naive.warc.gz").open("wb")
        self._jsonl = (out / "naive.jsonl").open("w", encoding="utf-8")
        self._writer = WARCWriter(self._warc_file, gzip=True)

    def parse_page(self, response: Response) -> Iterator[Any]:
        import trafilatura
        from warcio.statusandheaders import StatusAndHeaders

        headers = [(k.decode("latin-1"), v.decode("latin-1"))
                   for k, vs in response.headers.items() for v in vs]
        http = StatusAndHeaders(f"{response.status} OK", headers, protocol="HTTP/1.1")
        record = self._writer.create_warc_record(response.url, "response", payload=BytesIO(response.body),
                                                 http_headers=http)
        self._writer.write_record(record)
        request_headers = response.request.headers if response.request is not None else {}
        req_headers = [(k.decode("latin-1"), v.decode("latin-1"))
                       for k, vs in request_headers.items() for v in vs]
        req_http = StatusAndHeaders(f"GET {urlsplit(response.url).path or '/'} HTTP/1.1", req_headers,
                                    is_http_request=True)
        req = self._writer.create_warc_record(response.url, "request", payload=BytesIO(b""),
                                              http_headers=req_http)
        self._writer.write_record(req)
        if isinstance(response, TextResponse):
            extracted = trafilatura.extract(response.text, url=response.url, output_format="json",
                                            with_metadata=True)
            self._jsonl.write((extracted or "{}").replace("\n", " ") + "\n")
        return iter(())

    def closed(self, reason: str) -> None:
        self._jsonl.close()
        self._warc_file.close()


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] not in ("plain", "naive"):
        print(__doc__, file=sys.stderr)
        return 2
    mode, url, outdir = argv
    Path(outdir).mkdir(parents=True, exist_ok=True)
    process = CrawlerProcess(SETTINGS)
    spider = PlainSpider if mode == "plain" else NaiveArchiver
    crawler = process.create_crawler(spider)
    kwargs = {"url": url} if mode == "plain" else {"url": url, "outdir": outdir}
    process.crawl(crawler, **kwargs)
    process.start()
    stats = {k: (v.isoformat() if hasattr(v, "isoformat") else v)
             for k, v in (crawler.stats.get_stats() if crawler.stats else {}).items()}
    (Path(outdir) / "stats.json").write_text(json.dumps(stats, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
