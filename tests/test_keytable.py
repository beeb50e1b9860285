"""The compact per-URL tables (crawler.keytable) and the duplicate filter built on them (crawler.dupefilter)."""

from __future__ import annotations

from pathlib import Path

import pytest
from scrapy import Request, Spider
from scrapy.utils.test import get_crawler

from crawler.dupefilter import CompactDupeFilter
from crawler.keytable import MASK, KeyTable, key_of, key_of_bytes


def test_a_key_table_holds_what_was_added_through_many_growths() -> None:
    table = KeyTable()
    keys = [key_of(f"https://example.com/{i}") for i in range(30_000)]
    assert all(table.add(k) for k in keys[::2])
    assert not table.add(keys[0])                     # twice: still one
    assert len(table) == 15_000
    assert all(k in table for k in keys[::2])
    assert not any(k in table for k in keys[1::2])
    assert "x" not in table and 0 not in table and -5 not in table


def test_keys_that_share_their_low_bits_probe_past_each_other() -> None:
    table = KeyTable(values=True)
    crowded = [7 + (n << 40) for n in range(1, 200)]      # same slot in every table size up to 2**40
    for value, key in enumerate(crowded):
        table.put(key, -value)
    assert [table.get(k) for k in crowded] == [-v for v in range(len(crowded))]
    assert table.get(7) is None
    table.put(crowded[3], 12345)                          # a new value replaces the old one
    assert table.get(crowded[3]) == 12345 and len(table) == len(crowded)


def test_keys_are_non_zero_60_bit_ints() -> None:
    assert 0 < key_of("") <= MASK and 0 < key_of_bytes(bytes(20)) <= MASK
    with pytest.raises(ValueError, match="non-zero 60-bit"):
        KeyTable().add(0)
    with pytest.raises(ValueError, match="non-zero 60-bit"):
        KeyTable().add(1 << 61)
    with pytest.raises(TypeError, match="values=True"):
        KeyTable().put(1, 1)


def test_the_duplicate_filter_lets_each_request_through_once() -> None:
    crawler = get_crawler(Spider, {"DUPEFILTER_CLASS": "crawler.dupefilter.CompactDupeFilter"})
    df = CompactDupeFilter.from_crawler(crawler)
    df.open()
    urls = [f"https://example.com/a?{i}" for i in range(500)]
    assert not any(df.request_seen(Request(u)) for u in urls)
    assert all(df.request_seen(Request(u)) for u in urls)
    assert df.request_seen(Request("https://example.com/a?1#fragment"))      # same fingerprint
    assert not df.request_seen(Request("https://example.com/a?1", method="POST"))
    df.close("finished")


def test_with_a_job_directory_the_duplicate_filter_is_scrapys_own(tmp_path: Path) -> None:
    crawler = get_crawler(Spider, {"JOBDIR": str(tmp_path)})
    df = CompactDupeFilter.from_crawler(crawler)
    assert not df.request_seen(Request("https://example.com/"))
    assert df.request_seen(Request("https://example.com/"))
    df.close("finished")
    assert (tmp_path / "requests.seen").stat().st_size > 0
    again = CompactDupeFilter.from_crawler(crawler)                   # read back by the next run
    assert again.request_seen(Request("https://example.com/"))
    again.close("finished")
