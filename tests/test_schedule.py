"""Schedules without crawling: timing (interval, cron, misfires), the store's atomic claim, the CLI verbs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.schedules import ScheduleRow, ScheduleStore, ScheduleStoreError
from crawler.cli import main
from crawler.scheduler import Timing, next_fire, parse_every

T0 = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_parse_every() -> None:
    assert parse_every("30m") == timedelta(minutes=30)
    assert parse_every("1h30m") == timedelta(minutes=90)
    assert parse_every("1d") == timedelta(days=1)
    assert parse_every(" 45s") == timedelta(seconds=45)
    for bad in ("", "30", "m", "1x", "1h foo", "0m", "-5m"):
        with pytest.raises(ValueError, match="interval"):
            parse_every(bad)


def test_interval_fire_times_are_anchored_and_missed_ones_coalesce() -> None:
    timing = Timing(every=HOUR)
    assert timing.first(T0) == T0                                   # an interval runs at once
    assert next_fire(timing, T0, T0) == T0 + HOUR
    assert next_fire(timing, T0, T0 + 10 * timedelta(minutes=1)) == T0 + HOUR
    # the scheduler was down for five and a half hours: one run now, then the next grid time
    assert next_fire(timing, T0, T0 + 5 * HOUR + timedelta(minutes=30)) == T0 + 6 * HOUR


def test_cron_fire_times_are_utc() -> None:
    timing = Timing(cron="0 */6 * * *")
    assert timing.first(T0) == datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    assert next_fire(timing, T0, datetime(2026, 11, 27, 12, 0, tzinfo=UTC)) == datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
    later = next_fire(timing, T0, datetime(2026, 11, 27, 23, 59, tzinfo=UTC))
    assert later == datetime(2026, 11, 28, 0, 0, tzinfo=UTC) and later.tzinfo is not None
    for bad in ("61 * * * *", "* * *", "every hour"):
        with pytest.raises(ValueError, match="cron"):
            Timing(cron=bad)
    with pytest.raises(ValueError, match="either"):
        Timing(every=HOUR, cron="0 * * * *")


def _row(name: str = "site", next_run_at: datetime = T0) -> ScheduleRow:
    return ScheduleRow(name=name, spider="news", args=("--seed", "http://example.org/"), every=HOUR, cron=None,
                       max_runtime=2 * HOUR, paused=False, created_at=T0, next_run_at=next_run_at)


def test_claim_is_atomic_and_history_reads_back(tmp_path: Path) -> None:
    with ScheduleStore.for_data_dir(tmp_path) as store:
        store.add(_row())
        with pytest.raises(ScheduleStoreError, match="exists already"):
            store.add(_row())
        with pytest.raises(ScheduleStoreError, match="bad schedule name"):
            store.add(_row(name="../etc"))
        assert store.claim("site", T0, T0 + HOUR, "run-a", T0 + timedelta(minutes=1))
        # a second scheduler that read the same due time loses: no second run of that fire time
        assert not store.claim("site", T0, T0 + HOUR, "run-b", T0 + timedelta(minutes=1))
        assert store.get("site").next_run_at == T0 + HOUR
        store.mark_running("run-a", 1234, T0 + timedelta(minutes=1), "runs/run-a.log")
        store.finish("run-a", "finished", T0 + timedelta(minutes=3), exit_code=0, duration=120.0,
                     numbers={"pages": 10, "new_articles": 3, "changed_articles": 1, "unchanged": 6, "errors": 0,
                              "bytes": 5000})
    with ScheduleStore.for_data_dir(tmp_path) as store:          # reopened: everything was committed
        [run] = store.runs("site")
    assert (run.run_id, run.status, run.scheduled_for, run.pid, run.exit_code) == ("run-a", "finished", T0, 1234, 0)
    assert run.numbers == {"pages": 10, "new_articles": 3, "changed_articles": 1, "unchanged": 6, "errors": 0,
                           "bytes": 5000}
    assert run.started_at == T0 + timedelta(minutes=1) and run.duration == 120.0


def test_cli_add_list_pause_resume_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = ["--data-dir", str(tmp_path)]
    assert main(["schedule", "add", "site", "news", "--seed", "http://example.org/", "--every", "30m",
                 "--max-pages", "50", "-s", "DOWNLOAD_DELAY=1", *d]) == 0
    assert main(["schedule", "add", "six", "news", "--seed", "http://example.org/", "--cron", "0 */6 * * *", *d]) == 0
    out = capsys.readouterr().out
    assert "every 30m" in out and "cron '0 */6 * * *' (UTC)" in out
    with ScheduleStore.for_data_dir(tmp_path) as store:
        site = store.get("site")
    assert site.args == ("--seed", "http://example.org/", "--max-pages", "50", "-s", "DOWNLOAD_DELAY=1")
    assert site.every == timedelta(minutes=30) and site.next_run_at <= datetime.now(UTC)
    assert main(["schedule", "list", *d]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in listing[1:]] == ["site", "six"]      # by name
    assert main(["schedule", "pause", "site", *d]) == 0
    assert main(["schedule", "list", *d]) == 0
    assert "paused" in next(line for line in capsys.readouterr().out.splitlines() if line.startswith("site"))
    assert main(["schedule", "resume", "site", *d]) == 0
    with ScheduleStore.for_data_dir(tmp_path) as store:
        resumed = store.get("site")
    assert not resumed.paused and resumed.next_run_at > datetime.now(UTC)       # missed fire times dropped
    assert main(["schedule", "remove", "six", *d]) == 0
    with ScheduleStore.for_data_dir(tmp_path) as store:
        assert [s.name for s in store.schedules()] == ["site"]
    assert main(["runs", *d]) == 0
    assert "no runs" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["schedule", "add", "x", "news", "--seed", "http://example.org/", "--every", "soon"], "bad interval"),
        (["schedule", "add", "x", "news", "--seed", "http://example.org/", "--cron", "99 * * * *"], "bad cron"),
        (["schedule", "add", "x", "nosuchspider", "--every", "1h"], "unknown spider"),
        (["schedule", "add", "x", "news", "--every", "1h"], "no seeds"),
        (["schedule", "add", "x/y", "news", "--seed", "http://example.org/", "--every", "1h"], "bad schedule name"),
        (["schedule", "pause", "nope"], "no schedule named"),
        (["schedule", "run-now", "nope"], "no schedule named"),
    ],
)
def test_cli_errors_are_one_line_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              argv: list[str], message: str) -> None:
    main(["schedule", "add", "ok", "news", "--seed", "http://example.org/", "--every", "1h",
          "--data-dir", str(tmp_path)])
    capsys.readouterr()
    assert main([*argv, "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_every_and_cron_together_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["schedule", "add", "x", "news", "--seed", "http://example.org/", "--every", "1h", "--cron",
              "0 * * * *", "--data-dir", str(tmp_path)])
    assert exc.value.code == 2
