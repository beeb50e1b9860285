"""Write WARC/1.1 files: one gzip member per record, rolling over by size, safe to crash.

Records are built here byte by byte (not through warcio's writer, which recomputes and reorders
headers): the HTTP header block is written from the ordered pairs exactly as received, the body
exactly as received (still content-encoded), and the digests are computed over those bytes. The
result is read and checked by warcio (``warcio check``/``warcio index``), see the tests.

WARC header extension: ``WARC-X-Reconstructed: status-line, request, transfer-encoding`` (a comma
list) on the response and request records of an exchange says which parts were not captured as sent
on the wire but rebuilt by the crawler: ``status-line`` (protocol or reason phrase filled in),
``request`` (request headers as the HTTP client meant to send them, not as sent), ``transfer-encoding``
(the body was de-chunked; the original header is kept as ``X-Archive-Orig-Transfer-Encoding``),
``headers`` (a CR or LF inside a header name or value was replaced by a space).

File names: ``{prefix}-{UTC yyyymmddHHMMSS}-{serial:05d}-{hostname}-{pid}.warc.gz``, written as
``... .warc.gz.open`` and renamed when closed. Nothing in a file name ever comes from a URL.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import logging
import os
import re
import socket
import threading
import uuid
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import BinaryIO
from urllib.parse import urlsplit

from zlib_ng import zlib_ng

from archive.timeutil import timestamp14, utc_now, warc_date

__all__ = [
    "RECONSTRUCTED_HEADER",
    "HttpExchange",
    "Recovered",
    "WarcLocation",
    "WarcWriter",
    "WrittenRecord",
    "recover_open_files",
    "sha1_digest",
]

log = logging.getLogger(__name__)

WARC_VERSION = "WARC/1.1"
RECONSTRUCTED_HEADER = "WARC-X-Reconstructed"
OPEN_SUFFIX = ".open"
REVISIT_PROFILES = {
    "identical-payload-digest": "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest",
    "server-not-modified": "http://netpreserve.org/warc/1.1/revisit/server-not-modified",
}
_GZIP_LEVEL = 6
_NAME_PART_RE = re.compile(r"[^A-Za-z0-9.-]")
_PREFIX_RE = re.compile(r"^[A-Za-z0-9._-]+$")


@dataclass(frozen=True)
class WarcLocation:
    """Where one record lives: file base name, gzip member offset and compressed length."""

    filename: str
    offset: int
    length: int
    record_id: str
    payload_digest: str | None

    def to_dict(self) -> dict[str, object]:
        return {
            "filename": self.filename,
            "offset": self.offset,
            "length": self.length,
            "record_id": self.record_id,
            "payload_digest": self.payload_digest,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> WarcLocation:
        try:
            filename, offset, length = d["filename"], d["offset"], d["length"]
            record_id, digest = d["record_id"], d.get("payload_digest")
        except KeyError as exc:
            raise ValueError(f"WarcLocation dict lacks key {exc}: {dict(d)!r}") from exc
        if not isinstance(filename, str) or not isinstance(record_id, str):
            raise ValueError(f"WarcLocation filename and record_id must be str: {dict(d)!r}")
        if type(offset) is not int or type(length) is not int or offset < 0 or length <= 0:
            raise ValueError(f"WarcLocation offset/length must be non-negative ints: {dict(d)!r}")
        if digest is not None and not isinstance(digest, str):
            raise ValueError(f"WarcLocation payload_digest must be str or None: {dict(d)!r}")
        return cls(filename, offset, length, record_id, digest)


@dataclass(frozen=True)
class HttpExchange:
    """Everything the writer needs to store one fetch."""

    url: str
    date: datetime
    method: str
    request_headers: list[tuple[str, str]]
    request_body: bytes
    status: int
    reason: str
    protocol: str
    response_headers: list[tuple[str, str]]
    body: bytes
    ip_address: str | None = None
    reconstructed: tuple[str, ...] = ()
    truncated: str | None = None


@dataclass(frozen=True)
class WrittenRecord:
    """One record just written, as ``on_record`` gets it: enough to index it without reading it back."""

    rec_type: str            # WARC-Type
    location: WarcLocation
    warc_head: bytes         # the WARC header block as written, from "WARC/1.1" to the blank line
    block_head: bytes        # the first part of the block: the HTTP head of a response, revisit or request


@dataclass(frozen=True)
class Recovered:
    """Result of recovering one leftover ``*.warc.gz.open`` file."""

    open_path: Path
    path: Path | None  # the closed file, or None when nothing readable was left (file removed)
    records: int
    dropped_bytes: int


def sha1_digest(*parts: bytes) -> str:
    """``sha1:BASE32`` of the concatenated ``parts``, as in WARC-Payload-Digest / WARC-Block-Digest."""
    h = hashlib.sha1()
    for part in parts:
        h.update(part)
    return "sha1:" + base64.b32encode(h.digest()).decode("ascii")


def _new_record_id() -> str:
    return f"<urn:uuid:{uuid.uuid4()}>"


def _sanitize_name_part(value: str) -> str:
    cleaned = _NAME_PART_RE.sub("-", value).strip(".-")
    return cleaned or "unknown"


def _check_warc_value(name: str, value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError(f"{name} must not contain CR or LF: {value!r}")
    return value


def _encode_http_line(line: str) -> bytes:
    # Header text is latin-1 (bytes decoded 1:1); anything beyond latin-1 is written as UTF-8.
    try:
        return line.encode("latin-1") + b"\r\n"
    except UnicodeEncodeError:
        return line.encode("utf-8") + b"\r\n"


def _http_block(start_line: str, headers: Iterable[tuple[str, str]], fixed: set[str]) -> bytes:
    parts = [_encode_http_line(start_line)]
    for name, value in headers:
        if any(c in name or c in value for c in "\r\n"):
            name = name.replace("\r", " ").replace("\n", " ")
            value = value.replace("\r", " ").replace("\n", " ")
            fixed.add("headers")
        parts.append(_encode_http_line(f"{name}: {value}"))
    parts.append(b"\r\n")
    return b"".join(parts)


def _status_line(protocol: str, status: int, reason: str, fixed: set[str]) -> str:
    if not protocol:
        protocol = "HTTP/1.1"
        fixed.add("status-line")
    if not reason:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = ""
        fixed.add("status-line")
    return f"{protocol} {status} {reason}"


def _request_line(ex: HttpExchange) -> str:
    parts = urlsplit(ex.url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return f"{ex.method} {target} {ex.protocol or 'HTTP/1.1'}"


def _warc_head(headers: list[tuple[str, str]], block: tuple[bytes, ...]) -> bytes:
    """The record's WARC header block, version line to blank line."""
    lines = [WARC_VERSION]
    lines.extend(f"{name}: {_check_warc_value(name, value)}" for name, value in headers)
    lines.append(f"Content-Length: {sum(len(part) for part in block)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def _gzip_record(head: bytes, block: tuple[bytes, ...]) -> bytes:
    """One gzip member holding the record; the block is given in parts to avoid copying big bodies.
    zlib-ng compresses at the same level to the same size as zlib (within 1%) in about half the CPU; its
    output is plain gzip, read by any gzip or WARC reader."""
    comp = zlib_ng.compressobj(_GZIP_LEVEL, zlib_ng.DEFLATED, 31)
    out = [comp.compress(head)]
    out.extend(comp.compress(part) for part in block)
    out.append(comp.compress(b"\r\n\r\n"))
    out.append(comp.flush())
    return b"".join(out)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class WarcWriter:
    """Append WARC/1.1 records to rolling ``*.warc.gz`` files in ``directory``.

    A file is opened lazily on the first write and starts with a ``warcinfo`` record built from the
    ``warcinfo`` fields the caller passes (software, operator, robots policy, crawl id, ...). After a
    write leaves the file at or above ``max_size`` bytes it is closed; the next write opens a new one.
    Each record is one gzip member, flushed to the OS as soon as it is written. ``on_close(path)`` is
    called with each file once it is closed and renamed (e.g. to index it), in the thread that wrote
    the record that filled the file (or called ``close()``), after the writer's lock is released.
    ``on_record(WrittenRecord)`` is called after each record is written, in the writing thread, under
    the writer's lock (keep it short): ``archive.cdxj.LiveIndex.add`` builds the record's index line there,
    so that closing a file does not read it back.
    """

    def __init__(
        self,
        directory: Path,
        *,
        prefix: str = "crawl",
        max_size: int = 1_000_000_000,
        warcinfo: dict[str, str] | None = None,
        hostname: str | None = None,
        pid: int | None = None,
        clock: Callable[[], datetime] | None = None,
        record_id_factory: Callable[[], str] | None = None,
        on_close: Callable[[Path], None] | None = None,
        on_record: Callable[[WrittenRecord], None] | None = None,
    ) -> None:
        if not _PREFIX_RE.match(prefix):
            raise ValueError(f"WARC file prefix {prefix!r} may only use letters, digits, '.', '_', '-'")
        if max_size <= 0:
            raise ValueError(f"max_size must be positive, got {max_size}")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.prefix = prefix
        self.max_size = max_size
        self.warcinfo = dict(warcinfo or {})
        self.hostname = _sanitize_name_part(hostname if hostname is not None else socket.gethostname())
        self.pid = os.getpid() if pid is None else pid
        self._clock = clock or utc_now
        self._new_id = record_id_factory or _new_record_id
        self._on_close = on_close
        self._on_record = on_record
        self._to_notify: list[Path] = []
        self._lock = threading.Lock()
        self._fh: BinaryIO | None = None
        self._open_path: Path | None = None
        self._final_name = ""
        self._warcinfo_id = ""
        self._serial = 0
        self._closed_files: list[Path] = []
        self._closed = False

    # -- public API ------------------------------------------------------------------------------

    @property
    def current_path(self) -> Path | None:
        """The ``.open`` file being written, if any."""
        return self._open_path

    def write_exchange(self, ex: HttpExchange) -> tuple[WarcLocation, WarcLocation]:
        """Write the response record, then the request record; returns (response, request)."""
        date = warc_date(ex.date)
        fixed = set(ex.reconstructed)
        status_line = _status_line(ex.protocol, ex.status, ex.reason, fixed)
        resp_block = _http_block(status_line, ex.response_headers, fixed)
        req_block = _http_block(_request_line(ex), ex.request_headers, fixed)
        reconstructed = ", ".join(sorted(fixed))

        payload_digest = sha1_digest(ex.body)
        with self._lock:
            self._ensure_open()
            resp_id, req_id = self._new_id(), self._new_id()
            resp_headers = self._common(resp_id, "response", date, ex.url)
            if ex.ip_address:
                resp_headers.append(("WARC-IP-Address", ex.ip_address))
            if ex.truncated:
                resp_headers.append(("WARC-Truncated", ex.truncated))
            if reconstructed:
                resp_headers.append((RECONSTRUCTED_HEADER, reconstructed))
            resp_headers += [
                ("WARC-Payload-Digest", payload_digest),
                ("WARC-Block-Digest", sha1_digest(resp_block, ex.body)),
                ("Content-Type", "application/http; msgtype=response"),
            ]
            resp_loc = self._write(resp_headers, (resp_block, ex.body), resp_id, payload_digest)

            req_loc = self._write_request(ex, req_id, date, resp_id, req_block, reconstructed)
            self._roll_if_full()
        self._notify_closed()
        return resp_loc, req_loc

    def write_metadata(
        self,
        *,
        url: str,
        concurrent_to: str,
        date: datetime,
        payload: bytes,
        content_type: str = "application/json",
    ) -> WarcLocation:
        """A ``metadata`` record about ``url``, tied to the response record ``concurrent_to``."""
        with self._lock:
            self._ensure_open()
            rec_id = self._new_id()
            headers = self._common(rec_id, "metadata", warc_date(date), url)
            headers += [
                ("WARC-Concurrent-To", concurrent_to),
                ("WARC-Block-Digest", sha1_digest(payload)),
                ("Content-Type", content_type),
            ]
            loc = self._write(headers, (payload,), rec_id, None)
            self._roll_if_full()
        self._notify_closed()
        return loc

    def write_revisit(
        self,
        ex: HttpExchange,
        *,
        refers_to: WarcLocation,
        refers_to_uri: str,
        refers_to_date: datetime,
        profile: str = "identical-payload-digest",
        http_headers: bool = True,
    ) -> tuple[WarcLocation, WarcLocation]:
        """A ``revisit`` record (HTTP headers only) plus its request record; returns (revisit, request).

        ``identical-payload-digest``: ``ex.body`` must have the digest of the earlier capture
        ``refers_to``. ``server-not-modified``: ``ex`` is the 304 (or equivalent) response.
        ``http_headers=False`` writes an empty block: replay engines (pywb, wabac.js) then serve the
        referenced record's status, headers and payload; with a 304 status line they would serve a 304.
        """
        if profile not in REVISIT_PROFILES:
            raise ValueError(f"unknown revisit profile {profile!r}; use one of {sorted(REVISIT_PROFILES)}")
        digest: str | None = refers_to.payload_digest
        if profile == "identical-payload-digest":
            if digest is None or sha1_digest(ex.body) != digest:
                raise ValueError(
                    f"identical-payload-digest revisit of {ex.url}: body digest {sha1_digest(ex.body)} "
                    f"differs from the referenced record's {digest}; write a full response instead"
                )
        date = warc_date(ex.date)
        fixed = set(ex.reconstructed)
        block = _http_block(_status_line(ex.protocol, ex.status, ex.reason, fixed), ex.response_headers, fixed)
        req_block = _http_block(_request_line(ex), ex.request_headers, fixed)
        reconstructed = ", ".join(sorted(fixed))
        with self._lock:
            self._ensure_open()
            rev_id, req_id = self._new_id(), self._new_id()
            headers = self._common(rev_id, "revisit", date, ex.url)
            if ex.ip_address:
                headers.append(("WARC-IP-Address", ex.ip_address))
            headers += [
                ("WARC-Profile", REVISIT_PROFILES[profile]),
                ("WARC-Refers-To", refers_to.record_id),
                ("WARC-Refers-To-Target-URI", refers_to_uri),
                ("WARC-Refers-To-Date", warc_date(refers_to_date)),
            ]
            if reconstructed:
                headers.append((RECONSTRUCTED_HEADER, reconstructed))
            if digest is not None:
                headers.append(("WARC-Payload-Digest", digest))
            if not http_headers:
                block = b""
            headers.append(("WARC-Block-Digest", sha1_digest(block)))
            if block:
                headers.append(("Content-Type", "application/http; msgtype=response"))
            rev_loc = self._write(headers, (block,), rev_id, digest)
            req_loc = self._write_request(ex, req_id, date, rev_id, req_block, reconstructed)
            self._roll_if_full()
        self._notify_closed()
        return rev_loc, req_loc

    def close(self) -> list[Path]:
        """Close the current file (fsync, rename ``.open`` away). Returns every file this writer closed.

        Idempotent; writing after ``close()`` raises ``RuntimeError``.
        """
        with self._lock:
            self._close_current()
            self._closed = True
            closed = list(self._closed_files)
        self._notify_closed()
        return closed

    def __enter__(self) -> WarcWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------------------

    def _write_request(
        self, ex: HttpExchange, req_id: str, date: str, concurrent_to: str, block: bytes, reconstructed: str
    ) -> WarcLocation:
        headers = self._common(req_id, "request", date, ex.url)
        headers.append(("WARC-Concurrent-To", concurrent_to))
        if ex.ip_address:
            headers.append(("WARC-IP-Address", ex.ip_address))
        if reconstructed:
            headers.append((RECONSTRUCTED_HEADER, reconstructed))
        digest = sha1_digest(ex.request_body)
        headers += [
            ("WARC-Payload-Digest", digest),
            ("WARC-Block-Digest", sha1_digest(block, ex.request_body)),
            ("Content-Type", "application/http; msgtype=request"),
        ]
        return self._write(headers, (block, ex.request_body), req_id, digest)

    def _common(self, rec_id: str, rec_type: str, date: str, url: str) -> list[tuple[str, str]]:
        return [
            ("WARC-Type", rec_type),
            ("WARC-Record-ID", rec_id),
            ("WARC-Warcinfo-ID", self._warcinfo_id),
            ("WARC-Date", date),
            ("WARC-Target-URI", url),
        ]

    def _write(
        self, headers: list[tuple[str, str]], block: tuple[bytes, ...], rec_id: str, digest: str | None
    ) -> WarcLocation:
        assert self._fh is not None
        head = _warc_head(headers, block)
        member = _gzip_record(head, block)
        offset = self._fh.tell()
        try:
            view = memoryview(member)
            while view:  # unbuffered: each member goes straight to the OS
                written = self._fh.write(view)
                view = view[written or 0 :]
        except OSError:
            # disk full, file size limit...: cut the partial member off so that the file stays readable
            # up to its last complete record, and the next write starts on a clean boundary
            os.ftruncate(self._fh.fileno(), offset)
            self._fh.seek(offset)
            raise
        location = WarcLocation(self._final_name, offset, len(member), rec_id, digest)
        if self._on_record is not None:   # WARC-Type comes first (_common, _write_warcinfo)
            self._on_record(WrittenRecord(headers[0][1], location, head, block[0] if block else b""))
        return location

    def _ensure_open(self) -> None:
        if self._closed:
            raise RuntimeError("WarcWriter is closed; create a new writer to write more records")
        if self._fh is not None:
            return
        now = self._clock()
        stamp = timestamp14(now)
        while True:
            name = f"{self.prefix}-{stamp}-{self._serial:05d}-{self.hostname}-{self.pid}.warc.gz"
            self._serial += 1
            final = self.directory / name
            open_path = self.directory / (name + OPEN_SUFFIX)
            if final.exists():
                continue
            try:
                self._fh = open(open_path, "xb", buffering=0)  # noqa: SIM115 - kept open across calls
            except FileExistsError:
                continue
            break
        self._open_path = open_path
        self._final_name = name
        try:
            self._write_warcinfo(now)
        except OSError:
            # a file without its warcinfo is not started: remove it, the next write tries again
            fh, self._fh, self._open_path = self._fh, None, None
            fh.close()
            open_path.unlink()
            raise

    def _write_warcinfo(self, now: datetime) -> None:
        fields = dict(self.warcinfo)
        fields.setdefault("format", "WARC File Format 1.1")
        fields.setdefault(
            "conformsTo", "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"
        )
        body = "".join(
            f"{k}: {_check_warc_value('warcinfo ' + k, str(v))}\r\n" for k, v in fields.items() if v != ""
        ).encode("utf-8")
        rec_id = self._new_id()
        headers = [
            ("WARC-Type", "warcinfo"),
            ("WARC-Record-ID", rec_id),
            ("WARC-Date", warc_date(now)),
            ("WARC-Filename", self._final_name),
            ("WARC-Block-Digest", sha1_digest(body)),
            ("Content-Type", "application/warc-fields"),
        ]
        self._warcinfo_id = rec_id
        self._write(headers, (body,), rec_id, None)

    def _roll_if_full(self) -> None:
        if self._fh is not None and self._fh.tell() >= self.max_size:
            self._close_current()

    def _close_current(self) -> None:
        if self._fh is None or self._open_path is None:
            return
        fh, open_path = self._fh, self._open_path
        self._fh = None
        self._open_path = None
        os.fsync(fh.fileno())
        fh.close()
        final = open_path.with_name(open_path.name[: -len(OPEN_SUFFIX)])
        os.rename(open_path, final)
        _fsync_dir(self.directory)
        self._closed_files.append(final)
        self._to_notify.append(final)

    def _notify_closed(self) -> None:
        # on_close runs outside the lock, in the writing thread: it may take long (indexing) or write
        with self._lock:
            paths, self._to_notify = self._to_notify, []
        if self._on_close is not None:
            for path in paths:
                self._on_close(path)


# -- recovery ------------------------------------------------------------------------------------


def _complete_members(fh: BinaryIO) -> tuple[int, int]:
    """(end offset of the last complete WARC gzip member, number of complete members)."""
    good_end = 0
    members = 0
    member_start = 0
    fed = 0
    head = b""
    dec = zlib.decompressobj(31)
    while True:
        chunk = fh.read(1 << 20)
        if not chunk:
            return good_end, members
        data = chunk
        while data:
            try:
                out = dec.decompress(data)
            except zlib.error:
                return good_end, members
            if len(head) < 5:
                head += out[: 5 - len(head)]
            if not dec.eof:
                fed += len(data)
                break
            used = len(data) - len(dec.unused_data)
            if not head.startswith(b"WARC/"):
                return good_end, members
            good_end = member_start + fed + used
            members += 1
            member_start, fed, head = good_end, 0, b""
            data = dec.unused_data
            dec = zlib.decompressobj(31)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _written_by_live_process(open_path: Path, hostname: str) -> bool:
    """True when the name says a process of this host that is still running writes the file."""
    base = open_path.name[: -len(".warc.gz" + OPEN_SUFFIX)]
    head, sep, pid_text = base.rpartition("-")
    if not sep or not pid_text.isdigit() or not head.endswith("-" + hostname):
        return False
    return _pid_alive(int(pid_text))


def recover_open_files(directory: Path, *, hostname: str | None = None) -> list[Recovered]:
    """Close ``*.warc.gz.open`` files left by a crashed process.

    Keeps every complete record (gzip member holding a WARC record), truncates what follows (a
    partial member), and renames the file to its final name. A file with no complete record is
    removed. Files whose name says they belong to a process of this host (``hostname``, default this
    machine's) that is still running are left alone: another crawl may be writing them. Raises
    ``FileExistsError`` if the final name already exists (move one file away).
    """
    # One recovery at a time per directory: processes starting together on one data directory (the
    # processes of `crawl --processes`, workers) would each truncate and rename the same file.
    # The lock is on the directory itself (flock works on a directory's descriptor): no file is left.
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return _recover_open_files(Path(directory), hostname)
    finally:
        os.close(fd)


def _recover_open_files(directory: Path, hostname: str | None) -> list[Recovered]:
    host = _sanitize_name_part(hostname if hostname is not None else socket.gethostname())
    results: list[Recovered] = []
    for open_path in sorted(Path(directory).glob("*.warc.gz" + OPEN_SUFFIX)):
        if _written_by_live_process(open_path, host):
            log.info("not recovering %s: its writer (this host, pid in the name) is still running", open_path)
            continue
        final = open_path.with_name(open_path.name[: -len(OPEN_SUFFIX)])
        if final.exists():
            raise FileExistsError(
                f"cannot recover {open_path}: {final} already exists; move one of them out of {directory}"
            )
        with open(open_path, "r+b") as fh:
            good_end, members = _complete_members(fh)
            size = fh.seek(0, os.SEEK_END)
            if good_end < size:
                fh.truncate(good_end)
                fh.flush()
                os.fsync(fh.fileno())
        dropped = size - good_end
        if members == 0:
            log.warning("removing %s: no complete WARC record in its %d bytes", open_path, size)
            open_path.unlink()
            results.append(Recovered(open_path, None, 0, dropped))
            continue
        if dropped:
            log.warning("recovered %s: kept %d records, dropped %d trailing bytes", final, members, dropped)
        os.rename(open_path, final)
        results.append(Recovered(open_path, final, members, dropped))
    if results:
        _fsync_dir(Path(directory))
    return results

