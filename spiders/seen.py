"""What a spider remembers about every URL of a crawl, kept compact: memory must not grow with the site.

A sitemap-driven crawl touches every article URL of a site; a set of URL strings costs ~190 bytes per URL
and a dict of URL -> datetime ~100 more, and the strings are kept by nothing else once the requests wait
on disk (crawler.diskqueue). These keep a 60-bit key per URL instead (``crawler.keytable``): ``SeenUrls``
16 bytes per URL, ``ListingDates`` 32 (the date as microseconds since the epoch). Two URLs with the same
key would count as one: with a million URLs the chance that this happens at all is about 4 in 10 million.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crawler.keytable import MASK, KeyTable, key_of

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class SeenUrls:
    """A set of URLs (``add``, ``in``, ``len``) that stores a 60-bit key per URL, not the URL."""

    __slots__ = ("_keys",)

    def __init__(self) -> None:
        self._keys = KeyTable()

    def add(self, url: str) -> None:
        self._keys.add(key_of(url))

    def __contains__(self, url: object) -> bool:
        return isinstance(url, str) and ((hash(url) & MASK) or 1) in self._keys     # key_of, inlined

    def __len__(self) -> int:
        return len(self._keys)


class ListingDates:
    """URL -> the newest date any listing gave it: ``d[url] = dt``, ``d[url]``, ``d.get(url)``, ``in``, ``len``.

    Stores a 60-bit key per URL and the date as an int of microseconds (given back in UTC, aware); not
    iterable, since the URLs themselves are not kept.
    """

    __slots__ = ("_dates",)

    def __init__(self) -> None:
        self._dates = KeyTable(values=True)

    def __setitem__(self, url: str, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError(f"listing date of {url} has no time zone: {when.isoformat()}")
        self._dates.put(key_of(url), (when - _EPOCH) // _MICROSECOND)

    def __getitem__(self, url: str) -> datetime:
        found = self.get(url)
        if found is None:
            raise KeyError(url)
        return found

    def get(self, url: str, default: datetime | None = None) -> datetime | None:
        micros = self._dates.get(key_of(url))
        return default if micros is None else _EPOCH + micros * _MICROSECOND

    def __contains__(self, url: object) -> bool:
        return isinstance(url, str) and key_of(url) in self._dates

    def __len__(self) -> int:
        return len(self._dates)
