"""Keep the response head exactly as it came off the wire, for the WARC record.

Scrapy hands middlewares a parsed response: header names Title-Cased, duplicates grouped, the reason
phrase dropped. An archive wants the status line and header lines as sent. This download handler is
Scrapy's own HTTP/1.1 handler with one addition: the response parser also keeps the raw bytes of the
status line and header lines, which the handler puts into ``request.meta["archive_raw_head"]`` for
``crawler.capture.WarcCaptureMiddleware``.

It also ends a body that stalls: ``LIMITS_RESPONSE_TIME`` seconds after the headers, a body still
incomplete is cut and the response goes on with what arrived, marked ``WARC-Truncated: time``
(``crawler.limits``). A server that sends its headers and then nothing never calls Scrapy's
``bytes_received`` signal again, so only a timer can keep its status line and headers for the archive.

It relies on the same mechanism Scrapy itself uses to install its lenient parser (swapping the class of
the parser object that Twisted's protocol creates); the parser keeps no state beyond a list of lines.
The body is still de-chunked by Twisted: the capture says so in ``WARC-X-Reconstructed``.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy import Request
from scrapy.core.downloader.handlers.http11 import (
    HTTP11DownloadHandler,
    ResponseDataLossError,
    _LenientHTTP11ClientFactory,
    _LenientHTTP11ClientProtocol,
    _LenientHTTPClientParser,
    _ResponseReader,
    _ScrapyAgent,
    get_dataloss_msg,
    wrap_twisted_exceptions,
)
from scrapy.crawler import Crawler
from scrapy.exceptions import StopDownload
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import Deferred

from crawler.limits import body_time_limit, mark_truncated

logger = logging.getLogger(__name__)

RAW_HEAD_META = "archive_raw_head"


class _RecordingParser(_LenientHTTPClientParser):
    """The lenient parser, also keeping each raw line of the response head (terminators included).

    A head line may be up to ``MAX_LENGTH`` bytes: Twisted's 16 KiB made a response with one big header (a
    long Set-Cookie, Content-Security-Policy or Link) fail as a lost connection, retried and never archived.
    curl takes 100 KiB a header, Chrome 256 KiB for the whole head."""

    MAX_LENGTH = 256 * 1024

    def lineReceived(self, line: bytes) -> None:
        lines: list[bytes] | None = self.__dict__.get("_archive_lines")
        if lines is None:
            lines = self.__dict__["_archive_lines"] = []
        lines.append(line + b"\n")
        super().lineReceived(line)

    def allHeadersReceived(self) -> None:
        lines = self.__dict__.pop("_archive_lines", [])
        super().allHeadersReceived()  # type: ignore[no-untyped-call]
        response = getattr(self, "response", None)  # absent after an ignored 1xx response
        if response is not None:
            response._archive_raw_head = b"".join(lines)


class _RecordingProtocol(_LenientHTTP11ClientProtocol):
    def request(self, request: Any) -> Any:
        d = super().request(request)
        assert self._parser is not None
        self._parser.__class__ = _RecordingParser
        return d


class _RecordingFactory(_LenientHTTP11ClientFactory):
    def buildProtocol(self, addr: Any) -> _RecordingProtocol:
        return _RecordingProtocol(self._quiescentCallback)  # type: ignore[no-untyped-call]


class _RecordingAgent(_ScrapyAgent):
    raw_head: bytes | None = None
    body_time_limit: float = 0.0     # LIMITS_RESPONSE_TIME; 0: no timer

    def _cb_bodyready(self, txresponse: Any, request: Request) -> Any:
        result = super()._cb_bodyready(txresponse, request)
        # Scrapy hands the body to its _ResponseReader, which Twisted keeps as the response's body protocol.
        reader = getattr(txresponse, "_bodyProtocol", None)
        if self.body_time_limit and isinstance(result, Deferred) and isinstance(reader, _ResponseReader):
            from twisted.internet import reactor

            clock: Any = reactor   # IReactorTime (zope interfaces do not type-check as protocols)
            call = clock.callLater(self.body_time_limit, self._body_stalled, reader, request)

            def disarm(outcome: Any) -> Any:
                if call.active():
                    call.cancel()
                return outcome

            result.addBoth(disarm)
        return result

    def _body_stalled(self, reader: _ResponseReader, request: Request) -> None:
        """The body is still incomplete LIMITS_RESPONSE_TIME after the headers: end it with what arrived."""
        if reader._finished.called:
            return
        received = reader._bytes_received
        length = reader._txresponse.length
        expected = f" of {length}" if isinstance(length, int) else ""
        what = "no body byte" if not received else f"only {received}{expected} body bytes"
        mark_truncated(self._crawler, request, "time",
                       f"{what} {self.body_time_limit:g} s after the headers (LIMITS_RESPONSE_TIME)")
        transport: Any = reader.transport   # Twisted's TransportProxyProducer, as in Scrapy's own stop
        if transport is not None:
            transport.stopProducing()
            transport.loseConnection()
        if not reader._finished.called:
            reader._finish_response(stop_download=StopDownload(fail=False))

    def _cb_bodydone(self, result: Any, url: str) -> Response:
        self.raw_head = getattr(result["txresponse"], "_archive_raw_head", None)
        return super()._cb_bodydone(result, url)


class ArchivingHTTPDownloadHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP/1.1 handler, passing the raw response head on in ``request.meta``."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self._pool._factory = _RecordingFactory
        # Scrapy keeps CONCURRENT_REQUESTS_PER_DOMAIN idle connections per host, but a response's reader fires
        # (and the slot starts the next request on a new connection) before its connection is back in the pool,
        # which is then one too many and closes its oldest: a new TCP connection every ~4 pages. Twice as many
        # keeps them all (300 pages of the bench site: 83 connections -> 9); requests at once are unchanged.
        self._pool.maxPersistentPerHost = 2 * max(1, crawler.settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN"))
        self._body_time_limit = body_time_limit(crawler)

    async def download_request(self, request: Request) -> Response:
        agent = _RecordingAgent(
            contextFactory=self._contextFactory,
            bindAddress=self._bind_address,
            pool=self._pool,
            maxsize=self._default_maxsize,
            warnsize=self._default_warnsize,
            fail_on_dataloss=self._fail_on_dataloss,
            crawler=self._crawler,
            tls_verbose_logging=self._tls_verbose_logging,
        )
        agent.body_time_limit = self._body_time_limit
        request.meta.pop(RAW_HEAD_META, None)  # never let a redirect inherit its parent's head
        try:
            with wrap_twisted_exceptions():
                response: Response = await maybe_deferred_to_future(agent.download_request(request))
        except ResponseDataLossError:
            if not self._fail_on_dataloss_warned:
                logger.warning(get_dataloss_msg(request.url))
                self._fail_on_dataloss_warned = True
            raise
        if agent.raw_head is not None:
            request.meta[RAW_HEAD_META] = agent.raw_head
        return response


def parse_raw_head(raw: bytes) -> tuple[str, int, str, list[tuple[str, str]]] | None:
    """(protocol, status, reason, header pairs) from raw head bytes; None when it does not parse."""
    lines = raw.split(b"\n")
    status_line = lines[0].rstrip(b"\r").decode("latin-1")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        return None
    protocol, status, reason = parts[0], int(parts[1]), parts[2] if len(parts) > 2 else ""
    headers: list[tuple[str, str]] = []
    for raw_line in lines[1:]:
        line = raw_line.rstrip(b"\r")
        if not line:
            continue
        if line[:1] in (b" ", b"\t") and headers:  # obsolete line folding: keep it joined
            prev_name, prev_value = headers[-1]
            headers[-1] = (prev_name, prev_value + " " + line.strip().decode("latin-1"))
            continue
        name, sep, value = line.partition(b":")
        if not sep:
            continue  # the lenient parser skipped it too
        headers.append((name.decode("latin-1"), value.strip().decode("latin-1")))
    return protocol, status, reason, headers
