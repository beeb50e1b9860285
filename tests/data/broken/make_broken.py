"""Regenerate the broken WARC samples in this folder (deterministic: fixed dates, ids and payloads).

    .venv/bin/python tests/data/broken/make_broken.py

Every sample holds good records around the damage, so the tests can check that the good ones are still
indexed and replayed while the bad one is reported with its file and offset.
"""

from __future__ import annotations

import io
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

HERE = Path(__file__).resolve().parent
BASE = "http://broken.example"
DATE = "2026-01-02T03:04:05Z"


def _page(n: int) -> bytes:
    return f"<html><head><title>Page {n}</title></head><body><p>Body of page {n}.</p></body></html>".encode()


def _response(writer: WARCWriter, n: int, *, path: str | None = None, date: str = DATE) -> None:
    body = _page(n)
    http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                       ("Content-Length", str(len(body)))], protocol="HTTP/1.1")
    record = writer.create_warc_record(f"{BASE}/{path or f'page{n}.html'}", "response",
                                       payload=io.BytesIO(body), length=len(body), http_headers=http,
                                       warc_headers_dict={"WARC-Date": date,
                                                          "WARC-Record-ID": f"<urn:uuid:00000000-0000-4000-8000-{n:012d}>"})
    writer.write_record(record)


def _warc(gz: bool, pages: list[int]) -> bytes:
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=gz, warc_version="1.1")
    for n in pages:
        _response(writer, n)
    return out.getvalue()


def _members(pages: list[int]) -> list[bytes]:
    """One gzip member per record, as separate byte strings."""
    return [_warc(True, [n]) for n in pages]


def main() -> None:
    # 1. A corrupt gzip member between two good records.
    good = _members([1, 2, 3])
    bad = bytearray(good[1])
    for i in range(30, min(len(bad) - 10, 90)):
        bad[i] ^= 0x5A
    (HERE / "corrupt-member.warc.gz").write_bytes(good[0] + bytes(bad) + good[2])
    # 2. The last record cut in half (a crawl killed mid-write, then renamed).
    members = _members([4, 5])
    (HERE / "truncated.warc.gz").write_bytes(members[0] + members[1][: len(members[1]) // 2])
    # 3. An uncompressed WARC whose second record claims more content than it has, then a good record.
    seventh = _warc(False, [7])
    start = seventh.index(b"Content-Length: ") + len(b"Content-Length: ")
    end = seventh.index(b"\r\n", start)
    seventh = seventh[:start] + str(int(seventh[start:end]) + 40).encode() + seventh[end:]
    plain = _warc(False, [6]) + seventh + _warc(False, [8])
    (HERE / "bad-length.warc").write_bytes(plain)
    # 4. Not a WARC at all, though named like one.
    (HERE / "not-a-warc.warc.gz").write_bytes(b"<html><body>This is an error page, not a WARC.</body></html>\n" * 4)
    # 5. A file still being written.
    (HERE / "crawl-20260102030405-00000-host-1.warc.gz.open").write_bytes(_warc(True, [9]))
    # 6. A revisit whose original is in no WARC.
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True, warc_version="1.1")
    _response(writer, 10)
    http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
    revisit = writer.create_revisit_record(f"{BASE}/gone.html", "sha1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                                           f"{BASE}/gone.html", "2025-12-01T00:00:00Z", http_headers=http)
    revisit.rec_headers.replace_header("WARC-Date", DATE)
    revisit.rec_headers.replace_header("WARC-Record-ID", "<urn:uuid:00000000-0000-4000-8000-000000000011>")
    writer.write_record(revisit)
    (HERE / "orphan-revisit.warc.gz").write_bytes(out.getvalue())


if __name__ == "__main__":
    main()
