"""The SQLite catalog: round trips, filters, batching, schema versioning."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from archive.catalog import SCHEMA_VERSION, Catalog, CatalogError
from archive.records import Record, RecordStore, iter_jsonl
from archive.writer import WarcLocation


def record(url: str, fetched_at: str, kind: str = "article", run_id: str = "run1", **kw: Any) -> Record:
    loc = WarcLocation("crawl-1.warc.gz", 100, 50, "<urn:uuid:1>", "sha1:" + "B" * 32)
    return Record(run_id=run_id, url=url, fetched_at=fetched_at, status=200, kind=kind, warc=loc,
                  title=kw.pop("title", f"title of {url}"), authors=kw.pop("authors", ["A. Writer"]), **kw)  # fmt: skip


def capture(catalog: Catalog, url: str, fetched_at: str | datetime, status: int = 200, offset: int = 0) -> None:
    catalog.add_capture(url=url, fetched_at=fetched_at, status=status, mime="text/html",
                        payload_digest="sha1:" + "C" * 32, warc_filename="crawl-1.warc.gz", warc_offset=offset,
                        warc_length=10, record_id=f"<urn:uuid:{offset}>", warc_type="response", run_id="run1")  # fmt: skip


def test_captures_round_trip_and_filter(tmp_path: Path) -> None:
    with Catalog(tmp_path / "catalog.sqlite") as cat:
        capture(cat, "https://a.example.org/1", "2026-11-01T10:00:00Z", offset=1)
        capture(cat, "https://a.example.org/1", "2026-11-02T10:00:00.5Z", offset=2)
        capture(cat, "https://B.example.org/2", "2026-11-02T10:00:00Z", status=404, offset=3)
        capture(cat, "https://a.example.org/robots.txt", datetime(2026, 11, 3, tzinfo=UTC), offset=4)
        rows = cat.captures()
        assert [r["warc_offset"] for r in rows] == [1, 3, 2, 4]  # time order, sub-second precision kept
        assert rows[0] == {
            "id": 1, "url": "https://a.example.org/1", "site": "a.example.org", "fetched_at": "2026-11-01T10:00:00Z",
            "status": 200, "mime": "text/html", "payload_digest": "sha1:" + "C" * 32,
            "warc_filename": "crawl-1.warc.gz", "warc_offset": 1, "warc_length": 10, "record_id": "<urn:uuid:1>",
            "warc_type": "response", "run_id": "run1",
        }  # fmt: skip
        assert rows[2]["fetched_at"] == "2026-11-02T10:00:00.500000Z"
        assert [r["warc_offset"] for r in cat.captures(url="https://a.example.org/1")] == [1, 2]
        assert [r["warc_offset"] for r in cat.captures(site="b.example.org")] == [3]
        assert [r["warc_offset"] for r in cat.captures(site="A.example.org", since="2026-11-02")] == [2, 4]
        assert [r["warc_offset"] for r in cat.captures(until="2026-11-02T10:00:00.5Z")] == [1, 3]
        assert [r["warc_offset"] for r in cat.captures(since="2026-11-02T11:00:00+01:00")] == [3, 2, 4]
        assert len(cat.captures(limit=2)) == 2
        with pytest.raises(ValueError, match="not an ISO 8601"):
            cat.captures(since="last week")


def test_records_round_trip_latest_and_filters(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = RecordStore(data / "records", "run1")
    old = record("https://www.example.org/a", "2026-11-01T00:00:00Z")
    new = record("https://www.example.org/a", "2026-11-05T00:00:00Z", canonical_url="https://www.example.org/A",
                 authors=["Анна", "Bob"])  # fmt: skip
    page = record("https://www.example.org/", "2026-11-03T00:00:00Z", kind="page")
    other = record("https://news.example.com/x", "2026-11-04T00:00:00Z")
    with Catalog(data / "catalog.sqlite") as cat:
        for r in (old, new, page, other):
            cat.add_record(r, store.append(r))
        latest = cat.latest_record("https://www.example.org/a")
        assert latest is not None and latest["id"] == new.id
        assert latest["records_file"] == "records/run1.jsonl"  # relative to the data directory
        assert latest["authors"] == ["Анна", "Bob"] and latest["site"] == "www.example.org"
        assert latest["warc_filename"] == "crawl-1.warc.gz" and latest["warc_offset"] == 100
        assert latest["payload_digest"] == "sha1:" + "B" * 32
        # the full record behind the row, as the CLI loads it
        full = next(d for d in iter_jsonl(data / latest["records_file"]) if d["id"] == latest["id"])
        assert Record.from_dict(full) == new
        assert cat.latest_record("https://www.example.org/A") == latest  # by canonical URL
        assert cat.latest_record("https://nowhere.example/") is None
        assert [r["id"] for r in cat.records_for("https://www.example.org/a")] == [old.id, new.id]
        assert [r["id"] for r in cat.records()] == [old.id, page.id, other.id, new.id]
        assert [r["id"] for r in cat.records(site="www.example.org", kind="article")] == [old.id, new.id]
        assert [r["id"] for r in cat.records(since="2026-11-02", until="2026-11-05")] == [page.id, other.id]
        assert [r["id"] for r in cat.records(kind="page")] == [page.id]
        assert [r["id"] for r in cat.records(limit=1)] == [old.id]
        assert cat.records(run_id="other") == []
    store.close()


def test_runs(tmp_path: Path) -> None:
    with Catalog(tmp_path / "c.sqlite") as cat:
        cat.start_run("run1", "news", {"seeds": ["https://a/"], "depth": 2},
                      started_at="2026-11-01T00:00:00Z")  # fmt: skip
        cat.start_run("run2", "themoscowtimes", {}, started_at="2026-11-02T00:00:00Z")
        cat.finish_run("run1", {"pages": 3, "when": datetime(2026, 1, 1)}, "finished",
                       finished_at="2026-11-01T01:00:00Z")  # fmt: skip
        with pytest.raises(ValueError, match="run 'run1' already exists"):
            cat.start_run("run1", "news", {})
        with pytest.raises(KeyError, match="no run 'nope'"):
            cat.finish_run("nope", {}, "finished")
        runs = cat.runs()
        assert [r["run_id"] for r in runs] == ["run2", "run1"]
        assert runs[1] == {
            "run_id": "run1", "spider": "news", "args": {"seeds": ["https://a/"], "depth": 2},
            "started_at": "2026-11-01T00:00:00Z", "finished_at": "2026-11-01T01:00:00Z", "status": "finished",
            "stats": {"pages": 3, "when": "2026-01-01 00:00:00"},
        }  # fmt: skip
        assert runs[0]["status"] == "running" and runs[0]["finished_at"] is None
        assert [r["run_id"] for r in cat.runs(status="running")] == ["run2"]
        assert cat.run("run2") == runs[0]


def test_writes_are_batched_and_committed(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    writer = Catalog(path, batch_size=3)
    reader = Catalog(path)
    capture(writer, "https://a/1", "2026-11-01T00:00:00Z", offset=1)
    capture(writer, "https://a/2", "2026-11-01T00:00:00Z", offset=2)
    assert reader.captures() == []  # buffered, not committed yet
    capture(writer, "https://a/3", "2026-11-01T00:00:00Z", offset=3)
    assert len(reader.captures()) == 3  # third row filled the batch
    capture(writer, "https://a/4", "2026-11-01T00:00:00Z", offset=4)
    assert len(writer.captures()) == 4  # a connection sees its own rows (reads commit first)
    capture(writer, "https://a/5", "2026-11-01T00:00:00Z", offset=5)
    writer.close()
    writer.close()  # idempotent
    assert len(reader.captures()) == 5
    with pytest.raises(RuntimeError, match="closed"):
        writer.captures()
    reader.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_lookups_of_one_url_see_its_buffered_rows_and_leave_the_others_buffered(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with Catalog(path) as writer, Catalog(path) as reader:
        capture(writer, "https://a/1", "2026-11-01T00:00:00Z", offset=1)
        assert writer.capture_history("https://a/2") is None  # about another URL: nothing flushed
        assert reader.captures() == []
        found = writer.capture_history("https://a/1")  # about a buffered row: flushed first
        assert found is not None and found[2] is not None and found[2]["warc_offset"] == 1
        assert len(reader.captures()) == 1
        writer.add_record(record("https://a/x", "2026-11-01T00:00:00Z", canonical_url="https://a/canon"), "r.jsonl")
        assert writer.latest_record("https://a/y") is None and reader.records() == []
        latest = writer.latest_record("https://a/canon")  # canonical_url counts as the record's URL
        assert latest is not None and latest["url"] == "https://a/x"
        assert len(reader.records()) == 1
        # a crawl's item asks for the latest record of the URL whose capture row its response just buffered:
        # that row is of the other table, nothing is flushed (else every page would commit on its own)
        capture(writer, "https://a/z", "2026-11-01T00:00:00Z", offset=2)
        assert writer.latest_record("https://a/z") is None and len(reader.captures()) == 1
        writer.add_record(record("https://a/z", "2026-11-01T00:00:00Z"), "r.jsonl")
        assert writer.capture_history("https://a/w") is None and len(reader.records()) == 1
        assert writer.capture_history("https://a/z") is not None and len(reader.captures()) == 2


def test_buffered_rows_do_not_lock_out_other_writers(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with Catalog(path) as crawl_a, Catalog(path) as crawl_b:
        capture(crawl_a, "https://a/1", "2026-11-01T00:00:00Z", offset=1)  # buffered in a
        crawl_b.start_run("run-b", "news", {})  # b writes and commits meanwhile
        capture(crawl_b, "https://b/1", "2026-11-01T00:00:01Z", offset=2)
        crawl_b.commit()
        assert [r["warc_offset"] for r in crawl_b.captures()] == [2]
        assert [r["warc_offset"] for r in crawl_a.captures()] == [1, 2]
    with Catalog(path, max_delay=0) as eager, Catalog(path) as reader:
        capture(eager, "https://a/2", "2026-11-01T00:00:02Z", offset=3)  # max_delay=0: committed at once
        assert len(reader.captures()) == 3


def test_shared_between_threads(tmp_path: Path) -> None:
    with Catalog(tmp_path / "c.sqlite", batch_size=7) as cat:
        def work(n: int) -> None:
            for i in range(50):
                capture(cat, f"https://t{n}/{i}", "2026-11-01T00:00:00Z", offset=n * 100 + i)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(cat.captures()) == 200


def test_refuses_newer_schema_and_non_catalogs(tmp_path: Path) -> None:
    newer = tmp_path / "newer.sqlite"
    with sqlite3.connect(newer) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(CatalogError, match="upgrade"):
        Catalog(newer)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(CatalogError, match="cannot open the catalog"):
        Catalog(junk)
    # reopening an existing catalog keeps its rows
    with Catalog(tmp_path / "c.sqlite") as cat:
        capture(cat, "https://a/1", "2026-11-01T00:00:00Z")
    with Catalog(tmp_path / "c.sqlite") as cat:
        assert len(cat.captures()) == 1


_OPEN_AT = """
import sys, time
from archive.catalog import Catalog
start = float(sys.argv[2])
while time.time() < start:
    pass
Catalog(sys.argv[1]).close()
"""


def test_processes_creating_one_new_catalog_at_once_all_open_it(tmp_path: Path) -> None:
    """The processes of `crawl --processes N` open a new data directory's catalog at the same moment:
    SQLite's switch to WAL could answer "database is locked" at once (before the retry this test failed
    2 runs of 3)."""
    import subprocess
    import sys
    import time

    for trial in range(3):
        path = tmp_path / f"t{trial}" / "catalog.sqlite"
        path.parent.mkdir()
        start = time.time() + 1.0
        procs = [subprocess.Popen([sys.executable, "-c", _OPEN_AT, str(path), str(start)], stderr=subprocess.PIPE,
                                  text=True) for _ in range(6)]
        errors = [p.communicate(timeout=60)[1] for p in procs]
        assert [p.returncode for p in procs] == [0] * 6, errors
        catalog = Catalog(path)
        try:
            assert catalog.runs() == []
        finally:
            catalog.close()
