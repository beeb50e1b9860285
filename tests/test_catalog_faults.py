"""A catalog that cannot be used as usual: damaged or read-only. The read commands answer in one line
(or work), never with a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.catalog import Catalog, CatalogError
from archive.records import Record, RecordStore
from archive.writer import WarcLocation
from crawler.cli import main

URL = "https://news.example.org/a/1"


def make_archive(data: Path, pages: int = 400) -> None:
    """A data directory with ``pages`` records and captures (enough rows for a catalog of many pages)."""
    store = RecordStore(data / "records", "run1")
    with Catalog(data / "catalog.sqlite") as cat:
        cat.start_run("run1", "news", {}, started_at="2026-11-01T00:00:00Z")
        for i in range(pages):
            url = URL if i == 0 else f"https://news.example.org/a/{i + 1}"
            loc = WarcLocation("crawl-1.warc.gz", 1000 * i, 900, f"<urn:uuid:{i}>", "sha1:" + "B" * 32)
            fetched = f"2026-11-01T10:{i // 60 % 60:02d}:{i % 60:02d}Z"
            record = Record(run_id="run1", url=url, fetched_at=fetched, status=200, kind="article", warc=loc,
                            title=f"title {i} " + "x" * 200, authors=["A. Writer"])
            cat.add_record(record, store.append(record))
            cat.add_capture(url=url, fetched_at=fetched, status=200, mime="text/html",
                            payload_digest="sha1:" + "B" * 32, warc_filename="crawl-1.warc.gz",
                            warc_offset=1000 * i, warc_length=900, record_id=f"<urn:uuid:{i}>", run_id="run1")
        cat.finish_run("run1", {"pages": pages}, finished_at="2026-11-01T01:00:00Z")
    store.close()


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


READ_COMMANDS = [["list"], ["list", "--captures"], ["show", URL], ["show", URL, "--versions"],
                 ["index", "--check"], ["runs"]]


# --- a damaged catalog ------------------------------------------------------------------------------------


def _garbage(path: Path) -> None:
    path.write_bytes(b"garbage\n")


def _overwritten_mid_file(path: Path) -> None:
    size = path.stat().st_size
    assert size > 100_000
    with open(path, "r+b") as fh:   # every page past the first few: tables and indexes alike
        for offset in range(8192 + 100, size, 4096):
            fh.seek(offset)
            fh.write(b"\xff" * 3000)


@pytest.mark.parametrize("damage", [_garbage, _overwritten_mid_file], ids=["garbage", "overwritten"])
@pytest.mark.parametrize("argv", READ_COMMANDS, ids=[" ".join(a[:2]) for a in READ_COMMANDS])
def test_damaged_catalog_is_one_line_naming_the_file_and_the_rebuild(
    argv: list[str], damage: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    make_archive(data)
    damage(data / "catalog.sqlite")  # type: ignore[operator]
    code, out, err = run_cli(capsys, *argv, "--data-dir", str(data))
    if argv == ["runs"] and code == 0:   # the schedule tables do not exist: nothing of the damage was read
        assert "no runs" in out
        return
    assert code == 1, (out, err)
    assert len(err.strip().splitlines()) == 1, err
    assert f"{data / 'catalog.sqlite'}: " in err and "the file is damaged" in err
    assert f"crawler reextract --data-dir {data}" in err


def test_damaged_catalog_raises_catalog_error_for_every_read(tmp_path: Path) -> None:
    data = tmp_path / "data"
    make_archive(data)
    _overwritten_mid_file(data / "catalog.sqlite")
    with pytest.raises(CatalogError, match="the file is damaged .*malformed"):
        with Catalog(data / "catalog.sqlite") as cat:
            cat.records()
