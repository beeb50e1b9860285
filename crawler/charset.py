"""UTF-8 pages labelled as Latin-1: give extraction the text the page really holds.

Many servers send ``Content-Type: text/html; charset=ISO-8859-1`` (a default of old servers) for pages
written in UTF-8. Browsers follow the label and show mojibake ("GrÃ¼ÃŸe"); an archive's text should not.
``CharsetPipeline`` (item pipeline, priority 280, before extraction) re-reads such a page as UTF-8 when
its bytes under the single-byte label are valid UTF-8 with non-ASCII sequences, which text in a real
single-byte encoding practically never is. The WARC keeps the bytes and headers as received; only the
decoded HTML handed to extraction changes, and ``item.encoding`` says ``utf-8``.
"""

from __future__ import annotations

import codecs
import logging
from typing import Any

from scrapy import Spider
from scrapy.crawler import Crawler

from crawler.items import PageItem

logger = logging.getLogger(__name__)

_SINGLE_BYTE = {"iso8859-1", "cp1252", "ascii", "latin-1"}


def mislabelled_utf8(html: str, encoding: str) -> str | None:
    """``html`` read again as UTF-8 when it was decoded with a single-byte label but its bytes are
    UTF-8; ``None`` when the label is right (or another encoding)."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        return None
    if name not in _SINGLE_BYTE:
        return None
    try:
        raw = html.encode(name)
    except UnicodeEncodeError:  # not a clean round trip (e.g. bytes undefined in cp1252): leave it
        return None
    if raw.isascii():
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


class CharsetPipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CharsetPipeline:
        return cls(crawler)

    def process_item(self, item: Any, spider: Spider | None = None) -> Any:
        if not isinstance(item, PageItem) or not item.encoding:
            return item
        fixed = mislabelled_utf8(item.html, item.encoding)
        if fixed is not None:
            logger.info("%s is labelled %s but is UTF-8: extracting it as UTF-8", item.url, item.encoding)
            item.html, item.encoding = fixed, "utf-8"
            if self.crawler.stats is not None:
                self.crawler.stats.inc_value("charset/mislabelled_utf8")
        return item
