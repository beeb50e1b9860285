"""crawler.switchinterval: the GIL switch interval is set for the crawl and restored after it."""

from __future__ import annotations

import sys

import pytest
from scrapy import Spider
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler

from crawler.switchinterval import SwitchInterval


def test_set_while_the_spider_runs_and_restored_after() -> None:
    before = sys.getswitchinterval()
    crawler = get_crawler(Spider, settings_dict={"GIL_SWITCH_INTERVAL": 0.0003})
    ext = SwitchInterval.from_crawler(crawler)
    spider = Spider(name="s")
    ext.spider_opened(spider)
    try:
        assert sys.getswitchinterval() == pytest.approx(0.0003)
    finally:
        ext.spider_closed(spider)
    assert sys.getswitchinterval() == before


@pytest.mark.parametrize(("value", "error"), [(None, NotConfigured), ("0", ValueError), ("2", ValueError),
                                              ("-0.001", ValueError), ("abc", ValueError)])
def test_off_or_out_of_range(value: object, error: type[Exception]) -> None:
    crawler = get_crawler(Spider, settings_dict={"GIL_SWITCH_INTERVAL": value})
    with pytest.raises(error):
        SwitchInterval.from_crawler(crawler)
