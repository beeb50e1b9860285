"""The WARC response record keeps the head as sent: status line, header case, order and duplicates.

A small server on 127.0.0.1 answers with an unusual reason phrase, lower-case and repeated headers and a
chunked, gzip-encoded body; a real crawl archives it and the WARC is read back.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.test_crawl_e2e import FAST, read_records, run_cli, warc_files

PAGE = (
    "<html><head><title>Wire test</title></head><body><article><h1>Wire test</h1>"
    + "".join(f"<p>Paragraph {i} of a page whose head must be archived as sent.</p>" for i in range(5))
    + "</article></body></html>"
).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path == "/robots.txt":
            body = b"User-agent: *\nAllow: /\n"
            self.send_response(200, "OK")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        body = gzip.compress(PAGE)
        self.send_response(200, "Okey Dokey")
        self.send_header("content-type", "text/html; charset=utf-8")
        self.send_header("Set-Cookie", "a=1")
        self.send_header("X-Lower", "first")
        self.send_header("Set-Cookie", "b=2")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        half = len(body) // 2
        for chunk in (body[:half], body[half:]):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def wire_server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_head_archived_as_sent_and_body_as_received(wire_server: str, tmp_path: Path) -> None:
    url = wire_server + "/story"
    proc = run_cli("archive", url, "--data-dir", str(tmp_path), *FAST)
    assert proc.returncode == 0, proc.stderr
    found = False
    for path in warc_files(tmp_path):
        with path.open("rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type != "response" or record.rec_headers.get_header("WARC-Target-URI") != url:
                    continue
                found = True
                http = record.http_headers
                assert http.protocol == "HTTP/1.1"
                assert http.statusline == "200 Okey Dokey"
                names = [k for k, _ in http.headers]
                assert names[:4] == ["Server", "Date", "content-type", "Set-Cookie"]
                assert [v for k, v in http.headers if k == "Set-Cookie"] == ["a=1", "b=2"]
                assert "X-Archive-Orig-Transfer-Encoding" in names and "Transfer-Encoding" not in names
                reconstructed = record.rec_headers.get_header("WARC-X-Reconstructed")
                assert "transfer-encoding" in reconstructed and "header-case" not in reconstructed
                raw = record.raw_stream.read()
                assert gzip.decompress(raw) == PAGE  # stored still content-encoded, de-chunked
    assert found
    [rec] = read_records(tmp_path)
    assert rec["title"] == "Wire test" and "Paragraph 3" in rec["text"]
