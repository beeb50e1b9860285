"""``crawler schedule``: add, list, pause, resume, remove schedules, and run one now."""

from __future__ import annotations

import argparse
import os
from datetime import timedelta
from typing import Any

from crawler.commands._common import add_data_dir, human_bytes, parse_setting
from crawler.commands.crawl import add_scope_options

EPILOG = """\
A schedule lives in the data directory's catalog and crawls into that data directory; 'crawler scheduler'
starts its runs. Times are UTC. Examples:
  crawler schedule add mt themoscowtimes --every 1h --max-pages 200
  crawler schedule add site news --seed https://example.org/ --cron "0 */6 * * *" --max-runtime 2h
  crawler schedule list
  crawler schedule run-now mt
"""


def register(sub: Any) -> None:
    p = sub.add_parser("schedule", help="manage periodic crawls", description=__doc__.split("\n")[0],
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = p.add_subparsers(dest="schedule_verb", metavar="VERB")
    p.set_defaults(func=lambda args: _usage(p))

    add = verbs.add_parser("add", help="add a schedule", description="Add a schedule: a crawl that runs periodically.")
    add.add_argument("name", help="a name for the schedule (letters, digits, '.', '_', '-')")
    add.add_argument("spider", help="spider name: news (generic) or a site spider such as themoscowtimes")
    when = add.add_mutually_exclusive_group(required=True)
    when.add_argument("--every", metavar="INTERVAL", help="run every INTERVAL (30m, 6h, 1h30m, 1d); first run at once")
    when.add_argument("--cron", metavar="EXPR", help="run at the times of a 5-field cron expression, in UTC")
    add.add_argument("--max-runtime", default="6h", metavar="INTERVAL",
                     help="wall-clock limit of one run; it is stopped after this (default 6h)")
    add.add_argument("--seed", action="append", default=[], metavar="URL", help="a seed URL (repeatable)")
    add.add_argument("--seeds-file", metavar="FILE", help="a file with one seed URL per line")
    add_scope_options(add)
    add.add_argument("--contact", metavar="URL_OR_EMAIL", help="how site operators can reach you")
    add.add_argument("--no-extract", action="store_true", help="archive only; fill records later with reextract")
    add.add_argument("-s", "--set", dest="settings", action="append", default=[], type=parse_setting,
                     metavar="NAME=VALUE", help="a setting for every run (repeatable)")
    add.add_argument("-a", dest="spider_args", action="append", default=[], type=parse_setting,
                     metavar="NAME=VALUE", help="an extra spider argument for every run (repeatable)")
    add_data_dir(add)
    add.set_defaults(func=run_add)

    for verb, helptext, func in (
        ("remove", "remove a schedule (its run history stays)", run_remove),
        ("pause", "stop starting runs of a schedule", run_pause),
        ("resume", "start runs of a paused schedule again, from its next fire time", run_resume),
        ("run-now", "run a schedule once now, in the foreground (exit 1 when the run fails)", run_now),
    ):
        v = verbs.add_parser(verb, help=helptext, description=helptext[0].upper() + helptext[1:] + ".")
        v.add_argument("name")
        add_data_dir(v)
        v.set_defaults(func=func)
    ls = verbs.add_parser("list", help="list schedules", description="List schedules with their next run.")
    add_data_dir(ls)
    ls.set_defaults(func=run_list)


def _usage(parser: argparse.ArgumentParser) -> int:
    from crawler.errors import UsageError

    raise UsageError("give a verb: add, list, remove, pause, resume or run-now (see 'crawler schedule --help')")


def crawl_args(args: argparse.Namespace) -> list[str]:
    """The ``crawler crawl`` arguments a schedule stores (everything after the spider name)."""
    out: list[str] = []
    for url in args.seed:
        out += ["--seed", url]
    if args.seeds_file:
        from pathlib import Path

        out += ["--seeds-file", str(Path(args.seeds_file).resolve())]
    for option in ("max_pages", "max_depth", "since", "contact"):
        value = getattr(args, option)
        if value is not None:
            out += ["--" + option.replace("_", "-"), str(value)]
    for regex in args.allow:
        out += ["--allow", regex]
    for regex in args.deny:
        out += ["--deny", regex]
    if args.follow:
        out.append("--follow")
    if args.no_extract:
        out.append("--no-extract")
    for name, value in args.settings:
        out += ["-s", f"{name}={value}"]
    for name, value in args.spider_args:
        out += ["-a", f"{name}={value}"]
    return out


def _check_spider(args: argparse.Namespace) -> None:
    """Refuse an unknown spider or bad spider arguments now rather than at the first run."""
    from crawler.commands.crawl import spider_args_from
    from crawler.errors import UsageError
    from crawler.runner import CrawlSetupError, load_spider

    try:
        load_spider(args.spider, spider_args_from(args))
    except CrawlSetupError as exc:
        raise UsageError(str(exc)) from None


def run_add(args: argparse.Namespace) -> int:
    from croniter import CroniterBadDateError

    from archive.schedules import ScheduleRow, ScheduleStore, ScheduleStoreError
    from archive.timeutil import utc_now
    from crawler.errors import UsageError
    from crawler.scheduler import Timing, parse_every

    now = utc_now().replace(microsecond=0)
    try:
        timing = Timing(every=parse_every(args.every) if args.every else None, cron=args.cron)
        max_runtime = parse_every(args.max_runtime)
        first_run = timing.first(now)
    except CroniterBadDateError:
        # Well-formed, but no date matches it (31 February): croniter gives up looking for the next one.
        raise UsageError(f"cron expression {args.cron!r} never fires (no date matches it, e.g. 31 February): "
                         "give one that matches a real date") from None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    _check_spider(args)
    row = ScheduleRow(name=args.name, spider=args.spider, args=tuple(crawl_args(args)), every=timing.every,
                      cron=timing.cron, max_runtime=max_runtime, paused=False, created_at=now,
                      next_run_at=first_run)
    try:
        args.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot write to data directory {args.data_dir}: {exc.strerror or exc}") from None
    try:
        with ScheduleStore.for_data_dir(args.data_dir) as store:
            store.add(row)
    except ScheduleStoreError as exc:
        raise UsageError(str(exc)) from None
    print(f"schedule {row.name}: {args.spider} {timing.describe()}, next run {_when(row.next_run_at)}")
    print(f"  runs are started by 'crawler scheduler --data-dir {args.data_dir}'")
    return 0


def _when(dt: Any) -> str:
    return dt.strftime("%Y-%m-%d %H:%M:%SZ") if dt else "-"


def _store(args: argparse.Namespace) -> Any:
    from archive.schedules import ScheduleStore
    from crawler.errors import UsageError

    if not (args.data_dir / "catalog.sqlite").exists():
        raise UsageError(f"no catalog in {args.data_dir} (add a schedule first, or pass --data-dir)")
    return ScheduleStore.for_data_dir(args.data_dir)


def _simple(args: argparse.Namespace, action: str) -> int:
    from archive.schedules import ScheduleStoreError
    from archive.timeutil import utc_now
    from crawler.errors import UsageError
    from crawler.scheduler import Timing, next_fire

    with _store(args) as store:
        try:
            if action == "remove":
                store.remove(args.name)
                print(f"schedule {args.name} removed (its run history stays: 'crawler runs {args.name}')")
            elif action == "pause":
                store.set_paused(args.name, True)
                print(f"schedule {args.name} paused")
            else:
                s = store.get(args.name)
                following = next_fire(Timing.of(s), s.created_at, utc_now())
                store.set_paused(args.name, False, following if s.paused else None)
                print(f"schedule {args.name} active, next run {_when(following if s.paused else s.next_run_at)}")
        except ScheduleStoreError as exc:
            raise UsageError(str(exc)) from None
    return 0


def run_remove(args: argparse.Namespace) -> int:
    return _simple(args, "remove")


def run_pause(args: argparse.Namespace) -> int:
    return _simple(args, "pause")


def run_resume(args: argparse.Namespace) -> int:
    return _simple(args, "resume")


def run_list(args: argparse.Namespace) -> int:
    import sqlite3

    from crawler.errors import CommandError
    from crawler.runs import lock_is_held
    from crawler.scheduler import Timing

    with _store(args) as store:
        try:
            schedules = store.schedules()
            last = {s.name: next(iter(store.runs(s.name, limit=1)), None) for s in schedules}
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):  # a read-only catalog no schedule was ever added to has none
                raise CommandError(f"{store.path}: cannot read the schedules ({exc})") from None
            schedules, last = [], {}
        except sqlite3.DatabaseError as exc:
            raise CommandError(f"{store.path}: the catalog is damaged ({exc}); move it aside to start a new one "
                               f"(the WARC files are untouched)") from None
    if not schedules:
        print(f"no schedules in {args.data_dir} (add one with 'crawler schedule add')")
        return 0
    print(f"{'NAME':<16} {'SPIDER':<14} {'WHEN':<26} {'NEXT RUN (UTC)':<21} {'STATE':<8} LAST RUN")
    for s in schedules:
        state = "running" if lock_is_held(args.data_dir, s.name) else "paused" if s.paused else "active"
        run = last[s.name]
        last_text = f"{run.status} {_when(run.started_at or run.created_at)}" if run else "-"
        print(f"{s.name:<16} {s.spider:<14} {Timing.of(s).describe():<26} {_when(s.next_run_at):<21} "
              f"{state:<8} {last_text}")
    return 0


def run_now(args: argparse.Namespace) -> int:
    from archive.schedules import ScheduleStoreError
    from archive.timeutil import utc_now
    from crawler.errors import CommandError, UsageError
    from crawler.runs import supervise, try_lock
    from crawler.storage import new_run_id

    with _store(args) as store:
        try:
            schedule = store.get(args.name)
        except ScheduleStoreError as exc:
            raise UsageError(str(exc)) from None
        fd = try_lock(args.data_dir, args.name)
        if fd is None:
            raise CommandError(f"a run of {args.name} is going on already; see 'crawler runs {args.name}'")
        try:
            run_id = new_run_id()
            store.add_run(run_id, args.name, utc_now())
            print(f"run {run_id} of {args.name} started (log: {args.data_dir / 'runs' / (run_id + '.log')})",
                  flush=True)
            run = supervise(store, args.data_dir, schedule, run_id, fd)
        finally:
            os.close(fd)
    n = run.numbers
    print(f"run {run.run_id} {run.status} in {timedelta(seconds=round(run.duration or 0))}: "
          f"{n['pages']} pages, {n['new_articles']} new, {n['changed_articles']} changed, "
          f"{n['unchanged']} unchanged, {n['errors']} errors, {human_bytes(n['bytes'] or 0)}")
    if run.status != "finished":
        raise CommandError(run.error or f"run {run.run_id} {run.status}")
    return 0
