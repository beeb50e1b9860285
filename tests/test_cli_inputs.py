"""Bad input to the ``crawler`` verbs and to ``scrapy crawl``: one clear error line and exit 2 (bad input) or
1 (the work failed), never a traceback; and inputs that other verbs accept are accepted alike."""

from __future__ import annotations

import argparse
import http.server
import threading
from collections.abc import Iterator
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


# --- replay serve: the address ----------------------------------------------------------------------------

@pytest.mark.parametrize(("host", "needle"), [("999.1.1.1", "not an IP address"), ("8.8.8.8", "not an address of")])
def test_replay_serve_on_a_host_that_is_not_ours(
        host: str, needle: str, replay_archive: ReplayArchive, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["replay", "serve", "--host", host, "--port", "0", "--data-dir", str(replay_archive.data_dir)]
    assert main(argv) == 2
    line = _one_error_line(capsys)
    assert needle in line and host in line


class _Answers200(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def other_server() -> Iterator[int]:
    """Another HTTP server (answering 200 to everything, as another pywb does) on a port of 127.0.0.1."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answers200)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_replay_serve_on_a_port_in_use_says_so(
        other_server: int, replay_archive: ReplayArchive, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["replay", "serve", "--port", str(other_server), "--data-dir", str(replay_archive.data_dir)]
    assert main(argv) == 1
    out = capsys.readouterr()
    assert "pywb is serving" not in out.out
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and f"port {other_server}" in lines[0] and "another process" in lines[0], out.err


def test_pywb_that_cannot_bind_is_not_taken_for_the_server_that_answers(
        other_server: int, replay_archive: ReplayArchive) -> None:
    """The port is taken after the check (a race): the other server answers the readiness check, but our pywb
    exited, and that is an error in one line, not 'serving'."""
    from archive.pywb import PywbError, find_wayback, prepare, running

    with pytest.raises(PywbError, match="Address already in use") as info:
        with running(prepare(replay_archive.data_dir), find_wayback(), port=other_server):
            pass
    assert "\n" not in str(info.value)


# --- replay get/list: the URL and the time, as 'show' and 'list --since' take them --------------------------

def test_replay_finds_a_url_as_show_does(replay_archive: ReplayArchive, capsys: pytest.CaptureFixture[str]) -> None:
    data = ["--data-dir", str(replay_archive.data_dir)]
    noisy = replay_archive.twice + "?utm_source=x#frag"
    assert main(["show", noisy, *data]) == 0
    capsys.readouterr()
    assert main(["replay", "get", noisy, "--headers", *data]) == 0
    assert f"capture of {replay_archive.twice} at" in capsys.readouterr().err
    assert main(["replay", "list", noisy, *data]) == 0
    assert replay_archive.twice_ts[1] in capsys.readouterr().out
    assert main(["replay", "get", replay_archive.twice + "?page=2", *data]) == 1   # a real parameter stays
    assert "?page=2 is not in the archive" in _one_error_line(capsys)


def test_replay_at_takes_the_forms_list_since_takes(
        replay_archive: ReplayArchive, capsys: pytest.CaptureFixture[str]) -> None:
    from datetime import UTC, datetime, timedelta, timezone

    data = ["--data-dir", str(replay_archive.data_dir)]
    first, second = replay_archive.twice_ts
    when = datetime.strptime(first, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    for form in (when.isoformat(), when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                 when.astimezone(timezone(timedelta(hours=3))).isoformat()):     # 3 hours ahead: still `first`
        assert main(["list", "--since", form, *data]) == 0
        capsys.readouterr()
        assert main(["replay", "get", replay_archive.twice, "--at", form, "--headers", *data]) == 0, form
        assert f"at {first}" in capsys.readouterr().err, form
    assert main(["replay", "get", replay_archive.twice, "--at", "garbage", *data]) == 2
    assert "--at" in _one_error_line(capsys)


# --- values of settings and options -------------------------------------------------------------------------

@pytest.mark.parametrize(("argv", "needle"), [
    (["-s", "LIMITS_MAX_BODY_SIZE=-5"], "LIMITS_MAX_BODY_SIZE must be a whole number 0 or more"),
    (["-s", "DOWNLOAD_TIMEOUT=abc"], "DOWNLOAD_TIMEOUT must be a number above 0"),
    (["-s", "CONCURRENT_REQUESTS=1.5"], "CONCURRENT_REQUESTS must be a whole number"),
    (["-s", "ROBOTSTXT_OBEY=maybe"], "ROBOTSTXT_OBEY must be true or false"),
    (["-s", "EXTRACT_ENGINE=quick"], "EXTRACT_ENGINE must be one of default, fast"),
    (["-s", "DEPTH_PRIORITY=x"], "DEPTH_PRIORITY must be a number"),
    (["--frontier", "redis://127.0.0.1:6390/abc"], "the database must be a number"),
    (["-s", "FRONTIER_URL=redis://127.0.0.1:6390/abc"], "the database must be a number"),
])
def test_bad_setting_values_name_the_setting(
        argv: list[str], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    assert main(["crawl", "news", "--seed", "http://127.0.0.1:1/", *argv, "--data-dir", str(data)]) == 2
    assert needle in _one_error_line(capsys)
    assert not data.exists()          # refused before anything was written


def test_bad_setting_values_are_refused_by_every_verb_that_takes_them(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = ["--data-dir", str(tmp_path)]
    for argv in (["worker", "--frontier", "redis://127.0.0.1:6390/abc", *data],
                 ["frontier", "status", "--frontier", "redis://127.0.0.1:6390/abc"],
                 ["schedule", "add", "s", "news", "--every", "1h", "--seed", "http://127.0.0.1:1/",
                  "-s", "DOWNLOAD_DELAY=-1", *data],
                 ["archive", "http://127.0.0.1:1/", "-s", "DOWNLOAD_TIMEOUT=abc", *data]):
        assert main(argv) == 2, argv
        _one_error_line(capsys)


def test_every_default_setting_passes_its_own_check() -> None:
    import crawler.settings as project
    from crawler.settings import check_setting

    for name in dir(project):
        if name.isupper() and not name.startswith("_"):
            value = getattr(project, name)
            check_setting(name, value)
            if isinstance(value, (bool, int, float, str)) or value is None:
                check_setting(name, str(value))          # as given on the command line
    for name, value in [("LIMITS_MAX_BODY_SIZE", "0"), ("DOWNLOAD_TIMEOUT", "2.5"), ("ROBOTSTXT_OBEY", "False"),
                        ("GIL_SWITCH_INTERVAL", "None"), ("FRONTIER_HOST_DELAY", ""), ("DEPTH_PRIORITY", "-1"),
                        ("FRONTIER_URL", "redis://127.0.0.1:6379/3"), ("FRONTIER_URL", "unix:///r.sock?db=1"),
                        ("SOME_SETTING_OF_ANOTHER_COMPONENT", "anything")]:
        check_setting(name, value)
    from crawler.pipelines import ENGINES

    for engine in ENGINES:
        check_setting("EXTRACT_ENGINE", engine)


@pytest.mark.parametrize(("argv", "needle"), [
    (["demo", "--articles", "-5"], "--articles: must be a whole number, 1 or more"),
    (["demo", "--articles", "x"], "--articles: must be a whole number, 1 or more"),
    (["scheduler", "--grace", "-5"], "--grace: must be a number of seconds, 0 or more"),
    (["scheduler", "--grace", "nan"], "--grace: must be a number of seconds, 0 or more"),
])
def test_bad_option_values(argv: list[str], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--data-dir", str(tmp_path / "data")])
    assert exit_.value.code == 2
    assert needle in _one_error_line(capsys)
    assert not (tmp_path / "data").exists()


# --- help texts ------------------------------------------------------------------------------------------------

def _parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


def test_help_texts_are_plain_text() -> None:
    """The descriptions come from module docstrings written in RST: ``crawler crawl`` reads 'crawler crawl'."""
    from crawler.cli import build_parser

    texts = {p.prog: p.format_help() for p in _parsers(build_parser())}
    assert len(texts) > 20
    for prog, text in texts.items():
        assert "``" not in text, prog
    assert "'crawler schedule': add, list" in texts["crawler schedule"]


def test_export_that_matches_nothing_is_one_line_and_keeps_an_earlier_export(
        replay_archive: ReplayArchive, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    earlier = tmp_path / "r.csv"
    earlier.write_text("an earlier export\n")
    argv = ["export", "csv", "-o", str(earlier), "--site", "nosuch.example", "--data-dir", str(replay_archive.data_dir)]
    assert main(argv) == 1
    assert "nothing matched" in _one_error_line(capsys)
    assert earlier.read_text() == "an earlier export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv"]


@pytest.mark.parametrize("data_dir", ["/proc/x", "/etc/passwd"])
def test_schedule_add_into_an_unwritable_data_dir(data_dir: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["schedule", "add", "s", "news", "--every", "1h", "--seed", "http://127.0.0.1:1/", "--data-dir", data_dir]
    assert main(argv) == 2
    assert f"cannot write to data directory {data_dir}" in _one_error_line(capsys)


def test_export_skips_and_reports_damaged_records_and_names_a_damaged_index(
        replay_archive: ReplayArchive, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    data = tmp_path / "data"
    shutil.copytree(replay_archive.data_dir, data, ignore=shutil.ignore_patterns("pywb"))
    records = sorted((data / "records").glob("*.jsonl"))[-1]
    good = sum(1 for line in records.read_text().splitlines() if line.strip())
    with records.open("a") as fh:
        fh.write('{"url": "http://x/", "fetched_at": "garbage"}\n[1]\n{"cut')    # a writer killed mid-line
    out = tmp_path / "all.jsonl"
    assert main(["export", "jsonl", "-o", str(out), "--data-dir", str(data)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert [f"{records}:{good + n}: " in err for n in (1, 2, 3)] == [True, True, True], err
    assert err.count("crawler: bad record:") == 3, err
    assert f"{records}:{good + 3}: not valid JSON (unterminated last line" in err
    assert "exported" in err and out.exists()
    wacz = tmp_path / "all.wacz"
    assert main(["export", "wacz", str(wacz), "--data-dir", str(data)]) == 1
    assert wacz.exists() and capsys.readouterr().err.count("crawler: bad record:") == 3
    index = data / "index" / "index.cdxj"
    index.write_text("garbage line\n" + index.read_text())
    assert main(["export", "wacz", str(tmp_path / "again.wacz"), "--data-dir", str(data)]) == 1
    line = _one_error_line(capsys)
    assert "is damaged" in line and "crawler index --data-dir" in line


def test_replay_names_a_damaged_index(replay_archive: ReplayArchive, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    data = tmp_path / "data"
    shutil.copytree(replay_archive.data_dir, data, ignore=shutil.ignore_patterns("pywb"))
    index = data / "index" / "index.cdxj"
    lines = index.read_text().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if f'"{replay_archive.twice}"' in line)
    lines.insert(at, lines[at].split(" ")[0] + " garbage\n")
    index.write_text("".join(lines))
    for verb in ("get", "list"):
        assert main(["replay", verb, replay_archive.twice, "--data-dir", str(data)]) == 1
        line = _one_error_line(capsys)
        assert "is damaged" in line and "crawler index --data-dir" in line
