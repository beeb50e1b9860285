"""WACZ 1.1.1 packages: the archive (or a part of it) as one file that ReplayWeb.page and pywb open.

Layout of the ZIP:
``archive/data.warc.gz``   a warcinfo record, then the selected response/revisit/resource records, each
                           copied as its own gzip member (uncompressed WARCs are gzipped record by record);
                           a revisit brings its original along. Stored, not deflated, as the spec requires.
``indexes/index.cdx``      the CDXJ index of ``data.warc.gz`` (sorted).
``pages/pages.jsonl``      ``json-pages-1.0`` with each article's title and extracted text (``hasText``), so
                           ReplayWeb.page can search it.
``datapackage.json``       every file with its sha256 and size; ``datapackage-digest.json`` its own hash.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from warcio.warcwriter import WARCWriter

from archive.cdxj import BadRecord, CdxjLine, resolve_filename

WACZ_VERSION = "1.1.1"
WARC_NAME = "data.warc.gz"
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class WaczPage:
    """One entry of ``pages/pages.jsonl``."""

    id: str
    url: str
    ts: str                      # ISO 8601 "Z", the capture time
    title: str | None
    text: str | None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "url": self.url, "ts": self.ts}
        if self.title:
            d["title"] = self.title
        if self.text:
            d["text"] = self.text
        return d


@dataclass(frozen=True)
class WaczResult:
    path: Path
    captures: int
    pages: int
    problems: tuple[BadRecord, ...]


def write_wacz(out: Path, data_dir: Path, captures: Iterable[CdxjLine], pages: Iterable[WaczPage], *,
               title: str, software: str, created: datetime | None = None) -> WaczResult:
    """Write a WACZ of ``captures`` (their records are copied) and ``pages`` to ``out``.

    Records that cannot be read are reported in ``problems`` and left out.
    """
    created = created or datetime.now(UTC)
    warc = io.BytesIO()
    writer = WARCWriter(warc, gzip=True, warc_version="1.1")
    writer.write_record(writer.create_warcinfo_record(WARC_NAME, {
        "software": software, "format": "WARC File Format 1.1", "description": title}))
    lines: list[CdxjLine] = []
    problems: list[BadRecord] = []
    seen: set[tuple[str, int]] = set()
    for line in captures:
        if (line.filename, line.offset) in seen:
            continue
        seen.add((line.filename, line.offset))
        try:
            member = _member(data_dir, line)
        except (OSError, ValueError) as exc:
            problems.append(BadRecord(line.filename, line.offset, f"left out of the WACZ: {exc}"))
            continue
        lines.append(line.with_location(filename=WARC_NAME, offset=warc.tell(), length=len(member)))
        warc.write(member)
    index = "".join(sorted(line.to_text() + "\n" for line in lines)).encode("utf-8")
    page_list = list(pages)
    header = {"format": "json-pages-1.0", "id": "pages", "title": "All Pages", "hasText": True}
    pages_bytes = "".join(json.dumps(p, ensure_ascii=False) + "\n"
                          for p in [header, *(page.to_dict() for page in page_list)]).encode("utf-8")
    files = [(f"archive/{WARC_NAME}", warc.getvalue(), zipfile.ZIP_STORED),
             ("indexes/index.cdx", index, zipfile.ZIP_DEFLATED),
             ("pages/pages.jsonl", pages_bytes, zipfile.ZIP_DEFLATED)]
    package = {
        "profile": "data-package",
        "resources": [{"name": Path(name).name.lower(), "path": name, "hash": _sha256(data), "bytes": len(data)}
                      for name, data, _ in files],
        "title": title,
        "created": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "wacz_version": WACZ_VERSION,
        "software": software,
    }
    package_bytes = json.dumps(package, indent=2, ensure_ascii=False).encode("utf-8")
    digest = json.dumps({"path": "datapackage.json", "hash": _sha256(package_bytes)}, indent=2).encode("utf-8")
    files += [("datapackage.json", package_bytes, zipfile.ZIP_DEFLATED),
              ("datapackage-digest.json", digest, zipfile.ZIP_DEFLATED)]
    # The caller owns the path: a missing folder is its error (OSError), not created here.
    tmp = out.with_name(out.name + ".part")
    try:
        with zipfile.ZipFile(tmp, "w") as zf:
            for name, data, compression in files:
                info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
                info.compress_type = compression
                zf.writestr(info, data)
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)     # no half package left behind (a full disk, an interrupt)
        raise
    return WaczResult(out, len(lines), len(page_list), tuple(problems))


def _member(data_dir: Path, line: CdxjLine) -> bytes:
    """The record of ``line`` as one gzip member."""
    path = resolve_filename(data_dir, line.filename)
    if not path.is_file():
        raise ValueError(f"WARC file {path} is missing")
    with path.open("rb") as fh:
        fh.seek(line.offset)
        data = fh.read(line.length)
    if len(data) < line.length:
        raise ValueError("the WARC file ends inside the record (truncated)")
    if data[:2] == b"\x1f\x8b":
        try:
            gzip.decompress(data)          # a damaged member is better left out than copied
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"damaged gzip member ({exc})") from exc
        return data
    if not data.startswith(b"WARC/"):
        raise ValueError("no WARC record at this offset")
    if not data.endswith(b"\r\n\r\n"):
        data += b"\r\n\r\n"
    return gzip.compress(data, mtime=0)


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()
