"""The CDXJ index: built from our own, wget's and Heritrix-style WARCs and from broken ones, read back.

wget crawls the demo site on 127.0.0.1 with ``--warc-file``; the Heritrix-style file is written with
warcio the way Heritrix writes (WARC/1.0, dns records, digest-only revisits). Broken samples live in
``tests/data/broken`` (``make_broken.py`` regenerates them).
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import Any

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archive.cdxj import (
    CdxjLine,
    append_to_index,
    host_urls,
    index_path,
    index_warc,
    lookup,
    read_index,
    scan_warc,
    surt_key,
)
from archive.replay import Archive
from crawler.cli import main

BROKEN = Path(__file__).parent / "data" / "broken"


DNS = b"20260101000000\nheritrix.example.\t300\tIN\tA\t127.0.0.1\n"


def heritrix_warc(path: Path) -> Path:
    """WARC/1.0 as Heritrix writes it: warcinfo, a dns: record, responses, a digest-only revisit."""
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True, warc_version="1.0")
        writer.write_record(writer.create_warcinfo_record(path.name, {"software": "Heritrix/3.4.0"}))
        dns = writer.create_warc_record("dns:heritrix.example", "response", payload=io.BytesIO(DNS), length=len(DNS), warc_content_type="text/dns",
            warc_headers_dict={"WARC-Date": "2026-01-01T00:00:00Z"})
        writer.write_record(dns)
        body = b"<html><head><title>Heritrix page</title></head><body><p>Captured by Heritrix.</p></body></html>"
        for date in ("2026-01-01T00:00:01Z",):
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(body)))],
                                    protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(
                "http://heritrix.example/page", "response", payload=io.BytesIO(body), length=len(body), http_headers=http,
                warc_headers_dict={"WARC-Date": date}))
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(body)))],
                                protocol="HTTP/1.1")
        from warcio.utils import Digester
        d = Digester("sha1")
        d.update(body)
        revisit = writer.create_warc_record(
            "http://heritrix.example/page", "revisit", payload=io.BytesIO(b""), length=0, http_headers=http,
            warc_headers_dict={"WARC-Date": "2026-02-01T00:00:00Z", "WARC-Payload-Digest": str(d),
                               "WARC-Profile": "http://netpreserve.org/warc/1.0/revisit/identical-payload-digest"})
        writer.write_record(revisit)
    return path


def test_cdxj_line_round_trips() -> None:
    line = CdxjLine(key="com,example)/a", timestamp="20260101000000", url="http://example.com/a",
                    mime="text/html", status=200, digest="ABC", length=10, offset=5, filename="x.warc.gz")
    assert CdxjLine.parse(line.to_text()) == line
    assert line.to_text().startswith('com,example)/a 20260101000000 {"url": "http://example.com/a"')
    with pytest.raises(ValueError, match="not a CDXJ line"):
        CdxjLine.parse("garbage")


def test_wget_warc_indexes_every_article_and_replays_it(demo_site: Any, demo_wget_warc: Path, tmp_path: Path,
                                                       capsysbinary: Any) -> None:
    warc = demo_wget_warc
    data = tmp_path / "data"
    assert main(["index", "--data-dir", str(data), str(warc)]) == 0
    lines = list(read_index(index_path(data)))
    texts = [line.to_text() for line in lines]
    assert texts == sorted(texts)
    urls = {line.url for line in lines}
    for truth in demo_site.truth:
        assert truth.url in urls, truth.url
    # the filename points at the file where it is, and replay reads the same bytes wget saved
    truth = demo_site.truth[0]
    [line] = lookup(index_path(data), truth.url)
    assert line.filename == str(warc.resolve()) and line.status == 200 and line.mime == "text/html"
    capsysbinary.readouterr()
    assert main(["replay", "get", truth.url, "--data-dir", str(data)]) == 0
    body = capsysbinary.readouterr().out
    saved = warc.parent / "files" / truth.url.split("://", 1)[1]
    saved = saved / "index.html" if saved.is_dir() else saved
    assert body == saved.read_bytes()
    assert truth.title.encode() in body


def test_heritrix_style_warc_and_its_revisit(tmp_path: Path, capsysbinary: Any) -> None:
    data = tmp_path / "data"
    (data / "warc").mkdir(parents=True)
    warc = heritrix_warc(data / "warc" / "HERITRIX-20260101000000-00000.warc.gz")
    assert main(["index", "--data-dir", str(data)]) == 0
    lines = list(read_index(index_path(data)))
    assert {line.url for line in lines} == {"dns:heritrix.example", "http://heritrix.example/page"}
    page = [line for line in lines if line.url.endswith("/page")]
    assert [(p.timestamp, p.is_revisit) for p in page] == [("20260101000001", False), ("20260201000000", True)]
    assert page[0].digest == page[1].digest and page[0].filename == warc.name
    capsysbinary.readouterr()
    assert main(["replay", "get", "http://heritrix.example/page", "--at", "2026-02", "--data-dir", str(data)]) == 0
    captured = capsysbinary.readouterr()
    assert captured.out.startswith(b"<html><head><title>Heritrix page")
    assert b"revisit of 20260101000001" in captured.err


def test_broken_warcs_are_reported_with_file_and_offset_and_the_good_records_kept(
        tmp_path: Path, capsys: Any) -> None:
    data = tmp_path / "data"
    shutil.copytree(BROKEN, data / "warc", ignore=shutil.ignore_patterns("*.py"))
    assert main(["index", "--data-dir", str(data)]) == 1
    err = capsys.readouterr().err
    # written on another host ("host"): its writer is not running here, so the file is a killed crawl's
    assert ("skipping crawl-20260102030405-00000-host-1.warc.gz.open: left unfinished by an interrupted crawl"
            in err)
    for expected in ("corrupt-member.warc.gz at offset 367: unreadable record",
                     "truncated.warc.gz at offset 367: truncated record",
                     "bad-length.warc at offset 536: record length does not match",
                     "not-a-warc.warc.gz at offset 0: not a WARC file"):
        assert expected in err
    urls = sorted(line.url.rsplit("/", 1)[1] for line in read_index(index_path(data)))
    # pages 2, 5 and 7 are the damaged records; 9 is in the .open file; gone.html is the orphan revisit
    assert urls == ["gone.html", "page1.html", "page10.html", "page3.html", "page4.html", "page6.html",
                    "page8.html"]
    # an .open file named on the command line is refused, not read
    scan = scan_warc(BROKEN / "crawl-20260102030405-00000-host-1.warc.gz.open")
    assert scan.lines == () and "still being written" in scan.problems[0].message


def test_a_revisit_without_original_fails_clearly(tmp_path: Path, capsys: Any) -> None:
    data = tmp_path / "data"
    (data / "warc").mkdir(parents=True)
    shutil.copy(BROKEN / "orphan-revisit.warc.gz", data / "warc")
    assert main(["index", "--data-dir", str(data)]) == 0
    capsys.readouterr()
    assert main(["replay", "get", "http://broken.example/gone.html", "--data-dir", str(data)]) == 1
    err = capsys.readouterr().err
    assert "orphan-revisit.warc.gz at offset 372" in err and "not in the archive" in err
    assert main(["replay", "get", "http://broken.example/page10.html", "--data-dir", str(data)]) == 0


def test_append_is_idempotent_and_lookup_finds_every_url(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "warc").mkdir(parents=True)
    warc = data / "warc" / "many.warc.gz"
    with warc.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for n in range(300):
            body = f"page {n}".encode()
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/plain")], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(
                f"http://many.example/p/{n}", "response", payload=io.BytesIO(body), length=len(body),
                http_headers=http))
    first = append_to_index(data, warc)
    append_to_index(data, warc)
    assert first.problems == () and first.indexed == 300
    assert len(list(read_index(index_path(data)))) == 300
    archive = Archive(data)
    for n in (0, 1, 10, 150, 299):
        [line] = lookup(index_path(data), f"http://many.example/p/{n}")
        assert archive.load(line).body == f"page {n}".encode()
    assert lookup(index_path(data), "http://many.example/p/1000") == []
    assert host_urls(index_path(data), "http://many.example/p/15x", limit=3)[0] == "http://many.example/p/15"
    assert len(index_warc(warc)) == 300


def test_surt_keys_match_pywb() -> None:
    assert surt_key("http://www.Example.com/a/b?y=2&x=1") == "com,example)/a/b?x=1&y=2"
    assert surt_key("https://127.0.0.1:8080/p") == "1,0,0,127:8080)/p"  # the surt package, as pywb


def test_check_compares_warcs_index_and_catalog(replay_archive: Any, tmp_path: Path, capsys: Any) -> None:
    data = tmp_path / "data"
    shutil.copytree(replay_archive.data_dir, data, ignore=shutil.ignore_patterns("pywb"))
    # the fixture wrote its revisit record with a bare WarcWriter: indexed, but not in the catalog
    assert main(["index", "--check", "--data-dir", str(data)]) == 1
    out = capsys.readouterr().out
    assert "1 record(s) missing from the catalog" in out and replay_archive.revisited in out
    assert "missing from the index" not in out and "DISAGREE" in out
    # drop one line from the index: reported, and 'crawler index' puts it back
    index = index_path(data)
    lines = index.read_text().splitlines(keepends=True)
    dropped = CdxjLine.parse(lines.pop(3))
    index.write_text("".join(lines))
    assert main(["index", "--check", "--data-dir", str(data)]) == 1
    out = capsys.readouterr().out
    assert f"1 record(s) missing from the index (run 'crawler index'):\n  {dropped.filename} at offset " \
           f"{dropped.offset}: {dropped.url}" in out
    assert main(["index", "--data-dir", str(data)]) == 0
    assert main(["index", "--check", "--data-dir", str(data)]) == 1
    assert "missing from the index" not in capsys.readouterr().out
    assert main(["index", "--check", "--data-dir", str(tmp_path / "nothing")]) == 2


def test_the_index_kept_by_the_crawl_equals_a_rebuild(replay_archive: Any, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(replay_archive.data_dir, data, ignore=shutil.ignore_patterns("pywb"))
    kept = index_path(data).read_text(encoding="utf-8")      # appended as each crawl closed its WARC file
    assert len(kept.splitlines()) > len(replay_archive.site.truth)
    assert main(["index", "--data-dir", str(data)]) == 0
    assert index_path(data).read_text(encoding="utf-8") == kept


def test_an_uncompressed_warc_named_warc_gz_is_indexed_and_replayed(tmp_path: Path, capsysbinary: Any) -> None:
    data = tmp_path / "data"
    (data / "warc").mkdir(parents=True)
    warc = data / "warc" / "plain.warc.gz"            # not gzip, whatever the name says
    with warc.open("wb") as fh:
        writer = WARCWriter(fh, gzip=False)
        body = b"<html><title>Plain</title><p>Not compressed.</p></html>"
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record("http://plain.example/", "response", payload=io.BytesIO(body),
                                                      length=len(body), http_headers=http))
    assert main(["index", "--data-dir", str(data)]) == 0
    capsysbinary.readouterr()
    assert main(["replay", "get", "http://plain.example/", "--data-dir", str(data)]) == 0
    assert capsysbinary.readouterr().out == body


def _warc_of(path: Path, host: str, pages: int) -> Path:
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for n in range(pages):
            body = f"{host} page {n}".encode()
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/plain")], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(
                f"http://{host}/p/{n}", "response", payload=io.BytesIO(body), length=len(body), http_headers=http))
    return path


def test_closing_a_file_merges_its_lines_into_the_index_in_order_and_replaces_its_old_ones(tmp_path: Path) -> None:
    """The index is streamed through the merge (not read whole): other files' lines stay, in sorted order,
    a file indexed again replaces its own lines, and an index out of order is sorted whole (and logged)."""
    data = tmp_path / "data"
    (data / "warc").mkdir(parents=True)
    a = _warc_of(data / "warc" / "a.warc.gz", "b.example", 40)
    b = _warc_of(data / "warc" / "b.warc.gz", "a.example", 30)
    append_to_index(data, a)
    append_to_index(data, b)
    texts = index_path(data).read_text(encoding="utf-8").splitlines()
    assert len(texts) == 70 and texts == sorted(texts)
    _warc_of(b, "a.example", 10)           # b rewritten shorter: its 30 old lines go, its 10 new ones come
    append_to_index(data, b)
    lines = list(read_index(index_path(data)))
    assert sorted(line.filename for line in lines) == ["a.warc.gz"] * 40 + ["b.warc.gz"] * 10
    texts = index_path(data).read_text(encoding="utf-8").splitlines()
    assert texts == sorted(texts)
    # an index edited out of order is still merged correctly (sorted whole)
    index_path(data).write_text("\n".join(reversed(texts)) + "\n", encoding="utf-8")
    c = _warc_of(data / "warc" / "c.warc.gz", "c.example", 5)
    append_to_index(data, c)
    texts = index_path(data).read_text(encoding="utf-8").splitlines()
    assert len(texts) == 55 and texts == sorted(texts)
    assert [line.url for line in lookup(index_path(data), "http://c.example/p/3")] == ["http://c.example/p/3"]


def test_the_index_is_readable_by_other_users_as_the_umask_allows(tmp_path: Path) -> None:
    """The index is written through a temp file and renamed: mkstemp's 0600 made it unreadable to a pywb or
    a reader running as another user."""
    import os
    import stat

    from archive.cdxj import write_index

    path = tmp_path / "index" / "index.cdxj"
    old = os.umask(0o022)
    try:
        write_index(path, [], texts=["a,b)/ 20260101000000 {}"])
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
