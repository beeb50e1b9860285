"""The item a spider hands to the pipelines: one fetched HTML page and where its capture lives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class PageItem:
    """A fetched HTML page on its way to extraction and storage (mutable: pipelines fill ``extraction``)."""

    url: str
    status: int
    headers: list[tuple[str, str]]
    content_type: str
    html: str
    encoding: str
    fetched_at: str                      # UTC ISO 8601 ("...Z")
    warc: dict[str, Any] | None          # archive.writer.WarcLocation.to_dict() of the response record
    kind: str = "page"                   # "article" | "page"
    depth: int = 0
    extraction: Any = None               # crawler.extraction.Extraction, set by ExtractionPipeline
    extraction_error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
