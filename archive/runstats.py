"""The stats of one crawl run in several processes (``crawler crawl --processes``), each a run of its own:
what the whole crawl did, from its runs' stats. Plain values in, plain values out (no Scrapy)."""

from __future__ import annotations

from typing import Any


def merge_stats(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One crawl's stats from its runs': numbers add up, times span all of them, the rest is the first's."""
    merged: dict[str, Any] = {}
    for stats in parts:
        for key, value in stats.items():
            if key == "start_time":
                merged[key] = min(merged.get(key, value), value)
            elif key in ("finish_time", "elapsed_time_seconds"):
                merged[key] = max(merged.get(key, value), value)
            elif isinstance(value, int | float) and not isinstance(value, bool):
                before = merged.get(key)
                # a number adds up; None (Scrapy's rates of a crawl under a second) counts as nothing
                merged[key] = value + before if isinstance(before, int | float) else value
            elif merged.get(key) is None:
                merged[key] = value
    return merged

