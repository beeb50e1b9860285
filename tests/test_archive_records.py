"""JSON records: the schema accepts what Record writes and rejects what it should; the JSONL store reads back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from archive.records import (
    SCHEMA_VERSION,
    Record,
    RecordFileError,
    RecordStore,
    RecordValidationError,
    iter_jsonl,
    schema,
    validate,
)
from archive.writer import WarcLocation

LOC = WarcLocation(
    "crawl-20261127112233-00000-host-1.warc.gz", 1234, 567,
    "<urn:uuid:00000000-0000-0000-0000-000000000002>", "sha1:" + "A" * 32,
)  # fmt: skip


def make_record(**changes: Any) -> Record:
    fields: dict[str, Any] = dict(
        run_id="20261127T112233Z-abc123",
        url="https://www.example.org/news/2026/11/27/some-story",
        canonical_url="https://www.example.org/news/some-story",
        fetched_at="2026-11-27T11:22:33Z",
        status=200,
        content_type="text/html",
        kind="article",
        title="Привет, «мир»",
        authors=["Anna Ivanova", "Jean Dupont"],
        published="2026-11-27T09:00:00+03:00",
        modified="2026-11-27",
        language="ru",
        site_name="Example",
        description="A story",
        image="https://www.example.org/img.jpg",
        categories=["News"],
        tags=["russia", "economy"],
        text="Первый абзац.\n\nSecond paragraph.",
        word_count=4,
        warc=LOC,
        extraction_error=None,
    )
    fields.update(changes)
    return Record(**fields)


def test_record_dict_round_trip_and_schema() -> None:
    record = make_record()
    d = record.to_dict()
    assert set(d) == set(schema()["properties"])  # every field the schema knows, no other
    assert set(schema()["required"]) <= set(d) and d["schema_version"] == SCHEMA_VERSION
    assert len(d["id"]) == 32 and d["warc"] == LOC.to_dict() and d["authors"] == ["Anna Ivanova", "Jean Dupont"]
    validate(d)
    assert Record.from_dict(json.loads(json.dumps(d))) == record
    # a WarcLocation dict is accepted as well and normalized
    assert make_record(warc=LOC.to_dict(), id=record.id) == record
    assert make_record(warc=None).to_dict()["warc"] is None
    validate(make_record(warc=None, title=None, authors=[], text="", word_count=0, extraction_error="boom").to_dict())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"fetched_at": "2026-11-27 11:22:33"}, "fetched_at"),
        ({"fetched_at": "2026-11-27T11:22:33+00:00"}, "fetched_at"),
        ({"fetched_at": "2026-02-30T11:22:33Z"}, "fetched_at"),
        ({"kind": "listing"}, "kind"),
        ({"status": "200"}, "status"),
        ({"authors": "Anna"}, "authors"),
        ({"extra": 1}, "Additional properties"),
        ({"schema_version": 99}, "schema_version"),
        ({"id": "not-a-uuid"}, "id"),
        ({"published": "yesterday"}, "published"),
        ({"warc": {**LOC.to_dict(), "offset": -1}}, "warc/offset"),
        ({"warc": {**LOC.to_dict(), "payload_digest": "no digest"}}, "warc/payload_digest"),
        ({"word_count": None}, "word_count"),
    ],
)
def test_invalid_records_are_rejected(change: dict[str, Any], message: str) -> None:
    d = {**make_record().to_dict(), **change}
    with pytest.raises(RecordValidationError, match=message):
        validate(d)


def test_fast_check_never_accepts_what_jsonschema_rejects() -> None:
    """validate() asks a compiled copy of the schema first (fastjsonschema) and jsonschema only when it
    says no: so whatever the fast check accepts must be valid for jsonschema too. Random mutations of a
    valid record, both validators asked about each."""
    import random

    from jsonschema import Draft202012Validator, FormatChecker

    from archive.records import _passes_fast_check

    reference = Draft202012Validator(schema(), format_checker=FormatChecker())
    base = make_record().to_dict()
    values: list[Any] = [None, "", "x", "2026-11-27", "2026-11-27T13:53:05Z", "2026-13-45T99:99Z", 0, -1, 2, 1.5,
                         True, False, [], ["a"], [1], ("a",), {}, {"a": 1}, "article", "page", "0" * 32, "sha1:AB",
                         {**LOC.to_dict(), "offset": True}, {"charset": "utf-8", "source": "bogus"},
                         {"charset": "utf-8", "source": "bom", "errors": -1, "controls": 0}]
    keys = [*base, "extra"]
    rng = random.Random(7)
    accepted = 0
    for _ in range(1500):
        d = dict(base)
        for _ in range(rng.randint(1, 3)):
            key = rng.choice(keys)
            if rng.random() < 0.1:
                d.pop(key, None)
            else:
                d[key] = rng.choice(values)
        if _passes_fast_check(d):
            accepted += 1
            assert reference.is_valid(d), [e.message for e in reference.iter_errors(d)]
    assert accepted > 50  # the mutations do not all break the record: both sides were exercised


def test_missing_field_is_rejected() -> None:
    d = make_record().to_dict()
    del d["text"]
    with pytest.raises(RecordValidationError, match="'text' is a required property"):
        Record.from_dict(d)


def test_record_rejects_a_string_for_a_list() -> None:
    with pytest.raises(TypeError, match="authors"):
        make_record(authors="Anna Ivanova")


def test_store_appends_lines_and_reads_them_back(tmp_path: Path) -> None:
    records = [make_record(), make_record(url="https://www.example.org/b", kind="page", title="b\nc",
                                          text="line\u2028sep\x85nel\rcr\u2029 \ud7ff")]  # fmt: skip
    with RecordStore(tmp_path / "records", records[0].run_id) as store:
        paths = {store.append(r) for r in records}
        # each line is on disk before close
        assert len(store.path.read_text(encoding="utf-8").splitlines()) == 2
    (path,) = paths
    assert path == tmp_path / "records" / "20261127T112233Z-abc123.jsonl"
    text = path.read_text(encoding="utf-8")
    assert "Привет" in text  # ensure_ascii=False
    assert [Record.from_dict(d) for d in iter_jsonl(path)] == records
    # a second store on the same run appends
    with RecordStore(tmp_path / "records", records[0].run_id) as store:
        store.append(make_record(url="https://www.example.org/c"))
    assert len(list(iter_jsonl(path))) == 3
    store.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        store.append(records[0])


def test_store_validates_before_writing(tmp_path: Path) -> None:
    with RecordStore(tmp_path, "run1") as store:
        with pytest.raises(RecordValidationError, match="fetched_at"):
            store.append(make_record(run_id="run1", fetched_at="27/11/2026"))
        with pytest.raises(ValueError, match="belongs to run"):
            store.append(make_record(run_id="run2"))
    assert store.path.read_bytes() == b""
    with pytest.raises(ValueError, match="run id"):
        RecordStore(tmp_path, "../escape")


def test_store_drops_a_partial_last_line_from_a_crash(tmp_path: Path) -> None:
    with RecordStore(tmp_path, "run1") as store:
        store.append(make_record(run_id="run1"))
    with open(store.path, "ab") as fh:
        fh.write(b'{"schema_version": 1, "id": "cut of')
    with pytest.raises(RecordFileError, match="run1.jsonl:2: not valid JSON .*unterminated"):
        list(iter_jsonl(store.path))
    with RecordStore(tmp_path, "run1") as store:
        store.append(make_record(run_id="run1"))
    assert len(list(iter_jsonl(store.path))) == 2


def test_iter_jsonl_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1}\n\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(RecordFileError, match="x.jsonl:3: expected a JSON object"):
        list(iter_jsonl(path))


# -- archive.timeutil: the time forms records and the catalog use -----------------------------------


def test_time_forms() -> None:
    from datetime import UTC, datetime, timedelta, timezone

    from archive.timeutil import iso_z, parse_iso, sortable_z, timestamp14

    moscow = timezone(timedelta(hours=3))
    dt = datetime(2026, 11, 27, 14, 22, 33, tzinfo=moscow)
    assert iso_z(dt) == "2026-11-27T11:22:33Z"
    assert iso_z(dt.replace(microsecond=250000)) == "2026-11-27T11:22:33.250000Z"
    assert sortable_z(dt) == "2026-11-27T11:22:33.000000Z"
    assert timestamp14(dt) == "20261127112233"
    assert parse_iso("2026-11-27T14:22:33+03:00") == parse_iso("2026-11-27T11:22:33Z") == dt
    assert parse_iso("2026-11-27") == datetime(2026, 11, 27, tzinfo=UTC)
    assert parse_iso("2026-11-27T11:22:33.123456789Z").microsecond == 123456
    assert parse_iso("2026-11-27 11:22+0300") == datetime(2026, 11, 27, 8, 22, tzinfo=UTC)
    assert parse_iso(datetime(2026, 1, 1)) == datetime(2026, 1, 1, tzinfo=UTC)  # naive taken as UTC
    with pytest.raises(ValueError, match="naive datetime"):
        iso_z(datetime(2026, 1, 1))
    for bad in ("27.11.2026", "2026-11-27T25:00:00Z", ""):
        with pytest.raises(ValueError, match="2026-11-27T11:22:33Z|not a valid"):
            parse_iso(bad)


@pytest.mark.parametrize("module", ["archive.writer", "archive.reader", "archive.records", "archive.catalog",
                                    "archive.timeutil"])  # fmt: skip
def test_exported_members_exist(module: str) -> None:
    import importlib

    mod = importlib.import_module(module)
    assert sorted(mod.__all__) == sorted(set(mod.__all__))
    assert [name for name in mod.__all__ if not hasattr(mod, name)] == []


def test_a_write_cut_short_leaves_no_partial_line(tmp_path: Path) -> None:
    """A record that does not fit (disk full; here the file size limit, RLIMIT_FSIZE, in a child process) is
    cut off again: the file keeps whole lines only, and the store goes on taking records that fit."""
    import subprocess
    import sys

    script = f"""
import resource, signal, sys
sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})
from pathlib import Path
from tests.test_archive_records import make_record
from archive.records import RecordStore
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
store = RecordStore(Path({str(tmp_path)!r}), make_record().run_id)
store.append(make_record(id="a" * 32))
size = store.path.stat().st_size
resource.setrlimit(resource.RLIMIT_FSIZE, (size + 2000, size + 2000))
try:
    store.append(make_record(id="b" * 32, text="x" * 10000))
except OSError as exc:
    print("refused:", exc.errno)
store.append(make_record(id="c" * 32))
store.close()
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("refused:")
    lines = (tmp_path / f"{make_record().run_id}.jsonl").read_bytes().split(b"\n")
    assert lines[-1] == b""
    assert [json.loads(line)["id"] for line in lines[:-1]] == ["a" * 32, "c" * 32]
