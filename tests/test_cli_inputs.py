"""Bad input to the ``crawler`` verbs and to ``scrapy crawl``: one clear error line and exit 2 (bad input) or
1 (the work failed), never a traceback; and inputs that other verbs accept are accepted alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.cli import main


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
