"""A response with one big header line (60 KiB of Content-Security-Policy) is archived whole: Twisted's
16 KiB line limit used to drop the connection, and the page was retried and never archived."""

from __future__ import annotations

from pathlib import Path

from archive.reader import iter_records
from tests.misbehave import Conn, Misbehaving, article, behaviour
from tests.test_faults_server import run_crawl

POLICY = "default-src 'self'; " + "; ".join(f"img-src https://cdn{i}.example.com" for i in range(2000))


@behaviour("huge-header")
def _huge_header(c: Conn) -> None:
    c.reply(200, article("A page with a big header", "Its policy header is long.").encode(),
            extra=[("Content-Security-Policy", POLICY)])


def test_a_response_with_a_60_kib_header_line_is_archived(tmp_path: Path) -> None:
    assert len(POLICY) > 60_000
    with Misbehaving() as server:
        crawl = run_crawl(server, [server.url("huge-header")], tmp_path / "data", tmp_path)
    assert crawl.proc.returncode == 0, crawl.proc.stderr[-2000:]
    responses = [rec for path in sorted((tmp_path / "data" / "warc").glob("*.warc.gz"))
                 for rec in iter_records(path) if rec.rec_type == "response"
                 and rec.target_uri == server.url("huge-header")]
    assert len(responses) == 1
    assert server.url("huge-header") in crawl.records()
