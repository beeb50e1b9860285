"""A crawl's life beyond one clean run: resuming it with the right number of processes, stopping it with
SIGTERM (the scheduler's --max-runtime, systemd), a full disk and the resume after it, and the one-line
messages of each.

Every crawl is a real ``crawler crawl`` process against the demo site on 127.0.0.1; what it wrote is read
back from the catalog, the WARC files, the JSON records and the index.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from archive.cdxj import check_index, index_path
from tests.test_partition import Finished, captures, crawl, finish, start

ROOT = Path(__file__).resolve().parents[1]
FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False"]


# ----- helpers: those of tests/test_partition.py ------------------------------------------------------


def gets(site: Any) -> list[str]:
    return [r.path for r in site.requests if r.method == "GET"]


def one_line(result: Finished) -> str:
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert "Traceback" not in result.err
    return lines[0]


# ----- --resume keeps the run's process count ------------------------------------------------------------


def test_resume_takes_the_runs_process_count_and_refuses_another(fresh_site: Any, tmp_path: Path) -> None:
    """Each process of a ``--processes 2`` run is a run of its own (RUN-p0, RUN-p1): resuming it in one
    process found nothing to resume and crawled every page again into the run. Now an explicit other count
    is refused before anything is written, and ``--resume`` alone takes the run's count: a finished run
    resumed fetches nothing, robots.txt included (its revisit's original is in the other process's file)."""
    site = fresh_site(articles=12)
    data = tmp_path / "data"
    first = crawl("--seed", site.base_url + "/", "--data-dir", str(data), "--no-extract", "--processes", "2", *FAST)
    assert first.code == 0, first.err
    run_id = first.run_id
    before = captures(data)
    state = data / "runs" / run_id / "state" / "crawl.json"
    saved = state.read_text(encoding="utf-8")
    site.clear_requests()

    for count in ("1", "3"):
        refused = crawl("--resume", run_id, "--processes", count, "--data-dir", str(data))
        assert refused.code == 2
        assert one_line(refused) == (f"crawler: error: run {run_id} was crawled with 2 processes; "
                                     f"resume it with --processes 2")
    assert gets(site) == [] and captures(data) == before
    assert state.read_text(encoding="utf-8") == saved

    resumed = crawl("--resume", run_id, "--data-dir", str(data), *FAST)
    assert resumed.code == 0, resumed.err
    assert "(2 processes:" in resumed.out
    assert gets(site) == [], "a finished run, resumed, fetched pages again"
    assert len(captures(data)) == len(before)
    assert "pages fetched: 0 " in resumed.out and "replayed from the archive: " in resumed.out

    # a state file written before it named the count: the partitions' logs tell it
    old = json.loads(state.read_text(encoding="utf-8"))
    del old["processes"]
    state.write_text(json.dumps(old), encoding="utf-8")
    refused = crawl("--resume", run_id, "--processes", "1", "--data-dir", str(data))
    assert refused.code == 2 and "resume it with --processes 2" in refused.err


def test_a_one_process_run_is_not_resumed_in_two(fresh_site: Any, tmp_path: Path) -> None:
    site = fresh_site(articles=6)
    data = tmp_path / "data"
    first = crawl("--seed", site.base_url + "/", "--data-dir", str(data), "--no-extract", *FAST)
    assert first.code == 0, first.err
    before = captures(data)
    site.clear_requests()
    refused = crawl("--resume", first.run_id, "--processes", "2", "--data-dir", str(data))
    assert refused.code == 2
    assert one_line(refused) == (f"crawler: error: run {first.run_id} was crawled with 1 process; "
                                 f"resume it with --processes 1")
    assert gets(site) == [] and captures(data) == before
    assert not list((data / "runs").glob(f"{first.run_id}-p*"))
    resumed = crawl("--resume", first.run_id, "--data-dir", str(data), *FAST)
    assert resumed.code == 0, resumed.err
    assert gets(site) == [] and len(captures(data)) == len(before)


# ----- SIGTERM to the crawl's process group ---------------------------------------------------------------

SLOW = ["-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0.2", "-s", "RANDOMIZE_DOWNLOAD_DELAY=False",
        "-s", "CONCURRENT_REQUESTS=2"]


def start_in_own_group(*args: str) -> subprocess.Popen[str]:
    """A ``crawler`` process leading its own process group, as the scheduler starts a run (crawler.runs)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("CRAWLER_DATA_DIR", None)
    return subprocess.Popen([sys.executable, "-m", "crawler.cli", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def wait_for_articles(site: Any, proc: subprocess.Popen[str], n: int, timeout: float = 120) -> None:
    paths = {t.path for t in site.truth}
    deadline = time.monotonic() + timeout
    while sum(1 for r in site.requests if r.method == "GET" and r.path in paths) < n:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "gave up waiting for the crawl"
        time.sleep(0.05)


def html_captures(data_dir: Path) -> set[str]:
    return {c["url"] for c in captures(data_dir) if c["status"] == 200 and c["mime"] == "text/html"}


def test_sigterm_to_the_group_leaves_the_extraction_pool_working(fresh_site: Any, tmp_path: Path) -> None:
    """SIGTERM to the whole group (what the scheduler's --max-runtime sends) used to kill the extraction
    pool's workers with the crawl: the pages archived after it got no record ("Unexpected error within the
    Pool"). Now the crawl closes cleanly and every page it archived has its extracted record."""
    site = fresh_site(articles=30)
    data = tmp_path / "data"
    proc = start_in_own_group("crawl", "news", "--seed", site.base_url + "/", "--data-dir", str(data),
                              "-s", "EXTRACT_WORKERS=2", *SLOW)
    wait_for_articles(site, proc, 4)
    os.killpg(proc.pid, signal.SIGTERM)
    stopped = finish(proc, timeout=120)
    assert stopped.code == 130, stopped.err
    assert "interrupted" in one_line(stopped)
    lines = (data / "records" / f"{stopped.run_id}.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert records
    assert {r["url"] for r in records} == html_captures(data)
    assert [r["url"] for r in records if r["extraction_error"]] == []
    log = (data / "runs" / f"{stopped.run_id}.log").read_text(encoding="utf-8")
    assert "Error processing" not in log and "Pool" not in log
    assert not list((data / "warc").glob("*.open"))


# ----- a full disk, then --resume ---------------------------------------------------------------------------


def not_indexed(data_dir: Path) -> list[str]:
    from crawler.storage import indexed_files

    indexed = indexed_files(index_path(data_dir))
    return [p.name for p in sorted((data_dir / "warc").glob("*.warc.gz")) if p.name not in indexed]


def test_resume_after_a_full_disk_indexes_what_the_full_disk_kept_out(fresh_site: Any, small_disk: Path) -> None:
    """The WARC file closed when the disk filled up could not be added to the index (no room for it), and
    nothing indexed it later: ``replay get`` could not find pages that ``list`` showed. The exit message
    now names the indexing, and the resumed crawl indexes the closed files its index lacks."""
    site = fresh_site(articles=60)
    data = small_disk / "data"
    full = crawl("--seed", site.base_url + "/", "--data-dir", str(data), "--no-extract", *FAST,
                 "-s", "DISKFULL_MIN_FREE=1", "-s", "DISKFULL_CHECK_INTERVAL=0.2")
    assert full.code == 3, full.err
    message = full.err.strip().splitlines()[-1]
    assert "disk is full" in message and f"--resume {full.run_id}" in message
    left_out = not_indexed(data)
    assert left_out, "the full disk should have kept a WARC file out of the index"
    assert f"the {len(left_out)} WARC file" in message and "crawler index --data-dir" in message, message

    subprocess.run(["mount", "-o", "remount,size=20m", str(small_disk)], check=True)
    resumed = crawl("--resume", full.run_id, "--data-dir", str(data), *FAST)
    assert resumed.code == 0, resumed.err
    assert not_indexed(data) == []
    check = check_index(data)
    assert check.missing_from_index == () and check.stale_in_index == ()


# ----- one-line errors ----------------------------------------------------------------------------------------


def test_a_seeds_file_that_is_a_directory_is_named_so(tmp_path: Path) -> None:
    refused = crawl("--seeds-file", str(tmp_path), "--data-dir", str(tmp_path / "data"))
    assert refused.code == 2
    assert one_line(refused) == (f"crawler: error: seeds file {tmp_path} is a directory: "
                                 f"give a file with one URL a line")
    missing = crawl("--seeds-file", str(tmp_path / "nope.txt"), "--data-dir", str(tmp_path / "data"))
    assert missing.code == 2 and one_line(missing) == f"crawler: error: seeds file not found: {tmp_path / 'nope.txt'}"


def test_sigterm_to_the_group_is_no_error_of_the_page_analysis_process(fresh_site: Any, tmp_path: Path) -> None:
    """The page-analysis helper (archive mode) died of the group's SIGTERM and the crawl logged it as an
    ERROR; it now lets the crawl close it, as on Ctrl-C."""
    site = fresh_site(articles=30)
    data = tmp_path / "data"
    proc = start_in_own_group("crawl", "news", "--seed", site.base_url + "/", "--data-dir", str(data),
                              "--no-extract", "-s", "SPIDER_ANALYSIS_PROCESS=True", *SLOW)
    wait_for_articles(site, proc, 4)
    os.killpg(proc.pid, signal.SIGTERM)
    stopped = finish(proc, timeout=120)
    assert stopped.code == 130, stopped.err
    assert "interrupted" in one_line(stopped)
    log = (data / "runs" / f"{stopped.run_id}.log").read_text(encoding="utf-8")
    assert "page-analysis process stopped" not in log
    assert " ERROR: " not in log


def test_a_dead_process_is_named_as_its_run_and_its_recovery_is_a_sentence(fresh_site: Any, tmp_path: Path) -> None:
    """'process 1 (exit code -9) died' meant the run RUN-p0: the message now names the run. Resuming
    recovers its unfinished WARC file and says so in words, not as a Python repr."""
    from tests.test_partition import partition_children, wait_until

    site = fresh_site(articles=30)
    data = tmp_path / "data"
    proc = start("crawl", "news", "--seed", site.base_url + "/", "--data-dir", str(data), "--no-extract", *SLOW,
                 "--processes", "2")
    paths = {t.path for t in site.truth}
    wait_until(lambda: sum(1 for r in site.requests if r.path in paths) >= 4 and len(partition_children(proc)) == 2,
               proc, "4 articles fetched")
    victim = partition_children(proc)[0]
    victim_run = json.loads(victim.cmdline()[-1])["run_id"]
    victim.kill()
    stopped = finish(proc, timeout=120)
    assert stopped.code == 1
    assert f"the process of run {victim_run} (exit code -9) died" in one_line(stopped)
    assert victim_run.startswith(stopped.run_id + "-p")

    left_open = list((data / "warc").glob("*.open"))
    resumed = crawl("--resume", stopped.run_id, "--data-dir", str(data), *FAST)
    assert resumed.code == 0, resumed.err
    logs = "".join(p.read_text(encoding="utf-8") for p in (data / "runs").glob(f"{stopped.run_id}-p*.log"))
    assert "Recovered(" not in logs and "PosixPath(" not in logs
    for path in left_open:
        assert f"recovered {path}, left unfinished by an earlier crawl" in logs


def test_a_stuck_crawl_in_two_processes_is_killed_whole_after_the_grace_period(fresh_site: Any,
                                                                                tmp_path: Path) -> None:
    """The scheduler's stop (crawler.runs: SIGTERM to the group, SIGKILL after the grace period) reached
    only the parent of a ``--processes 2`` crawl at the SIGKILL: its processes lead sessions of their own,
    so a stuck one lived on, holding its files, after the run was recorded as over."""
    import psutil

    from crawler.runs import _stop
    from tests.test_partition import partition_children

    site = fresh_site(articles=30)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("CRAWLER_DATA_DIR", None)
    proc = subprocess.Popen([sys.executable, "-m", "crawler.cli", "crawl", "news", "--seed", site.base_url + "/",
                             "--data-dir", str(tmp_path / "data"), "--no-extract", "--processes", "2", *SLOW],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    children: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 60
        while len(partition_children(proc)) < 2:   # type: ignore[arg-type]
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        children = partition_children(proc)        # type: ignore[arg-type]
        for child in children:
            child.suspend()                        # stuck: it cannot answer the parent's stop
        _stop(proc, grace=2.0)
        psutil.wait_procs(children, timeout=10)
        for child in children:
            assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE
    finally:
        for child in children:
            if child.is_running():
                child.kill()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
