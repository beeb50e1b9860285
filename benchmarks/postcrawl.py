"""Speed of what runs on an archive after the crawl: re-extraction, indexing and replay lookups.

Each function takes the data directory of a finished archive-mode crawl (and the site it crawled) and
returns plain numbers; ``bench_throughput`` turns them into lines of RESULTS.md.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from multiprocessing import Pool
from pathlib import Path

from harness import REPO, VENV_BIN, measure

_COUNT = re.compile(r"re-extracted (\d+) page")


def _trafilatura_file(path: str) -> int:
    import trafilatura

    with open(path, encoding="utf-8") as fh:
        html = fh.read()
    out = trafilatura.extract(html, output_format="json", with_metadata=True)
    return len(out or "")


def html_files(site: Path) -> list[Path]:
    """The site's HTML pages (articles, sections and their pages, static pages), as a crawl fetches them."""
    return sorted(p for p in site.rglob("*.html") if p.is_file())


def trafilatura_pool(site: Path, workers: int | None = None) -> dict[str, float]:
    """trafilatura alone in a process pool (one worker per core), each worker reading its page from disk."""
    paths = [str(p) for p in html_files(site)]
    workers = workers or os.cpu_count() or 1
    start = time.perf_counter()
    with Pool(workers) as pool:
        for _ in pool.imap_unordered(_trafilatura_file, paths, chunksize=8):
            pass
    wall = time.perf_counter() - start
    return {"pages": len(paths), "wall_s": wall, "rate": len(paths) / wall}


def reextract(data_dir: Path, log: Path) -> dict[str, float]:
    """``crawler reextract`` over the crawl's WARC files (new records in the same data directory)."""
    m = measure([sys.executable, "-m", "crawler.cli", "reextract", "--data-dir", str(data_dir)], cwd=REPO, log=log)
    found = _COUNT.search(log.read_text(errors="replace"))
    pages = int(found.group(1)) if found else 0
    return {"pages": pages, "wall_s": m.wall_s, "rate": pages / m.wall_s if m.wall_s else 0.0,
            "cpu_ms": 1000 * m.cpu_s / pages if pages else 0.0, "rc": m.returncode}


def index_speed(data_dir: Path, out: Path) -> dict[str, float]:
    """``crawler index`` (rebuild) against ``cdxj-indexer`` on the same WARC files: wall seconds each."""
    warcs = sorted(str(p) for p in (data_dir / "warc").glob("*.warc.gz"))
    ours = measure([sys.executable, "-m", "crawler.cli", "index", "--data-dir", str(data_dir)], cwd=REPO,
                   log=out / "index-ours.log")
    result = {"ours_s": ours.wall_s, "ours_cpu_s": ours.cpu_s, "ours_rc": ours.returncode}
    tool = VENV_BIN / "cdxj-indexer"
    if tool.exists():
        theirs = measure([str(tool), *warcs, "-o", str(out / "cdxj-indexer.cdxj")], cwd=out,
                         log=out / "index-cdxj-indexer.log")
        result.update({"cdxj_indexer_s": theirs.wall_s, "cdxj_indexer_cpu_s": theirs.cpu_s,
                       "cdxj_indexer_rc": theirs.returncode})
    index = data_dir / "index" / "index.cdxj"
    result["lines"] = sum(1 for _ in index.open("rb")) if index.exists() else 0
    return result


def replay_latency(data_dir: Path, samples: int = 300, cli_samples: int = 20) -> dict[str, float]:
    """Latency of ``replay get``: the library lookup + WARC read in-process, and the whole CLI process."""
    sys.path.insert(0, str(REPO))
    from archive.replay import Archive

    archive = Archive(data_dir)
    index = data_dir / "index" / "index.cdxj"
    urls = sorted({line.split(b'"url": "', 1)[1].split(b'"', 1)[0].decode()
                   for line in index.open("rb") if b'"url": "' in line and b'"status": "200"' in line})
    if not urls:
        return {}
    rng = random.Random(7)
    picks = [rng.choice(urls) for _ in range(samples)]
    times = []
    for url in picks:
        start = time.perf_counter()
        capture = archive.load(archive.nearest(url))
        assert capture.body
        times.append(time.perf_counter() - start)
    cli = []
    for url in picks[:cli_samples]:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "crawler.cli", "replay", "get", url, "--data-dir", str(data_dir)],
                       cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        cli.append(time.perf_counter() - start)
    q = lambda xs, p: statistics.quantiles(xs, n=100)[p - 1] * 1000  # noqa: E731
    return {"captures": len(urls), "lib_p50_ms": q(times, 50), "lib_p95_ms": q(times, 95),
            "cli_p50_ms": q(cli, 50), "cli_p95_ms": q(cli, 95)}


def copy_archive(src: Path, dst: Path) -> Path:
    """A scratch copy of a data directory (reextract and index write into it)."""
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    return dst
