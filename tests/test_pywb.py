"""The real pywb on the archive of a real crawl of the demo site (fixtures ``replay_archive``, ``pywb_server``).

``id_`` URLs give the archived payload unchanged (content encoding removed); ``mp_`` URLs the rewritten
page; the plain URL the framed page with pywb's banner.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from archive.cdxj import append_to_index, index_path, lookup, read_index
from archive.pywb import find_wayback, prepare, running
from archive.replay import Archive

BROKEN = Path(__file__).parent / "data" / "broken"


def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:
            return resp.status, dict(resp.headers.items()), resp.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, dict(err.headers.items()), err.read()


def test_every_archived_article_is_served_at_its_timestamp_with_its_payload(
        replay_archive: Any, pywb_server: Any) -> None:
    archive = Archive(replay_archive.data_dir)
    for truth in replay_archive.site.truth:
        for capture in [c for c in archive.captures(truth.url) if c.status == 200 and not c.is_revisit]:
            status, headers, body = fetch(pywb_server.collection_url + capture.timestamp + "id_/" + truth.url)
            assert status == 200, truth.url
            assert body == archive.load(capture).body
            assert headers["Memento-Datetime"]


def test_links_inside_a_replayed_page_point_into_the_archive(replay_archive: Any, pywb_server: Any) -> None:
    truth = replay_archive.site.truth[3]
    [capture] = Archive(replay_archive.data_dir).captures(truth.url)
    status, headers, body = fetch(pywb_server.replay_url(truth.url, capture.timestamp))
    assert status == 200
    assert "default-src" in headers["Content-Security-Policy"]          # pywb's CSP is on
    links = re.findall(r'<a [^>]*href="([^"]+)"', body.decode("utf-8"))
    assert len(links) > 5
    prefix = f"/archive/{capture.timestamp}mp_/{replay_archive.site.base_url}"
    for link in links:
        assert link.startswith((prefix, pywb_server.base_url + prefix)), link
    css = re.findall(r'<link [^>]*href="([^"]+\.css)"', body.decode("utf-8"))
    assert css and all(c.startswith(f"/archive/{capture.timestamp}cs_/") for c in css)


def test_framed_replay_shows_the_archive_banner(replay_archive: Any, pywb_server: Any) -> None:
    truth = replay_archive.site.truth[4]
    status, _, body = fetch(pywb_server.replay_url(truth.url, framed=True))
    assert status == 200
    assert b"wb_frame.js" in body and b"banner_info" in body
    assert f'src="{pywb_server.collection_url}'.encode() in body or b"iframe" in body


def test_a_url_captured_twice_replays_each_capture(replay_archive: Any, pywb_server: Any) -> None:
    first, second = replay_archive.twice_ts
    edit = replay_archive.edit.encode()
    body_first = fetch(pywb_server.collection_url + first + "id_/" + replay_archive.twice)[2]
    body_second = fetch(pywb_server.collection_url + second + "id_/" + replay_archive.twice)[2]
    assert edit not in body_first and edit in body_second


def test_a_revisit_replays_its_original(replay_archive: Any, pywb_server: Any) -> None:
    archive = Archive(replay_archive.data_dir)
    [original] = [c for c in archive.captures(replay_archive.revisited) if not c.is_revisit]
    status, headers, body = fetch(
        pywb_server.collection_url + replay_archive.revisit_ts + "id_/" + replay_archive.revisited)
    assert status == 200
    assert body == archive.load(original).body
    memento = replay_archive.revisit_ts
    assert headers["Memento-Datetime"].endswith(f"{memento[8:10]}:{memento[10:12]}:{memento[12:14]} GMT")


def test_bad_records_answer_404_or_503_never_500(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(BROKEN, data / "warc", ignore=shutil.ignore_patterns("*.py", "*.open"))
    for warc in sorted((data / "warc").iterdir()):
        append_to_index(data, warc)
    # a record whose bytes went bad after indexing, and an index line pointing at a missing file
    good = data / "warc" / "corrupt-member.warc.gz"
    [page3] = lookup(index_path(data), "http://broken.example/page3.html")
    raw = bytearray(good.read_bytes())
    for i in range(page3.offset + 20, page3.offset + 60):
        raw[i] ^= 0x33
    good.write_bytes(bytes(raw))
    (data / "warc" / "bad-length.warc").unlink()
    assert len(list(read_index(index_path(data)))) >= 6
    with running(prepare(data), find_wayback()) as server:
        cases = {
            "http://broken.example/page1.html": {200},               # good record before the damage
            "http://broken.example/page2.html": {404},               # the corrupt member: not indexed
            "http://broken.example/page3.html": {503},               # corrupted after indexing
            "http://broken.example/page6.html": {503},               # its WARC file is gone
            "http://broken.example/gone.html": {503},                # revisit without original
            "http://broken.example/page5.html": {404},               # truncated away
        }
        for url, allowed in cases.items():
            status, _, body = fetch(server.collection_url + "2026id_/" + url)
            assert status in allowed, (url, status, body[:300])


def test_replay_serve_prints_the_collection_url_and_serves(replay_archive: Any) -> None:
    with subprocess.Popen([sys.executable, "-m", "crawler.cli", "replay", "serve", "--port", "0",
                           "--data-dir", str(replay_archive.data_dir)],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as proc:
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()
            match = re.match(r"pywb is serving the archive at (http://127\.0\.0\.1:\d+/archive/)$", first.strip())
            assert match, first
            status, _, body = fetch(match.group(1) + "id_/" + replay_archive.site.truth[5].url)
            assert status == 200 and replay_archive.site.truth[5].title.encode() in body
        finally:
            proc.terminate()
            proc.wait(30)
    assert proc.returncode == 0    # SIGTERM stops pywb too, and the command exits cleanly
    with pytest.raises(urllib.error.URLError):
        fetch(match.group(1))


def test_serve_without_index_or_pywb_fails_clearly(tmp_path: Path, capsys: Any) -> None:
    from crawler.cli import main

    assert main(["replay", "serve", "--data-dir", str(tmp_path)]) == 1
    assert "no index at" in capsys.readouterr().err
    (tmp_path / "index").mkdir()
    (tmp_path / "index" / "index.cdxj").write_text("")
    assert main(["replay", "serve", "--data-dir", str(tmp_path), "--pywb", str(tmp_path / "nope")]) == 1
    assert "pywb is not installed" in capsys.readouterr().err


@pytest.mark.parametrize("port", ["-1", "70000"])
def test_serve_rejects_bad_ports(tmp_path: Path, port: str) -> None:
    from crawler.cli import main

    assert main(["replay", "serve", "--port", port, "--data-dir", str(tmp_path)]) == 2


def test_pywb_replays_a_wget_warc_indexed_in_place(demo_site: Any, demo_wget_warc: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    append_to_index(data, demo_wget_warc)            # filename in the index: the absolute path
    truth = demo_site.truth[0]
    [line] = lookup(index_path(data), truth.url)
    assert Path(line.filename).is_absolute()
    saved = demo_wget_warc.parent / "files" / truth.url.split("://", 1)[1]
    with running(prepare(data), find_wayback()) as server:
        status, _, body = fetch(server.collection_url + line.timestamp + "id_/" + truth.url)
    assert status == 200 and body == saved.read_bytes()


def test_a_free_port_taken_before_pywb_binds_it_is_retried_on_another(
        replay_archive: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process can take the port chosen for pywb before pywb binds it (seen in CI with tests running
    in parallel): with no port asked for, start again on a new one; a port the user asked for is kept."""
    import socket

    import archive.pywb as pywb

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        ports = iter([busy])
        real_free_port = pywb.free_port
        monkeypatch.setattr(pywb, "free_port", lambda host="127.0.0.1": next(ports, None) or real_free_port(host))
        with running(prepare(replay_archive.data_dir), find_wayback()) as server:
            assert server.port != busy
            assert fetch(server.collection_url)[0] == 200
        with pytest.raises(pywb.PywbError, match="Address already in use"):
            with running(prepare(replay_archive.data_dir), find_wayback(), port=busy):
                pass
