"""The scheduler with real run processes and real crawls of the demo site.

The scheduler's clock is injected (an hour passes between two ticks in no time); runs are real
``crawler.runs`` supervisors and ``crawler crawl`` processes. Waiting for a run to end polls the run
history with a generous deadline; nothing asserts on durations.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.reader import iter_records
from archive.schedules import ACTIVE, RunRow, ScheduleRow, ScheduleStore
from crawler.demosite import RunningServer, Site, serve
from crawler.runs import lock_is_held
from crawler.scheduler import Scheduler

HOUR = timedelta(hours=1)
FAST = ("-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "EXTRACT_WORKERS=1")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def add_schedule(data_dir: Path, site: RunningServer, created: datetime, name: str = "demo") -> None:
    with ScheduleStore.for_data_dir(data_dir) as store:
        store.add(ScheduleRow(name=name, spider="news", args=("--seed", site.base_url + "/", *FAST), every=HOUR,
                              cron=None, max_runtime=timedelta(minutes=10), paused=False, created_at=created,
                              next_run_at=created))


def wait_for_end(data_dir: Path, run_id: str, deadline: float = 180.0) -> RunRow:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        with ScheduleStore.for_data_dir(data_dir) as store:
            run = store.run(run_id)
        if run.status not in ACTIVE:
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not end within {deadline} s")


def wait_for(predicate: Callable[[], bool], what: str, deadline: float = 120.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def history(data_dir: Path, name: str = "demo") -> list[RunRow]:
    with ScheduleStore.for_data_dir(data_dir) as store:
        return list(reversed(store.runs(name)))       # oldest first


@pytest.fixture
def site() -> Iterator[RunningServer]:
    with serve(Site(articles=5)) as server:
        yield server


def test_two_scheduled_runs_record_versions_revisits_and_counts_and_never_overlap(
        site: RunningServer, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    t0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    clock = Clock(t0)
    add_schedule(data_dir, site, t0)
    scheduler = Scheduler(data_dir, clock=clock)
    [first] = scheduler.tick().started
    assert wait_for_end(data_dir, first).status == "finished"
    scheduler.join(60)
    truth = site.truth
    edited, removed = truth[3], truth[4]
    site.site.edit_article(edited.id, "A correction added after the first run.")
    site.site.remove_article(removed.id)
    added = site.site.add_article()

    clock.now = t0 + HOUR + timedelta(minutes=1)
    [second] = scheduler.tick().started
    clock.now = t0 + 2 * HOUR + timedelta(minutes=1)       # the next fire time, while the run still goes on
    overlap = scheduler.tick()
    assert overlap.started == [] and len(overlap.skipped) == 1
    assert wait_for_end(data_dir, second).status == "finished"
    scheduler.join(60)

    runs = history(data_dir)
    assert [(r.run_id, r.status) for r in runs] == [(first, "finished"), (second, "finished"),
                                                    (overlap.skipped[0], "skipped")]
    assert runs[0].scheduled_for == t0 and runs[1].scheduled_for == t0 + HOUR
    assert "still running" in (runs[2].error or "")
    one, two = runs[0].numbers, runs[1].numbers
    assert one["new_articles"] == 5 and one["changed_articles"] == 0 and one["errors"] == 0
    # the edited article, and any whose related-articles teasers the extractor takes for text
    assert two["new_articles"] == 1 and 1 <= (two["changed_articles"] or 0) < 5 and two["errors"] == 0
    assert two["unchanged"] >= 3 and two["pages"] >= 10
    assert 0 < (two["bytes"] or 0) < (one["bytes"] or 0)
    assert runs[0].exit_code == 0 and runs[0].duration is not None and runs[0].log_file
    assert Path(runs[0].log_file).exists()
    # what the runs wrote: revisit records in the WARCs, two versions of the edited article
    types = Counter(r.rec_type for p in (data_dir / "warc").glob("*.warc.gz") for r in iter_records(p))
    assert types["revisit"] >= 3
    out = subprocess.run([sys.executable, "-m", "crawler.cli", "show", edited.url, "--versions",
                          "--data-dir", str(data_dir)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert len([line for line in out.stdout.splitlines() if line.startswith(("1 ", "2 "))]) == 2
    listing = subprocess.run([sys.executable, "-m", "crawler.cli", "runs", "demo", "--data-dir", str(data_dir)],
                             capture_output=True, text=True, timeout=60)
    assert listing.returncode == 0 and first in listing.stdout and second in listing.stdout
    assert added.url and removed.url


def test_a_crashed_run_is_marked_failed_and_the_next_one_proceeds(site: RunningServer, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    t0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    clock = Clock(t0)
    add_schedule(data_dir, site, t0)
    scheduler = Scheduler(data_dir, clock=clock)
    [crashed] = scheduler.tick().started
    supervisor = scheduler.children[crashed]

    def running() -> bool:
        with ScheduleStore.for_data_dir(data_dir) as store:
            return store.run(crashed).status == "running"

    wait_for(running, "the run to start")
    with ScheduleStore.for_data_dir(data_dir) as store:
        crawl_pid = store.run(crashed).pid
    assert crawl_pid is not None
    os.kill(supervisor.pid, signal.SIGKILL)       # the whole run dies: supervisor and crawl
    os.killpg(crawl_pid, signal.SIGKILL)
    supervisor.wait()
    wait_for(lambda: not lock_is_held(data_dir, "demo"), "the lock to be released by the kernel")
    assert scheduler.tick().recovered == [crashed]
    clock.now = t0 + HOUR
    [following] = scheduler.tick().started
    assert wait_for_end(data_dir, following).status == "finished"
    scheduler.join(60)
    runs = history(data_dir)
    assert [(r.run_id, r.status) for r in runs] == [(crashed, "failed"), (following, "finished")]
    assert "died" in (runs[0].error or "")
    failed = subprocess.run([sys.executable, "-m", "crawler.cli", "runs", "--failed", "--data-dir", str(data_dir)],
                            capture_output=True, text=True, timeout=60)
    assert crashed in failed.stdout and following not in failed.stdout and "died" in failed.stdout


def test_a_killed_scheduler_restarts_without_a_duplicate_run(site: RunningServer, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    now = datetime.now(UTC).replace(microsecond=0)
    add_schedule(data_dir, site, now)
    env = {k: v for k, v in os.environ.items() if k != "CRAWLER_DATA_DIR"}
    cmd = [sys.executable, "-m", "crawler.cli", "scheduler", "--data-dir", str(data_dir)]
    scheduler = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: any(r.status == "running" for r in history(data_dir)), "the first run to start")
    finally:
        scheduler.send_signal(signal.SIGKILL)
        scheduler.wait()
    [run] = history(data_dir)
    assert lock_is_held(data_dir, "demo")         # the orphaned run goes on, holding its lock
    again = subprocess.run([*cmd, "--once"], env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "started 0, skipped 0, recovered 0" in again.stderr
    assert wait_for_end(data_dir, run.run_id).status == "finished"
    again = subprocess.run([*cmd, "--once"], env=env, capture_output=True, text=True, timeout=60)
    assert "started 0, skipped 0, recovered 0" in again.stderr
    runs = history(data_dir)
    assert [(r.run_id, r.status) for r in runs] == [(run.run_id, "finished")]
    assert runs[0].numbers["new_articles"] == 5
    with ScheduleStore.for_data_dir(data_dir) as store:
        assert store.get("demo").next_run_at == now + HOUR


def test_a_run_past_its_wall_clock_limit_is_stopped_and_recorded_as_timeout(
        site: RunningServer, tmp_path: Path) -> None:
    from crawler.runs import supervise, try_lock

    data_dir = tmp_path / "data"
    now = datetime.now(UTC)
    slow = ScheduleRow(name="slow", spider="news", args=("--seed", site.base_url + "/", "-s", "DOWNLOAD_DELAY=2",
                                                          "-s", "AUTOTHROTTLE_ENABLED=False"),
                       every=HOUR, cron=None, max_runtime=timedelta(seconds=2), paused=False, created_at=now,
                       next_run_at=now)
    with ScheduleStore.for_data_dir(data_dir) as store:
        store.add(slow)
        store.add_run("slow-1", "slow", now)
        fd = try_lock(data_dir, "slow")
        assert fd is not None
        try:
            run = supervise(store, data_dir, slow, "slow-1", fd)
        finally:
            os.close(fd)
    assert run.status == "timeout" and "wall-clock limit of 2 s" in (run.error or "")
    assert run.numbers["pages"] is not None and run.numbers["pages"] < 27    # stopped before the end
    assert not lock_is_held(data_dir, "slow")


def test_a_scheduled_crawl_in_two_processes_counts_both(site: RunningServer, tmp_path: Path) -> None:
    """`--processes 2` in a schedule's arguments: the run's numbers are its two processes' runs added up."""
    from archive.catalog import Catalog

    data_dir = tmp_path / "data"
    t0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    with ScheduleStore.for_data_dir(data_dir) as store:
        store.add(ScheduleRow(name="two", spider="news",
                              args=("--seed", site.base_url + "/", *FAST, "--no-extract", "--processes", "2"),
                              every=HOUR, cron=None, max_runtime=timedelta(minutes=10), paused=False,
                              created_at=t0, next_run_at=t0))
    scheduler = Scheduler(data_dir, clock=Clock(t0))
    [run_id] = scheduler.tick().started
    run = wait_for_end(data_dir, run_id)
    scheduler.join(60)
    assert run.status == "finished" and run.exit_code == 0
    catalog = Catalog(data_dir / "catalog.sqlite")
    try:
        parts = {r["run_id"]: r["stats"] for r in catalog.runs()}
        captured = {cap["url"] for cap in catalog.captures()}
    finally:
        catalog.close()
    assert sorted(parts) == [f"{run_id}-p0", f"{run_id}-p1"]
    assert run.numbers["pages"] == sum(s["archive/responses"] for s in parts.values())
    assert {t.url for t in site.truth} <= captured
