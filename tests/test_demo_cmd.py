"""``crawler demo`` twice into one data directory: the same site (its port stays), so the second demo is a
re-crawl of unchanged pages (revisits, exit 0), not a copy of the site under another host; a taken port
falls back to a free one."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "crawler.cli", "demo", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=180)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _hosts(data: Path) -> set[str]:
    return {json.loads(line)["url"].split("/")[2] for path in (data / "records").glob("*.jsonl")
            for line in path.read_text(encoding="utf-8").splitlines()}


def test_a_second_demo_recrawls_the_same_site(tmp_path: Path) -> None:
    data, port = tmp_path / "demo", _free_port()
    first = demo("--data-dir", str(data), "--articles", "3", "--port", str(port))
    second = demo("--data-dir", str(data), "--articles", "3", "--port", str(port))
    assert first.returncode == 0 and second.returncode == 0, second.stderr
    for proc in (first, second):
        assert f"serving http://127.0.0.1:{port}/" in proc.stdout
    assert "unchanged since the last demo crawl" in second.stdout
    assert _hosts(data) == {f"127.0.0.1:{port}"}


def test_a_taken_demo_port_falls_back_to_a_free_one(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = demo("--data-dir", str(tmp_path / "demo"), "--articles", "2", "--port", str(port))
    assert proc.returncode == 0, proc.stderr
    assert f"port {port} is not free" in proc.stdout and f"serving http://127.0.0.1:{port}/" not in proc.stdout
