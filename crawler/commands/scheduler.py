"""``crawler scheduler``: start the runs of the schedules when they are due (foreground, long-lived)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from typing import Any

from crawler.commands._common import add_data_dir

EPILOG = """\
Runs until stopped (Ctrl-C, SIGTERM); runs already started go on and record their own end. Each run is
its own process with a run id, a log (runs/<run-id>.log) and a wall-clock limit; two runs of one
schedule never overlap. Fire times missed while the scheduler was down are coalesced into one run.
With --once it does one pass and exits (for cron: '* * * * * crawler scheduler --once --data-dir DIR').
"""


def register(sub: Any) -> None:
    p = sub.add_parser("scheduler", help="run the scheduler (starts due schedule runs)",
                       description=__doc__.split("\n")[0], epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_dir(p)
    p.add_argument("--once", action="store_true", help="start what is due now, recover dead runs, and exit")
    p.add_argument("--grace", type=_seconds, default=60.0, metavar="SECONDS",
                   help="after a run's wall-clock limit: SIGTERM, then SIGKILL this much later (default 60)")
    p.set_defaults(func=run)


def _seconds(text: str) -> float:
    import math

    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds >= 0):
        raise argparse.ArgumentTypeError(f"must be a number of seconds, 0 or more, not {text!r}")
    return seconds


def run(args: argparse.Namespace) -> int:
    from crawler.errors import UsageError
    from crawler.scheduler import Scheduler

    if not (args.data_dir / "catalog.sqlite").exists():
        raise UsageError(f"no catalog in {args.data_dir}: add a schedule first ('crawler schedule add')")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log = logging.getLogger("crawler.scheduler")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    scheduler = Scheduler(args.data_dir, grace=args.grace)
    if args.once:
        result = scheduler.tick()
        print(f"started {len(result.started)}, skipped {len(result.skipped)}, "
              f"recovered {len(result.recovered)}", file=sys.stderr)
        return 0
    stop = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        log.info("stopping on signal %d; runs already started go on", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info("scheduler for %s started", args.data_dir)
    scheduler.serve(stop)
    return 0
