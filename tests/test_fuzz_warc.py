"""Hostile WARC files against every reader of the project (Hypothesis): truncated, bit-flipped, spliced
and garbage-filled files, both gzip (member-level damage) and plain (header-level damage, where gzip CRCs
do not hide the parser). Each reader must finish (pytest-timeout guards against hangs), raise only its
documented per-record error, and the command-line verbs must exit non-zero with one line per bad record.

Runs derandomized so that CI sees the same cases every time; ``CRAWLER_FUZZ_EXAMPLES`` raises the count.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.cdxj import BadRecord, iter_scan, scan_warc
from archive.reader import ArchiveError, iter_records, read_record
from archive.replay import Archive, CaptureError
from archive.writer import HttpExchange, WarcWriter

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = int(os.environ.get("CRAWLER_FUZZ_EXAMPLES", "120"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _exchange(url: str, body: bytes, headers: list[tuple[str, str]]) -> HttpExchange:
    return HttpExchange(url=url, date=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), method="GET",
                        request_headers=[("Host", "example.org"), ("User-Agent", "fuzz")], request_body=b"",
                        status=200, reason="OK", protocol="HTTP/1.1", response_headers=headers, body=body)


def _build_seed() -> tuple[bytes, list[tuple[int, int]]]:
    """A small valid gzip WARC (warcinfo, two exchanges incl. a gzip body, a metadata record)."""
    with tempfile.TemporaryDirectory() as tmp:
        writer = WarcWriter(Path(tmp), hostname="fuzz", pid=1, warcinfo={"software": "fuzz"})
        page = b"<html><head><title>T</title></head><body><p>Hello fuzz</p></body></html>"
        r1, _ = writer.write_exchange(_exchange("http://example.org/a", page,
                                                [("Content-Type", "text/html; charset=utf-8")]))
        r2, _ = writer.write_exchange(_exchange("http://example.org/b", gzip.compress(page * 20, mtime=0),
                                                [("Content-Type", "text/html"), ("Content-Encoding", "gzip")]))
        m = writer.write_metadata(url="http://example.org/a", concurrent_to=r1.record_id,
                                  date=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), payload=b'{"x": 1}')
        [path] = writer.close()
        return path.read_bytes(), [(r1.offset, r1.length), (r2.offset, r2.length), (m.offset, m.length)]


SEED, LOCATIONS = _build_seed()
PLAIN = b"".join(gzip.decompress(SEED[o:o + n]) for o, n in [(0, LOCATIONS[0][0])] + LOCATIONS)


@st.composite
def mutated(draw: st.DrawFn, base: bytes) -> bytes:
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "splice", "digits"]))
        if not data:
            break
        pos = draw(st.integers(0, len(data) - 1))
        if kind == "truncate":
            del data[pos:]
        elif kind == "flip":
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=64))
        elif kind == "delete":
            del data[pos:pos + draw(st.integers(1, 64))]
        elif kind == "splice":  # a copy of another part of the file (duplicated or misplaced headers)
            start = draw(st.integers(0, len(data) - 1))
            data[pos:pos] = data[start:start + draw(st.integers(1, 200))]
        else:  # a number made huge or negative (Content-Length and friends)
            data[pos:pos] = draw(st.sampled_from([b"99999999999", b"-1", b"0", b"18446744073709551616"]))
    return bytes(data)


def _check_readers(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("fuzz" + suffix)
        path.write_bytes(data)
        # archive.reader: iterate everything and decode every payload; ArchiveError is the only error
        try:
            for rec in iter_records(path):
                try:
                    _ = rec.payload
                except ArchiveError:
                    pass  # one record's payload is corrupt: reported per record, iteration goes on
        except ArchiveError:
            pass
        for offset, length in LOCATIONS:
            try:
                read_record(path, offset, length)
            except ArchiveError:
                pass
        # archive.cdxj: never raises, reports bad records
        scan = scan_warc(path)
        assert all(p.message for p in scan.problems)
        # the streaming scan (reextract's) finds the same lines and problems, in file order
        items = list(iter_scan(path))
        assert [i for i in items if not isinstance(i, BadRecord)] == list(scan.lines)
        assert [i for i in items if isinstance(i, BadRecord)] == list(scan.problems)
        # archive.replay: every indexed line loads or raises CaptureError
        data_dir = Path(tmp) / "data"
        (data_dir / "warc").mkdir(parents=True)
        (data_dir / "warc" / path.name).write_bytes(data)
        archive = Archive(data_dir)
        for line in scan.lines:
            try:
                archive.load(line)
            except CaptureError:
                pass


@FUZZ
@given(mutated(SEED))
def test_mutated_gzip_warc(data: bytes) -> None:
    _check_readers(data, ".warc.gz")


@FUZZ
@given(mutated(PLAIN))
def test_mutated_plain_warc(data: bytes) -> None:
    _check_readers(data, ".warc")


@FUZZ
@given(mutated(PLAIN))
def test_mutated_records_recompressed(data: bytes) -> None:
    """Damage inside valid gzip members: the WARC parser sees it, not the gzip CRC check."""
    _check_readers(gzip.compress(data, mtime=0), ".warc.gz")


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes(data: bytes) -> None:
    _check_readers(data, ".warc.gz")
    _check_readers(data, ".warc")


# --- the command-line verbs on damaged files ------------------------------------------------------------

def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ}
    env.pop("CRAWLER_DATA_DIR", None)
    return subprocess.run([sys.executable, "-m", "crawler.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=180)


@pytest.fixture(scope="module")
def damaged_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("damaged") / "data"
    (data / "warc").mkdir(parents=True)
    cut = LOCATIONS[1][0] + LOCATIONS[1][1] // 2          # in the middle of the second response
    (data / "warc" / "cut.warc.gz").write_bytes(SEED[:cut])
    flipped = bytearray(SEED)
    flipped[LOCATIONS[0][0] + 20] ^= 0xFF                  # inside the first response's gzip member
    (data / "warc" / "flipped.warc.gz").write_bytes(bytes(flipped))
    return data


def _one_line_per_problem(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert stderr.strip(), "no error message"


def test_index_reports_bad_records_and_exits_non_zero(damaged_dir: Path) -> None:
    proc = _cli("index", "--data-dir", str(damaged_dir))
    assert proc.returncode != 0
    _one_line_per_problem(proc.stderr)
    assert "cut.warc.gz" in proc.stderr and "flipped.warc.gz" in proc.stderr


def test_reextract_reports_bad_records_and_exits_non_zero(damaged_dir: Path) -> None:
    proc = _cli("reextract", "--data-dir", str(damaged_dir), "--workers", "1")
    assert proc.returncode != 0, proc.stdout + proc.stderr
    _one_line_per_problem(proc.stderr)


def test_replay_get_of_a_record_damaged_after_indexing_exits_non_zero(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "warc").mkdir(parents=True)
    warc = data / "warc" / "rot.warc.gz"
    warc.write_bytes(SEED)
    assert _cli("index", "--data-dir", str(data)).returncode == 0
    rotten = bytearray(SEED)
    rotten[LOCATIONS[0][0] + LOCATIONS[0][1] // 2] ^= 0xFF   # bit rot inside the indexed record of /a
    warc.write_bytes(bytes(rotten))
    proc = _cli("replay", "get", "http://example.org/a", "--data-dir", str(data))
    assert proc.returncode != 0
    _one_line_per_problem(proc.stderr)
    assert "rot.warc.gz" in proc.stderr
