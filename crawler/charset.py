"""How a page's bytes became its text: the charset, where it came from, and what could not be decoded.

Scrapy decodes a page the way browsers do (HTML5 encoding sniffing): a byte order mark, else the
``Content-Type`` charset, else a ``<meta>`` charset, else a guess from the bytes. Invalid sequences become
U+FFFD. ``CharsetMiddleware`` (spider middleware) notes on each ``PageItem`` an
``archive.records.TextEncoding`` (``item.extra["encoding"]``): the charset, its source (bom, header,
meta, sniffed, default), how many byte sequences could not be decoded and how many control characters
(NUL and other C0, which are not text in HTML) the page held; ``ArchivePipeline`` copies it into the
record, so text that is not all the page held is flagged there.

Many servers send ``Content-Type: text/html; charset=ISO-8859-1`` (a default of old servers) for pages
written in UTF-8. Browsers follow the label and show mojibake ("GrÃ¼ÃŸe"); an archive's text should not.
``CharsetPipeline`` (item pipeline, priority 280, before extraction) re-reads such a page as UTF-8 when
its bytes under the single-byte label are valid UTF-8 with non-ASCII sequences, which text in a real
single-byte encoding practically never is (its encoding becomes utf-8, source "sniffed"). The WARC keeps
the bytes and headers as received; only the decoded HTML handed to extraction changes.

``decode_html(body, content_type)`` does all of this from the archived bytes alone (``crawler
reextract``): the same text and ``TextEncoding`` a crawl gives.
"""

from __future__ import annotations

import codecs
import logging
import re
from functools import cache
from typing import TYPE_CHECKING, Any

from scrapy.http import TextResponse
from scrapy.spidermiddlewares.base import BaseSpiderMiddleware
from w3lib.encoding import (
    html_body_declared_encoding,
    html_to_unicode,
    http_content_type_encoding,
    read_bom,
    resolve_encoding,
)

from archive.records import TextEncoding
from crawler.items import PageItem

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

_SINGLE_BYTE = {"iso8859-1", "cp1252", "ascii", "latin-1"}
# Not text in HTML (parse errors): C0 controls but tab, LF, FF, CR; and DEL.
_CONTROLS = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f]")
# Python codec names -> WHATWG Encoding Standard names, where they differ by more than "_" vs "-".
_WHATWG = {"utf-16-le": "utf-16le", "utf-16-be": "utf-16be", "mac-cyrillic": "x-mac-cyrillic",
           "mac-roman": "macintosh", "cp866": "ibm866", "cp874": "windows-874", "utf-8-sig": "utf-8", "shift_jis": "shift_jis"}


def charset_name(encoding: str) -> str:
    """The WHATWG name of a Python codec name ("cp1251" -> "windows-1251"); Python's name otherwise."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        return encoding.lower()
    if name in _WHATWG:
        return _WHATWG[name]
    if re.fullmatch(r"cp125\d", name):
        return "windows-" + name[2:]
    if name.startswith("iso8859-"):
        return "iso-8859-" + name[8:]
    return name.replace("_", "-")


def _same(a: str | None, b: str) -> bool:
    if a is None:
        return False
    try:
        return codecs.lookup(a).name == codecs.lookup(b).name
    except LookupError:
        return False


def _source(body: bytes, content_type: str | None, encoding: str) -> str:
    """Where ``encoding`` (the charset the page was decoded with) came from, as a browser would look."""
    if read_bom(body)[0] is not None:
        return "bom"
    if _same(http_content_type_encoding(content_type or ""), encoding):
        return "header"
    if _same(html_body_declared_encoding(body), encoding):
        return "meta"
    return "default" if body.isascii() else "sniffed"


_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x20), 0x7F])
_NOT_CONTROL_BYTES = bytes(b for b in range(256) if b not in _CONTROL_BYTES)


@cache
def _ascii_compatible(encoding: str) -> bool:
    """True when every byte below 0x80 decodes to the same ASCII character (UTF-8, windows-125x, ...)."""
    ascii_bytes = bytes(range(0x80))
    try:
        return ascii_bytes.decode(encoding) == ascii_bytes.decode("ascii")
    except (LookupError, UnicodeDecodeError):
        return False


def count_controls(body: bytes, encoding: str, text: str) -> int:
    """NUL and other C0 control characters (but tab, LF, FF, CR) and DEL in the page: counted in ``body``
    (one C-speed pass) when ``encoding`` is ASCII-compatible, else in the decoded ``text``."""
    if _ascii_compatible(encoding):
        return len(body.translate(None, _NOT_CONTROL_BYTES))
    return _controls_in_text(text)


def _controls_in_text(text: str) -> int:
    if _CONTROLS.search(text) is None:
        return 0
    return len(text) - len(_CONTROLS.sub("", text))


def count_errors(body: bytes, encoding: str, text: str) -> int:
    """Byte sequences of ``body`` that ``encoding`` cannot decode (each one U+FFFD in ``text``)."""
    if "\ufffd" not in text:
        return 0
    bom_encoding, bom = read_bom(body)
    data = body[len(bom):] if bom and _same(bom_encoding, encoding) else body
    try:
        return len(data.decode(encoding, "replace")) - len(data.decode(encoding, "ignore"))
    except LookupError:
        return text.count("\ufffd")


def describe(body: bytes, content_type: str | None, encoding: str, text: str) -> TextEncoding:
    """The ``TextEncoding`` of ``text``, which ``body`` gave when decoded with ``encoding``."""
    return TextEncoding(charset=charset_name(encoding), source=_source(body, content_type, encoding),
                        errors=count_errors(body, encoding, text), controls=count_controls(body, encoding, text))


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


def _sniff(body: bytes) -> str | None:
    """Scrapy's guess for a page that declares nothing: ASCII, UTF-8, else charset_normalizer's."""
    from charset_normalizer import from_bytes

    for encoding in ("ascii", "utf-8"):
        try:
            body.decode(encoding)
        except UnicodeError:
            continue
        return resolve_encoding(encoding)
    match = from_bytes(body).best()
    return resolve_encoding(match.encoding) if match else None


def decode_html(body: bytes, content_type: str | None) -> tuple[str, TextEncoding]:
    """Decode an archived page as a crawl does (Scrapy's ``TextResponse`` and ``CharsetPipeline``):
    the text and its ``TextEncoding``. ``body`` is the payload without content coding (gzip removed)."""
    encoding, text = html_to_unicode(content_type, body, auto_detect_fun=_sniff, default_encoding="ascii")
    fixed = mislabelled_utf8(text, encoding)
    if fixed is not None:
        return fixed, TextEncoding(charset="utf-8", source="sniffed", errors=0,
                                   controls=count_controls(body, "utf-8", fixed))
    return text, describe(body, content_type, encoding, text)


class CharsetMiddleware(BaseSpiderMiddleware):
    """Spider middleware: sets ``item.extra["encoding"]`` (a ``TextEncoding``) on each PageItem from the
    response it was made of."""

    def get_processed_item(self, item: Any, response: Response | None) -> Any:
        if (isinstance(item, PageItem) and isinstance(response, TextResponse) and item.url == response.url
                and "encoding" not in item.extra):
            content_type = response.headers.get(b"Content-Type")
            encoding = describe(response.body, content_type.decode("latin-1") if content_type else None,
                                item.encoding, item.html)
            item.extra["encoding"] = encoding
            if encoding.flagged:
                logger.warning("%s: text is not all the page held: %d undecodable byte sequences as %s "
                               "(charset from %s), %d control characters", item.url, encoding.errors,
                               encoding.charset, encoding.source, encoding.controls)
                if self.crawler.stats is not None:
                    self.crawler.stats.inc_value("charset/flagged")
        return item


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
            before = item.extra.get("encoding")   # CharsetMiddleware's, from the same (ASCII-compatible) bytes
            controls = before.controls if isinstance(before, TextEncoding) else _controls_in_text(fixed)
            item.extra["encoding"] = TextEncoding(charset="utf-8", source="sniffed", errors=0, controls=controls)
            if self.crawler.stats is not None:
                self.crawler.stats.inc_value("charset/mislabelled_utf8")
        return item
