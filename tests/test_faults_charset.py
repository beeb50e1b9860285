"""Charsets (issue 6): a real crawl of the misbehaving server's charset pages. The text in the record is
right where the page is decodable, and the record's ``encoding`` says which charset decoded it and from
where, and flags what could not be decoded (invalid UTF-8) or is not text (NUL bytes)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from archive.records import Record, TextEncoding, validate
from crawler.charset import decode_html
from tests.misbehave import CYRILLIC_TEXT, UTF8_TEXT, Misbehaving
from tests.test_faults_server import ROOT, Crawl, run_crawl

PAGES = ["utf8-as-latin1", "windows-1251", "meta-contradicts-header", "invalid-utf8", "utf16-bom",
         "meta-charset-only", "undeclared-1251", "nul-page", "ok"]


@pytest.fixture(scope="module")
def crawl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crawl]:
    tmp = tmp_path_factory.mktemp("charset")
    with Misbehaving() as server:
        result = run_crawl(server, [server.url(n) for n in PAGES], tmp / "data", tmp,
                           {"DOWNLOAD_TIMEOUT": "60", "LIMITS_RESPONSE_TIME": "30"})
        assert result.proc.returncode == 0, result.proc.stderr[-3000:]
        yield result


def _record(crawl: Crawl, name: str) -> dict[str, object]:
    record = crawl.records()[crawl.server.url(name)]
    validate(record)
    return record


@pytest.mark.parametrize(("name", "charset", "source", "text"), [
    ("windows-1251", "windows-1251", "header", CYRILLIC_TEXT),
    ("meta-contradicts-header", "windows-1251", "header", CYRILLIC_TEXT),  # the header wins, as in browsers
    ("meta-charset-only", "windows-1251", "meta", CYRILLIC_TEXT),
    ("undeclared-1251", "windows-1251", "sniffed", CYRILLIC_TEXT),
    ("utf16-bom", "utf-16le", "bom", UTF8_TEXT),
    ("utf8-as-latin1", "utf-8", "sniffed", UTF8_TEXT),  # crawler.charset reads mislabelled UTF-8 as UTF-8
    ("ok", "utf-8", "header", "Nothing wrong here."),
])
def test_decodable_pages_are_right_and_not_flagged(crawl: Crawl, name: str, charset: str, source: str,
                                                    text: str) -> None:
    record = _record(crawl, name)
    assert text in str(record["text"])
    assert record["encoding"] == {"charset": charset, "source": source, "errors": 0, "controls": 0}


def test_invalid_utf8_is_flagged_with_a_count(crawl: Crawl) -> None:
    record = _record(crawl, "invalid-utf8")
    # b"\xff\xfe\xc3" in the middle of a word: three sequences that are not UTF-8; the rest decodes.
    assert record["encoding"] == {"charset": "utf-8", "source": "header", "errors": 3, "controls": 0}
    assert UTF8_TEXT in str(record["text"])
    assert f"{crawl.server.url('invalid-utf8')}: text is not all the page held: 3 undecodable" in crawl.log


def test_nul_page_is_flagged_as_not_text(crawl: Crawl) -> None:
    record = _record(crawl, "nul-page")
    encoding = record["encoding"]
    assert isinstance(encoding, dict)
    assert encoding["controls"] == 200_000 and encoding["errors"] == 0
    assert encoding["source"] == "default"   # no BOM, header or meta charset, and ASCII bytes


def test_crawl_stats_count_the_flagged_pages(crawl: Crawl) -> None:
    from archive.catalog import Catalog

    with Catalog(crawl.data_dir / "catalog.sqlite") as catalog:
        stats = catalog.runs()[0]["stats"]
    assert stats["charset/flagged"] == 2               # invalid-utf8 and nul-page
    assert stats["charset/mislabelled_utf8"] == 1


def test_records_load_back_with_their_encoding(crawl: Crawl) -> None:
    record = Record.from_dict(_record(crawl, "invalid-utf8"))
    assert isinstance(record.encoding, TextEncoding)
    assert record.encoding.flagged and record.encoding.errors == 3


@pytest.mark.parametrize("name", PAGES)
def test_decode_html_of_the_archived_bytes_agrees_with_the_crawl(crawl: Crawl, name: str) -> None:
    """``crawler.charset.decode_html`` (for ``crawler reextract``) gives the crawl's text and encoding from
    the WARC record alone."""
    url = crawl.server.url(name)
    archived = crawl.responses()[url]
    html, encoding = decode_html(archived.payload, archived.http_header("Content-Type"))
    record = _record(crawl, name)
    assert encoding.to_dict() == record["encoding"]
    first_words = str(record["text"]).split("\n")[0][:40]
    assert first_words in html


def test_show_prints_the_encoding(crawl: Crawl) -> None:
    proc = subprocess.run([sys.executable, "-m", "crawler.cli", "show", crawl.server.url("invalid-utf8"),
                           "--data-dir", str(crawl.data_dir)], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["encoding"]["errors"] == 3


def test_records_without_encoding_still_load() -> None:
    d = Record(run_id="r", url="http://example.org/", fetched_at="2026-11-27T12:00:00Z", status=200).to_dict()
    assert d["encoding"] is None
    del d["encoding"]                      # a record written before the field existed
    validate(d)
    assert Record.from_dict(d).encoding is None


def test_control_characters_are_counted_in_any_encoding() -> None:
    from crawler.charset import count_controls

    page = "<p>a\x00b\x01c\td\n</p>"
    for encoding in ("utf-8", "cp1251", "utf-16-le"):
        assert count_controls(page.encode(encoding), encoding, page) == 2, encoding


@pytest.mark.parametrize(("codec", "name"), [("cp1251", "windows-1251"), ("utf-16-le", "utf-16le"),
                                             ("latin-1", "iso-8859-1"), ("shift_jis", "shift_jis"),
                                             ("utf-8", "utf-8")])
def test_charset_names_are_whatwg_names(codec: str, name: str) -> None:
    from crawler.charset import charset_name

    assert charset_name(codec) == name
