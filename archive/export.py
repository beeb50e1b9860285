"""Export of the JSON records: JSON Lines, CSV, or plain text, with the filters of ``crawler export``.

Records are read from ``records/*.jsonl`` in file order (run ids sort by time). A page extracted more than
once (``crawler reextract``) is exported once, from its newest record: one record per capture.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from archive.records import iter_jsonl

CSV_FIELDS = ("id", "run_id", "url", "canonical_url", "fetched_at", "status", "content_type", "kind", "title",
              "authors", "published", "modified", "language", "site_name", "description", "image",
              "categories", "tags", "word_count", "text", "warc_filename", "warc_offset", "warc_length",
              "extraction_error")


def host_matches(url: str, site: str) -> bool:
    """``site`` is the URL's host or a parent domain of it (``example.com`` matches ``www.example.com``)."""
    host = (urlsplit(url).hostname or "").lower()
    site = site.lower().strip(".")
    return host == site or host.endswith("." + site)


def parse_since(text: str) -> datetime:
    """An ISO 8601 date or time; naive values are UTC. Raises ValueError with what is expected."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not a date: {text!r} (use ISO 8601, e.g. 2026-11-27 or 2026-11-27T10:00Z)") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def fetched(record: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(record["fetched_at"]).replace("Z", "+00:00"))


def iter_records(data_dir: Path, *, site: str | None = None, since: datetime | None = None,
                 kind: str | None = None, problems: list[str] | None = None) -> Iterator[dict[str, Any]]:
    """The newest record of every capture, oldest capture first, filtered by host, time and kind.

    With ``problems``, a line that is not a record (a writer killed mid-line, a damaged file) is described
    there (file and line) and skipped, so the other records are still exported; without, it raises
    ``RecordFileError``."""
    latest: dict[tuple[Any, ...], dict[str, Any]] = {}
    for path in sorted((data_dir / "records").glob("*.jsonl")):
        for record in (iter_jsonl(path) if problems is None else _lenient_jsonl(path, problems)):
            warc = record.get("warc") or {}
            key = (warc.get("filename"), warc.get("offset")) if warc else (record["url"], record["fetched_at"])
            latest[key] = record
    chosen = [r for r in latest.values()
              if (site is None or host_matches(r["url"], site))
              and (since is None or fetched(r) >= since)
              and (kind is None or r.get("kind") == kind)]
    yield from sorted(chosen, key=lambda r: (fetched(r), r["url"]))


def _lenient_jsonl(path: Path, problems: list[str]) -> Iterator[dict[str, Any]]:
    """``iter_jsonl``, but a bad line goes to ``problems`` and is skipped."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                cut = "" if line.endswith("\n") else " (unterminated last line: was the writer killed?)"
                problems.append(f"{path}:{lineno}: not valid JSON{cut}: {exc}; skipped")
                continue
            try:
                if not isinstance(obj, dict) or not isinstance(obj.get("url"), str):
                    raise ValueError("no url")
                fetched(obj)
            except (KeyError, TypeError, ValueError):
                problems.append(f"{path}:{lineno}: not a record (no url or no fetched_at time); skipped")
                continue
            yield obj


def write_jsonl(records: Iterable[dict[str, Any]], out: IO[str]) -> int:
    n = 0
    for record in records:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        n += 1
    return n


def csv_row(record: dict[str, Any]) -> dict[str, Any]:
    warc = record.get("warc") or {}
    row = {name: record.get(name) for name in CSV_FIELDS if not name.startswith("warc_")}
    for name in ("authors", "categories", "tags"):
        row[name] = "; ".join(record.get(name) or [])
    row.update(warc_filename=warc.get("filename"), warc_offset=warc.get("offset"), warc_length=warc.get("length"))
    return {k: ("" if v is None else v) for k, v in row.items()}


def write_csv(records: Iterable[dict[str, Any]], out: IO[str]) -> int:
    writer = csv.DictWriter(out, fieldnames=list(CSV_FIELDS), lineterminator="\r\n")
    writer.writeheader()
    n = 0
    for record in records:
        writer.writerow(csv_row(record))
        n += 1
    return n


def write_txt(records: Iterable[dict[str, Any]], out: IO[str], render: Callable[[dict[str, Any]], str]) -> int:
    """Each record in ``render``'s plain-text layout, separated by a form feed line."""
    n = 0
    for record in records:
        if n:
            out.write("\f\n")
        out.write(render(record))
        n += 1
    return n
