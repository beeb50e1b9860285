"""Memory as the site grows: archive-mode peak RSS on 5,000 and on 50,000 articles, the same code in one run.

    python benchmarks/bench_memory.py [--small 5000] [--large 50000] [--port 18181] [--budget SECONDS] [--no-write]

Generates ``shared/benchsite`` with each number of articles into the work directory (once; default
/tmp/newsarchiver-bench, ``$BENCH_WORKDIR``; 50,000 articles are ~4.5 GB and take minutes), serves each with
nginx (the larger on PORT, the smaller on PORT+1) and crawls both at the same time with ``crawler crawl news --no-extract``
(bench_throughput's archive step: robots on, no delays). Every 0.5 s it samples the RSS of the crawl process
and of its process tree, and the pages archived so far (the crawl's progress log line); from wait4 it takes
the CPU time. ``--budget`` stops the larger crawl (SIGINT: a clean stop, like Ctrl-C) after that many seconds
on a machine too busy to finish it; the report then says how far it got, and the growth per page inside
that run (RSS against pages archived, second half of the samples) is the figure to extrapolate from.
Writes the ``## Memory`` section of benchmarks/RESULTS.md. Needs nginx (apt-get when run as root).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_throughput import count_responses, crawl_cmd  # noqa: E402
from harness import REPO, BenchSkip, generated_site, machine, nginx, port_is_free, write_section  # noqa: E402
from postcrawl import replay_latency  # noqa: E402

GOAL = 1.25
_PROGRESS = re.compile(r"progress: ([\d,]+) pages")


@dataclass
class Sample:
    t: float          # seconds since start
    rss_mb: float     # the crawl process
    tree_mb: float    # the crawl process and its children
    pages: int        # archived so far (its last progress line)


@dataclass
class MemoryRun:
    articles: int
    pages: int                    # WARC response records written
    wall_s: float
    cpu_s: float                  # user+system of the process tree (wait4)
    peak_rss_mb: float
    peak_tree_mb: float
    returncode: int
    stopped: bool                 # stopped by --budget before the crawl finished
    load_before: float
    samples: list[Sample] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.pages / self.wall_s if self.wall_s else 0.0

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.cpu_s / self.pages if self.pages else 0.0

    def rss_at(self, fraction: float) -> float | None:
        """RSS of the crawl process when ``fraction`` of its pages had been archived."""
        return next((s.rss_mb for s in self.samples if s.pages >= fraction * self.pages), None)

    def growth_kb_per_page(self) -> float | None:
        """Slope of RSS against pages archived from 10% to 90% of the pages (least squares), KB/page: the
        crawl itself, without the start-up and the WARC files closed and indexed at the end."""
        half = [s for s in self.samples if 0.1 * self.pages <= s.pages <= 0.9 * self.pages]
        if len(half) < 10 or half[-1].pages - half[0].pages < 500:
            return None
        n = len(half)
        mx, my = sum(s.pages for s in half) / n, sum(s.rss_mb for s in half) / n
        var = sum((s.pages - mx) ** 2 for s in half)
        cov = sum((s.pages - mx) * (s.rss_mb - my) for s in half)
        return 1024 * cov / var if var else None


def _pages_logged(data_dir: Path) -> int:
    """Pages archived so far, from the last progress line of the crawl's run log."""
    pages = 0
    for log in (data_dir / "runs").glob("*.log"):
        try:
            with log.open("rb") as fh:
                fh.seek(max(0, log.stat().st_size - 8192))
                tail = fh.read().decode("utf-8", errors="replace")
        except OSError:
            continue
        found = _PROGRESS.findall(tail)
        if found:
            pages = max(pages, int(found[-1].replace(",", "")))
    return pages


def crawl(articles: int, base: str, data_dir: Path, budget: float | None) -> MemoryRun:
    """One archive-mode crawl, its RSS and pages sampled every 0.5 s; SIGINT after ``budget`` seconds."""
    cmd = crawl_cmd(base, data_dir, "--no-extract", "-s", "PROGRESS_LOG_INTERVAL=5")
    load = os.getloadavg()[0]
    samples: list[Sample] = []
    with data_dir.with_suffix(".log").open("wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
        root = psutil.Process(proc.pid)
        stopped = False
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                try:
                    own = root.memory_info().rss
                    tree = own + sum(c.memory_info().rss for c in root.children(recursive=True))
                except psutil.NoSuchProcess:
                    return
                samples.append(Sample(round(time.perf_counter() - start, 1), own / 2**20, tree / 2**20,
                                      _pages_logged(data_dir)))
                done.wait(0.5)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if budget is not None and not stopped and time.perf_counter() - start > budget:
                    print(f"  {articles} articles: budget of {budget:.0f} s spent, stopping the crawl (SIGINT)",
                          flush=True)
                    proc.send_signal(signal.SIGINT)
                    stopped = True
                time.sleep(0.2)
        finally:
            done.set()
            sampler.join()
    wall = time.perf_counter() - start
    pages, _urls = count_responses(sorted((data_dir / "warc").glob("*.warc.gz")))
    return MemoryRun(articles, pages, wall, usage.ru_utime + usage.ru_stime,
                     max((s.rss_mb for s in samples), default=0.0), max((s.tree_mb for s in samples), default=0.0),
                     os.waitstatus_to_exitcode(status), stopped, load, samples)


def fmt(x: float, digits: int = 0) -> str:
    return f"{x:,.{digits}f}"


def replay_lines(replay: dict[int, dict[str, float]]) -> list[str]:
    """The replay-get goal (p95 under 50 ms on 50,000 captures), measured on the archives these crawls left."""
    lines = []
    for articles, r in sorted(replay.items()):
        if not r:
            continue
        lines.append(f"- **Replay get** on the {fmt(articles)}-article archive ({fmt(r['captures'])} URLs captured with "
                     f"status 200, random picks): index lookup + WARC read in-process p50 {r['lib_p50_ms']:.1f} ms, "
                     f"p95 **{r['lib_p95_ms']:.1f} ms** (goal < 50 ms: {'met' if r['lib_p95_ms'] < 50 else 'not met'}); "
                     f"the whole `crawler replay get` command, interpreter start included, p50 {fmt(r['cli_p50_ms'])} ms, "
                     f"p95 {fmt(r['cli_p95_ms'])} ms.")
    return lines


def report(small: MemoryRun, large: MemoryRun, when: str, replay: dict[int, dict[str, float]] | None = None) -> str:
    ratio = large.peak_rss_mb / small.peak_rss_mb if small.peak_rss_mb else 0.0
    lines = [
        f"Machine: {machine()}. Written by `benchmarks/bench_memory.py` (`make bench`) on {when} UTC: "
        "`crawler crawl news --no-extract` (archive mode, robots on, no delays) of `shared/benchsite` with "
        "each number of articles served by nginx on 127.0.0.1, both crawls at the same time, same code. "
        "Peak RSS sampled every 0.5 s; *CPU* = user+system of the process tree; *load* = 1-minute load "
        "average at the start (the machine is shared: wall-clock figures are not comparable across runs).",
        "",
        "| articles | pages archived | wall s | pages/s | CPU ms/page | peak RSS MB (main / tree) | load | finished |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in (small, large):
        lines.append(f"| {fmt(r.articles)} | {fmt(r.pages)} | {fmt(r.wall_s, 1)} | {fmt(r.rate, 1)} | "
                     f"{fmt(r.cpu_ms, 1)} | {fmt(r.peak_rss_mb)} / {fmt(r.peak_tree_mb)} | {r.load_before:.1f} | "
                     f"{'no: stopped by --budget' if r.stopped else 'yes' if r.returncode == 0 else f'exit {r.returncode}'} |")
    met = "met" if ratio <= GOAL and not large.stopped else "not met" if ratio > GOAL else "not shown (partial run)"
    lines += ["", f"- **Peak RSS ratio** (goal <= {GOAL}x): {fmt(large.peak_rss_mb)} MB for {fmt(large.pages)} pages "
              f"vs {fmt(small.peak_rss_mb)} MB for {fmt(small.pages)} pages = **{ratio:.2f}x**: goal {met}."]
    small_mid, large_mid = small.rss_at(0.9), large.rss_at(0.9)
    if small_mid and large_mid:
        lines.append(f"- While crawling (RSS when 90% of the pages were archived, before the last WARC files close and "
                     f"are indexed): {fmt(large_mid)} MB vs {fmt(small_mid)} MB = {large_mid / small_mid:.2f}x.")
    slope = large.growth_kb_per_page()
    if slope is not None:
        growth = (f"- Growth inside the larger crawl (RSS against pages archived, 10% to 90% of its pages): "
                  f"{slope:.2f} KB per page")
        if large.stopped:
            est = large.peak_rss_mb + slope / 1024 * max(0, small.pages * large.articles // small.articles - large.pages)
            growth += (f"; at that slope the whole {fmt(large.articles)}-article site would peak near {fmt(est)} MB = "
                       f"{est / small.peak_rss_mb:.2f}x")
        lines.append(growth + ".")
    peak = max(large.samples, key=lambda s: s.rss_mb, default=None)
    if peak is not None and large_mid and peak.rss_mb > 1.1 * large_mid:
        lines.append(f"- The larger crawl's peak came {fmt(peak.t)} s into the run, at {fmt(peak.pages)} pages archived "
                     f"({peak.pages / large.pages:.0%}), {fmt(peak.rss_mb - large_mid)} MB above its level while "
                     "crawling: the index lines of the WARC file being written (`archive.cdxj.LiveIndex`, one text "
                     "per record, up to ~50,000 in a 1 GB file) are held until the file closes "
                     "(`ARCHIVE_WARC_MAX_SIZE` rollover, end of crawl), then sorted and streamed into the index "
                     "file: bounded by the WARC file size, not the crawl's, but still the peak.")
    lines += replay_lines(replay or {})
    return "\n".join(lines)


def measure_replay(out: Path, sizes: tuple[int, ...]) -> dict[int, dict[str, float]]:
    """Replay-get latency on each crawl's archive, saved next to it (``replay-N.json``) and reused when there."""
    results: dict[int, dict[str, float]] = {}
    for n in sizes:
        saved, data_dir = out / f"replay-{n}.json", out / f"archive-{n}"
        if saved.exists():
            results[n] = json.loads(saved.read_text())
        elif (data_dir / "index" / "index.cdxj").exists():
            print(f"[{datetime.now(UTC):%H:%M:%S}] replay get latency on {data_dir} ...", flush=True)
            results[n] = replay_latency(data_dir, samples=1000, cli_samples=30)
            saved.write_text(json.dumps(results[n], indent=1))
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--small", type=int, default=5000)
    ap.add_argument("--large", type=int, default=50000)
    ap.add_argument("--port", type=int, default=18181, help="the large site's port; the small one uses PORT+1")
    ap.add_argument("--budget", type=float, default=None, help="stop the larger crawl after this many seconds")
    ap.add_argument("--workdir", type=Path, default=Path(os.environ.get("BENCH_WORKDIR", "/tmp/newsarchiver-bench")))
    ap.add_argument("--no-write", action="store_true", help="print the section instead of writing RESULTS.md")
    ap.add_argument("--from", dest="saved", type=Path, default=None,
                    help="write the report again from the memory-*.json of an earlier run's directory")
    args = ap.parse_args(argv)
    if args.saved is not None:
        loaded = [json.loads(p.read_text()) for p in (args.saved / f"memory-{n}.json" for n in (args.small, args.large))]
        small, large = (MemoryRun(**{**d, "samples": [Sample(**x) for x in d["samples"]]}) for d in loaded)
        when = datetime.fromtimestamp((args.saved / f"memory-{args.large}.json").stat().st_mtime, UTC)
        section = report(small, large, when.strftime("%Y-%m-%d %H:%M"), measure_replay(args.saved, (args.small, args.large)))
        print(section) if args.no_write else write_section("Memory", section)
        return 0
    try:
        args.workdir.mkdir(parents=True, exist_ok=True)
        for port in (args.port, args.port + 1):
            if not port_is_free(port):
                raise BenchSkip(f"port {port} is busy; pass --port with two free ones")
        sites = {n: generated_site(args.workdir, n, port)
                 for n, port in ((args.small, args.port + 1), (args.large, args.port))}
    except BenchSkip as exc:
        print(f"bench_memory: skipped: {exc}", file=sys.stderr)
        return 0
    out = args.workdir / f"memory-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    out.mkdir(parents=True)
    runs: dict[int, MemoryRun] = {}
    with nginx(sites[args.small], args.port + 1, args.workdir) as small_base, \
            nginx(sites[args.large], args.port, args.workdir) as large_base:
        print(f"[{datetime.now(UTC):%H:%M:%S}] crawling {args.small} and {args.large} articles at the same time "
              f"into {out} ...", flush=True)
        threads = [threading.Thread(target=lambda n=n, base=base, budget=budget: runs.__setitem__(
                       n, crawl(n, base, out / f"archive-{n}", budget)))
                   for n, base, budget in ((args.small, small_base, None), (args.large, large_base, args.budget))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for r in runs.values():
        (out / f"memory-{r.articles}.json").write_text(json.dumps(asdict(r), indent=1))
        print(f"  {r.articles} articles: {r.pages} pages in {r.wall_s:.0f} s, {r.cpu_ms:.1f} CPU ms/page, "
              f"peak RSS {r.peak_rss_mb:.0f} MB (tree {r.peak_tree_mb:.0f} MB), exit {r.returncode}", flush=True)
    if set(runs) != {args.small, args.large}:
        print("bench_memory: a crawl failed to run; see the logs under " + str(out), file=sys.stderr)
        return 1
    section = report(runs[args.small], runs[args.large], datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
                     measure_replay(out, (args.small, args.large)))
    if args.no_write:
        print(section)
    else:
        write_section("Memory", section)
        print("wrote the Memory section of benchmarks/RESULTS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
