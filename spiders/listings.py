"""Listings: the machine-readable lists of a site's URLs (sitemaps, sitemap indexes, RSS/RDF/Atom feeds).

Each parser turns XML bytes into ``Entry`` values (URL plus the newest date the listing gives for it) and
never fetches anything. Parsing is streaming (sitemaps can hold 50,000 URLs), forgiving (``recover``) and
safe (no entity expansion, no network).
"""

from __future__ import annotations

import email.utils
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from io import BytesIO

import lxml.etree
from dateutil import parser as dateparser
from protego import Protego

from crawler.urls import join_url

logger = logging.getLogger(__name__)

@dataclass(frozen=True)
class Entry:
    """One URL listed by a sitemap or feed, with its date when the listing gives one (UTC, aware)."""

    url: str
    date: datetime | None = None

    def older_than(self, since: datetime | None) -> bool:
        """True when both dates are known and the entry's is before ``since``."""
        return since is not None and self.date is not None and self.date < since


def parse_date(text: str | None) -> datetime | None:
    """A date from a listing (W3C/ISO 8601 or RFC 822), as an aware UTC datetime; ``None`` if unreadable.

    A date without time is midnight UTC; a time without offset is taken as UTC.
    """
    if not text or not text.strip():
        return None
    text = text.strip()
    value: datetime | None = None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            value = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            try:
                value = dateparser.parse(text)
            except (ValueError, OverflowError):
                # Listings in the wild carry garbage dates; such an entry is kept as undated.
                return None
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_since(value: str | date | datetime | None) -> datetime | None:
    """The ``since`` argument (ISO 8601 date or datetime) as an aware UTC datetime; ``ValueError`` if bad."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime.combine(value, time(0))
    else:
        try:
            dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"bad since date {value!r}: give an ISO 8601 date or datetime, e.g. 2024-05-01 or "
                "2024-05-01T12:00:00Z"
            ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def _local(tag: object) -> str:
    return tag.rpartition("}")[2].lower() if isinstance(tag, str) else ""


def _iterparse(xml: bytes) -> Iterator[tuple[str, lxml.etree._Element]]:
    """The elements of a sitemap or feed as they end, parsed leniently (recover); a document libxml2 gives
    up on before its first element (an entity-expansion bomb, binary junk) raises XMLSyntaxError instead of
    reading as an empty list."""
    events = lxml.etree.iterparse(
        BytesIO(xml), events=("end",), recover=True, resolve_entities=False, no_network=True,
        remove_comments=True, remove_pis=True, remove_blank_text=True, collect_ids=False,
    )
    seen = False
    for event in events:
        seen = True
        yield event
    if not seen and xml.strip():
        fatal = [e for e in events.error_log if e.level_name == "FATAL"]
        if fatal:
            raise lxml.etree.XMLSyntaxError(fatal[0].message, fatal[0].type, fatal[0].line, fatal[0].column)


def _text(el: lxml.etree._Element) -> str:
    return (el.text or "").strip()


def _release(el: lxml.etree._Element) -> None:
    """Free a parsed entry and the emptied ones before it (a 50,000-URL sitemap stays small in memory)."""
    el.clear(keep_tail=False)
    parent = el.getparent()
    if parent is not None:
        while el.getprevious() is not None:
            del parent[0]


def parse_sitemap(xml: bytes, base_url: str) -> Iterator[Entry]:
    """Entries of a ``<urlset>`` or ``<sitemapindex>`` (the ``<loc>`` of each ``<url>``/``<sitemap>``).

    The date is the newest of ``<lastmod>`` and ``<news:publication_date>``.
    """
    try:
        for _event, el in _iterparse(xml):
            if _local(el.tag) not in ("url", "sitemap"):
                continue
            # <loc> is a direct child (image:loc and video:loc inside are not the page); dates may be
            # nested (news:news/news:publication_date)
            loc = next((_text(c) for c in el if _local(c.tag) == "loc"), "")
            dates = [d for c in el.iter() if _local(c.tag) in ("lastmod", "publication_date")
                     if (d := parse_date(c.text)) is not None]
            _release(el)
            url = join_url(base_url, loc) if loc else None
            if url:
                yield Entry(url, max(dates) if dates else None)
            elif loc:
                logger.debug(f"ignoring malformed <loc> {loc!r} in the sitemap at {base_url}")
    except lxml.etree.XMLSyntaxError as exc:
        raise ValueError(f"unreadable sitemap at {base_url}: {exc}") from exc


_FEED_DATES = ("updated", "published", "pubdate", "date", "modified", "issued")


def parse_feed(xml: bytes, base_url: str) -> Iterator[Entry]:
    """Entries of an RSS 2.0 (``<item><link>``), RSS 1.0/RDF (``<item rdf:about>``) or Atom
    (``<entry><link rel="alternate" href>``) feed; the date is the newest of the item's dates."""
    try:
        for _event, el in _iterparse(xml):
            if _local(el.tag) not in ("item", "entry"):
                continue
            link, dates = "", []
            for child in el:
                name = _local(child.tag)
                if name == "link" and not link:
                    href = child.get("href")
                    if href is not None:  # Atom
                        if child.get("rel", "alternate") == "alternate":
                            link = href.strip()
                    else:
                        link = _text(child)
                elif name == "guid" and not link and child.get("isPermaLink", "true") != "false":
                    guid = _text(child)
                    if guid.startswith(("http://", "https://")):
                        link = guid
                elif name in _FEED_DATES:
                    d = parse_date(child.text)
                    if d is not None:
                        dates.append(d)
            if not link:
                about = el.get("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}about")
                link = (about or "").strip()
            _release(el)
            url = join_url(base_url, link) if link else None
            if url:
                yield Entry(url, max(dates) if dates else None)
            elif link:
                logger.debug(f"ignoring malformed link {link!r} in the feed at {base_url}")
    except lxml.etree.XMLSyntaxError as exc:
        raise ValueError(f"unreadable feed at {base_url}: {exc}") from exc


def robots_sitemaps(robots_txt: bytes, base_url: str) -> list[str]:
    """The ``Sitemap:`` URLs named in a robots.txt (relative ones resolved against ``base_url``)."""
    text = robots_txt.decode("utf-8", errors="replace")
    urls = (join_url(base_url, u.strip()) for u in Protego.parse(text).sitemaps if u.strip())
    return [u for u in urls if u]
