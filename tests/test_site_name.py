"""``site_name`` of a page that does not declare one: the registered domain's name, by the Public Suffix List."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from crawler.extraction import extract

PAGE = "<html><head><title>Rain returns to the valley</title></head><body><p>Some text.</p></body></html>"


@pytest.mark.parametrize(("url", "name"), [
    ("https://www.bbc.co.uk/news/1", "bbc"),                 # not "co"
    ("https://smh.com.au/national/story", "smh"),            # not "com"
    ("https://www.nationalgeographic.co.uk/x", "nationalgeographic"),
    ("https://news.example.com/a", "example"),
    ("https://gregoryszorc.com/blog/2020/01/13/x/", "gregoryszorc"),
    ("https://WWW.Example.ORG./a", "example"),
    ("https://xn--bcher-kva.de/a", "bücher"),                # punycode shown as the name it stands for
    ("http://127.0.0.1:8000/news/1", None),                  # an IP address names no site (not "0")
    ("http://[::1]:8000/news/1", None),
    ("http://localhost:8000/news/1", None),
    ("http://intranet.corp/a", None),                        # no public suffix
    ("https://co.uk/a", None),                               # a public suffix alone
])
def test_site_name_without_a_declared_one_is_the_registered_domains_name(url: str, name: str | None) -> None:
    assert extract(PAGE, url).site_name == name


def test_a_declared_site_name_and_a_title_suffix_still_come_first() -> None:
    declared = PAGE.replace("<head>", '<head><meta property="og:site_name" content="BBC News">')
    assert extract(declared, "https://www.bbc.co.uk/news/1").site_name == "BBC News"
    titled = PAGE.replace("Rain returns to the valley", "Rain returns to the valley | BBC News")
    assert extract(titled, "https://www.bbc.co.uk/news/1").site_name == "BBC News"


def test_the_suffix_list_is_never_fetched(monkeypatch: Any) -> None:
    """Extraction is offline: the Public Suffix List is the snapshot bundled with tldextract."""
    from crawler import extract_meta

    extract_meta._suffixes.cache_clear()

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("extraction opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    assert extract(PAGE, "https://www.abc.net.au/news/1").site_name == "abc"
