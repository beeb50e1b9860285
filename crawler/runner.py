"""Run one crawl in this process and report what it did: the library call behind ``crawler crawl``.

Twisted's reactor runs once per process, so ``run_crawl`` may be called once per process; the scheduler
and the tests start a ``crawler crawl`` process for each run.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from crawler.diskfull import RunLogHandler
from crawler.progress import summarize
from crawler.storage import new_run_id, prepare_data_dir


class CrawlSetupError(ValueError):
    """The crawl cannot start: unknown spider, bad spider argument, unusable data directory."""


@dataclass(frozen=True)
class CrawlResult:
    run_id: str
    data_dir: Path
    spider: str
    finish_reason: str
    stats: dict[str, Any] = field(default_factory=dict)
    parts: tuple[str, ...] = ()     # the runs of its processes (crawler.partition), when it had several

    @property
    def summary(self) -> dict[str, Any]:
        return summarize(self.stats)

    @property
    def records_file(self) -> Path:
        return self.data_dir / "records" / f"{self.run_id}.jsonl"

    @property
    def records_files(self) -> list[Path]:
        """Its JSON record files: one, or one per process."""
        return [self.data_dir / "records" / f"{run}.jsonl" for run in (self.parts or (self.run_id,))]

    @property
    def log_file(self) -> Path:
        return self.data_dir / "runs" / f"{self.run_id}.log"


def project_settings(overrides: Mapping[str, Any] | None = None) -> Any:
    """The project's Scrapy settings (crawler.settings), with command-line priority overrides."""
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "crawler.settings")
    from scrapy.utils.project import get_project_settings

    settings = get_project_settings()
    if overrides:
        settings.setdict(dict(overrides), priority="cmdline")
    return settings


def load_spider(name: str, spider_args: Mapping[str, Any], settings: Any = None) -> tuple[type[Any], Any]:
    """The spider class called ``name`` and an instance built from ``spider_args`` (which validates them);
    CrawlSetupError names an unknown spider (with the available ones) or the bad argument."""
    from scrapy.spiderloader import SpiderLoader

    loader = SpiderLoader.from_settings(settings if settings is not None else project_settings())
    try:
        spidercls = loader.load(name)
    except KeyError:
        raise CrawlSetupError(f"unknown spider {name!r}; available: {', '.join(sorted(loader.list()))}") from None
    try:
        return spidercls, spidercls(**spider_args)
    except (TypeError, ValueError) as exc:
        raise CrawlSetupError(str(exc)) from None


def spider_names() -> list[str]:
    from scrapy.spiderloader import SpiderLoader

    return sorted(SpiderLoader.from_settings(project_settings()).list())


def _own_warnings(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.CRITICAL or record.name.split(".")[0] in ("crawler", "archive", "spiders")


def _configure_logging(log_file: Path, verbose: bool) -> None:
    from scrapy.utils.log import configure_logging

    configure_logging(install_root_handler=False)
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    fmt = logging.Formatter("%(asctime)s [%(name)s] %(levelname)s: %(message)s")
    to_file = RunLogHandler(log_file, encoding="utf-8")  # crawler.diskfull: quiet when the disk is full
    to_file.setLevel(logging.INFO)
    to_file.setFormatter(fmt)
    to_terminal = logging.StreamHandler(sys.stderr)
    to_terminal.setLevel(logging.INFO if verbose else logging.WARNING)
    to_terminal.setFormatter(fmt)
    if not verbose:
        # Per-page failures (a 404, a refused connection) are the crawl's business, not the user's: they
        # are counted in the summary and logged in full to the run's log file, not spilled on stderr.
        to_terminal.addFilter(_own_warnings)
    root.addHandler(to_file)
    root.addHandler(to_terminal)


def run_crawl(
    spider: str,
    spider_args: Mapping[str, Any],
    data_dir: Path,
    settings: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    verbose: bool = False,
) -> CrawlResult:
    """Crawl with ``spider`` into ``data_dir`` and return its stats; raise CrawlSetupError on bad input."""
    from scrapy.crawler import CrawlerProcess

    data_dir = Path(data_dir)
    try:
        prepare_data_dir(data_dir)
    except OSError as exc:
        raise CrawlSetupError(f"cannot write to data directory {data_dir}: {exc.strerror or exc}") from exc
    run_id = run_id or str((settings or {}).get("ARCHIVE_RUN_ID") or "") or new_run_id()   # -s ARCHIVE_RUN_ID=... names the log too
    overrides = {"ARCHIVE_DATA_DIR": str(data_dir), "ARCHIVE_RUN_ID": run_id, **(settings or {})}
    scrapy_settings = project_settings(overrides)
    scrapy_settings.set("LOG_INSTALL_ROOT_HANDLER", False, priority="cmdline")
    process = CrawlerProcess(scrapy_settings)
    spidercls, _ = load_spider(spider, spider_args, scrapy_settings)  # validates before anything starts
    log_file = data_dir / "runs" / f"{run_id}.log"
    _configure_logging(log_file, verbose)
    crawler = process.create_crawler(spidercls)
    failures: list[Any] = []
    # A component that cannot start (a bad setting value, a missing module) fails the crawl's Deferred:
    # keep the traceback in the run log and report one line, instead of Twisted's "Unhandled error".
    process.crawl(crawler, **spider_args).addErrback(failures.append)
    process.start()
    if failures:
        failure = failures[0]
        with log_file.open("a", encoding="utf-8") as fh:  # the traceback for the curious, not the terminal
            fh.write(f"the crawl could not start:\n{failure.getTraceback()}\n")
        raise CrawlSetupError(f"the crawl could not start: {failure.getErrorMessage()} (see {log_file})")
    stats = crawler.stats.get_stats() if crawler.stats else {}
    stats = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in stats.items()}
    return CrawlResult(
        run_id=run_id,
        data_dir=data_dir,
        spider=spider,
        finish_reason=str(stats.get("finish_reason", "unknown")),
        stats=stats,
    )
