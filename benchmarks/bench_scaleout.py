"""Scale-out: pages/s of one worker against two on one shared Redis frontier, on this machine.

    python benchmarks/bench_scaleout.py [--articles 1000] [--port 18090] [--no-write]

Serves ``shared/benchsite`` with nginx on 127.0.0.1, starts its own ``redis-server`` on a free port, and
crawls the site three times, each from scratch:

  plain       ``crawler crawl news`` without a frontier (Scrapy's own scheduler): the reference
  1 worker    ``crawler crawl news --frontier redis://...``: the same crawl through Redis
  2 workers   ``crawler frontier seed`` then two ``crawler worker`` processes started together

*pages* are response records in the WARC files of the run (every worker's); wall time runs from the first
process's start to the last one's end. Writes the ``## Scale-out`` section of benchmarks/RESULTS.md.
Needs nginx (apt-get installs it when run as root) and redis-server (Debian's redis-server package).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (  # noqa: E402
    REPO,
    BenchSkip,
    Measurement,
    free_port,
    generated_site,
    machine,
    measure,
    need_tools,
    nginx,
    port_is_free,
    write_section,
)

FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "PROGRESS_ENABLED=False"]


@dataclass(frozen=True)
class Run:
    label: str
    wall_s: float
    cpu_s: float
    pages: int
    per_worker: tuple[int, ...]
    load: float

    @property
    def rate(self) -> float:
        return self.pages / self.wall_s if self.wall_s > 0 else 0.0


def count_responses(data_dir: Path) -> int:
    from warcio.archiveiterator import ArchiveIterator

    count = 0
    for path in sorted((data_dir / "warc").glob("*.warc.gz")):
        with path.open("rb") as fh:
            count += sum(1 for record in ArchiveIterator(fh) if record.rec_type == "response")
    return count


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "crawler.cli", *args]


def redis_server(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise BenchSkip("redis-server is missing: install it with 'apt-get install redis-server'")
    port = free_port()
    proc = subprocess.Popen([binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
                             "--dir", str(workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    import redis

    client = redis.Redis.from_url(url)
    for _ in range(200):
        try:
            client.ping()
            return proc, url
        except redis.RedisError:
            time.sleep(0.05)
    proc.kill()
    raise BenchSkip(f"redis-server did not start on port {port}")


def concurrently(cmds: list[list[str]], logs: list[Path]) -> tuple[float, list[Measurement]]:
    results: list[Measurement | None] = [None] * len(cmds)

    def one(i: int) -> None:
        results[i] = measure(cmds[i], cwd=REPO, log=logs[i])

    start = time.perf_counter()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(cmds))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    done = [m for m in results if m is not None]
    for m, log in zip(done, logs, strict=True):
        if m.returncode != 0:
            raise RuntimeError(f"a crawl failed (exit {m.returncode}); see {log}")
    return wall, done


def run_all(base: str, frontier: str, out: Path) -> list[Run]:
    """The plain reference, then one and two workers, with extraction and archive-only (--no-extract)."""
    import redis

    runs = []
    plain = out / "plain"
    load = os.getloadavg()[0]
    wall, [m] = concurrently([cli("crawl", "news", "--seed", base + "/", "--data-dir", str(plain), *FAST)],
                             [out / "plain.log"])
    n = count_responses(plain)
    runs.append(Run("plain crawl (no frontier)", wall, m.cpu_s, n, (n,), load))
    for mode, extra in (("", []), (", archive only", ["--no-extract"])):
        tag = "x" if extra else ""
        redis.Redis.from_url(frontier).flushdb()
        one = out / f"one{tag}"
        load = os.getloadavg()[0]
        wall, [m] = concurrently([cli("crawl", "news", "--seed", base + "/", "--frontier", frontier,
                                      "--data-dir", str(one), *FAST, *extra)], [out / f"one{tag}.log"])
        n = count_responses(one)
        runs.append(Run(f"1 worker{mode}", wall, m.cpu_s, n, (n,), load))

        redis.Redis.from_url(frontier).flushdb()
        subprocess.run(cli("frontier", "seed", "news", "--seed", base + "/", "--frontier", frontier), cwd=REPO,
                       check=True, stdout=subprocess.DEVNULL)
        dirs = [out / f"w1{tag}", out / f"w2{tag}"]
        load = os.getloadavg()[0]
        wall, ms = concurrently([cli("worker", "--frontier", frontier, "--data-dir", str(d), *FAST, *extra)
                                 for d in dirs], [d.with_suffix(".log") for d in dirs])
        counts = tuple(count_responses(d) for d in dirs)
        runs.append(Run(f"2 workers{mode}", wall, sum(m.cpu_s for m in ms), sum(counts), counts, load))
    return runs


def report(runs: list[Run], articles: int, started: datetime) -> str:
    lines = [
        f"Machine: {machine()}. Date: {started:%Y-%m-%d %H:%M} UTC. Site: shared/benchsite, {articles} articles, "
        "served by nginx on 127.0.0.1; Redis on 127.0.0.1 (no persistence); no delays, AutoThrottle off, "
        "16 requests at once and 4 per site in each worker; extraction in a pool of one process per core per "
        "worker, or off (`--no-extract`, archive only). Every process shares the same 2 cores, so this "
        "measures what a second worker buys on one machine, not across machines. *load* is the 1-minute load "
        "average when the run started (other work on the machine).",
        "",
        "| run | pages | per worker | wall s | pages/s | CPU s | vs 1 worker | load |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    reference = runs[1]
    for r in runs:
        if r.label.startswith("1 worker"):
            reference = r
        ratio = r.rate / reference.rate if reference.rate and not r.label.startswith("plain") else 0.0
        vs = f"{ratio:.2f}x" if ratio else "-"
        lines.append(f"| {r.label} | {r.pages} | {' + '.join(str(n) for n in r.per_worker)} | {r.wall_s:.1f} | "
                     f"{r.rate:.1f} | {r.cpu_s:.0f} | {vs} | {r.load:.1f} |")
    lines += ["", "*wall s* includes each process's start-up (about 3 s); *CPU s* is the crawler processes' and "
              "the descendants they waited for (the extraction pool). Run with `python benchmarks/bench_scaleout.py [--articles N]` "
              "(part of `make bench`)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--articles", type=int, default=1000)
    ap.add_argument("--workdir", type=Path, default=Path(os.environ.get("BENCH_WORKDIR", "/tmp/newsarchiver-bench")))
    ap.add_argument("--port", type=int, default=18090)
    ap.add_argument("--no-write", action="store_true", help="print the section instead of writing RESULTS.md")
    args = ap.parse_args(argv)
    started = datetime.now(UTC)
    try:
        need_tools("nginx")
        args.workdir.mkdir(parents=True, exist_ok=True)
        if not port_is_free(args.port):
            raise BenchSkip(f"port {args.port} is busy; pass --port with a free one")
        site = generated_site(args.workdir, args.articles, args.port)
        redis_dir = Path(tempfile.mkdtemp(prefix="redis-", dir=args.workdir))
        redis_proc, frontier = redis_server(redis_dir)
    except BenchSkip as exc:
        print(f"bench_scaleout: skipped: {exc}", file=sys.stderr)
        return 0
    out = args.workdir / f"scaleout-{started:%Y%m%dT%H%M%S}"
    out.mkdir(parents=True)
    try:
        with nginx(site, args.port, args.workdir) as base:
            runs = run_all(base, frontier, out)
    finally:
        redis_proc.terminate()
        redis_proc.wait(timeout=20)
    section = report(runs, args.articles, started)
    if args.no_write:
        print(section)
    else:
        write_section("Scale-out", section)
        print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
