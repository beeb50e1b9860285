"""The CDXJ index built while writing (``archive.cdxj.LiveIndex``) equals, byte for byte, the index
``crawler index`` rebuilds from the WARC files: for odd records written directly, and for real crawls of
the demo site (redirects, 404s, robots.txt, roll-over, both kinds of revisit, a killed crawl's file).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from archive.cdxj import LiveIndex, index_path, read_index
from archive.reader import ArchiveError, iter_records
from archive.writer import HttpExchange, WarcLocation, WarcWriter, WrittenRecord, sha1_digest
from crawler.cli import main

FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "--no-extract"]
WHEN = datetime(2026, 11, 27, 11, 22, 33, tzinfo=UTC)


def exchange(url: str, status: int = 200, headers: list[tuple[str, str]] | None = None, body: bytes = b"<p>x</p>",
             **extra: Any) -> HttpExchange:
    return HttpExchange(url=url, date=extra.pop("date", WHEN), method="GET", request_headers=[("Host", "h")],
                        request_body=b"", status=status, reason=extra.pop("reason", ""),
                        protocol=extra.pop("protocol", "HTTP/1.1"),
                        response_headers=headers if headers is not None else [("Content-Type", "text/html")],
                        body=body, **extra)


def rebuilt(data: Path) -> str:
    """The index as ``crawler index`` makes it from every closed WARC file of ``data``."""
    copy = data.parent / (data.name + "-rebuilt")
    (copy / "warc").mkdir(parents=True, exist_ok=True)
    for path in (data / "warc").glob("*.warc.gz"):
        os.link(path, copy / "warc" / path.name)
    assert main(["index", "--data-dir", str(copy)]) == 0
    return index_path(copy).read_text(encoding="utf-8")


def test_odd_records_get_the_line_a_scan_gives_them(tmp_path: Path, caplog: Any) -> None:
    data = tmp_path / "data"
    live = LiveIndex(data, data / "warc")
    closed: list[Path] = []

    def on_close(path: Path) -> None:
        closed.append(path)
        live.close_file(path)

    later = WHEN + timedelta(hours=1)
    with WarcWriter(data / "warc", max_size=3000, on_record=live.add, on_close=on_close) as writer:
        first, _ = writer.write_exchange(exchange("http://a.example/page", headers=[
            ("content-type", "Text/HTML; Charset=UTF-8"), ("Content-Type", "text/plain")]))
        writer.write_exchange(exchange("http://a.example/gone", 404, reason="Not Found",
                                       headers=[("Content-Type", "text/html")], body=b"missing"))
        writer.write_exchange(exchange("http://a.example/old", 301, headers=[("Location", "/page")], body=b""))
        writer.write_exchange(exchange("http://a.example/odd", 299, protocol="HTTP/1.0",
                                       headers=[("Content-Type", "  application/json ;x=1"),
                                                ("X-Folded", "a\r\n b"), ("X-Utf8", "Привет")]))
        writer.write_exchange(exchange("http://a.example/no-type", headers=[], body=b"\x00\x01"))
        writer.write_exchange(exchange("http://a.example/ünï?q=a b", headers=[("Content-Type", "tèxt/html")]))
        writer.write_exchange(exchange("<http://a.example/angle>", headers=[("Content-Type", "image/png")]))
        writer.write_metadata(url="http://a.example/page", concurrent_to=first.record_id, date=WHEN,
                              payload=b'{"a": 1}')
        same = exchange("http://a.example/page", date=later, headers=[("Content-Type", "text/html")])
        writer.write_revisit(same, refers_to=first, refers_to_uri="http://a.example/page", refers_to_date=WHEN)
        not_modified = exchange("http://a.example/page", 304, date=later, headers=[("ETag", '"1"')], body=b"")
        writer.write_revisit(not_modified, refers_to=first, refers_to_uri="http://a.example/page",
                             refers_to_date=WHEN, profile="server-not-modified", http_headers=False)
        nodigest = WarcLocation(first.filename, first.offset, first.length, first.record_id, None)
        writer.write_revisit(not_modified, refers_to=nodigest, refers_to_uri="http://a.example/page",
                             refers_to_date=WHEN, profile="server-not-modified")
    assert len(closed) >= 3                              # rolled over: several files, each merged at its close
    assert "no index line while writing" not in caplog.text  # each line built live, no file read back
    kept = index_path(data).read_text(encoding="utf-8")
    assert kept == rebuilt(data)
    lines = list(read_index(index_path(data)))
    assert len(lines) == 10 and {line.status for line in lines} >= {200, 404, 301, 299, None}
    assert {line.mime for line in lines} >= {"text/html", "warc/revisit", "application/json", "unk", "image/png"}


def test_a_file_not_seen_from_its_start_is_scanned_at_its_close(tmp_path: Path) -> None:
    data = tmp_path / "data"
    live = LiveIndex(data, data / "warc")
    seen: list[WrittenRecord] = []
    writer = WarcWriter(data / "warc", on_record=seen.append)
    writer.write_exchange(exchange("http://b.example/1"))
    for record in seen:                                     # the index joins after the file's warcinfo...
        if record.rec_type != "warcinfo":
            live.add(record)
    writer.write_exchange(exchange("http://b.example/2"))
    live.add(WrittenRecord("response", WarcLocation("other.warc.gz", 0, 1, "<urn:x>", sha1_digest(b"")), b"", b""))
    (path,) = writer.close()
    done = live.close_file(path)                           # ...so the file is read back, as before
    assert done.indexed == 2 and done.problems == ()
    assert index_path(data).read_text(encoding="utf-8") == rebuilt(data)


def crawl(site: Any, data: Path, *extra: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "CRAWLER_DATA_DIR"}
    return subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", "crawl", "news", "--seed", site.base_url + "/", "--data-dir", str(data),
         *FAST, *extra], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def responses_in(path: Path) -> int:
    """Complete response records of a file being written (reading stops at a cut-off last record)."""
    count = 0
    try:
        for record in iter_records(path):
            count += record.rec_type == "response"
    except ArchiveError:
        pass   # the record being written: the ones before it count
    return count


def finish(proc: subprocess.Popen[str]) -> None:
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, out + err


def test_crawls_keep_the_index_a_rebuild_makes(fresh_site: Any, tmp_path: Path) -> None:
    """Roll-over (20 KB files), redirects, 404s, robots.txt; a re-crawl with 304s (revisits with empty blocks
    and metadata records) and one without conditional requests (identical-payload-digest revisits); then a
    crawl killed with records in its .open file, whose lines the next crawl gets from a scan."""
    site = fresh_site(articles=12)
    data = tmp_path / "data"
    finish(crawl(site, data, "-s", "ARCHIVE_WARC_MAX_SIZE=20000"))
    assert len(list((data / "warc").glob("*.warc.gz"))) >= 3
    finish(crawl(site, data))
    finish(crawl(site, data, "-s", "INCREMENTAL_CONDITIONAL=False"))
    killed = crawl(site, data, "-s", "INCREMENTAL_ENABLED=False")
    deadline = time.monotonic() + 120
    while killed.poll() is None and time.monotonic() < deadline:
        opened = list((data / "warc").glob("*.open"))
        if opened and responses_in(opened[0]) >= 5:
            break
        time.sleep(0.05)
    killed.send_signal(signal.SIGKILL)
    killed.communicate(timeout=60)
    assert list((data / "warc").glob("*.open")), "the crawl ended before it was killed"
    other = fresh_site(articles=2)
    finish(crawl(other, data))                              # recovers the killed crawl's file
    assert not list((data / "warc").glob("*.open"))
    kept = index_path(data).read_text(encoding="utf-8")
    assert kept == rebuilt(data)
    logs = "".join(path.read_text(encoding="utf-8") for path in (data / "runs").glob("*.log"))
    assert "left unfinished by an earlier crawl" in logs and "no index line while writing" not in logs
    lines = list(read_index(index_path(data)))
    assert {line.status for line in lines} >= {200, 301, 404}
    # 304s (empty block: no status) and unchanged 200s (identical payload digest)
    assert {line.status for line in lines if line.is_revisit} >= {None, 200}
