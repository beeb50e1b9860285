"""The CDXJ index: one line per archived capture, the format pywb and WACZ read.

A line is ``SURT TIMESTAMP14 {"url", "mime", "status", "digest", "length", "offset", "filename"}``, sorted by
its text so that a lookup is a binary search over the file. ``filename`` is relative to the data
directory's ``warc/`` folder, or absolute for WARC files kept elsewhere. Response, revisit and resource
records are indexed; a revisit carries ``"mime": "warc/revisit"`` and the payload digest of its original,
which is how it resolves (see ``archive.replay``).

Bad input (corrupt gzip, truncated records, files that are not WARC, ``.open`` files) never stops
indexing: each bad record becomes a ``BadRecord`` naming file and offset, the scan resynchronises on
the next record, and the caller decides the exit status.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import heapq
import io
import json
import logging
import os
import tempfile
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any, BinaryIO, cast

from warcio.archiveiterator import ArchiveIterator
from warcio.limitreader import LimitReader
from warcio.recordloader import ArcWarcRecordLoader
from zlib_ng import zlib_ng

from archive.surtkey import surt as _surt
from archive.writer import WrittenRecord

log = logging.getLogger(__name__)

INDEXED_TYPES = frozenset({"response", "revisit", "resource"})
REVISIT_MIME = "warc/revisit"
INDEX_DIR = "index"
INDEX_NAME = "index.cdxj"
WARC_DIR = "warc"
_GZIP_MAGIC = b"\x1f\x8b\x08"
_WARC_MAGIC = b"WARC/1."


@dataclass(frozen=True)
class CdxjLine:
    key: str                 # SURT of the URL, e.g. "com,example)/news/1"
    timestamp: str           # 14 digits, UTC
    url: str
    mime: str                # media type without parameters; "warc/revisit" for revisits
    status: int | None       # HTTP status; None for resource records
    digest: str | None       # payload digest, "sha1:" prefix dropped as pywb does
    length: int              # bytes of the record (its gzip member in a .warc.gz)
    offset: int
    filename: str

    @property
    def is_revisit(self) -> bool:
        return self.mime == REVISIT_MIME

    def to_text(self) -> str:
        fields: dict[str, object] = {"url": self.url, "mime": self.mime}
        if self.status is not None:
            fields["status"] = str(self.status)
        if self.digest:
            fields["digest"] = self.digest
        fields.update(length=str(self.length), offset=str(self.offset), filename=self.filename)
        return f"{self.key} {self.timestamp} {json.dumps(fields, ensure_ascii=False, separators=(', ', ': '))}"

    @classmethod
    def parse(cls, text: str) -> CdxjLine:
        try:
            key, timestamp, rest = text.rstrip("\n").split(" ", 2)
            d = json.loads(rest)
            status = d.get("status")
            return cls(key=key, timestamp=timestamp, url=d["url"], mime=d.get("mime", "unk"),
                       status=int(status) if status not in (None, "", "-") else None,
                       digest=d.get("digest"), length=int(d["length"]), offset=int(d["offset"]),
                       filename=d["filename"])
        except (ValueError, KeyError) as exc:
            raise ValueError(f"not a CDXJ line ({exc}): {text[:200]!r}") from exc

    def with_location(self, *, filename: str, offset: int, length: int | None = None) -> CdxjLine:
        return CdxjLine(self.key, self.timestamp, self.url, self.mime, self.status, self.digest,
                        self.length if length is None else length, offset, filename)


@dataclass(frozen=True)
class BadRecord:
    """A record (or whole file) that could not be indexed or loaded."""

    filename: str
    offset: int
    message: str

    def __str__(self) -> str:
        return f"{self.filename} at offset {self.offset}: {self.message}"


@dataclass(frozen=True)
class IndexScan:
    """What indexing one WARC file found: its good lines and its bad records."""

    path: Path
    lines: tuple[CdxjLine, ...]
    problems: tuple[BadRecord, ...]


class BadWarcError(Exception):
    """Raised by ``index_warc`` when a file has bad records; ``scan`` keeps the good lines."""

    def __init__(self, scan: IndexScan) -> None:
        self.scan = scan
        listed = "; ".join(str(p) for p in scan.problems[:5])
        more = f" (and {len(scan.problems) - 5} more)" if len(scan.problems) > 5 else ""
        super().__init__(f"{len(scan.problems)} bad record(s): {listed}{more}")


def surt_key(url: str) -> str:
    """The SURT form of a URL as pywb computes it; URLs it cannot parse are keyed by themselves."""
    try:
        return str(_surt.surt(url))
    except (ValueError, TypeError, AttributeError, UnicodeError):
        return url.lower()


def timestamp14(warc_date: str) -> str:
    """``2026-11-27T11:22:33.123456Z`` -> ``20261127112233``."""
    digits = "".join(ch for ch in warc_date if ch.isdigit())[:14]
    if len(digits) < 14:
        digits = digits.ljust(14, "0")
    return digits


def index_path(data_dir: Path) -> Path:
    return data_dir / INDEX_DIR / INDEX_NAME


def index_filename(data_dir: Path, warc_path: Path) -> str:
    """The ``filename`` a WARC gets in the index: relative to ``warc/`` when it lives there."""
    warc_dir = (data_dir / WARC_DIR).resolve()
    resolved = warc_path.resolve()
    if resolved.parent == warc_dir:
        return resolved.name
    return str(resolved)


def resolve_filename(data_dir: Path, filename: str) -> Path:
    path = Path(filename)
    return path if path.is_absolute() else data_dir / WARC_DIR / path


def index_warc(path: Path, filename: str | None = None) -> list[CdxjLine]:
    """The CDXJ lines of one WARC file; raises ``BadWarcError`` (holding the good lines) on bad records."""
    scan = scan_warc(path, filename)
    if scan.problems:
        raise BadWarcError(scan)
    return list(scan.lines)


def scan_warc(path: Path, filename: str | None = None) -> IndexScan:
    """Index every response, revisit and resource record of ``path``; bad records are reported, skipped."""
    lines: list[CdxjLine] = []
    problems = _scan_into(path, filename if filename is not None else path.name, lines.append)
    return IndexScan(path, tuple(lines), problems)


def iter_scan(path: Path, filename: str | None = None) -> Iterator[CdxjLine | BadRecord]:
    """The index lines and bad records of ``path`` in file order, each as soon as the scan reaches it
    (``scan_warc`` collects them; a caller can start on the first pages of a big file meanwhile)."""
    yield from _scan(path, filename if filename is not None else path.name, fast=True)


def _scan(path: Path, name: str, *, fast: bool) -> Iterator[CdxjLine | BadRecord]:
    """``iter_scan``; ``fast=False`` reads every record with warcio (what the fast path is tested against)."""
    if path.name.endswith(".open"):
        yield BadRecord(name, 0, "file is still being written (.open); index it once the crawl has closed it")
        return
    if not path.is_file():
        yield BadRecord(name, 0, "not a regular file (missing, a directory or a pipe)")
        return
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(16)
        gzipped = head.startswith(_GZIP_MAGIC)
        if not (gzipped or head.startswith((b"WARC/", b"filedesc:")) or not head):
            yield BadRecord(name, 0, f"not a WARC file (it starts with {head!r}); pass only WARC files")
            return
        pos = 0
        while pos < size:
            if fast and gzipped:
                reached = yield from _fast_scan(fh, name, pos)
                if reached is None:
                    break
                # warcio goes on from the first member the fast path left, as if it had read from pos
                failed_at = yield from _scan_from(_Resumed(fh, pos, reached), name,
                                                  known_format="warc" if reached > pos else None)
            else:
                fh.seek(pos)
                failed_at = yield from _scan_from(fh, name)
            if failed_at is None:
                break
            if failed_at >= size:
                break
            # always forward: a huge Content-Length can make warcio report a negative offset (fuzz test)
            pos = _resync(fh, max(failed_at, pos) + 1, gzipped)
            if pos < 0:
                break


def _scan_into(path: Path, name: str, sink: Callable[[CdxjLine], None]) -> tuple[BadRecord, ...]:
    """Give every good line of ``path`` to ``sink``, in file order; return the bad records."""
    problems: list[BadRecord] = []
    for item in iter_scan(path, name):
        if isinstance(item, BadRecord):
            problems.append(item)
        else:
            sink(item)
    return tuple(problems)


def _scan_from(fh: BinaryIO | _Resumed, name: str, known_format: str | None = None,
               ) -> Generator[CdxjLine | BadRecord, None, int | None]:
    """Iterate records from the current position with warcio, yielding their lines and problems; return the
    offset of a bad record, or None at the end. ``known_format``: what warcio has learnt from earlier records."""
    it = ArchiveIterator(fh)
    if known_format is not None:
        it.known_format = known_format
    last: int | None = None  # the offset of the last record read, unless it was reported bad already
    try:
        for record in it:
            errors_before = it.err_count
            line, trouble = _index_record(record, name)
            offset, length = it.get_record_offset(), it.get_record_length()
            if it.err_count > errors_before:
                yield BadRecord(name, offset, "record length does not match its Content-Length "
                                              "(no blank line after it); the WARC is corrupt here")
                return offset
            last = None if trouble else offset
            if trouble:
                yield BadRecord(name, offset, trouble)
            elif line is not None:
                yield line.with_location(filename=name, offset=offset, length=length)
    except Exception as exc:  # warcio raises many kinds on corrupt input; each is reported here
        at = int(it.offset)
        yield BadRecord(name, at, _describe(exc, cut=_member_cut_short(fh, at)))
        return at
    finally:
        it.close()
    end = int(it.offset)
    if last is not None and _member_cut_short(fh, last):  # warcio read a half record (its head cut) as whole
        yield BadRecord(name, last, "truncated record: the file ends inside it; the crawl writing it probably died")
        return last
    fh.seek(end)
    rest = fh.read(1 << 20)
    if rest.strip():
        yield BadRecord(name, end, "truncated record: the file ends inside it (or holds bytes that "
                                   "are no record); the crawl writing it probably died")
        return end
    return None


def _member_cut_short(fh: BinaryIO | _Resumed, offset: int) -> bool:
    """Whether the gzip member at ``offset`` ends with the file before it is complete (a crawl that died
    mid-write): what warcio then trips over is a half header, whatever exception it raises."""
    raw = getattr(fh, "_fh", fh)
    try:
        raw.seek(offset)
        if raw.read(3) != _GZIP_MAGIC:
            return False
        raw.seek(offset)
        inflater = zlib_ng.decompressobj(31)
        while not inflater.eof:
            chunk = raw.read(1 << 20)
            if not chunk:
                return True
            inflater.decompress(chunk, 1 << 20)
            while inflater.unconsumed_tail and not inflater.eof:
                inflater.decompress(inflater.unconsumed_tail, 1 << 20)
        return False
    except Exception:  # OSError, or zlib-ng's error for a corrupt member: damaged, but not cut short
        return False


def _describe(exc: BaseException, *, cut: bool = False) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = text.encode("ascii", "backslashreplace").decode("ascii")[:200]  # no raw bytes of the file in a message
    kind = type(exc).__name__
    if cut:
        return "truncated record: the file ends inside it; the crawl writing it probably died"
    if isinstance(exc, EOFError) or "EOF" in text or "end of stream" in text.lower():
        return f"truncated record ({kind}: {text or 'unexpected end of file'})"
    return f"unreadable record ({kind}: {text or 'no detail'}); the file may be corrupt or not a WARC"


def _resync(fh: BinaryIO, start: int, gzipped: bool) -> int:
    """Offset of the next plausible record start at or after ``start``, or -1."""
    magic = _GZIP_MAGIC if gzipped else _WARC_MAGIC
    fh.seek(start)
    carry = b""
    base = start
    while True:
        chunk = fh.read(1 << 20)
        if not chunk:
            return -1
        data = carry + chunk
        found = data.find(magic)
        while found >= 0 and not gzipped and found > 0 and data[found - 1:found] != b"\n":
            found = data.find(magic, found + 1)
        if found >= 0:
            return base + found
        keep = len(magic)
        base += len(data) - keep
        carry = data[-keep:]


def _index_record(record: Any, name: str) -> tuple[CdxjLine | None, str | None]:
    rec_type = record.rec_type
    if rec_type not in INDEXED_TYPES:
        # not indexed, but read to its end: a request or metadata record cut short is a damaged file too
        # (at the end of a file, nothing after it would tell)
        rest = record.raw_stream
        while rest.read(1 << 16):
            pass
        if isinstance(rest, LimitReader) and rest.limit > 0:
            return None, f"truncated record: {rest.limit} byte(s) of its content are missing"
        return None, None
    url, date, digest = _target(record.rec_headers)
    if not url or not date:
        return None, "record has no WARC-Target-URI or WARC-Date"
    raw = record.raw_stream
    hasher = hashlib.sha1() if not digest and rec_type != "revisit" else None
    while True:
        chunk = raw.read(1 << 16)
        if not chunk:
            break
        if hasher is not None:
            hasher.update(chunk)
    if isinstance(raw, LimitReader) and raw.limit > 0:
        return None, f"truncated record: {raw.limit} byte(s) of its content are missing"
    if hasher is not None:
        digest = "sha1:" + base64.b32encode(hasher.digest()).decode("ascii")
    return _line_of(record, url, date, digest, name), None


def _target(headers: Any) -> tuple[str, str, str | None]:
    """(target URI, WARC-Date, payload digest) of a record's WARC headers (warcio's ``StatusAndHeaders``)."""
    url = (headers.get_header("WARC-Target-URI") or "").strip("<>")
    return url, headers.get_header("WARC-Date") or "", headers.get_header("WARC-Payload-Digest")


def _line_of(record: Any, url: str, date: str, digest: str | None, name: str) -> CdxjLine:
    """The line of a parsed response/revisit/resource record (warcio's ``ArcWarcRecord``), location unset."""
    rec_type = record.rec_type
    headers = record.rec_headers
    http = record.http_headers
    status: int | None = None
    if rec_type == "revisit":
        mime = REVISIT_MIME
    elif http is not None and rec_type == "response":
        mime = http.get_header("Content-Type") or ""
    else:
        mime = headers.get_header("Content-Type") or ""
    if http is not None and rec_type in ("response", "revisit"):
        try:
            status = int(http.get_statuscode())
        except (TypeError, ValueError):
            status = None
    return _line_from(url, date, mime, status, digest, name, 0, 0)


def _line_from(url: str, date: str, mime: str, status: int | None, digest: str | None, name: str,
               offset: int, length: int) -> CdxjLine:
    """The line of a record from its target URI, WARC-Date, Content-Type (as stored), status and digest."""
    mime = mime.split(";", 1)[0].strip().lower() or "unk"
    if digest and digest.lower().startswith("sha1:"):
        digest = digest[5:]
    return CdxjLine(key=surt_key(url), timestamp=timestamp14(date), url=url, mime=mime, status=status,
                    digest=digest, length=length, offset=offset, filename=name)


# --- The fast path: one record per gzip member --------------------------------------------------------
#
# Most of a warcio scan goes to its line-by-line readers (header parsing through buffered streams) and
# to zlib. A .warc.gz as our writer, wget and most crawlers write it holds one record per gzip member;
# ``_fast_scan`` inflates each member with zlib-ng (about twice zlib's speed), in large windows, and
# reads the two heads itself: only what a line needs. It takes a member only when warcio would read it
# the plain way and give the same line: a WARC/1.0 or 1.1 head, CRLF line ends, no continuation or
# blank-looking lines, one WARC-Target-URI without spaces, a decimal Content-Length that the inflated
# block matches, the block followed by exactly CRLF CRLF and the member's end, an HTTP head (where warcio
# parses one) ending inside the block. Any other member, and whatever follows it, is read by warcio
# from that member's offset (``_Resumed``), so odd and damaged files give the lines and bad records
# they always gave.

_FAST_WINDOW = 1 << 15       # compressed bytes fed to the inflater at a time (most members fit in one)
_FAST_READ = 1 << 20         # bytes read from the file at a time
_FAST_MAX_OUT = 1 << 22      # inflated bytes held at once; a bigger record streams through the hash
_WARCIO_BLOCK = 16384        # warcio.utils.BUFF_SIZE: ArchiveIterator reads the file in blocks of this size
_WARC_VERSIONS = frozenset({"WARC/1.0", "WARC/1.1"})
_WARC_FIELDS = frozenset({"warc-type", "warc-target-uri", "warc-date", "warc-payload-digest", "content-type",
                          "content-length"})
_HTTP_FIELDS = frozenset({"content-type"})
_HTTP_RECORDS = frozenset({"response", "request", "revisit"})   # the types warcio parses an HTTP head in
_CRLF2 = b"\r\n\r\n"
_INFLATE_ERROR = cast(type[Exception], zlib_ng.error)   # zlib_ng's stub types it as an instance


class _Anomaly(Exception):
    """A member the fast path does not read as warcio does: warcio reads it."""


class _Resumed:
    """``fh`` from offset ``at`` as warcio's reader sees it there had it started at ``start``: it reads in
    16 KiB blocks counted from ``start``, so its first read here stops at the next block boundary (this
    matters only for damaged members, whose bytes warcio may take as plain text from where its read began)."""

    def __init__(self, fh: BinaryIO, start: int, at: int) -> None:
        fh.seek(at)
        self._fh = fh
        self._first = _WARCIO_BLOCK - (at - start) % _WARCIO_BLOCK

    def read(self, size: int = -1) -> bytes:
        if self._first:
            if size < 0 or size > self._first:
                size = self._first
            self._first = 0
        return self._fh.read(size)

    def tell(self) -> int:
        return self._fh.tell()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        self._first = 0
        return self._fh.seek(offset, whence)


class _Input:
    """A file from an offset, read in large blocks and handed out in windows."""

    def __init__(self, fh: BinaryIO, start: int) -> None:
        fh.seek(start)
        self._fh = fh
        self._buf = b""
        self._at = 0             # index in _buf of the file offset ``pos``
        self.pos = start

    def window(self) -> memoryview:
        if len(self._buf) - self._at < _FAST_WINDOW:
            self._buf = self._buf[self._at:] + self._fh.read(_FAST_READ)
            self._at = 0
        return memoryview(self._buf)[self._at:self._at + _FAST_WINDOW]

    def advance(self, count: int) -> None:
        self._at += count
        self.pos += count


def _fast_scan(fh: BinaryIO, name: str, start: int) -> Generator[CdxjLine | BadRecord, None, int | None]:
    """Index the records of ``fh`` from ``start``, one gzip member each; return None at the end of the file,
    or the offset of the first member left to warcio."""
    src = _Input(fh, start)
    while True:
        offset = src.pos
        window = src.window()
        if not window:
            return None
        if window[:3] != _GZIP_MAGIC:
            return offset
        try:
            item = _fast_member(src, name, offset)
        except (_Anomaly, _INFLATE_ERROR):
            return offset
        if item is not None:
            yield item


def _inflated(src: _Input, inflater: Any) -> Iterator[bytes]:
    """The inflated bytes of the gzip member at ``src``, in pieces of at most ``_FAST_MAX_OUT``."""
    while not inflater.eof:
        window = src.window()
        if not window:
            raise _Anomaly("the file ends inside a gzip member")
        out = inflater.decompress(window, _FAST_MAX_OUT)
        src.advance(len(window) - len(inflater.unconsumed_tail) - len(inflater.unused_data))
        yield out


def _fast_member(src: _Input, name: str, offset: int) -> CdxjLine | BadRecord | None:
    """The line (or bad record, or nothing for types not indexed) of the member at ``src``, which it consumes."""
    pieces = _inflated(src, zlib_ng.decompressobj(31))
    held: list[bytes] = []
    size = 0
    for piece in pieces:         # the whole member, or its first few MB (the heads) when it is bigger
        held.append(piece)
        size += len(piece)
        if size >= _FAST_MAX_OUT:
            break
    first = held[0] if len(held) == 1 else b"".join(held)
    block_end, hash_from, found = _read_heads(first)
    digest = _check_block(chain((first,), pieces), block_end, hash_from)
    if found is None or isinstance(found, str):
        return None if found is None else BadRecord(name, offset, found)
    url, date, mime, status, stored_digest = found
    return _line_from(url, date, mime, status, digest or stored_digest, name, offset, src.pos - offset)


def _check_block(pieces: Iterable[bytes], block_end: int, hash_from: int) -> str | None:
    """Read the member's inflated ``pieces`` to the end: the block must end at ``block_end``, followed by
    CRLF CRLF only. Returns the payload's digest when ``hash_from`` (where the payload starts) is >= 0."""
    hasher = hashlib.sha1() if hash_from >= 0 else None
    at = 0
    trailer = b""
    for piece in pieces:
        end = at + len(piece)
        if hasher is not None and hash_from < end and at < block_end:
            hasher.update(memoryview(piece)[max(hash_from - at, 0):min(block_end, end) - at])
        if end > block_end:
            trailer += piece[max(block_end - at, 0):]
            if len(trailer) > 4:
                raise _Anomaly("more than CRLF CRLF after the block")
        at = end
    if trailer != _CRLF2:
        raise _Anomaly("the block does not end with CRLF CRLF at its Content-Length")
    return None if hasher is None else "sha1:" + base64.b32encode(hasher.digest()).decode("ascii")


_Found = tuple[str, str, str, "int | None", "str | None"]    # url, date, mime, status, payload digest


def _read_heads(data: bytes) -> tuple[int, int, _Found | str | None]:
    """(end of the block, start of the payload to hash or -1, the line's fields or a trouble or None) of the
    record that ``data`` (the start of an inflated member) begins, read as warcio's parsers read it."""
    head_end = data.find(_CRLF2)
    warc = _head_fields(data[:head_end], _WARC_FIELDS) if head_end > 0 else None
    if warc is None or warc[0] not in _WARC_VERSIONS:
        raise _Anomaly("not a plain WARC head")
    fields = warc[1]
    length = fields.get("content-length")
    if length is None or not (length.isascii() and length.isdigit()):
        raise _Anomaly("no decimal Content-Length")
    block_start = head_end + 4
    block_end = block_start + int(length)
    rec_type = fields.get("warc-type")
    uri = fields.get("warc-target-uri")
    if uri is not None:
        if uri.startswith("<") and uri.endswith(">"):       # as warcio's _ensure_target_uri_format
            uri = uri[1:-1]
        if " " in uri:
            raise _Anomaly("spaces in WARC-Target-URI (warcio rewrites them and logs)")
    http_parsed = rec_type in _HTTP_RECORDS and block_end > block_start
    if http_parsed:
        if uri is None:
            raise _Anomaly("an HTTP record without WARC-Target-URI (warcio fails on it)")
        http_parsed = uri.startswith(("http:", "https:"))
    if rec_type not in INDEXED_TYPES:
        return block_end, -1, None
    url = (uri or "").strip("<>")
    date = fields.get("warc-date") or ""
    digest = fields.get("warc-payload-digest")
    if not url or not date:
        return block_end, -1, "record has no WARC-Target-URI or WARC-Date"
    payload_start = block_start
    status: int | None = None
    mime = fields.get("content-type") or ""
    if http_parsed:
        http_end = data.find(_CRLF2, block_start, block_end)
        http = _head_fields(data[block_start:http_end], _HTTP_FIELDS) if http_end > block_start else None
        if http is None:
            raise _Anomaly("no plain HTTP head inside the block")
        payload_start = http_end + 4
        parts = http[0].split(" ", 1)                          # warcio: protocol, then the status line
        code = (parts[1].strip() if len(parts) > 1 else "").split(" ", 1)[0]
        try:
            status = int(code)
        except ValueError:
            status = None
        if rec_type == "response":
            mime = http[1].get("content-type") or ""
    if rec_type == "revisit":
        mime = REVISIT_MIME
    hash_from = payload_start if not digest and rec_type != "revisit" else -1
    return block_end, hash_from, (url, date, mime, status, digest)


def _head_fields(head: bytes, wanted: frozenset[str]) -> tuple[str, dict[str, str]] | None:
    """(first line, first value of each ``wanted`` field by lower-case name) of a head without its final
    blank line, as warcio's ``StatusAndHeadersParser`` reads it; None when it could read it otherwise."""
    lines_ends = head.count(b"\r\n")
    if head.count(b"\r") != lines_ends or head.count(b"\n") != lines_ends:
        return None                  # a lone CR or LF: warcio's readline splits lines on LF alone
    try:
        lines = head.decode("utf-8").split("\r\n")
    except UnicodeDecodeError:       # warcio decodes line by line: UTF-8, else ISO-8859-1
        lines = [_decode_line(raw) for raw in head.split(b"\r\n")]
    first = lines[0].rstrip()
    if not first:
        return None
    fields: dict[str, str] = {}
    for line in lines[1:]:
        text = line.rstrip()
        if not text or line.startswith((" ", "\t")):
            return None              # warcio ends the head at a blank-looking line; continuation lines
        name, sep, value = text.partition(":")
        if not sep:
            continue                 # warcio drops a line without a colon
        key = name.rstrip(" \t").lower()
        if key in wanted:
            if key not in fields:
                fields[key] = value.lstrip()
            elif key == "warc-target-uri":
                return None          # warcio would rewrite the last one and read the first
    return first, fields


def _decode_line(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("iso-8859-1")


# --- The index file ---------------------------------------------------------------------------------

def read_index(path: Path) -> Iterator[CdxjLine]:
    """Every line of a CDXJ file, in file order; a missing file is an empty index."""
    if not path.exists():
        return
    with path.open(encoding="utf-8") as fh:
        for raw in fh:
            if raw.strip() and not raw.startswith("!"):
                yield CdxjLine.parse(raw)


def write_index(path: Path, lines: Iterable[CdxjLine], *, texts: Iterable[str] = ()) -> int:
    """Write ``lines`` (and lines already as ``texts``) sorted and without duplicates, atomically (temp file
    + rename); returns the count."""
    texts = sorted({line.to_text() for line in lines} | set(texts))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _index_temp(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            for text in texts:
                out.write(text + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(texts)


def merge_into_index(path: Path, scans: Iterable[IndexScan], *, replace_all: bool = False) -> int:
    """Put the lines of ``scans`` into the index at ``path``, replacing earlier lines of the same files.

    With ``replace_all`` the index holds exactly the scanned files afterwards. Locked against concurrent
    writers (crawls closing WARC files while ``crawler index`` runs). Only the new lines are sorted in
    memory; the existing index (sorted, as ``write_index`` leaves it) is streamed through a merge, so
    closing a WARC file does not hold an index that grows with every crawl of the data directory.
    """
    scans = list(scans)
    names = {line.filename for scan in scans for line in scan.lines}
    names |= {p.filename for scan in scans for p in scan.problems}
    return _merge_texts(path, names, sorted({line.to_text() for scan in scans for line in scan.lines}),
                        replace_all=replace_all)


def _merge_texts(path: Path, names: set[str], new: list[str], *, replace_all: bool = False) -> int:
    """Merge the sorted index ``new`` lines of the files ``names`` into the index at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / ".index.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if replace_all or not path.exists():
            return write_index(path, [], texts=new)
        try:
            return _stream_merge(path, names, new)
        except _Unsorted:
            log.warning("index %s is not sorted: sorting it whole", path)
            kept = [line for line in read_index(path) if line.filename not in names]
            return write_index(path, kept, texts=new)


class _Unsorted(Exception):
    """The existing index is out of order (edited by hand, or written by another tool)."""


def _kept_texts(path: Path, dropped: set[str]) -> Iterator[str]:
    """The existing index's lines, in order, without those of the ``dropped`` files."""
    previous = ""
    with path.open(encoding="utf-8") as fh:
        for raw in fh:
            if not raw.strip() or raw.startswith("!"):
                continue
            text = raw.rstrip("\n")
            if text < previous:
                raise _Unsorted(path)
            previous = text
            if not dropped or CdxjLine.parse(text).filename not in dropped:
                yield text


def _index_temp(path: Path) -> tuple[int, str]:
    """A temp file beside the index to be renamed over it, readable as a file made with the process's umask
    would be (mkstemp makes it 0600: a pywb or reader running as another user could not read the index)."""
    fd, tmp = tempfile.mkstemp(prefix=".index-", suffix=".tmp", dir=path.parent)
    os.fchmod(fd, 0o666 & ~_umask())
    return fd, tmp


def _umask() -> int:
    """The process's umask, read without changing it (os.umask sets it, for every thread at once)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def _stream_merge(path: Path, dropped: set[str], new: list[str]) -> int:
    fd, tmp = _index_temp(path)
    count, last = 0, None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            for text in heapq.merge(_kept_texts(path, dropped), new):
                if text != last:
                    out.write(text + "\n")
                    count += 1
                    last = text
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count


@dataclass(frozen=True)
class IndexedFile:
    """What ``append_to_index`` did with one WARC file: how many lines it indexed, which records were bad."""

    path: Path
    indexed: int
    problems: tuple[BadRecord, ...]


def append_to_index(data_dir: Path, warc_path: Path) -> IndexedFile:
    """Index one closed WARC file into ``data_dir``'s index. Called when a crawl closes a WARC file.

    Bad records are logged (file and offset) and returned; the good lines are indexed. Each line is kept as
    its text only (a 1 GB file holds ~50,000 records: CdxjLine objects would cost ~35 MB more at the close).
    """
    name = index_filename(data_dir, warc_path)
    texts: list[str] = []
    problems = _scan_into(warc_path, name, lambda line: texts.append(line.to_text()))
    _merge_file(data_dir, name, texts)
    for problem in problems:
        log.error("not indexed: %s", problem)
    return IndexedFile(warc_path, len(texts), problems)


def _merge_file(data_dir: Path, name: str, texts: list[str]) -> None:
    """Sort the line ``texts`` of the WARC file ``name`` (as the index names it) and merge them into the index."""
    texts.sort()
    _merge_texts(index_path(data_dir), {name}, texts)


@dataclass
class _LiveFile:
    name: str                                   # the file's name in the index (index_filename)
    texts: list[str] = field(default_factory=list)
    rescan: bool = False                        # a record could not be indexed live: scan the file at its close


class LiveIndex:
    """The index lines of the WARC files a crawl writes, built as each record is written.

    ``add`` is a ``WarcWriter`` ``on_record`` hook (writer thread): it parses the record's WARC and HTTP
    heads from memory with the parsers ``ArchiveIterator`` uses and builds the line as a scan would
    (``_line_of``), keeping its text. ``close_file`` (the writer's ``on_close``) then only sorts the file's
    lines and merges them into the index, instead of reading the whole file back: the index is the same,
    byte for byte, as ``crawler index`` builds from the file. Memory: the line texts of the files being
    written, as ``append_to_index`` holds them at a file's close. A file it did not see from its first
    record, or one of whose records it could not parse (logged), is scanned at its close instead.
    """

    def __init__(self, data_dir: Path, warc_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.warc_dir = Path(warc_dir)
        self._loader = ArcWarcRecordLoader(verify_http=False, arc2warc=False)   # as ArchiveIterator's
        self._files: dict[str, _LiveFile] = {}

    def add(self, record: WrittenRecord) -> None:
        """Keep the index line of ``record`` (nothing for the types the index leaves out)."""
        filename = record.location.filename
        live = self._files.get(filename)
        if live is None:
            if record.rec_type != "warcinfo" or record.location.offset != 0:
                return     # not seen from the start (a writer made before this index): scanned at its close
            live = self._files[filename] = _LiveFile(index_filename(self.data_dir, self.warc_dir / filename))
        if record.rec_type not in INDEXED_TYPES or live.rescan:
            return
        try:
            text = self._text_of(record, live.name)
        except Exception as exc:  # warcio raises many kinds; the scan at the close reports the record
            log.warning("%s at offset %d: no index line while writing (%s: %s); the file is scanned when it "
                        "closes", filename, record.location.offset, type(exc).__name__, exc)
            live.rescan = True
            live.texts.clear()
            return
        live.texts.append(text)

    def _text_of(self, record: WrittenRecord, name: str) -> str:
        parsed = self._loader.parse_record_stream(io.BytesIO(record.warc_head + record.block_head),
                                                  known_format="warc")
        url, date, digest = _target(parsed.rec_headers)
        if not url or not date or (not digest and parsed.rec_type != "revisit"):
            raise ValueError("no WARC-Target-URI, WARC-Date or WARC-Payload-Digest")
        loc = record.location
        return _line_of(parsed, url, date, digest, name).with_location(
            filename=name, offset=loc.offset, length=loc.length).to_text()

    def close_file(self, path: Path) -> IndexedFile:
        """Merge the lines of the closed WARC file ``path`` into the index (scan it if they are not all here)."""
        live = self._files.pop(path.name, None)
        if live is None or live.rescan:
            return append_to_index(self.data_dir, path)
        _merge_file(self.data_dir, live.name, live.texts)
        return IndexedFile(path, len(live.texts), ())


# --- Lookup -----------------------------------------------------------------------------------------

def lookup(path: Path, url: str) -> list[CdxjLine]:
    """All captures of ``url`` (by SURT) in the sorted CDXJ file at ``path``, oldest first."""
    key = surt_key(url)
    return [line for line in iter_prefix(path, key + " ")]


def iter_prefix(path: Path, prefix: str) -> Iterator[CdxjLine]:
    """Lines whose text starts with ``prefix``, found by binary search in the sorted file."""
    if not path.exists():
        return
    target = prefix.encode("utf-8")
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        lo, hi = 0, fh.tell()
        while lo < hi:
            mid = (lo + hi) // 2
            fh.seek(mid)
            fh.readline()
            line = fh.readline()
            if not line or line >= target:
                hi = mid
            else:
                lo = mid + 1
        fh.seek(max(lo - 1, 0))
        if lo > 0:
            fh.readline()
        for raw in fh:
            if raw < target:
                continue
            if not raw.startswith(target):
                break
            yield CdxjLine.parse(raw.decode("utf-8"))


def host_urls(path: Path, url: str, limit: int = 10) -> list[str]:
    """Captured URLs of the same host as ``url``, the ones sharing the longest SURT prefix first."""
    key = surt_key(url)
    host = key.split(")", 1)[0] + ")"
    urls: dict[str, str] = {}
    for line in iter_prefix(path, host):
        urls.setdefault(line.key, line.url)
    ranked = sorted(urls.items(), key=lambda kv: (-_common_prefix(kv[0], key), kv[0]))
    return [u for _, u in ranked[:limit]]


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


# --- Agreement with the catalog ---------------------------------------------------------------------

@dataclass(frozen=True)
class IndexCheck:
    """Records of the WARC files in ``warc/`` compared with the CDXJ index and the catalog."""

    records: int                                    # indexable records found in the WARC files
    missing_from_index: tuple[tuple[str, int, str], ...]     # (filename, offset, url)
    missing_from_catalog: tuple[tuple[str, int, str], ...]
    stale_in_index: tuple[tuple[str, int, str], ...]         # lines pointing at no record
    stale_in_catalog: tuple[tuple[str, int, str], ...]
    problems: tuple[BadRecord, ...]

    @property
    def ok(self) -> bool:
        return not (self.missing_from_index or self.missing_from_catalog or self.stale_in_index
                    or self.stale_in_catalog or self.problems)

    def lines(self) -> list[str]:
        out = [f"checked {self.records} record(s) of the WARC files against the index and the catalog"]
        for title, items, hint in (
            ("missing from the index", self.missing_from_index, "run 'crawler index'"),
            ("missing from the catalog", self.missing_from_catalog, "captures written without the crawler?"),
            ("in the index but not in any WARC", self.stale_in_index, "run 'crawler index'"),
            ("in the catalog but not in any WARC", self.stale_in_catalog, "a WARC file was removed or damaged"),
        ):
            if items:
                out.append(f"{len(items)} record(s) {title} ({hint}):")
                out += [f"  {name} at offset {offset}: {url}" for name, offset, url in items]
        out += [f"bad record: {p}" for p in self.problems]
        out.append("index and catalog agree" if self.ok else "index and catalog DISAGREE")
        return out


def check_index(data_dir: Path) -> IndexCheck:
    """Compare the WARC files of ``data_dir/warc`` with its CDXJ index and its catalog (by file and offset)."""
    from archive.catalog import Catalog

    warc_dir = data_dir / WARC_DIR
    scans = [scan_warc(p, p.name) for p in sorted(warc_dir.iterdir())
             if p.name.endswith((".warc.gz", ".warc"))] if warc_dir.is_dir() else []
    in_warcs = {(line.filename, line.offset): line.url for scan in scans for line in scan.lines}
    in_index = {(line.filename, line.offset): line.url for line in read_index(index_path(data_dir))
                if not Path(line.filename).is_absolute()}
    catalog = Catalog(data_dir / "catalog.sqlite")
    try:
        in_catalog = {(row["warc_filename"], int(row["warc_offset"])): row["url"] for row in catalog.captures()
                      if row["warc_type"] in INDEXED_TYPES}
    finally:
        catalog.close()

    def diff(a: dict[tuple[str, int], str], b: dict[tuple[str, int], str]) -> tuple[tuple[str, int, str], ...]:
        return tuple(sorted((name, offset, url) for (name, offset), url in a.items() if (name, offset) not in b))

    return IndexCheck(records=len(in_warcs), missing_from_index=diff(in_warcs, in_index),
                      missing_from_catalog=diff(in_warcs, in_catalog), stale_in_index=diff(in_index, in_warcs),
                      stale_in_catalog=diff(in_catalog, in_warcs),
                      problems=tuple(p for scan in scans for p in scan.problems))
