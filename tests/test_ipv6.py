"""IPv6 literal URLs (``http://[::1]:PORT/``): fetched through the network guard's resolver, which used to
pass them to a lookup that only knows IPv4 ("DNS lookup failed: no results for hostname lookup: ::1")."""

from __future__ import annotations

import http.server
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTICLE = ("<html><head><title>Rain returns to the valley</title></head><body><article>"
           "<h1>Rain returns to the valley</h1><p>" + "After weeks of drought the rain came back on Tuesday. " * 8
           + "</p></article></body></html>").encode()


class _V6Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.path == "/robots.txt":
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(ARTICLE)))
        self.end_headers()
        self.wfile.write(ARTICLE)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def v6_site() -> Iterator[str]:
    try:
        server = _V6Server(("::1", 0), _Handler)
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback on this machine: {exc}")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://[::1]:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_seed_with_an_ipv6_literal_host_is_crawled(v6_site: str, tmp_path: Path) -> None:
    seed = f"{v6_site}/2021/04/14/rain-returns"
    proc = subprocess.run([sys.executable, "-m", "crawler.cli", "crawl", "news", "--seed", seed,
                           "--data-dir", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    records = [json.loads(line) for path in (tmp_path / "records").glob("*.jsonl")
               for line in path.read_text(encoding="utf-8").splitlines()]
    assert [r["url"] for r in records] == [seed]
    assert records[0]["title"] == "Rain returns to the valley"


class _Receiver:
    def __init__(self) -> None:
        self.addresses: list[object] = []
        self.done = False

    def resolutionBegan(self, resolution: object) -> None:  # noqa: N802 (Twisted's interface)
        pass

    def addressResolved(self, address: object) -> None:  # noqa: N802
        self.addresses.append(address)

    def resolutionComplete(self) -> None:  # noqa: N802
        self.done = True


def test_the_guard_checks_ipv6_literals_too() -> None:
    from twisted.internet import reactor

    from crawler.netguard import GuardedResolver, Policy, _LiteralNameResolver

    guard = GuardedResolver(reactor, 0, 5.0, Policy.from_allow([]), enabled=True)
    names = _LiteralNameResolver(guard)
    refused, public = _Receiver(), _Receiver()
    names.resolveHostName(refused, "::1", 80)  # loopback, not a seed's host: refused
    names.resolveHostName(public, "2001:4860:4860::8888", 80)
    assert refused.done and refused.addresses == []
    assert public.done and [a.host for a in public.addresses] == ["2001:4860:4860::8888"]  # type: ignore[attr-defined]
    guard.policy.add_seeds(["http://[::1]:8080/"])
    allowed = _Receiver()
    names.resolveHostName(allowed, "::1", 8080)
    assert [a.port for a in allowed.addresses] == [8080]  # type: ignore[attr-defined]
