"""One real crawl against every misbehaviour of ``tests/misbehave.py`` at once: the crawl goes on, each
outcome is recorded (JSON record, WARC record or the run's log), every WARC stays valid, memory stays
bounded with bombs and a 20 MB page in flight, and the crawl connects nowhere it was not asked to.

The crawl runs in its own process (``python -m crawler.cli crawl``) wrapped so that it reports its own peak
RSS and, through ``sitecustomize``, every address it resolves or connects to.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from archive.reader import iter_records, read_record
from archive.records import validate
from tests.misbehave import BEHAVIOURS, CYRILLIC_TEXT, UTF8_TEXT, Misbehaving

ROOT = Path(__file__).resolve().parents[1]

# Limits small enough for a test, in the same proportions as the defaults.
SETTINGS = {
    "DOWNLOAD_DELAY": "0",
    "AUTOTHROTTLE_ENABLED": "False",
    "DOWNLOAD_TIMEOUT": "6",
    "LIMITS_RESPONSE_TIME": "4",
    "LIMITS_MAX_BODY_SIZE": "21000000",
    "RETRY_TIMES": "1",
    "RETRY_AFTER_MAX_DELAY": "1",
    "EXTRACT_TIMEOUT": "5",
    "EXTRACT_WORKERS": "2",
    "INCREMENTAL_ENABLED": "False",
}

# Records the crawl process's DNS look-ups and connections (a PYTHONPATH entry; workers inherit it).
SITECUSTOMIZE = '''
import os, socket
_log = os.environ["NETLOG"]
def _note(kind, what):
    with open(_log, "a") as fh:
        fh.write(f"{kind} {what}\\n")
_connect, _connect_ex, _gai = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo
def connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _note("connect", f"{address[0]} {address[1]}")
    return _connect(self, address)
def connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _note("connect", f"{address[0]} {address[1]}")
    return _connect_ex(self, address)
def getaddrinfo(host, *args, **kwargs):
    _note("resolve", host)
    return _gai(host, *args, **kwargs)
socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = connect, connect_ex, getaddrinfo
'''

WRAPPER = """
import resource, runpy, sys
try:
    runpy.run_module("crawler.cli", run_name="__main__")
finally:
    print("MAXRSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""

SKIP_AS_SEED = {"redirect-to", "odd", "page", "private", "chain", "redirect-loop-back", "echo-headers"}


@dataclass
class Crawl:
    server: Misbehaving
    data_dir: Path
    proc: subprocess.CompletedProcess[str]
    netlog: list[str]

    @property
    def log(self) -> str:
        return "".join(p.read_text(encoding="utf-8") for p in (self.data_dir / "runs").glob("*.log"))

    @property
    def max_rss_mb(self) -> float:
        line = [x for x in self.proc.stderr.splitlines() if x.startswith("MAXRSS_KB")][-1]
        return int(line.split()[1]) / 1024

    def records(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for path in (self.data_dir / "records").glob("*.jsonl"):
            for line in path.read_text(encoding="utf-8").splitlines():
                rec = json.loads(line)
                out[rec["url"]] = rec
        return out

    def responses(self) -> dict[str, Any]:
        out = {}
        for path in sorted((self.data_dir / "warc").glob("*.warc.gz")):
            for rec in iter_records(path):
                if rec.rec_type == "response":
                    out[rec.target_uri] = rec
        return out


def run_crawl(server: Misbehaving, seeds: list[str], data_dir: Path, tmp: Path,
              settings: dict[str, str] | None = None, timeout: float = 180) -> Crawl:
    seeds_file = tmp / "seeds.txt"
    seeds_file.write_text("\n".join(seeds) + "\n")
    site_dir = tmp / "site"
    site_dir.mkdir(exist_ok=True)
    (site_dir / "sitecustomize.py").write_text(SITECUSTOMIZE)
    netlog = tmp / "net.log"
    args = ["crawl", "news", "--seeds-file", str(seeds_file), "--data-dir", str(data_dir)]
    for name, value in {**SETTINGS, **(settings or {})}.items():
        args += ["-s", f"{name}={value}"]
    import os

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site_dir), str(ROOT)]), "NETLOG": str(netlog)}
    proc = subprocess.run([sys.executable, "-c", WRAPPER, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)
    lines = netlog.read_text().splitlines() if netlog.exists() else []
    return Crawl(server, data_dir, proc, lines)


# Behaviours whose point is time (timeouts, trickle, Retry-After, which also slows the host's download
# slot): crawled with short time limits. The bombs go with them, so that crawl's peak memory is about
# bombs. Everything else (the 20 MB page, charsets, XML) is crawled in parallel with
# generous time limits, so that a busy machine does not cut the big pages short.
TIMED = ["slow-first-byte", "hang-after-headers", "trickle", "retry-after-seconds", "retry-after-date",
         "retry-after-huge", "persistent-500", "redirect-loop", "gzip-bomb", "deflate-bomb", "sitemap-bomb",
         "ok"]
TIMED_SETTINGS = {"DOWNLOAD_TIMEOUT": "6", "LIMITS_RESPONSE_TIME": "4"}
CONTENT_SETTINGS = {"DOWNLOAD_TIMEOUT": "180", "LIMITS_RESPONSE_TIME": "120"}


@pytest.fixture(scope="module")
def server() -> Iterator[Misbehaving]:
    with Misbehaving(slow=9, trickle_interval=0.5) as srv:
        yield srv


@pytest.fixture(scope="module")
def crawls(server: Misbehaving, tmp_path_factory: pytest.TempPathFactory) -> tuple[Crawl, Crawl]:
    from concurrent.futures import ThreadPoolExecutor

    timed_tmp, content_tmp = tmp_path_factory.mktemp("timed"), tmp_path_factory.mktemp("content")
    content = [server.url(n) for n in BEHAVIOURS if n not in SKIP_AS_SEED and n not in TIMED]
    content.append(server.url("chain") + "?n=25")
    with ThreadPoolExecutor(2) as pool:
        a = pool.submit(run_crawl, server, [server.url(n) for n in TIMED], timed_tmp / "data", timed_tmp,
                        TIMED_SETTINGS)
        b = pool.submit(run_crawl, server, content, content_tmp / "data", content_tmp, CONTENT_SETTINGS)
        results = (a.result(), b.result())
    for result in results:
        assert result.proc.returncode == 0, result.proc.stderr[-3000:]
    return results


@pytest.fixture(scope="module")
def timed(crawls: tuple[Crawl, Crawl]) -> Crawl:
    return crawls[0]


@pytest.fixture(scope="module")
def crawl(crawls: tuple[Crawl, Crawl]) -> Crawl:
    """The content crawl."""
    return crawls[1]


@pytest.fixture(scope="module", params=["timed", "content"])
def each(request: pytest.FixtureRequest, crawls: tuple[Crawl, Crawl]) -> Crawl:
    return crawls[0] if request.param == "timed" else crawls[1]


def test_crawl_finishes_and_every_warc_is_valid(each: Crawl) -> None:
    crawl = each
    assert "finished: finished" in crawl.proc.stdout
    warcs = sorted((crawl.data_dir / "warc").glob("*.warc.gz"))
    assert warcs and not list((crawl.data_dir / "warc").glob("*.open"))
    for path in warcs:
        check = subprocess.run([sys.executable, "-m", "warcio.cli", "check", str(path)], capture_output=True,
                               text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        assert sum(1 for _ in iter_records(path)) > 0


def test_every_record_validates_and_points_at_its_response(each: Crawl) -> None:
    crawl = each
    records = crawl.records()
    assert records
    for rec in records.values():
        validate(rec)
        w = rec["warc"]
        archived = read_record(crawl.data_dir / "warc" / w["filename"], w["offset"], w["length"])
        assert archived.record_id == w["record_id"] and archived.target_uri == rec["url"]


def test_memory_stays_bounded_with_bombs_in_flight(timed: Crawl) -> None:
    # Two 1 GiB bombs and a 1 GiB gzip sitemap went through this crawl; with Scrapy's default DOWNLOAD_MAXSIZE each bomb alone could take 1 GiB.
    assert timed.max_rss_mb < 350, f"crawl peaked at {timed.max_rss_mb:.0f} MB"


def test_memory_with_a_20_mb_page_and_hostile_html(crawl: Crawl) -> None:
    # Was dominated by the spider's lxml tree of the 20 MB page (about 500 MB for 200,000 small elements);
    # crawler.pagetree bounds it now (tests/test_faults_memory.py). A regression guard, not a target.
    assert crawl.max_rss_mb < 1000, f"crawl peaked at {crawl.max_rss_mb:.0f} MB"


def test_no_connection_or_lookup_anywhere_else(each: Crawl) -> None:
    crawl = each
    # tldextract (bundled suffix list), Scrapy's telnet/cookies/etc.: nothing but the server itself.
    assert crawl.netlog, "the network log is empty: sitecustomize was not loaded"
    for line in crawl.netlog:
        kind, where, *port = line.split(" ")
        assert where in ("127.0.0.1", "localhost"), line
        assert kind == "resolve" or int(port[0]) == crawl.server.port, line


def test_timeouts_are_logged_and_the_rest_goes_on(timed: Crawl) -> None:
    name = "slow-first-byte"  # nothing arrived: nothing to archive (a hang after headers: tests/test_faults_hang.py)
    assert f"Gave up retrying <GET {timed.server.url(name)}>" in timed.log
    assert timed.server.url(name) not in timed.records()
    assert timed.responses()[timed.server.url("hang-after-headers")].header("WARC-Truncated") == "time"
    assert timed.server.url("ok") in timed.records()


def test_trickle_is_cut_by_the_wall_clock_limit_and_marked(timed: Crawl) -> None:
    rec = timed.responses()[timed.server.url("trickle")]
    assert rec.header("WARC-Truncated") == "time"
    assert 0 < len(rec.raw_payload) < 200  # a few bytes at 2 per second, not the whole page
    assert f"truncated {timed.server.url('trickle')}" in timed.log


@pytest.mark.parametrize("name", ["reset-mid-body", "cl-too-large", "broken-chunked"])
def test_short_bodies_are_archived_and_marked_truncated(crawl: Crawl, name: str) -> None:
    rec = crawl.responses()[crawl.server.url(name)]
    assert rec.header("WARC-Truncated") == "length"
    assert rec.raw_payload  # what arrived is kept
    assert crawl.server.url(name) in crawl.records()


def test_body_longer_than_its_content_length_is_cut_at_the_length(crawl: Crawl) -> None:
    rec = crawl.responses()[crawl.server.url("cl-too-small")]
    assert len(rec.raw_payload) == 120


def test_too_big_body_is_kept_truncated_to_the_limit(crawl: Crawl) -> None:
    rec = crawl.responses()[crawl.server.url("too-big")]
    assert rec.header("WARC-Truncated") == "length"
    assert 21_000_000 <= len(rec.raw_payload) < 22_000_000


@pytest.mark.parametrize("name", ["gzip-bomb", "deflate-bomb"])
def test_bombs_are_archived_raw_and_not_inflated_past_the_limit(timed: Crawl, name: str) -> None:
    rec = timed.responses()[timed.server.url(name)]
    assert len(rec.raw_payload) < 2_000_000  # the compressed bytes as received
    assert f"Ignored response <200 {timed.server.url(name)}>" in timed.log
    assert "exceeded DOWNLOAD_MAXSIZE" in timed.log
    assert timed.server.url(name) not in timed.records()


def test_broken_gzip(crawl: Crawl) -> None:
    records = crawl.records()
    # plain bytes labelled gzip: archived as received, used as they are (crawler.redirects), said in the log
    assert crawl.server.url("gzip-plain") in crawl.responses()
    assert f"content decoding failed for {crawl.server.url('gzip-plain')}: labelled Content-Encoding: gzip" in crawl.log
    assert "Declared gzip, sent plain." in records[crawl.server.url("gzip-plain")]["text"]
    # a truncated gzip stream: what inflates is used
    assert "Paragraph 0 of the story" in records[crawl.server.url("gzip-truncated")]["text"]
    assert "Compressed the normal way." in records[crawl.server.url("gzip-ok")]["text"]


def test_huge_page_is_archived_whole_and_extraction_is_time_boxed(crawl: Crawl) -> None:
    url = crawl.server.url("huge-page")
    rec = crawl.responses()[url]
    assert rec.header("WARC-Truncated") is None and len(rec.raw_payload) >= 19_000_000
    record = crawl.records()[url]
    # Either trafilatura managed within EXTRACT_TIMEOUT or the record says it gave up; never a stall. Over
    # EXTRACT_MAX_SIZE (the default 8 MiB) the page is not sent to a worker at all (tests/test_faults_memory.py).
    error = record["extraction_error"] or ""
    assert record["text"] or "timed out" in error or "page too large to extract" in error


@pytest.mark.parametrize("name", ["deep-nesting", "big-text-node", "nul-page", "empty-200"])
def test_hostile_html_gets_a_record(crawl: Crawl, name: str) -> None:
    rec = crawl.records()[crawl.server.url(name)]
    assert rec["status"] == 200
    assert crawl.responses()[crawl.server.url(name)].header("WARC-Truncated") is None


def test_204_is_archived_without_a_record(crawl: Crawl) -> None:
    assert crawl.responses()[crawl.server.url("no-content-204")].http_status == 204
    assert crawl.server.url("no-content-204") not in crawl.records()


@pytest.mark.parametrize(("name", "text"), [
    ("windows-1251", CYRILLIC_TEXT),
    ("meta-contradicts-header", CYRILLIC_TEXT),   # the header wins, as in browsers (HTML5 encoding sniffing)
    ("utf16-bom", UTF8_TEXT),
    ("utf8-as-latin1", UTF8_TEXT),                # crawler.charset reads mislabelled UTF-8 as UTF-8
])
def test_charsets_decode_to_the_right_text(crawl: Crawl, name: str, text: str) -> None:
    assert text in crawl.records()[crawl.server.url(name)]["text"]


def test_mislabelled_page_is_archived_as_sent(crawl: Crawl) -> None:
    rec = crawl.responses()[crawl.server.url("utf8-as-latin1")]
    assert rec.http_header("Content-Type") == "text/html; charset=ISO-8859-1"
    assert UTF8_TEXT.encode("utf-8") in rec.raw_payload


def test_invalid_utf8_decodes_the_rest_with_replacement_characters(crawl: Crawl) -> None:
    text = crawl.records()[crawl.server.url("invalid-utf8")]["text"]
    assert UTF8_TEXT in text and "\ufffd" in text


def test_retry_after_is_honoured_in_both_forms_and_capped(timed: Crawl) -> None:
    for name in ("retry-after-seconds", "retry-after-date", "retry-after-huge"):
        assert timed.server.hits(f"/b/{name}") == 2
        assert "Served once the client waited." in timed.records()[timed.server.url(name)]["text"]
    assert "retry-after-huge answered 503, retrying after 1 s" in timed.log  # 86400 s capped


def test_persistent_500_is_retried_then_given_up(timed: Crawl) -> None:
    assert timed.server.hits("/b/persistent-500") == 2
    assert timed.responses()[timed.server.url("persistent-500")].http_status == 500
    assert f"Gave up retrying <GET {timed.server.url('persistent-500')}>" in timed.log


def test_sitemap_bomb_is_refused_before_parsing(timed: Crawl) -> None:
    assert not any("sitemap-bomb-target" in p for p in timed.server.paths())
    assert f"skipping {timed.server.url('sitemap-bomb')}: gzip body too large" in timed.log


def test_redirect_loop_and_long_chain_end(crawl: Crawl) -> None:
    assert crawl.server.hits("/b/redirect-loop") <= 3
    hops = [p for p in crawl.server.paths() if p.startswith("/b/chain")]
    assert 1 < len(hops) <= 21  # REDIRECT_MAX_TIMES (20) stops the 25-hop chain
    assert crawl.server.url("chain") + "?n=0" not in crawl.records()


def test_non_html_is_archived_but_never_extracted(crawl: Crawl) -> None:
    for name in ("pdf", "image", "octet-stream"):
        assert crawl.server.url(name) in crawl.responses()
        assert crawl.server.url(name) not in crawl.records()


def test_hostile_xml_is_not_expanded(crawl: Crawl) -> None:
    paths = crawl.server.paths()
    assert not any("root:" in p or "lollol" in p for p in paths)
    assert crawl.server.hits("/b/sitemap-self-index") == 1  # an index listing itself is not re-fetched
