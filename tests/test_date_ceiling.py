"""benchmarks/date_ceiling.py: finding a day written in a page, and counting the misses it cannot explain."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from date_ceiling import ceiling, date_misses, truth_day, where_written  # noqa: E402

DAY = dt.date(2021, 4, 14)


def test_truth_day_reads_as_the_scorer_and_rejects_impossible_dates() -> None:
    assert truth_day("2021-04-14") == DAY
    assert truth_day("2021/4/14 10:00") == DAY
    assert truth_day("2022-29-11") is None  # month 29
    assert truth_day("") is None


def test_the_day_in_every_common_written_form() -> None:
    forms = {
        "y-m-d": '<meta content="2021-04-14T10:00:00Z">',
        "d.m.y": "<span>14.4.21</span>",
        "m/d/y": "<p>Posted 04/14/2021</p>",
        "d month y": "<p>14 de abril de 2021</p>",
        "month d y": "<p>April 14th, 2021</p>",
        "y年m月d日": "<p>2021年4月14日</p>",
    }
    for name, page in forms.items():
        assert name in where_written(page, DAY), (name, page)
    assert where_written("<p>14 &#1072;&#1087;&#1088;&#1077;&#1083;&#1103; 2021</p>", DAY) == ["d month y"]


def test_other_days_and_longer_numbers_are_not_the_day() -> None:
    assert where_written("<p>2021-04-15, 114.04.2021, 2021-04-141, April 1, 2021</p>", DAY) == []


def test_misses_split_into_unreachable_and_missed() -> None:
    truth = {
        "u1": {"file": "a.html", "date": "2021-04-14"},  # right
        "u2": {"file": "b.html", "date": "2021-04-14"},  # written in the page, we said another day
        "u3": {"file": "c.html", "date": "2021-04-14"},  # not written anywhere
        "u4": {"file": "d.html", "date": "2021-29-04"},  # not a date
        "u5": {"file": "e.html"},  # no date annotated: not counted
    }
    pages = [{"url": url, "predicted": {"date": guess}} for url, guess in
             (("u1", "2021-04-14T08:00:00+02:00"), ("u2", "2020-01-01"), ("u3", None), ("u4", "2021-04-29"),
              ("u5", "2021-04-14"))]
    html = {"b.html": "<p>Published 14 April 2021</p>", "c.html": "<p>nothing here</p>"}
    counts, misses = date_misses(truth, pages, html.__getitem__)
    assert counts == {"pages with a date": 4, "right": 1, "malformed truth": 1, "not in the page": 1,
                      "in the page, missed": 1}
    assert ceiling(counts) == 0.5
    assert sorted((kind, file) for kind, file, *_ in misses) == [
        ("in the page, missed", "b.html"), ("malformed truth", "d.html"), ("not in the page", "c.html")]
