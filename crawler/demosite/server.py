"""Serve a ``Site`` over HTTP/1.1 on 127.0.0.1 from a daemon thread, logging every request.

Behaviour a crawler meets on real sites: keep-alive with Content-Length on every response, gzip
Content-Encoding for HTML when the client accepts it (``Vary: Accept-Encoding``), ETag and Last-Modified
with 304 answers to ``If-None-Match`` / ``If-Modified-Since``, HEAD, 301 redirects, 404 and 410 pages.
"""

from __future__ import annotations

import threading
from datetime import UTC
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import NamedTuple

from crawler.demosite.generate import ArticleTruth
from crawler.demosite.site import Page, Site


class LoggedRequest(NamedTuple):
    method: str
    path: str                          # request target as sent: path and query
    headers: tuple[tuple[str, str], ...]


def _not_modified(page: Page, if_none_match: str | None, if_modified_since: str | None) -> bool:
    if if_none_match is not None:       # takes precedence over If-Modified-Since (RFC 9110 13.2.2)
        tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
        return page.etag is not None and ("*" in tags or page.etag in tags)
    if if_modified_since is None or page.last_modified is None:
        return False
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False                    # an unparsable date is ignored, as RFC 9110 says
    return since.tzinfo is not None and page.last_modified.replace(microsecond=0) <= since


def _accepts_gzip(accept_encoding: str) -> bool:
    for item in accept_encoding.lower().split(","):
        name, _, params = item.partition(";")
        if name.strip() in ("gzip", "*"):
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30                        # idle keep-alive connections are closed after this many seconds
    server: _Server

    def do_GET(self) -> None:
        self._respond(head=False)

    def do_HEAD(self) -> None:
        self._respond(head=True)

    def log_message(self, format: str, *args: object) -> None:
        """Requests are logged in ``RunningServer.requests``, not on stderr."""

    def _respond(self, *, head: bool) -> None:
        self.server.log_request(LoggedRequest(self.command, self.path, tuple(self.headers.items())))
        page = self.server.site.get(self.path)
        gzip_ok = page.gzipped is not None and _accepts_gzip(self.headers.get("Accept-Encoding", ""))
        etag = f"W/{page.etag}" if gzip_ok else page.etag     # as nginx does for compressed variants
        cache_headers = [("ETag", etag)] if etag and page.status == 200 else []
        if page.last_modified is not None and page.status == 200:
            cache_headers.append(("Last-Modified", format_datetime(page.last_modified.astimezone(UTC), usegmt=True)))
        if page.status == 200 and _not_modified(page, self.headers.get("If-None-Match"),
                                                self.headers.get("If-Modified-Since")):
            self.send_response(304)
            for name, value in cache_headers:
                self.send_header(name, value)
            self.end_headers()
            return
        body, encoding = (page.gzipped, "gzip") if gzip_ok and page.gzipped else (page.body, None)
        self.send_response(page.status)
        self.send_header("Content-Type", page.content_type)
        self.send_header("Content-Length", str(len(body)))
        if encoding:
            self.send_header("Content-Encoding", encoding)
        if page.gzipped is not None:
            self.send_header("Vary", "Accept-Encoding")
        if page.location:
            self.send_header("Location", page.location)
        for name, value in cache_headers:
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], site: Site) -> None:
        super().__init__(address, _Handler)
        self.site = site
        self._lock = threading.Lock()
        self.log: list[LoggedRequest] = []

    def log_request(self, entry: LoggedRequest) -> None:
        with self._lock:
            self.log.append(entry)


class RunningServer:
    """A running demo site: ``base_url``, the ``site`` (truth, mutations) and the request log."""

    def __init__(self, httpd: _Server) -> None:
        self._httpd = httpd
        self.site = httpd.site
        host, port = httpd.server_address[:2]
        self.base_url = f"http://{host!s}:{port}"
        self._thread = threading.Thread(target=httpd.serve_forever, name=f"demosite-{port}", daemon=True)
        self._thread.start()

    @property
    def requests(self) -> list[LoggedRequest]:
        """A snapshot of every request received so far, in arrival order."""
        with self._httpd._lock:
            return list(self._httpd.log)

    def requested_paths(self) -> list[str]:
        return [r.path for r in self.requests]

    def clear_requests(self) -> None:
        with self._httpd._lock:
            self._httpd.log.clear()

    # Shortcuts to the site's ground truth, so tests can write ``demo_site.truth``.
    @property
    def truth(self) -> list[ArticleTruth]:
        return self.site.truth

    @property
    def disallowed_urls(self) -> list[str]:
        return self.site.disallowed_urls

    @property
    def redirects(self) -> dict[str, str]:
        return self.site.redirects

    @property
    def not_found_urls(self) -> list[str]:
        return self.site.not_found_urls

    @property
    def non_article_urls(self) -> list[str]:
        return self.site.non_article_urls

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def serve(site: Site | None = None, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Bind (port 0: a free port), build the site for the real base URL, and serve it from a daemon thread."""
    site = site or Site()
    httpd = _Server((host, port), site)
    bound_host, bound_port = httpd.server_address[:2]
    site.bind(f"http://{bound_host!s}:{bound_port}")
    return RunningServer(httpd)

