"""One run of a schedule: its own crawl process, a lock, a log file, a wall-clock limit and its numbers.

``supervise`` starts ``crawler crawl SPIDER ARGS --data-dir DIR -s ARCHIVE_RUN_ID=<run id>`` in a new
session, its output going to ``runs/<run id>.out`` (Scrapy's own log is ``runs/<run id>.log``), waits
for it with a wall-clock limit measured on the monotonic clock (SIGTERM to the process group when the
limit passes, which Scrapy answers by closing the crawl cleanly; SIGKILL after ``grace`` seconds more),
and records the end in ``schedule_runs``: status (finished, failed, timeout), exit code, duration, and
the numbers of the crawl's stats (pages fetched, new/changed/unchanged articles, errors, bytes).

The lock: ``runs/<schedule>.lock``, held with ``flock`` by the run's supervisor *and* its crawl process
(the descriptor is inherited). The kernel releases it when the last of them exits, however they exit, so
a crashed run never leaves a stale lock, and a crawl orphaned by a killed supervisor or scheduler keeps
its schedule locked until it ends. The scheduler takes the lock before claiming a run and hands it on.

``python -m crawler.runs --data-dir DIR --schedule NAME --run-id ID --lock-fd FD`` is how the scheduler
starts a supervisor (in its own session, so that stopping the scheduler does not stop running crawls).
"""

from __future__ import annotations

import argparse
import fcntl
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from archive.schedules import RunRow, ScheduleRow, ScheduleStore
from archive.timeutil import utc_now

__all__ = ["DEFAULT_GRACE", "crawl_argv", "lock_is_held", "main", "numbers_from", "supervise", "try_lock"]

DEFAULT_GRACE = 60.0        # seconds between SIGTERM and SIGKILL when a run passes its wall-clock limit


def _lock_path(data_dir: Path, schedule: str) -> Path:
    return Path(data_dir) / "runs" / f"{schedule}.lock"


def try_lock(data_dir: Path, schedule: str) -> int | None:
    """An inheritable descriptor holding the schedule's lock, or ``None`` when a run holds it."""
    path = _lock_path(data_dir, schedule)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    os.set_inheritable(fd, True)
    return fd


def lock_is_held(data_dir: Path, schedule: str) -> bool:
    """True while a run of ``schedule`` (or a crawl it started) is alive."""
    path = _lock_path(data_dir, schedule)
    if not path.exists():
        return False  # no run ever held it (and a read-only archive can be listed: nothing is created)
    if not os.access(path, os.W_OK):
        reader = os.open(path, os.O_RDONLY)  # a lock held elsewhere shows on a read-only descriptor too
        try:
            fcntl.flock(reader, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(reader)
        return False
    fd = try_lock(data_dir, schedule)
    if fd is None:
        return True
    os.close(fd)
    return False


def crawl_argv(schedule: ScheduleRow, data_dir: Path, run_id: str) -> list[str]:
    """The ``crawler crawl`` command line of one run."""
    return [sys.executable, "-m", "crawler.cli", "crawl", schedule.spider, *schedule.args,
            "--data-dir", str(data_dir), "-s", f"ARCHIVE_RUN_ID={run_id}"]


def numbers_from(stats: Mapping[str, Any]) -> dict[str, int]:
    """The numbers recorded per run, from the crawl's Scrapy stats (see crawler.incremental for the keys)."""
    from crawler.progress import summarize

    def n(key: str) -> int:
        return int(stats.get(key, 0) or 0)

    return {
        "pages": n("archive/responses"),
        "new_articles": n("incremental/new_articles"),
        "changed_articles": n("incremental/changed_articles"),
        "unchanged": n("incremental/unchanged"),
        "errors": int(summarize(dict(stats))["errors"]),
        "bytes": n("archive/bytes"),
    }


def _last_error(out_file: Path) -> str | None:
    try:
        lines = [ln.strip() for ln in out_file.read_text(encoding="utf-8", errors="replace").splitlines()]
    except OSError:
        return None
    errors = [ln for ln in lines if ln.startswith("crawler: error:") or ln.startswith(("Traceback", "Error"))]
    last = errors[-1] if errors else next((ln for ln in reversed(lines) if ln), None)
    return last[:500] if last else None


def supervise(
    store: ScheduleStore,
    data_dir: Path,
    schedule: ScheduleRow,
    run_id: str,
    lock_fd: int,
    *,
    grace: float = DEFAULT_GRACE,
    clock: Callable[[], datetime] = utc_now,
    argv: Sequence[str] | None = None,
) -> RunRow:
    """Run the crawl of ``run_id`` (already a row in ``schedule_runs``) to its end and record it."""
    data_dir = Path(data_dir)
    runs_dir = data_dir / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    out_file = runs_dir / f"{run_id}.out"
    log_file = runs_dir / f"{run_id}.log"
    command = list(argv) if argv is not None else crawl_argv(schedule, data_dir, run_id)
    limit = schedule.max_runtime.total_seconds()
    start = time.monotonic()
    with open(out_file, "ab") as out:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                pass_fds=(lock_fd,), start_new_session=True)
    store.mark_running(run_id, proc.pid, clock(), str(log_file))
    timed_out = False
    try:
        code = proc.wait(timeout=max(0.0, limit - (time.monotonic() - start)))
    except subprocess.TimeoutExpired:
        timed_out = True
        code = _stop(proc, grace)
    except BaseException:                   # interrupted (Ctrl-C on 'schedule run-now'): stop the crawl too
        code = _stop(proc, grace)
        store.finish(run_id, "failed", clock(), exit_code=code, duration=round(time.monotonic() - start, 3),
                     numbers=numbers_from(store.stats_of(run_id) or {}), error="interrupted; the crawl was stopped")
        raise
    duration = time.monotonic() - start
    numbers = numbers_from(store.stats_of(run_id) or {})
    if timed_out:
        status, error = "timeout", f"stopped after its wall-clock limit of {limit:g} s (log: {log_file})"
    elif code == 0:
        status, error = "finished", None
    else:
        why = _last_error(out_file) or f"exit status {code}"
        status, error = "failed", f"{why} (exit status {code}; output: {out_file})"
    store.finish(run_id, status, clock(), exit_code=code, numbers=numbers, duration=round(duration, 3),
                 error=error)
    return store.run(run_id)


def _stop(proc: subprocess.Popen[bytes], grace: float) -> int:
    """SIGTERM the crawl's process group (Scrapy closes cleanly), SIGKILL it after ``grace`` seconds, and
    with it every process under it: the processes of ``crawl --processes`` lead sessions of their own (the
    parent relays the stop to them), so the group's SIGKILL alone would leave a stuck one running."""
    _signal_group(proc.pid, signal.SIGTERM)
    try:
        return proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        stragglers = _descendants(proc.pid)      # before the kill: then they are the init process's children
        _signal_group(proc.pid, signal.SIGKILL)
        for pid in stragglers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass                            # it was in the group, or ended meanwhile
        return proc.wait()


def _descendants(pid: int) -> list[int]:
    """The processes under ``pid``, from ``/proc`` (none where there is no ``/proc``)."""
    children: dict[int, list[int]] = {}
    try:
        entries = [e.name for e in os.scandir("/proc") if e.name.isdigit()]
    except OSError:
        return []
    for name in entries:
        try:
            stat = Path("/proc", name, "stat").read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue                            # it ended meanwhile
        fields = stat.rsplit(")", 1)[-1].split()   # after "pid (command)": state, ppid, ...
        if len(fields) > 1 and fields[1].isdigit():
            children.setdefault(int(fields[1]), []).append(int(name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass                                # it ended on its own meanwhile: nothing to stop


def main(argv: Sequence[str] | None = None) -> int:
    """Supervise one run the scheduler has claimed (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m crawler.runs", description=main.__doc__)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--schedule", required=True)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--lock-fd", type=int, required=True, help="an inherited descriptor holding the lock")
    parser.add_argument("--grace", type=float, default=DEFAULT_GRACE)
    args = parser.parse_args(argv)
    with ScheduleStore.for_data_dir(args.data_dir) as store:
        try:
            schedule = store.get(args.schedule)
        except Exception as exc:
            store.finish(args.run_id, "failed", utc_now(), error=f"cannot start: {exc}")
            raise
        run = supervise(store, args.data_dir, schedule, args.run_id, args.lock_fd, grace=args.grace)
    return 0 if run.status == "finished" else 1


if __name__ == "__main__":
    from crawler.runs import main as _main  # the imported module, not this __main__ copy

    sys.exit(_main())
