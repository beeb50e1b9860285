"""A catalog that cannot be used as usual: damaged or read-only. The read commands answer in one line
(or work), never with a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from archive.catalog import Catalog, CatalogError
from archive.records import Record, RecordStore
from archive.schedules import ScheduleStore
from archive.writer import WarcLocation
from crawler.cli import main
from crawler.demosite import RunningServer, Site, serve

FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False"]

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


def cli(*argv: str, data: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CRAWLER_DATA_DIR"}
    return subprocess.run([sys.executable, "-m", "crawler.cli", *argv, "--data-dir", str(data)], env=env,
                          capture_output=True, text=True, timeout=240)


@pytest.fixture(scope="module")
def site() -> Iterator[RunningServer]:
    with serve(Site(articles=5)) as server:
        yield server


@pytest.fixture(scope="module")
def crawled(site: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real crawl of a small demo site, plus one finished schedule run: copy it before changing it."""
    data = tmp_path_factory.mktemp("crawled") / "data"
    proc = cli("crawl", "news", "--seed", site.base_url + "/", *FAST, data=data)
    assert proc.returncode == 0, proc.stderr
    now = datetime.now(UTC)
    with ScheduleStore.for_data_dir(data) as store:
        store.add_run("sched-run-1", "daily", now)
        store.finish("sched-run-1", "finished", now, exit_code=0, numbers={"pages": 27})
    return data


def readonly_cli(data: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """The command run with ``data`` read-only: a read-only bind mount in a mount namespace of its own when
    root (for whom file modes do not count), the write bits taken away otherwise."""
    env = {k: v for k, v in os.environ.items() if k != "CRAWLER_DATA_DIR"}
    cmd = [sys.executable, "-m", "crawler.cli", *argv, "--data-dir", str(data)]
    if os.geteuid() == 0:
        if shutil.which("unshare") is None:
            pytest.skip("needs unshare(1) to make a read-only mount")
        script = 'mount --bind -o ro "$0" "$0" || exit 99; exec "$@"'
        proc = subprocess.run(["unshare", "-m", "sh", "-c", script, str(data), *cmd], env=env,
                              capture_output=True, text=True, timeout=240)
        if proc.returncode == 99 or proc.stderr.startswith("unshare:"):
            pytest.skip(f"cannot make a read-only mount here: {proc.stderr.strip()}")
        return proc
    paths = [data, *data.rglob("*")]
    modes = {p: p.stat().st_mode for p in paths}
    try:
        for p in paths:
            p.chmod(modes[p] & ~0o222)
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    finally:
        for p in reversed(paths):
            p.chmod(modes[p])


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
    assert size > 12_000
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
    with pytest.raises(CatalogError, match="the file is damaged"):
        with Catalog(data / "catalog.sqlite") as cat:
            cat.records()


# --- a read-only archive ----------------------------------------------------------------------------------


def test_read_commands_work_on_a_readonly_archive(crawled: Path, site: RunningServer, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(crawled, data)
    article = site.truth[0].url
    proc = readonly_cli(data, "list")
    assert proc.returncode == 0 and article in proc.stdout, proc.stderr
    proc = readonly_cli(data, "list", "--captures")
    assert proc.returncode == 0 and "/robots.txt" in proc.stdout, proc.stderr
    proc = readonly_cli(data, "show", article, "--text")
    assert proc.returncode == 0 and f"Original url: {article}" in proc.stdout, proc.stderr
    proc = readonly_cli(data, "show", article, "--versions")
    assert proc.returncode == 0 and "1 version(s)" in proc.stdout, proc.stderr
    proc = readonly_cli(data, "index", "--check")
    assert proc.returncode == 0 and "agree" in proc.stdout, proc.stdout + proc.stderr
    proc = readonly_cli(data, "runs")
    assert proc.returncode == 0 and "sched-run-1" in proc.stdout, proc.stderr
    assert sorted(p.name for p in data.iterdir()) == sorted(p.name for p in crawled.iterdir())


def test_readonly_archive_after_a_kill_is_read_with_its_wal(tmp_path: Path) -> None:
    """A catalog whose writer died keeps -wal and -shm: read-only, its last rows are still there; without
    the -shm SQLite cannot read the -wal in a read-only directory, and says so in one line."""
    data = tmp_path / "data"
    data.mkdir()
    code = (
        "import os, sys\n"
        "from archive.catalog import Catalog\n"
        "c = Catalog(sys.argv[1], batch_size=1)\n"
        "c.start_run('r1', 'news', {})\n"
        "c.add_capture(url='http://a.example/1', fetched_at='2026-11-01T00:00:00Z', status=200, mime='text/html',"
        " payload_digest=None, warc_filename='x.warc.gz', warc_offset=0, warc_length=1, record_id='<u>')\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", code, str(data / "catalog.sqlite")], check=True, timeout=60)
    assert (data / "catalog.sqlite-wal").stat().st_size > 0
    proc = readonly_cli(data, "list", "--captures")
    assert proc.returncode == 0 and "http://a.example/1" in proc.stdout, proc.stderr
    (data / "catalog.sqlite-shm").unlink()
    proc = readonly_cli(data, "list", "--captures")
    assert proc.returncode == 1, proc.stdout
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "catalog.sqlite-wal holds changes" in proc.stderr


@pytest.mark.parametrize("argv", [["index"], ["reextract"]], ids=["index", "reextract"])
def test_writing_commands_on_a_readonly_archive_are_one_line(
    argv: list[str], crawled: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(crawled, data)
    proc = readonly_cli(data, *argv)
    assert proc.returncode in (1, 2), proc.stdout
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert str(data) in proc.stderr


def test_catalog_opened_readonly_refuses_writes_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    with Catalog(path) as cat:
        cat.start_run("r1", "news", {})
    with Catalog(path, readonly=True) as cat:
        assert cat.readonly and [r["run_id"] for r in cat.runs()] == ["r1"]
        with pytest.raises(CatalogError, match=f"{path}: cannot record the start of run r2: .*read-only"):
            cat.start_run("r2", "news", {})
        with pytest.raises(CatalogError, match="read-only"):
            cat.add_capture(url="http://a/", fetched_at="2026-11-01T00:00:00Z", status=200, mime=None,
                            payload_digest=None, warc_filename="x", warc_offset=0, warc_length=1, record_id="<u>")
    with pytest.raises(CatalogError, match="no catalog"):
        Catalog(tmp_path / "missing.sqlite", readonly=True)


# --- a crawl into a damaged catalog -------------------------------------------------------------------------


def test_crawl_into_a_damaged_catalog_stops_at_once_blaming_it(
    crawled: Path, site: RunningServer, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(crawled, data)
    _overwritten_mid_file(data / "catalog.sqlite")
    warcs = sorted(p.name for p in (data / "warc").iterdir())
    started = time.monotonic()
    proc = cli("crawl", "news", "--seed", site.truth[0].url, *FAST, data=data)
    assert time.monotonic() - started < 30
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("crawler: error:") and f"{data / 'catalog.sqlite'}: " in last and "damaged" in last
    assert "crawler reextract" in last
    assert sorted(p.name for p in (data / "warc").iterdir()) == warcs     # nothing fetched, nothing written


def test_catalog_opened_for_writing_is_checked_at_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    make_archive(data)
    with open(data / "catalog.sqlite", "r+b") as fh:   # one index page only: no query of a crawl's start reads it
        fh.seek(2 * 4096)                                 # page 3: the root of captures_url
        fh.write(b"\xff" * 4096)
    with pytest.raises(CatalogError, match="cannot open the catalog: the file is damaged"):
        Catalog(data / "catalog.sqlite")
    with Catalog(data / "catalog.sqlite", readonly=True) as cat:   # a reader is not held up by the check
        assert cat.run("run1") is not None


# --- records of a capture extracted again ------------------------------------------------------------------


def test_reextracted_capture_is_listed_once(crawled: Path, site: RunningServer, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(crawled, data)
    article = site.truth[0].url
    before = cli("list", data=data).stdout.splitlines()
    for _ in range(2):
        proc = cli("reextract", "--workers", "1", data=data)
        assert proc.returncode == 0, proc.stderr
    after = cli("list", data=data).stdout.splitlines()
    rows = [line for line in after if f"  {article}  " in line]
    assert len(rows) == 1, after
    assert len(after) == len(before)
    # the same fetched_at as the crawl's record: whole seconds, whichever wrote it
    assert [line.split()[0] for line in after] == [line.split()[0] for line in before]
    versions = cli("show", article, "--versions", data=data)
    assert "1 version(s)" in versions.stdout, versions.stdout
    with Catalog(data / "catalog.sqlite", readonly=True) as cat:
        runs = [r["run_id"] for r in cat.runs() if r["spider"] == "reextract"]
        assert len(runs) == 2
        newest = cat.records_for(article)
        assert [r["run_id"] for r in newest] == [runs[0]]              # the newest extraction
        assert len(cat.records(run_id=runs[1])) == len(before)         # a run's own records: all of them


def test_record_fetched_at_is_kept_to_the_second(tmp_path: Path) -> None:
    """Rows stored with microseconds (before) and in seconds (now) of one capture are one capture."""
    loc = WarcLocation("crawl-1.warc.gz", 100, 50, "<urn:uuid:1>", None)
    crawl = Record(run_id="run1", url=URL, fetched_at="2026-11-01T10:00:00Z", status=200, kind="article",
                   warc=loc, title="t", authors=[])
    again = Record(run_id="run2", url=URL, fetched_at="2026-11-01T10:00:00.176053Z", status=200, kind="article",
                   warc=loc, title="t2", authors=[])
    with Catalog(tmp_path / "catalog.sqlite") as cat:
        cat.add_record(crawl, "r1.jsonl")
        cat.add_record(again, "r2.jsonl")
        [row] = cat.records()
        assert row["id"] == again.id and row["fetched_at"] == "2026-11-01T10:00:00Z"


# --- crawler index and a leftover .open WARC file --------------------------------------------------------

_WRITE_OPEN_WARC = """
import os, sys
from datetime import UTC, datetime
from pathlib import Path
from archive.writer import HttpExchange, WarcWriter
writer = WarcWriter(Path(sys.argv[1]), prefix="crawl", warcinfo={
    "isPartOf": "run-killed", "description": "crawl run run-killed of spider news"})
writer.write_exchange(HttpExchange(
    url="http://a.example/", date=datetime(2026, 11, 1, tzinfo=UTC), method="GET", request_headers=[("Host", "a")],
    request_body=b"", status=200, reason="OK", protocol="HTTP/1.1",
    response_headers=[("Content-Type", "text/html")], body=b"<p>hi</p>"))
writer._fh.flush()      # what a killed crawl leaves: the records written, the file never closed
os._exit(0)
"""


def test_index_says_a_killed_crawls_open_warc_is_recovered_by_the_next_crawl(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    subprocess.run([sys.executable, "-c", _WRITE_OPEN_WARC, str(data / "warc")], check=True, timeout=60)
    [left] = (data / "warc").iterdir()
    assert left.name.endswith(".warc.gz.open")
    code, out, err = run_cli(capsys, "index", "--data-dir", str(data))
    assert code == 0, err
    assert len(err.strip().splitlines()) == 1, err
    assert f"skipping {left.name}: left unfinished by an interrupted crawl" in err
    assert f"'crawler crawl news --resume run-killed --data-dir {data}'" in err
    assert "still being written" not in err


def test_index_says_an_open_warc_of_a_running_crawl_is_still_being_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from archive.writer import HttpExchange, WarcWriter

    data = tmp_path / "data"
    with WarcWriter(data / "warc", prefix="crawl") as writer:   # this process: alive
        writer.write_exchange(HttpExchange(
            url="http://a.example/", date=datetime(2026, 11, 1, tzinfo=UTC), method="GET", request_headers=[],
            request_body=b"", status=200, reason="OK", protocol="HTTP/1.1", response_headers=[], body=b"x"))
        path = writer.current_path
        assert path is not None
        code, out, err = run_cli(capsys, "index", "--data-dir", str(data))
    assert code == 0, err
    assert f"skipping {path.name}: still being written by a running crawl (process {os.getpid()})" in err


# --- bad options ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("argv", "needle"), [
    (["index", "-o", "{tmp}"], "is a directory"),
    (["index", "-o", "{tmp}/no/such/dir/index.cdxj"], "no directory"),
    (["list", "--limit", "-1"], "--limit: must be 0 or more"),
    (["runs", "--limit", "-5"], "--limit: must be 0 or more"),
], ids=["index -o DIR", "index -o missing dir", "list --limit -1", "runs --limit -5"])
def test_bad_options_are_one_line_exit_2(argv: list[str], needle: str, crawled: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    try:
        code = main([*argv, "--data-dir", str(crawled)])
    except SystemExit as exc:        # argparse's own errors
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.strip().splitlines() if not line.startswith(("usage:", " "))]
    assert len(lines) == 1 and needle in lines[0], err
    assert list(tmp_path.iterdir()) == []


def test_schedules_on_a_readonly_or_damaged_catalog(tmp_path: Path) -> None:
    """`schedule list` reads a read-only archive; changing a schedule there, or any schedule verb on a damaged
    catalog, is one line and a non-zero exit."""
    data = tmp_path / "data"
    assert cli("schedule", "add", "nightly", "news", "--seed", "http://127.0.0.1:9/", "--every", "1h",
               data=data).returncode == 0
    proc = readonly_cli(data, "schedule", "list")
    assert proc.returncode == 0 and "nightly" in proc.stdout, proc.stderr
    proc = readonly_cli(data, "schedule", "pause", "nightly")
    assert proc.returncode != 0 and "read-only" in proc.stderr and "Traceback" not in proc.stderr
    assert not (data / "runs").exists()  # listing created nothing
    for damage in (_garbage, _overwritten_mid_file):
        broken = tmp_path / f"broken-{damage.__name__}"
        shutil.copytree(data, broken)
        damage(broken / "catalog.sqlite")
        proc = cli("schedule", "list", data=broken)
        assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) <= 1, proc.stderr
        if damage is _garbage:  # (overwritten pages may spare the few the schedules live in)
            assert proc.returncode == 1 and "catalog.sqlite" in proc.stderr, proc.stderr
