"""Politeness: Retry-After honoured on 429/503, a descriptive User-Agent with the operator's contact."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from crawler.politeness import parse_retry_after
from tests.test_crawl_e2e import FAST, read_records, run_cli

PAGE = b"<html><head><title>Busy page</title></head><body><article><h1>Busy page</h1>" + b"<p>Text.</p>" * 5 + b"</article></body></html>"


def test_parse_retry_after_forms() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now=now) == 30.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("") is None


class _Busy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    log: list[tuple[float, str, dict[str, str]]] = []
    answers: dict[str, list[tuple[int, str | None]]] = {}

    def do_GET(self) -> None:
        self.log.append((time.monotonic(), self.path, dict(self.headers.items())))
        if self.path == "/robots.txt":
            status, retry_after = 404, None
        else:
            queue = self.answers.setdefault(self.path, [])
            status, retry_after = queue.pop(0) if queue else (200, None)
        body = PAGE if status == 200 else b"busy"
        self.send_response(status)
        if retry_after is not None:
            self.send_header("Retry-After", retry_after)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def busy_server() -> Iterator[tuple[str, type[_Busy]]]:
    handler = type("Busy", (_Busy,), {"log": [], "answers": {}})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize(("status", "header"), [(429, "2"), (503, "http-date")])
def test_retry_after_is_waited_for(busy_server: tuple[str, Any], tmp_path: Path, status: int, header: str) -> None:
    base, handler = busy_server
    if header == "http-date":
        # far enough ahead to survive the crawler's start-up; the ceiling below keeps the wait at 3 s
        header = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)
    handler.answers["/story"] = [(status, header)]
    proc = run_cli("archive", base + "/story", "--data-dir", str(tmp_path), *FAST, "--contact", "ops@example.org",
                   "-s", "RETRY_AFTER_MAX_DELAY=3")
    assert proc.returncode == 0, proc.stderr
    hits = [(t, h) for t, path, h in handler.log if path == "/story"]
    assert len(hits) == 2
    assert hits[1][0] - hits[0][0] >= 1.5  # the server asked for 2-3 s; an immediate retry would be ~0
    [record] = read_records(tmp_path)
    assert record["status"] == 200 and record["title"] == "Busy page"
    ua = hits[0][1]["User-Agent"]
    assert ua.startswith("newsarchiver/") and "ops@example.org" in ua


def test_retry_after_is_capped(busy_server: tuple[str, Any], tmp_path: Path) -> None:
    base, handler = busy_server
    handler.answers["/story"] = [(429, "86400")]
    started = time.monotonic()
    proc = run_cli("archive", base + "/story", "--data-dir", str(tmp_path), *FAST, "-s", "RETRY_AFTER_MAX_DELAY=1")
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - started < 120  # a day-long Retry-After was capped, not obeyed
    assert len([p for _, p, _ in handler.log if p == "/story"]) == 2
