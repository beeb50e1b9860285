"""Read WARC records back: by location (offset, length) or by iterating a file.

Accepts record-at-a-time gzipped ``.warc.gz`` files and uncompressed ``.warc`` files, WARC/1.0 and
WARC/1.1, ours and other tools'. Offsets and lengths are those ``warcio index`` reports: for gzip the
member's offset and compressed length; for uncompressed files the record without its two trailing
CRLFs. Corrupt input (bad gzip, cut-off member, not a WARC record) raises ``ArchiveError`` naming
file, offset and reason.

``ArchivedRecord.raw_payload`` is the HTTP payload as stored (still content-encoded); ``payload``
decodes ``Transfer-Encoding: chunked`` (when the body is still chunked) and ``Content-Encoding``
(gzip, x-gzip, deflate, br, identity), lazily, refusing to grow past ``MAX_DECODED_SIZE``.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import BinaryIO, cast

import brotli
from zlib_ng import zlib_ng

from archive.timeutil import parse_iso

_INFLATE_ERROR = cast(type[Exception], zlib_ng.error)   # zlib_ng's stub types it as an instance

__all__ = [
    "MAX_DECODED_SIZE",
    "ArchiveError",
    "ArchivedRecord",
    "DigestProblem",
    "decode_payload",
    "iter_records",
    "read_record",
    "remove_chunking",
    "verify_digests",
]

MAX_DECODED_SIZE = 256 * 1024 * 1024
_CHUNK = 1 << 20
_HTTP_TYPES = ("response", "request", "revisit")


class ArchiveError(Exception):
    """Corrupt or unreadable archive data at ``path``/``offset``."""

    def __init__(self, path: Path | str, offset: int | None, reason: str) -> None:
        self.path = Path(path)
        self.offset = offset
        self.reason = reason
        where = f"{self.path}" if offset is None else f"{self.path} at offset {offset}"
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class ArchivedRecord:
    """One WARC record as stored. ``headers``/``http_headers`` are ordered (name, value) pairs."""

    rec_type: str
    target_uri: str | None
    date: str | None                      # WARC-Date as written; see ``datetime``
    record_id: str | None
    headers: tuple[tuple[str, str], ...]  # WARC headers
    http_status: int | None               # response/revisit status code
    http_headers: tuple[tuple[str, str], ...]
    raw_payload: bytes                    # HTTP payload (or the whole block for non-HTTP records)
    payload_digest: str | None
    offset: int
    length: int
    filename: str
    http_statusline: str | None = None    # "HTTP/1.1 200 OK" / "GET /path HTTP/1.1"
    warc_version: str = "WARC/1.1"

    def header(self, name: str) -> str | None:
        """First WARC header called ``name`` (case-insensitive)."""
        return _first(self.headers, name)

    def http_header(self, name: str) -> str | None:
        """First HTTP header called ``name`` (case-insensitive)."""
        return _first(self.http_headers, name)

    @property
    def datetime(self) -> datetime | None:
        """WARC-Date as an aware UTC datetime."""
        return parse_iso(self.date) if self.date else None

    @cached_property
    def payload(self) -> bytes:
        """The payload with transfer and content encodings removed; raises ``ArchiveError``."""
        try:
            return decode_payload(self.raw_payload, self.http_headers)
        except ValueError as exc:
            raise ArchiveError(self.filename, self.offset, f"{exc} (raw_payload has the bytes as stored)") from exc


def _first(pairs: tuple[tuple[str, str], ...], name: str) -> str | None:
    lname = name.lower()
    return next((v for k, v in pairs if k.lower() == lname), None)


# -- payload decoding ------------------------------------------------------------------------------


def _dechunk(data: bytes) -> bytes | None:
    out = bytearray()
    pos = 0
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            return None
        size_text = data[pos:eol].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            return None
        if size == 0:
            return bytes(out)
        start = eol + 2
        if start + size > len(data):
            return None
        out += data[start : start + size]
        pos = start + size + 2


def _inflate(data: bytes, wbits: int, limit: int) -> bytes:
    out = bytearray()
    while data:
        dec = zlib.decompressobj(wbits)
        out += dec.decompress(data, limit + 1 - len(out))
        if len(out) > limit:
            raise ValueError(f"decoded payload exceeds {limit} bytes (decompression bomb?)")
        if not dec.eof:
            if dec.unconsumed_tail:
                raise ValueError(f"decoded payload exceeds {limit} bytes (decompression bomb?)")
            raise ValueError("compressed payload is truncated")
        # gzip may hold several members; anything else after the first one is ignored, as browsers do
        data = dec.unused_data if wbits == 31 and dec.unused_data[:2] == b"\x1f\x8b" else b""
    return bytes(out)


def _decode_one(data: bytes, coding: str, limit: int) -> bytes:
    try:
        if coding in ("gzip", "x-gzip"):
            return _inflate(data, 31, limit)
        if coding == "deflate":
            try:
                return _inflate(data, 15, limit)
            except zlib.error:
                return _inflate(data, -15, limit)  # raw deflate, as some servers send
        if coding == "br":
            dec = brotli.Decompressor()
            out = dec.process(data, output_buffer_limit=limit + 1)
            if len(out) > limit or not dec.can_accept_more_data():
                raise ValueError(f"decoded payload exceeds {limit} bytes (decompression bomb?)")
            if not dec.is_finished():
                raise ValueError("brotli payload is truncated")
            return bytes(out)
    except (zlib.error, brotli.error) as exc:
        raise ValueError(f"payload is not valid {coding} data: {exc}") from exc
    if coding in ("identity", ""):
        return data
    raise ValueError(f"unsupported Content-Encoding {coding!r}")


def remove_chunking(raw: bytes, http_headers: tuple[tuple[str, str], ...] | list[tuple[str, str]]) -> bytes:
    """The payload without ``Transfer-Encoding: chunked``, when the stored body is still chunked (a tool
    that de-chunked it, as ours does, keeps the bytes as they are); content coding is left in place."""
    if "chunked" not in (_first(tuple(http_headers), "transfer-encoding") or "").lower():
        return raw
    dechunked = _dechunk(raw)
    return raw if dechunked is None else dechunked


def decode_payload(raw: bytes, http_headers: tuple[tuple[str, str], ...] | list[tuple[str, str]],
                   limit: int = MAX_DECODED_SIZE) -> bytes:  # fmt: skip
    """Undo chunking (if the stored body is still chunked) and every Content-Encoding, last first.

    Raises ``ValueError`` for data that does not decode or grows past ``limit``.
    """
    if not raw:  # revisits, HEAD, 204/304: no body whatever the headers say
        return b""
    pairs = tuple(http_headers)
    data = remove_chunking(raw, pairs)
    codings = [c.strip().lower() for v in (v for k, v in pairs if k.lower() == "content-encoding")
               for c in v.split(",") if c.strip()]  # fmt: skip
    for coding in reversed(codings):
        data = _decode_one(data, coding, limit)
    return data


# -- record parsing --------------------------------------------------------------------------------


def _decode_header_line(line: bytes) -> str:
    # as warcio does: UTF-8 when it decodes, otherwise latin-1 (bytes 1:1)
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return line.decode("latin-1")


def _parse_http_head(block: bytes) -> tuple[str, tuple[tuple[str, str], ...], int]:
    """(status or request line, ordered header pairs, byte length of the head incl. its blank line)."""
    lines: list[bytes] = []
    pos = 0
    while pos < len(block):
        nl = block.find(b"\n", pos)
        end = len(block) if nl < 0 else nl + 1
        line = block[pos:end].rstrip(b"\r\n")
        pos = end
        if not line:
            if lines:
                break
            continue  # blank lines before the status line
        lines.append(line)
    if not lines:
        return "", (), pos
    headers: list[tuple[str, str]] = []
    for raw in lines[1:]:
        text = _decode_header_line(raw)
        if text[:1] in (" ", "\t") and headers:  # obsolete line folding
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {text.strip()}")
            continue
        name, sep, value = text.partition(":")
        if sep:  # a line without a colon is not a header (warcio drops it too)
            headers.append((name.rstrip(" \t"), value.strip(" \t")))
    return _decode_header_line(lines[0]).strip(), tuple(headers), pos


def _parse_record(data: bytes, path: Path, offset: int, length: int) -> tuple[ArchivedRecord, int, int]:
    """Parse the record at the start of ``data``; returns it and the start and end of its block."""
    head_end, sep_len = data.find(b"\r\n\r\n"), 4
    # some tools end WARC header lines with a bare LF: look for that only before the CRLF end (a search
    # of the whole record, through an HTML body without a blank line, cost a fifth of reading it)
    lf_end = data.find(b"\n\n", 0, len(data) if head_end < 0 else head_end + 2)
    if lf_end >= 0 and (head_end < 0 or lf_end < head_end):
        head_end, sep_len = lf_end, 2
    if not data.startswith(b"WARC/") or head_end < 0:
        raise ArchiveError(path, offset, "not a WARC record (no 'WARC/' version line and header block)")
    lines = [line.rstrip("\r") for line in data[:head_end].decode("utf-8", errors="replace").split("\n")]
    version = lines[0].strip()
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:  # folded continuation line
            name, value = headers[-1]
            headers[-1] = (name, value + " " + line.strip())
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise ArchiveError(path, offset, f"malformed WARC header line {line!r}")
        headers.append((name.strip(), value.strip()))
    pairs = tuple(headers)
    try:
        block_len = int(_first(pairs, "Content-Length") or "")
    except ValueError:
        raise ArchiveError(path, offset, "WARC record without a valid Content-Length") from None
    start = head_end + sep_len
    block = data[start : start + block_len]
    if len(block) < block_len:
        raise ArchiveError(path, offset, f"record cut off: block has {len(block)} of {block_len} bytes")
    rec_type = (_first(pairs, "WARC-Type") or "").lower()
    content_type = (_first(pairs, "Content-Type") or "").lower()
    http_status: int | None = None
    http_headers: tuple[tuple[str, str], ...] = ()
    statusline: str | None = None
    payload = block
    if rec_type in _HTTP_TYPES and content_type.startswith("application/http") and block:
        statusline, http_headers, head_len = _parse_http_head(block)
        payload = block[head_len:]
        if rec_type != "request":
            code = (statusline.split(" ", 2) + [""])[1]
            http_status = int(code) if code.isdigit() else None
    target = _first(pairs, "WARC-Target-URI")
    if target and target.startswith("<") and target.endswith(">"):  # WARC/1.1 draft style
        target = target[1:-1]
    record = ArchivedRecord(
        rec_type=rec_type,
        target_uri=target,
        date=_first(pairs, "WARC-Date"),
        record_id=_first(pairs, "WARC-Record-ID"),
        headers=pairs,
        http_status=http_status,
        http_headers=http_headers,
        raw_payload=payload,
        payload_digest=_first(pairs, "WARC-Payload-Digest"),
        offset=offset,
        length=length,
        filename=path.name,
        http_statusline=statusline,
        warc_version=version,
    )
    return record, start, start + block_len


def _gunzip_member(data: bytes, path: Path, offset: int) -> bytes:
    dec = zlib_ng.decompressobj(31)             # zlib-ng: the same output in about half zlib's time
    try:
        out = dec.decompress(data)
    except _INFLATE_ERROR as exc:
        raise ArchiveError(path, offset, f"bad gzip data: {exc}") from None
    if not dec.eof:
        raise ArchiveError(path, offset, "gzip member is cut off (file truncated or wrong length)")
    return out


def read_record(path: Path, offset: int, length: int | None = None) -> ArchivedRecord:
    """The record at ``offset`` (of ``length`` bytes, or up to the end of its gzip member)."""
    path = Path(path)
    with open(path, "rb") as fh:
        fh.seek(offset)
        if length is not None:
            data = fh.read(length)
            if len(data) < length:
                raise ArchiveError(path, offset, f"file ends after {len(data)} of {length} bytes")
            if data[:2] == b"\x1f\x8b":
                record, _, _ = _parse_record(_gunzip_member(data, path, offset), path, offset, length)
                return record
            record, _, _ = _parse_record(data, path, offset, length)
            return record
        for rec, _ in _iter_from(fh, path, offset):
            return rec
    raise ArchiveError(path, offset, "no record at this offset")


def iter_records(path: Path) -> Iterator[ArchivedRecord]:
    """Every record of a ``.warc.gz`` or ``.warc`` file, in order, with its offset and length."""
    path = Path(path)
    with open(path, "rb") as fh:
        for record, _ in _iter_from(fh, path, 0):
            yield record


def _iter_from(fh: BinaryIO, path: Path, offset: int) -> Iterator[tuple[ArchivedRecord, bytes]]:
    """Each record with its block (the bytes that WARC-Block-Digest covers)."""
    fh.seek(offset)
    magic = fh.read(2)
    fh.seek(offset)
    if magic == b"\x1f\x8b":
        for member_offset, member_length, data in _iter_members(fh, path, offset):
            record, start, end = _parse_record(data, path, member_offset, member_length)
            if data[end:].strip(b"\r\n"):
                raise ArchiveError(
                    path, member_offset,
                    "several records in one gzip member; recompress the file with 'warcio recompress'",
                )  # fmt: skip
            yield record, data[start:end]
    else:
        yield from _iter_plain(fh, path, offset)


def _iter_members(fh: BinaryIO, path: Path, offset: int) -> Iterator[tuple[int, int, bytes]]:
    start = offset
    fed = 0
    out: list[bytes] = []
    dec = zlib.decompressobj(31)
    while True:
        chunk = fh.read(_CHUNK)
        if not chunk:
            if fed or out:
                raise ArchiveError(path, start, "gzip member is cut off (file truncated?)")
            return
        data = chunk
        while data:
            if not fed and not out and not data.strip(b"\x00"):
                return  # zero padding at the end of the file
            try:
                out.append(dec.decompress(data))
            except zlib.error as exc:
                raise ArchiveError(path, start, f"bad gzip data: {exc}") from None
            if not dec.eof:
                fed += len(data)
                break
            used = len(data) - len(dec.unused_data)
            end = start + fed + used
            yield start, end - start, b"".join(out)
            start, fed, out = end, 0, []
            data = dec.unused_data
            dec = zlib.decompressobj(31)


def _iter_plain(fh: BinaryIO, path: Path, offset: int) -> Iterator[tuple[ArchivedRecord, bytes]]:
    pos = offset
    while True:
        line = fh.readline()
        while line in (b"\r\n", b"\n"):
            pos += len(line)
            line = fh.readline()
        if not line:
            return
        head = [line]
        while line not in (b"\r\n", b"\n", b""):
            line = fh.readline()
            head.append(line)
        if not line:
            raise ArchiveError(path, pos, "file ends inside a WARC header block")
        head_bytes = b"".join(head)
        length_value = None
        for raw_line in head[1:]:
            name, _, value = raw_line.partition(b":")
            if name.strip().lower() == b"content-length":
                length_value = value.strip()
        try:
            block_len = int(length_value or b"")
        except ValueError:
            raise ArchiveError(path, pos, "not a WARC record or no valid Content-Length") from None
        block = fh.read(block_len)
        total = len(head_bytes) + block_len
        record, _, _ = _parse_record(head_bytes + block, path, pos, total)
        yield record, block
        pos += total


# -- digest verification ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DigestProblem:
    """A digest header that does not match the stored bytes (or cannot be checked)."""

    offset: int
    record_id: str | None
    header: str          # "WARC-Block-Digest" or "WARC-Payload-Digest"
    expected: str
    actual: str          # "sha1:..." computed, or why it could not be checked

    def __str__(self) -> str:
        return f"offset {self.offset} {self.record_id}: {self.header} {self.expected} != {self.actual}"


_ALGORITHMS = {"sha1": "sha1", "sha-1": "sha1", "sha256": "sha256", "sha-256": "sha256", "md5": "md5"}


def _digest_problem(value: str, data: bytes) -> str | None:
    """None when ``value`` ("sha1:BASE32", hex or base64 also accepted) is the digest of ``data``."""
    algo, sep, encoded = value.partition(":")
    name = _ALGORITHMS.get(algo.strip().lower())
    if not sep or name is None:
        return f"unsupported digest {value!r}"
    raw = hashlib.new(name, data).digest()
    encoded = encoded.strip()
    candidates = {
        base64.b32encode(raw).decode().rstrip("="),
        raw.hex(),
        base64.b64encode(raw).decode().rstrip("="),
    }
    if encoded.rstrip("=") in candidates or encoded.lower() == raw.hex():
        return None
    return f"{algo}:{base64.b32encode(raw).decode()}"


def verify_digests(path: Path) -> list[DigestProblem]:
    """Check WARC-Block-Digest and WARC-Payload-Digest of every record (revisits: block only).

    Unlike ``warcio check`` this does not need to decode Content-Encoding, so br bodies are fine.
    Raises ``ArchiveError`` for a file that cannot be read at all.
    """
    problems: list[DigestProblem] = []
    path = Path(path)
    with open(path, "rb") as fh:
        for record, block in _iter_from(fh, path, 0):
            checks = [("WARC-Block-Digest", block)]
            if record.rec_type != "revisit":
                checks.append(("WARC-Payload-Digest", record.raw_payload))
            for header, data in checks:
                expected = record.header(header)
                if expected is None:
                    continue
                actual = _digest_problem(expected, data)
                if actual is not None:
                    problems.append(DigestProblem(record.offset, record.record_id, header, expected, actual))
    return problems
