"""crawler.sidecar: a real child process runs a function for the event loop; errors, a full pipe, a killed
child and closing. And the news spider's use of it: a page analysed in the helper process gives the same
item and requests as one analysed in the callback, also when the helper dies mid-page."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Iterable
from typing import Any, cast

import pytest
from scrapy.http import HtmlResponse, Request

from crawler.items import PageItem
from crawler.sidecar import Sidecar, SidecarError
from spiders.news import NewsSpider


def test_results_and_errors_come_back_through_the_event_loop() -> None:
    async def main() -> tuple[list[Any], str]:
        sidecar = Sidecar("operator:add", name="adder")
        sidecar.start()
        try:
            futures = [sidecar.submit(1, 2), sidecar.submit(b"ab", b"cd"), sidecar.submit("x", "y")]
            assert all(f is not None for f in futures)
            results = [await f for f in futures if f is not None]
            failing = sidecar.submit(1, "two")                 # TypeError in the child
            assert failing is not None
            with pytest.raises(SidecarError) as info:
                await failing
            assert sidecar.done == 4 and not sidecar.dead
            return results, str(info.value)
        finally:
            sidecar.close()

    results, error = asyncio.run(main())
    assert results == [3, b"abcd", "xy"]
    assert error.startswith("TypeError: unsupported operand")


def test_a_task_the_pipe_has_no_room_for_is_not_sent() -> None:
    async def main() -> None:
        sidecar = Sidecar("operator:add", capacity=4096)
        assert sidecar.submit(1, 2) is None                  # not started: nothing is sent
        sidecar.start()
        try:
            assert sidecar.submit(b"x" * 5000, b"") is None    # over the pipe's room: the caller does it
            small = sidecar.submit(b"x" * 1000, b"y")
            assert small is not None and await small == b"x" * 1000 + b"y"
        finally:
            sidecar.close()

    asyncio.run(main())


def test_a_killed_child_fails_its_pending_tasks_and_takes_no_more(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        sidecar = Sidecar("time:sleep", name="sleeper")
        sidecar.start()
        pending = sidecar.submit(30)
        assert pending is not None and sidecar.pid is not None
        os.kill(sidecar.pid, signal.SIGKILL)
        with pytest.raises(SidecarError, match="sleeper process stopped"):
            await asyncio.wait_for(pending, 20)
        assert sidecar.dead and not sidecar.running
        assert sidecar.submit(0) is None
        sidecar.close()

    with caplog.at_level(logging.ERROR, logger="crawler.sidecar"):
        asyncio.run(main())
    assert any("sleeper process stopped" in r.getMessage() and "1 pending task" in r.getMessage()
               for r in caplog.records)


def test_closing_waits_for_the_tasks_in_flight() -> None:
    async def main() -> None:
        sidecar = Sidecar("operator:mul")
        sidecar.start()
        futures = [sidecar.submit(n, n) for n in range(50)]
        process_pid = sidecar.pid
        sidecar.close()                                         # EOF: the child answers all, then exits
        assert [f.result() for f in futures if f is not None] == [n * n for n in range(50)]
        assert process_pid is not None and sidecar.pid is None and not sidecar.running

    asyncio.run(main())


# ----- the news spider with its analysis in the helper process --------------------------------------------

PAGE = b"""<!DOCTYPE html><html><head><title>Home</title>
<link rel="alternate" type="application/rss+xml" href="/feed.xml"></head><body>
<nav class="pagination"><a href="/world/2">2</a></nav>
<a href="/2021/04/14/story-a1">Story</a> <a href="https://www.example.com/world">World</a>
<a href="https://other.org/a">Elsewhere</a> <a href="/world?page=2" rel="next">2</a>
</body></html>"""


def _response(url: str = "https://www.example.com/") -> HtmlResponse:
    request = Request(url, meta={"depth": 0})
    return HtmlResponse(url=url, body=PAGE, headers={"Content-Type": "text/html; charset=utf-8"},
                        request=request)


def _summary(out: list[Any]) -> tuple[list[str], list[tuple[str, int]]]:
    kinds = [o.kind for o in out if isinstance(o, PageItem)]
    requests = [(o.url, o.meta.get("news_hops", -1)) for o in out if isinstance(o, Request)]
    return kinds, requests


async def _collect(result: Any) -> list[Any]:
    if hasattr(result, "__aiter__"):
        return [o async for o in result]
    return list(result)


@pytest.mark.parametrize("kill", [False, True], ids=["helper", "helper killed mid-page"])
def test_the_spider_gets_the_same_output_from_its_helper_process(kill: bool) -> None:
    inline = NewsSpider(seeds="https://www.example.com/").parse(_response())
    assert not hasattr(inline, "__aiter__")                      # no helper: analysed in the callback
    here = _summary(list(cast("Iterable[Any]", inline)))
    assert here[0] == ["page"] and ("https://www.example.com/2021/04/14/story-a1", 1) in here[1]

    async def main() -> tuple[list[Any], bool]:
        spider = NewsSpider(seeds="https://www.example.com/")
        spider._sidecar = Sidecar("spiders.analysis:analyze", name="page-analysis")
        spider._sidecar.start()
        try:
            result = spider.parse(_response())
            assert hasattr(result, "__aiter__")                 # the page went to the helper
            if kill:
                assert spider._sidecar.pid is not None
                os.kill(spider._sidecar.pid, signal.SIGKILL)
            return await _collect(result), spider._sidecar.dead
        finally:
            spider._sidecar.close()

    out, dead = asyncio.run(main())
    assert _summary(out) == here
    assert dead is kill


@pytest.mark.parametrize(("settings", "on"), [
    ({"SPIDER_ANALYSIS_PROCESS": "auto", "EXTRACT_ENABLED": True}, False),       # the pool has the cores
    ({"SPIDER_ANALYSIS_PROCESS": "auto", "EXTRACT_ENABLED": False}, (os.cpu_count() or 1) > 1),
    ({"SPIDER_ANALYSIS_PROCESS": "true", "EXTRACT_ENABLED": True}, True),
    ({"SPIDER_ANALYSIS_PROCESS": "False", "EXTRACT_ENABLED": False}, False),
])
def test_the_setting_decides_whether_the_spider_has_a_helper(settings: dict[str, Any], on: bool) -> None:
    from scrapy.utils.test import get_crawler

    spider = NewsSpider.from_crawler(get_crawler(NewsSpider, settings_dict=settings), seeds="https://a.example/")
    assert (spider._sidecar is not None) is on


def test_a_wrong_setting_value_is_named() -> None:
    from scrapy.utils.test import get_crawler

    crawler = get_crawler(NewsSpider, settings_dict={"SPIDER_ANALYSIS_PROCESS": "maybe"})
    with pytest.raises(ValueError, match="SPIDER_ANALYSIS_PROCESS must be auto, true or false, not 'maybe'"):
        NewsSpider.from_crawler(crawler, seeds="https://a.example/")
