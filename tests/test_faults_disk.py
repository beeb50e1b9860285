"""Disk full: a crawl into a small tmpfs stops cleanly with exit code 3 and one line saying what to do;
no corrupt file is left under a final name, and what was archived reads back.

Needs permission to mount a tmpfs (root, as in CI's container); skipped with the reason otherwise.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from archive.reader import iter_records
from tests.test_crash_resume import FAST, check_pointers, complete_records, record_lines, start


@pytest.mark.parametrize("min_free", ["0", "150000"], ids=["write-fails", "free-space-check"])
def test_full_disk_stops_cleanly_with_exit_3(fresh_site: Any, small_disk: Path, min_free: str) -> None:
    site = fresh_site(articles=60)
    data = small_disk / "data"
    proc = start("crawl", "news", "--seed", site.base_url + "/", "--data-dir", str(data), "--no-extract", *FAST,
                 "-s", f"DISKFULL_MIN_FREE={min_free}", "-s", "DISKFULL_CHECK_INTERVAL=0.2")
    _out, err = proc.communicate(timeout=240)
    assert proc.returncode == 3, err
    lines = err.strip().splitlines()
    assert "disk is full" in lines[-1] and "--resume" in lines[-1], err
    assert "Traceback" not in err and "Logging error" not in err
    assert not list((data / "warc").glob("*.open"))
    warcs = sorted((data / "warc").glob("*.warc.gz"))
    assert warcs
    for path in warcs:
        assert sum(1 for _ in iter_records(path)) > 0  # raises ArchiveError on a cut record
        check = subprocess.run([sys.executable, "-m", "warcio.cli", "check", str(path)], capture_output=True,
                               text=True)
        assert check.returncode == 0, check.stdout + check.stderr
    records = complete_records(data)
    assert len(record_lines(data)) == len(records), "a partial JSON line was left"
    check_pointers(data, records)
    articles = [r for r in records if r["kind"] == "article"]
    assert len(articles) < len(site.truth), "the disk should have filled up before the end"
