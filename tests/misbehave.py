"""A misbehaving HTTP server on real sockets, for the fault tests (issue 6).

Like Scrapy's ``tests/mockserver``: the server listens on 127.0.0.1, port 0, answers one request per
connection from a thread, and serves named behaviours under ``/b/<name>``; each handler writes raw bytes
to the socket, so it can lie about lengths, break chunked coding, stall, trickle or reset. ``/robots.txt``
follows the ``robots`` mode given to the server. ``server.url(name)`` is a behaviour's URL and
``server.requests`` the (method, path, headers) of every request received, in order.

Usage::

    with Misbehaving(robots="404") as server:
        crawl(seed=server.url("trickle"))
"""

from __future__ import annotations

import gzip
import socket
import struct
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

FAULTS = Path(__file__).resolve().parent / "data" / "faults"

# The words each text page carries; tests look for them in the JSON records.
UTF8_TEXT = "Grüße aus Köln: naïve café, Ærøskøbing and Škoda — «quoted»."
CYRILLIC_TEXT = "Москва сегодня: новости, погода и культура в столице России."


def article(title: str, sentence: str, paragraphs: int = 6) -> str:
    """A small article page trafilatura extracts: a title and a few paragraphs carrying ``sentence``."""
    body = "".join(f"<p>{sentence} Paragraph {i} tells the rest of the story in plain words.</p>"
                   for i in range(paragraphs))
    return (f"<!DOCTYPE html><html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
            f"{body}</article></body></html>")


class Conn:
    """One accepted connection and the parsed request head."""

    def __init__(self, sock: socket.socket, server: Misbehaving, method: str, target: str,
                 headers: list[tuple[str, str]]) -> None:
        self.sock = sock
        self.server = server
        self.method = method
        self.target = target
        self.headers = headers
        self.path = urlsplit(target).path
        self.query = parse_qs(urlsplit(target).query)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def head(self, status: int, headers: list[tuple[str, str]], reason: str = "") -> None:
        reason = reason or {200: "OK", 204: "No Content", 301: "Moved Permanently", 302: "Found",
                            404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error",
                            503: "Service Unavailable"}.get(status, "Whatever")
        lines = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in headers] + ["Connection: close"]
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def reply(self, status: int, body: bytes, content_type: str = "text/html; charset=utf-8",
              extra: list[tuple[str, str]] | None = None) -> None:
        headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))] + (extra or [])
        self.head(status, headers)
        if self.method != "HEAD":
            self.send(body)

    def html(self, text: str, status: int = 200) -> None:
        self.reply(status, text.encode("utf-8"))

    def sleep(self, seconds: float) -> None:
        """Wait, but stop early when the server stops."""
        self.server.stopping.wait(seconds)

    def reset(self) -> None:
        """Close with RST instead of FIN."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


Handler = Callable[[Conn], None]
BEHAVIOURS: dict[str, Handler] = {}


def behaviour(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        BEHAVIOURS[name] = fn
        return fn

    return register


# --- transport faults --------------------------------------------------------------------------------

@behaviour("ok")
def _ok(c: Conn) -> None:
    c.html(article("A good page", "Nothing wrong here."))


@behaviour("slow-first-byte")
def _slow_first_byte(c: Conn) -> None:
    c.sleep(c.server.slow)
    c.html(article("Too late", "This came after the timeout."))


@behaviour("trickle")
def _trickle(c: Conn) -> None:
    body = article("Trickle", "One byte at a time.").encode()
    c.head(200, [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))])
    for i in range(len(body)):
        if c.server.stopping.is_set():
            return
        c.send(body[i:i + 1])
        c.sleep(c.server.trickle_interval)


@behaviour("hang-after-headers")
def _hang_after_headers(c: Conn) -> None:
    c.head(200, [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", "5000")])
    c.sleep(c.server.slow)


@behaviour("reset-mid-body")
def _reset_mid_body(c: Conn) -> None:
    body = article("Reset", "The connection dies in the middle.", 60).encode()
    c.head(200, [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))])
    c.send(body[: len(body) // 2])
    time.sleep(0.05)
    c.reset()


@behaviour("cl-too-large")
def _cl_too_large(c: Conn) -> None:
    body = article("Short body", "Fewer bytes than announced.").encode()
    c.head(200, [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body) + 5000))])
    c.send(body)


@behaviour("cl-too-small")
def _cl_too_small(c: Conn) -> None:
    body = article("Long body", "More bytes than announced.").encode()
    c.head(200, [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", "120")])
    c.send(body)


@behaviour("broken-chunked")
def _broken_chunked(c: Conn) -> None:
    c.head(200, [("Content-Type", "text/html; charset=utf-8"), ("Transfer-Encoding", "chunked")])
    c.send(b"10\r\n<html><body>abc\r\nzz-not-hex\r\nmore bytes\r\n")


@behaviour("too-big")
def _too_big(c: Conn) -> None:
    """40 MB announced and sent, past DOWNLOAD_MAXSIZE: the crawler keeps its head, marked truncated."""
    size = 40_000_000
    c.head(200, [("Content-Type", "application/octet-stream"), ("Content-Length", str(size))])
    chunk = b"x" * (1 << 20)
    for _ in range(size // len(chunk) + 1):
        if c.server.stopping.is_set():
            return
        c.send(chunk)


# --- content coding ----------------------------------------------------------------------------------

@behaviour("gzip-plain")
def _gzip_plain(c: Conn) -> None:
    c.reply(200, article("Not gzip", "Declared gzip, sent plain.").encode(),
            extra=[("Content-Encoding", "gzip")])


@behaviour("gzip-truncated")
def _gzip_truncated(c: Conn) -> None:
    c.reply(200, (FAULTS / "truncated.html.gz").read_bytes(), extra=[("Content-Encoding", "gzip")])


@behaviour("gzip-bomb")
def _gzip_bomb(c: Conn) -> None:
    c.reply(200, (FAULTS / "gzip-bomb-1GiB.gz").read_bytes(), extra=[("Content-Encoding", "gzip")])


@behaviour("deflate-bomb")
def _deflate_bomb(c: Conn) -> None:
    c.reply(200, (FAULTS / "deflate-bomb-1GiB.zz").read_bytes(), extra=[("Content-Encoding", "deflate")])


@behaviour("gzip-ok")
def _gzip_ok(c: Conn) -> None:
    c.reply(200, gzip.compress(article("Gzipped", "Compressed the normal way.").encode(), mtime=0),
            extra=[("Content-Encoding", "gzip")])


# --- hostile pages -----------------------------------------------------------------------------------

@behaviour("huge-page")
def _huge_page(c: Conn) -> None:
    row = "<div><p>Huge page paragraph with a <a href='#x'>link</a> and <b>markup</b> to chew on.</p></div>\n"
    body = ("<html><head><title>Huge</title></head><body>" + row * (c.server.huge_size // len(row))
            + "</body></html>")
    c.html(body)


@behaviour("deep-nesting")
def _deep_nesting(c: Conn) -> None:
    c.html("<html><head><title>Deep</title></head><body>" + "<div>" * 20000 + "deep text"
           + "</div>" * 20000 + "</body></html>")


@behaviour("big-text-node")
def _big_text_node(c: Conn) -> None:
    c.html("<html><head><title>Big node</title></head><body><p>" + "word " * 1_000_000 + "</p></body></html>")


@behaviour("nul-page")
def _nul_page(c: Conn) -> None:
    c.reply(200, b"\0" * 200_000, content_type="text/html")


@behaviour("empty-200")
def _empty_200(c: Conn) -> None:
    c.reply(200, b"")


@behaviour("no-content-204")
def _no_content(c: Conn) -> None:
    c.head(204, [])


# --- charsets ----------------------------------------------------------------------------------------

@behaviour("utf8-as-latin1")
def _utf8_as_latin1(c: Conn) -> None:
    c.reply(200, article("Charset lie", UTF8_TEXT).encode("utf-8"), content_type="text/html; charset=ISO-8859-1")


@behaviour("windows-1251")
def _windows_1251(c: Conn) -> None:
    c.reply(200, article("Кириллица", CYRILLIC_TEXT).encode("cp1251"),
            content_type="text/html; charset=windows-1251")


@behaviour("meta-contradicts-header")
def _meta_contradicts(c: Conn) -> None:
    page = article("Meta says UTF-8", CYRILLIC_TEXT).replace("<head>", '<head><meta charset="utf-8">')
    c.reply(200, page.encode("cp1251"), content_type="text/html; charset=windows-1251")


@behaviour("invalid-utf8")
def _invalid_utf8(c: Conn) -> None:
    page = article("Broken bytes", UTF8_TEXT).encode("utf-8").replace(b"Paragraph 2", b"Para\xff\xfe\xc3graph 2")
    c.reply(200, page, content_type="text/html; charset=utf-8")


@behaviour("utf16-bom")
def _utf16(c: Conn) -> None:
    c.reply(200, article("UTF-16", UTF8_TEXT).encode("utf-16"), content_type="text/html")


# --- redirects and status codes ------------------------------------------------------------------------

@behaviour("redirect-loop")
def _redirect_loop(c: Conn) -> None:
    c.reply(302, b"", extra=[("Location", "/b/redirect-loop-back")])


@behaviour("redirect-loop-back")
def _redirect_loop_back(c: Conn) -> None:
    c.reply(302, b"", extra=[("Location", "/b/redirect-loop")])


@behaviour("chain")
def _chain(c: Conn) -> None:
    left = int(c.query.get("n", ["25"])[0])
    if left <= 0:
        c.html(article("End of the chain", "Reached after many hops."))
    else:
        c.reply(302, b"", extra=[("Location", f"/b/chain?n={left - 1}")])


@behaviour("redirect-to")
def _redirect_to(c: Conn) -> None:
    """302 to ``?to=URL`` (the SSRF tests point it at forbidden places)."""
    c.reply(302, b"", extra=[("Location", c.query["to"][0])])


@behaviour("set-cookie")
def _set_cookie(c: Conn) -> None:
    c.reply(200, article("Cookies", "This page sets cookies.").encode(),
            extra=[("Set-Cookie", "session=abc; Path=/; Domain=127.0.0.1"), ("Set-Cookie", "t=1; Domain=co.uk")])


@behaviour("echo-headers")
def _echo_headers(c: Conn) -> None:
    lines = "".join(f"<p>{k}: {v}</p>" for k, v in c.headers)
    c.html(f"<html><head><title>Echo</title></head><body>{lines}</body></html>")


def _second_time_ok(c: Conn, status: int, retry_after: str) -> None:
    if c.server.hits(c.path) == 1:
        c.reply(status, b"busy", content_type="text/plain", extra=[("Retry-After", retry_after)])
    else:
        c.html(article("After waiting", "Served once the client waited."))


@behaviour("retry-after-seconds")
def _retry_after_seconds(c: Conn) -> None:
    _second_time_ok(c, 429, "1")


@behaviour("retry-after-date")
def _retry_after_date(c: Conn) -> None:
    _second_time_ok(c, 503, format_datetime(datetime.now(UTC) + timedelta(seconds=1), usegmt=True))


@behaviour("retry-after-huge")
def _retry_after_huge(c: Conn) -> None:
    _second_time_ok(c, 503, "86400")


@behaviour("persistent-500")
def _persistent_500(c: Conn) -> None:
    c.reply(500, b"<html><body>broken</body></html>")


# --- non-HTML ------------------------------------------------------------------------------------------

@behaviour("pdf")
def _pdf(c: Conn) -> None:
    c.reply(200, b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", content_type="application/pdf")


@behaviour("image")
def _image(c: Conn) -> None:
    png = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15"
           b"\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")
    c.reply(200, png, content_type="image/png")


@behaviour("octet-stream")
def _octets(c: Conn) -> None:
    c.reply(200, bytes(range(256)) * 40, content_type="application/octet-stream")


# --- hostile XML ----------------------------------------------------------------------------------------

@behaviour("billion-laughs")
def _laughs(c: Conn) -> None:
    c.reply(200, (FAULTS / "billion-laughs.xml").read_bytes(), content_type="application/xml")


@behaviour("xxe-sitemap")
def _xxe_sitemap(c: Conn) -> None:
    c.reply(200, (FAULTS / "xxe-sitemap.xml").read_bytes(), content_type="application/xml")


@behaviour("xxe-feed")
def _xxe_feed(c: Conn) -> None:
    c.reply(200, (FAULTS / "xxe-feed.xml").read_bytes(), content_type="application/rss+xml")


@behaviour("sitemap-bomb")
def _sitemap_bomb(c: Conn) -> None:
    c.reply(200, (FAULTS / "sitemap-bomb-1GiB.xml.gz").read_bytes(), content_type="application/x-gzip")


@behaviour("sitemap-self-index")
def _sitemap_self(c: Conn) -> None:
    base = c.server.base_url
    c.reply(200, (f'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                  f"<sitemap><loc>{base}/b/sitemap-self-index</loc></sitemap></sitemapindex>").encode(),
            content_type="application/xml")


@behaviour("odd")
def _odd(c: Conn) -> None:
    """Any path under /b/odd/...: a page naming the path it was asked for."""
    c.html(article("Odd URL", "An odd address that still works."))


@behaviour("odd-links")
def _odd_links(c: Conn) -> None:
    """A section page linking to odd URLs: over 4,000 characters, spaces and non-ASCII, dot segments."""
    links = ["/b/odd/" + "x" * 4100, "/b/odd/with space/é?q=a b", "/b/odd/%2e%2e%2f%2e%2e%2fetc%2fpasswd"]
    items = "".join(f'<li><a href="{href}">odd link {i}</a></li>' for i, href in enumerate(links))
    c.html(f"<html><head><title>Odd links</title></head><body><ul>{items}</ul></body></html>")


@behaviour("page")
def _page(c: Conn) -> None:
    """Any /b/page/<n>: a plain article (the robots tests crawl a few of these)."""
    c.html(article(f"Page {c.path}", f"Page {c.path} is here."))


@behaviour("private")
def _private(c: Conn) -> None:
    c.html(article("Private", "Robots.txt forbids this page."))


@behaviour("stall-mid-body")
def _stall_mid_body(c: Conn) -> None:
    """Headers and half the body, then nothing until the server's ``slow`` seconds have passed."""
    body = article("Stalled", "The rest of this page never comes.", 30).encode()
    c.head(200, [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))])
    c.send(body[: len(body) // 2])
    c.sleep(c.server.slow)


@behaviour("meta-charset-only")
def _meta_charset_only(c: Conn) -> None:
    """windows-1251 named only by the page's <meta> (the header has no charset)."""
    page = article("Кириллица в meta", CYRILLIC_TEXT).replace("<head>", '<head><meta charset="windows-1251">')
    c.reply(200, page.encode("cp1251"), content_type="text/html")


@behaviour("undeclared-1251")
def _undeclared_1251(c: Conn) -> None:
    """windows-1251 declared nowhere: the charset is guessed from the bytes."""
    c.reply(200, article("Без объявления", CYRILLIC_TEXT).encode("cp1251"), content_type="text/html")


@behaviour("retry-after-then-links")
def _retry_after_then_links(c: Conn) -> None:
    """429 with Retry-After: 1 the first time; then a section page linking to four /b/page/ articles."""
    if c.server.hits(c.path) == 1:
        c.reply(429, b"busy", content_type="text/plain", extra=[("Retry-After", "1")])
    else:
        items = "".join(f'<li><a href="/b/page/after-wait-{i}">story {i}</a></li>' for i in range(4))
        c.html(f"<html><head><title>Section</title></head><body><ul>{items}</ul></body></html>")


@behaviour("huge-links")
def _huge_links(c: Conn) -> None:
    """A page of ``?mb=N`` MB (default 1) like huge-page, linking to /b/page/huge-first at its start and to
    /b/page/huge-last at its very end (the spider must find links past what it parses into a tree)."""
    size = int(float(c.query.get("mb", ["1"])[0]) * 1_000_000)
    row = "<div><p>Filler paragraph with a <a href='#x'>link</a> and <b>markup</b> to chew on.</p></div>\n"
    body = ("<html><head><title>Huge links</title></head><body><a href='/b/page/huge-first'>first</a>"
            + row * (size // len(row)) + "<a href='/b/page/huge-last'>last</a></body></html>")
    c.html(body)


@behaviour("gzip-corrupt")
def _gzip_corrupt(c: Conn) -> None:
    """A gzip header, then bytes that do not inflate: cannot be decoded at all."""
    c.reply(200, b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\xff" * 200, extra=[("Content-Encoding", "gzip")])


@behaviour("retry-after-then-reset")
def _retry_after_then_reset(c: Conn) -> None:
    """503 with Retry-After: 1 the first time; then the connection is reset before any response."""
    if c.server.hits(c.path) == 1:
        c.reply(503, b"busy", content_type="text/plain", extra=[("Retry-After", "1")])
    else:
        c.reset()


@behaviour("links-to")
def _links_to(c: Conn) -> None:
    """A section page linking to every ``?to=URL`` (the SSRF tests point them at forbidden places)."""
    items = "".join(f'<li><a href="{escape(u, quote=True)}">link {i}</a></li>' for i, u in enumerate(c.query.get("to", [])))
    c.html(f"<html><head><title>Links</title></head><body><ul>{items}</ul></body></html>")


@behaviour("sitemap-to")
def _sitemap_to(c: Conn) -> None:
    """A sitemap listing every ``?to=URL``."""
    locs = "".join(f"<url><loc>{escape(u)}</loc></url>" for u in c.query.get("to", []))
    c.reply(200, ('<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                  f"{locs}</urlset>").encode(), content_type="application/xml")


# --- robots.txt -------------------------------------------------------------------------------------------

def _robots(c: Conn) -> None:
    mode = c.server.robots
    if mode == "404":
        c.reply(404, b"not here", content_type="text/plain")
    elif mode == "401":
        c.reply(401, b"who are you", content_type="text/plain")
    elif mode == "500":
        c.reply(500, b"oops", content_type="text/plain")
    elif mode == "500-then-ok":
        if c.server.hits("/robots.txt") <= c.server.robots_failures:
            c.reply(503, b"later", content_type="text/plain")
        else:
            c.reply(200, b"User-agent: *\nDisallow: /b/private\n", content_type="text/plain")
    elif mode == "unreachable":
        c.reset()
    elif mode == "disallow":
        c.reply(200, b"User-agent: *\nDisallow: /b/private\n", content_type="text/plain")
    elif mode.startswith("sitemap:"):   # names a sitemap, wherever it is
        c.reply(200, f"User-agent: *\nAllow: /\nSitemap: {mode[8:]}\n".encode(), content_type="text/plain")
    elif mode == "huge":
        # The rule sits 450 KiB in: RFC 9309 says a crawler must parse at least 500 KiB.
        filler = b"# " + b"x" * 1000 + b"\n"
        early = filler * (450 * 1024 // len(filler))
        late = filler * (10 * 1024 * 1024 // len(filler))
        c.reply(200, b"User-agent: *\n" + early + b"Disallow: /b/private\n" + late, content_type="text/plain")
    else:
        c.reply(200, b"User-agent: *\nAllow: /\n", content_type="text/plain")


# --- the server ------------------------------------------------------------------------------------------

class Misbehaving:
    """The server: ``Misbehaving(robots=...)`` as a context manager, or ``start()`` / ``stop()``."""

    def __init__(self, *, robots: str = "allow", slow: float = 8.0, trickle_interval: float = 0.5,
                 huge_size: int = 20_000_000, robots_failures: int = 1, host: str = "127.0.0.1") -> None:
        self.robots = robots
        self.slow = slow
        self.trickle_interval = trickle_interval
        self.huge_size = huge_size
        self.robots_failures = robots_failures
        self.stopping = threading.Event()
        self.requests: list[tuple[str, str, list[tuple[str, str]]]] = []
        self._hits: dict[str, int] = {}
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, 0))
        self._sock.listen(128)
        self.host, self.port = self._sock.getsockname()[:2]
        self.base_url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(target=self._serve, name="misbehave", daemon=True)

    def url(self, name: str) -> str:
        return f"{self.base_url}/b/{name}"

    def hits(self, path: str) -> int:
        with self._lock:
            return self._hits.get(path, 0)

    def paths(self) -> list[str]:
        with self._lock:
            return [target for _m, target, _h in self.requests]

    def start(self) -> Misbehaving:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        try:
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() of the server thread at once
        except OSError:
            pass  # not connected: close() below is enough
        self._sock.close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Misbehaving:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _addr = self._sock.accept()
            except OSError:  # the listening socket was closed by stop()
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, sock: socket.socket) -> None:
        try:
            sock.settimeout(30)
            data = b""
            while b"\r\n\r\n" not in data and len(data) < 65536:
                chunk = sock.recv(65536)
                if not chunk:
                    return
                data += chunk
            head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
            method, target, _version = (head[0].split(" ") + ["", ""])[:3]
            headers = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in head[1:])]
            path = urlsplit(target).path
            with self._lock:
                self.requests.append((method, target, headers))
                self._hits[path] = self._hits.get(path, 0) + 1
            conn = Conn(sock, self, method, target, headers)
            if path == "/robots.txt":
                _robots(conn)
                return
            parts = path.split("/")
            handler = BEHAVIOURS.get(parts[2]) if len(parts) > 2 and parts[1] == "b" else None
            if handler is None:
                conn.reply(404, b"<html><body>no such behaviour</body></html>")
                return
            handler(conn)
        except OSError:
            pass  # the client went away (timeouts, resets): exactly what these behaviours provoke
        finally:
            try:
                sock.close()
            except OSError:
                pass
