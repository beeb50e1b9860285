"""benchmarks/profiles.py: the py-spy summary that RESULTS.md shows, read from a raw profile written here."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from profiles import summarize, to_markdown  # noqa: E402


def test_summary_by_thread_and_main_thread_functions(tmp_path: Path) -> None:
    raw = tmp_path / "profile.txt"
    raw.write_text(
        "thread (101): MainThread;main (crawler/cli.py:61);parse (spiders/news.py:178) 6\n"
        "thread (101): MainThread;main (crawler/cli.py:61);score (crawler/pagekind.py:175) 2\n"
        "thread (202): PoolThread-warc-writer-0;_write (archive/writer.py:440);"
        "_gzip_record (archive/writer.py:201) 2\n"
        "not a profile line\n",
        encoding="utf-8",
    )
    s = summarize(raw)
    assert s.samples == 10
    assert s.by_thread == [("MainThread", 0.8), ("PoolThread-warc-writer-0", 0.2)]
    assert s.main_by_function == [("spiders.news.parse", 0.75), ("crawler.pagekind.score", 0.25)]
    assert s.by_function[0] == ("spiders.news.parse", 0.6)
    text = to_markdown("archive mode", s)
    assert "samples by thread: MainThread 80%, PoolThread-warc-writer-0 20%" in text
    assert "main (reactor) thread: spiders.news.parse 75%, crawler.pagekind.score 25%" in text


def test_profile_without_thread_frames(tmp_path: Path) -> None:
    raw = tmp_path / "profile.txt"
    raw.write_text("main (crawler/cli.py:61);parse (spiders/news.py:178) 3\n", encoding="utf-8")
    s = summarize(raw)
    assert s.samples == 3 and s.by_thread == [] and s.main_by_function == []
    assert "samples by thread" not in to_markdown("x", s)
