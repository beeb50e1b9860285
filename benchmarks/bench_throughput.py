"""Throughput and memory of the crawler next to wget and plain Scrapy, on one generated site, in one run.

    python benchmarks/bench_throughput.py [--articles 5000] [--large] [--only wget,plain,...] [--no-profile]

Serves ``shared/benchsite`` (generated once into the work directory, default /tmp/newsarchiver-bench)
with nginx on 127.0.0.1 and crawls it, one after the other, with:

  wget      ``wget --recursive --warc-file`` (robots on, one connection, as wget does)
  plain     a plain Scrapy CrawlSpider that only follows links (benchmarks/baselines.py)
  naive     the naive archiver: the same spider + warcio + trafilatura inline on the reactor thread
  archive   ``crawler crawl news --no-extract`` (WARC + catalog; records filled later by reextract)
  full      ``crawler crawl news`` (extraction in the process pool)

then profiles the last two with py-spy, times extraction alone, ``crawler index`` against
``cdxj-indexer``, ``crawler reextract`` and ``crawler replay get`` where those verbs exist, and with
``--large`` repeats the archive crawl on a 50,000-article site for the memory figure. Everything is
written to the ``## Throughput`` section of benchmarks/RESULTS.md. Needs nginx and wget (installed with
apt-get when run as root), py-spy and cdxj-indexer (pip-installed into the virtualenv when missing).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (  # noqa: E402
    REPO,
    VENV_BIN,
    BenchSkip,
    Measurement,
    generated_site,
    machine,
    measure,
    need_python_tools,
    need_tools,
    nginx,
    port_is_free,
    write_section,
)
from profiles import summarize, to_markdown  # noqa: E402

FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False"]
RUNS = ("wget", "plain", "naive", "archive", "full")


@dataclass
class Result:
    name: str
    label: str
    m: Measurement
    pages: int
    note: str = ""
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.m.per_page(self.pages)[0]

    @property
    def cpu_ms(self) -> float:
        return self.m.per_page(self.pages)[1]


def count_responses(warcs: list[Path]) -> tuple[int, int]:
    """(response records, distinct target URIs) in these WARC files: what a crawl actually archived."""
    from warcio.archiveiterator import ArchiveIterator

    count, urls = 0, set()
    for path in warcs:
        with path.open("rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type == "response":
                    count += 1
                    urls.add(record.rec_headers.get_header("WARC-Target-URI"))
    return count, len(urls)


def crawl_cmd(base: str, data_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "crawler.cli", "crawl", "news", "--seed", base + "/",
            "--data-dir", str(data_dir), *FAST, *extra]


def run_wget(base: str, out: Path) -> Result:
    out.mkdir(parents=True, exist_ok=True)
    cmd = ["wget", "--recursive", "--level=inf", "--no-verbose", "--delete-after", "--no-directories",
           "-P", str(out / "files"), f"--warc-file={out / 'wget'}", "--warc-cdx=off", base + "/"]
    m = measure(cmd, cwd=out, log=out / "wget.log")
    pages, urls = count_responses([out / "wget.warc.gz"])
    return Result("wget", "`wget --recursive --warc-file`", m, pages, f"{urls} URLs")


def run_baseline(mode: str, base: str, out: Path) -> Result:
    import json

    cmd = [sys.executable, str(REPO / "benchmarks" / "baselines.py"), mode, base + "/", str(out)]
    m = measure(cmd, cwd=REPO, log=out.with_suffix(".log"))
    stats = json.loads((out / "stats.json").read_text()) if (out / "stats.json").exists() else {}
    pages = int(stats.get("downloader/response_count", 0))
    label = ("plain Scrapy CrawlSpider, links only" if mode == "plain"
             else "naive archiver: Scrapy + warcio + trafilatura inline")
    return Result(mode, label, m, pages)


def run_ours(name: str, base: str, data_dir: Path, *extra: str) -> Result:
    m = measure(crawl_cmd(base, data_dir, *extra), cwd=REPO, log=data_dir.with_suffix(".log"))
    pages, urls = count_responses(sorted((data_dir / "warc").glob("*.warc.gz")))
    label = {"archive": "this crawler, archive mode (`--no-extract`)",
             "full": "this crawler, full pipeline (extraction on)"}.get(name, name)
    return Result(name, label, m, pages, f"{urls} URLs")


def profile_ours(base: str, data_dir: Path, out: Path, *extra: str) -> Path:
    """py-spy over a crawl of the first 1,500 pages (the workers of the pool are not sampled)."""
    cmd = [str(VENV_BIN / "py-spy"), "record", "--nonblocking", "-r", "100", "--format", "raw",
           "-o", str(out), "--", *crawl_cmd(base, data_dir, "--max-pages", "1500", *extra)]
    measure(cmd, cwd=REPO, log=out.with_suffix(".log"))
    return out


def extraction_speed(site: Path, n: int = 200) -> dict[str, float]:
    """CPU ms/page of trafilatura alone and of the project's extract(), one core, on n article pages."""
    import trafilatura

    from crawler.extraction import extract

    paths = [site / p.lstrip("/") / "index.html" for p in (site / "urls.txt").read_text().split()[:n]]
    pages = [p.read_text(encoding="utf-8") for p in paths]
    out: dict[str, float] = {}
    for name, fn in (("trafilatura", lambda h: trafilatura.extract(h, output_format="json", with_metadata=True)),
                     ("extract", lambda h: extract(h, "http://127.0.0.1/a", {}))):
        fn(pages[0])
        t = time.process_time()
        for html in pages:
            fn(html)
        out[name] = 1000 * (time.process_time() - t) / len(pages)
    return out


def has_verb(verb: str) -> bool:
    import subprocess

    proc = subprocess.run([sys.executable, "-m", "crawler.cli", verb, "--help"], cwd=REPO,
                          capture_output=True)
    return proc.returncode == 0


def fmt(x: float, digits: int = 0) -> str:
    return f"{x:,.{digits}f}"


def report(results: dict[str, Result], ext: dict[str, float], profiles: list[str], extra: list[str],
           articles: int, started: datetime) -> str:
    lines = [f"Measured {started:%Y-%m-%d %H:%M} UTC on {machine()}; `benchmarks/bench_throughput.py`, "
             f"site `shared/benchsite` with {articles:,} articles served by nginx on 127.0.0.1, robots on, no "
             "delays; Scrapy runs use 16 requests at once, 4 per site. *pages* = HTTP responses archived "
             "(WARC response records; Scrapy's response count for the plain spider). CPU = user+system of the "
             "whole process tree (pool workers included). Load = 1-minute load average when the run started: "
             "the machine is shared, and anything above ~0.5 means the wall-clock figures are pessimistic.",
             "", "| run | pages | wall s | pages/s | CPU ms/page | peak RSS MB (main / tree) | vs wget | load |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    wget = results.get("wget")
    for r in results.values():
        ratio = f"{r.rate / wget.rate:.2f}x" if wget and wget.rate else "-"
        lines.append(f"| {r.label} | {fmt(r.pages)} | {fmt(r.m.wall_s, 1)} | {fmt(r.rate, 1)} | "
                     f"{fmt(r.cpu_ms, 1)} | {fmt(r.m.peak_rss_mb)} / {fmt(r.m.peak_tree_rss_mb)} | {ratio} | "
                     f"{r.m.load_before:.1f} |")
    lines.append("")
    goals = []
    if "archive" in results and wget:
        goals.append(f"- **Archive mode vs wget** (goal >= 1.0): {results['archive'].rate / wget.rate:.2f}x "
                     f"({fmt(results['archive'].rate, 1)} vs {fmt(wget.rate, 1)} pages/s); CPU per page "
                     f"{fmt(results['archive'].cpu_ms, 1)} ms vs wget's {fmt(wget.cpu_ms, 1)} ms.")
    if "full" in results and "naive" in results and results["naive"].rate:
        full, naive = results["full"], results["naive"]
        goals.append(f"- **Full pipeline vs naive archiver** (goal >= 1.7): {full.rate / naive.rate:.2f}x "
                     f"({fmt(full.rate, 1)} vs {fmt(naive.rate, 1)} pages/s).")
        if "archive" in results and ext.get("extract"):
            cores = os.cpu_count() or 1
            ceiling = cores * 1000 / (results["archive"].cpu_ms + ext["extract"])
            goals.append(f"- **Ceiling of the full pipeline** on {cores} cores: {cores} / (crawl "
                         f"{fmt(results['archive'].cpu_ms, 1)} ms + extraction {fmt(ext['extract'], 1)} ms per "
                         f"page) = {fmt(ceiling, 1)} pages/s, i.e. {ceiling / naive.rate:.2f}x the naive "
                         f"archiver at best; measured {full.rate / ceiling:.0%} of it.")
    if ext:
        goals.append(f"- **Extraction alone**, one core, 200 article pages from disk: trafilatura "
                     f"{fmt(ext['trafilatura'], 1)} ms/page ({fmt(1000 / ext['trafilatura'], 1)} pages/s), the "
                     f"project's `extract()` {fmt(ext['extract'], 1)} ms/page ({fmt(1000 / ext['extract'], 1)} "
                     "pages/s).")
    lines += goals + [""] + extra
    if profiles:
        lines += ["", "### Where the time goes", ""] + profiles
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--articles", type=int, default=5000)
    ap.add_argument("--large", action="store_true", help="also crawl a 50,000-article site (memory figure)")
    ap.add_argument("--only", default=",".join(RUNS), help=f"comma-separated subset of {','.join(RUNS)}")
    ap.add_argument("--no-profile", action="store_true", help="skip the py-spy profiles")
    ap.add_argument("--workdir", type=Path, default=Path(os.environ.get("BENCH_WORKDIR", "/tmp/newsarchiver-bench")))
    ap.add_argument("--port", type=int, default=18080)
    ap.add_argument("--no-write", action="store_true", help="print the section instead of writing RESULTS.md")
    args = ap.parse_args(argv)
    only = [r for r in args.only.split(",") if r]
    started = datetime.now(UTC)
    try:
        need_tools("nginx", "wget")
        need_python_tools("py-spy", "cdxj-indexer")
        args.workdir.mkdir(parents=True, exist_ok=True)
        port = args.port if port_is_free(args.port) else None
        if port is None:
            raise BenchSkip(f"port {args.port} is busy; pass --port with a free one")
        site = generated_site(args.workdir, args.articles, port)
    except BenchSkip as exc:
        print(f"bench_throughput: skipped: {exc}", file=sys.stderr)
        return 0
    stamp = started.strftime("%Y%m%dT%H%M%S")
    out = args.workdir / f"run-{stamp}"
    out.mkdir(parents=True)
    results: dict[str, Result] = {}
    profiles: list[str] = []
    extra: list[str] = []
    with nginx(site, port, args.workdir) as base:
        for name in only:
            print(f"[{datetime.now(UTC):%H:%M:%S}] {name} ...", flush=True)
            if name == "wget":
                r = run_wget(base, out / "wget")
            elif name in ("plain", "naive"):
                r = run_baseline(name, base, out / name)
            elif name == "archive":
                r = run_ours(name, base, out / "archive", "--no-extract")
            elif name == "full":
                r = run_ours(name, base, out / "full")
            else:
                raise SystemExit(f"unknown run {name!r}; choose from {', '.join(RUNS)}")
            if r.m.returncode != 0:
                print(f"  {name} exited {r.m.returncode}; log under {out}", file=sys.stderr)
            results[name] = r
            print(f"  {r.pages} pages in {r.m.wall_s:.1f} s: {r.rate:.1f} pages/s, {r.cpu_ms:.1f} CPU ms/page, "
                  f"peak RSS {r.m.peak_rss_mb:.0f} MB (tree {r.m.peak_tree_rss_mb:.0f} MB)", flush=True)
        if not args.no_profile:
            for name, flags in (("archive", ("--no-extract",)), ("full", ())):
                print(f"[{datetime.now(UTC):%H:%M:%S}] profile {name} ...", flush=True)
                prof = profile_ours(base, out / f"profile-{name}", out / f"profile-{name}.txt", *flags)
                label = results[name].label if name in results else name
                profiles.append(to_markdown(f"{label}, first 1,500 pages", summarize(prof)))
    print(f"[{datetime.now(UTC):%H:%M:%S}] extraction alone ...", flush=True)
    ext = extraction_speed(site)
    section = report(results, ext, profiles, extra, args.articles, started)
    if args.no_write:
        print(section)
    else:
        write_section("Throughput", section)
        print("wrote the Throughput section of benchmarks/RESULTS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
