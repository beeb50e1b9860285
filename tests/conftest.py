"""Shared fixtures. Add new fixtures at the end of the file, under their own heading."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crawler.demosite import RunningServer, Site, serve

# ----- the demo news site (crawler.demosite) ------------------------------------------------------------


@pytest.fixture(scope="session")
def demo_site() -> Iterator[RunningServer]:
    """The default demo site (30 articles, layout "demo"), shared by the session: do not mutate it.
    ``.base_url``, ``.truth``, ``.disallowed_urls``, ``.requests``; see ``crawler.demosite``."""
    with serve(Site()) as server:
        yield server


@pytest.fixture
def demo_site_clean(demo_site: RunningServer) -> RunningServer:
    """The shared demo site with its request log emptied, for tests that assert on what was fetched."""
    demo_site.clear_requests()
    return demo_site


@pytest.fixture(scope="session")
def moscow_site() -> Iterator[RunningServer]:
    """The demo site in the Moscow Times layout (/news, /opinion, /business; /sitemap/sitemap.xml)."""
    with serve(Site(layout="moscowtimes")) as server:
        yield server


@pytest.fixture
def fresh_site() -> Iterator[Callable[..., RunningServer]]:
    """A factory for private demo sites that a test may mutate: ``fresh_site(articles=10, layout=...)``.
    Every site it starts is stopped after the test."""
    started: list[RunningServer] = []

    def start(**params: object) -> RunningServer:
        server = serve(Site(**params))  # type: ignore[arg-type]
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


# ----- replay: a crawled archive with a page captured twice and a revisit (tests of index/replay/export) -----


@dataclass(frozen=True)
class ReplayArchive:
    """``data_dir`` of a real crawl of ``site``; ``twice`` was captured at ``twice_ts`` (first, before
    ``edit``) and again later; ``revisited`` has a revisit record at ``revisit_ts`` pointing to its crawl."""

    site: RunningServer
    data_dir: Path
    twice: str
    twice_ts: tuple[str, str]
    edit: str
    revisited: str
    revisit_ts: str


def _run_crawler(*args: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CRAWLER_DATA_DIR"}
    proc = subprocess.run([sys.executable, "-m", "crawler.cli", *args], env=env, capture_output=True,
                          text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture(scope="session")
def replay_archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReplayArchive]:
    from archive.cdxj import append_to_index, index_path, lookup
    from archive.reader import read_record
    from archive.writer import HttpExchange, WarcLocation, WarcWriter

    fast = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "EXTRACT_WORKERS=2"]
    data_dir = tmp_path_factory.mktemp("replay") / "data"
    with serve(Site(articles=12)) as server:
        _run_crawler("crawl", "news", "--seed", server.base_url + "/", "--data-dir", str(data_dir), *fast)
        twice, revisited = server.truth[0], server.truth[1]
        [first] = [c for c in lookup(index_path(data_dir), twice.url) if c.status == 200]
        while datetime.now(UTC).strftime("%Y%m%d%H%M%S") <= first.timestamp:
            time.sleep(0.1)  # the second capture needs a later 14-digit timestamp
        edit = "A paragraph added after the first capture, for the replay tests."
        server.site.edit_article(twice.id, edit)
        _run_crawler("archive", twice.url, "--data-dir", str(data_dir), *fast)
        second = [c for c in lookup(index_path(data_dir), twice.url) if c.status == 200][-1]
        # a revisit of another article, one hour after its capture, as a deduplicating crawl writes it
        [orig_line] = [c for c in lookup(index_path(data_dir), revisited.url) if c.status == 200]
        orig = read_record(data_dir / "warc" / orig_line.filename, orig_line.offset, orig_line.length)
        assert orig.date is not None and orig.record_id is not None
        orig_date = datetime.strptime(orig_line.timestamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
        when = orig_date + timedelta(hours=1)
        with WarcWriter(data_dir / "warc", prefix="revisit") as writer:
            writer.write_revisit(
                HttpExchange(url=revisited.url, date=when, method="GET", request_headers=[("Host", "x")],
                             request_body=b"", status=200, reason="OK", protocol="HTTP/1.1",
                             response_headers=list(orig.http_headers), body=orig.raw_payload),
                refers_to=WarcLocation(orig_line.filename, orig_line.offset, orig_line.length, orig.record_id,
                                       orig.payload_digest),
                refers_to_uri=revisited.url, refers_to_date=orig_date)
            closed = writer.close()
        for path in closed:
            append_to_index(data_dir, path)
        yield ReplayArchive(server, data_dir, twice.url, (first.timestamp, second.timestamp), edit,
                            revisited.url, when.strftime("%Y%m%d%H%M%S"))


@pytest.fixture(scope="session")
def pywb_server(replay_archive: ReplayArchive) -> Iterator[Any]:
    """The real pywb (from .venv-pywb) serving ``replay_archive`` on 127.0.0.1; an ``archive.pywb.RunningPywb``."""
    from archive.pywb import PywbError, find_wayback, prepare, running

    try:
        wayback = find_wayback()
    except PywbError as exc:
        pytest.fail(f"{exc} (the CI script runs 'make setup-pywb')")
    with running(prepare(replay_archive.data_dir), wayback) as server:
        yield server


@pytest.fixture(scope="session")
def demo_wget_warc(demo_site: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A WARC of the demo site written by wget (as an archivist using another tool would); the files wget
    saved are in ``files/`` beside it."""
    import shutil

    if shutil.which("wget") is None:
        pytest.fail("wget is missing: apt-get install -y wget (the CI script installs it)")
    directory = tmp_path_factory.mktemp("wget")
    proc = subprocess.run(
        ["wget", "--recursive", "--level=4", "--no-parent", "--tries=1", "--timeout=10", "--quiet",
         "--no-warc-keep-log", f"--warc-file={directory / 'site'}", f"--directory-prefix={directory / 'files'}",
         demo_site.base_url + "/"],
        capture_output=True, text=True, timeout=120,
    )
    # wget exits 8 when some page answered with an error status (the site has 404/410 pages)
    assert proc.returncode in (0, 8), proc.stderr
    return directory / "site.warc.gz"


# ----- a small disk: a 400 KiB tmpfs (needs root; skips elsewhere), for the disk-full tests -----


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 400 KiB tmpfs mounted in the test's folder: a disk that fills up after a few pages."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}); the disk-full test needs root")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
