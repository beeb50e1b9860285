"""Faults benchmark: what decompression bombs in flight cost a crawl, with our limits and with Scrapy's.

    python benchmarks/bench_faults.py [--bombs N]

Crawls N gzip/deflate bombs (1 GiB each when inflated, about 1 MB on the wire) plus a 1 GiB gzip sitemap
and one normal page from the misbehaving test server (tests/misbehave.py) on 127.0.0.1, twice: with the
project's settings (DOWNLOAD_MAXSIZE 32 MiB) and with Scrapy's default DOWNLOAD_MAXSIZE (1 GiB). Peak RSS of
the crawl process is sampled every 0.1 s (benchmarks/harness.py). Writes the "## Faults" section of
benchmarks/RESULTS.md.
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bombs", type=int, default=4, help="bombs in one crawl (default 4)")
    args = ap.parse_args()
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
    write_section("Faults", body)
    print(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
