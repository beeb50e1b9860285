"""A crawl shared by several workers through a real redis-server on 127.0.0.1 (crawler.frontier).

Each test module starts its own ``redis-server`` on a free port (skipped when the binary is missing on a
developer machine; under CI, where ``.ci/run`` installs Debian's ``redis-server``, a missing binary fails).
Workers are real ``crawler`` processes against the demo site; what they write is read back.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis

from archive.cdxj import read_index
from archive.reader import iter_records
from crawler.frontier import Frontier, JsonSerializer

ROOT = Path(__file__).resolve().parents[1]
FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "EXTRACT_WORKERS=1"]


# ----- a real redis-server ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Poll ``check`` until it holds; fail naming ``what`` after ``timeout`` s (a deadline, not an assert on time)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


@dataclass
class RedisServer:
    port: int
    directory: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def _up(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.RedisError:
            return False

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None
        # appendonly + fsync always: a restart keeps what was written, as a production frontier should
        self.proc = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.directory),
             "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--protected-mode", "no",
             "--logfile", str(self.directory / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        proc = self.proc
        wait_for(lambda: self._up() or proc.poll() is not None,
                 f"redis-server on port {self.port} (log: {self.directory / 'redis.log'})", 20)
        if proc.poll() is not None:
            raise OSError(f"redis-server exited with status {proc.returncode} on port {self.port} "
                          f"(log: {self.directory / 'redis.log'})")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()        # SIGTERM: redis-server finishes the AOF and exits
            self.proc.wait(timeout=20)
        self.proc = None


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed: .ci/run installs Debian's redis-server package")
        pytest.skip("redis-server not installed (apt-get install redis-server) - the frontier tests need a real one")
    directory = tmp_path_factory.mktemp("redis")
    for attempt in range(3):     # the free port may be taken by a parallel test before redis binds it
        server = RedisServer(_free_port(), directory)
        try:
            server.start()
            break
        except OSError:
            if attempt == 2:
                raise
    yield server
    server.stop()


@pytest.fixture
def frontier_url(redis_server: RedisServer) -> str:
    """An empty frontier (database 0 flushed) on the module's redis-server."""
    if redis_server.proc is None:
        redis_server.start()
    redis_server.client().flushdb()
    return redis_server.url


# ----- running workers --------------------------------------------------------------------------------------


def _env() -> dict[str, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("CRAWLER_DATA_DIR", None)
    env.pop("CRAWLER_FRONTIER", None)
    return env


def run_cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "crawler.cli", *args], cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=timeout)


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``crawler.cli.main`` in this process: (exit code, stdout, stderr)."""
    from crawler.cli import main

    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


_started: list[subprocess.Popen[bytes]] = []


def start_cli(*args: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "crawler.cli", *args], cwd=ROOT, env=_env(),
                                stdout=out, stderr=subprocess.STDOUT)
    _started.append(proc)
    return proc


@pytest.fixture(autouse=True)
def _no_worker_left_behind() -> Iterator[None]:
    """A test that fails half-way must not leave its worker processes running."""
    yield
    while _started:
        proc = _started.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


def finish(proc: subprocess.Popen[bytes], log: Path, timeout: float = 180) -> str:
    proc.wait(timeout=timeout)
    text = log.read_text(errors="replace")
    assert proc.returncode == 0, text
    return text


def records_of(*data_dirs: Path) -> list[dict[str, Any]]:
    out = []
    for data_dir in data_dirs:
        for path in sorted((data_dir / "records").glob("*.jsonl")):
            out += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return out


def responses_of(*data_dirs: Path) -> Counter[str]:
    """Target URI of every 200 response record in the data directories' closed WARC files."""
    seen: Counter[str] = Counter()
    for data_dir in data_dirs:
        for path in sorted((data_dir / "warc").glob("*.warc.gz")):
            for rec in iter_records(path):
                if rec.rec_type == "response" and rec.http_status == 200 and rec.target_uri:
                    seen[rec.target_uri] += 1
    return seen


# ----- unit: requests as JSON, leases ----------------------------------------------------------------------


def test_requests_travel_as_json_with_bytes_and_dates() -> None:
    from scrapy import Request

    when = datetime(2026, 11, 27, 11, 22, 33, tzinfo=UTC)
    req = Request("http://127.0.0.1/a?b=1", method="POST", body=b"\x00\xffbody", headers={"X-A": "1"},
                  priority=3, meta={"listing_date": when, "raw": [b"line"], "depth": 2, "n": {"$x": 1}})
    data = JsonSerializer.dumps(req.to_dict())
    assert b"\x00" not in data and json.loads(data)
    back = Request.from_dict(JsonSerializer.loads(data)) if hasattr(Request, "from_dict") else None
    if back is None:
        from scrapy.utils.request import request_from_dict

        back = request_from_dict(JsonSerializer.loads(data))
    assert (back.url, back.method, back.body, back.priority) == (req.url, "POST", b"\x00\xffbody", 3)
    assert back.headers.getlist("X-A") == [b"1"]
    assert back.meta == {"listing_date": when, "raw": [b"line"], "depth": 2, "n": {"$x": 1}}


def test_meta_that_cannot_travel_is_refused_with_its_path() -> None:
    with pytest.raises(TypeError, match=r"request\.meta\.obj \(object\)"):
        JsonSerializer.dumps({"meta": {"obj": object()}})


def test_leases_are_acknowledged_renewed_given_back_and_reclaimed(frontier_url: str) -> None:
    frontier = Frontier(frontier_url, "t")
    for i in range(3):
        frontier.server.zadd(frontier.queue_key, {f"r{i}".encode(): -i})
    assert frontier.lease("w:1", 60) == b"r2"            # highest priority first
    assert frontier.lease("w:2", 60) == b"r1"
    assert frontier.lease("w:3", 0.05) == b"r0"
    assert frontier.lease("w:4", 60) is None
    frontier.ack(["w:1"])
    assert frontier.give_back(["w:2"]) == 1
    assert frontier.renew(["w:2", "w:3"], 60) == ["w:2"]   # w:2 was given back: no longer held
    st = frontier.status()
    assert (st.queued, st.leased) == (1, 1)
    frontier.server.zadd(frontier.leases_key, {"w:3": 0})   # as if its worker died long ago
    assert frontier.reclaim_expired() == 1
    assert sorted(frontier.server.zrange(frontier.queue_key, 0, -1)) == [b"r0", b"r1"]
    assert frontier.status().leased == 0
    frontier.heartbeat("alive", {"pid": 1})
    frontier.server.hset(frontier.workers_key, "dead", json.dumps({"pid": 2, "heartbeat": 0}))
    assert frontier.prune_workers(60) == ["dead"]
    assert list(frontier.status().workers) == ["alive"]


# ----- two workers on one frontier -------------------------------------------------------------------------


def test_two_workers_archive_every_article_once_and_one_index_holds_both(
    frontier_url: str, fresh_site: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = fresh_site(articles=30)
    code, out, err = cli(capsys, "frontier", "seed", "news", "--seed", site.base_url + "/", "--frontier", frontier_url)
    assert code == 0 and "2 of 2 start request(s) queued" in out, err     # the seed and its robots.txt
    a, b = tmp_path / "a", tmp_path / "b"
    workers = [start_cli("worker", "--frontier", frontier_url, "--data-dir", str(d), *FAST, log=tmp_path / f"{d.name}.log")
               for d in (a, b)]
    outputs = [finish(w, tmp_path / f"{d.name}.log") for w, d in zip(workers, (a, b), strict=True)]
    assert all("finished: finished" in out for out in outputs), outputs

    records = records_of(a, b)
    by_url = Counter(r["url"] for r in records)
    assert [u for u, n in by_url.items() if n > 1] == []
    articles = {r["url"] for r in records if r["kind"] == "article"}
    assert articles == {t.url for t in site.truth}
    fetched = responses_of(a, b)
    assert [u for u, n in fetched.items() if n > 1 and not u.endswith("/robots.txt")] == []
    assert all(fetched[t.url] == 1 for t in site.truth)
    # every page fetched once from the site; each worker reads robots.txt for itself
    paths = Counter(r.path for r in site.requests if r.path != "/robots.txt")
    assert paths and [u for u, n in paths.items() if n > 1] == []

    merged = tmp_path / "merged"
    warcs = sorted(str(p) for d in (a, b) for p in (d / "warc").glob("*.warc.gz"))
    code, _, err = cli(capsys, "index", "--data-dir", str(merged), *warcs)
    assert code == 0, err
    lines = list(read_index(merged / "index" / "index.cdxj"))
    in_index = Counter(line.url for line in lines if line.status == 200)
    assert all(in_index[t.url] == 1 for t in site.truth)
    # every worker's WARC files are in the one index (a worker that started late may have found no work)
    with_captures = {str(p) for p in map(Path, warcs) if any(r.rec_type == "response" for r in iter_records(p))}
    assert {line.filename for line in lines} == with_captures
    # ... and one catalog: the records extracted again from both workers' WARCs (no network)
    code, out, err = cli(capsys, "reextract", "--data-dir", str(merged), "--workers", "1", *warcs)
    assert code == 0, err
    from archive.catalog import Catalog

    catalog = Catalog(merged / "catalog.sqlite")
    try:
        assert sorted(r["url"] for r in catalog.records(kind="article")) == sorted(t.url for t in site.truth)
    finally:
        catalog.close()

    status = Frontier(frontier_url).status()
    assert (status.queued, status.leased, status.workers) == (0, 0, {})


# ----- faults: a worker killed with SIGKILL, Redis restarting ----------------------------------------------


def test_requests_of_a_sigkilled_worker_return_after_the_lease_and_are_archived(
    frontier_url: str, fresh_site: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from archive.writer import recover_open_files

    site = fresh_site(articles=16)
    frontier = Frontier(frontier_url)
    assert cli(capsys, "frontier", "seed", "news", "--seed", site.base_url + "/", "--frontier", frontier_url)[0] == 0
    a, b = tmp_path / "a", tmp_path / "b"
    slow = ["-s", "DOWNLOAD_DELAY=0.3", "-s", "RANDOMIZE_DOWNLOAD_DELAY=False", "-s", "AUTOTHROTTLE_ENABLED=False",
            "-s", "EXTRACT_WORKERS=1", "-s", "FRONTIER_LEASE_TIMEOUT=2", "-s", "FRONTIER_HOST_DELAY=0"]
    killed = start_cli("worker", "--frontier", frontier_url, "--data-dir", str(a), *slow, log=tmp_path / "a.log")

    def mid_crawl() -> bool:
        st = frontier.status()
        return st.seen >= 10 and st.leased >= 1 and st.queued >= 1

    wait_for(mid_crawl, "the first worker to be mid-crawl, holding leases")
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=30)
    held = frontier.status().leased
    assert held >= 1                                   # taken, not finished, and now nobody works on them
    # alive, it kept its leases although its requests waited longer than FRONTIER_LEASE_TIMEOUT (renewals)
    assert "expired before this worker renewed" not in (tmp_path / "a.log").read_text(errors="replace")

    out = finish(start_cli("worker", "--frontier", frontier_url, "--data-dir", str(b), *FAST,
                           log=tmp_path / "b.log"), tmp_path / "b.log")
    assert "finished: finished" in out
    assert "took back" in out and "whose worker stopped renewing its lease" in out
    recover_open_files(a / "warc")                     # what the killed worker had written stays usable
    archived = responses_of(a, b)
    assert [t.url for t in site.truth if archived[t.url] == 0] == []
    by_b = {r["url"] for r in records_of(b) if r["kind"] == "article"}
    by_a = {r["url"] for r in records_of(a) if r["kind"] == "article"}
    assert by_a | by_b == {t.url for t in site.truth}
    st = frontier.status()
    assert (st.queued, st.leased) == (0, 0)


def test_two_workers_sharing_a_data_directory_wait_through_a_redis_restart_and_lose_nothing(
    redis_server: RedisServer, frontier_url: str, fresh_site: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two workers on one machine, one data directory (one catalog, one index), and Redis restarted mid-crawl."""
    from archive.catalog import Catalog

    site = fresh_site(articles=24)
    frontier = Frontier(frontier_url)
    assert cli(capsys, "frontier", "seed", "news", "--seed", site.base_url + "/", "--frontier", frontier_url)[0] == 0
    paced = ["-s", "DOWNLOAD_DELAY=0.2", "-s", "RANDOMIZE_DOWNLOAD_DELAY=False", "-s", "AUTOTHROTTLE_ENABLED=False",
             "-s", "EXTRACT_WORKERS=1", "-s", "FRONTIER_POLL_INTERVAL=0.2"]
    shared = tmp_path / "shared"
    logs = [tmp_path / "1.log", tmp_path / "2.log"]
    workers = [start_cli("worker", "--frontier", frontier_url, "--data-dir", str(shared), *paced, log=log)
               for log in logs]
    wait_for(lambda: len(frontier.status().workers) == 2 and frontier.status().seen >= 10,
             "both workers to be mid-crawl")
    redis_server.stop()
    for log in logs:
        wait_for(lambda log=log: "unreachable" in log.read_text(errors="replace"), f"{log.name}: Redis is gone")
    redis_server.start()
    for worker, log in zip(workers, logs, strict=True):
        out = finish(worker, log)
        assert "finished: finished" in out and "reachable again" in out

    records = records_of(shared)
    assert len(list((shared / "records").glob("*.jsonl"))) == 2           # one records file per run
    assert [u for u, n in Counter(r["url"] for r in records).items() if n > 1] == []
    assert {r["url"] for r in records if r["kind"] == "article"} == {t.url for t in site.truth}
    catalog = Catalog(shared / "catalog.sqlite")
    try:
        urls = [r["url"] for r in catalog.records(kind="article")]
    finally:
        catalog.close()
    assert sorted(urls) == sorted(t.url for t in site.truth)            # each once, from either worker
    code, out, err = cli(capsys, "index", "--check", "--data-dir", str(shared))
    assert code == 0, out + err
    st = frontier.status()
    assert (st.queued, st.leased) == (0, 0)


# ----- the frontier commands ---------------------------------------------------------------------------------


def test_frontier_status_seed_clear_and_bad_input(
    frontier_url: str, fresh_site: Any, redis_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    site = fresh_site(articles=4)
    args = ["--frontier", frontier_url]
    code, out, _ = cli(capsys, "frontier", "status", "--json", *args)
    assert code == 0 and json.loads(out)["crawl"] is None

    seed = ["frontier", "seed", "news", "--seed", site.base_url + "/", "--max-pages", "3", *args]
    assert cli(capsys, *seed)[0] == 0
    code, out, err = cli(capsys, *seed)
    assert code == 0 and "0 of 2 start request(s) queued" in out, err
    code, _, err = cli(capsys, "frontier", "seed", "news", "--seed", site.base_url + "/world", *args)
    assert code == 1 and "already holds another crawl" in err
    code, _, err = cli(capsys, "crawl", "news", "--seed", site.base_url + "/world", *args)
    assert code == 1 and "already holds another crawl" in err and "crawler frontier clear" in err

    code, out, _ = cli(capsys, "frontier", "status", "--json", *args)
    status = json.loads(out)
    assert status["crawl"] == {"spider": "news", "args": {"seeds": [site.base_url + "/"], "max_pages": 3}}
    assert (status["queued"], status["leased"], status["seen"]) == (2, 0, 2)
    code, out, _ = cli(capsys, "frontier", "status", *args)
    assert "queued:   2" in out and "news" in out

    frontier = Frontier(frontier_url)
    frontier.heartbeat("otherhost-123-abc", {"host": "otherhost", "pid": 123, "data_dir": "/data", "leased": 1})
    code, _, err = cli(capsys, "frontier", "clear", *args)
    assert code == 1 and "otherhost-123-abc" in err
    assert cli(capsys, "frontier", "clear", "--force", *args)[0] == 0
    assert redis_server.client().keys("frontier:*") == []

    code, _, err = cli(capsys, "frontier", "status", "--frontier", "http://127.0.0.1:1/")
    assert code == 2 and "redis://HOST:PORT/DB" in err
    code, _, err = cli(capsys, "frontier", "status", "--frontier", f"redis://127.0.0.1:{_free_port()}/0")
    assert code == 1 and "cannot reach the frontier's Redis" in err
    code, _, err = cli(capsys, "worker", "--frontier", frontier_url, "--data-dir", "/nonexistent-not-used")
    assert code == 1 and "holds no crawl yet" in err


@pytest.mark.parametrize("how", ["frontier stop", "SIGTERM"])
def test_a_stopped_worker_finishes_what_it_holds_and_another_resumes(
    how: str, frontier_url: str, fresh_site: Any, tmp_path: Path
) -> None:
    site = fresh_site(articles=16)
    frontier = Frontier(frontier_url)
    # two requests at a time: the worker holds at most two leases, so the queue fills up behind it
    paced = ["-s", "DOWNLOAD_DELAY=0.2", "-s", "RANDOMIZE_DOWNLOAD_DELAY=False", "-s", "AUTOTHROTTLE_ENABLED=False",
             "-s", "EXTRACT_WORKERS=1", "-s", "FRONTIER_POLL_INTERVAL=0.2", "-s", "CONCURRENT_REQUESTS=2"]
    first = start_cli("crawl", "news", "--seed", site.base_url + "/", "--frontier", frontier_url,
                      "--data-dir", str(tmp_path / "a"), *paced, log=tmp_path / "a.log")
    wait_for(lambda: frontier.status().queued >= 6, "requests queued in the frontier")
    if how == "SIGTERM":
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=180)
        out = (tmp_path / "a.log").read_text(errors="replace")
        assert first.returncode in (0, 130) and "finished: shutdown" in out, out     # 130: interrupted
    else:
        stopped = run_cli("frontier", "stop", "--frontier", frontier_url)
        assert stopped.returncode == 0 and "asked 1 worker(s) to stop" in stopped.stdout
        assert "finished: frontier_stopped" in finish(first, tmp_path / "a.log")
    st = frontier.status()
    assert st.leased == 0 and st.queued >= 1 and st.workers == {}      # nothing held, the rest still queued

    out = finish(start_cli("worker", "--frontier", frontier_url, "--data-dir", str(tmp_path / "b"), *FAST,
                           log=tmp_path / "b.log"), tmp_path / "b.log")
    assert "finished: finished" in out
    records = records_of(tmp_path / "a", tmp_path / "b")
    assert [u for u, n in Counter(r["url"] for r in records).items() if n > 1] == []
    assert {r["url"] for r in records if r["kind"] == "article"} == {t.url for t in site.truth}


# ----- politeness shared through Redis -------------------------------------------------------------------


def test_host_token_is_shared_a_second_worker_waits_for_the_first_ones_to_expire(frontier_url: str) -> None:
    import asyncio

    from scrapy import Request

    from crawler.frontier import HostTokenMiddleware

    frontier = Frontier(frontier_url)
    first, second = HostTokenMiddleware(frontier, 0.3), HostTokenMiddleware(frontier, 0.3)
    key = frontier.host_key("news.example.org")
    request = Request("http://News.Example.org/a")

    async def both() -> tuple[bytes | None, bytes | None]:
        await first.process_request(request)
        held_by_first = frontier.server.get(key)
        await second.process_request(request)          # returns only once the first token has expired
        return held_by_first, frontier.server.get(key)

    held_before, held_after = asyncio.run(both())
    assert held_before == first.token.encode() and held_after == second.token.encode()
    assert 0 < frontier.server.pttl(key) <= 300
    asyncio.run(first.process_request(Request("http://other.example.org/")))   # another host: its own token
    assert frontier.server.get(frontier.host_key("other.example.org")) == first.token.encode()


def test_host_token_without_redis_falls_back_to_the_local_delay(caplog: pytest.LogCaptureFixture) -> None:
    import asyncio

    from scrapy import Request

    from crawler.frontier import HostTokenMiddleware

    gone = HostTokenMiddleware(Frontier(f"redis://127.0.0.1:{_free_port()}/0"), 0.3)
    with caplog.at_level("WARNING", logger="crawler.frontier"):
        asyncio.run(gone.process_request(Request("http://news.example.org/a")))
    assert "per-host politeness token unavailable" in caplog.text
