"""``crawler reextract``: records rebuilt from the WARC files of a real crawl, of wget, and of broken files."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archive.records import Record, validate
from archive.writer import HttpExchange, WarcWriter
from crawler.cli import main
from crawler.reextract import reextract
from tests.test_index import BROKEN

COMPARED = ("url", "status", "kind", "title", "authors", "published", "modified", "language", "site_name",
            "description", "image", "categories", "tags", "text", "word_count", "warc", "encoding")


def records_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def new_records(data: Path, before: set[Path]) -> list[dict[str, Any]]:
    [path] = set((data / "records").glob("*.jsonl")) - before
    return records_of(path)


def test_reextract_rebuilds_the_crawls_records_without_fetching(replay_archive: Any, tmp_path: Path,
                                                               capsys: Any) -> None:
    data = tmp_path / "data"
    shutil.copytree(replay_archive.data_dir, data, ignore=shutil.ignore_patterns("pywb"))
    before = set((data / "records").glob("*.jsonl"))
    crawled = {(r["warc"]["filename"], r["warc"]["offset"]): r for p in before for r in records_of(p)}
    replay_archive.site.clear_requests()
    assert main(["reextract", "--data-dir", str(data), "--workers", "2"]) == 0
    assert replay_archive.site.requests == []                          # nothing fetched
    out = capsys.readouterr().out
    assert "newsarchiver-crawler" in out and "trafilatura" in out
    records = new_records(data, before)
    assert len(records) == len(crawled)          # every HTML page of both runs; the revisit is not a page
    for record in records:
        validate(record)
        old = crawled[(record["warc"]["filename"], record["warc"]["offset"])]
        for name in COMPARED:
            assert record[name] == old[name], (record["url"], name)
        assert record["fetched_at"][:19] == old["fetched_at"][:19]   # from WARC-Date, to the microsecond
        assert record["id"] != old["id"] and record["run_id"] != old["run_id"]
    articles = {r["url"] for r in records if r["kind"] == "article"}
    assert {t.url for t in replay_archive.site.truth} <= articles
    # the run names the extractor, and the catalog's latest record of a page is the new one
    db = sqlite3.connect(data / "catalog.sqlite")
    try:
        run_id = records[0]["run_id"]
        spider, args, status = db.execute("SELECT spider, args, status FROM runs WHERE run_id = ?",
                                          (run_id,)).fetchone()
        assert (spider, status) == ("reextract", "finished")
        assert "trafilatura" in json.loads(args)["extractor"]
        assert db.execute("SELECT count(*) FROM records WHERE run_id = ?", (run_id,)).fetchone()[0] == len(records)
    finally:
        db.close()


def test_reextract_in_one_page_tasks_gives_the_same_records(replay_archive: Any, tmp_path: Path) -> None:
    """Pages go to the workers in chunks (one task per CHUNK pages): chunk size changes nothing but speed."""
    warcs = sorted((replay_archive.data_dir / "warc").glob("*.warc.gz"))
    runs = []
    for chunk in (1, 5):
        records: list[Record] = []
        stats = reextract(replay_archive.data_dir, warcs, run_id=f"chunk{chunk}", workers=2, chunk=chunk,
                          on_record=records.append)
        assert stats.records == stats.pages == len(records) and not stats.problems
        runs.append([{k: v for k, v in r.to_dict().items() if k not in ("id", "run_id")} for r in records])
    assert runs[0] == runs[1]
    offsets = [(r["warc"]["filename"], r["warc"]["offset"]) for r in runs[0]]
    assert offsets == sorted(offsets)                                    # WARC order


def _exchange(n: int, body: bytes, encoding: str | None = None) -> HttpExchange:
    headers = [("Content-Type", "text/html; charset=utf-8"), *([("Content-Encoding", encoding)] if encoding else [])]
    return HttpExchange(url=f"http://127.0.0.1:9/page-{n}", date=datetime(2026, 1, 2, 3, 4, n, tzinfo=UTC),
                        method="GET", request_headers=[("Host", "127.0.0.1")], request_body=b"", status=200,
                        reason="OK", protocol="HTTP/1.1", response_headers=headers, body=body)


_PAGE = "<html><head><title>Page {n}</title></head><body><article><h1>Page {n}</h1>{body}</article></body></html>"


def test_reextract_time_box_gives_a_pathological_page_a_record_with_the_error(tmp_path: Path) -> None:
    """A chunk over the time limit is run again page by page; the page over it (3 MB of paragraphs: about
    half a minute of extraction, ten times the limit) gets a record saying so, its neighbours theirs."""
    data = tmp_path / "data"
    huge = "".join(f"<div><p>Paragraph {i} with some words in it.</p></div>" for i in range(60_000))
    with WarcWriter(data / "warc") as writer:
        for n, body in ((1, "<p>Some words here.</p>"), (2, huge), (3, "<p>Other words there.</p>")):
            writer.write_exchange(_exchange(n, _PAGE.format(n=n, body=body).encode()))
    assert main(["reextract", "--data-dir", str(data), "--timeout", "3"]) == 0
    records = {r["url"].rsplit("/", 1)[1]: r for r in new_records(data, set())}
    assert sorted(records) == ["page-1", "page-2", "page-3"]
    slow = records["page-2"]
    validate(slow)
    assert slow["extraction_error"] == "extraction timed out after 3 s"
    assert slow["kind"] == "page" and slow["text"] == "" and slow["warc"]["offset"] > 0


def test_reextract_reads_wget_warcs(demo_site: Any, demo_wget_warc: Path, tmp_path: Path, capsys: Any) -> None:
    warc = demo_wget_warc
    data = tmp_path / "data"
    assert main(["reextract", "--data-dir", str(data), str(warc)]) == 0
    records = new_records(data, set())
    by_url = {r["url"]: r for r in records}
    for truth in demo_site.truth:
        record = by_url[truth.url]
        assert record["title"] == truth.title and record["kind"] == "article"
        assert record["warc"]["filename"] == "site.warc.gz"
        for paragraph in truth.text.split("\n"):
            assert paragraph in record["text"]


def test_reextract_reports_bad_records_and_keeps_going(tmp_path: Path, capsys: Any) -> None:
    data = tmp_path / "data"
    shutil.copytree(BROKEN, data / "warc", ignore=shutil.ignore_patterns("*.py"))
    assert main(["reextract", "--data-dir", str(data)]) == 1
    captured = capsys.readouterr()
    assert "corrupt-member.warc.gz at offset 367" in captured.err
    assert "truncated.warc.gz at offset 367" in captured.err
    titles = sorted(r["title"] for r in new_records(data, set()))
    assert titles == ["Page 1", "Page 10", "Page 3", "Page 4", "Page 6", "Page 8"]


def test_reextract_decodes_a_payload_as_the_crawl_did(tmp_path: Path, capsys: Any) -> None:
    """A body labelled gzip that is not gzip is used as it is (as the crawl does: README, Redirects and content
    coding), and a gzip body that does not decode is that page's extraction_error: neither is a bad record,
    the archive is intact, and the other pages get their records."""
    data = tmp_path / "data"
    html = "<html><head><title>Page {n}</title></head><body><article><h1>Page {n}</h1><p>{text}</p></article></body></html>"
    with WarcWriter(data / "warc") as writer:
        writer.write_exchange(_exchange(1, html.format(n=1, text="Some words here. " * 20).encode()))
        writer.write_exchange(_exchange(2, html.format(n=2, text="Plain words. " * 20).encode(), "gzip"))
        writer.write_exchange(_exchange(3, b"\x1f\x8b\x08\x00" + b"\xff" * 40, "gzip"))
    assert main(["reextract", "--data-dir", str(data)]) == 0
    assert "bad record" not in capsys.readouterr().err
    records = {r["url"]: r for r in new_records(data, set())}
    assert sorted(records) == [f"http://127.0.0.1:9/page-{n}" for n in (1, 2, 3)]
    assert records["http://127.0.0.1:9/page-2"]["title"] == "Page 2"
    assert records["http://127.0.0.1:9/page-2"]["extraction_error"] is None
    assert "content decoding failed" in records["http://127.0.0.1:9/page-3"]["extraction_error"]


def test_reextract_usage_errors(tmp_path: Path) -> None:
    assert main(["reextract", "--data-dir", str(tmp_path)]) == 2
    assert main(["reextract", "--data-dir", str(tmp_path), str(tmp_path / "missing.warc.gz")]) == 2
    assert main(["reextract", "--data-dir", str(tmp_path), "--timeout", "0", str(BROKEN / "truncated.warc.gz")]) == 2
