"""HTTP-level faults whose outcome must be clear (issue 6), in one real crawl of the misbehaving server:
a redirect loop and a 25-hop chain (one WARNING line each naming the URL and why, every hop archived),
a plain body labelled gzip (used as it is, with a line saying so) and a Retry-After slowdown that ends
(the host's download slot goes back to its delay once the retry succeeded)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from archive.reader import iter_records
from tests.misbehave import Misbehaving
from tests.test_faults_server import Crawl, run_crawl

SEEDS = ["redirect-loop", "chain?n=25", "gzip-plain", "gzip-corrupt", "retry-after-then-links", "gzip-ok"]
SETTINGS = {"DOWNLOAD_TIMEOUT": "60", "LIMITS_RESPONSE_TIME": "30", "RETRY_AFTER_MAX_DELAY": "1"}


@pytest.fixture(scope="module")
def crawl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crawl]:
    tmp = tmp_path_factory.mktemp("redirects")
    # A second host (its own download slot) whose retry after a Retry-After fails with a reset.
    with Misbehaving() as server, Misbehaving(host="127.0.0.2") as other:
        seeds = [server.url(n) for n in SEEDS] + [other.url("retry-after-then-reset")]
        result = run_crawl(server, seeds, tmp / "data", tmp, SETTINGS)
        assert result.proc.returncode == 0, result.proc.stderr[-3000:]
        yield result


def _stats(crawl: Crawl) -> dict[str, Any]:
    from archive.catalog import Catalog

    with Catalog(crawl.data_dir / "catalog.sqlite") as catalog:
        stats: dict[str, Any] = catalog.runs()[0]["stats"]
    return stats


def _archived(crawl: Crawl) -> list[str]:
    """Target URIs of every response record, in WARC order (hops included)."""
    return [rec.target_uri or "" for path in sorted((crawl.data_dir / "warc").glob("*.warc.gz"))
            for rec in iter_records(path) if rec.rec_type == "response"]


def test_crawl_finishes_and_every_warc_is_valid(crawl: Crawl) -> None:
    assert "finished: finished" in crawl.proc.stdout
    for path in sorted((crawl.data_dir / "warc").glob("*.warc.gz")):
        check = subprocess.run([sys.executable, "-m", "warcio.cli", "check", str(path)], capture_output=True,
                               text=True)
        assert check.returncode == 0, check.stdout + check.stderr


def test_redirect_loop_is_one_clear_line_and_both_hops_are_archived(crawl: Crawl) -> None:
    loop, back = crawl.server.url("redirect-loop"), crawl.server.url("redirect-loop-back")
    assert f"redirect loop: {back} redirects back to {loop} ({loop} -> {back} -> {loop})" in crawl.log
    assert crawl.server.hits("/b/redirect-loop") == 1 and crawl.server.hits("/b/redirect-loop-back") == 1
    archived = _archived(crawl)
    assert loop in archived and back in archived
    assert _stats(crawl)["redirect/loop"] == 1


def test_chain_longer_than_20_hops_is_one_clear_line_and_each_hop_is_archived(crawl: Crawl) -> None:
    base = crawl.server.url("chain")
    # hops n=25 .. n=5 are fetched (the seed and 20 redirects); the 21st redirect is not followed
    assert f"redirect chain longer than 20 hops: {base}?n=5 (from {base}?n=25)" in crawl.log
    archived = _archived(crawl)
    for n in range(5, 26):
        assert archived.count(f"{base}?n={n}") >= 1, n
    assert f"{base}?n=4" not in archived
    assert f"{base}?n=0" not in crawl.records()
    assert _stats(crawl)["redirect/too_long"] == 1


def test_plain_body_labelled_gzip_is_used_as_it_is_and_said_so(crawl: Crawl) -> None:
    url = crawl.server.url("gzip-plain")
    assert (f"content decoding failed for {url}: labelled Content-Encoding: gzip but the body is not gzip data"
            in crawl.log)
    assert f"Error downloading <GET {url}>" not in crawl.log
    assert "Declared gzip, sent plain." in crawl.records()[url]["text"]
    rec = crawl.responses()[url]
    assert rec.http_header("Content-Encoding") == "gzip"       # archived as received
    assert _stats(crawl)["contentcoding/identity_fallback"] == 1
    assert "Compressed the normal way." in crawl.records()[crawl.server.url("gzip-ok")]["text"]


def test_undecodable_gzip_is_one_clear_line_archived_without_a_record(crawl: Crawl) -> None:
    url = crawl.server.url("gzip-corrupt")
    line = next(ln for ln in crawl.log.splitlines() if f"content decoding failed for {url}" in ln)
    assert "WARNING" in line and "raw bytes archived, no record" in line
    assert f"Error downloading <GET {url}>" not in crawl.log         # no traceback for it
    assert crawl.responses()[url].raw_payload.startswith(b"\x1f\x8b")
    assert url not in crawl.records()
    assert _stats(crawl)["contentcoding/failed"] == 1


def test_retry_after_slowdown_ends_once_the_retry_succeeded(crawl: Crawl) -> None:
    stats = _stats(crawl)
    assert stats["politeness/retry_after"] == 2            # one per host
    assert stats["politeness/retry_after_ended"] == 2
    assert stats["politeness/slots_slowed"] == 0
    # The slot (host 127.0.0.1, DOWNLOAD_DELAY 0) went back to 0 s when the retried page arrived, before the
    # spider saw the links on it: the four pages it links to were fetched at the normal pace.
    assert "127.0.0.1: Retry-After slowdown over, download delay back to 0 s" in crawl.log
    records = crawl.records()
    for i in range(4):
        assert f"{crawl.server.base_url}/b/page/after-wait-{i}" in records
    assert crawl.server.hits("/b/retry-after-then-links") == 2


# --- the middlewares in-process (no crawl): Scrapy's behaviour kept, the loop and the limit said ----------

def _redirected(mw: Any, request: Any, location: str) -> Any:
    from scrapy.http import Response

    return mw.process_response(request, Response(request.url, status=302, headers={"Location": location}))


def test_redirect_middleware_follows_a_chain_and_stops_a_loop(caplog: pytest.LogCaptureFixture) -> None:
    from scrapy import Request
    from scrapy.exceptions import IgnoreRequest
    from scrapy.utils.test import get_crawler

    from crawler.redirects import RedirectMiddleware

    mw = RedirectMiddleware.from_crawler(get_crawler(settings_dict={"REDIRECT_MAX_TIMES": 3}))
    first = Request("http://a.example/1")
    second = _redirected(mw, first, "/2")
    assert isinstance(second, Request) and second.url == "http://a.example/2"
    third = _redirected(mw, second, "http://b.example/3")          # another host: not a loop
    assert isinstance(third, Request)
    with pytest.raises(IgnoreRequest, match="redirect loop"):
        _redirected(mw, third, "http://a.example/1")
    assert "redirect loop: http://b.example/3 redirects back to http://a.example/1" in caplog.text
    fourth = _redirected(mw, third, "/4")
    with pytest.raises(IgnoreRequest):
        _redirected(mw, fourth, "/5")                              # the 4th redirect, over the limit of 3
    assert "redirect chain longer than 3 hops: http://b.example/4 (from http://a.example/1)" in caplog.text


def test_meta_refresh_loop_is_said_too(caplog: pytest.LogCaptureFixture) -> None:
    from scrapy import Request
    from scrapy.exceptions import IgnoreRequest
    from scrapy.http import HtmlResponse
    from scrapy.utils.test import get_crawler

    from crawler.redirects import MetaRefreshMiddleware

    mw = MetaRefreshMiddleware.from_crawler(get_crawler())
    page = b'<html><head><meta http-equiv="refresh" content="0; url=/b"></head></html>'
    back = b'<html><head><meta http-equiv="refresh" content="0; url=/a"></head></html>'
    a = Request("http://a.example/a")
    b = mw.process_response(a, HtmlResponse(a.url, body=page))
    assert isinstance(b, Request) and b.url == "http://a.example/b"
    with pytest.raises(IgnoreRequest, match="redirect loop"):
        mw.process_response(b, HtmlResponse(b.url, body=back))
    assert "redirect loop: http://a.example/b redirects back to http://a.example/a" in caplog.text


@pytest.mark.parametrize(("body", "encoding", "follows"), [
    (b'<html><head><META HTTP-EQUIV="Refresh" CONTENT="0; URL=/b"></head></html>', "utf-8", True),
    ('<html><head><meta http-equiv="refresh" content="0; url=/b"></head></html>'.encode("utf-16"),
     "utf-16", True),                                            # no ASCII bytes to look for: parsed
    (b"<html><head><title>no refresh here</title></head><body>" + b"x" * 20000 + b"</body></html>",
     "utf-8", False),
    (b"<html><head><title>t</title></head><body>" + b"x" * 20000
     + b'<meta http-equiv="refresh" content="0; url=/b"></body></html>', "utf-8", False),  # past 4,096 chars
])
def test_meta_refresh_is_looked_for_where_scrapy_looks(body: bytes, encoding: str, follows: bool) -> None:
    from scrapy import Request
    from scrapy.http import HtmlResponse
    from scrapy.utils.test import get_crawler

    from crawler.redirects import MetaRefreshMiddleware

    mw = MetaRefreshMiddleware.from_crawler(get_crawler())
    request = Request("http://a.example/a")
    response = HtmlResponse(request.url, body=body, encoding=encoding)
    out = mw.process_response(request, response)
    if follows:   # (for UTF-16, w3lib encodes the URL in the page's encoding: Scrapy's own result)
        assert isinstance(out, Request) and out.url.startswith("http://a.example/b")
    else:
        assert out is response


def test_retry_after_slowdown_ends_when_the_retry_fails_too(crawl: Crawl) -> None:
    # 127.0.0.2 answered 503 + Retry-After, then reset the connection of the retry: no answer, and the
    # slot is back to its delay all the same (RETRY_TIMES 1: the crawl then gives the page up).
    assert "127.0.0.2: Retry-After slowdown over, download delay back to 0 s" in crawl.log
    assert "Gave up retrying <GET http://127.0.0.2:" in crawl.log
