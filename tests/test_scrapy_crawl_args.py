"""``scrapy crawl news`` with arguments the spider refuses: Scrapy's usage error (one line, exit 2), not a
"Task exception was never retrieved" traceback (crawler.scrapy_commands.crawl)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("args", "says"), [
    ([], "no seeds"),
    (["-a", "seeds=notaurl"], "must start with http:// or https://"),
    (["-a", "seeds=http://127.0.0.1:9/", "-a", "since=garbage"], "bad since date"),
    (["-a", "seeds=http://127.0.0.1:9/", "-a", "max_pages=x"], "bad max_pages value"),
])
def test_bad_spider_arguments_are_a_usage_error(args: list[str], says: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "scrapy", "crawl", "news", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if ": error: " in line]  # "scrapy: error: ..."
    assert len(errors) == 1 and says in errors[0]
    assert "Traceback" not in proc.stderr


def test_an_unknown_spider_is_a_usage_error() -> None:
    proc = subprocess.run([sys.executable, "-m", "scrapy", "crawl", "nosuch"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2 and "unknown spider 'nosuch'" in proc.stderr and "Traceback" not in proc.stderr
