"""The spider's compact per-URL memory (spiders.seen): what goes in comes back out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from spiders.seen import ListingDates, SeenUrls


def test_seen_urls_remember_what_was_added_and_nothing_else() -> None:
    seen = SeenUrls()
    urls = [f"https://example.com/2024/05/{i:05d}-story" for i in range(20_000)]
    for url in urls[::2]:
        seen.add(url)
    seen.add(urls[0])      # twice: still one
    assert len(seen) == 10_000
    assert all(url in seen for url in urls[::2])
    assert not any(url in seen for url in urls[1::2])
    assert 42 not in seen


def test_listing_dates_give_back_the_exact_date_in_utc() -> None:
    dates = ListingDates()
    moscow = timezone(timedelta(hours=3))
    when = datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=moscow)
    dates["https://example.com/a"] = when
    assert dates["https://example.com/a"] == when
    assert dates["https://example.com/a"].tzinfo == UTC
    assert dates.get("https://example.com/a") == when
    assert "https://example.com/a" in dates and "https://example.com/b" not in dates
    assert dates.get("https://example.com/b") is None
    with pytest.raises(KeyError):
        dates["https://example.com/b"]
    old = datetime(1969, 7, 20, 20, 17, tzinfo=UTC)       # before the epoch too
    dates["https://example.com/a"] = old
    assert dates["https://example.com/a"] == old
    assert len(dates) == 1


def test_a_listing_date_without_time_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        ListingDates()["https://example.com/a"] = datetime(2024, 5, 1)
