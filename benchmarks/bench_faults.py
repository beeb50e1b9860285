"""Faults benchmark: what decompression bombs and 20 MB pages in flight cost a crawl, with and without limits.

    python benchmarks/bench_faults.py [--bombs N] [--huge N] [--huge-only]

Bombs: crawls N gzip/deflate bombs (1 GiB each when inflated, about 1 MB on the wire) plus a 1 GiB gzip
sitemap and one normal page from the misbehaving test server (tests/misbehave.py) on 127.0.0.1, twice: with
the project's settings (DOWNLOAD_MAXSIZE 32 MiB) and with Scrapy's default DOWNLOAD_MAXSIZE (1 GiB).

Huge pages: crawls N 20 MB HTML pages at once (200,000 small elements each) with extraction on, twice: with
the project's limits (the spider parses a tree of at most LIMITS_PARSE_MAX_SIZE and streams the links of the
rest; pages above EXTRACT_MAX_SIZE are not sent to the extraction workers) and with both limits off (the
spider's full lxml tree, trafilatura on the whole page). ``--huge-only`` keeps the bombs table as it is.

Peak RSS of the crawl process and of its process tree (extraction workers included) is sampled every 0.1 s
(benchmarks/harness.py). Writes the "## Faults" section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from harness import machine, measure, write_section  # noqa: E402

from tests.misbehave import Misbehaving  # noqa: E402

COMMON = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "INCREMENTAL_ENABLED=False",
          "-s", "RETRY_TIMES=0", "--no-extract"]
SCRAPY_DEFAULT = ["-s", "DOWNLOAD_MAXSIZE=1073741824", "-s", "DOWNLOAD_WARNSIZE=33554432",
                  "-s", "LIMITS_MAX_BODY_SIZE=1000000000"]


def run(server: Misbehaving, bombs: int, extra: list[str], work: Path, name: str) -> dict[str, float]:
    seeds = work / f"{name}.seeds"
    urls = [server.url("gzip-bomb" if i % 2 == 0 else "deflate-bomb") + f"?n={i}" for i in range(bombs)]
    urls += [server.url("sitemap-bomb"), server.url("ok")]
    seeds.write_text("\n".join(urls) + "\n")
    cmd = [sys.executable, "-m", "crawler.cli", "crawl", "news", "--seeds-file", str(seeds),
           "--data-dir", str(work / name), *COMMON, *extra]
    m = measure(cmd, cwd=ROOT, log=work / f"{name}.log", timeout=900)
    if m.returncode != 0:
        raise SystemExit(f"{name} crawl failed ({m.returncode}); see {work / (name + '.log')}")
    return {"wall": m.wall_s, "rss": m.peak_rss_mb, "cpu": m.cpu_s, "load": m.load_before}


HUGE_COMMON = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "INCREMENTAL_ENABLED=False",
               "-s", "RETRY_TIMES=0", "-s", "EXTRACT_TIMEOUT=60"]
NO_PAGE_LIMITS = ["-s", "LIMITS_PARSE_MAX_SIZE=0", "-s", "EXTRACT_MAX_SIZE=0"]
HUGE_HEADING = "### 20 MB pages in flight"


def run_huge(server: Misbehaving, pages: int, extra: list[str], work: Path, name: str) -> dict[str, float]:
    seeds = work / f"{name}.seeds"
    seeds.write_text("\n".join([server.url("huge-page") + f"?n={i}" for i in range(pages)] + [server.url("ok")])
                     + "\n")
    data = work / name
    cmd = [sys.executable, "-m", "crawler.cli", "crawl", "news", "--seeds-file", str(seeds),
           "--data-dir", str(data), *HUGE_COMMON, *extra]
    m = measure(cmd, cwd=ROOT, log=work / f"{name}.log", timeout=1800)
    if m.returncode != 0:
        raise SystemExit(f"{name} crawl failed ({m.returncode}); see {work / (name + '.log')}")
    records = [line for p in (data / "records").glob("*.jsonl") for line in p.read_text().splitlines()]
    return {"wall": m.wall_s, "rss": m.peak_rss_mb, "tree": m.peak_tree_rss_mb, "cpu": m.cpu_s,
            "load": m.load_before, "records": len(records)}


def huge_section(pages: int) -> str:
    with tempfile.TemporaryDirectory() as tmp, Misbehaving() as server:
        work = Path(tmp)
        ours = run_huge(server, pages, [], work, "huge-ours")
        none = run_huge(server, pages, NO_PAGE_LIMITS, work, "huge-none")
    rows = [("project limits (tree 4 MiB, extraction 8 MiB)", ours), ("no page limits", none)]
    table = "\n".join(f"| {label} | {r['rss']:.0f} | {r['tree']:.0f} | {r['records']:.0f} | {r['wall']:.1f} | "
                      f"{r['cpu']:.1f} | {r['load']:.1f} |" for label, r in rows)
    return f"""{HUGE_HEADING}

Date: {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, same machine. One crawl of {pages} pages of 20 MB (200,000
small elements each, served at once by tests/misbehave.py) and one normal page, extraction on (EXTRACT_TIMEOUT 60 s),
no delays. *crawl RSS* is the crawl process's peak, *tree RSS* the peak of it plus its extraction workers.

| page limits | crawl RSS MB | tree RSS MB | records | wall s | CPU s | load |
| --- | ---: | ---: | ---: | ---: | ---: | ---: |
{table}

With the limits the crawl process peaks at {ours['rss']:.0f} MB instead of {none['rss']:.0f} MB
({none['rss'] / ours['rss']:.1f}x less) and the process tree at {ours['tree']:.0f} MB instead of {none['tree']:.0f} MB
({none['tree'] / ours['tree']:.1f}x): the spider parses a tree of the first 4 MiB of a page and streams the links
of the rest, and a page above 8 MiB gets a record with `extraction_error` "page too large to extract" instead of
trafilatura's hundreds of MB in a worker. Every page is archived whole either way.
Run with `python benchmarks/bench_faults.py --huge-only [--huge N]`."""


def _kept_bombs_section() -> str:
    """The bombs part of the current "## Faults" section (``--huge-only``)."""
    from harness import RESULTS

    lines = RESULTS.read_text(encoding="utf-8").splitlines()
    start = lines.index("## Faults") + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("## ") or lines[i] == HUGE_HEADING),
               len(lines))
    return "\n".join(lines[start:end]).strip()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bombs", type=int, default=4, help="bombs in one crawl (default 4)")
    ap.add_argument("--huge", type=int, default=3, help="20 MB pages in one crawl (default 3)")
    ap.add_argument("--huge-only", action="store_true", help="measure the 20 MB pages only, keep the bombs table")
    args = ap.parse_args()
    if args.huge_only:
        body = _kept_bombs_section() + "\n\n" + huge_section(args.huge)
        write_section("Faults", body)
        print(body)
        return 0
    with tempfile.TemporaryDirectory() as tmp, Misbehaving() as server:
        work = Path(tmp)
        ours = run(server, args.bombs, [], work, "ours")
        scrapy = run(server, args.bombs, SCRAPY_DEFAULT, work, "scrapy-default")
    rows = [("project limits (DOWNLOAD_MAXSIZE 32 MiB)", ours), ("Scrapy default (1 GiB)", scrapy)]
    table = "\n".join(f"| {label} | {r['rss']:.0f} | {r['wall']:.1f} | {r['cpu']:.1f} | {r['load']:.1f} |"
                      for label, r in rows)
    body = f"""Machine: {machine()}. Date: {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC.
One crawl of {args.bombs} decompression bombs (gzip and deflate, 1 GiB inflated from about 1 MB each), a 1 GiB
gzip sitemap and one normal page, served by tests/misbehave.py on 127.0.0.1; archive only (`--no-extract`),
no delays, all requests at once. *peak RSS* is the crawl process's, sampled every 0.1 s; *load* the
1-minute load average at the start.

| limits | peak RSS MB | wall s | CPU s | load |
| --- | ---: | ---: | ---: | ---: |
{table}

With the project's limits the bombs cost {ours['rss']:.0f} MB at the peak, {scrapy['rss'] / ours['rss']:.1f}x less
than with Scrapy's default limit ({scrapy['rss']:.0f} MB), and the crawl takes {ours['wall']:.1f} s instead of
{scrapy['wall']:.1f} s ({scrapy['wall'] / ours['wall']:.1f}x): each bomb is inflated only to 32 MiB before it is
dropped. Its raw bytes are archived either way. Run with `python benchmarks/bench_faults.py [--bombs N]`."""
    body += "\n\n" + huge_section(args.huge)
    write_section("Faults", body)
    print(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
