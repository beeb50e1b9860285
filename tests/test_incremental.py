"""Incremental re-crawls against the demo site: conditional requests, revisit records, article versions.

Four real crawls into one data directory. Before run 2 one article is edited and one removed (the other
pages answer 304); before run 3 one article is added, which changes the sidebar of every page but no
other article's text; run 4, with conditional requests off, meets an unchanged site, so every page comes
back 200 with the payload it had (identical-digest revisits). Everything is read back from the WARC
files, the JSON records, the catalog and the replay index.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from archive.catalog import Catalog
from archive.reader import ArchivedRecord, iter_records
from archive.records import Record, text_fingerprint, validate
from crawler.demosite import RunningServer, Site, serve
from crawler.incremental import RevisitPolicy

FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "EXTRACT_WORKERS=2"]
NOT_MODIFIED = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
IDENTICAL = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
EDIT = "A paragraph added by the editors after the first crawl."


def crawl(site: RunningServer, data_dir: Path, run_id: str, *extra: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "crawler.cli", "crawl", "news", "--seed", site.base_url + "/",
         "--data-dir", str(data_dir), "-s", f"ARCHIVE_RUN_ID={run_id}", *FAST, *extra],
        capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@dataclass(frozen=True)
class Recrawl:
    site: RunningServer
    data_dir: Path
    edited: str
    added: str
    removed: str
    second_requests: list[Any]


@pytest.fixture(scope="module")
def recrawl(tmp_path_factory: pytest.TempPathFactory) -> Any:
    data_dir = tmp_path_factory.mktemp("incremental") / "data"
    with serve(Site(articles=8)) as site:
        crawl(site, data_dir, "run-1")
        truth = site.truth
        edited, removed = truth[5], truth[6]          # not in the sidebar (the 5 newest)
        site.site.edit_article(edited.id, EDIT)
        site.site.remove_article(removed.id)
        site.clear_requests()
        crawl(site, data_dir, "run-2")
        second = site.requests
        added = site.site.add_article()
        crawl(site, data_dir, "run-3")
        crawl(site, data_dir, "run-4", "-s", "INCREMENTAL_CONDITIONAL=False")
        yield Recrawl(site, data_dir, edited.url, added.url, removed.url, second)


def warc_records(data_dir: Path) -> list[ArchivedRecord]:
    return [r for path in sorted((data_dir / "warc").glob("*.warc.gz")) for r in iter_records(path)]


def records(data_dir: Path, run_id: str | None = None) -> list[dict[str, Any]]:
    out = []
    for path in sorted((data_dir / "records").glob("*.jsonl")):
        if run_id is None or path.stem == run_id:
            out += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return out


def run_of(rec: ArchivedRecord, data_dir: Path) -> str:
    with Catalog(data_dir / "catalog.sqlite") as catalog:
        rows = [c for c in catalog.captures(url=rec.target_uri) if c["record_id"] == rec.record_id]
    return str(rows[0]["run_id"])


def test_revisit_records_refer_to_the_capture_they_confirm(recrawl: Recrawl) -> None:
    warcs = warc_records(recrawl.data_dir)
    responses = {r.record_id: r for r in warcs if r.rec_type == "response"}
    revisits = [r for r in warcs if r.rec_type == "revisit"]
    profiles = Counter(r.header("WARC-Profile") for r in revisits)
    assert profiles[NOT_MODIFIED] >= 5 and profiles[IDENTICAL] >= 10, profiles
    for rev in revisits:
        original = responses[rev.header("WARC-Refers-To")]
        assert rev.header("WARC-Refers-To-Target-URI") == original.target_uri == rev.target_uri
        assert rev.header("WARC-Refers-To-Date") == original.date
        assert rev.payload_digest == original.payload_digest
        assert rev.raw_payload == b""                   # no payload: it lives in the original
        if rev.header("WARC-Profile") == NOT_MODIFIED:
            assert rev.http_status is None and rev.http_headers == ()   # empty: replay serves the original
            [head] = [m for m in warcs if m.rec_type == "metadata" and m.header("WARC-Concurrent-To") == rev.record_id]
            assert head.raw_payload.startswith(b"HTTP/1.1 304 ") and b"\r\netag: " in head.raw_payload.lower()


def test_an_unchanged_page_is_never_archived_in_full_twice(recrawl: Recrawl) -> None:
    seen: dict[tuple[str | None, str | None], int] = Counter()
    for rec in warc_records(recrawl.data_dir):
        if rec.rec_type == "response":
            seen[(rec.target_uri, rec.payload_digest)] += 1
    assert [key for key, n in seen.items() if n > 1] == []


def test_the_second_run_sends_conditional_requests(recrawl: Recrawl) -> None:
    edited_path = recrawl.edited.split("://", 1)[1].split("/", 1)[1]
    conditional = [r for r in recrawl.second_requests if any(k.lower() == "if-none-match" for k, _ in r.headers)]
    assert any(r.path == "/" + edited_path for r in conditional)
    assert any(r.path == "/" for r in conditional)
    robots = [r for r in recrawl.second_requests if r.path == "/robots.txt"]
    assert robots and not any(k.lower().startswith("if-") for r in robots for k, _ in r.headers)


def test_the_edited_article_has_two_versions(recrawl: Recrawl) -> None:
    versions = [r for r in records(recrawl.data_dir) if r["url"] == recrawl.edited]
    assert [(r["run_id"], r["version"]) for r in versions] == [("run-1", 1), ("run-2", 2)]
    first, second = versions
    assert first["previous"] is None and second["previous"] == first["id"]
    assert EDIT not in first["text"] and EDIT in second["text"]
    assert first["text_fingerprint"] != second["text_fingerprint"]
    assert second["text_fingerprint"] == text_fingerprint(second["title"], second["text"])
    for rec in versions:
        validate(rec)
        assert rec["schema_version"] == 2


def test_the_added_article_is_new_and_the_rest_is_not_stored_again(recrawl: Recrawl) -> None:
    # Exactly which other articles get a new version depends on the extractor: their related-articles
    # teasers changed too, and a teaser taken into the text is a text change. What must hold: the edited
    # and the added article are there, and no version repeats the text of the one before (below).
    second = {r["url"]: r for r in records(recrawl.data_dir, "run-2") if r["kind"] == "article"}
    assert recrawl.edited in second and recrawl.added not in second
    third = {r["url"]: r for r in records(recrawl.data_dir, "run-3") if r["kind"] == "article"}
    assert recrawl.added in third and len(third) < 8   # most articles only changed their sidebar
    assert third[recrawl.added]["version"] == 1 and third[recrawl.added]["previous"] is None
    assert recrawl.removed not in {r["url"] for r in records(recrawl.data_dir) if r["run_id"] != "run-1"}
    assert records(recrawl.data_dir, "run-4") == []       # nothing changed before the fourth run
    by_url = defaultdict(list)
    for rec in records(recrawl.data_dir):
        by_url[rec["url"]].append(rec["text_fingerprint"])
    assert [u for u, fps in by_url.items() if len(fps) != len(set(fps))] == []


def test_run_stats_count_new_changed_and_unchanged(recrawl: Recrawl) -> None:
    with Catalog(recrawl.data_dir / "catalog.sqlite") as catalog:
        stats = {r["run_id"]: r["stats"] for r in catalog.runs()}
        edited = catalog.captures(url=recrawl.edited)
        latest = catalog.latest_record(recrawl.edited)
    articles = Counter(r["run_id"] for r in records(recrawl.data_dir) if r["kind"] == "article")
    assert stats["run-1"]["incremental/new_articles"] == 8 == articles["run-1"]
    assert stats["run-2"].get("incremental/new_articles", 0) == 0
    assert stats["run-2"]["incremental/changed_articles"] == articles["run-2"] >= 1
    assert stats["run-2"]["incremental/not_modified"] >= 4          # the unchanged articles
    assert stats["run-3"]["incremental/new_articles"] == 1
    assert stats["run-3"].get("incremental/changed_articles", 0) == articles["run-3"] - 1
    assert stats["run-3"]["incremental/unchanged_text"] >= 4        # sidebar changed, text did not
    assert stats["run-4"].get("incremental/changed", 0) == 0
    assert stats["run-4"].get("incremental/not_modified", 0) == 0
    assert stats["run-4"]["incremental/identical"] >= 10
    # the edited article: full, full (edited), full (new sidebar, same text: no record), revisit
    assert [(c["run_id"], c["warc_type"]) for c in edited] == [
        ("run-1", "response"), ("run-2", "response"), ("run-3", "response"), ("run-4", "revisit")]
    assert latest is not None and latest["version"] == 2 and latest["run_id"] == "run-2"


def test_replay_resolves_both_versions_and_the_revisits(recrawl: Recrawl) -> None:
    from archive.replay import Archive

    archive = Archive(recrawl.data_dir)
    lines = archive.captures(recrawl.edited)
    bodies = [archive.load(line).body for line in lines]
    assert [line.is_revisit for line in lines] == [False, False, False, True]
    assert EDIT.encode() not in bodies[0] and EDIT.encode() in bodies[1]
    assert bodies[3] == bodies[2]
    captured = [archive.captures(t.url) for t in recrawl.site.truth if t.url != recrawl.added]
    not_modified = [lines for lines in captured if lines[1].is_revisit]     # run 2 got a 304
    assert len(not_modified) >= 3
    for lines in not_modified:
        assert archive.load(lines[1]).body == archive.load(lines[0]).body
        assert archive.load(lines[1]).original == lines[0]


# ----- units: revisit policy, fingerprints, old records and catalogs ----------------------------------


def test_revisit_policy_rechecks_recent_articles_every_run_and_old_ones_at_growing_intervals() -> None:
    policy = RevisitPolicy(recent=timedelta(hours=48), factor=0.25, max_interval=timedelta(days=30))
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    hour, day = timedelta(hours=1), timedelta(days=1)
    assert policy.due(now, first_seen=now - 10 * hour, last_seen=now - 1 * hour)
    assert not policy.due(now, first_seen=now - 8 * day, last_seen=now - 1 * day)      # every 2 days
    assert policy.due(now, first_seen=now - 8 * day, last_seen=now - 2 * day)
    assert not policy.due(now, first_seen=now - 400 * day, last_seen=now - 29 * day)   # capped at 30
    assert policy.due(now, first_seen=now - 400 * day, last_seen=now - 30 * day)
    # a sitemap/feed date newer than the last capture makes it due at once
    assert policy.due(now, first_seen=now - 8 * day, last_seen=now - 1 * day, listed_at=now - 2 * hour)
    assert not policy.due(now, first_seen=now - 8 * day, last_seen=now - 1 * day, listed_at=now - 3 * day)


def test_text_fingerprint_ignores_whitespace_but_not_words() -> None:
    a = text_fingerprint("Title", "One  paragraph.\n\nAnother one.")
    assert a == text_fingerprint("Title ", "One paragraph.\nAnother one.\n")
    assert a != text_fingerprint("Title", "One paragraph.\n\nAnother one, edited.")
    assert a != text_fingerprint("Other title", "One  paragraph.\n\nAnother one.")


def test_schema_version_1_records_still_load() -> None:
    d = Record(run_id="r", url="http://example.org/", fetched_at="2026-11-27T12:00:00Z", status=200).to_dict()
    for key in ("version", "previous", "text_fingerprint"):
        del d[key]
    d["schema_version"] = 1
    validate(d)
    rec = Record.from_dict(d)
    assert (rec.schema_version, rec.version, rec.previous, rec.text_fingerprint) == (1, 1, None, None)
    d["schema_version"] = 2
    with pytest.raises(ValueError, match="version"):
        validate(d)


def test_a_version_1_catalog_gains_the_version_columns(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE records (id TEXT PRIMARY KEY, run_id TEXT NOT NULL, url TEXT NOT NULL, canonical_url TEXT,"
        " fetched_at TEXT NOT NULL, status INTEGER NOT NULL, kind TEXT NOT NULL, title TEXT, authors TEXT NOT NULL,"
        " published TEXT, payload_digest TEXT, warc_filename TEXT, warc_offset INTEGER, warc_length INTEGER,"
        " records_file TEXT NOT NULL, site TEXT NOT NULL);"
        "INSERT INTO records VALUES ('a', 'r', 'http://example.org/', NULL, '2026-11-27T12:00:00.000000Z', 200,"
        " 'page', NULL, '[]', NULL, NULL, NULL, NULL, NULL, 'records/r.jsonl', 'example.org');"
        "PRAGMA user_version = 1;")
    db.close()
    rec = Record(run_id="r2", url="http://example.org/", fetched_at="2026-11-28T12:00:00Z", status=200,
                 version=2, previous="a" * 32, text_fingerprint=text_fingerprint(None, ""))
    with Catalog(path) as catalog:
        catalog.add_record(rec, tmp_path / "records" / "r2.jsonl")
        rows = catalog.records_for("http://example.org/")
    assert [(r["id"], r["version"], r["previous"]) for r in rows] == [("a", None, None), (rec.id, 2, "a" * 32)]


def test_pywb_serves_each_version_and_each_revisit_by_timestamp(recrawl: Recrawl) -> None:
    import urllib.error
    import urllib.request

    from archive.pywb import PywbError, find_wayback, prepare, running
    from archive.replay import Archive

    try:
        wayback = find_wayback()
    except PywbError as exc:
        pytest.fail(f"{exc} (the CI script runs 'make setup-pywb')")

    def fetch(url: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(url, timeout=60) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as err:
            with err:
                return err.code, err.read()

    archive = Archive(recrawl.data_dir)
    with running(prepare(recrawl.data_dir), wayback) as server:
        v1, v2, _, _ = archive.captures(recrawl.edited)
        for line, edited in ((v1, False), (v2, True)):
            status, body = fetch(f"{server.collection_url}{line.timestamp}id_/{recrawl.edited}")
            assert status == 200 and (EDIT.encode() in body) is edited
        captured = [archive.captures(t.url) for t in recrawl.site.truth if t.url != recrawl.added]
        for first, revisit, *_ in [lines for lines in captured if lines[1].is_revisit][:3]:   # 304 in run 2
            assert revisit.timestamp > first.timestamp
            status, body = fetch(f"{server.collection_url}{revisit.timestamp}id_/{revisit.url}")
            assert status == 200 and body == archive.load(first).body


def test_a_sitemap_date_newer_than_the_last_capture_makes_an_old_article_due_even_after_its_link(tmp_path: Path) -> None:
    """With re-check intervals far longer than the test, only the article the sitemap dates anew is fetched.

    Seeded with the home page, the spider meets the articles through links (no date) and through the
    sitemaps named in robots.txt (a plain one with ``<lastmod>``, a news one with publication dates), in
    an order of the engine's choosing: the edited article is fetched either way (``relisted`` when its
    link came first), and nothing else is.
    """
    data_dir = tmp_path / "data"
    policy = ["-s", "INCREMENTAL_RECENT_HOURS=0", "-s", "INCREMENTAL_REVISIT_FACTOR=1000"]
    with serve(Site(articles=6)) as site:
        sitemap = site.base_url + "/"     # the home page

        def crawl_sitemap(run_id: str) -> None:
            proc = subprocess.run(
                [sys.executable, "-m", "crawler.cli", "crawl", "news", "--seed", sitemap,
                 "--data-dir", str(data_dir), "-s", f"ARCHIVE_RUN_ID={run_id}", *FAST, *policy],
                capture_output=True, text=True, timeout=240)
            assert proc.returncode == 0, proc.stdout + proc.stderr

        crawl_sitemap("first")
        with Catalog(data_dir / "catalog.sqlite") as catalog:
            last = max(c["fetched_at"] for c in catalog.captures())
        while datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") <= last:
            time.sleep(0.1)          # the edit's Last-Modified (whole seconds) must be after every capture
        edited = site.truth[2]
        site.site.edit_article(edited.id, EDIT)
        site.clear_requests()
        crawl_sitemap("second")
        article_paths = {t.path for t in site.truth}
        fetched = {r.path for r in site.requests if r.path in article_paths}
        with Catalog(data_dir / "catalog.sqlite") as catalog:
            stats = catalog.run("second")["stats"]
    assert fetched == {edited.path}
    assert stats["incremental/not_due"] - stats.get("incremental/relisted", 0) == 5
    assert stats["incremental/changed_articles"] == 1
    versions = [r for r in records(data_dir) if r["url"] == edited.url]
    assert [(r["run_id"], r["version"]) for r in versions] == [("first", 1), ("second", 2)]


def test_capture_history_gives_first_latest_and_latest_full_capture(tmp_path: Path) -> None:
    url = "http://example.org/a"
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        assert catalog.capture_history(url) is None
        for i, kind in enumerate(["response", "response", "revisit", "revisit"]):
            catalog.add_capture(url=url, fetched_at=f"2026-11-2{i}T10:00:00Z", status=200 if kind == "response" else 304,
                                mime="text/html", payload_digest="sha1:X", warc_filename="f.warc.gz", warc_offset=i,
                                warc_length=10, record_id=f"<urn:uuid:{i}>", warc_type=kind, run_id=f"r{i}")
        found = catalog.capture_history(url)
    assert found is not None
    first, latest, full = found
    assert (first["record_id"], latest["record_id"]) == ("<urn:uuid:0>", "<urn:uuid:3>")
    assert full is not None and full["record_id"] == "<urn:uuid:1>"


def test_the_newest_listing_date_of_the_run_counts() -> None:
    from types import SimpleNamespace

    from scrapy import Request

    from crawler.incremental import IncrementalMiddleware, IncrementalState
    from spiders.news import NewsSpider

    spider = NewsSpider(seeds="http://example.org/")
    crawler: Any = SimpleNamespace(spider=spider)        # the one thing _listed_at asks of the crawler
    middleware = IncrementalMiddleware(IncrementalState(crawler, RevisitPolicy(), conditional=True))
    url = "http://example.org/2026/11/27/story"
    old, new = datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 27, 9, tzinfo=UTC)
    assert middleware._listed_at(Request(url)) is None
    assert middleware._listed_at(Request(url, meta={"listing_date": old})) == old
    spider.listing_dates[url] = new        # a sitemap parsed after the feed that gave the old date
    assert middleware._listed_at(Request(url, meta={"listing_date": old})) == new
