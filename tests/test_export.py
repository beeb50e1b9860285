"""``crawler export``: a WACZ validated by the ``wacz`` package and read back, and the records as
JSONL, CSV and text, from the archive of a real crawl (fixture ``replay_archive``)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.cdxj import CdxjLine, index_path, read_index
from archive.pywb import find_wayback
from crawler.cli import main
from crawler.commands.show import render_text


def wacz_validate(path: Path) -> subprocess.CompletedProcess[str]:
    wacz = find_wayback().parent / "wacz"     # installed beside pywb by 'make setup-pywb'
    return subprocess.run([str(wacz), "validate", "-f", str(path)], capture_output=True, text=True, timeout=120)


def test_wacz_is_valid_and_holds_every_capture_and_article(replay_archive: Any, tmp_path: Path,
                                                           capsys: Any) -> None:
    out = tmp_path / "archive.wacz"
    assert main(["export", "wacz", str(out), "--data-dir", str(replay_archive.data_dir)]) == 0
    proc = wacz_validate(out)
    assert proc.returncode == 0 and "Validation succeeded" in proc.stdout, proc.stdout + proc.stderr
    with zipfile.ZipFile(out) as zf:
        assert sorted(zf.namelist()) == ["archive/data.warc.gz", "datapackage-digest.json", "datapackage.json",
                                         "indexes/index.cdx", "pages/pages.jsonl"]
        assert zf.getinfo("archive/data.warc.gz").compress_type == zipfile.ZIP_STORED
        package = json.loads(zf.read("datapackage.json"))
        assert package["wacz_version"] == "1.1.1"
        for resource in package["resources"]:
            data = zf.read(resource["path"])
            assert resource["hash"] == "sha256:" + hashlib.sha256(data).hexdigest()
            assert resource["bytes"] == len(data)
        warc = zf.read("archive/data.warc.gz")
        lines = [CdxjLine.parse(t) for t in zf.read("indexes/index.cdx").decode().splitlines()]
        pages = [json.loads(t) for t in zf.read("pages/pages.jsonl").decode().splitlines()]
    # every capture of the archive is inside, and each index line points at its record
    original = sorted((c.url, c.timestamp, c.digest) for c in read_index(index_path(replay_archive.data_dir)))
    assert sorted((c.url, c.timestamp, c.digest) for c in lines) == original
    for line in lines:
        record = next(iter(ArchiveIterator(io.BytesIO(warc[line.offset:line.offset + line.length]))))
        assert record.rec_headers.get_header("WARC-Target-URI") == line.url
    # pages: a header, then each article with its title and text (both captures of the edited one)
    assert pages[0] == {"format": "json-pages-1.0", "id": "pages", "title": "All Pages", "hasText": True}
    by_url: dict[str, list[dict[str, Any]]] = {}
    for page in pages[1:]:
        by_url.setdefault(page["url"], []).append(page)
    for truth in replay_archive.site.truth:
        page = by_url[truth.url][-1]
        assert page["title"] == truth.title and page["ts"].endswith("Z")
        for paragraph in truth.text.split("\n"):
            assert paragraph in page["text"]
    assert len(by_url[replay_archive.twice]) == 2


def test_wacz_since_keeps_a_revisits_original(replay_archive: Any, tmp_path: Path) -> None:
    out = tmp_path / "late.wacz"
    assert main(["export", "wacz", str(out), "--since", replay_archive.revisit_ts[:8] + "T"
                 + replay_archive.revisit_ts[8:10] + ":" + replay_archive.revisit_ts[10:12] + "Z",
                 "--data-dir", str(replay_archive.data_dir)]) == 0
    assert wacz_validate(out).returncode == 0
    with zipfile.ZipFile(out) as zf:
        lines = [CdxjLine.parse(t) for t in zf.read("indexes/index.cdx").decode().splitlines()]
    assert {(c.url, c.is_revisit) for c in lines} == {(replay_archive.revisited, True),
                                                      (replay_archive.revisited, False)}


def test_wacz_filters_that_match_nothing_fail(replay_archive: Any, tmp_path: Path, capsys: Any) -> None:
    data = str(replay_archive.data_dir)
    assert main(["export", "wacz", str(tmp_path / "a.wacz"), "--site", "elsewhere.example", "--data-dir", data]) == 1
    assert "nothing matched" in capsys.readouterr().err
    assert main(["export", "wacz", str(tmp_path / "a.wacz"), "--since", "2999-01-01", "--data-dir", data]) == 1
    assert main(["export", "wacz", str(tmp_path / "a.zip"), "--data-dir", data]) == 2
    assert main(["export", "wacz", str(tmp_path / "a.wacz"), "--since", "soon", "--data-dir", data]) == 2
    assert not (tmp_path / "a.wacz").exists()


def test_jsonl_csv_and_txt_exports_read_back(replay_archive: Any, tmp_path: Path) -> None:
    data = str(replay_archive.data_dir)
    assert main(["export", "jsonl", "-o", str(tmp_path / "r.jsonl"), "--data-dir", data]) == 0
    records = [json.loads(t) for t in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert len({r["id"] for r in records}) == len(records)
    assert {t.url for t in replay_archive.site.truth} <= {r["url"] for r in records if r["kind"] == "article"}
    assert [r["fetched_at"] for r in records] == sorted(r["fetched_at"] for r in records)

    assert main(["export", "csv", "-o", str(tmp_path / "r.csv"), "--site", "127.0.0.1", "--data-dir", data]) == 0
    with (tmp_path / "r.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [row["id"] for row in rows] == [r["id"] for r in records]
    for row, record in zip(rows, records, strict=True):
        assert row["text"] == record["text"] and row["authors"] == "; ".join(record["authors"])
        assert int(row["warc_offset"]) == record["warc"]["offset"]

    assert main(["export", "txt", "-o", str(tmp_path / "a.txt"), "--data-dir", data]) == 0
    articles = [r for r in records if r["kind"] == "article"]
    assert (tmp_path / "a.txt").read_text() == "\f\n".join(render_text(r) for r in articles)


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "txt"])
def test_record_exports_need_records(tmp_path: Path, fmt: str) -> None:
    assert main(["export", fmt, "--data-dir", str(tmp_path)]) == 2
