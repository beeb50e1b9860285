"""crawler.urls: canonical URLs (one fetch per page) and the crawl scope."""

from __future__ import annotations

import re
import socket

import pytest

from crawler.urls import (
    TRACKING_PARAMS,
    Scope,
    canonicalize_url,
    is_valid_seed,
    registered_domain,
    seed_error,
)


@pytest.mark.parametrize(("url", "canonical"), [
    ("HTTP://WWW.Example.COM/Path/Page", "http://www.example.com/Path/Page"),          # path case kept
    ("http://example.com:80/a", "http://example.com/a"),
    ("https://example.com:443/a", "https://example.com/a"),
    ("https://example.com:8443/a", "https://example.com:8443/a"),
    ("http://127.0.0.1:8765", "http://127.0.0.1:8765/"),
    ("https://example.com/a#section-2", "https://example.com/a"),
    ("https://example.com/a?utm_source=x&utm_medium=email&utm_campaign=c", "https://example.com/a"),
    ("https://example.com/a?UTM_Source=x&id=3", "https://example.com/a?id=3"),
    ("https://example.com/a?gclid=1&b=2&fbclid=3&a=1&msclkid=4", "https://example.com/a?b=2&a=1"),
    ("https://example.com/a?mc_cid=1&mc_eid=2&yclid=3&_ga=4&igshid=5&ref_src=twsrc", "https://example.com/a"),
    ("https://example.com/a?dclid=1&gbraid=2&wbraid=3&page=2", "https://example.com/a?page=2"),
    ("https://example.com/search?q=a+b&z=1&a=2", "https://example.com/search?q=a+b&z=1&a=2"),   # order kept
    ("https://example.com/a?empty=&flag", "https://example.com/a?empty=&flag"),
    ("https://bücher.example/straße?q=ü", "https://xn--bcher-kva.example/stra%C3%9Fe?q=%C3%BC"),
    ("https://example.com/a b", "https://example.com/a%20b"),
    ("https://example.com/%7Euser", "https://example.com/%7Euser"),
    ("  https://example.com/a  ", "https://example.com/a"),
    ("https://example.com/a;jsessionid=0A1B2C?id=1&PHPSESSID=9", "https://example.com/a?id=1"),
    ("https://example.com/a;v=2", "https://example.com/a;v=2"),                      # other path params kept
    ("https://Example.com./a", "https://example.com/a"),
])
def test_canonicalize_url(url: str, canonical: str) -> None:
    assert canonicalize_url(url) == canonical
    assert canonicalize_url(canonical) == canonical          # idempotent


def test_tracking_copies_collapse_into_one_url() -> None:
    copies = ["https://news.example.org/2021/04/14/story-a1",
              "https://news.example.org/2021/04/14/story-a1?utm_source=twitter&utm_medium=social",
              "https://NEWS.example.org:443/2021/04/14/story-a1?gclid=abc",
              "https://news.example.org/2021/04/14/story-a1?fbclid=x#comments"]
    assert len({canonicalize_url(u) for u in copies}) == 1


def test_the_tracking_list_is_documented_and_lower_case() -> None:
    assert {"gclid", "fbclid", "msclkid", "mc_cid", "yclid", "_ga", "igshid", "ref_src"} <= TRACKING_PARAMS
    assert all(p == p.lower() for p in TRACKING_PARAMS)


def test_canonicalize_rejects_urls_without_host() -> None:
    with pytest.raises(ValueError, match="no host"):
        canonicalize_url("/relative/path")


@pytest.mark.parametrize(("host", "domain"), [
    ("www.bbc.co.uk", "bbc.co.uk"),
    ("news.bbc.co.uk", "bbc.co.uk"),
    ("WWW.TheMoscowTimes.com", "themoscowtimes.com"),
    ("example.com:8080", "example.com"),
    ("127.0.0.1", "127.0.0.1"),
    ("127.0.0.1:8765", "127.0.0.1"),
    ("[::1]:8080", "[::1]"),
    ("localhost", "localhost"),
    ("a.b.example.com.au", "example.com.au"),
])
def test_registered_domain(host: str, domain: str) -> None:
    assert registered_domain(host) == domain


def test_registered_domain_never_touches_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("registered_domain tried to open a connection")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    assert registered_domain("www.some-brand-new-name.co.jp") == "some-brand-new-name.co.jp"


@pytest.mark.parametrize(("url", "problem"), [
    ("https://example.com/", None),
    ("http://127.0.0.1:8765/a", None),
    ("ftp://example.com/", "must start with http:// or https://"),
    ("example.com", "must start with http:// or https://"),
    ("https://", "has no host"),
    ("http://example.com:99999/", "malformed"),
])
def test_seed_checks(url: str, problem: str | None) -> None:
    error = seed_error(url)
    assert (error is None) == (problem is None)
    assert is_valid_seed(url) == (problem is None)
    if problem:
        assert error is not None and problem in error


def test_scope_by_registered_domain() -> None:
    scope = Scope.for_seeds(["https://www.example.co.uk/"], extra_domains=("cdn.example.net",))
    assert scope.domains == {"example.co.uk", "example.net"}
    assert scope.allows("https://news.example.co.uk/a")
    assert scope.allows("http://example.co.uk/a")
    assert scope.allows("https://img.example.net/x")
    assert not scope.allows("https://example.com/a")
    assert not scope.allows("https://other.co.uk/a")
    assert not scope.allows("mailto:editor@example.co.uk")
    assert not scope.allows("ftp://example.co.uk/file")


def test_scope_for_an_ip_is_that_ip_on_any_port() -> None:
    scope = Scope.for_seeds(["http://127.0.0.1:8765/"])
    assert scope.allows("http://127.0.0.1:8765/a")
    assert scope.allows("http://127.0.0.1:9000/a")
    assert not scope.allows("http://127.0.0.2:8765/a")
    assert not scope.allows("http://localhost:8765/a")


def test_scope_allow_and_deny() -> None:
    scope = Scope.for_seeds(["https://example.com/"], allow=(re.compile(r"/20\d\d/"), re.compile(r"/news")),
                            deny=(re.compile(r"/2020/"),))
    assert scope.allows("https://example.com/2021/04/14/a")
    assert scope.allows("https://example.com/news?page=2")
    assert not scope.allows("https://example.com/2020/01/01/a")      # deny wins over allow
    assert not scope.allows("https://example.com/about")             # no allow matches
    assert scope.matches_filters("https://elsewhere.org/news")       # filters alone ignore the domain
    assert not scope.in_domain("https://elsewhere.org/news")
