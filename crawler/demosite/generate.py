"""The demo site's content: articles generated from word lists by a seeded RNG, and their ground truth.

Same ``count``, ``seed`` and ``layout`` give the same articles; nothing here knows the base URL or HTML
(that is ``crawler.demosite.render``). Stdlib only.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone


@dataclass(frozen=True)
class Layout:
    """What differs between the generic demo site and the Moscow Times look-alike."""

    name: str
    sections: tuple[str, ...]
    first_id: int
    tz: timezone
    sitemap: str             # sitemap index path (robots.txt points to it)
    sitemap_dir: str         # where the child sitemaps live


LAYOUTS = {
    "demo": Layout("Demo Times", ("world", "business", "culture"), 41234, timezone(timedelta(hours=1)),
                   "/sitemap.xml", "/sitemaps"),
    "moscowtimes": Layout("The Moscow Times", ("news", "opinion", "business"), 73596,
                          timezone(timedelta(hours=3)), "/sitemap/sitemap.xml", "/sitemap"),
}
FIRST = "Jane John Anna Sergei Olga Ivan Maria Alexei Elena Pyotr Irina Yulia Mikhail Dmitry".split()
LAST = "Doe Roe Ivanova Smirnov Volkova Kuznetsov Popova Sokolov Lebedeva Morozov Orlova Pavlov".split()
AGENCIES = ("AFP", "Reuters", "AP", "Interfax")
PLACES = "Moscow|Kyiv|Yerevan|Tbilisi|Kazan|Almaty|Berlin|Ankara|Vienna|Riga|Baku|Minsk".split("|")
COUNTRIES = "Armenia|Russia|Georgia|Turkey|Germany|France|Kazakhstan|Moldova|China|Finland|Latvia".split("|")
ORGS = ("the Kremlin|the Foreign Ministry|the Central Bank|the State Duma|the European Union|NATO|"
        "the United Nations|the Supreme Court|the city council|the Health Ministry|Gazprom").split("|")
ROLES = "spokesman minister analyst lawmaker economist governor official activist researcher".split()
NOUNS = ("deployment|sanctions package|pipeline|election|budget|investigation|agreement|price cap|export ban|"
         "court ruling|border deal|reform|ceasefire|harvest|festival|museum|tariff|strike|summit|treaty").split("|")
ADJ = "new major regional federal controversial annual foreign local military economic record modest".split()
VPAST = "announced rejected approved criticized welcomed postponed expanded proposed signed blocked".split()
VBASE = "boost weaken delay reshape threaten protect expand limit undermine support".split()
HVERB = "Says Wants Seeks Plans Warns Rejects Backs Eyes Weighs Bans".split()
WHEN = ("on Monday|on Tuesday|on Wednesday|on Thursday|on Friday|over the weekend|last week|"
        "earlier this month|late on Sunday").split("|")
TAGS = ("economy", "diplomacy", "energy", "elections", "arts", "courts", "climate", "sanctions")
BASE_DATE = datetime(2021, 4, 14, 18, 30)


@dataclass(frozen=True)
class Article:
    """One article as stored by the site (internal; tests read ``ArticleTruth``)."""

    id: int
    slug: str
    title: str
    authors: tuple[str, ...]
    author_is_org: bool
    published: datetime
    modified: datetime
    section: str            # section path segment, e.g. "world"
    paragraphs: tuple[str, ...]
    description: str
    keywords: tuple[str, ...]
    markup: str             # "full" (og + JSON-LD) | "og" (og, no JSON-LD) | "plain" (<article> + byline only)

    @property
    def path(self) -> str:
        return f"/{self.published:%Y/%m/%d}/{self.slug}-a{self.id}"


@dataclass(frozen=True)
class ArticleTruth:
    """What a perfect crawler + extractor should get for one article."""

    id: int
    url: str                 # absolute, as in the canonical link
    path: str
    title: str               # headline, without " - Site Name"
    authors: list[str]       # lists (not tuples) so they compare equal to JSON records
    published: str           # ISO 8601 with offset
    modified: str
    text: str                # the body paragraphs joined by "\n"
    section: str             # label, e.g. "World"
    description: str
    keywords: list[str]
    image: str
    site_name: str
    markup: str
    has_og: bool
    has_jsonld: bool


def section_label(section: str) -> str:
    return section.replace("-", " ").title()


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _a(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


class TextGenerator:
    """Headlines and sentences that never repeat within one site."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self._seen: set[str] = set()

    def _person(self) -> str:
        return f"{self.rng.choice(FIRST)} {self.rng.choice(LAST)}"

    def _unique(self, make: Callable[[], str]) -> str:
        for _ in range(1000):
            text = make()
            if text not in self._seen:
                self._seen.add(text)
                return text
        raise RuntimeError("demo site word lists exhausted: lower the article count or add words")

    def headline(self) -> str:
        r = self.rng
        return self._unique(lambda: f"{r.choice(COUNTRIES)} {r.choice(HVERB)} {r.choice(ADJ).title()} "
                                    f"{r.choice(NOUNS).title()} in {r.choice(PLACES)}")

    def sentence(self) -> str:
        r = self.rng
        templates = [
            lambda: f"{_upper_first(r.choice(ORGS))} {r.choice(VPAST)} the {r.choice(ADJ)} {r.choice(NOUNS)} "
                    f"{r.choice(WHEN)}, according to {self._person()}, {_a(r.choice(ROLES))} in {r.choice(PLACES)}.",
            lambda: f"The {r.choice(NOUNS)} could {r.choice(VBASE)} {r.choice(ORGS)}'s plans for "
                    f"{r.choice(COUNTRIES)}, {self._person()} said.",
            lambda: f"{self._person()}, {_a(r.choice(ROLES))}, said {r.choice(COUNTRIES)} would {r.choice(VBASE)} "
                    f"the {r.choice(ADJ)} {r.choice(NOUNS)} by {r.randint(2022, 2030)}.",
            lambda: f"Officials in {r.choice(PLACES)} {r.choice(VPAST)} {_a(r.choice(ADJ))} {r.choice(NOUNS)} "
                    f"{r.choice(WHEN)} after {r.randint(3, 90)} days of talks.",
            lambda: f"Analysts expect the {r.choice(NOUNS)} to {r.choice(VBASE)} trade between "
                    f"{' and '.join(r.sample(COUNTRIES, 2))} by {r.randint(2, 40)} percent.",
        ]
        return self._unique(lambda: r.choice(templates)())

    def paragraph(self) -> str:
        return " ".join(self.sentence() for _ in range(self.rng.randint(2, 4)))

    def article(self, index: int, article_id: int, published: datetime, sections: tuple[str, ...]) -> Article:
        r = self.rng
        title = self.headline()
        kind = r.random()
        authors: tuple[str, ...]
        if kind < 0.25:
            authors, is_org = (r.choice(AGENCIES),), True
        elif kind < 0.5:
            authors, is_org = (self._person(), self._person()), False
        else:
            authors, is_org = (self._person(),), False
        modified = published + timedelta(minutes=r.choice([0, 0, 25, 90]))
        return Article(
            id=article_id, slug=slugify(title), title=title, authors=authors, author_is_org=is_org,
            published=published, modified=modified, section=sections[index % len(sections)],
            paragraphs=tuple(self.paragraph() for _ in range(r.randint(4, 10))),
            description=self.sentence(), keywords=tuple(sorted(r.sample(TAGS, r.randint(1, 3)))),
            markup="og" if index % 10 == 3 else "plain" if index % 10 == 7 else "full",
        )


def generate_articles(count: int, seed: int, layout: str) -> tuple[TextGenerator, list[Article]]:
    """The initial articles, newest first, with dates going back from 2021-04-14."""
    conf = LAYOUTS[layout]
    gen = TextGenerator(seed)
    articles = []
    when = BASE_DATE.replace(tzinfo=conf.tz)
    for i in range(count):
        articles.append(gen.article(i, conf.first_id - 7 * i, when, conf.sections))
        when -= timedelta(hours=gen.rng.randint(5, 14), minutes=gen.rng.randint(0, 59))
    return gen, articles
