"""Bad input to the ``crawler`` verbs and to ``scrapy crawl``: one clear error line and exit 2 (bad input) or
1 (the work failed), never a traceback; and inputs that other verbs accept are accepted alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.cli import main
from tests.conftest import ReplayArchive


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = [line for line in err.strip().splitlines() if not line.startswith(("usage:", " "))]
    assert len(lines) == 1, err
    return lines[0]


# --- schedule ---------------------------------------------------------------------------------------------

def test_schedule_cron_that_never_fires_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["schedule", "add", "s3", "news", "--seed", "http://127.0.0.1:8765/a/2", "--data-dir", str(tmp_path)]
    assert main([*argv, "--cron", "0 0 31 2 *"]) == 2
    line = _one_error_line(capsys)
    assert "0 0 31 2 *" in line and "never fires" in line
    # 29 February does come, every four years
    assert main([*argv, "--cron", "0 0 29 2 *"]) == 0
    assert "next run 20" in capsys.readouterr().out


# --- export: where the output goes -----------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["wacz", "csv", "txt", "jsonl"])
def test_export_output_that_is_a_directory_or_in_a_missing_folder(
        fmt: str, replay_archive: ReplayArchive, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = ["--data-dir", str(replay_archive.data_dir)]

    def export(out: Path) -> int:
        return main(["export", fmt, *([str(out)] if fmt == "wacz" else ["-o", str(out)]), *data])

    folder = tmp_path / "out.wacz" if fmt == "wacz" else tmp_path / "out"
    folder.mkdir()
    assert export(folder) == 2
    assert "is a directory" in _one_error_line(capsys)
    missing = tmp_path / "nonexistent" / f"x.{fmt}"
    assert export(missing) == 2
    line = _one_error_line(capsys)
    assert "does not exist" in line and str(missing.parent) in line
    assert not missing.parent.exists()            # never created
    archived = next((replay_archive.data_dir / "records").glob("*.jsonl"))
    before = archived.read_bytes()
    if fmt != "wacz":
        assert export(archived) == 2
        assert "archive" in _one_error_line(capsys)
        assert archived.read_bytes() == before
    # a folder that exists but cannot take files: a write error, exit 1, naming the path, no .part left
    assert export(Path("/proc") / f"x.{fmt}") == 1
    line = _one_error_line(capsys)
    assert line.startswith("crawler: error: cannot write /proc/x.") and ".part" not in line
    good = tmp_path / f"good.{fmt}"
    assert export(good) == 0 and good.stat().st_size > 0
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []
