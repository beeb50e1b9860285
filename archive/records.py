"""The normalized JSON record of one archived page, its JSON Schema, and the JSON Lines store.

A ``Record`` is typed and frozen; ``to_dict()`` gives the JSON form (lists, ``warc`` as an object) that
``archive/record.schema.json`` (Draft 2020-12) describes and ``validate()``
checks.

Schema versions: 1 (the foundation); 2 adds ``version`` (1 for the first capture of a URL, +1 for each
capture whose text changed), ``previous`` (the id of the record it supersedes, or null) and
``text_fingerprint`` (``sha1:BASE32`` of the normalized title and text, separate from the payload
digest: a page whose ads changed but whose text did not keeps its fingerprint). Version 1 records
still validate and load (the new fields default to 1 / null / null). The optional ``encoding`` object
(``TextEncoding``: charset, where it came from, undecodable bytes and control characters) says how the
page's bytes became its text; records written before it existed, and reextracted ones whose caller did
not fill it, lack it or carry null. ``RecordStore`` appends one validated record per line to ``records/<run-id>.jsonl``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import unicodedata
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import fastjsonschema
from jsonschema import Draft202012Validator, FormatChecker

from archive.timeutil import parse_iso
from archive.writer import WarcLocation, sha1_digest

__all__ = [
    "ENCODING_SOURCES",
    "SCHEMA_VERSION",
    "Record",
    "RecordFileError",
    "RecordStore",
    "RecordValidationError",
    "TextEncoding",
    "iter_jsonl",
    "schema",
    "text_fingerprint",
    "validate",
]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
_RUN_ID_RE = re.compile(r"^[A-Za-z0-9._-]+$")
# Characters that str.splitlines() and some JSON Lines readers treat as line ends; json.dumps leaves
# them raw with ensure_ascii=False, so they are escaped (the JSON value is the same).
_LINE_BREAK_ESCAPES = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})

# JSON field order (also the order of ARCHITECTURE.md).
FIELDS = (
    "schema_version", "id", "run_id", "url", "canonical_url", "fetched_at", "status", "content_type",
    "kind", "title", "authors", "published", "modified", "language", "site_name", "description", "image",
    "categories", "tags", "text", "word_count", "warc", "extraction_error",
    "version", "previous", "text_fingerprint", "encoding",
)  # fmt: skip
_V2_FIELDS = ("version", "previous", "text_fingerprint")  # absent from schema_version 1 records
_OPTIONAL_FIELDS = (*_V2_FIELDS, "encoding")  # may be absent from a stored record
# Where a page's charset came from (TextEncoding.source), in the order a browser looks.
ENCODING_SOURCES = ("bom", "header", "meta", "sniffed", "default")


class RecordValidationError(ValueError):
    """A record does not match ``archive/record.schema.json``; ``errors`` lists each problem."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("invalid record: " + "; ".join(errors))


class RecordFileError(ValueError):
    """A JSON Lines file has a line that is not a JSON object."""


@cache
def schema() -> dict[str, Any]:
    """The record JSON Schema (parsed ``archive/record.schema.json``)."""
    text = files("archive").joinpath("record.schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@cache
def _validator() -> Draft202012Validator:
    Draft202012Validator.check_schema(schema())
    return Draft202012Validator(schema(), format_checker=FormatChecker())


@cache
def _fast_validator() -> Callable[[dict[str, Any]], Any]:
    # The same schema compiled to Python code (fastjsonschema): ~50 times faster than jsonschema on a valid
    # record, which is what a crawl writes for every page. What it accepts, jsonschema accepts (see tests).
    compiled: Callable[[dict[str, Any]], Any] = fastjsonschema.compile(schema())
    return compiled


def _passes_fast_check(d: dict[str, Any]) -> bool:
    if any(isinstance(v, tuple) for v in d.values()):  # fastjsonschema takes tuples for arrays, jsonschema not
        return False
    try:
        _fast_validator()(d)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def validate(d: Mapping[str, Any]) -> None:
    """Raise ``RecordValidationError`` listing every way ``d`` differs from the schema."""
    d = dict(d)
    errors = [] if _passes_fast_check(d) else [  # jsonschema lists every problem of a bad record
        f"{'/'.join(str(p) for p in e.absolute_path) or '(record)'}: {e.message}"
        for e in sorted(_validator().iter_errors(d), key=lambda e: list(map(str, e.absolute_path)))
    ]
    fetched_at = d.get("fetched_at")
    if not errors and isinstance(fetched_at, str):
        try:
            parse_iso(fetched_at)
        except ValueError as exc:
            errors.append(f"fetched_at: {exc}")
    if errors:
        raise RecordValidationError(errors)


def text_fingerprint(title: str | None, text: str) -> str:
    """``sha1:BASE32`` of the title and text with Unicode (NFC) and whitespace normalized.

    Two captures of an article with equal fingerprints carry the same text, whatever else on the page
    (ads, timestamps, sidebars) changed; the payload digest tells bytes apart, this tells versions apart.
    """
    normalized = " ".join(unicodedata.normalize("NFC", f"{title or ''}\n{text}").split())
    return sha1_digest(normalized.encode("utf-8"))


@dataclass(frozen=True, kw_only=True)
class TextEncoding:
    """How a page's bytes were decoded into its text; ``flagged`` when some of it is not text."""

    charset: str      # WHATWG Encoding Standard name ("utf-8", "windows-1251", "utf-16le"), else Python's
    source: str       # one of ENCODING_SOURCES
    errors: int = 0   # byte sequences that could not be decoded (each became U+FFFD in the text)
    controls: int = 0  # NUL and other C0 control characters (not text in HTML), after decoding

    def __post_init__(self) -> None:
        if self.source not in ENCODING_SOURCES:
            raise ValueError(f"TextEncoding.source must be one of {', '.join(ENCODING_SOURCES)}, not {self.source!r}")
        if self.errors < 0 or self.controls < 0:
            raise ValueError(f"TextEncoding counts must be >= 0, not {self.errors} / {self.controls}")

    @property
    def flagged(self) -> bool:
        """True when the text is not all the page held: undecodable bytes or control characters."""
        return self.errors > 0 or self.controls > 0

    def to_dict(self) -> dict[str, Any]:
        return {"charset": self.charset, "source": self.source, "errors": self.errors, "controls": self.controls}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TextEncoding:
        return cls(charset=str(d["charset"]), source=str(d["source"]), errors=int(d.get("errors", 0)),
                   controls=int(d.get("controls", 0)))


def _new_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True, kw_only=True)
class Record:
    """One archived page. Sequences are stored as tuples; ``warc`` as a ``WarcLocation``."""

    run_id: str
    url: str
    fetched_at: str
    status: int
    kind: str = "page"
    id: str = field(default_factory=_new_id)
    schema_version: int = SCHEMA_VERSION
    canonical_url: str | None = None
    content_type: str | None = None
    title: str | None = None
    authors: Sequence[str] = ()
    published: str | None = None
    modified: str | None = None
    language: str | None = None
    site_name: str | None = None
    description: str | None = None
    image: str | None = None
    categories: Sequence[str] = ()
    tags: Sequence[str] = ()
    text: str = ""
    word_count: int = 0
    warc: WarcLocation | Mapping[str, Any] | None = None
    extraction_error: str | None = None
    version: int = 1
    previous: str | None = None
    text_fingerprint: str | None = None
    encoding: TextEncoding | Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        for name in ("authors", "categories", "tags"):
            value = getattr(self, name)
            if isinstance(value, str):
                raise TypeError(f"Record.{name} must be a list of strings, not a string: {value!r}")
            object.__setattr__(self, name, tuple(value))
        if self.warc is not None and not isinstance(self.warc, WarcLocation):
            object.__setattr__(self, "warc", WarcLocation.from_dict(self.warc))
        if self.encoding is not None and not isinstance(self.encoding, TextEncoding):
            object.__setattr__(self, "encoding", TextEncoding.from_dict(self.encoding))

    @property
    def location(self) -> WarcLocation | None:
        """The response record this page came from."""
        return self.warc if isinstance(self.warc, WarcLocation) else None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, keys in schema order."""
        d: dict[str, Any] = {}
        for name in FIELDS:
            value = getattr(self, name)
            if name in ("authors", "categories", "tags"):
                value = list(value)
            elif name == "warc":
                value = self.location.to_dict() if self.location else None
            elif name == "encoding":
                value = self.encoding.to_dict() if isinstance(self.encoding, TextEncoding) else None
            d[name] = value
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Record:
        """Validate ``d`` against the schema and build the record (raises ``RecordValidationError``)."""
        validate(d)
        return cls(**{name: d[name] for name in FIELDS if name in d or name not in _OPTIONAL_FIELDS})


def iter_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Yield each JSON object of a JSON Lines file (blank lines skipped).

    Raises ``RecordFileError`` naming file and line for a line that is not a JSON object.
    """
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                hint = "" if line.endswith("\n") else " (unterminated last line: was the writer killed?)"
                raise RecordFileError(f"{path}:{lineno}: not valid JSON{hint}: {exc}") from exc
            if not isinstance(obj, dict):
                raise RecordFileError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
            yield obj


class RecordStore:
    """Appends records to ``<records_dir>/<run_id>.jsonl``, one validated JSON object per line.

    Each line is flushed as soon as it is written. When the file exists and its last line was cut
    off (the process died mid-write), that partial line is removed first, with a warning.
    """

    def __init__(self, records_dir: Path, run_id: str) -> None:
        if not _RUN_ID_RE.match(run_id):
            raise ValueError(f"run id {run_id!r} may only use letters, digits, '.', '_', '-'")
        self.run_id = run_id
        self.path = Path(records_dir) / f"{run_id}.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._drop_partial_line()
        # Unbuffered bytes: a line goes to the OS whole or is cut off again (see append), never half in a buffer.
        self._fh: IO[bytes] | None = open(self.path, "ab", buffering=0)  # noqa: SIM115
        self._lock = threading.Lock()

    def _drop_partial_line(self) -> None:
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        with open(self.path, "r+b") as fh:
            size = fh.seek(0, os.SEEK_END)
            fh.seek(size - 1)
            if fh.read(1) == b"\n":
                return
            pos = size
            while pos > 0:
                step = min(65536, pos)
                fh.seek(pos - step)
                chunk = fh.read(step)
                nl = chunk.rfind(b"\n")
                if nl >= 0:
                    pos = pos - step + nl + 1
                    break
                pos -= step
            log.warning("%s: removing a partial last line (%d bytes) left by an interrupted write",
                        self.path, size - pos)
            fh.truncate(pos)

    def append(self, record: Record | Mapping[str, Any]) -> Path:
        """Validate and append one record; returns the file it went to."""
        d = record.to_dict() if isinstance(record, Record) else dict(record)
        validate(d)
        if d["run_id"] != self.run_id:
            raise ValueError(f"record {d['id']} belongs to run {d['run_id']!r}, this store is {self.run_id!r}")
        line = json.dumps(d, ensure_ascii=False)
        if "\x85" in line or "\u2028" in line or "\u2029" in line:  # str.translate: ~1 ms on a non-ASCII record
            line = line.translate(_LINE_BREAK_ESCAPES)
        data = (line + "\n").encode("utf-8")
        with self._lock:
            if self._fh is None:
                raise RuntimeError(f"RecordStore for {self.path} is closed")
            fd = self._fh.fileno()
            start = os.fstat(fd).st_size
            try:
                view = memoryview(data)
                while view:
                    written = self._fh.write(view)
                    view = view[written or 0 :]
            except OSError:
                # disk full, file size limit...: cut the partial line off, so that the file keeps whole lines
                # only, as the WARC writer does with a partial record
                os.ftruncate(fd, start)
                raise
        return self.path

    def close(self) -> None:
        """Flush, fsync and close (idempotent)."""
        with self._lock:
            if self._fh is None:
                return
            fh, self._fh = self._fh, None
            fh.flush()
            os.fsync(fh.fileno())
            fh.close()

    def __enter__(self) -> RecordStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
