"""Pending requests wait on disk (crawler.diskqueue): real ``crawler crawl`` processes against the demo site,
everything they archived read back, the run's stats read from the catalog."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from archive.catalog import Catalog
from archive.reader import read_record
from crawler.diskqueue import queue_dir

ROOT = Path(__file__).resolve().parents[1]
FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "--no-extract"]


def crawl(site: Any, data_dir: Path, *extra: str) -> dict[str, Any]:
    """Crawl the site's home page; returns the run's row (with its stats) from the catalog."""
    env = {k: v for k, v in os.environ.items() if k != "CRAWLER_DATA_DIR"}
    proc = subprocess.run([sys.executable, "-m", "crawler.cli", "crawl", "news", "--seed", site.base_url + "/",
                           "--data-dir", str(data_dir), *FAST, *extra],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    catalog = Catalog(data_dir / "catalog.sqlite")
    try:
        runs = catalog.runs()
        assert len(runs) == 1
        for cap in catalog.captures():   # what the crawl archived reads back from its WARC record
            rec = read_record(data_dir / "warc" / cap["warc_filename"], cap["warc_offset"], cap["warc_length"])
            assert rec.target_uri == cap["url"]
            assert rec.payload_digest == cap["payload_digest"]
        urls = {cap["url"] for cap in catalog.captures()}
    finally:
        catalog.close()
    assert {t.url for t in site.truth} <= urls
    return runs[0]


def test_every_request_waits_on_disk_and_the_queue_is_removed_at_the_end(demo_site: Any, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    run = crawl(demo_site, data_dir)
    stats = run["stats"]
    assert stats["scheduler/enqueued"] > len(demo_site.truth)
    assert stats["scheduler/enqueued/disk"] == stats["scheduler/enqueued"]
    assert stats["scheduler/dequeued/disk"] == stats["scheduler/enqueued"]
    assert "scheduler/unserializable" not in stats
    assert not queue_dir(data_dir, run["run_id"]).exists()
    assert (data_dir / "runs" / run["run_id"] / "state" / "crawl.json").is_file()   # the run's state stays


def test_a_queue_left_by_a_crash_is_emptied_not_replayed(demo_site: Any, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    stale = queue_dir(data_dir, "run-1")
    (stale / "p0").mkdir(parents=True)
    (stale / "p0" / "junk").write_bytes(b"not a queue")
    (stale / "active.json").write_text("[0]")
    run = crawl(demo_site, data_dir, "-s", "ARCHIVE_RUN_ID=run-1")
    assert run["run_id"] == "run-1"
    assert run["stats"]["scheduler/dequeued"] == run["stats"]["scheduler/enqueued"]
    assert not stale.exists()


def test_switched_off_the_requests_wait_in_memory(demo_site: Any, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    run = crawl(demo_site, data_dir, "-s", "DISKQUEUE_ENABLED=False")
    stats = run["stats"]
    assert stats["scheduler/enqueued/memory"] == stats["scheduler/enqueued"]
    assert "scheduler/enqueued/disk" not in stats
    assert not queue_dir(data_dir, run["run_id"]).exists()


# ----- the disk queue with its top in memory ------------------------------------------------------------

from hypothesis import example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from queuelib.queue import LifoDiskQueue  # noqa: E402

from crawler.diskqueue import BufferedLifoDiskQueue  # noqa: E402


class _SmallTop(BufferedLifoDiskQueue):
    TOP = 4          # spills after 5 pushes: the file is used in short runs too


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.binary(min_size=0, max_size=20), st.none()), max_size=80))
@example(ops=[b"", b"", b"", b"", b"", None, None, None, b""])    # a peek of the file, then a spill
@example(ops=[b"a", b"b", b"c", b"d", b"e", None, None, None, b"f", b"g", b"h", b"i", b"j"])
def test_buffered_queue_is_a_stack_across_its_file(tmp_path_factory: Any, ops: list[bytes | None]) -> None:
    """Pushes (bytes) and pops (None) in any order behave as a stack (a list), and closing then reopening
    the file with queuelib's own LIFO queue gives back whatever was left, newest first."""
    folder = tmp_path_factory.mktemp("q")
    ours, stack = _SmallTop(str(folder / "q")), list[bytes]()
    try:
        for op in ops:
            if op is None:
                assert ours.pop() == (stack.pop() if stack else None)
            else:
                ours.push(op)
                stack.append(op)
            assert len(ours) == len(stack)
            assert ours.peek() == (stack[-1] if stack else None)
    finally:
        ours.close()
    if not stack:
        assert not (folder / "q").exists()                    # queuelib removes an empty queue's file
        return
    again = LifoDiskQueue(str(folder / "q"))                  # what close() wrote is a plain queuelib file
    try:
        assert [again.pop() for _ in range(len(again))] == stack[::-1]
    finally:
        again.close()


def test_buffered_queue_rejects_what_is_not_bytes(tmp_path: Path) -> None:
    q = BufferedLifoDiskQueue(str(tmp_path / "q"))
    try:
        import pytest

        with pytest.raises(TypeError, match="Unsupported type: str"):
            q.push("text")  # type: ignore[arg-type]
    finally:
        q.close()
