"""The index scan's fast path (``archive.cdxj._fast_scan``: zlib-ng, heads read directly) against the warcio
path it replaces: the same lines and bad records, in the same order, on WARC files written by our writer and
by hand, including every case where the fast path must leave a member to warcio; and where it leaves it."""

from __future__ import annotations

import base64
import gzip
import hashlib
import random
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive import cdxj
from archive.cdxj import BadRecord, CdxjLine
from archive.writer import HttpExchange, WarcWriter

DATE = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
Item = CdxjLine | BadRecord


def _scans(path: Path) -> list[Item]:
    """The scan of ``path``, asserted to be the same by the fast path and by warcio alone."""
    slow = list(cdxj._scan(path, path.name, fast=False))
    fast = list(cdxj._scan(path, path.name, fast=True))
    assert fast == slow
    return fast


def _fast_only(path: Path) -> tuple[list[Item], int | None]:
    """What the fast path alone yields from offset 0, and where it stops (None: the end of the file)."""
    with path.open("rb") as fh:
        gen = cdxj._fast_scan(fh, path.name, 0)
        items: list[Item] = []
        while True:
            try:
                items.append(next(gen))
            except StopIteration as stop:
                return items, stop.value


def _sha1(data: bytes) -> str:
    return base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")


def _record(rec_type: str, block: bytes, *headers: str, length: int | None = None, version: str = "WARC/1.1",
            eol: str = "\r\n", trailer: bytes = b"\r\n\r\n") -> bytes:
    lines = [version, f"WARC-Type: {rec_type}", *headers,
             f"Content-Length: {len(block) if length is None else length}"]
    return (eol.join(lines) + eol + eol).encode("utf-8") + block + trailer


def _http(status: str, *headers: str, body: bytes = b"") -> bytes:
    return ("\r\n".join([status, *headers]) + "\r\n\r\n").encode("utf-8") + body


def _response(url: str, body: bytes, *extra: str, digest: bool = True) -> bytes:
    block = _http("HTTP/1.1 200 OK", "Content-Type: text/html; charset=utf-8", body=body)
    headers = [f"WARC-Target-URI: {url}", "WARC-Date: 2026-01-02T03:04:05Z", *extra]
    if digest:
        headers.append(f"WARC-Payload-Digest: sha1:{_sha1(body)}")
    return _record("response", block, *headers)


WARCINFO = _record("warcinfo", b"software: test\r\n", "WARC-Date: 2026-01-02T03:04:05Z",
                   "Content-Type: application/warc-fields")


def _write(path: Path, members: Sequence[bytes]) -> list[int]:
    """Write each of ``members`` as one gzip member; returns their offsets."""
    offsets, out = [], b""
    for data in members:
        offsets.append(len(out))
        out += gzip.compress(data, mtime=0)
    path.write_bytes(out)
    return offsets


# --- files the fast path reads whole ----------------------------------------------------------------------

def _exchange(url: str, body: bytes, headers: list[tuple[str, str]], status: int = 200) -> HttpExchange:
    return HttpExchange(url=url, date=DATE, method="GET", request_headers=[("Host", "example.org")],
                        request_body=b"", status=status, reason="", protocol="HTTP/1.1",
                        response_headers=headers, body=body)


def test_our_writers_files_are_read_by_the_fast_path_alone(tmp_path: Path) -> None:
    ids = iter(range(1000))
    writer = WarcWriter(tmp_path, hostname="test", pid=1, warcinfo={"software": "test"}, clock=lambda: DATE,
                        record_id_factory=lambda: f"<urn:uuid:00000000-0000-0000-0000-{next(ids):012d}>")
    page = b"<html><head><title>T</title></head><body><p>Hello</p></body></html>"
    first, _ = writer.write_exchange(_exchange("http://example.org/a", page, [("Content-Type", "text/html")]))
    writer.write_exchange(_exchange("https://example.org/b?q=1", gzip.compress(page * 50, mtime=0),
                                    [("Content-Type", "text/html"), ("Content-Encoding", "gzip")]))
    writer.write_exchange(_exchange("http://example.org/missing", b"gone", [("Content-Type", "text/plain")], 404))
    writer.write_metadata(url="http://example.org/a", concurrent_to=first.record_id, date=DATE, payload=b"{}")
    writer.write_revisit(_exchange("http://example.org/a", page, [("Content-Type", "text/html")]),
                         refers_to=first, refers_to_uri="http://example.org/a", refers_to_date=DATE)
    writer.write_revisit(_exchange("http://example.org/a", b"", [("ETag", '"x"')], 304), refers_to=first,
                         refers_to_uri="http://example.org/a", refers_to_date=DATE,
                         profile="server-not-modified", http_headers=False)
    [path] = writer.close()

    items, reached = _fast_only(path)
    assert reached is None
    assert items == _scans(path)
    assert [(i.url, i.status, i.mime) for i in items if isinstance(i, CdxjLine)] == [
        ("http://example.org/a", 200, "text/html"), ("https://example.org/b?q=1", 200, "text/html"),
        ("http://example.org/missing", 404, "text/plain"), ("http://example.org/a", 200, "warc/revisit"),
        ("http://example.org/a", None, "warc/revisit")]


def test_hand_made_records_of_each_type_are_read_by_the_fast_path(tmp_path: Path) -> None:
    body = b"<p>no digest stored</p>"
    members = [
        WARCINFO,
        _response("http://example.org/no-digest", body, digest=False),                # hashed
        _record("request", _http("GET /no-digest HTTP/1.1", "Host: example.org"),
                "WARC-Target-URI: http://example.org/no-digest", "WARC-Date: 2026-01-02T03:04:05Z"),
        _record("resource", b"plain text", "WARC-Target-URI: file:///notes.txt",
                "WARC-Date: 2026-01-02T03:04:06Z", "Content-Type: Text/Plain; charset=utf-8"),    # hashed, no http
        _record("revisit", _http("HTTP/1.1 304 Not Modified", "ETag: x"),
                "WARC-Target-URI: http://example.org/no-digest", "WARC-Date: 2026-01-03T00:00:00Z",
                "WARC-Profile: http://netpreserve.org/warc/1.0/revisit/server-not-modified"),
        _record("revisit", b"", "WARC-Target-URI: http://example.org/empty", "WARC-Date: 2026-01-03T00:00:00Z"),
        _record("response", _http("HTTP/1.0 200", body=b"x"), "WARC-Target-URI: <http://example.org/wget>",
                "WARC-Date: 2026-01-02T03:04:05Z", "WARC-Payload-Digest: sha1:AAAA"),    # wget 1.19's <uri>
        _record("response", b"", "WARC-Target-URI: http://example.org/empty-block",
                "WARC-Date: 2026-01-02T03:04:05Z", "Content-Type: application/http; msgtype=response"),
        _record("response", b"\x00\x01dns answer", "WARC-Target-URI: dns:example.org",
                "WARC-Date: 2026-01-02T03:04:05Z", "Content-Type: text/dns"),
        _record("response", "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Name: Müller\r\n\r\nok"
                .encode("iso-8859-1"), "WARC-Target-URI: http://example.org/latin1",
                "WARC-Date: 2026-01-02T03:04:05Z"),
        _record("response", _http("HTTP/1.1 abc", "content-type:TEXT/CSV"), "warc-target-uri: http://x.org/",
                "WARC-Date: 2026-01-02T03:04:05Z", "WARC-Payload-Digest: sha1:BBBB", version="WARC/1.0"),
        _record("resource", b"x", "WARC-Date: 2026-01-02T03:04:05Z"),    # no target URI: a bad record
        _record("metadata", b"{}", "WARC-Target-URI: http://example.org/a", "WARC-Date: 2026-01-02T03:04:05Z"),
        # lines decoded one by one (UTF-8, else ISO-8859-1); a name may have blanks before its colon
        _record("response", _http("HTTP/1.1 200 OK", "Content-Type \t: text/csv"),
                "WARC-Target-URI: http://example.org/café", "X-Note: @@", "WARC-Date: 2026-01-02T03:04:05Z",
                "WARC-Payload-Digest: sha1:CCCC").replace(b"@@", b"\xe9"),
    ]
    path = tmp_path / "hand.warc.gz"
    offsets = _write(path, members)
    items, reached = _fast_only(path)
    assert reached is None
    assert items == _scans(path)
    by_offset = {i.offset: i for i in items}
    assert {o: type(i).__name__ for o, i in by_offset.items()} == {
        **{o: "CdxjLine" for o in offsets[1:2] + offsets[3:11] + offsets[13:]}, offsets[11]: "BadRecord"}
    assert isinstance(no_digest := by_offset[offsets[1]], CdxjLine) and no_digest.digest == _sha1(body)
    assert isinstance(resource := by_offset[offsets[3]], CdxjLine)
    assert (resource.digest, resource.mime, resource.status) == (_sha1(b"plain text"), "text/plain", None)
    assert isinstance(wget := by_offset[offsets[6]], CdxjLine) and wget.url == "http://example.org/wget"
    assert isinstance(cafe := by_offset[offsets[13]], CdxjLine)
    assert (cafe.url, cafe.mime) == ("http://example.org/café", "text/csv")


def test_a_record_bigger_than_the_inflate_limit_streams_through_the_hash(tmp_path: Path) -> None:
    body = b"".join(b"line %d of a big page\n" % i for i in range(250_000))
    assert len(body) > cdxj._FAST_MAX_OUT
    path = tmp_path / "big.warc.gz"
    offsets = _write(path, [WARCINFO, _response("http://example.org/big", body, digest=False),
                            _response("http://example.org/after", b"small")])
    items, reached = _fast_only(path)
    assert reached is None
    assert items == _scans(path)
    big = items[0]
    assert isinstance(big, CdxjLine) and big.digest == _sha1(body) and big.offset == offsets[1]
    assert big.length == offsets[2] - offsets[1]


# --- members the fast path leaves to warcio -------------------------------------------------------------

GOOD = _response("http://example.org/good", b"good page")
ODD_MEMBERS: dict[str, list[bytes]] = {
    "two records in one member": [GOOD + _response("http://example.org/second", b"second")],
    "a record split over two members": [GOOD[:100], GOOD[100:]],
    "Content-Length too short": [_record("response", _http("HTTP/1.1 200 OK", body=b"abcdef"),
                                         "WARC-Target-URI: http://example.org/short",
                                         "WARC-Date: 2026-01-02T03:04:05Z", length=20)],
    "Content-Length too long": [_record("response", _http("HTTP/1.1 200 OK", body=b"abcdef"),
                                        "WARC-Target-URI: http://example.org/long",
                                        "WARC-Date: 2026-01-02T03:04:05Z", length=200)],
    "Content-Length not a number": [_record("resource", b"abc", "WARC-Target-URI: http://example.org/n",
                                            "WARC-Date: 2026-01-02T03:04:05Z", length=-3)],
    "no blank line after the block": [_record("resource", b"abc", "WARC-Target-URI: http://example.org/n",
                                              "WARC-Date: 2026-01-02T03:04:05Z", trailer=b"")],
    "more blank lines after the block": [_record("resource", b"abc", "WARC-Target-URI: http://example.org/n",
                                                 "WARC-Date: 2026-01-02T03:04:05Z", trailer=b"\r\n\r\n\r\n")],
    "LF line ends": [_record("resource", b"abc", "WARC-Target-URI: http://example.org/lf",
                             "WARC-Date: 2026-01-02T03:04:05Z", eol="\n")],
    "a continuation line": [_record("resource", b"abc", "WARC-Target-URI: http://example.org/c",
                                    "WARC-Date: 2026-01-02T03:04:05Z", "X-Long: one", "  two")],
    "a blank-looking header line": [_record("resource", b"abc", "WARC-Target-URI: http://example.org/b",
                                            "\x0c", "WARC-Date: 2026-01-02T03:04:05Z")],
    "a space in the target URI": [_response("http://example.org/a b", b"spaced")],
    "two target URIs": [_response("<http://example.org/1>", b"x", "WARC-Target-URI: http://example.org/2")],
    "WARC/0.18": [_record("resource", b"abc", "WARC-Target-URI: http://example.org/old",
                          "WARC-Date: 2026-01-02T03:04:05Z", version="WARC/0.18")],
    "an HTTP head without its blank line": [_record("response", b"HTTP/1.1 200 OK\r\nContent-Type: text/html",
                                                    "WARC-Target-URI: http://example.org/h",
                                                    "WARC-Date: 2026-01-02T03:04:05Z")],
    "an HTTP record without target URI": [_record("request", b"GET / HTTP/1.1\r\n\r\n",
                                                  "WARC-Date: 2026-01-02T03:04:05Z")],
}


@pytest.mark.parametrize("case", sorted(ODD_MEMBERS))
def test_odd_members_go_to_warcio_from_their_offset(tmp_path: Path, case: str) -> None:
    path = tmp_path / "odd.warc.gz"
    offsets = _write(path, [WARCINFO, GOOD, *ODD_MEMBERS[case], _response("http://example.org/last", b"last")])
    items, reached = _fast_only(path)
    assert reached == offsets[2]
    assert items == _scans(path)[:len(items)]


@pytest.mark.parametrize("cut", [1, 10, 30, -9, -1])
def test_a_truncated_member_goes_to_warcio(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "cut.warc.gz"
    offsets = _write(path, [WARCINFO, GOOD, _response("http://example.org/cut", b"cut " * 500)])
    data = path.read_bytes()
    end = offsets[2] + cut if cut > 0 else len(data) + cut
    path.write_bytes(data[:end])
    assert _fast_only(path)[1] == offsets[2]
    _scans(path)     # (warcio does not notice a member cut in its gzip trailer: neither does the scan)


def test_bytes_after_the_last_member_go_to_warcio(tmp_path: Path) -> None:
    path = tmp_path / "tail.warc.gz"
    offsets = _write(path, [WARCINFO, GOOD])
    path.write_bytes(path.read_bytes() + b"\r\n\r\ngarbage")
    assert _fast_only(path)[1] == offsets[1] + len(gzip.compress(GOOD, mtime=0))
    _scans(path)


def test_plain_warc_files_are_read_by_warcio(tmp_path: Path) -> None:
    path = tmp_path / "plain.warc"
    path.write_bytes(WARCINFO + GOOD + _response("http://example.org/no-digest", b"x", digest=False))
    assert [i.url for i in _scans(path) if isinstance(i, CdxjLine)] == [
        "http://example.org/good", "http://example.org/no-digest"]


# --- damage anywhere, in files bigger than warcio's 16 KiB read blocks -----------------------------------

def _seed() -> bytes:
    rnd = random.Random(7)
    members = [WARCINFO]
    for n in range(8):    # incompressible bodies: members of 3-9 KB, so damage falls after block boundaries
        body = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(3000, 9000)))
        members.append(_response(f"http://example.org/{n}", body, digest=n % 2 == 0))
        members.append(_record("request", _http(f"GET /{n} HTTP/1.1", "Host: example.org"),
                               f"WARC-Target-URI: http://example.org/{n}", "WARC-Date: 2026-01-02T03:04:05Z"))
    return b"".join(gzip.compress(m, mtime=0) for m in members)


SEED = _seed()


@st.composite
def _damaged(draw: st.DrawFn) -> bytes:
    data = bytearray(SEED)
    for _ in range(draw(st.integers(1, 3))):
        pos = draw(st.integers(0, len(data) - 1))
        kind = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "splice"]))
        if kind == "truncate":
            del data[pos:]
        elif kind == "flip":
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=32))
        elif kind == "delete":
            del data[pos:pos + draw(st.integers(1, 64))]
        else:
            start = draw(st.integers(0, len(data) - 1))
            data[pos:pos] = data[start:start + draw(st.integers(1, 3000))]
        if not data:
            break
    return bytes(data)


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(_damaged())
def test_damaged_files_scan_the_same_as_with_warcio(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "damaged.warc.gz"
    path.write_bytes(data)
    _scans(path)



PLAIN_RECORDS = b"".join([
    WARCINFO, *(_response(f"http://example.org/{n}", b"body %d " % n * 40, digest=n % 2 == 0) for n in range(4)),
    _record("revisit", _http("HTTP/1.1 304 Not Modified", "ETag: x"), "WARC-Target-URI: http://example.org/0",
            "WARC-Date: 2026-01-03T00:00:00Z"),
    _record("resource", b"text", "WARC-Target-URI: file:///t.txt", "WARC-Date: 2026-01-02T03:04:05Z")])


@st.composite
def _damaged_records(draw: st.DrawFn) -> bytes:
    """Damage inside the records, each record then gzipped on its own: the heads the fast path reads are hit,
    not the gzip checks that protect them in a damaged .warc.gz."""
    data = bytearray(PLAIN_RECORDS)
    for _ in range(draw(st.integers(1, 3))):
        pos = draw(st.integers(0, len(data) - 1))
        kind = draw(st.sampled_from(["flip", "insert", "delete", "splice", "digits"]))
        if kind == "flip":
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "insert":
            data[pos:pos] = draw(st.sampled_from([b" ", b"\t", b"\r", b"\n", b"\r\n", b":", b"<", b"\xe9", b"\x85",
                                                  b"\x0c", b"\xc3\xa9", b"WARC/1.1\r\n"]))
        elif kind == "delete":
            del data[pos:pos + draw(st.integers(1, 8))]
        elif kind == "splice":
            start = draw(st.integers(0, len(data) - 1))
            data[pos:pos] = data[start:start + draw(st.integers(1, 80))]
        else:
            data[pos:pos] = draw(st.sampled_from([b"99999", b"-1", b"0", b"+1", b"1_0"]))
    records = bytes(data).split(b"WARC/1.1\r\n")
    return b"".join(gzip.compress((b"WARC/1.1\r\n" if n else b"") + r, mtime=0)
                    for n, r in enumerate(records) if n or r)


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(_damaged_records())
def test_damaged_heads_scan_the_same_as_with_warcio(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "heads.warc.gz"
    path.write_bytes(data)
    _scans(path)
