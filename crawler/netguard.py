"""Keep a crawl away from places it must not go: the machine it runs on and the networks around it.

A page, a redirect or a sitemap can point anywhere, including ``http://169.254.169.254/`` (cloud
metadata), ``http://127.0.0.1:6379/`` or a host name that resolves to a private address. The guard
checks the *address* of every connection:

- ``NetGuardMiddleware.process_request`` (downloader middleware, priority 960, so it sees every request
  last, redirect hops, retries and robots.txt/sitemap fetches included): only ``http``/``https``; the
  host is resolved (through the same caching resolver the connection then uses, so both see one answer)
  and the address checked; ``Authorization`` and ``Cookie`` are dropped once a redirect left the origin
  of the first request.
- ``GuardedResolver`` (``TWISTED_DNS_RESOLVER``): refuses to hand out a non-global address for a host
  name that is neither a seed's nor allowed, whoever asks.
- ``NetGuardMiddleware.process_response``: the peer address Scrapy reports (``response.ip_address``)
  is checked again before anything is archived.

Blocked: every address that is not globally routable by ``ipaddress`` (loopback, RFC 1918 private,
link-local incl. 169.254.169.254, unique-local and site-local IPv6, CGNAT, multicast, reserved,
unspecified), IPv4-mapped/NAT64/6to4 forms judged by the IPv4 address inside, plus the cloud metadata
addresses ``fd00:ec2::254`` and ``100.100.100.200``. Allowed anyway: a seed's own host and port
(crawling a site on the intranet is what the user asked for), and ``NETGUARD_ALLOW`` entries (host
names, addresses, CIDR networks).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response
from scrapy.resolver import CachingThreadedResolver
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet._resolver import HostResolution, SimpleResolverComplexifier
from twisted.internet.abstract import isIPv6Address
from twisted.internet.address import IPv6Address
from twisted.internet.defer import Deferred
from twisted.internet.error import DNSLookupError
from twisted.internet.interfaces import IHostnameResolver
from zope.interface import implementer

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_DEFAULT_PORTS = {"http": 80, "https": 443}
_METADATA = {ipaddress.ip_address("fd00:ec2::254"), ipaddress.ip_address("100.100.100.200")}
_SCHEMES = ("http", "https")


class BlockedAddress(IgnoreRequest):
    """A request to an address the guard forbids (an IgnoreRequest: the crawl goes on without it)."""


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in ipaddress.ip_network("64:ff9b::/96"):  # NAT64
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def blocked_reason(ip: IPAddress) -> str | None:
    """Why a crawl must not connect to ``ip`` (``None``: it is a public address)."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_v4(ip)
        if inner is not None:
            reason = blocked_reason(inner)
            return f"{reason} (inside {ip})" if reason else None
    if ip in _METADATA or str(ip) == "169.254.169.254":
        return "cloud metadata"
    for attr, reason in (("is_loopback", "loopback"), ("is_link_local", "link-local"),
                         ("is_unspecified", "unspecified"), ("is_multicast", "multicast"),
                         ("is_private", "private"), ("is_reserved", "reserved")):
        if getattr(ip, attr):
            return reason
    if not ip.is_global:
        return "not globally routable"
    return None


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 80)
    except ValueError:
        port = -1
    return host, port


def _ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


@dataclass
class Policy:
    """Which non-public destinations are allowed: the seeds' own origins and ``NETGUARD_ALLOW``."""

    origins: set[tuple[str, int]] = field(default_factory=set)
    hosts: set[str] = field(default_factory=set)
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = field(default_factory=list)

    @classmethod
    def from_allow(cls, entries: Iterable[str]) -> Policy:
        policy = cls()
        for entry in entries:
            entry = str(entry).strip()
            if not entry:
                continue
            try:
                policy.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                policy.hosts.add(entry.lower())
        return policy

    def add_seeds(self, urls: Iterable[str]) -> None:
        for url in urls:
            host, port = _host_port(url)
            if host:
                self.origins.add((host, port))

    def name_allowed(self, host: str) -> bool:
        """May ``host`` resolve to a non-public address at all (it is a seed's host or allowed)?"""
        host = host.lower()
        return host in self.hosts or any(h == host for h, _ in self.origins)

    def check(self, host: str, port: int, ip: IPAddress) -> str | None:
        """``None`` if connecting to ``ip`` for ``host:port`` is fine, else why not."""
        reason = blocked_reason(ip)
        if reason is None:
            return None
        host = host.lower().strip("[]")
        if (host, port) in self.origins or (str(ip), port) in self.origins:
            return None
        if host in self.hosts or any(ip in net for net in self.networks if net.version == ip.version):
            return None
        return f"{ip} is {reason}"


def offline_public_suffixes() -> None:
    """No request the crawl did not ask for: Scrapy's cookie middleware (``COOKIES_ENABLED``) splits
    domains with a module-level ``TLDExtract`` built with its defaults, which download the public suffix
    list from the internet on first use. Swap it for one that uses tldextract's bundled snapshot, as
    ``crawler.urls`` does."""
    from scrapy.downloadermiddlewares import cookies
    from tldextract import TLDExtract

    cookies._split_domain = TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True,
                                       include_psl_private_domains=True)


class GuardedResolver(CachingThreadedResolver):
    """Scrapy's caching resolver that will not resolve a host name to a non-public address unless that
    name is a seed's host or in ``NETGUARD_ALLOW`` (the middleware registers the seeds)."""

    def __init__(self, reactor: Any, cache_size: int, timeout: float, policy: Policy, enabled: bool) -> None:
        super().__init__(reactor, cache_size, timeout)
        self.policy = policy
        self.enabled = enabled

    @classmethod
    def from_crawler(cls, crawler: Any, reactor: Any) -> GuardedResolver:
        s = crawler.settings
        cache_size = s.getint("DNSCACHE_SIZE") if s.getbool("DNSCACHE_ENABLED") else 0
        return cls(reactor, cache_size, s.getfloat("DNS_TIMEOUT"), Policy.from_allow(s.getlist("NETGUARD_ALLOW")),
                   s.getbool("NETGUARD_ENABLED"))

    def install_on_reactor(self) -> None:
        """Install as the reactor's resolver, behind a name resolver that also connects to IPv6 literals
        (``http://[::1]:8080/``): Twisted hands a simple resolver's answers out as IPv4 addresses only."""
        global _installed
        _installed = self
        self.reactor.installNameResolver(_LiteralNameResolver(self))  # type: ignore[arg-type]  # zope interface

    def getHostByName(self, name: str, timeout: Any = ()) -> Deferred[str]:
        d = super().getHostByName(name, timeout)
        if self.enabled:
            d.addCallback(self._check, name)
        return d

    def _check(self, address: str, name: str) -> str:
        ip = _ip(address)
        if ip is not None and blocked_reason(ip) and not self.policy.name_allowed(name):
            if not any(ip in net for net in self.policy.networks if net.version == ip.version):
                raise DNSLookupError(f"{name} resolves to {address} ({blocked_reason(ip)}): refused by "
                                     "crawler.netguard; add it to NETGUARD_ALLOW if this is intended")
        return address


_installed: GuardedResolver | None = None  # the resolver the running reactor uses (install_on_reactor)


@implementer(IHostnameResolver)
class _LiteralNameResolver:
    """A host name goes to the GuardedResolver (as Twisted does for a simple resolver); an IPv6 literal is its
    own address, checked by the same guard (a refusal is logged and leaves no address to connect to)."""

    def __init__(self, simple: GuardedResolver) -> None:
        self.simple = simple
        self.names = SimpleResolverComplexifier(simple)  # type: ignore[arg-type]  # zope interface

    def resolveHostName(self, resolutionReceiver: Any, hostName: str, portNumber: int = 0,
                        addressTypes: Any = None, transportSemantics: str = "TCP") -> Any:
        if not isIPv6Address(hostName):
            return self.names.resolveHostName(resolutionReceiver, hostName, portNumber, addressTypes,
                                              transportSemantics)
        resolution = HostResolution(hostName)
        resolutionReceiver.resolutionBegan(resolution)
        try:
            if self.simple.enabled:
                self.simple._check(hostName, hostName)
            resolutionReceiver.addressResolved(IPv6Address("TCP", hostName, portNumber))
        except DNSLookupError as exc:
            logger.warning(str(exc))
        resolutionReceiver.resolutionComplete()
        return resolution


class NetGuardMiddleware:
    """Downloader middleware: scheme, resolved address and peer address checks; credential stripping."""

    def __init__(self, crawler: Crawler, policy: Policy) -> None:
        self.crawler = crawler
        self.policy = policy
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> NetGuardMiddleware:
        offline_public_suffixes()
        if not crawler.settings.getbool("NETGUARD_ENABLED"):
            raise NotConfigured("NETGUARD_ENABLED is off")
        return cls(crawler, Policy.from_allow(crawler.settings.getlist("NETGUARD_ALLOW")))

    def spider_opened(self, spider: Spider) -> None:
        options = getattr(spider, "options", None)
        seeds = list(getattr(options, "seeds", None) or getattr(spider, "start_urls", None) or [])
        self.policy.add_seeds(seeds)
        resolver = self._resolver()
        if resolver is not None:
            resolver.policy.add_seeds(seeds)

    @staticmethod
    def _resolver() -> GuardedResolver | None:
        return _installed

    def _block(self, request: Request, why: str) -> BlockedAddress:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value("netguard/blocked")
        logger.warning("not fetching %s: %s", request.url, why)
        return BlockedAddress(f"crawler.netguard refused {request.url}: {why}")

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        scheme = urlsplit(request.url).scheme.lower()
        if scheme not in _SCHEMES:
            raise self._block(request, f"scheme {scheme!r} is not followed (only http and https)")
        self._strip_credentials(request)
        host, port = _host_port(request.url)
        if not host or port < 0:
            raise self._block(request, "no valid host or port")
        ip = _ip(host)
        if ip is None:
            resolver = self._resolver()
            if resolver is None:  # another resolver installed: the response check below still applies
                return
            try:
                address = await maybe_deferred_to_future(resolver.getHostByName(host))
            except DNSLookupError as exc:
                if "crawler.netguard" in str(exc):
                    raise self._block(request, str(exc)) from None
                return  # a plain DNS failure: let the download fail and be logged as usual
            ip = _ip(address)
            if ip is None:
                return
        why = self.policy.check(host, port, ip)
        if why:
            raise self._block(request, why)

    def process_response(self, request: Request, response: Response, spider: Spider | None = None) -> Response:
        peer = response.ip_address
        if peer is None:
            return response
        host, port = _host_port(response.url)
        why = self.policy.check(host, port, peer)
        if why:
            raise self._block(request, f"connected to {why}")
        return response

    @staticmethod
    def _strip_credentials(request: Request) -> None:
        """Scrapy drops these on cross-origin redirects already; this also covers any later hop."""
        chain = request.meta.get("redirect_urls")
        if not chain:
            return
        first = urlsplit(chain[0])
        here = urlsplit(request.url)
        if (first.scheme, first.hostname, first.port) != (here.scheme, here.hostname, here.port):
            for name in (b"Authorization", b"Cookie"):
                if name in request.headers:
                    del request.headers[name]
