"""Periodic crawls: the schedule model (interval or cron, UTC) and the scheduler loop.

A schedule fires at ``created_at + k * every`` (an interval: the first run is at once) or at the times of
a cron expression evaluated in UTC (croniter). The scheduler (``crawler scheduler``) keeps no state of
its own: every pass (``Scheduler.tick``) reads ``schedules`` and ``schedule_runs`` from the catalog,

1. recovers runs left ``pending``/``running`` by processes that died: a run whose lock is free and that
   is not one of this scheduler's children is marked ``failed``; a claimed run that never started (the
   scheduler died between claiming and starting it) is made due again at once;
2. starts every due, unpaused schedule: it takes the schedule's lock (``crawler.runs``), claims the run
   (``ScheduleStore.claim``: one transaction moves ``next_run_at`` on and inserts the run row) and starts
   ``python -m crawler.runs`` in its own session with the lock, so runs outlive a stopped scheduler.

Misfire policy: fire times missed while the scheduler was down or busy are coalesced into one run,
started as soon as the scheduler sees the schedule due; the next fire time is then the first one after
now. A fire time that comes while a run of the same schedule is still going (its lock is held) does not
start a second run: it is recorded as ``skipped`` and the schedule moves on to its next fire time. While
paused, a schedule does not fire; ``resume`` sets its next fire time after now (missed ones are dropped).

All times are aware UTC datetimes from an injectable clock; the loop sleeps on an ``Event`` (at most
``max_sleep`` seconds at a time, so a changed wall clock or a new schedule is noticed).
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from croniter import croniter

from archive.schedules import ACTIVE, ScheduleRow, ScheduleStore, ScheduleStoreError
from archive.timeutil import utc_now
from crawler.runs import DEFAULT_GRACE, lock_is_held, numbers_from, try_lock
from crawler.storage import new_run_id

__all__ = ["Scheduler", "TickResult", "Timing", "next_fire", "parse_every", "spawn_supervisor"]

logger = logging.getLogger(__name__)

_EVERY_RE = re.compile(r"(\d+)\s*([smhdw])", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_every(text: str) -> timedelta:
    """``30m``, ``6h``, ``1h30m``, ``1d``, ``45s`` -> timedelta; ValueError with an example otherwise."""
    compact = text.strip().replace(" ", "")
    parts = _EVERY_RE.findall(compact)
    if not parts or "".join(f"{n}{u}" for n, u in parts).lower() != compact.lower():
        raise ValueError(f"bad interval {text!r}: give a number and a unit (s, m, h, d, w), e.g. 30m, 6h or 1h30m")
    seconds = sum(int(n) * _UNITS[u.lower()] for n, u in parts)
    if seconds < 1:
        raise ValueError(f"bad interval {text!r}: must be at least one second")
    return timedelta(seconds=seconds)


@dataclass(frozen=True)
class Timing:
    """When a schedule fires: ``every`` (an interval) or ``cron`` (a 5-field cron expression in UTC)."""

    every: timedelta | None = None
    cron: str | None = None

    def __post_init__(self) -> None:
        if (self.every is None) == (self.cron is None):
            raise ValueError("give either an interval (--every 30m) or a cron expression (--cron '0 */6 * * *')")
        if self.cron is not None and (len(self.cron.split()) != 5 or not croniter.is_valid(self.cron)):
            raise ValueError(f"bad cron expression {self.cron!r}: give five fields in UTC, e.g. '0 */6 * * *'")

    @classmethod
    def of(cls, schedule: ScheduleRow) -> Timing:
        return cls(schedule.every, schedule.cron)

    def describe(self) -> str:
        if self.every is not None:
            return f"every {_human(self.every)}"
        return f"cron '{self.cron}' (UTC)"

    def first(self, now: datetime) -> datetime:
        """The first fire time of a schedule created at ``now``: at once for an interval."""
        return now if self.every is not None else next_fire(self, now, now)


def _human(delta: timedelta) -> str:
    seconds, out = int(delta.total_seconds()), []
    for unit in ("w", "d", "h", "m", "s"):
        n, seconds = divmod(seconds, _UNITS[unit])
        if n:
            out.append(f"{n}{unit}")
    return "".join(out) or "0s"


def next_fire(timing: Timing, anchor: datetime, after: datetime) -> datetime:
    """The first fire time strictly after ``after`` (an interval counts from ``anchor``)."""
    after = after.astimezone(UTC)
    if timing.every is not None:
        if after < anchor:
            return anchor
        steps = (after - anchor) // timing.every + 1
        return anchor + steps * timing.every
    result: datetime = croniter(timing.cron, after).get_next(datetime)
    return result.astimezone(UTC)


def spawn_supervisor(data_dir: Path, schedule: str, run_id: str, lock_fd: int, grace: float) -> subprocess.Popen[bytes]:
    """Start ``python -m crawler.runs`` for a claimed run, in its own session, holding the lock."""
    runs_dir = Path(data_dir) / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    with open(runs_dir / f"{run_id}.out", "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "crawler.runs", "--data-dir", str(data_dir), "--schedule", schedule,
             "--run-id", run_id, "--lock-fd", str(lock_fd), "--grace", str(grace)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, pass_fds=(lock_fd,),
            start_new_session=True,
        )


@dataclass
class TickResult:
    """What one pass of the scheduler did (run ids)."""

    started: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)


class Scheduler:
    """Starts the due runs of the schedules in ``data_dir``'s catalog; see the module docstring."""

    def __init__(
        self,
        data_dir: Path,
        *,
        clock: Callable[[], datetime] = utc_now,
        grace: float = DEFAULT_GRACE,
        spawn: Callable[[Path, str, str, int, float], subprocess.Popen[bytes]] = spawn_supervisor,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.clock = clock
        self.grace = grace
        self.spawn = spawn
        self.children: dict[str, subprocess.Popen[bytes]] = {}

    def _reap(self) -> None:
        for run_id, proc in list(self.children.items()):
            if proc.poll() is not None:
                del self.children[run_id]

    def tick(self) -> TickResult:
        """One pass: recover dead runs, then start (or skip) every due schedule."""
        result = TickResult()
        self._reap()
        with ScheduleStore.for_data_dir(self.data_dir) as store:
            self._recover(store, result)
            for schedule in store.schedules():
                now = self.clock()
                if schedule.paused or schedule.next_run_at > now:
                    continue
                self._fire(store, schedule, now, result)
        return result

    def _recover(self, store: ScheduleStore, result: TickResult) -> None:
        for run in store.runs(statuses=ACTIVE):
            if run.run_id in self.children or lock_is_held(self.data_dir, run.schedule):
                continue                 # still going (an orphaned run records its own end)
            now = self.clock()
            if run.status == "pending" and run.trigger == "schedule":
                store.finish(run.run_id, "failed", now, error="the scheduler stopped between claiming this "
                             "run and starting it; it was started again as a new run")
                try:
                    schedule = store.get(run.schedule)
                except ScheduleStoreError:
                    schedule = None      # removed meanwhile: nothing to start again
                if schedule is not None and run.scheduled_for is not None:
                    store.set_next_run(run.schedule, min(schedule.next_run_at, run.scheduled_for))
            else:
                store.finish(run.run_id, "failed", now, numbers=numbers_from(store.stats_of(run.run_id) or {}),
                             error="the run's process died (killed or crashed) before recording its end; "
                                   f"see {run.log_file or 'its log in runs/'}")
            logger.warning("run %s of %s was left %s by a process that died: marked failed",
                           run.run_id, run.schedule, run.status)
            result.recovered.append(run.run_id)

    def _fire(self, store: ScheduleStore, schedule: ScheduleRow, now: datetime, result: TickResult) -> None:
        following = next_fire(Timing.of(schedule), schedule.created_at, now)   # missed fire times coalesce
        run_id = new_run_id(now)
        fd = try_lock(self.data_dir, schedule.name)
        if fd is None:
            busy = next((r.run_id for r in store.runs(schedule.name, statuses=ACTIVE, limit=1)), "a run")
            if store.claim(schedule.name, schedule.next_run_at, following, run_id, now, status="skipped",
                           error=f"{busy} of this schedule was still running"):
                logger.info("%s: skipped the run due at %s, %s is still running", schedule.name,
                            schedule.next_run_at.isoformat(), busy)
                result.skipped.append(run_id)
            return
        try:
            if not store.claim(schedule.name, schedule.next_run_at, following, run_id, now):
                return                   # another scheduler claimed it first
            try:
                self.children[run_id] = self.spawn(self.data_dir, schedule.name, run_id, fd, self.grace)
            except OSError as exc:
                store.finish(run_id, "failed", self.clock(), error=f"cannot start the run process: {exc}")
                raise
            logger.info("%s: started run %s (next at %s)", schedule.name, run_id, following.isoformat())
            result.started.append(run_id)
        finally:
            os.close(fd)                 # the run's process holds the lock from here on

    def join(self, timeout: float | None = None) -> None:
        """Wait for the run processes this scheduler started (they record their own end)."""
        for run_id, proc in list(self.children.items()):
            proc.wait(timeout)
            del self.children[run_id]

    def next_wakeup(self) -> datetime | None:
        """The earliest next fire time of an unpaused schedule."""
        with ScheduleStore.for_data_dir(self.data_dir) as store:
            times = [s.next_run_at for s in store.schedules() if not s.paused]
        return min(times) if times else None

    def serve(self, stop: threading.Event, *, max_sleep: float = 30.0) -> None:
        """Tick until ``stop`` is set, sleeping until the next fire time (at most ``max_sleep`` s at once)."""
        while not stop.is_set():
            self.tick()
            wakeup = self.next_wakeup()
            delay = max_sleep if wakeup is None else (wakeup - self.clock()).total_seconds()
            if self.children:
                delay = min(delay, 5.0)  # reap finished runs promptly
            stop.wait(min(max(delay, 0.05), max_sleep))
        self._reap()
