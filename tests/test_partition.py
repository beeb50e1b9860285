"""One crawl in several processes (``crawler crawl --processes N``, crawler.partition).

End to end: real ``crawler crawl`` processes against the demo site on 127.0.0.1, compared with a one-process
crawl of the same site; everything they archived is read back from the catalog, the WARC records and the
JSON records. Then the pure parts: shares, the CRAWL_PROCESSES value, merged stats, the child's spec, URL
ownership, and the parent's end-of-crawl test fed with synthetic messages (no process started).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
import pytest
from scrapy import Request
from scrapy.settings import Settings
from scrapy.utils.request import fingerprint

from archive.catalog import Catalog
from archive.reader import iter_records, read_record
from archive.records import validate
from archive.writer import WarcWriter
from crawler import partition
from crawler.partition import (
    Partitions,
    PartitionSpec,
    _Child,
    merge_stats,
    owner_of,
    part_run_id,
    processes_from,
    share,
)
from crawler.urls import canonicalize_url

ROOT = Path(__file__).resolve().parents[1]
FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False"]
# Slow enough to be stopped half-way: few requests in the downloader, so a clean stop does not drain a long queue.
SLOW = ["-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0.2", "-s", "RANDOMIZE_DOWNLOAD_DELAY=False",
        "-s", "CONCURRENT_REQUESTS=2"]


# The resumed crawl goes at full speed (a process may end within a second: test_merge_stats_takes_a_rate_of_none).
RESUME = ["-s", "DOWNLOAD_DELAY=0", "-s", "CONCURRENT_REQUESTS=16"]


# ----- helpers -------------------------------------------------------------------------------------------


def start(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("CRAWLER_DATA_DIR", None)
    return subprocess.Popen([sys.executable, "-m", "crawler.cli", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@dataclass(frozen=True)
class Finished:
    code: int
    out: str
    err: str

    @property
    def run_id(self) -> str:
        """The run id named by the summary's first line: ``run RUN (news) finished: ...``."""
        return self.out.split("run ", 1)[1].split()[0]


def finish(proc: subprocess.Popen[str], timeout: float = 240) -> Finished:
    out, err = proc.communicate(timeout=timeout)
    return Finished(proc.returncode, out, err)


def crawl(*args: str) -> Finished:
    return finish(start("crawl", "news", *args))


def captures(data_dir: Path) -> list[dict[str, Any]]:
    with Catalog(data_dir / "catalog.sqlite") as catalog:
        return catalog.captures()


def runs(data_dir: Path) -> dict[str, dict[str, Any]]:
    with Catalog(data_dir / "catalog.sqlite") as catalog:
        return {row["run_id"]: row for row in catalog.runs()}


def read_back(data_dir: Path, rows: list[dict[str, Any]]) -> None:
    """Every capture row points at its WARC record (in a closed file, or one still ``.open``)."""
    assert rows
    for cap in rows:
        path = data_dir / "warc" / cap["warc_filename"]
        if not path.exists():
            path = path.with_name(path.name + ".open")
        rec = read_record(path, cap["warc_offset"], cap["warc_length"])
        assert rec.target_uri == cap["url"]
        assert rec.record_id == cap["record_id"]
        assert rec.payload_digest == cap["payload_digest"]


def twice(rows: list[dict[str, Any]]) -> list[str]:
    """URLs captured more than once, robots.txt apart (every process reads it)."""
    counts = Counter(cap["url"] for cap in rows if urlsplit(cap["url"]).path != "/robots.txt")
    return sorted(url for url, n in counts.items() if n > 1)


def urls_of(rows: list[dict[str, Any]]) -> set[str]:
    return {cap["url"] for cap in rows}


def article_gets(site: Any) -> int:
    paths = {t.path for t in site.truth}
    return sum(1 for r in site.requests if r.method == "GET" and urlsplit(r.path).path in paths)


def wait_until(check: Callable[[], bool], proc: subprocess.Popen[str], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the crawl ended (exit {proc.returncode}) before {what}: {out}{err}")
        if time.monotonic() > deadline:
            proc.kill()
            proc.communicate()
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def partition_children(proc: subprocess.Popen[str]) -> list[psutil.Process]:
    found = []
    for child in psutil.Process(proc.pid).children():
        try:
            if "crawler.partition" in child.cmdline():
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


# ----- two processes crawl what one does --------------------------------------------------------------------


def test_two_processes_archive_what_one_archives(demo_site: Any, tmp_path: Path) -> None:
    one_dir, two_dir = tmp_path / "one", tmp_path / "two"
    seed = ["--seed", demo_site.base_url + "/"]
    procs = (start("crawl", "news", *seed, "--data-dir", str(one_dir), "--no-extract", *FAST),
             start("crawl", "news", *seed, "--data-dir", str(two_dir), "--no-extract", *FAST, "--processes", "2"))
    one, two = (finish(p) for p in procs)
    assert one.code == 0, one.err
    assert two.code == 0, two.err
    run_id = two.run_id
    parts = [part_run_id(run_id, 0), part_run_id(run_id, 1)]

    # the summary names both runs and both record files
    assert f"run {run_id} (news) finished: finished (2 processes: runs {parts[0]}, {parts[1]})" in two.out
    for part in parts:
        assert f"JSON records: {two_dir / 'records' / (part + '.jsonl')}" in two.out

    single, split = captures(one_dir), captures(two_dir)
    read_back(two_dir, split)
    assert urls_of(split) == urls_of(single)
    assert {t.url for t in demo_site.truth} <= urls_of(split)
    assert twice(split) == []
    assert {cap["run_id"] for cap in split} == set(parts)
    assert not list((two_dir / "warc").glob("*.open"))

    rows = runs(two_dir)
    assert set(rows) == set(parts)          # the parent keeps no run of its own in the catalog
    for part in parts:
        assert rows[part]["status"] == "finished", rows[part]
        assert rows[part]["stats"]["finish_reason"] == "finished"
        assert rows[part]["stats"].get("partition/forwarded", 0) > 0, f"{part} forwarded nothing"
        assert rows[part]["stats"].get("partition/received", 0) > 0, f"{part} received nothing"
    forwarded = sum(rows[p]["stats"]["partition/forwarded"] for p in parts)
    received = sum(rows[p]["stats"]["partition/received"] for p in parts)
    assert forwarded == received           # every request forwarded reached its owner


def test_two_processes_with_extraction_write_one_record_per_article(demo_site: Any, tmp_path: Path) -> None:
    data = tmp_path / "data"
    done = crawl("--seed", demo_site.base_url + "/", "--data-dir", str(data), *FAST, "--processes", "2",
                 "-s", "EXTRACT_WORKERS=1")
    assert done.code == 0, done.err
    parts = [part_run_id(done.run_id, i) for i in range(2)]
    files = sorted((data / "records").glob("*.jsonl"))
    assert [f.name for f in files] == [f"{p}.jsonl" for p in parts]
    records = []
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            validate(rec)
            assert rec["run_id"] == path.stem            # each process writes its own run's file
            w = rec["warc"]
            archived = read_record(data / "warc" / w["filename"], w["offset"], w["length"])
            assert archived.record_id == w["record_id"] and archived.target_uri == rec["url"]
            records.append(rec)
    assert all(path.stat().st_size > 0 for path in files), "one process wrote no record"
    articles = Counter(r["url"] for r in records if r["kind"] == "article")
    assert articles == Counter(t.url for t in demo_site.truth)
    assert [url for url, n in Counter(r["url"] for r in records).items() if n > 1] == []
    assert all(r["text"] and r["word_count"] > 0 and r["extraction_error"] is None
               for r in records if r["kind"] == "article")


# ----- a seed that moves to another domain ----------------------------------------------------------------


def _moved_seed(site: Any, same_owner: bool) -> tuple[str, str]:
    """A seed on another registered domain (localhost) that the demo site redirects (301, absolute Location)
    to one of its articles on 127.0.0.1, and that target. The seed's query (which the server ignores) is
    chosen so that the seed and its target have the same owner among 2 processes, or not."""
    target = site.truth[2]                                    # the /old/<slug> with an absolute Location
    old = next(o for o, new in site.redirects.items() if new == target.url)
    moved = old.replace("127.0.0.1", "localhost")
    target_owner = owner_of(fingerprint(Request(target.url)), 2)
    for n in range(100):
        seed = canonicalize_url(f"{moved}?v={n}")
        if (owner_of(fingerprint(Request(seed)), 2) == target_owner) == same_owner:
            return seed, target.url
    raise AssertionError("no seed query gives the wanted owner")


@pytest.fixture(scope="module")
def moved_one_process(demo_site: Any, tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """What a one-process crawl archives on 127.0.0.1 from a seed on localhost redirected there."""
    seed, _target = _moved_seed(demo_site, same_owner=True)
    data = tmp_path_factory.mktemp("moved") / "data"
    done = crawl("--seed", seed, "--follow", "--data-dir", str(data), "--no-extract", *FAST,
                 "-s", "NETGUARD_ALLOW=127.0.0.1")
    assert done.code == 0, done.err
    found = {url for url in urls_of(captures(data)) if urlsplit(url).hostname == "127.0.0.1"}
    assert {t.url for t in demo_site.truth} <= found
    return found


@pytest.mark.parametrize("same_owner", [True, False],
                         ids=["target-owned-by-the-seed-owner", "target-owned-by-the-other-process"])
def test_a_seed_moved_to_another_domain_is_followed_by_both_processes(
        demo_site: Any, moved_one_process: set[str], tmp_path: Path, same_owner: bool) -> None:
    seed, target = _moved_seed(demo_site, same_owner)
    data = tmp_path / "data"
    done = crawl("--seed", seed, "--follow", "--data-dir", str(data), "--no-extract", *FAST,
                 "-s", "NETGUARD_ALLOW=127.0.0.1", "--processes", "2")
    assert done.code == 0, done.err
    rows = captures(data)
    read_back(data, rows)
    assert twice(rows) == []
    moved = {url for url in urls_of(rows) if urlsplit(url).hostname == "127.0.0.1"}
    assert target in moved
    assert moved == moved_one_process
    # the process that did not see the redirect learnt the new domain from the requests it was sent:
    # it crawled pages there, and made requests from them
    stats = {run_id: row["stats"] for run_id, row in runs(data).items()}
    for run_id, st in stats.items():
        assert st.get("news/requests/page", 0) > 0, f"{run_id} made no page request"
        assert any(cap["run_id"] == run_id and urlsplit(cap["url"]).hostname == "127.0.0.1" for cap in rows)


# ----- --max-pages ---------------------------------------------------------------------------------------------


def test_max_pages_is_shared_out_and_never_exceeded(demo_site: Any, tmp_path: Path) -> None:
    limit = 10
    common = ["--seed", demo_site.base_url + "/", "--max-pages", str(limit), "--no-extract", *FAST]
    procs = (start("crawl", "news", *common, "--data-dir", str(tmp_path / "one")),
             start("crawl", "news", *common, "--data-dir", str(tmp_path / "two"), "--processes", "2"))
    one, two = (finish(p) for p in procs)
    assert one.code == 0, one.err
    assert two.code == 0, two.err
    assert "finished: max_pages" in one.out and "finished: max_pages" in two.out

    def pages(data: Path) -> list[str]:
        rows = captures(data)
        read_back(data, rows)
        return [cap["url"] for cap in rows if urlsplit(cap["url"]).path != "/robots.txt"]

    single, split = pages(tmp_path / "one"), pages(tmp_path / "two")
    assert 1 <= len(single) <= limit
    assert 1 <= len(split) <= limit, split
    assert len(set(split)) == len(split)
    assert not list((tmp_path / "two" / "warc").glob("*.open"))


# ----- Ctrl-C, then --resume ------------------------------------------------------------------------------------


def test_ctrl_c_stops_both_processes_and_resume_finishes_the_crawl(fresh_site: Any, tmp_path: Path) -> None:
    site = fresh_site(articles=30)
    data = tmp_path / "data"
    proc = start("crawl", "news", "--seed", site.base_url + "/", "--data-dir", str(data), "--no-extract", *SLOW,
                 "--processes", "2")
    wait_until(lambda: article_gets(site) >= 4 and len(partition_children(proc)) == 2, proc, "4 articles fetched")
    proc.send_signal(signal.SIGINT)
    stopped = finish(proc, timeout=120)
    assert stopped.code == 130, stopped.err
    assert len(stopped.err.strip().splitlines()) == 1, stopped.err
    assert "--resume " in stopped.err
    run_id = stopped.err.split("--resume ")[1].split()[0]
    assert run_id == stopped.run_id
    assert not list((data / "warc").glob("*.open"))
    first = captures(data)
    read_back(data, first)
    parts = {part_run_id(run_id, i) for i in range(2)}
    assert {cap["run_id"] for cap in first} <= parts
    assert len(urls_of(first)) < len(site.truth), "the crawl should have been stopped early"
    assert {row["status"] for row in runs(data).values()} == {"shutdown"}

    resumed = crawl("--resume", run_id, "--data-dir", str(data), *RESUME)
    assert resumed.code == 0, resumed.err
    assert resumed.run_id == run_id and "(2 processes:" in resumed.out
    assert not list((data / "warc").glob("*.open"))
    rows = captures(data)
    read_back(data, rows)
    assert {cap["run_id"] for cap in rows} == parts
    assert {t.url for t in site.truth} <= urls_of(rows)
    assert {site.base_url + p for p in ("/", "/world", "/business", "/culture", "/sitemap.xml")} <= urls_of(rows)
    assert twice(rows) == [], "a page archived before Ctrl-C was archived again by the resumed run"
    assert {row["status"] for row in runs(data).values()} == {"finished"}


# ----- one process killed -------------------------------------------------------------------------------------


def test_a_killed_process_stops_the_other_and_resume_recovers_its_file(fresh_site: Any, tmp_path: Path) -> None:
    site = fresh_site(articles=30)
    data = tmp_path / "data"
    proc = start("crawl", "news", "--seed", site.base_url + "/", "--data-dir", str(data), "--no-extract", *SLOW,
                 "--processes", "2")
    wait_until(lambda: article_gets(site) >= 4 and len(partition_children(proc)) == 2, proc, "4 articles fetched")
    victim, survivor = partition_children(proc)
    victim_index = PartitionSpec.from_json(victim.environ()[partition.ENV]).index
    victim.kill()
    stopped = finish(proc, timeout=120)
    assert not survivor.is_running() or survivor.status() == psutil.STATUS_ZOMBIE

    # exit 1 and one line naming the resume command
    assert stopped.code == 1, stopped.err
    lines = stopped.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("crawler: error: "), stopped.err
    assert f"crawler crawl news --resume {stopped.run_id} --data-dir {data}" in lines[0]

    # the survivor closed its files; at most the killed process's file is left .open
    left_open = list((data / "warc").glob("*.open"))
    assert all(p.name.endswith(f"-{victim.pid}.warc.gz.open") for p in left_open), left_open
    closed = [p for p in (data / "warc").glob("*.warc.gz")]
    assert any(p.name.endswith(f"-{survivor.pid}.warc.gz") for p in closed)
    for path in [*closed, *left_open]:
        assert list(iter_records(path))
    first = captures(data)
    read_back(data, first)
    assert twice(first) == []
    status = {run_id: row["status"] for run_id, row in runs(data).items()}
    assert status == {part_run_id(stopped.run_id, victim_index): "running",        # it never finished
                      part_run_id(stopped.run_id, 1 - victim_index): "shutdown"}   # stopped by the parent

    resumed = crawl("--resume", stopped.run_id, "--data-dir", str(data), *RESUME)
    assert resumed.code == 0, resumed.err
    assert not list((data / "warc").glob("*.open"))
    for path in left_open:                                   # recovered under its final name
        assert path.with_name(path.name.removesuffix(".open")).is_file()
    rows = captures(data)
    read_back(data, rows)
    assert {t.url for t in site.truth} <= urls_of(rows)
    assert twice(rows) == []
    assert {row["status"] for row in runs(data).values()} == {"finished"}


def leftover_open_file(warc_dir: Path, records: int) -> Path:
    """A ``.warc.gz.open`` file as a killed crawl process leaves it (its pid gone), ``records`` complete
    records long: big enough that recovering it takes a while."""
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with WarcWriter(warc_dir, pid=gone.pid) as writer:
        writer.write_metadata(url="http://old.example/", concurrent_to="<urn:uuid:0>", date=datetime.now(UTC),
                              payload=b"{}")
        open_path = writer.current_path
        assert open_path is not None
    final = open_path.with_name(open_path.name.removesuffix(".open"))
    members = [final.read_bytes()]
    final.unlink()
    for i in range(records):
        block = b"old record %d\r\n" % i
        members.append(gzip.compress(
            b"WARC/1.1\r\nWARC-Type: resource\r\nWARC-Record-ID: <urn:uuid:%s>\r\n"
            b"WARC-Date: 2026-01-01T00:00:00Z\r\nWARC-Target-URI: http://old.example/%d\r\n"
            b"Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s\r\n\r\n"
            % (str(uuid.UUID(int=i + 1)).encode(), i, len(block), block), compresslevel=1))
    open_path.write_bytes(b"".join(members))
    return open_path


def test_a_file_left_open_by_a_killed_crawl_is_recovered_once(demo_site: Any, tmp_path: Path) -> None:
    """Every process recovers the data directory's .open files as its storage opens, all at the same moment:
    one at a time, or the one that lost the race found the file renamed under it and archived nothing."""
    data = tmp_path / "data"
    (data / "warc").mkdir(parents=True)
    Catalog(data / "catalog.sqlite").close()      # the killed crawl's catalog
    left = leftover_open_file(data / "warc", 20000)
    size = left.stat().st_size
    done = crawl("--seed", demo_site.base_url + "/", "--data-dir", str(data), "--no-extract", *FAST,
                 "--processes", "2", "-s", "ROBOTSTXT_RETRY_DELAY=0.1")
    for log in sorted((data / "runs").glob(f"{done.run_id}-p*.log")):
        text = log.read_text(encoding="utf-8")
        assert "Error caught on signal handler" not in text, f"{log.name}: {text[-3000:]}"
    assert done.code == 0, done.err
    assert not list((data / "warc").glob("*.open"))
    assert left.with_name(left.name.removesuffix(".open")).stat().st_size == size     # every record kept
    rows = captures(data)
    read_back(data, rows)
    assert {t.url for t in demo_site.truth} <= urls_of(rows)


# ----- bad input ------------------------------------------------------------------------------------------------


BAD = {
    "zero": (["--processes", "0"], ["CRAWL_PROCESSES", "must be a whole number from 1, or auto", "'0'"]),
    "abc": (["--processes", "abc"], ["CRAWL_PROCESSES", "must be a whole number from 1, or auto", "'abc'"]),
    "setting": (["-s", "CRAWL_PROCESSES=-1"], ["CRAWL_PROCESSES", "must be a whole number from 1, or auto", "'-1'"]),
    "jobdir": (["--processes", "2", "-s", "JOBDIR={tmp}/job-state"], ["--processes cannot be combined with JOBDIR"]),
    "frontier": (["--processes", "2", "--frontier", "redis://127.0.0.1:1/0"],    # refused before Redis is asked
                 ["--processes cannot be combined with --frontier"]),
}


def test_bad_process_counts_are_one_line_and_exit_2(tmp_path: Path) -> None:
    procs = {name: start("crawl", "news", "--seed", "http://127.0.0.1:9/", "--data-dir", str(tmp_path / name),
                         "--no-extract", *(a.replace("{tmp}", str(tmp_path)) for a in args))
             for name, (args, _needles) in BAD.items()}                # all at once: each is a Python start-up
    for name, proc in procs.items():
        done = finish(proc, timeout=120)
        assert done.code == 2, (name, done.err)
        lines = done.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("crawler: error: "), (name, done.err)
        assert all(needle in lines[0] for needle in BAD[name][1]), (name, lines[0])
        assert done.out == "", name
    assert not (tmp_path / "job-state").exists()


# ----- pure parts ---------------------------------------------------------------------------------------------


def test_shares_add_up_and_differ_by_at_most_one() -> None:
    for count in range(1, 7):
        for total in range(0, 40):
            shares = [share(total, i, count) for i in range(count)]
            assert sum(shares) == total
            assert max(shares) - min(shares) <= 1
            assert shares == sorted(shares, reverse=True)     # the first ones get the remainder


@pytest.mark.parametrize(("value", "extract", "cores", "expected"), [
    ("auto", True, 8, 1),
    ("auto", False, 8, 8),
    ("AUTO ", False, 2, 2),
    ("auto", False, None, 1),
    ("1", True, 8, 1),
    (" 3 ", False, 8, 3),
    (4, True, 8, 4),
])
def test_processes_from(value: object, extract: bool, cores: int | None, expected: int,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    assert processes_from(value, extract=extract) == expected


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5", "", None, 0])
def test_processes_from_refuses(value: object) -> None:
    with pytest.raises(ValueError, match=r"CRAWL_PROCESSES\)? must be a whole number from 1, or auto, not ") as info:
        processes_from(value, extract=False)
    assert str(info.value).endswith(f"not {value!r}")


def test_merge_stats_adds_numbers_and_spans_the_times() -> None:
    t0, t1, t2, t3 = (datetime(2026, 11, 27, 10, m, tzinfo=UTC) for m in (0, 1, 5, 7))
    a = {"start_time": t1, "finish_time": t2, "elapsed_time_seconds": 240.0, "downloader/request_count": 10,
         "response_received_count": 9, "memusage/max": 100, "finish_reason": "finished", "flag": True}
    b = {"start_time": t0, "finish_time": t3, "elapsed_time_seconds": 420.5, "downloader/request_count": 5,
         "scheduler/enqueued": 3, "finish_reason": "shutdown", "flag": False, "ratio": 0.5}
    merged = merge_stats([a, b])
    assert merged["start_time"] == t0 and merged["finish_time"] == t3
    assert merged["elapsed_time_seconds"] == 420.5
    assert merged["downloader/request_count"] == 15
    assert merged["response_received_count"] == 9 and merged["scheduler/enqueued"] == 3
    assert merged["ratio"] == 0.5
    assert merged["finish_reason"] == "finished" and merged["flag"] is True   # not numbers: the first's
    assert merge_stats([]) == {}
    assert merge_stats([a]) == a


def test_merge_stats_takes_a_rate_of_none() -> None:
    """Scrapy's LogStats sets the per-minute rates to None in a crawl under a second (a resumed process with
    little left to do): whichever partition comes first, the numbers still add up."""
    quick: dict[str, Any] = {"responses_per_minute": None, "items_per_minute": None, "response_received_count": 1}
    slow: dict[str, Any] = {"responses_per_minute": 120.0, "items_per_minute": 60.0, "response_received_count": 40}
    for parts in ([quick, slow], [slow, quick]):
        merged = merge_stats(parts)
        assert merged["response_received_count"] == 41
        assert merged["responses_per_minute"] in (None, 120.0)


def test_partition_spec_json_round_trip() -> None:
    spec = PartitionSpec(index=1, count=3, inboxes={0: 7, 2: 9}, outboxes={0: 8, 2: 10}, control_in=11,
                         control_out=12)
    text = spec.to_json()
    assert PartitionSpec.from_json(text) == spec
    assert json.loads(text)["inboxes"] == {"0": 7, "2": 9}


def test_owner_of_spreads_fingerprints_evenly_and_depends_on_them_only() -> None:
    prints = [fingerprint(Request(f"https://news.example/2024/01/{i % 28 + 1:02d}/story-a{i}")) for i in range(6000)]
    for count in (2, 3, 4, 7):
        owners = Counter(owner_of(fp, count) for fp in prints)
        assert set(owners) == set(range(count))
        expected = len(prints) / count
        assert all(abs(n - expected) < 0.1 * expected for n in owners.values()), owners
    assert all(owner_of(fp, 1) == 0 for fp in prints[:100])
    # the same in every process: the first 8 bytes of the fingerprint, big-endian, modulo the count
    digest = hashlib.sha1(b"stable").digest()
    assert owner_of(digest, 5) == owner_of(bytes(digest), 5) == int.from_bytes(digest[:8], "big") % 5
    assert [owner_of(bytes([0] * 7 + [n]) + b"\xff" * 12, 3) for n in range(6)] == [0, 1, 2, 0, 1, 2]
    url = "https://news.example/world"
    assert owner_of(fingerprint(Request(url)), 4) == owner_of(fingerprint(Request(url, meta={"x": 1})), 4)


# ----- the parent's end-of-crawl test, fed with synthetic messages ----------------------------------------------


class Parent:
    """A ``Partitions`` with N ``_Child`` objects and no process; what it would send is recorded."""

    def __init__(self, count: int, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sent: list[tuple[int, dict[str, Any]]] = []
        monkeypatch.setattr(Partitions, "_send", lambda _self, child, message: self.sent.append((child.index, message)))
        self.parts = Partitions({"run_id": "r"}, count, {}, Settings())
        self.parts.children = [_Child(i, process=None, control_in=-1, control_out=-1)  # type: ignore[arg-type]
                               for i in range(count)]

    def tell(self, index: int, message: dict[str, Any]) -> None:
        self.parts._on_message(self.parts.children[index], message)

    def idle(self, index: int, sent: dict[int, int], received: dict[int, int]) -> None:
        self.tell(index, {"type": "idle", **_counts(sent, received)})

    def answer(self, index: int, sent: dict[int, int], received: dict[int, int], *, idle: bool = True,
               round: int | None = None) -> None:
        self.tell(index, {"type": "probe", "round": self.parts.round if round is None else round, "idle": idle,
                          **_counts(sent, received)})

    def take(self) -> list[tuple[int, dict[str, Any]]]:
        out, self.sent = self.sent, []
        return out


def _counts(sent: dict[int, int], received: dict[int, int]) -> dict[str, dict[str, int]]:
    return {"sent": {str(k): v for k, v in sent.items()}, "received": {str(k): v for k, v in received.items()}}


def probes(sent: list[tuple[int, dict[str, Any]]]) -> list[int]:
    return sorted(i for i, m in sent if m["type"] == "probe")


def stops(sent: list[tuple[int, dict[str, Any]]]) -> dict[int, str]:
    return {i: m["reason"] for i, m in sent if m["type"] == "stop"}


def test_end_no_probe_while_a_batch_is_in_flight(monkeypatch: pytest.MonkeyPatch) -> None:
    p = Parent(2, monkeypatch)
    p.idle(0, sent={1: 3}, received={1: 2})
    assert p.take() == []                              # one idle report: the other is still working
    p.idle(1, sent={0: 2}, received={0: 2})            # 0 sent 3 batches to 1, which has received 2
    assert p.take() == []
    assert p.parts.round == 0
    p.idle(1, sent={0: 2}, received={0: 3})            # the third arrived; 1 is idle again
    assert probes(p.take()) == [0, 1]


def test_end_all_idle_and_balanced_probe_then_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    p = Parent(3, monkeypatch)
    p.idle(0, sent={1: 2, 2: 1}, received={1: 4, 2: 0})
    p.idle(1, sent={0: 4, 2: 0}, received={0: 2, 2: 5})
    assert p.take() == []
    p.idle(2, sent={0: 0, 1: 5}, received={0: 1, 1: 0})
    sent = p.take()
    assert probes(sent) == [0, 1, 2] and all(m["round"] == 1 for _i, m in sent)
    p.answer(0, sent={1: 2, 2: 1}, received={1: 4, 2: 0})
    p.answer(1, sent={0: 4, 2: 0}, received={0: 2, 2: 5})
    assert p.take() == []                              # one answer missing
    p.answer(2, sent={0: 0, 1: 5}, received={0: 1, 1: 0})
    assert stops(p.take()) == {0: "finished", 1: "finished", 2: "finished"}
    assert p.parts.stopping == "finished"
    p.idle(0, sent={1: 2, 2: 1}, received={1: 4, 2: 0})    # nothing more once stopping
    assert p.take() == []


def test_end_a_busy_or_changed_answer_is_no_end_and_a_later_round_is(monkeypatch: pytest.MonkeyPatch) -> None:
    p = Parent(2, monkeypatch)
    p.idle(0, sent={1: 1}, received={1: 1})
    p.idle(1, sent={0: 1}, received={0: 1})
    assert probes(p.take()) == [0, 1]
    p.answer(0, sent={1: 1}, received={1: 1})
    p.answer(1, sent={0: 1}, received={0: 1}, idle=False)  # busy again (a late batch, or work of its own)
    assert stops(p.take()) == {}
    assert p.parts.round == 0
    p.idle(1, sent={0: 2}, received={0: 1})            # it sent one more batch and went idle: 0 has not got it
    assert p.take() == []
    p.idle(0, sent={1: 1}, received={1: 2})            # now it has
    sent = p.take()
    assert probes(sent) == [0, 1] and {m["round"] for _i, m in sent} == {2}
    p.answer(0, sent={1: 1}, received={1: 2}, round=1)  # a stale answer, of round 1, is ignored
    p.answer(0, sent={1: 1}, received={1: 2})
    p.answer(1, sent={0: 3}, received={0: 1})          # idle, but it sent a batch since its idle report
    sent = p.take()
    assert stops(sent) == {}
    assert probes(sent) == []                           # 0 has not received that batch: no round yet
    p.idle(0, sent={1: 1}, received={1: 3})
    assert probes(p.take()) == [0, 1]
    p.answer(0, sent={1: 1}, received={1: 3})
    p.answer(1, sent={0: 3}, received={0: 1})
    assert stops(p.take()) == {0: "finished", 1: "finished"}


def test_end_a_process_at_its_page_limit_is_left_out_of_the_balance(monkeypatch: pytest.MonkeyPatch) -> None:
    p = Parent(2, monkeypatch)
    p.tell(0, {"type": "closed", "reason": "max_pages", **_counts({1: 2}, {1: 1})})
    assert p.take() == [] and p.parts.stopping is None   # the other goes on
    p.idle(1, sent={0: 5}, received={0: 1})              # 0 has not got 1's batches, nor 1 one of 0's
    assert p.take() == []
    p.idle(1, sent={0: 6}, received={0: 2})              # what 0 sent has arrived; what 0 was sent is left
    assert probes(p.take()) == [1]
    p.answer(1, sent={0: 6}, received={0: 2})
    assert stops(p.take())[1] == "finished"


def test_end_a_full_disk_stops_the_others_with_its_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    p = Parent(3, monkeypatch)
    p.idle(1, sent={0: 0, 2: 0}, received={0: 0, 2: 0})
    p.tell(0, {"type": "closed", "reason": "disk_full", **_counts({1: 0, 2: 0}, {1: 0, 2: 0})})
    assert stops(p.take()) == {0: "disk_full", 1: "disk_full", 2: "disk_full"}
    assert p.parts.stopping == "disk_full"
    p.idle(2, sent={0: 0, 1: 0}, received={0: 0, 1: 0})  # no probe, no other stop
    assert p.take() == []


def test_child_settings_share_out_politeness() -> None:
    defaults = Settings({"CONCURRENT_REQUESTS_PER_DOMAIN": 3, "DOWNLOAD_DELAY": 0.5,
                         "AUTOTHROTTLE_TARGET_CONCURRENCY": 2.0})
    own = partition.child_settings({"RESUME_RUN": "r1", "CRAWL_PROCESSES": 2}, 1, 2, "r1", defaults)
    assert own["ARCHIVE_RUN_ID"] == "r1-p1" and own["RESUME_RUN"] == "r1-p1"
    assert own["CONCURRENT_REQUESTS_PER_DOMAIN"] == 2         # 3 / 2, rounded up
    assert own["DOWNLOAD_DELAY"] == 1.0
    assert own["AUTOTHROTTLE_TARGET_CONCURRENCY"] == 1.0
    assert "CRAWL_PROCESSES" not in own
    assert own["SPIDER_ANALYSIS_PROCESS"] is False
