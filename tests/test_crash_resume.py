"""Crash safety: SIGTERM or SIGINT closes everything and ``--resume`` goes on; SIGKILL at random moments (50 kill
points here, ``CRAWLER_SIGKILL_POINTS=500`` for the long run) never loses or corrupts what was archived;
two crawls in one data directory do not collide.

Every crawl is a real ``crawler crawl`` process against the demo site; everything is read back.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from archive.catalog import Catalog
from archive.cdxj import check_index
from archive.reader import ArchiveError, iter_records, read_record
from archive.records import validate

ROOT = Path(__file__).resolve().parents[1]
DEFAULTS = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False"]
FAST = [*DEFAULTS, "-s", "INCREMENTAL_ENABLED=False"]
KILL_POINTS = int(os.environ.get("CRAWLER_SIGKILL_POINTS", "50"))


def start(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("CRAWLER_DATA_DIR", None)
    return subprocess.Popen([sys.executable, "-m", "crawler.cli", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def record_lines(data_dir: Path) -> list[str]:
    lines: list[str] = []
    for path in sorted((data_dir / "records").glob("*.jsonl")):
        lines += path.read_text(encoding="utf-8").splitlines()
    return lines


def complete_records(data_dir: Path) -> list[dict[str, Any]]:
    """Every complete JSON line (a killed writer may leave one partial last line per file)."""
    out = []
    for path in sorted((data_dir / "records").glob("*.jsonl")):
        text = path.read_text(encoding="utf-8")
        lines = text.split("\n")
        for i, line in enumerate(lines):
            if not line:
                continue
            if i == len(lines) - 1:  # no newline after it: possibly cut, and dropped at the next start
                continue
            out.append(json.loads(line))
    return out


def readable_responses(data_dir: Path) -> dict[tuple[str, int], str]:
    """(file base name without .open, offset) -> record id of every response readable now, .open files
    included (reading stops at a cut-off last record)."""
    found: dict[tuple[str, int], str] = {}
    for path in sorted((data_dir / "warc").glob("*.warc.gz*")):
        name = path.name.removesuffix(".open")
        try:
            for rec in iter_records(path):
                if rec.rec_type == "response":
                    found[(name, rec.offset)] = rec.record_id or ""
        except ArchiveError:
            if not path.name.endswith(".open"):
                raise
    return found


def check_pointers(data_dir: Path, records: list[dict[str, Any]]) -> None:
    for rec in records:
        validate(rec)
        w = rec["warc"]
        path = data_dir / "warc" / w["filename"]
        if not path.exists():
            path = path.with_name(path.name + ".open")
        archived = read_record(path, w["offset"], w["length"])
        assert archived.record_id == w["record_id"] and archived.target_uri == rec["url"]


def check_catalog_complete(data_dir: Path) -> None:
    """Every response and revisit record of the WARC files has exactly one catalog capture row pointing at
    it, and the catalog points at nothing else (rows of a killed process's last batch are restored)."""
    in_warcs: dict[tuple[str, int], str] = {}
    for path in sorted((data_dir / "warc").glob("*.warc.gz")):
        for rec in iter_records(path):
            if rec.rec_type in ("response", "revisit"):
                in_warcs[(path.name, rec.offset)] = rec.record_id or ""
    with Catalog(data_dir / "catalog.sqlite") as catalog:
        rows = catalog.captures()
    in_catalog = Counter((row["warc_filename"], row["warc_offset"]) for row in rows)
    assert [key for key, n in in_catalog.items() if n > 1] == [], "a capture is in the catalog twice"
    missing = sorted(set(in_warcs) - set(in_catalog))
    assert missing == [], f"{len(missing)} of {len(in_warcs)} archived responses have no catalog row"
    assert set(in_catalog) == set(in_warcs)
    ids = {(row["warc_filename"], row["warc_offset"]): row["record_id"] for row in rows}
    assert ids == in_warcs


def article_gets(site: Any) -> Counter[str]:
    paths = {urlsplit(t.url).path for t in site.truth}
    return Counter(urlsplit(p).path for m, p, _h in site.requests if m == "GET" and urlsplit(p).path in paths)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_closes_cleanly_and_resume_fetches_nothing_twice(fresh_site: Any, tmp_path: Path,
                                                                       signum: int) -> None:
    """SIGTERM (a service manager, kill) and SIGINT (Ctrl-C) alike: WARCs closed, state saved, --resume."""
    site = fresh_site(articles=30)
    data = tmp_path / "data"
    fast = DEFAULTS  # the default configuration (incremental re-crawls on), as users run it
    proc = start("crawl", "news", "--seed", site.base_url + "/", "--data-dir", str(data), *fast,
                 "-s", "DOWNLOAD_DELAY=0.2", "-s", "RANDOMIZE_DOWNLOAD_DELAY=False", "-s", "EXTRACT_WORKERS=1")
    deadline = time.monotonic() + 120
    while len(record_lines(data)) < 5 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "--resume" in err and len(err.strip().splitlines()) == 1
    run_id = err.split("--resume ")[1].split()[0]
    assert not list((data / "warc").glob("*.open"))
    first = complete_records(data)
    assert first and len(first) < len(site.truth) + 5, "the crawl should have been stopped early"
    check_pointers(data, first)
    captured_first = {rec.target_uri for path in (data / "warc").glob("*.warc.gz") for rec in iter_records(path)
                      if rec.rec_type == "response"}
    seen_before = len(site.requests)

    resumed = start("crawl", "news", "--resume", run_id, "--data-dir", str(data), *fast)
    out, err = resumed.communicate(timeout=240)
    assert resumed.returncode == 0, err
    records = complete_records(data)
    urls = Counter(r["url"] for r in records)
    assert [u for u, n in urls.items() if n > 1] == []
    assert {t.url for t in site.truth} <= set(urls)
    check_pointers(data, records)
    assert {r["run_id"] for r in records} == {run_id}
    # Nothing archived before the stop was fetched again (robots.txt and the seed included).
    refetched = [p for m, p, _h in site.requests[seen_before:] if site.base_url + p in captured_first]
    assert refetched == []
    assert site.base_url + "/robots.txt" in captured_first and site.base_url + "/" in captured_first


def _kill_chain(site: Any, data: Path, points: int, seed: int) -> list[dict[tuple[str, int], str]]:
    """Start, kill at a random moment, start again with --resume, ...: ``points`` kills. Returns what was
    readable after each kill."""
    rng = random.Random(seed)
    run_id = f"killrun-{seed}"
    snapshots = []
    for _ in range(points):
        args = ["crawl", "news", "--data-dir", str(data), "--no-extract", *FAST]
        started = (data / "runs" / run_id / "state" / "crawl.json").exists()  # not if killed at start-up
        args += ["--resume", run_id] if started else ["--seed", site.base_url + "/", "-s", f"ARCHIVE_RUN_ID={run_id}"]
        state = data / "runs" / run_id / "state" / "crawl.json"
        before = state.stat().st_mtime_ns if state.exists() else 0
        proc = start(*args)
        # Kill at a random moment once the run has started (imports take a while), or while starting.
        while proc.poll() is None and (state.stat().st_mtime_ns if state.exists() else 0) == before:
            time.sleep(0.05)
        try:
            proc.wait(timeout=rng.uniform(0.0, 1.5))
        except subprocess.TimeoutExpired:
            proc.kill()
        proc.communicate(timeout=60)
        # What the killed process left: every complete record readable, every complete JSON line valid
        # and pointing at a readable response (in a closed or still-.open file).
        check_pointers(data, complete_records(data))
        snapshots.append(readable_responses(data))
    return snapshots


def test_sigkill_at_random_points_loses_nothing(fresh_site: Any, tmp_path: Path) -> None:
    chains = 2
    sites = [fresh_site(articles=30) for _ in range(chains)]
    dirs = [tmp_path / f"chain{i}" for i in range(chains)]
    per_chain = (KILL_POINTS + chains - 1) // chains
    with ThreadPoolExecutor(chains) as pool:
        snapshots = list(pool.map(lambda i: _kill_chain(sites[i], dirs[i], per_chain, i), range(chains)))
    for i in range(chains):
        site, data = sites[i], dirs[i]
        final = start("crawl", "news", "--resume", f"killrun-{i}", "--data-dir", str(data), "--no-extract", *FAST)
        out, err = final.communicate(timeout=240)
        assert final.returncode == 0, err
        assert not list((data / "warc").glob("*.open"))
        for path in (data / "warc").glob("*.warc.gz"):
            check = subprocess.run([sys.executable, "-m", "warcio.cli", "check", str(path)],
                                   capture_output=True, text=True)
            assert check.returncode == 0, check.stdout + check.stderr
        # Every response readable after any kill is still there, at the same place, after recovery.
        now = readable_responses(data)
        for snap in snapshots[i]:
            for key, rec_id in snap.items():
                assert now.get(key) == rec_id, f"lost {key} after recovery"
        records = complete_records(data)
        assert len(record_lines(data)) == len(records), "a partial JSON line survived"
        check_pointers(data, records)
        check_catalog_complete(data)
        urls = Counter(r["url"] for r in records)
        assert [u for u, n in urls.items() if n > 1] == []
        assert {t.url for t in site.truth} <= set(urls), "an archived article has no record"
        # Refetches are what was in flight at a kill: at most CONCURRENT_REQUESTS per kill.
        extra = sum(article_gets(site).values()) - len(site.truth)
        assert extra <= 16 * per_chain


def test_two_crawls_in_one_data_directory(fresh_site: Any, tmp_path: Path) -> None:
    sites = [fresh_site(articles=10), fresh_site(articles=10)]
    data = tmp_path / "data"
    procs = [start("crawl", "news", "--seed", s.base_url + "/", "--data-dir", str(data), "--no-extract", *FAST)
             for s in sites]
    results = [p.communicate(timeout=240) for p in procs]
    for proc, (_out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
    files = sorted((data / "warc").glob("*.warc.gz"))
    assert len(files) == 2 and not list((data / "warc").glob("*.open"))
    runs = {}
    for path in files:
        uris = {rec.target_uri for rec in iter_records(path) if rec.rec_type == "response"}
        hosts = {urlsplit(u).netloc for u in uris}
        assert len(hosts) == 1, f"{path.name} mixes crawls: {hosts}"
        runs[hosts.pop()] = path
    assert len(runs) == 2
    record_files = sorted((data / "records").glob("*.jsonl"))
    assert len(record_files) == 2
    for path in record_files:
        hosts = {urlsplit(json.loads(line)["url"]).netloc for line in path.read_text().splitlines()}
        assert len(hosts) == 1


def test_restore_captures_adds_exactly_the_rows_a_killed_process_lost(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from archive.writer import HttpExchange, WarcWriter
    from crawler.resume import restore_captures

    when = datetime(2026, 11, 27, 11, 22, 33, tzinfo=UTC)

    def exchange(n: int, status: int = 200) -> HttpExchange:
        return HttpExchange(url=f"http://news.example/{n}", date=when, method="GET", request_headers=[],
                            request_body=b"", status=status, reason="", protocol="HTTP/1.1",
                            response_headers=[("Content-Type", "text/html; charset=utf-8")],
                            body=b"" if status == 304 else f"<p>page {n}</p>".encode())

    warcinfo = {"isPartOf": "run-x"}
    with WarcWriter(tmp_path / "warc", warcinfo=warcinfo) as writer, Catalog(tmp_path / "catalog.sqlite") as catalog:
        locations = [writer.write_exchange(exchange(n))[0] for n in range(5)]
        revisit, _ = writer.write_revisit(exchange(0, 304), refers_to=locations[0], refers_to_uri=exchange(0).url,
                                          refers_to_date=when, profile="server-not-modified", http_headers=False)
        writer.write_metadata(url=exchange(1).url, concurrent_to=locations[1].record_id, date=when, payload=b"{}")
        for n in (0, 1):  # what crawler.capture committed before the kill
            loc = locations[n]
            catalog.add_capture(url=exchange(n).url, fetched_at=when, status=200, mime="text/html",
                                payload_digest=loc.payload_digest, warc_filename=loc.filename, warc_offset=loc.offset,
                                warc_length=loc.length, record_id=loc.record_id, run_id="run-x")
        catalog.commit()
    (path,) = (tmp_path / "warc").glob("*.warc.gz")
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        assert restore_captures(catalog, path) == 4      # 3 responses and the revisit; not the metadata record
        assert restore_captures(catalog, path) == 0      # idempotent
        rows = {row["record_id"]: row for row in catalog.captures()}
    assert set(rows) == {loc.record_id for loc in locations} | {revisit.record_id}
    for n, loc in enumerate(locations):
        row = rows[loc.record_id]
        assert (row["url"], row["status"], row["mime"], row["warc_type"], row["run_id"]) == (
            exchange(n).url, 200, "text/html", "response", "run-x")
        assert (row["warc_filename"], row["warc_offset"], row["warc_length"]) == (loc.filename, loc.offset, loc.length)
        assert row["payload_digest"] == loc.payload_digest and row["fetched_at"] == "2026-11-27T11:22:33Z"
    row = rows[revisit.record_id]
    assert (row["warc_type"], row["status"], row["payload_digest"]) == ("revisit", 304, locations[0].payload_digest)


def test_a_crawl_after_a_sigkill_restores_the_lost_catalog_batch(fresh_site: Any, tmp_path: Path) -> None:
    """Killed with responses in its .open file and none of their rows committed (the catalog commits every
    200 rows or 5 s): the next crawl in the data directory, of another run, recovers the file and its rows."""
    site = fresh_site(articles=30)
    data = tmp_path / "data"
    proc = start("crawl", "news", "--seed", site.base_url + "/", "--data-dir", str(data), "--no-extract", *FAST,
                 "-s", "ARCHIVE_RUN_ID=killed")
    deadline = time.monotonic() + 120
    responses = 0
    while proc.poll() is None and responses < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
        responses = len(readable_responses(data)) if (data / "warc").is_dir() else 0
    proc.kill()
    proc.communicate(timeout=60)
    assert responses >= 5, "the crawl ended or stalled before it was killed"
    with Catalog(data / "catalog.sqlite") as catalog:
        lost = responses - len(catalog.captures())
    other = fresh_site(articles=3)
    again = start("crawl", "news", "--seed", other.base_url + "/", "--data-dir", str(data), "--no-extract", *FAST)
    _out, err = again.communicate(timeout=240)
    assert again.returncode == 0, err
    check_catalog_complete(data)
    check = check_index(data)           # the recovered file is in the CDXJ index too
    assert check.ok, "\n".join(check.lines())
    log = "".join(p.read_text(encoding="utf-8") for p in (data / "runs").glob("*.log"))
    if lost:
        assert f"catalog: {lost} capture(s) of crawl-" in log and "added back" in log
    with Catalog(data / "catalog.sqlite") as catalog:
        assert {row["run_id"] for row in catalog.captures() if site.base_url in row["url"]} == {"killed"}


def test_resume_restores_rows_lost_for_a_file_closed_just_before_the_kill(fresh_site: Any, tmp_path: Path) -> None:
    """A kill between a WARC file's rename (roll-over, or the close at the end) and the catalog's next commit
    leaves a closed file with rows missing, which no .open recovery sees: ``--resume`` restores them."""
    import sqlite3

    site = fresh_site(articles=5)
    data = tmp_path / "data"
    first = start("crawl", "news", "--seed", site.base_url + "/", "--data-dir", str(data), "--no-extract", *FAST,
                  "-s", "ARCHIVE_RUN_ID=closed")
    _out, err = first.communicate(timeout=240)
    assert first.returncode == 0, err
    db = sqlite3.connect(data / "catalog.sqlite")
    with db:
        ids = [row[0] for row in db.execute("SELECT id FROM captures ORDER BY id DESC LIMIT 3")]
        db.execute(f"DELETE FROM captures WHERE id IN ({','.join('?' * len(ids))})", ids)  # the lost batch
    db.close()
    resumed = start("crawl", "news", "--resume", "closed", "--data-dir", str(data), "--no-extract", *FAST)
    _out, err = resumed.communicate(timeout=240)
    assert resumed.returncode == 0, err
    check_catalog_complete(data)
    assert "catalog: 3 capture(s) of crawl-" in (data / "runs" / "closed.log").read_text(encoding="utf-8")


@pytest.mark.parametrize("argv", [
    ["crawl", "news", "--resume", "no-such-run"],
])
def test_resume_of_an_unknown_run_is_one_line(argv: list[str], tmp_path: Path) -> None:
    proc = start(*argv, "--data-dir", str(tmp_path / "d"))
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "no run 'no-such-run' to resume" in err
    assert len(err.strip().splitlines()) == 1


def test_an_archive_that_cannot_be_opened_stops_the_crawl_with_one_line(demo_site: Any, tmp_path: Path) -> None:
    """A WARC file left open by a dead process whose final name is taken cannot be recovered: the crawl
    stops at once with exit 1 and one line saying why, instead of fetching pages it cannot archive, and
    both files stay as they were."""
    from datetime import UTC, datetime

    from archive.writer import WarcWriter

    data = tmp_path / "data"
    (data / "warc").mkdir(parents=True)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with WarcWriter(data / "warc", pid=gone.pid) as writer:
        writer.write_metadata(url="http://old.example/", concurrent_to="<urn:uuid:0>", date=datetime.now(UTC),
                              payload=b"{}")
        final = writer.current_path
    assert final is not None
    final = final.with_name(final.name.removesuffix(".open"))
    left_open = final.with_name(final.name + ".open")
    left_open.write_bytes(final.read_bytes())            # the same name, left open by the dead process
    before = {p.name: p.read_bytes() for p in (data / "warc").iterdir()}
    proc = start("crawl", "news", "--seed", demo_site.base_url + "/", "--data-dir", str(data), "--no-extract", *FAST)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, (out, err)
    errors = [line for line in err.splitlines() if line.startswith("crawler: error:")]
    assert len(errors) == 1 and "cannot open the archive" in errors[0] and "already exists" in errors[0], err
    assert "Traceback" not in err
    assert {p.name: p.read_bytes() for p in (data / "warc").iterdir()} == before
    catalog = Catalog(data / "catalog.sqlite")
    try:
        assert list(catalog.captures()) == []
    finally:
        catalog.close()


@pytest.mark.parametrize("processes", ["1", "2"])
def test_a_second_ctrl_c_stops_at_once_and_resume_loses_nothing(fresh_site: Any, tmp_path: Path,
                                                                processes: str) -> None:
    """Ctrl-C twice: Scrapy's unclean shutdown. The process exits at once (its WARC writer thread kept it
    alive for ever before) with 130 and one line; `--resume` recovers the open WARC files and finishes."""
    site = fresh_site(articles=30)
    data = tmp_path / "data"
    proc = start("crawl", "news", "--seed", site.base_url + "/", "--data-dir", str(data), "--no-extract", *FAST,
                 "-s", "DOWNLOAD_DELAY=0.2", "-s", "RANDOMIZE_DOWNLOAD_DELAY=False", "--processes", processes)
    deadline = time.monotonic() + 120
    while len(article_gets(site)) < 4 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    lines = [line for line in err.strip().splitlines() if line.startswith("crawler:")]
    assert len(lines) == 1 and "--resume" in lines[0], err
    run_id = lines[0].split("--resume ")[1].split()[0]
    assert len(article_gets(site)) < len(site.truth), "the crawl should have been stopped early"

    resumed = start("crawl", "news", "--resume", run_id, "--data-dir", str(data))
    out, err = resumed.communicate(timeout=240)
    assert resumed.returncode == 0, err
    assert not list((data / "warc").glob("*.open"))
    responses = Counter(rec.target_uri for path in (data / "warc").glob("*.warc.gz") for rec in iter_records(path)
                        if rec.rec_type == "response")
    assert {t.url for t in site.truth} <= set(responses)
    assert [u for u, n in responses.items() if n > 1 and not u.endswith("/robots.txt")] == []
