"""robots.txt per RFC 9309 (crawler.robots), each case a real crawl against tests/misbehave.py:
4xx allows everything, 5xx or an unreachable robots.txt disallows everything and is tried again later, a
disallowed page is never fetched, and a 10 MB robots.txt is parsed to at least 500 KiB."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from crawler.robots import cut_robots
from tests.misbehave import Misbehaving
from tests.test_faults_server import Crawl, run_crawl

SETTINGS = {"RETRY_TIMES": "0", "ROBOTSTXT_RETRY_DELAY": "0.5", "ROBOTSTXT_RETRY_TIMES": "1",
            "DOWNLOAD_TIMEOUT": "10", "EXTRACT_WORKERS": "1"}
MODES = {"404": {}, "401": {}, "500": {}, "unreachable": {}, "500-then-ok": {"robots_failures": 1},
         "huge": {}, "disallow": {}}


def test_cut_robots_keeps_whole_lines() -> None:
    body = b"User-agent: *\nDisallow: /a\nDisallow: /bbbbbbbb\n"
    assert cut_robots(body, 30) == b"User-agent: *\nDisallow: /a\n"
    assert cut_robots(body, 0) == body and cut_robots(body, 1000) == body


@pytest.fixture(scope="module")
def crawls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Crawl]]:
    servers = {mode: Misbehaving(robots=mode, **params).start() for mode, params in MODES.items()}  # type: ignore[arg-type]
    try:
        def crawl(mode: str) -> tuple[str, Crawl]:
            srv = servers[mode]
            tmp = tmp_path_factory.mktemp(f"robots-{mode}")
            seeds = [srv.url("page") + "/1", srv.url("page") + "/2", srv.url("private")]
            return mode, run_crawl(srv, seeds, tmp / "data", tmp, SETTINGS)

        with ThreadPoolExecutor(3) as pool:
            yield dict(pool.map(crawl, MODES))
    finally:
        for srv in servers.values():
            srv.stop()


def fetched(crawl: Crawl) -> set[str]:
    return {p for p in crawl.server.paths() if p != "/robots.txt"}


@pytest.mark.parametrize("mode", ["404", "401"])
def test_4xx_robots_allows_everything(crawls: dict[str, Crawl], mode: str) -> None:
    assert fetched(crawls[mode]) == {"/b/page/1", "/b/page/2", "/b/private"}


@pytest.mark.parametrize("mode", ["500", "unreachable"])
def test_5xx_or_unreachable_robots_disallows_everything_after_retrying(crawls: dict[str, Crawl], mode: str) -> None:
    crawl = crawls[mode]
    assert fetched(crawl) == set()
    assert crawl.server.hits("/robots.txt") >= 2  # tried again after ROBOTSTXT_RETRY_DELAY
    assert "unreachable" in crawl.log and "not crawling that host (RFC 9309)" in crawl.log


def test_robots_that_recovers_lets_the_waiting_pages_through(crawls: dict[str, Crawl]) -> None:
    crawl = crawls["500-then-ok"]
    assert fetched(crawl) == {"/b/page/1", "/b/page/2"}  # /b/private is disallowed by the good robots.txt
    assert crawl.server.hits("/robots.txt") >= 2


@pytest.mark.parametrize("mode", ["disallow", "huge"])
def test_disallowed_page_is_never_fetched(crawls: dict[str, Crawl], mode: str) -> None:
    crawl = crawls[mode]
    assert "/b/private" not in fetched(crawl)
    assert {"/b/page/1", "/b/page/2"} <= fetched(crawl)


def test_huge_robots_is_parsed_to_its_limit(crawls: dict[str, Crawl]) -> None:
    crawl = crawls["huge"]
    import re

    parsed = re.search(r"parsed its first (\d+) \(ROBOTSTXT_MAX_SIZE\)", crawl.log)
    assert parsed and 500 * 1024 <= int(parsed.group(1)) <= 512 * 1024  # cut at a line end
    robots = crawl.responses()[crawl.server.base_url + "/robots.txt"]
    assert len(robots.raw_payload) > 10_000_000  # archived whole


def test_every_robots_response_is_archived(crawls: dict[str, Crawl]) -> None:
    for mode in ("404", "500", "500-then-ok"):
        crawl = crawls[mode]
        assert crawl.server.base_url + "/robots.txt" in crawl.responses()


def test_no_robots_response_leaves_a_crawl_hanging(crawls: dict[str, Crawl]) -> None:
    for crawl in crawls.values():
        assert "finished: finished" in crawl.proc.stdout or "nothing could be fetched" in crawl.proc.stderr


def test_robots_fetch_is_retried_on_its_own_schedule_only(tmp_path: Path) -> None:
    """ROBOTSTXT_RETRY_TIMES=1: robots.txt is fetched twice in all, with RetryMiddleware on (RETRY_TIMES=2
    made each of those attempts three requests)."""
    with Misbehaving(robots="500") as srv:
        crawl = run_crawl(srv, [srv.url("page") + "/1"], tmp_path / "data", tmp_path,
                          {**SETTINGS, "RETRY_TIMES": "2"})
    assert fetched(crawl) == set()
    assert "not crawling that host (RFC 9309)" in crawl.log
    assert crawl.server.hits("/robots.txt") == 2
    # nothing but robots.txt was fetched: the crawl failed, and says why in one line
    assert crawl.proc.returncode == 1
    assert "crawler: error: nothing could be fetched: robots.txt kept answering with a server error" in crawl.proc.stderr
