"""Shared fixtures. Add new fixtures at the end of the file, under their own heading."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from crawler.demosite import RunningServer, Site, serve

# ----- the demo news site (crawler.demosite) ------------------------------------------------------------


@pytest.fixture(scope="session")
def demo_site() -> Iterator[RunningServer]:
    """The default demo site (30 articles, layout "demo"), shared by the session: do not mutate it.
    ``.base_url``, ``.truth``, ``.disallowed_urls``, ``.requests``; see ``crawler.demosite``."""
    with serve(Site()) as server:
        yield server


@pytest.fixture
def demo_site_clean(demo_site: RunningServer) -> RunningServer:
    """The shared demo site with its request log emptied, for tests that assert on what was fetched."""
    demo_site.clear_requests()
    return demo_site


@pytest.fixture(scope="session")
def moscow_site() -> Iterator[RunningServer]:
    """The demo site in the Moscow Times layout (/news, /opinion, /business; /sitemap/sitemap.xml)."""
    with serve(Site(layout="moscowtimes")) as server:
        yield server


@pytest.fixture
def fresh_site() -> Iterator[Callable[..., RunningServer]]:
    """A factory for private demo sites that a test may mutate: ``fresh_site(articles=10, layout=...)``.
    Every site it starts is stopped after the test."""
    started: list[RunningServer] = []

    def start(**params: object) -> RunningServer:
        server = serve(Site(**params))  # type: ignore[arg-type]
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
