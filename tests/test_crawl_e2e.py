"""End to end: the real `crawler` tool and `scrapy crawl` against the demo site on 127.0.0.1.

Each crawl runs in its own process (Twisted's reactor runs once per process), writes real WARC files,
JSON records and a catalog, and everything written is read back and checked against the site's truth.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.reader import read_record
from archive.records import validate

ROOT = Path(__file__).resolve().parents[1]
FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "EXTRACT_WORKERS=2"]


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("CRAWLER_DATA_DIR", None)
    return subprocess.run(
        [sys.executable, "-m", "crawler.cli", *args],
        cwd=cwd or ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )


def read_records(data_dir: Path) -> list[dict[str, Any]]:
    records = []
    for path in sorted((data_dir / "records").glob("*.jsonl")):
        with path.open(encoding="utf-8") as fh:
            records += [json.loads(line) for line in fh if line.strip()]
    return records


def warc_files(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "warc").glob("*.warc.gz"))


@pytest.fixture(scope="module")
def crawled(demo_site: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path, subprocess.CompletedProcess[str]]:
    data_dir = tmp_path_factory.mktemp("crawl") / "data"
    demo_site.clear_requests()
    proc = run_cli("crawl", "news", "--seed", demo_site.base_url + "/", "--data-dir", str(data_dir), *FAST)
    assert proc.returncode == 0, proc.stderr
    return demo_site, data_dir, proc


def test_every_article_archived_once_with_its_metadata(crawled: Any) -> None:
    site, data_dir, _ = crawled
    records = read_records(data_dir)
    by_url = Counter(r["url"] for r in records)
    assert [u for u, n in by_url.items() if n > 1] == []
    articles = {r["url"]: r for r in records if r["kind"] == "article"}
    for truth in site.truth:
        assert truth.url in articles, f"article not archived: {truth.url}"
        rec = articles[truth.url]
        assert rec["title"] == truth.title
        assert rec["authors"] == list(truth.authors)
        assert rec["published"][:19] == truth.published[:19]
        for paragraph in truth.text.split("\n"):
            assert paragraph in rec["text"]
        assert rec["word_count"] == len(rec["text"].split())
    assert len(articles) == len(site.truth), sorted(set(articles) - {t.url for t in site.truth})


def test_records_validate_against_the_schema(crawled: Any) -> None:
    _, data_dir, _ = crawled
    records = read_records(data_dir)
    assert records
    for rec in records:
        validate(rec)
        assert rec["fetched_at"].endswith("Z")


def test_warcs_pass_warcio_check_and_pointers_read_back(crawled: Any) -> None:
    _, data_dir, _ = crawled
    files = warc_files(data_dir)
    assert files and not list((data_dir / "warc").glob("*.open"))
    for path in files:
        check = subprocess.run([sys.executable, "-m", "warcio.cli", "check", str(path)],
                               capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
    for rec in read_records(data_dir):
        w = rec["warc"]
        archived = read_record(data_dir / "warc" / w["filename"], w["offset"], w["length"])
        assert archived.rec_type == "response"
        assert archived.target_uri == rec["url"]
        assert archived.record_id == w["record_id"]
        assert archived.payload_digest == w["payload_digest"]


def test_warc_holds_every_exchange(crawled: Any) -> None:
    site, data_dir, _ = crawled
    types: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    uris = set()
    concurrent: dict[str, str] = {}
    response_ids = set()
    for path in warc_files(data_dir):
        with path.open("rb") as fh:
            first = True
            for record in ArchiveIterator(fh):
                rtype = record.rec_headers.get_header("WARC-Type")
                if first:
                    assert rtype == "warcinfo"
                    first = False
                types[rtype] += 1
                uri = record.rec_headers.get_header("WARC-Target-URI")
                if rtype == "response":
                    statuses[int(record.http_headers.get_statuscode())] += 1
                    uris.add(uri)
                    response_ids.add(record.rec_headers.get_header("WARC-Record-ID"))
                    assert not uri.startswith("<")
                    assert record.rec_headers.get_header("WARC-Payload-Digest")
                    assert record.rec_headers.get_header("WARC-Block-Digest")
                if rtype == "revisit":
                    response_ids.add(record.rec_headers.get_header("WARC-Record-ID"))
                if rtype in ("request", "metadata"):
                    concurrent[record.rec_headers.get_header("WARC-Record-ID")] = record.rec_headers.get_header(
                        "WARC-Concurrent-To"
                    )
    assert types["request"] == types["response"] + types["revisit"]   # a URL fetched twice in a run (robots.txt) gives a revisit
    assert types["metadata"] >= len(site.truth)
    assert set(concurrent.values()) <= response_ids
    assert site.base_url.rstrip("/") + "/robots.txt" in uris
    assert statuses[301] >= 1 and statuses[404] >= 1


def test_robots_disallowed_pages_never_fetched(crawled: Any) -> None:
    site, _, _ = crawled
    fetched = {path for method, path, _headers in site.requests}
    for url in site.disallowed_urls:
        assert urlsplit(url).path not in fetched


def test_tracking_duplicates_fetched_once(crawled: Any) -> None:
    site, _, _ = crawled
    gets = Counter(urlsplit(path).path for method, path, _headers in site.requests if method == "GET")
    for truth in site.truth:
        assert gets[urlsplit(truth.url).path] == 1, truth.url


def test_summary_and_catalog_commands(crawled: Any) -> None:
    site, data_dir, proc = crawled
    assert "articles: " in proc.stdout and str(data_dir / "warc") in proc.stdout
    listing = run_cli("list", "--data-dir", str(data_dir), "--kind", "article")
    assert listing.returncode == 0, listing.stderr
    assert len(listing.stdout.strip().splitlines()) == len(site.truth)
    truth = site.truth[0]
    shown = run_cli("show", truth.url, "--text", "--data-dir", str(data_dir))
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == truth.title
    assert lines[2] == "By " + ", ".join(truth.authors)
    assert f"Original url: {truth.url}" in shown.stdout
    as_json = json.loads(run_cli("show", truth.url, "--data-dir", str(data_dir)).stdout)
    assert as_json["url"] == truth.url


def test_single_article_archives_just_that_page(demo_site: Any, tmp_path: Path) -> None:
    truth = demo_site.truth[3]
    for verb in (["crawl", "news", "--seed", truth.url], ["archive", truth.url]):
        data_dir = tmp_path / verb[0]
        proc = run_cli(*verb, "--data-dir", str(data_dir), *FAST)
        assert proc.returncode == 0, proc.stderr
        records = read_records(data_dir)
        assert [(r["url"], r["kind"]) for r in records] == [(truth.url, "article")]
        assert records[0]["title"] == truth.title


def test_scrapy_crawl_writes_the_same_records(crawled: Any, tmp_path: Path) -> None:
    site, data_dir, _ = crawled
    other = tmp_path / "scrapy-data"
    proc = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "news", "-a", f"seeds={site.base_url}/",
         "-s", f"ARCHIVE_DATA_DIR={other}", "-s", "LOG_LEVEL=WARNING", *FAST, "-o", str(tmp_path / "feed.jsonl")],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stderr

    def key(records: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
        return {(r["url"], r["kind"], r["title"], tuple(r["authors"]), r["published"], r["text"]) for r in records}

    assert key(read_records(other)) == key(read_records(data_dir))
    fed = [json.loads(line) for line in (tmp_path / "feed.jsonl").read_text().splitlines()]
    assert key(fed) == key(read_records(other))


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["crawl", "nosuchspider", "--seed", "http://127.0.0.1:9/"], "unknown spider"),
        (["crawl", "news", "--seed", "not a url"], "not a url"),
        (["crawl", "news", "--seed", "ftp://example.org/"], "ftp"),
        (["crawl", "news"], "no seeds"),
        (["crawl", "news", "--seed", "http://127.0.0.1:9/", "--max-pages", "0"], "--max-pages"),
        (["crawl", "news", "--seed", "http://127.0.0.1:9/", "--bogus"], "unrecognized arguments"),
        (["list", "--since", "yesterday"], "--since"),
        (["crawl", "news", "--seed", "http://127.0.0.1:9/", "-s", "EXTRACT_ENGINE=bogus"], "EXTRACT_ENGINE"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(argv: list[str], needle: str, tmp_path: Path) -> None:
    if argv[0] == "list":
        (tmp_path / "data").mkdir()
        (tmp_path / "data" / "catalog.sqlite").write_bytes(b"")
    proc = run_cli(*argv, "--data-dir", str(tmp_path / "data"))
    assert proc.returncode == 2
    assert needle in proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= 2  # argparse adds a usage line; ours is one line


def test_unwritable_data_dir(tmp_path: Path, demo_site: Any) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    proc = run_cli("crawl", "news", "--seed", demo_site.base_url, "--data-dir", str(blocker / "data"))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "data directory" in proc.stderr


def test_dead_server_exits_1_with_a_clear_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = run_cli("crawl", "news", "--seed", f"http://127.0.0.1:{port}/", "--data-dir", str(tmp_path / "d"),
                   *FAST, "-s", "RETRY_TIMES=0")
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith("crawler: error: nothing could be fetched")
    assert "Traceback" not in proc.stderr and len(lines) <= 2  # at most one warning (robots) before it
