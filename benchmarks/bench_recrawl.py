"""Re-crawl cost: the first crawl of a news site versus re-crawls of it, unchanged and lightly changed.

Four ``crawler crawl`` runs into one data directory, against the bundled demo site (``crawler.demosite``,
served from a thread of this process on 127.0.0.1 with ETag/Last-Modified and 304 support):

1. first crawl (empty data directory);
2. re-crawl of the unchanged site (conditional requests: 304s become revisit records);
3. re-crawl after EDITED articles were edited and ADDED added (every page's sidebar changes too);
4. re-crawl of the unchanged site with conditional requests off (``INCREMENTAL_CONDITIONAL=False``: full
   downloads, identical payloads become identical-payload-digest revisits).

For each: wall time, pages fetched and pages/s, bytes downloaded (``downloader/response_bytes``), bytes
added to the WARC files, new JSON records, revisit records; ratios against the first crawl. Written to
the ``## Re-crawl`` section of benchmarks/RESULTS.md.

    python benchmarks/bench_recrawl.py [--articles N] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import REPO, machine, measure, write_section  # noqa: E402

from crawler.demosite import Site, serve  # noqa: E402

EDITED, ADDED = 5, 5
FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "PROGRESS_ENABLED=False"]


def warc_bytes(data_dir: Path) -> int:
    return sum(p.stat().st_size for p in (data_dir / "warc").glob("*.warc.gz"))


def run_stats(data_dir: Path, run_id: str) -> dict[str, int]:
    with sqlite3.connect(data_dir / "catalog.sqlite") as db:
        (stats,) = db.execute("SELECT stats FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    loaded: dict[str, int] = json.loads(stats)
    return loaded


def crawl(base_url: str, data_dir: Path, run_id: str, label: str, *extra: str) -> dict[str, object]:
    before = warc_bytes(data_dir) if (data_dir / "warc").exists() else 0
    cmd = [sys.executable, "-m", "crawler.cli", "crawl", "news", "--seed", base_url + "/", "--data-dir",
           str(data_dir), "-s", f"ARCHIVE_RUN_ID={run_id}", *FAST, *extra]
    m = measure(cmd, cwd=REPO, log=data_dir.parent / f"{run_id}.out")
    if m.returncode != 0:
        raise SystemExit(f"crawl {run_id} failed (exit {m.returncode}); see {data_dir.parent / (run_id + '.out')}")
    stats = run_stats(data_dir, run_id)
    pages = int(stats.get("archive/responses", 0))
    return {
        "label": label, "wall": m.wall_s, "cpu": m.cpu_s, "pages": pages, "rate": pages / m.wall_s,
        "downloaded": int(stats.get("downloader/response_bytes", 0)), "warc": warc_bytes(data_dir) - before,
        "records": int(stats.get("archive/records", 0)), "revisits": int(stats.get("archive/revisits", 0)),
        "not_modified": int(stats.get("incremental/not_modified", 0)),
        "articles": f"{int(stats.get('incremental/new_articles', 0))}/{int(stats.get('incremental/changed_articles', 0))}"
                    f"/{int(stats.get('incremental/unchanged', 0))}",
    }


def report(rows: list[dict[str, object]], articles: int) -> str:
    first = rows[0]

    def ratio(row: dict[str, object], key: str) -> str:
        base = float(first[key])  # type: ignore[arg-type]
        return f"{float(row[key]) / base:.2f}" if base else "-"  # type: ignore[arg-type]

    lines = [
        f"Machine: {machine()}. Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        f"Demo site with {articles} articles (plus sections, tags, feeds, sitemaps), served from a thread of the "
        "benchmark process on 127.0.0.1; `crawler crawl news` with DOWNLOAD_DELAY=0, no AutoThrottle, "
        f"extraction on. Run 3 follows {EDITED} edited and {ADDED} added articles.",
        "",
        "| run | s | pages | pages/s | CPU s | downloaded | WARC bytes written | new records | revisits (304) "
        "| articles new/changed, pages unchanged | time ratio | WARC ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['label']} | {row['wall']:.1f} | {row['pages']} | {row['rate']:.1f} | {row['cpu']:.1f} | "
            f"{int(row['downloaded']):,} | {int(row['warc']):,} | {row['records']} | "  # type: ignore[call-overload]
            f"{row['revisits']} ({row['not_modified']}) | {row['articles']} | {ratio(row, 'wall')} | "
            f"{ratio(row, 'warc')} |")
    lines += ["", "Ratios are against the first crawl. WARC bytes written of a re-crawl are the request "
              "records, revisit records and the full responses of what changed. 'unchanged' counts pages "
              "whose bytes (revisit) or text (fingerprint) did not change. A new article changes every page's "
              "sidebar and its section's related-article teasers: an article whose extracted text takes in a "
              "teaser gets a new version (that is the extractor's choice of text, not a crawl cost)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--articles", type=int, default=300)
    ap.add_argument("--no-write", action="store_true", help="print the section instead of writing RESULTS.md")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-recrawl-") as tmp, serve(Site(articles=args.articles)) as site:
        data_dir = Path(tmp) / "data"
        rows = [crawl(site.base_url, data_dir, "first", "1 first crawl")]
        rows.append(crawl(site.base_url, data_dir, "unchanged", "2 re-crawl, unchanged"))
        for t in site.truth[10:10 + EDITED]:
            site.site.edit_article(t.id, "A correction added by the editors.")
        for _ in range(ADDED):
            site.site.add_article()
        rows.append(crawl(site.base_url, data_dir, "changed", f"3 re-crawl, {EDITED} edited + {ADDED} new"))
        rows.append(crawl(site.base_url, data_dir, "digest", "4 re-crawl, unchanged, no conditional requests",
                          "-s", "INCREMENTAL_CONDITIONAL=False"))
    body = report(rows, args.articles)
    if args.no_write:
        print(body)
    else:
        write_section("Re-crawl", body)
        print(body)
        print("wrote the Re-crawl section of benchmarks/RESULTS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
