"""Bad command-line input: every verb given a wrong option, a missing file, a malformed URL or an empty
data directory prints one clear line (argparse adds its usage line) and exits non-zero, never a traceback.

Also the odd-URL cases of issue 6: very long URLs, spaces, IDN hosts and ``%2e%2e%2f`` segments are archived
under a correctly encoded WARC-Target-URI, and no file name is ever derived from a URL.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from crawler.urls import canonicalize_url

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ}
    env.pop("CRAWLER_DATA_DIR", None)
    return subprocess.run([sys.executable, "-m", "crawler.cli", *args], cwd=cwd or ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


CASES = [
    # (argv, expected exit code or None for "any non-zero", a word the message must contain)
    (["--bogus"], 2, "unrecognized arguments"),
    (["nosuchverb"], 2, "invalid choice"),
    (["crawl", "news", "--seed", "http://127.0.0.1:9/", "--max-depth", "-1"], 2, "--max-depth"),
    (["crawl", "news", "--seeds-file", "/nonexistent/seeds.txt"], 2, "seeds file not found"),
    (["crawl", "news", "--seed", "http://"], 2, "http://"),
    (["crawl", "news", "--seed", "javascript:alert(1)"], 2, "javascript"),
    (["crawl", "news", "--seed", "http://127.0.0.1:9/", "-s", "NOEQUALS"], 2, "NAME=VALUE"),
    (["crawl", "news", "--resume", "nope"], 2, "no run 'nope' to resume"),
    (["archive", "not a url"], 2, "not a url"),
    (["show", "http://example.org/never"], None, "no catalog"),
    (["show", "::not a url::"], None, "no catalog"),
    (["list", "--limit", "many"], 2, "--limit"),
    (["index", "/nonexistent/file.warc.gz"], None, "/nonexistent/file.warc.gz"),
    (["reextract", "/nonexistent/file.warc.gz"], 2, "no such file"),
    (["reextract", "--workers", "-3"], 2, "--workers"),
    (["replay", "get", "http://example.org/never"], None, "no index"),
    (["replay", "get", "not a url"], None, "no index"),
    (["replay", "bogusverb"], 2, "invalid choice"),
    (["export", "bogusformat"], 2, "invalid choice"),
    (["runs", "--limit", "x"], 2, "--limit"),
]


@pytest.mark.parametrize(("argv", "code", "needle"), CASES, ids=[" ".join(c[0])[:50] for c in CASES])
def test_bad_input_is_one_clear_line(argv: list[str], code: int | None, needle: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    needs_dir = argv[0] not in ("--bogus", "nosuchverb", "export", "replay") or argv[:2] == ["replay", "get"]
    proc = cli(*argv, *(["--data-dir", str(data)] if needs_dir else []))
    assert proc.returncode != 0, proc.stdout
    if code is not None:
        assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.strip().splitlines() if not line.startswith(("usage:", " "))]
    assert len(lines) == 1, proc.stderr
    assert needle.lower() in proc.stderr.lower(), proc.stderr


# --- odd URLs -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "expected"), [
    ("http://example.org/a b/c d.html", "http://example.org/a%20b/c%20d.html"),
    ("http://bücher.example/straße?q=ä", "http://xn--bcher-kva.example/stra%C3%9Fe?q=%C3%A4"),
    ("http://example.org/%2e%2e%2fetc%2fpasswd", "http://example.org/%2e%2e%2fetc%2fpasswd"),
])
def test_odd_urls_are_encoded_for_the_warc(raw: str, expected: str) -> None:
    url = canonicalize_url(raw)
    assert url.lower() == expected.lower()
    assert url.isascii() and " " not in url


def test_odd_urls_are_archived_under_encoded_target_uris_and_never_name_files(tmp_path: Path) -> None:
    from archive.reader import iter_records
    from tests.misbehave import Misbehaving
    from tests.test_faults_server import run_crawl

    with Misbehaving() as srv:
        crawl = run_crawl(srv, [srv.url("odd-links")], tmp_path / "data", tmp_path, {"EXTRACT_WORKERS": "1"})
        assert crawl.proc.returncode == 0, crawl.proc.stderr[-2000:]
        uris = {rec.target_uri for path in (tmp_path / "data" / "warc").glob("*.warc.gz")
                for rec in iter_records(path) if rec.rec_type == "response"}
        odd = {u for u in uris if u and "/b/odd/" in u}
        assert len(odd) == 3, uris
        for uri in odd:
            assert uri.isascii() and " " not in uri and "\n" not in uri
        assert any(len(u) > 4000 for u in odd)
        assert any("with%20space/%C3%A9?q=a%20b" in u for u in odd)
        assert any("%2e%2e%2f" in u.lower() for u in odd)  # kept encoded: no path traversal on replay
        # no file or directory anywhere under the data directory is named after a URL
        for path in (tmp_path / "data").rglob("*"):
            assert "odd" not in path.name and "xxxx" not in path.name and "passwd" not in path.name, path
