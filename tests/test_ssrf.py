"""The crawl never connects where it must not (crawler.netguard): real crawls redirected towards cloud
metadata, other loopback addresses and ports, IPv6 and IPv4-mapped forms, private networks and non-HTTP
schemes; the address rules themselves; credentials dropped on cross-origin redirects."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import pytest
from scrapy import Request
from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.http import Response
from scrapy.utils.test import get_crawler

from crawler.netguard import NetGuardMiddleware, Policy, blocked_reason
from tests.misbehave import Misbehaving
from tests.test_faults_server import Crawl, run_crawl

SETTINGS = {"RETRY_TIMES": "0", "DOWNLOAD_TIMEOUT": "10"}


@pytest.mark.parametrize(("address", "reason"), [
    ("169.254.169.254", "cloud metadata"),
    ("fd00:ec2::254", "cloud metadata"),
    ("127.0.0.1", "loopback"),
    ("127.0.0.2", "loopback"),
    ("::1", "loopback"),
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:169.254.169.254", "cloud metadata"),
    ("::ffff:10.1.2.3", "private"),
    ("64:ff9b::a00:1", "private"),        # NAT64 form of 10.0.0.1
    ("2002:c0a8:0101::1", "private"),     # 6to4 form of 192.168.1.1
    ("10.0.0.1", "private"),
    ("172.16.5.4", "private"),
    ("192.168.1.1", "private"),
    ("fc00::1", "private"),
    ("fe80::1", "link-local"),
    ("169.254.1.1", "link-local"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("100.64.0.1", "not globally routable"),  # carrier-grade NAT
])
def test_non_public_addresses_are_blocked(address: str, reason: str) -> None:
    got = blocked_reason(ipaddress.ip_address(address))
    assert got is not None and got.startswith(reason)


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) is None


def test_policy_allows_the_seed_origin_and_allowed_networks_only() -> None:
    policy = Policy.from_allow(["10.0.0.0/8", "intranet.example"])
    policy.add_seeds(["http://127.0.0.1:8080/news/"])
    loopback = ipaddress.ip_address("127.0.0.1")
    assert policy.check("127.0.0.1", 8080, loopback) is None
    assert policy.check("127.0.0.1", 8081, loopback) is not None          # same host, another port
    assert policy.check("localhost", 8081, loopback) is not None
    assert policy.check("127.0.0.2", 8080, ipaddress.ip_address("127.0.0.2")) is not None
    assert policy.check("x.example", 80, ipaddress.ip_address("10.9.9.9")) is None
    assert policy.check("intranet.example", 80, ipaddress.ip_address("192.168.0.7")) is None
    assert policy.check("evil.example", 80, ipaddress.ip_address("192.168.0.7")) is not None
    assert policy.name_allowed("127.0.0.1") and not policy.name_allowed("localhost")


def test_scrapy_redirect_drops_credentials_across_origins_and_the_guard_too() -> None:
    crawler = get_crawler(settings_dict={"NETGUARD_ENABLED": True})
    redirect = RedirectMiddleware.from_crawler(crawler)
    source = Request("http://a.example/start", headers={"Authorization": "Basic c2VjcmV0", "Cookie": "s=1"})
    same = redirect.process_response(source, Response(source.url, status=302, headers={"Location": "/next"}))
    assert isinstance(same, Request) and same.headers.get("Authorization") and same.headers.get("Cookie")
    other = redirect.process_response(
        source, Response(source.url, status=302, headers={"Location": "http://b.example/x"}))
    assert isinstance(other, Request)
    assert b"Authorization" not in other.headers and b"Cookie" not in other.headers
    # A header put back on a later hop (e.g. by DEFAULT_REQUEST_HEADERS) is dropped by the guard.
    later = other.replace(headers={"Authorization": "Basic c2VjcmV0"})
    NetGuardMiddleware._strip_credentials(later)
    assert b"Authorization" not in later.headers


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/", "data:text/plain,x", "gopher://x/"])
def test_guard_refuses_other_schemes_whoever_asks(url: str) -> None:
    import asyncio

    from crawler.netguard import BlockedAddress

    guard = NetGuardMiddleware(get_crawler(), Policy())
    with pytest.raises(BlockedAddress, match="only http and https"):
        asyncio.run(guard.process_request(Request(url)))


# --- real crawls ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[Misbehaving, ...]]:
    """The site (127.0.0.1), a service on another loopback address, one on another port, and an internal
    host that the second crawl is allowed to reach."""
    with Misbehaving() as site, Misbehaving(host="127.0.0.2") as other_addr, Misbehaving() as other_port, \
            Misbehaving(host="127.0.0.4") as internal:
        yield site, other_addr, other_port, internal


TARGETS = {
    "metadata": "http://169.254.169.254/latest/meta-data/",
    "metadata-v6": "http://[fd00:ec2::254]/latest/meta-data/",
    "ipv6-loopback": "http://[::1]:{port}/b/ok",
    "ipv4-mapped": "http://[::ffff:127.0.0.1]:{port}/b/ok",
    "private": "http://10.255.255.1/",
    "unspecified": "http://0.0.0.0:{port}/b/ok",
    "file": "file:///etc/passwd",
    "data": "data:text/html,<a href='http://169.254.169.254/'>x</a>",
    "ftp": "ftp://127.0.0.1/",
}


@pytest.fixture(scope="module")
def crawls(servers: tuple[Misbehaving, ...],
           tmp_path_factory: pytest.TempPathFactory) -> tuple[Crawl, Crawl]:
    site, other_addr, other_port, internal = servers
    targets = [t.format(port=site.port) for t in TARGETS.values()]
    targets += [other_addr.url("ok"), other_port.url("ok"), f"http://localhost:{other_port.port}/b/ok"]
    seeds = [site.url("redirect-to") + "?to=" + quote(t, safe="") for t in targets] + [site.url("ok")]
    guarded_tmp, allowed_tmp = tmp_path_factory.mktemp("guarded"), tmp_path_factory.mktemp("allowed")
    allowed_seed = [site.url("redirect-to") + "?to=" + quote(internal.url("echo-headers"), safe="")]
    with ThreadPoolExecutor(2) as pool:
        a = pool.submit(run_crawl, site, seeds, guarded_tmp / "data", guarded_tmp, SETTINGS)
        b = pool.submit(run_crawl, site, allowed_seed, allowed_tmp / "data", allowed_tmp,
                        {**SETTINGS, "NETGUARD_ALLOW": "127.0.0.4"})
        return a.result(), b.result()


def test_redirects_to_forbidden_places_are_not_followed(crawls: tuple[Crawl, Crawl],
                                                        servers: tuple[Misbehaving, ...]) -> None:
    guarded, _ = crawls
    site, other_addr, other_port, _internal = servers
    assert guarded.proc.returncode == 0, guarded.proc.stderr[-2000:]
    assert other_addr.requests == [] and other_port.requests == []
    for line in guarded.netlog:
        kind, where, *port = line.split(" ")
        if kind == "connect":
            assert (where, int(port[0])) == ("127.0.0.1", site.port), line
    assert site.url("ok") in guarded.records()  # the crawl went on
    log = guarded.log
    for target in ("169.254.169.254", "fd00:ec2::254", "::1", "::ffff:127.0.0.1", "10.255.255.1", "0.0.0.0"):
        assert f"{target} is " in log or f"{target}]" in log, target
    # Scrapy's RedirectMiddleware does not follow these; the 302 is where it ends (and is archived).
    for scheme in ("file", "ftp", "data"):
        assert f"Ignoring response <302 {site.url('redirect-to')}?to={scheme}%3A" in log
    assert f"localhost:{other_port.port}" in log


def test_every_redirect_hop_is_archived_even_when_not_followed(crawls: tuple[Crawl, Crawl]) -> None:
    guarded, _ = crawls
    statuses = [rec.http_status for uri, rec in guarded.responses().items() if "redirect-to" in uri]
    assert statuses and set(statuses) == {302}


def test_allowed_setting_lets_the_crawl_reach_an_internal_host(crawls: tuple[Crawl, Crawl],
                                                               servers: tuple[Misbehaving, ...]) -> None:
    _, allowed = crawls
    internal = servers[3]
    assert allowed.proc.returncode == 0, allowed.proc.stderr[-2000:]
    assert "/b/echo-headers" in internal.paths()


def test_seed_on_a_private_address_is_crawled(tmp_path: Path) -> None:
    with Misbehaving(host="127.0.0.3") as site:
        crawl = run_crawl(site, [site.url("ok")], tmp_path / "data", tmp_path, SETTINGS)
        assert crawl.proc.returncode == 0, crawl.proc.stderr[-2000:]
        assert site.url("ok") in crawl.records()


def test_cookies_on_make_no_request_for_the_public_suffix_list(tmp_path: Path) -> None:
    # Scrapy's cookie middleware would download the public suffix list on the first cookie it sees.
    with Misbehaving() as site:
        crawl = run_crawl(site, [site.url("set-cookie"), site.url("ok")], tmp_path / "data", tmp_path,
                          {**SETTINGS, "COOKIES_ENABLED": "True"})
        assert crawl.proc.returncode == 0, crawl.proc.stderr[-2000:]
        for line in crawl.netlog:
            kind, where, *port = line.split(" ")
            assert where == "127.0.0.1", line
        cookies_sent = [v for _m, path, headers in site.requests if path == "/b/ok" for k, v in headers
                        if k.lower() == "cookie"]
        assert cookies_sent in ([], ["session=abc"])  # the jar worked (or the pages were fetched in parallel)


def test_links_sitemaps_and_robots_sitemaps_never_reach_a_forbidden_address(tmp_path: Path) -> None:
    """Not only redirects: a link, a sitemap entry and a robots.txt ``Sitemap:`` line pointing at another
    port of the seed's address, another loopback address or cloud metadata are never connected to."""
    with Misbehaving() as other_port, Misbehaving(host="127.0.0.2") as other_addr:
        forbidden = [other_port.url("ok"), other_addr.url("ok"), "http://169.254.169.254/latest/meta-data/"]
        robots_sitemap = f"http://127.0.0.1:{other_port.port}/b/sitemap-to?to=" + quote(other_addr.url("ok"))
        with Misbehaving(robots="sitemap:" + robots_sitemap) as site:
            query = "&".join("to=" + quote(u, safe="") for u in forbidden)
            seeds = [site.url("links-to") + "?" + query, site.url("sitemap-to") + "?" + query]
            crawl = run_crawl(site, seeds, tmp_path / "data", tmp_path, SETTINGS)
            assert crawl.proc.returncode == 0, crawl.proc.stderr[-2000:]
            assert other_port.requests == [] and other_addr.requests == []
            for line in crawl.netlog:
                kind, where, *port = line.split(" ")
                if kind == "connect":
                    assert (where, int(port[0])) == ("127.0.0.1", site.port), line
            # in scope by host name (the seed's address, another port): refused by the guard, with a reason
            assert f"not fetching {other_port.url('ok')}: 127.0.0.1 is loopback" in crawl.log
            assert f"not fetching {robots_sitemap.split('?')[0]}" in crawl.log
            # the seeds themselves were archived and recorded: the crawl went on
            responses = crawl.responses()
            assert all(seed in responses for seed in seeds)
            assert site.url("links-to") + "?" + query in crawl.records()
