"""A real browser (headless Chromium, Debian's ``chromium``) opens a replayed article through pywb.

Chromium's network log records every request it makes. Requests started by the replayed page carry the
page's origin as initiator and must all go to 127.0.0.1; Chromium's own background requests (update
checks, account probes) have no initiator and are blocked by ``--host-resolver-rules`` (nothing leaves
this machine either way).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

BROWSER_SERVICES = ("google.com", "googleapis.com", "gstatic.com", "gvt1.com")


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("headless Chromium is missing: apt-get install -y chromium (the CI script installs it)")


def requests_of(net_log: Path) -> list[tuple[str, str | None]]:
    """(url, initiator) of every URL request in a Chromium net log."""
    log = json.loads(net_log.read_text(encoding="utf-8"))
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [(e["params"]["url"], e["params"].get("initiator")) for e in log["events"]
            if e["type"] == start_job and "url" in e.get("params", {})]


def test_a_replayed_article_renders_with_its_title_and_stays_local(replay_archive: Any, pywb_server: Any,
                                                                 tmp_path: Path) -> None:
    truth = replay_archive.site.truth[6]
    net_log = tmp_path / "netlog.json"
    proc = subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'profile'}",
         "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-domain-reliability", "--no-pings", "--bwsi",
         "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1", f"--log-net-log={net_log}",
         "--virtual-time-budget=5000", "--dump-dom", pywb_server.replay_url(truth.url, framed=True)],
        capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    # the framed page takes the replayed article's title, under pywb's banner
    titles = re.findall(r"<title>(.*?)</title>", proc.stdout, re.S)
    assert titles and truth.title in titles[0], titles
    assert "wb_frame.js" in proc.stdout
    requests = requests_of(net_log)
    local = [url for url, _ in requests if urlsplit(url).hostname == "127.0.0.1"]
    # the article itself (mp_), its stylesheet (cs_) and its image (im_) came from the archive
    assert any(f"mp_/{truth.url}" in url for url in local)
    assert any("cs_/" in url for url in local) and any("im_/" in url for url in local)
    for url, initiator in requests:
        host = urlsplit(url).hostname or ""
        if host == "127.0.0.1":
            continue
        page_made_it = initiator is not None and initiator.startswith("http")
        assert not page_made_it, f"the replayed page requested {url} (initiator {initiator})"
        assert host.endswith(BROWSER_SERVICES), f"unexpected request by the browser itself: {url}"
