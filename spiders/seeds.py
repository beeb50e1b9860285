"""Seeds: where they come from (arguments, a file) and what a fetched seed turned out to be.

The kind of a response is sniffed from its bytes, never taken from the user: a sitemap (``<urlset>``), a
sitemap index (``<sitemapindex>``), a feed (RSS 2.0 ``<rss>``, RSS 1.0 ``<rdf:RDF>``, Atom ``<feed>``), an
HTML page, or something else (PDF, image: archived, not parsed). Gzip sitemaps are recognized by their
magic bytes and decompressed with a size limit.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable
from enum import Enum
from io import BytesIO
from pathlib import Path

import lxml.etree
from scrapy.utils.gz import gunzip

from crawler.urls import canonicalize_url, seed_error

GZIP_MAGIC = b"\x1f\x8b"
_SEED_SEPARATOR = re.compile(r"\s+|,(?=\s*[A-Za-z][A-Za-z0-9+.-]*://)")
_XML_START = re.compile(rb"^(?:\xef\xbb\xbf)?\s*<")
_HTML_TYPES = ("text/html", "application/xhtml+xml")


class BodyError(ValueError):
    """A compressed body that cannot be used: too large once decompressed, or corrupt."""


class Kind(Enum):
    """What a fetched URL turned out to be."""

    SITEMAP = "sitemap"
    SITEMAP_INDEX = "sitemapindex"
    FEED = "feed"
    HTML = "html"
    OTHER = "other"


def split_seeds(value: str | Iterable[str] | None) -> list[str]:
    """Seeds from ``-a seeds=URL,URL`` or a list from the CLI. A string is split at whitespace and at the
    commas that start another URL, so ``https://ex.pl/7,114,270.html`` (commas in a path) stays whole."""
    if value is None:
        return []
    items = _SEED_SEPARATOR.split(value) if isinstance(value, str) else list(value)
    return [s.strip().rstrip(",") for s in items if s and s.strip().rstrip(",")]


def read_seeds_file(path: str | Path) -> list[str]:
    """Seed URLs from a file: one per line; blank lines and ``#`` comments are ignored."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read seeds file {str(path)!r}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ValueError(f"seeds file {str(path)!r} is not UTF-8 text: {exc.reason}") from exc
    seeds = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip() if line.lstrip().startswith("#") else line.strip()
        if line:
            seeds.append(line.split()[0])
    return seeds


def check_seeds(seeds: Iterable[str]) -> list[str]:
    """The seeds, stripped; raises ``ValueError`` (one line) at the first malformed one."""
    out = []
    for s in seeds:
        error = seed_error(s)
        if error:
            raise ValueError(error)
        try:
            canonicalize_url(s)
        except ValueError as exc:
            raise ValueError(f"malformed seed URL {s!r}: {exc}") from None
        out.append(s.strip())
    return out


def xml_body(body: bytes, max_size: int = 0) -> bytes:
    """The XML bytes of a body: gunzipped when it starts with the gzip magic, at most ``max_size`` bytes
    (0: no limit). Raises ``BodyError`` when that limit is exceeded or the gzip data is corrupt."""
    if body[:2] != GZIP_MAGIC:
        return body
    try:
        # gunzip raises a ValueError subclass past max_size (Scrapy's decompression-bomb guard).
        return gunzip(body, max_size=max_size)
    except ValueError as exc:
        raise BodyError(f"gzip body too large: {exc} (raise DOWNLOAD_MAXSIZE to accept it)") from exc
    except (OSError, EOFError, zlib.error) as exc:
        raise BodyError(f"corrupt gzip body: {exc}") from exc


def _root_tag(xml: bytes) -> str:
    """Local name of the root element, lower-case (``""`` when the bytes are not XML)."""
    if not _XML_START.match(xml[:1024]):
        return ""
    try:
        for _event, elem in lxml.etree.iterparse(
            BytesIO(xml), events=("start",), recover=True, resolve_entities=False, no_network=True,
            remove_comments=True, remove_pis=True, huge_tree=False,
        ):
            tag = elem.tag
            return tag.rpartition("}")[2].lower() if isinstance(tag, str) else ""
    except lxml.etree.XMLSyntaxError:
        # Not XML at all (lxml found no root element): the caller treats it as "other".
        return ""
    return ""


_ROOTS = {
    "urlset": Kind.SITEMAP,
    "sitemapindex": Kind.SITEMAP_INDEX,
    "rss": Kind.FEED,
    "rdf": Kind.FEED,
    "feed": Kind.FEED,
    "html": Kind.HTML,
}


def detect_kind(body: bytes, content_type: str, max_size: int = 0) -> Kind:
    """Sniff what ``body`` is. ``content_type`` breaks ties: an HTML type with an HTML-looking body is HTML.
    Raises ``BodyError`` for a gzip body that is corrupt or larger than ``max_size`` decompressed."""
    ctype = content_type.split(";")[0].strip().lower()
    head = body[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if ctype in _HTML_TYPES and (head.startswith((b"<!doctype html", b"<html")) or b"<html" in head):
        return Kind.HTML
    kind = _ROOTS.get(_root_tag(xml_body(body, max_size)))
    if kind is not None:
        return kind
    if ctype in _HTML_TYPES or head.startswith((b"<!doctype html", b"<html")):
        return Kind.HTML
    return Kind.OTHER
