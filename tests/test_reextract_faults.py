"""``crawler reextract`` over the crawler's own WARC of a misbehaving server: the same pages as the crawl.

The crawl decodes a body labelled gzip that is not gzip as it is, keeps what a truncated gzip body holds,
and sniffs HTML served under another type; re-extraction decodes the archived payload the same way, so it
makes a record of every page the crawl made one of, and calls none of these intact records bad.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from archive.records import validate
from archive.writer import HttpExchange, WarcWriter
from crawler.cli import main

FAULTS = Path(__file__).resolve().parent / "data" / "faults"
COMPARED = ("url", "status", "kind", "title", "authors", "published", "language", "site_name", "text",
            "word_count", "warc", "encoding", "content_type")


def _article(title: str, sentence: str) -> str:
    body = "".join(f"<p>{sentence} Paragraph {i} tells the rest of the story in plain words.</p>" for i in range(6))
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>'
            f'<meta property="og:type" content="article"></head>'
            f"<body><article><h1>{title}</h1>{body}</article></body></html>")


_TRUNCATED = gzip.compress(_article("Cut short", "A gzip stream cut in the middle. " * 40).encode(), mtime=0)
# path -> (Content-Type, extra headers, body)
ROUTES: dict[str, tuple[str, list[tuple[str, str]], bytes]] = {
    "/robots.txt": ("text/html", [], b"<html><body><h1>Not a robots.txt</h1></body></html>"),
    "/plain-labelled-gzip": ("text/html; charset=utf-8", [("Content-Encoding", "gzip")],
                             _article("Not gzip", "Declared gzip, sent plain.").encode()),
    "/truncated-gzip": ("text/html; charset=utf-8", [("Content-Encoding", "gzip")],
                        _TRUNCATED[: len(_TRUNCATED) // 2]),
    "/html-as-png": ("image/png", [], _article("Served as PNG", "HTML under an image type.").encode()),
    "/html-as-text": ("text/plain", [], _article("Served as text", "HTML under a text type.").encode()),
    "/gzip-ok": ("text/html; charset=utf-8", [("Content-Encoding", "gzip")],
                 gzip.compress(_article("Gzipped", "Compressed the normal way.").encode(), mtime=0)),
    "/png": ("image/png", [], b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4),
    "/png-gzip-corrupt": ("image/png", [("Content-Encoding", "gzip")], b"\x1f\x8b\x08\x00" + b"\xff" * 100),
}
PAGES = ["/plain-labelled-gzip", "/truncated-gzip", "/html-as-png", "/html-as-text", "/gzip-ok"]


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        route = ROUTES.get(self.path)
        if route is None:
            self.send_error(404)
            return
        content_type, extra, body = route
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A data directory with a real crawl of every route (each a seed)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    data = tmp_path_factory.mktemp("reextract-faults") / "data"
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        seeds = [arg for path in ROUTES if path != "/robots.txt" for arg in ("--seed", base + path)]
        env = {k: v for k, v in os.environ.items() if k != "CRAWLER_DATA_DIR"}
        proc = subprocess.run(
            [sys.executable, "-m", "crawler.cli", "crawl", "news", *seeds, "--data-dir", str(data),
             "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "EXTRACT_WORKERS=1"],
            env=env, capture_output=True, text=True, timeout=240)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        yield data
    finally:
        server.shutdown()
        server.server_close()


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _reextract(data: Path, *args: str) -> tuple[int, list[dict[str, Any]]]:
    before = set((data / "records").glob("*.jsonl"))
    status = main(["reextract", "--data-dir", str(data), "--workers", "1", *args])
    [path] = set((data / "records").glob("*.jsonl")) - before
    return status, _records(path)


def test_reextract_makes_the_crawls_records_from_its_intact_warc(crawled: Path, capsys: Any) -> None:
    [crawl_file] = crawled.glob("records/*.jsonl")
    crawl = {r["url"].rsplit("/", 1)[1]: r for r in _records(crawl_file)}
    assert sorted("/" + name for name in crawl) == sorted(PAGES)   # what the crawl made records of
    status, records = _reextract(crawled)
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "bad record" not in captured.err
    assert "5 record(s)" in captured.out
    again = {r["url"].rsplit("/", 1)[1]: r for r in records}
    assert sorted(again) == sorted(crawl)         # no robots.txt served as HTML, no image, nothing dropped
    for name, record in again.items():
        validate(record)
        assert record["extraction_error"] is None
        for field in COMPARED:
            assert record[field] == crawl[name][field], (name, field)
    assert "Declared gzip, sent plain." in again["plain-labelled-gzip"]["text"]
    assert again["truncated-gzip"]["title"] == "Cut short"       # what the truncated stream held
    assert "HTML under an image type." in again["html-as-png"]["text"]
    assert again["html-as-png"]["content_type"] == "image/png"


def _exchange(n: int, body: bytes, headers: list[tuple[str, str]]) -> HttpExchange:
    return HttpExchange(url=f"http://127.0.0.1:9/page-{n}", date=datetime(2026, 1, 2, 3, 4, n, tzinfo=UTC),
                        method="GET", request_headers=[("Host", "127.0.0.1")], request_body=b"", status=200,
                        reason="OK", protocol="HTTP/1.1", response_headers=headers, body=body)


def _chunked(data: bytes, size: int = 100) -> bytes:
    parts = [data[i:i + size] for i in range(0, len(data), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


def test_an_undecodable_page_is_an_error_in_its_record_not_a_failed_command(tmp_path: Path, capsys: Any) -> None:
    """gzip magic then garbage, and a gzip bomb past the crawl's decoding limit: each page gets a record
    with an extraction_error; the archive is intact, so no bad record and exit 0. Another tool's WARC that
    kept the chunked coding is de-chunked before the gzip is removed."""
    data = tmp_path / "data"
    html = [("Content-Type", "text/html; charset=utf-8")]
    good = _article("Fine", "A page that decodes.").encode()
    with WarcWriter(data / "warc") as writer:
        writer.write_exchange(_exchange(1, good, html))
        writer.write_exchange(_exchange(2, b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\xff" * 200,
                                        [*html, ("Content-Encoding", "gzip")]))
        writer.write_exchange(_exchange(3, (FAULTS / "gzip-bomb-1GiB.gz").read_bytes(),
                                        [*html, ("Content-Encoding", "gzip")]))
        writer.write_exchange(_exchange(4, _chunked(gzip.compress(good, mtime=0)),
                                        [*html, ("Transfer-Encoding", "chunked"), ("Content-Encoding", "gzip")]))
        twice = gzip.compress(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\xff" * 200, mtime=0)
        writer.write_exchange(_exchange(5, twice, [*html, ("Content-Encoding", "gzip")]))   # gzip in gzip
        writer.write_exchange(_exchange(6, b"\x1f\x8b\x08\x00" + b"\xff" * 100,        # an image: no page
                                        [("Content-Type", "image/png"), ("Content-Encoding", "gzip")]))
    status, records = _reextract(data)
    captured = capsys.readouterr()
    assert status == 0, captured.err
    by_page = {r["url"].rsplit("-", 1)[1]: r for r in records}
    assert sorted(by_page) == ["1", "2", "3", "4", "5"]
    for n in ("2", "3", "5"):
        validate(by_page[n])
        error = by_page[n]["extraction_error"]
        assert error.startswith("content decoding failed: "), error
        assert "\n" not in error and by_page[n]["text"] == "" and by_page[n]["kind"] == "page"
    assert by_page["2"]["extraction_error"].startswith("content decoding failed: Content-Encoding: gzip could not")
    assert "exceeded" in by_page["3"]["extraction_error"]
    assert "corrupt gzip body" in by_page["5"]["extraction_error"]
    assert "5 record(s)" in captured.out and "3 extraction error(s)" in captured.out
    assert by_page["4"]["extraction_error"] is None
    assert by_page["4"]["text"] == by_page["1"]["text"] and "A page that decodes." in by_page["1"]["text"]
