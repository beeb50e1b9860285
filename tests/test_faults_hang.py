"""A server that sends its headers and then stalls: the head (and whatever body arrived) is archived,
marked ``WARC-Truncated: time``, the run log says so in one line, and the crawl goes on; a server that
sends nothing before ``DOWNLOAD_TIMEOUT`` has nothing to archive and its failure is logged.

One real crawl (``crawler crawl`` process) of ``tests/misbehave.py`` with short limits; everything read back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.catalog import Catalog
from archive.reader import iter_records
from tests.misbehave import Misbehaving
from tests.test_faults_server import Crawl, run_crawl

# LIMITS_RESPONSE_TIME below DOWNLOAD_TIMEOUT, both below the server's stall (slow).
SETTINGS = {"DOWNLOAD_TIMEOUT": "3", "LIMITS_RESPONSE_TIME": "1.5", "RETRY_TIMES": "1", "EXTRACT_WORKERS": "1"}
SEEDS = ["hang-after-headers", "stall-mid-body", "slow-first-byte", "trickle", "ok"]


@pytest.fixture(scope="module")
def hang(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crawl]:
    tmp = tmp_path_factory.mktemp("hang")
    with Misbehaving(slow=6, trickle_interval=0.5) as server:
        crawl = run_crawl(server, [server.url(n) for n in SEEDS], tmp / "data", tmp, SETTINGS, timeout=120)
        assert crawl.proc.returncode == 0, crawl.proc.stderr[-3000:]
        yield crawl


def _log_lines(crawl: Crawl, needle: str) -> list[str]:
    return [line for line in crawl.log.splitlines() if needle in line]


def test_hang_after_headers_archives_the_head_marked_truncated(hang: Crawl) -> None:
    url = hang.server.url("hang-after-headers")
    rec = hang.responses()[url]
    assert rec.header("WARC-Truncated") == "time"
    assert rec.http_status == 200
    assert rec.http_header("Content-Length") == "5000"   # the head exactly as the server sent it
    assert rec.http_header("Content-Type") == "text/html; charset=utf-8"
    assert rec.raw_payload == b""
    assert hang.server.hits("/b/hang-after-headers") == 1  # cut, not retried
    (line,) = _log_lines(hang, f"truncated {url}")
    assert "no body byte 1.5 s after the headers" in line and "WARC-Truncated: time" in line
    assert f"Gave up retrying <GET {url}>" not in hang.log


def test_stall_mid_body_keeps_what_arrived(hang: Crawl) -> None:
    url = hang.server.url("stall-mid-body")
    rec = hang.responses()[url]
    assert rec.header("WARC-Truncated") == "time"
    length = int(rec.http_header("Content-Length") or 0)
    assert 0 < len(rec.raw_payload) < length
    assert b"The rest of this page never comes." in rec.raw_payload
    (line,) = _log_lines(hang, f"truncated {url}")
    assert f"only {len(rec.raw_payload)} of {length} body bytes" in line
    # The partial page still gets its record, pointing at the truncated capture.
    record = hang.records()[url]
    assert record["warc"]["record_id"] == rec.record_id
    assert "The rest of this page never comes." in record["text"]


def test_the_outcome_is_recorded_in_the_catalog_and_stats(hang: Crawl) -> None:
    with Catalog(hang.data_dir / "catalog.sqlite") as catalog:
        captured = {row["url"]: row for row in catalog.captures()}
        (run,) = catalog.runs()
    for name in ("hang-after-headers", "stall-mid-body", "trickle"):
        assert captured[hang.server.url(name)]["status"] == 200
    assert run["stats"]["limits/truncated/time"] == 3
    record = hang.records()[hang.server.url("hang-after-headers")]
    assert record["status"] == 200 and record["text"] == ""


def test_first_byte_after_the_timeout_has_nothing_to_archive(hang: Crawl) -> None:
    url = hang.server.url("slow-first-byte")
    assert url not in hang.responses() and url not in hang.records()
    assert hang.server.hits("/b/slow-first-byte") == 2       # RETRY_TIMES 1
    assert f"Gave up retrying <GET {url}>" in hang.log


def test_the_rest_goes_on_and_every_warc_reads(hang: Crawl) -> None:
    assert "finished: finished" in hang.proc.stdout
    assert "Nothing wrong here." in hang.records()[hang.server.url("ok")]["text"]
    for path in (hang.data_dir / "warc").glob("*.warc.gz"):
        assert sum(1 for _ in iter_records(path)) > 0
    for path in (hang.data_dir / "records").glob("*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            json.loads(line)


def test_trickle_is_cut_by_the_same_limit(hang: Crawl) -> None:
    rec = hang.responses()[hang.server.url("trickle")]
    assert rec.header("WARC-Truncated") == "time" and 0 < len(rec.raw_payload) < 50
    assert len(_log_lines(hang, f"truncated {hang.server.url('trickle')}")) == 1


def test_a_limit_above_the_download_timeout_is_warned_about(tmp_path: Path) -> None:
    with Misbehaving() as server:
        crawl = run_crawl(server, [server.url("ok")], tmp_path / "data", tmp_path,
                          {"DOWNLOAD_TIMEOUT": "3", "LIMITS_RESPONSE_TIME": "5"}, timeout=120)
    assert crawl.proc.returncode == 0, crawl.proc.stderr[-3000:]
    assert "LIMITS_RESPONSE_TIME (5 s) is not below DOWNLOAD_TIMEOUT (3 s)" in crawl.log
