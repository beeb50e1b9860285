"""Quality gate: extraction scores on a fixed sample of extraction-dev must not fall below pinned floors.

The sample is every 8th page of ../shared/extraction-dev (124 of 990), scored with that folder's own
score.py (the same decoding and the same rules as the full-set numbers in benchmarks/RESULTS.md).
The floors sit a little below what the sample scored when they were pinned; raise them when
extraction gets better, never lower them to make a change pass. Skipped where the set is absent.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from crawler.extraction import extract_for_score

DEV = Path(__file__).resolve().parents[1].parent / "shared" / "extraction-dev"
EVERY = 8
# the sample scored F1 0.944, P 0.912, R 0.978, title 0.897, author 0.897, date 0.936 when these were pinned
# (2026-11-27 18:30 UTC); benchmarks/RESULTS.md has the full set
FLOORS = {"f1": 0.93, "precision": 0.895, "recall": 0.965, "title": 0.88, "author": 0.86, "date": 0.92}


def _load_scorer() -> ModuleType:
    spec = importlib.util.spec_from_file_location("extraction_dev_score", DEV / "score.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {DEV / 'score.py'}")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def sample_summary() -> dict[str, Any]:
    if not (DEV / "score.py").is_file():
        pytest.skip(f"extraction-dev set not found at {DEV}")
    score = _load_scorer()
    evaldata = json.loads((DEV / "evaldata.json").read_text(encoding="utf-8"))
    folder = Path(score.unpack(str(DEV / "pages.tar.xz")))  # unpacks once into the user's cache
    pages = []
    for url in list(evaldata)[::EVERY]:
        item = evaldata[url]
        html, _route = score.decode((folder / item["file"]).read_bytes())
        result = extract_for_score(html, url)
        out = {"text": result["text"], "title": result["title"], "sitename": result["sitename"],
               "date": result["date"], "authors": result["authors"]}
        pages.append({**score.score_page(item, out), "error": None, "seconds": 0.0})
    summary: dict[str, Any] = score.summarize(pages, 1.0, 1)
    return summary


@pytest.mark.parametrize("metric", sorted(FLOORS))
def test_metric_at_or_above_floor(sample_summary: dict[str, Any], metric: str) -> None:
    value = sample_summary[metric]
    if isinstance(value, dict):
        value = value["accuracy"]
    assert value >= FLOORS[metric], (
        f"extraction-dev sample {metric} fell to {value:.3f}, below the pinned floor {FLOORS[metric]:.3f}: "
        f"a change made extraction worse (run benchmarks/bench_extraction.py to see the full set)")
