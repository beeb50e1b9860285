"""``crawler replay get|list`` on the archive of a real crawl of the demo site (fixture ``replay_archive``)."""

from __future__ import annotations

import urllib.request
from typing import Any

import pytest

from archive.cdxj import index_path, lookup
from archive.reader import read_record
from crawler.cli import main


def get(capsysbinary: Any, archive: Any, *args: str) -> tuple[int, bytes, str]:
    capsysbinary.readouterr()
    code = main(["replay", "get", *args, "--data-dir", str(archive.data_dir)])
    out = capsysbinary.readouterr()
    return code, out.out, out.err.decode("utf-8", "replace")


def test_every_article_replays_the_body_the_site_served(replay_archive: Any, capsysbinary: Any) -> None:
    for truth in replay_archive.site.truth:
        code, body, err = get(capsysbinary, replay_archive, truth.url)
        assert code == 0, err
        with urllib.request.urlopen(truth.url) as resp:   # what the site serves (the latest content)
            assert body == resp.read()


def test_a_page_captured_twice_replays_each_capture_by_timestamp(replay_archive: Any, capsysbinary: Any) -> None:
    first, second = replay_archive.twice_ts
    assert first < second
    edit = replay_archive.edit.encode()
    assert edit not in get(capsysbinary, replay_archive, replay_archive.twice, "--at", first)[1]
    assert edit in get(capsysbinary, replay_archive, replay_archive.twice, "--at", second)[1]
    assert edit in get(capsysbinary, replay_archive, replay_archive.twice)[1]     # default: the latest
    # nearest: a time just after the first capture picks the first one
    iso_first = f"{first[:4]}-{first[4:6]}-{first[6:8]}T{first[8:10]}:{first[10:12]}:{first[12:]}"
    code, body, err = get(capsysbinary, replay_archive, replay_archive.twice, "--at", iso_first)
    assert code == 0 and edit not in body and f"at {first}" in err


def test_list_shows_every_capture(replay_archive: Any, capsys: Any) -> None:
    capsys.readouterr()
    assert main(["replay", "list", replay_archive.twice, "--data-dir", str(replay_archive.data_dir)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["TIMESTAMP", "STATUS", "MIME", "DIGEST", "URL"]
    rows = [line.split() for line in out[1:]]
    assert [(r[0], r[1], r[2]) for r in rows if r[1] == "200"] == [
        (replay_archive.twice_ts[0], "200", "text/html"), (replay_archive.twice_ts[1], "200", "text/html")]
    assert rows[0][3] != rows[-1][3]   # the edit changed the payload digest
    assert main(["replay", "list", replay_archive.revisited, "--data-dir", str(replay_archive.data_dir)]) == 0
    assert "revisit" in capsys.readouterr().out


def test_a_revisit_replays_its_original(replay_archive: Any, capsysbinary: Any) -> None:
    code, body, err = get(capsysbinary, replay_archive, replay_archive.revisited, "--at", replay_archive.revisit_ts)
    assert code == 0, err
    assert f"at {replay_archive.revisit_ts}" in err and "revisit of" in err
    original = get(capsysbinary, replay_archive, replay_archive.revisited, "--at", "2000")[1]
    assert body == original and len(body) > 500


def test_raw_headers_and_text_modes(replay_archive: Any, capsysbinary: Any) -> None:
    truth = replay_archive.site.truth[2]
    [line] = [c for c in lookup(index_path(replay_archive.data_dir), truth.url) if c.status == 200]
    record = read_record(replay_archive.data_dir / "warc" / line.filename, line.offset, line.length)
    code, raw, _ = get(capsysbinary, replay_archive, truth.url, "--raw")
    assert code == 0 and raw.startswith(b"HTTP/1.1 200")
    assert raw.endswith(record.raw_payload)          # the payload exactly as stored (still gzip-encoded)
    code, head, _ = get(capsysbinary, replay_archive, truth.url, "--headers")
    assert head == raw[: raw.index(b"\r\n\r\n") + 4]
    assert b"Content-Type: text/html" in head
    code, text, _ = get(capsysbinary, replay_archive, truth.url, "--text")
    assert code == 0
    for paragraph in truth.text.split("\n"):
        assert paragraph in text.decode("utf-8")
    assert b"<p>" not in text


def test_missing_url_lists_the_hosts_captures(replay_archive: Any, capsysbinary: Any) -> None:
    missing = replay_archive.site.truth[0].url + "-nope"
    code, out, err = get(capsysbinary, replay_archive, missing)
    assert code == 1 and out == b""
    assert f"{missing} is not in the archive; captured URLs of that host: " in err
    assert replay_archive.site.truth[0].url in err
    code, _, err = get(capsysbinary, replay_archive, "http://elsewhere.example/")
    assert code == 1 and "nothing of that host is archived" in err


@pytest.mark.parametrize("at", ["yesterday", "20", "2026-13-45"])
def test_bad_timestamp_is_a_usage_error(replay_archive: Any, capsysbinary: Any, at: str) -> None:
    code, _, err = get(capsysbinary, replay_archive, replay_archive.twice, "--at", at)
    assert code == 2 and "not a timestamp" in err


def test_no_index_is_a_usage_error(tmp_path: Any, capsys: Any) -> None:
    assert main(["replay", "get", "http://example.com/", "--data-dir", str(tmp_path)]) == 2
    assert "no index in" in capsys.readouterr().err
