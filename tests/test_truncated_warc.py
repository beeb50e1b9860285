"""A .warc.gz cut at any byte (a crawl killed mid-write, a partial copy) is reported: before, a cut inside a
request or warcinfo record, or inside a record's head, indexed what was left with exit 0, and a cut at a
member's start read as "AttributeError: 'NoneType' object has no attribute 'startswith'"."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from archive.cdxj import scan_warc
from archive.writer import HttpExchange, WarcWriter


def _exchange(n: int) -> HttpExchange:
    body = f"<html><head><title>Page {n}</title></head><body><p>{'Some words. ' * 30}</p></body></html>".encode()
    return HttpExchange(url=f"http://127.0.0.1:9/page-{n}", date=datetime(2026, 1, 2, 3, 4, n, tzinfo=UTC),
                        method="GET", request_headers=[("Host", "127.0.0.1")], request_body=b"", status=200,
                        reason="OK", protocol="HTTP/1.1",
                        response_headers=[("Content-Type", "text/html; charset=utf-8")], body=body)


def test_a_warc_cut_at_any_byte_reports_a_bad_record(tmp_path: Path) -> None:
    with WarcWriter(tmp_path / "warc") as writer:
        for n in range(3):
            writer.write_exchange(_exchange(n))
    (whole,) = sorted((tmp_path / "warc").glob("*.warc.gz"))
    data = whole.read_bytes()
    complete = scan_warc(whole)
    assert not complete.problems and len(complete.lines) == 3
    with whole.open("rb") as fh:  # a cut exactly between two records leaves a whole, shorter WARC
        records = ArchiveIterator(fh)
        boundaries = {records.get_record_offset() for _ in records}
    assert len(boundaries) >= 6  # warcinfo, then request and response (and metadata) per page
    cut = tmp_path / "cut.warc.gz"
    for size in range(1, len(data), 9):
        if size in boundaries:
            continue
        cut.write_bytes(data[:size])
        scan = scan_warc(cut)
        assert scan.problems, f"a file cut at byte {size} of {len(data)} read as whole"
        for problem in scan.problems:
            assert "AttributeError" not in problem.message and problem.message.isascii(), problem.message
