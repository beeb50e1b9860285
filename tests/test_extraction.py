"""extract(): article text and normalized metadata from hand-written pages."""

from __future__ import annotations

from crawler.extraction import Extraction, extract

ARTICLE = """<html lang="en"><head><title>Rain returns - Example News</title></head>
<body><article><h1>Rain returns</h1>
<p>After weeks of drought the rain came back to the valley on Tuesday, farmers said.</p>
<p>The reservoir rose by two metres overnight and the ban on watering gardens was lifted.</p>
</article></body></html>"""


def test_returns_text_and_title() -> None:
    e = extract(ARTICLE, "https://news.example.com/2021/04/14/rain")
    assert isinstance(e, Extraction)
    assert "reservoir rose by two metres" in e.text
    assert e.title == "Rain returns"


def test_empty_input_gives_empty_result() -> None:
    e = extract("", "https://example.com/")
    assert e.text == "" and e.title is None and e.authors == ()
    assert e.to_dict()["authors"] == []
