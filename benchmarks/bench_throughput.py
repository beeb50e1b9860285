"""Throughput and memory of the crawler next to wget and plain Scrapy, on one generated site, in one run.

    python benchmarks/bench_throughput.py [--articles 5000] [--only STEP,...] [--port 18080] [--no-write]

Serves ``shared/benchsite`` (generated once into the work directory, default /tmp/newsarchiver-bench,
``$BENCH_WORKDIR``) with nginx on 127.0.0.1 and crawls it, one after the other, with:

  wget      ``wget --recursive --warc-file`` (robots on, one connection, as wget does)
  plain     a plain Scrapy CrawlSpider that only follows links (benchmarks/baselines.py)
  naive     the naive archiver: the same spider + warcio + trafilatura inline on the reactor thread
  archive   ``crawler crawl news --no-extract`` (WARC + catalog; records filled later by reextract)
  full      ``crawler crawl news`` (extraction in the process pool)

then ``profile`` (py-spy over the first 1,500 pages of the last two), ``extract`` (speed and text F1
of trafilatura, the default engine and the fast one on 200 articles) and ``post``: ``crawler index`` against ``cdxj-indexer``, ``replay get`` latency and ``crawler reextract`` against
trafilatura in a process pool, on a copy of the archive-mode crawl. Each step's result is kept in
WORKDIR/results-ARTICLES/, so ``--only archive,full`` re-measures two runs and the report keeps the rest
(with the time each was measured). Memory at 50,000 articles against 5,000 is benchmarks/bench_memory.py's
(the ``## Memory`` section).
Everything is written to the ``## Throughput`` section of benchmarks/RESULTS.md. Needs nginx and wget
(installed with apt-get when run as root), py-spy and cdxj-indexer (pip-installed into the virtualenv).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import postcrawl  # noqa: E402
from harness import (  # noqa: E402
    BENCHSITE,
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
CRAWLS = ("wget", "plain", "naive", "archive", "archive-procs", "full")
STEPS = (*CRAWLS, "profile", "extract", "post")


@dataclass
class Result:
    name: str
    label: str
    m: Measurement
    pages: int
    note: str = ""
    when: str = ""
    data_dir: str = ""

    @property
    def rate(self) -> float:
        return self.m.per_page(self.pages)[0]

    @property
    def cpu_ms(self) -> float:
        return self.m.per_page(self.pages)[1]

    @property
    def main_ms(self) -> float:
        return 1000 * self.m.main_thread_cpu_s / self.pages if self.pages else 0.0

    @property
    def bound(self) -> float:
        """Pages/s this run's CPU use allows on an idle machine: its busiest thread or all cores, the lower."""
        per_page = max(self.main_ms, self.cpu_ms / (os.cpu_count() or 1))
        return 1000 / per_page if per_page else 0.0

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"{self.name}.json").write_text(json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, path: Path) -> Result:
        d = json.loads(path.read_text())
        d["m"] = Measurement(**d["m"])
        return cls(**d)


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
             "archive-procs": f"this crawler, archive mode in {os.cpu_count() or 1} processes "
                              f"(`--no-extract --processes {os.cpu_count() or 1}`)",
             "full": "this crawler, full pipeline (extraction on)"}.get(name, name)
    return Result(name, label, m, pages, f"{urls} URLs", data_dir=str(data_dir))


def profile_ours(base: str, data_dir: Path, out: Path, *extra: str) -> Path:
    """py-spy over a crawl of the first 1,500 pages (the workers of the pool are not sampled)."""
    cmd = [str(VENV_BIN / "py-spy"), "record", "--nonblocking", "--threads", "-r", "100", "--format", "raw",
           "-o", str(out), "--", *crawl_cmd(base, data_dir, "--max-pages", "1500", *extra)]
    measure(cmd, cwd=REPO, log=out.with_suffix(".log"))
    return out


def _f1(got: str, want: str) -> float:
    """Bag-of-words F1 of an extracted text against the true article text."""
    from collections import Counter

    g, w = Counter(got.split()), Counter(want.split())
    common = sum((g & w).values())
    if not common:
        return 0.0
    precision, recall = common / sum(g.values()), common / sum(w.values())
    return 2 * precision * recall / (precision + recall)


def extraction_speed(site: Path, n: int = 200) -> dict[str, float]:
    """CPU ms/page and text F1 (against truth.jsonl) of trafilatura alone, the project's extract() and the
    fast engine, one core, on n article pages read from disk."""
    import trafilatura

    from crawler.extraction import extract
    from crawler.extraction_fast import extract_fast

    truths = [json.loads(line) for line in (site / "truth.jsonl").read_text().splitlines()[:n]]
    pages = [(site / t["path"].lstrip("/") / "index.html").read_text(encoding="utf-8") for t in truths]
    engines = {
        "trafilatura": lambda h, u: json.loads(trafilatura.extract(h, url=u, output_format="json",
                                                                    with_metadata=True) or "{}").get("text", ""),
        "extract": lambda h, u: extract(h, u, {}).text,
        "fast": lambda h, u: extract_fast(h, u, {}).text,
    }
    out: dict[str, float] = {}
    for name, fn in engines.items():
        fn(pages[0], truths[0]["url"])
        t = time.process_time()
        texts = [fn(html, truth["url"]) for html, truth in zip(pages, truths, strict=True)]
        out[name] = 1000 * (time.process_time() - t) / len(pages)
        out[f"{name}_f1"] = sum(_f1(x, t["text"]) for x, t in zip(texts, truths, strict=True)) / len(truths)
    return out


def devset_scores(limit: int = 200) -> dict[str, str]:
    """The extraction-dev set's score line (body F1, metadata, pages/s) for the default and the fast engine."""
    devset = BENCHSITE.parent / "extraction-dev" / "score.py"
    if not devset.is_file():
        return {}
    out = {}
    for name, func in (("extract", "crawler.extraction:extract"), ("fast", "crawler.extraction_fast:extract_fast")):
        proc = subprocess.run([sys.executable, str(devset), "--func", func, "--jobs", str(os.cpu_count() or 1),
                               "--limit", str(limit)], cwd=devset.parent, capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
        line = [x for x in proc.stdout.splitlines() if x.startswith("dev:")]
        out[name] = line[-1].removeprefix("dev:").strip() if line else f"score.py failed: {proc.stderr[-300:]}"
    return out


def fmt(x: float, digits: int = 0) -> str:
    return f"{x:,.{digits}f}"


def crawl_table(results: dict[str, Result]) -> list[str]:
    lines = ["| run | pages | wall s | pages/s | vs wget | CPU ms/page | main thread ms/page | CPU-bound pages/s "
             "| peak RSS MB (main / tree) | load | when (UTC) |", "|---|" + "---:|" * 10]
    wget = results.get("wget")
    for r in results.values():
        ratio = f"{r.rate / wget.rate:.2f}x" if wget and wget.rate else "-"
        lines.append(f"| {r.label} | {fmt(r.pages)} | {fmt(r.m.wall_s, 1)} | {fmt(r.rate, 1)} | {ratio} | "
                     f"{fmt(r.cpu_ms, 1)} | {fmt(r.main_ms, 1)} | {fmt(r.bound)} | "
                     f"{fmt(r.m.peak_rss_mb)} / {fmt(r.m.peak_tree_rss_mb)} | {r.m.load_before:.1f} | {r.when} |")
    return lines


def goal_lines(results: dict[str, Result], post: dict[str, Any], large: Result | None) -> list[str]:
    goals = []
    wget, archive, full, naive = (results.get(k) for k in ("wget", "archive", "full", "naive"))
    procs = results.get("archive-procs")
    cores = os.cpu_count() or 1
    if procs and wget:
        goals.append(f"- **Archive mode vs wget** (goal >= 1.0x), one crawl process per core "
                     f"(`--no-extract --processes {cores}`): measured {procs.rate / wget.rate:.2f}x "
                     f"({fmt(procs.rate, 1)} vs {fmt(wget.rate, 1)} pages/s); CPU per page {fmt(procs.cpu_ms, 1)} ms "
                     f"(all processes) vs wget's {fmt(wget.cpu_ms, 1)} ms. Its main thread is the parent, which only "
                     "watches: its CPU-bound limit is the CPU over the cores.")
    if archive and wget:
        goals.append(f"- **Archive mode in one process vs wget** (the default, `--processes 1`): measured {archive.rate / wget.rate:.2f}x "
                     f"({fmt(archive.rate, 1)} vs {fmt(wget.rate, 1)} pages/s); CPU-bound limits "
                     f"{fmt(archive.bound)} vs {fmt(wget.bound)} pages/s = {archive.bound / wget.bound:.2f}x. "
                     f"CPU per page {fmt(archive.cpu_ms, 1)} ms ({fmt(archive.main_ms, 1)} ms on the reactor "
                     f"thread) vs wget's {fmt(wget.cpu_ms, 1)} ms.")
    if full and naive and naive.rate:
        goals.append(f"- **Full pipeline vs naive archiver** (goal >= 1.7x): measured {full.rate / naive.rate:.2f}x "
                     f"({fmt(full.rate, 1)} vs {fmt(naive.rate, 1)} pages/s); CPU-bound limits "
                     f"{fmt(full.bound)} vs {fmt(naive.bound)} pages/s = {full.bound / naive.bound:.2f}x.")
    ext = post.get("extract_ms") or {}
    if full and archive and naive and ext.get("extract"):
        ceiling = cores * 1000 / (archive.cpu_ms + ext["extract"])
        goals.append(f"- **Ceiling of the full pipeline** on {cores} cores: {cores} / (crawl {fmt(archive.cpu_ms, 1)} ms "
                     f"+ extraction {fmt(ext['extract'], 1)} ms per page) = {fmt(ceiling, 1)} pages/s, i.e. "
                     f"{ceiling / naive.bound:.2f}x the naive archiver's CPU-bound limit at best; the full pipeline's "
                     f"CPU-bound limit is {full.bound / ceiling:.0%} of it (the pool costs the crawl process "
                     f"{fmt(full.main_ms - archive.main_ms, 1)} ms/page on its reactor thread, and extraction in the "
                     f"workers with the hand-over {fmt(full.cpu_ms - archive.cpu_ms, 1)} ms/page of CPU).")
    if ext:
        f1 = {k: f" (text F1 {ext[k + '_f1']:.3f})" if k + "_f1" in ext else "" for k in ("trafilatura", "extract", "fast")}
        goals.append(f"- **Extraction alone**, one core, 200 article pages from disk, bag-of-words F1 against "
                     f"the site's truth.jsonl: trafilatura {fmt(ext['trafilatura'], 1)} ms/page{f1['trafilatura']}, "
                     f"the project's `extract()` (default engine) {fmt(ext['extract'], 1)} ms/page{f1['extract']}"
                     + (f", the fast engine (`-s EXTRACT_ENGINE=fast`, resiliparse) {fmt(ext['fast'], 1)} ms/page"
                        f"{f1['fast']} = {ext['extract'] / ext['fast']:.1f}x faster than the default." if "fast" in ext
                        else "."))
    if archive:
        goals.append(f"- **Memory**: archive-mode peak RSS {fmt(archive.m.peak_rss_mb)} MB for {fmt(archive.pages)} "
                     "pages here; the goal (50,000 articles within 1.25x of 5,000) is measured, both crawls in one "
                     "run, by `benchmarks/bench_memory.py`: see the Memory section.")
    dev = post.get("devset")
    if dev:
        goals.append(f"- **Extraction on real pages** (`shared/extraction-dev`, first 200 of 990 pages, "
                     f"{os.cpu_count()} jobs): default engine {dev.get('extract')}; fast engine {dev.get('fast')}.")
    re_, pool = post.get("reextract"), post.get("trafilatura_pool")
    if re_ and pool:
        goals.append(f"- **Re-extraction** (goal >= 0.9x): `crawler reextract` {fmt(re_['rate'], 1)} pages/s "
                     f"({fmt(re_['pages'])} pages, {fmt(re_['cpu_ms'], 1)} CPU ms/page) vs trafilatura alone in a "
                     f"{cores}-process pool on the same site's {fmt(pool['pages'])} HTML files read from disk "
                     f"{fmt(pool['rate'], 1)} pages/s = {re_['rate'] / pool['rate']:.2f}x"
                     + (f"; CPU {fmt(re_['cpu_ms'], 1)} vs {fmt(pool['cpu_ms'], 1)} ms/page = "
                        f"{pool['cpu_ms'] / re_['cpu_ms']:.2f}x" if pool.get("cpu_ms") else "") + ".")
        ours = post.get("extract_pool")
        if ours and ours.get("cpu_ms"):
            goals.append(f"  What reextract runs per page (decode_html + `extract()` + classify) alone in the same "
                         f"pool on the same files: {fmt(ours['rate'], 1)} pages/s, {fmt(ours['cpu_ms'], 1)} CPU "
                         f"ms/page: reextract is {re_['rate'] / ours['rate']:.2f}x its speed (CPU "
                         f"{ours['cpu_ms'] / re_['cpu_ms']:.2f}x); the rest of the gap to trafilatura is "
                         f"`extract()` itself.")
    idx = post.get("index")
    if idx and idx.get("cdxj_indexer_s"):
        goals.append(f"- **Index** (goal >= 1.0x): `crawler index` {fmt(idx['ours_s'], 2)} s "
                     f"({fmt(idx['ours_cpu_s'], 2)} s CPU) vs `cdxj-indexer` {fmt(idx['cdxj_indexer_s'], 2)} s "
                     f"({fmt(idx['cdxj_indexer_cpu_s'], 2)} s CPU) for {fmt(idx['lines'])} index lines = "
                     f"{idx['cdxj_indexer_s'] / idx['ours_s']:.2f}x (CPU {idx['cdxj_indexer_cpu_s'] / idx['ours_cpu_s']:.2f}x).")
    rp = post.get("replay")
    if rp:
        goals.append(f"- **Replay get** (goal p95 < 50 ms on 50,000 captures; measured on this archive's "
                     f"{fmt(rp['captures'])} 200-captures): lookup + WARC read in-process p50 "
                     f"{fmt(rp['lib_p50_ms'], 1)} ms, p95 {fmt(rp['lib_p95_ms'], 1)} ms; the whole `crawler replay "
                     f"get` process (interpreter start included) p50 {fmt(rp['cli_p50_ms'])} ms, p95 "
                     f"{fmt(rp['cli_p95_ms'])} ms.")
    return goals


def report(results: dict[str, Result], post: dict[str, Any], profiles: list[str], articles: int,
           large: Result | None = None) -> str:
    lines = [f"Machine: {machine()}. Written by `benchmarks/bench_throughput.py` "
             f"(`make bench`); site `shared/benchsite` with {articles:,} articles served by nginx on 127.0.0.1, "
             "robots on, no delays; the Scrapy runs use 16 requests at once, 4 per site.",
             "",
             "*pages* = HTTP responses archived (WARC response records; Scrapy's response count for the plain "
             "spider). *CPU* = user+system of the whole process tree, pool workers included. *main thread* = "
             "the CPU of the process's main (reactor) thread alone. *CPU-bound pages/s* = 1000 / max(main thread "
             f"ms, CPU ms / {os.cpu_count()} cores): the rate this CPU use allows on an idle machine. *load* = "
             "1-minute load average when the run started: the machine is shared, and above ~1 the wall-clock "
             "figures (pages/s) say more about the neighbours than about the crawler; compare the CPU figures.",
             "", *crawl_table(results), "", *goal_lines(results, post, large)]
    if profiles:
        lines += ["", "### Where the time goes", "", *profiles]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--articles", type=int, default=5000)
    ap.add_argument("--only", default=",".join(STEPS),
                    help=f"comma-separated subset of {','.join(STEPS)}; the report keeps the latest result of "
                         "the steps not run")
    ap.add_argument("--workdir", type=Path, default=Path(os.environ.get("BENCH_WORKDIR", "/tmp/newsarchiver-bench")))
    ap.add_argument("--port", type=int, default=18080)
    ap.add_argument("--no-write", action="store_true", help="print the section instead of writing RESULTS.md")
    args = ap.parse_args(argv)
    only = [r for r in args.only.split(",") if r]
    unknown = sorted(set(only) - set(STEPS))
    if unknown:
        ap.error(f"unknown step(s) {', '.join(unknown)}; choose from {', '.join(STEPS)}")
    try:
        need_tools("nginx", "wget")
        need_python_tools("py-spy", "cdxj-indexer")
        args.workdir.mkdir(parents=True, exist_ok=True)
        if not port_is_free(args.port):
            raise BenchSkip(f"port {args.port} is busy; pass --port with a free one")
        site = generated_site(args.workdir, args.articles, args.port)
    except BenchSkip as exc:
        print(f"bench_throughput: skipped: {exc}", file=sys.stderr)
        return 0
    out = args.workdir / f"run-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    out.mkdir(parents=True)
    saved = args.workdir / f"results-{args.articles}"
    results: dict[str, Result] = {}

    def step(name: str) -> None:
        print(f"[{datetime.now(UTC):%H:%M:%S}] {name} ...", flush=True)

    with nginx(site, args.port, args.workdir) as base:
        for name in (n for n in CRAWLS if n in only):
            step(name)
            if name == "wget":
                r = run_wget(base, out / "wget")
            elif name in ("plain", "naive"):
                r = run_baseline(name, base, out / name)
            elif name == "archive-procs":     # archive mode in one process per core (crawler.partition)
                r = run_ours(name, base, out / name, "--no-extract", "--processes", str(os.cpu_count() or 1))
            else:
                r = run_ours(name, base, out / name, *(["--no-extract"] if name == "archive" else []))
            r.when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
            if r.m.returncode not in (0, 8):  # wget: 8 = some pages were 404 (the site has a few on purpose)
                print(f"  {name} exited {r.m.returncode}; see the logs under {out}", file=sys.stderr)
            r.save(saved)
            print(f"  {r.pages} pages in {r.m.wall_s:.1f} s: {r.rate:.1f} pages/s, {r.cpu_ms:.1f} CPU ms/page "
                  f"({r.main_ms:.1f} main thread), peak RSS {r.m.peak_rss_mb:.0f} MB "
                  f"(tree {r.m.peak_tree_rss_mb:.0f} MB)", flush=True)
        for name in CRAWLS:
            if (saved / f"{name}.json").exists():
                results[name] = Result.load(saved / f"{name}.json")
        if "profile" in only:
            profiles = []
            for name, flags in (("archive", ("--no-extract",)), ("full", ())):
                step(f"profile {name}")
                prof = profile_ours(base, out / f"profile-{name}", out / f"profile-{name}.txt", *flags)
                label = results[name].label if name in results else name
                profiles.append(to_markdown(f"{label}, first 1,500 pages", summarize(prof)))
            (saved / "profiles.md").write_text("\n".join(profiles))
    post: dict[str, Any] = json.loads((saved / "post.json").read_text()) if (saved / "post.json").exists() else {}
    if "extract" in only:
        step("extraction alone")
        post["extract_ms"] = extraction_speed(site)
        post["devset"] = devset_scores()
    if "post" in only:
        archive = results.get("archive")
        if archive and Path(archive.data_dir).is_dir():
            data = postcrawl.copy_archive(Path(archive.data_dir), out / "post-data")
            step("index")
            post["index"] = postcrawl.index_speed(data, out)
            step("replay get")
            post["replay"] = postcrawl.replay_latency(data)
            step("reextract")
            post["reextract"] = postcrawl.reextract(data, out / "reextract.log")
            step("trafilatura pool")
            post["trafilatura_pool"] = postcrawl.trafilatura_pool(site, out / "trafilatura-pool.log")
            step("extract() pool")
            post["extract_pool"] = postcrawl.pool_speed("extract", site, out / "extract-pool.log")
    (saved / "post.json").write_text(json.dumps(post, indent=1))
    profiles_md = [(saved / "profiles.md").read_text()] if (saved / "profiles.md").exists() else []
    # the memory figure: the archive-mode crawl of the largest site measured (50,000 articles is the goal)
    larger = sorted((int(p.parent.name.split("-")[1]), p) for p in args.workdir.glob("results-*/archive.json")
                    if p.parent.name.split("-")[1].isdigit() and int(p.parent.name.split("-")[1]) > args.articles)
    large = Result.load(larger[-1][1]) if larger else None
    section = report(results, post, profiles_md, args.articles, large)
    if args.no_write:
        print(section)
    else:
        write_section("Throughput", section)
        print("wrote the Throughput section of benchmarks/RESULTS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
