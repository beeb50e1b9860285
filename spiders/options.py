"""The arguments of the news spiders, validated once into a typed, frozen value.

They come as strings from ``scrapy crawl -a name=value`` and as Python values (lists, ints) from the
``crawler crawl`` command; both are accepted. Every problem raises ``ValueError`` with a one-line message
that the CLI prints as is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from spiders.listings import parse_since
from spiders.seeds import check_seeds, read_seeds_file, split_seeds

NO_SEEDS = "no seeds: give --seed URL or --seeds-file FILE (-a seeds=URL under scrapy crawl)"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _flag(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"bad {name} value {value!r}: use 1/true or 0/false")


def _count(name: str, value: object, minimum: int) -> int | None:
    if value is None or value == "":
        return None
    try:
        n = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        raise ValueError(f"bad {name} value {value!r}: give a whole number") from None
    if n < minimum:
        raise ValueError(f"bad {name} value {value!r}: must be at least {minimum}")
    return n


def _lines(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return []
    items = value.split("\n") if isinstance(value, str) else list(value)
    return [s.strip() for s in items if s and s.strip()]


def _regexes(name: str, value: str | Iterable[str] | None) -> tuple[re.Pattern[str], ...]:
    out = []
    for text in _lines(value):
        try:
            out.append(re.compile(text))
        except re.error as exc:
            raise ValueError(f"bad {name} regex {text!r}: {exc}") from None
    return tuple(out)


def _domains(value: str | Iterable[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    parts = re.split(r"[,\s]+", value) if isinstance(value, str) else list(value)
    items = [d.strip() for d in parts if d and d.strip()]
    for d in items:
        if "/" in d or not re.fullmatch(r"[\w.\-\[\]:]+", d):
            raise ValueError(f"bad domain {d!r}: give a host name such as example.com")
    return tuple(items)


@dataclass(frozen=True)
class SpiderOptions:
    """What to crawl and how far (see the spider's docstring for the argument names)."""

    seeds: tuple[str, ...]
    follow: bool = False
    max_pages: int | None = None
    max_depth: int | None = None
    allow: tuple[re.Pattern[str], ...] = ()
    deny: tuple[re.Pattern[str], ...] = ()
    since: datetime | None = None
    domains: tuple[str, ...] = ()

    @classmethod
    def from_args(
        cls,
        *,
        seeds: str | Iterable[str] | None = None,
        seeds_file: str | None = None,
        follow: object = None,
        max_pages: object = None,
        max_depth: object = None,
        allow: str | Iterable[str] | None = None,
        deny: str | Iterable[str] | None = None,
        since: object = None,
        domains: str | Iterable[str] | None = None,
        default_seeds: Iterable[str] = (),
    ) -> SpiderOptions:
        """Validate spider arguments; ``default_seeds`` are used when neither seeds nor a file is given."""
        urls = split_seeds(seeds)
        if seeds_file:
            urls += read_seeds_file(seeds_file)
        if not urls:
            urls = list(default_seeds)
        if not urls:
            raise ValueError(NO_SEEDS)
        return cls(
            seeds=tuple(dict.fromkeys(check_seeds(urls))),
            follow=_flag("follow", follow),
            max_pages=_count("max_pages", max_pages, 1),
            max_depth=_count("max_depth", max_depth, 0),
            allow=_regexes("allow", allow),
            deny=_regexes("deny", deny),
            since=parse_since(since),  # type: ignore[arg-type]
            domains=_domains(domains),
        )
