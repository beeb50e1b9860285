"""URL canonicalization and crawl scope: one page is fetched once per crawl, and only inside the scope.

``canonicalize_url`` is applied to every URL before it becomes a request, so that ``?utm_source=...``
copies, ``#fragments``, ``:80``/``:443`` and upper-case hosts of the same page collapse into one URL.
Path case, the order of the remaining query parameters and their values are kept: servers may treat them
as meaningful.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from urllib.parse import unquote_plus, urljoin, urlsplit, urlunsplit

import tldextract
from w3lib.url import safe_url_string

# Query parameters that only track where a visitor came from; they never change the page.
# Matched case-insensitively on the decoded parameter name. Any name starting with "utm_" is dropped too.
TRACKING_PARAMS: frozenset[str] = frozenset(
    {
        "gclid", "gclsrc", "dclid", "gbraid", "wbraid",     # Google Ads / DoubleClick
        "_ga", "_gl",                                       # Google Analytics cross-domain linker
        "fbclid",                                           # Facebook
        "msclkid",                                          # Microsoft Advertising
        "mc_cid", "mc_eid",                                 # Mailchimp
        "yclid", "ysclid",                                  # Yandex
        "igshid",                                           # Instagram
        "twclid",                                           # Twitter/X Ads
        "ttclid",                                           # TikTok
        "li_fat_id",                                        # LinkedIn
        "ref_src", "ref_url",                               # Twitter share widgets
        "_hsenc", "_hsmi", "__hssc", "__hstc", "__hsfp", "hsctatracking",   # HubSpot
        "mkt_tok",                                          # Marketo
        "oly_anon_id", "oly_enc_id",                        # Omeda
        "vero_id", "vero_conv",                             # Vero
        "rb_clickid", "s_kwcid", "ef_id",                   # Adobe
        "wickedid", "irclickid", "cmpid",                   # misc. ad networks
        "jsessionid", "phpsessid", "aspsessionid", "cfid", "cftoken",   # session ids: never change the page
    }
)
TRACKING_PREFIXES: tuple[str, ...] = ("utm_",)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_PATH_SESSION = re.compile(r";(?:jsessionid|phpsessid)=[^/?;]*", re.IGNORECASE)   # /a;jsessionid=XYZ


def _is_tracking(name: str) -> bool:
    key = unquote_plus(name).strip().lower()
    return key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES)


# Pages repeat the same navigation links: most calls are cache hits. Small, since every entry (two URLs,
# ~400 bytes) stays: 65,536 made a 50,000-article crawl's memory grow by ~25 MB (benchmarks: Memory).
@lru_cache(maxsize=4096)
def canonicalize_url(url: str) -> str:
    """The form of ``url`` used for requests and duplicate detection.

    Lower-cases scheme and host, encodes IDN hosts as punycode, drops the default port, the fragment,
    tracking and session parameters (``TRACKING_PARAMS``, ``utm_*``, ``;jsessionid=``), normalizes percent-encoding (w3lib
    ``safe_url_string``) and gives an empty path as ``/``. Raises ``ValueError`` for a URL without host.
    """
    safe = safe_url_string(url.strip())
    parts = urlsplit(safe)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise ValueError(f"not an absolute URL (no host): {url!r}")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"bad port in URL {url!r}: {exc}") from exc
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        netloc = f"{host}:{port}"
    if parts.username or parts.password:
        userinfo = parts.username or ""
        if parts.password:
            userinfo += f":{parts.password}"
        netloc = f"{userinfo}@{netloc}"
    query = "&".join(
        p for p in parts.query.split("&") if p and not _is_tracking(p.partition("=")[0])
    )
    path = _PATH_SESSION.sub("", parts.path) or "/"
    return urlunsplit((scheme, netloc, path, query, ""))


@cache
def _extractor() -> tldextract.TLDExtract:
    # The bundled Public Suffix List snapshot only: never fetch the list, never write a cache file.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


@lru_cache(maxsize=4096)
def registered_domain(host: str) -> str:
    """The registered domain of ``host`` (``www.bbc.co.uk`` -> ``bbc.co.uk``), lower-case, without port.

    An IP address is its own scope; a host without a public suffix (``localhost``) is returned as is.
    """
    host = host.strip().lower().rstrip(".")
    if host.startswith("["):  # [v6]:port
        return host.partition("]")[0] + "]"
    if host.count(":") == 1:
        host = host.partition(":")[0]
    if _is_ip(host):
        return host
    parts = _extractor().extract_str(host)
    return parts.top_domain_under_public_suffix or host


def url_host(url: str) -> str:
    """The host of ``url``, lower-case, without port (``""`` when there is none)."""
    return (urlsplit(url).hostname or "").rstrip(".")


def seed_error(url: str) -> str | None:
    """Why ``url`` cannot be a seed (one line), or ``None`` when it can."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018  (raises ValueError for a bad port)
    except ValueError as exc:
        return f"malformed seed URL {url!r}: {exc}"
    if parts.scheme.lower() not in _DEFAULT_PORTS:
        return f"seed URL {url!r} must start with http:// or https://"
    if not parts.hostname:
        return f"seed URL {url!r} has no host"
    if parts.username is not None or parts.password is not None:
        return f"seed URL {url!r} carries a user name or password (user:pass@): they are not sent; give the URL without them"
    return None


def join_url(base: str, href: str) -> str | None:
    """``href`` made absolute against ``base`` (``urljoin``), or None when either is malformed (``http://[bad``):
    a broken link or ``<base href>`` on someone's page, which must not cost the rest of the page."""
    try:
        return urljoin(base, href)
    except ValueError:
        return None


def is_valid_seed(url: str) -> bool:
    """True for an absolute http(s) URL with a host."""
    return seed_error(url) is None


@dataclass(frozen=True)
class Scope:
    """Which URLs a crawl may fetch: registered domains, then ``allow`` (any must match, when given) and
    ``deny`` (none may match) regexes searched in the canonical URL."""

    domains: frozenset[str]
    allow: tuple[re.Pattern[str], ...] = ()
    deny: tuple[re.Pattern[str], ...] = ()

    @classmethod
    def for_seeds(
        cls,
        seeds: list[str],
        *,
        allow: tuple[re.Pattern[str], ...] = (),
        deny: tuple[re.Pattern[str], ...] = (),
        extra_domains: tuple[str, ...] = (),
    ) -> Scope:
        domains = {registered_domain(url_host(s)) for s in seeds}
        domains.update(registered_domain(d) for d in extra_domains)
        return cls(frozenset(domains), allow, deny)

    def in_domain(self, url: str) -> bool:
        """True when ``url`` is http(s) and its host is under one of the scope's registered domains."""
        parts = urlsplit(url)
        if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
            return False
        return registered_domain(parts.hostname) in self.domains

    def matches_filters(self, url: str) -> bool:
        """True when ``url`` passes the allow and deny regexes (domains not checked)."""
        if self.allow and not any(p.search(url) for p in self.allow):
            return False
        return not any(p.search(url) for p in self.deny)

    def allows(self, url: str) -> bool:
        """True when ``url`` is in the domains and passes the allow and deny regexes."""
        return self.in_domain(url) and self.matches_filters(url)
