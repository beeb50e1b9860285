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


def _trafilatura_file(page: tuple[str, str]) -> int:
    import trafilatura

    with open(page[0], encoding="utf-8") as fh:
        html = fh.read()
    out = trafilatura.extract(html, output_format="json", with_metadata=True)
    return len(out or "")


def _extract_file(page: tuple[str, str]) -> int:
    """What ``crawler reextract`` does to a page in a worker, minus the WARC: decode, extract, classify."""
    from crawler.charset import decode_html
    from crawler.extraction import extract_and_classify

    path, url = page
    with open(path, "rb") as fh:
        body = fh.read()
    html, _ = decode_html(body, "text/html")               # as nginx serves the bench site
    extraction, kind = extract_and_classify(html, url, {})
    return len(extraction.text) + len(kind)


_POOL_FUNCS = {"trafilatura": _trafilatura_file, "extract": _extract_file}


def html_files(site: Path) -> list[Path]:
    """The site's HTML pages (articles, sections and their pages, static pages), as a crawl fetches them."""
    return sorted(p for p in site.rglob("*.html") if p.is_file())


def _run_pool(engine: str, site: Path, workers: int) -> int:
    """In the measured child: ``engine`` over every page of ``site`` in a pool; returns the page count."""
    pages = [(str(p), "http://127.0.0.1/" + p.parent.relative_to(site).as_posix() + "/") for p in html_files(site)]
    with Pool(workers) as pool:
        for _ in pool.imap_unordered(_POOL_FUNCS[engine], pages, chunksize=8):
            pass
    return len(pages)


def pool_speed(engine: str, site: Path, log: Path, workers: int | None = None) -> dict[str, float]:
    """``engine`` alone in a process pool (one worker per core), each worker reading its page from disk:
    "trafilatura" (trafilatura.extract, JSON with metadata) or "extract" (what reextract runs per page:
    crawler.charset.decode_html, then crawler.extraction.extract_and_classify: extract and classify). Measured as a child
    process like ``reextract``, so wall time and CPU of the process tree compare."""
    workers = workers or os.cpu_count() or 1
    m = measure([sys.executable, __file__, "pool", engine, str(site), str(workers)], cwd=REPO, log=log)
    pages = len(html_files(site))
    return {"pages": pages, "wall_s": m.wall_s, "rate": pages / m.wall_s if m.wall_s else 0.0,
            "cpu_ms": 1000 * m.cpu_s / pages if pages else 0.0, "rc": m.returncode}


def trafilatura_pool(site: Path, log: Path, workers: int | None = None) -> dict[str, float]:
    """trafilatura alone in a process pool, each worker reading its page from disk."""
    return pool_speed("trafilatura", site, log, workers)


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
    # as a user runs it: bytecode cached (the first run writes it and is not counted)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for i, url in enumerate(picks[: cli_samples + 1]):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "crawler.cli", "replay", "get", url, "--data-dir", str(data_dir)],
                       cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        if i:
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


if __name__ == "__main__":  # the measured child of pool_speed: pool ENGINE SITE WORKERS
    sys.path.insert(0, str(REPO))
    _, _, engine_arg, site_arg, workers_arg = sys.argv
    print(f"{_run_pool(engine_arg, Path(site_arg), int(workers_arg))} pages with {engine_arg}")
