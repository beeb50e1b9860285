"""Replay from the index: find the capture of a URL nearest to a time, read it from its WARC, resolve revisits.

No pywb involved: index lookup (``archive.cdxj``), seek, parse, as pywb does it. A revisit record is
served with its own HTTP headers and the payload of the original it refers to (same URL or
``WARC-Refers-To-Target-URI``, same payload digest). Reads are bounded (``max_bytes``) and only regular
files are opened, so a corrupt or hostile WARC can neither hang nor exhaust memory; every failure is a
``CaptureError`` naming file and offset.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from warcio.archiveiterator import ArchiveIterator

from archive.cdxj import BadRecord, CdxjLine, host_urls, index_path, lookup, resolve_filename

DEFAULT_MAX_BYTES = 256 * 1024 * 1024


class CaptureError(Exception):
    """A capture could not be read: the message names the file and offset and what to do."""

    def __init__(self, problem: BadRecord) -> None:
        self.problem = problem
        super().__init__(str(problem))


class NotCaptured(LookupError):
    """The URL is not in the index; ``suggestions`` lists captured URLs of the same host."""

    def __init__(self, url: str, suggestions: list[str]) -> None:
        self.url = url
        self.suggestions = suggestions
        hint = ("; captured URLs of that host: " + ", ".join(suggestions)) if suggestions else (
            "; nothing of that host is archived (was the index built? run 'crawler index')")
        super().__init__(f"{url} is not in the archive{hint}")


@dataclass(frozen=True)
class LoadedCapture:
    line: CdxjLine                          # the capture asked for (possibly a revisit)
    original: CdxjLine | None               # for a revisit: the record whose payload is served
    warc_headers: tuple[tuple[str, str], ...]
    status: int | None
    http_headers: tuple[tuple[str, str], ...]
    raw: bytes                              # the record block as stored: status line, headers, payload
    body: bytes                             # payload with transfer and content encodings removed

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.http_headers if k.lower() == lowered), None)


def normalize_timestamp(text: str) -> str:
    """``2026-11-27T11:22``, ``2026-11-27T23:53:58+02:00`` or ``202611271122`` -> 14 digits, in UTC; raises
    ValueError if not a time.

    A form with dashes is read as ``crawler list --since`` and ``export --since`` read it (``parse_since``:
    ISO 8601, an offset converted to UTC, UTC without one); digits alone are a 14-digit timestamp or a
    prefix of one (``2026``, ``202611``), as in CDX and pywb URLs; ``2026-11`` is a prefix too.
    """
    from archive.export import parse_since

    if not text.strip().isdigit():
        try:
            return parse_since(text.strip()).astimezone(UTC).strftime("%Y%m%d%H%M%S")
        except ValueError:
            pass
    digits = "".join(ch for ch in text if ch.isdigit())[:14]
    if len(digits) < 4 or any(ch not in "0123456789-T:Z. " for ch in text.strip()):
        raise ValueError(f"not a timestamp: {text!r} (use YYYYMMDDhhmmss or ISO 8601, e.g. 2026-11-27T11:22)")
    padded = digits + "0101000000"[len(digits) - 4:] if len(digits) < 8 else digits.ljust(14, "0")
    try:
        _to_datetime(padded)
    except ValueError:
        raise ValueError(f"not a timestamp: {text!r} (no such date or time)") from None
    return padded


def _to_datetime(ts: str) -> datetime:
    return datetime.strptime(ts, "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def normalize_url(url: str) -> str:
    return url if "://" in url or url.startswith(("dns:", "metadata:")) else "http://" + url


class Archive:
    """The captures of one data directory, through its CDXJ index."""

    def __init__(self, data_dir: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.data_dir = data_dir
        self.index = index_path(data_dir)
        self.max_bytes = max_bytes

    def captures(self, url: str) -> list[CdxjLine]:
        """Every capture of ``url``, oldest first; raises ``NotCaptured`` when there is none."""
        url = normalize_url(url)
        found = sorted(lookup(self.index, url), key=lambda c: (c.timestamp, c.filename, c.offset))
        if not found:
            raise NotCaptured(url, host_urls(self.index, url))
        return found

    def nearest(self, url: str, at: str | None = None) -> CdxjLine:
        """The capture closest in time to ``at`` (any timestamp form), or the latest one."""
        found = self.captures(url)
        if at is None:
            return found[-1]
        target = _to_datetime(normalize_timestamp(at))
        return min(found, key=lambda c: (abs((_to_datetime(c.timestamp) - target).total_seconds()),
                                         c.timestamp))

    def load(self, line: CdxjLine) -> LoadedCapture:
        """Read ``line``'s record; for a revisit, the payload comes from its original."""
        own = self._read(line)
        if not line.is_revisit:
            return own
        original_line = self.original_of(line, own)
        original = self._read(original_line)
        if original_line.is_revisit:
            raise CaptureError(BadRecord(line.filename, line.offset, "revisit refers to another revisit"))
        headers = own.http_headers or original.http_headers
        status = own.status if own.status is not None else original.status
        return LoadedCapture(line, original_line, own.warc_headers, status, headers,
                             own.raw + original.raw[len(_head(original.raw)):], original.body)

    def original_of(self, line: CdxjLine, revisit: LoadedCapture) -> CdxjLine:
        """The capture a revisit refers to: same payload digest, at the referred URL, nearest in time."""
        warc = dict((k.lower(), v) for k, v in revisit.warc_headers)
        target = (warc.get("warc-refers-to-target-uri") or line.url).strip("<>")
        refers_date = warc.get("warc-refers-to-date")
        candidates = [c for c in lookup(self.index, target) if not c.is_revisit
                      and (line.digest is None or c.digest == line.digest)]
        if not candidates:
            raise CaptureError(BadRecord(
                line.filename, line.offset,
                f"revisit of {line.url} refers to {target}"
                + (f" of {refers_date}" if refers_date else "")
                + f" (payload digest {line.digest}), which is not in the archive; index the WARC holding it"))
        when = _to_datetime(normalize_timestamp(refers_date) if refers_date else line.timestamp)
        return min(candidates, key=lambda c: abs((_to_datetime(c.timestamp) - when).total_seconds()))

    def _read(self, line: CdxjLine) -> LoadedCapture:
        path = resolve_filename(self.data_dir, line.filename)
        bad = lambda msg: CaptureError(BadRecord(line.filename, line.offset, msg))  # noqa: E731
        if not path.is_file():
            raise bad(f"WARC file {path} is missing or not a regular file; restore it or rebuild the index")
        if line.length > self.max_bytes:
            raise bad(f"record of {line.length} bytes exceeds the {self.max_bytes}-byte read limit")
        with path.open("rb") as fh:
            fh.seek(line.offset)
            member = fh.read(line.length) if line.length > 0 else fh.read(self.max_bytes)
        if line.length and len(member) < line.length:
            raise bad(f"file ends {line.length - len(member)} bytes before the record does (truncated WARC)")
        try:
            raw = _block(io.BytesIO(member), parse=False, limit=self.max_bytes)
            record_headers, status, http_headers, body = _parsed(io.BytesIO(member), self.max_bytes)
        except CaptureError:
            raise
        except Exception as exc:  # warcio raises many kinds on corrupt input
            raise bad(f"unreadable record ({type(exc).__name__}: {exc}); the WARC is corrupt here") from exc
        return LoadedCapture(line, None, record_headers, status, http_headers, raw, body)


def _head(raw: bytes) -> bytes:
    end = raw.find(b"\r\n\r\n")
    return raw[: end + 4] if end >= 0 else b""


def _first(fh: BinaryIO, parse: bool) -> Any:
    it = ArchiveIterator(fh, no_record_parse=not parse)
    try:
        return next(iter(it))
    except StopIteration:
        raise ValueError("no record at this offset") from None


def _read_limited(stream: Any, limit: int) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"payload larger than the {limit}-byte read limit")
    return bytes(data)


def _block(fh: BinaryIO, *, parse: bool, limit: int) -> bytes:
    record = _first(fh, parse)
    return _read_limited(record.raw_stream, limit)


def _parsed(fh: BinaryIO, limit: int) -> tuple[tuple[tuple[str, str], ...], int | None,
                                                tuple[tuple[str, str], ...], bytes]:
    record = _first(fh, True)
    warc_headers = tuple(record.rec_headers.headers)
    http = record.http_headers
    status: int | None = None
    http_headers: tuple[tuple[str, str], ...] = ()
    if http is not None and record.rec_type in ("response", "revisit"):
        http_headers = tuple(http.headers)
        try:
            status = int(http.get_statuscode())
        except (TypeError, ValueError):
            status = None
    body = _read_limited(record.content_stream(), limit)
    return warc_headers, status, http_headers, body
