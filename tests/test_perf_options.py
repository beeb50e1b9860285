"""The crawl path's performance options, each crawling the demo site on 127.0.0.1 in a real process:
archive mode (``--no-extract``) whose records ``crawler reextract`` fills later, WARC writing on the
reactor thread instead of the writer thread (``ARCHIVE_WRITER_THREAD=False``), and the fast extraction
engine (``EXTRACT_ENGINE=fast``). Everything written is read back."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from archive.catalog import Catalog
from archive.reader import read_record
from crawler.extraction_fast import extract_fast

ROOT = Path(__file__).resolve().parents[1]
FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "EXTRACT_WORKERS=1"]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CRAWLER_DATA_DIR"}
    return subprocess.run([sys.executable, "-m", "crawler.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=240)


def crawl(site: Any, data_dir: Path, *extra: str) -> None:
    proc = cli("crawl", "news", "--seed", site.base_url + "/", "--data-dir", str(data_dir), *FAST, *extra)
    assert proc.returncode == 0, proc.stderr


def records(data_dir: Path) -> list[dict[str, Any]]:
    out = []
    for path in sorted((data_dir / "records").glob("*.jsonl")):
        out += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return out


def assert_captures_read_back(data_dir: Path) -> int:
    """Every catalog capture points at a WARC record of its URL whose payload has the recorded digest."""
    catalog = Catalog(data_dir / "catalog.sqlite")
    try:
        captures = catalog.captures()
    finally:
        catalog.close()
    assert captures
    for cap in captures:
        rec = read_record(data_dir / "warc" / cap["warc_filename"], cap["warc_offset"], cap["warc_length"])
        assert rec.rec_type in ("response", "revisit")
        assert rec.target_uri == cap["url"]
        assert rec.payload_digest == cap["payload_digest"]
    return len(captures)


def test_archive_mode_then_reextract_fills_the_records(demo_site: Any, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    crawl(demo_site, data_dir, "--no-extract")
    assert assert_captures_read_back(data_dir) > len(demo_site.truth)
    crawled = {r["url"]: r for r in records(data_dir)}
    assert all(crawled[t.url]["text"] == "" for t in demo_site.truth)  # archive mode: no extraction yet
    proc = cli("reextract", "--data-dir", str(data_dir))
    assert proc.returncode == 0, proc.stderr
    filled = {r["url"]: r for r in records(data_dir) if r["text"]}
    for truth in demo_site.truth:
        rec = filled[truth.url]
        assert rec["title"] == truth.title
        for paragraph in truth.text.split("\n"):
            assert paragraph in rec["text"]


def test_writing_on_the_reactor_thread_archives_the_same_pages(demo_site: Any, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    crawl(demo_site, data_dir, "-s", "ARCHIVE_WRITER_THREAD=False", "--no-extract")
    assert_captures_read_back(data_dir)
    urls = {r["url"] for r in records(data_dir)}
    assert {t.url for t in demo_site.truth} <= urls


def test_fast_engine_crawl_keeps_article_text_and_head_metadata(demo_site: Any, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    crawl(demo_site, data_dir, "-s", "EXTRACT_ENGINE=fast")
    by_url = {r["url"]: r for r in records(data_dir)}
    for truth in demo_site.truth:
        rec = by_url[truth.url]
        assert rec["extraction_error"] is None
        assert truth.title in rec["title"]
        for paragraph in truth.text.split("\n"):
            assert paragraph in rec["text"], (truth.url, truth.markup)
        if truth.has_og:
            assert rec["image"] == truth.image


def test_fast_engine_on_junk_input() -> None:
    assert extract_fast("", "http://127.0.0.1/").text == ""
    assert extract_fast("   \n", "http://127.0.0.1/").title is None
    result = extract_fast("<p>only a paragraph, no head at all</p>", "http://127.0.0.1/x")
    assert result.canonical_url == "http://127.0.0.1/x"
    assert result.authors == () and result.tags == ()


def test_unknown_engine_is_a_one_line_error(demo_site: Any, tmp_path: Path) -> None:
    proc = cli("crawl", "news", "--seed", demo_site.base_url + "/", "--data-dir", str(tmp_path / "d"), *FAST,
               "-s", "EXTRACT_ENGINE=turbo", "--max-pages", "1")
    assert proc.returncode != 0
    assert "EXTRACT_ENGINE must be one of default, fast" in proc.stderr + proc.stdout


def _analysed_in_process(data_dir: Path) -> int:
    log = next((data_dir / "runs").glob("*.log")).read_text(encoding="utf-8")
    found = re.search(r"'news/analysed_in_process': (\d+)", log)
    return int(found.group(1)) if found else 0


def test_archive_mode_analyses_pages_in_a_helper_process_with_the_same_result(demo_site: Any,
                                                                              tmp_path: Path) -> None:
    """SPIDER_ANALYSIS_PROCESS ("auto": on in archive mode with 2+ cores) finds the same pages, kinds and
    links as the analysis on the reactor thread."""
    crawled = {}
    for name, extra in (("helper", ("-s", "SPIDER_ANALYSIS_PROCESS=True")),
                        ("here", ("-s", "SPIDER_ANALYSIS_PROCESS=False"))):
        data_dir = tmp_path / name
        crawl(demo_site, data_dir, "--no-extract", *extra)
        assert_captures_read_back(data_dir)
        crawled[name] = {r["url"]: r["kind"] for r in records(data_dir)}
        if name == "helper":
            assert _analysed_in_process(data_dir) > len(demo_site.truth) / 2
        else:
            assert _analysed_in_process(data_dir) == 0
    assert crawled["helper"] == crawled["here"]
    assert {t.url for t in demo_site.truth} <= set(crawled["helper"])
