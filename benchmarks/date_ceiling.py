"""How many of extraction-dev's annotated dates can any extractor find in the page at all?

    .venv/bin/python benchmarks/date_ceiling.py [--dev PATH] [--results score-out.json] [--list]

For each page with a true date, the page's HTML (entities decoded) is searched for that day written
in any common way: year-month-day with - / . separators, day.month.year, day/month/year and
month/day/year (zero-padded or not, 4- or 2-digit year), and day + month name + year or month name +
day + year in 14 languages. A page whose true day is written nowhere in it cannot be scored right
by an extractor except by luck, so

    ceiling = pages whose true day is written in the page (or whose truth we already match) / pages with a date

is an upper bound on the date accuracy any general extractor reaches on the set. It is generous: a
day written anywhere counts, even in another story's teaser or a comment. A truth value that is not
a valid date (month 29) counts as unreachable.

With `--results` (score.py's `--out` file for our extractor) the misses are split into "not in the
page" and "in the page, missed"; `--list` prints each miss with where its true day occurs. Without
`--results` the scorer is run first (crawler.extraction:extract_for_score, 2 jobs).
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DEV = ROOT.parent / "shared" / "extraction-dev"
TRUTH_DAY = re.compile(r"(\d{4})\D(\d{1,2})\D(\d{1,2})")  # score.py's reading of a date

# month names (and their usual abbreviations and inflections) by month number
MONTH_NAMES: dict[int, tuple[str, ...]] = {
    1: ("jan", "january", "januar", "jänner", "janvier", "enero", "gennaio", "janeiro", "januari", "stycznia",
        "tammikuuta", "tammikuu", "januári", "ledna", "января", "ocak", "gener"),
    2: ("feb", "february", "februar", "février", "fevrier", "febrero", "febbraio", "fevereiro", "februari",
        "lutego", "helmikuuta", "helmikuu", "február", "února", "февраля", "şubat", "febrer"),
    3: ("mar", "march", "märz", "maerz", "mars", "marzo", "março", "maart", "marca", "marzec", "maaliskuuta",
        "maaliskuu", "március", "března", "марта", "mart", "març"),
    4: ("apr", "april", "avril", "abril", "aprile", "kwietnia", "huhtikuuta", "huhtikuu", "április", "dubna",
        "апреля", "nisan"),
    5: ("may", "mai", "mayo", "maggio", "maio", "mei", "maja", "toukokuuta", "toukokuu", "május", "května",
        "мая", "mayıs", "maig"),
    6: ("jun", "june", "juni", "juin", "junio", "giugno", "junho", "czerwca", "kesäkuuta", "kesäkuu", "június",
        "června", "июня", "haziran", "juny"),
    7: ("jul", "july", "juli", "juillet", "julio", "luglio", "julho", "lipca", "heinäkuuta", "heinäkuu",
        "július", "července", "июля", "temmuz", "juliol"),
    8: ("aug", "august", "août", "aout", "agosto", "augustus", "sierpnia", "elokuuta", "elokuu", "augusztus",
        "srpna", "августа", "ağustos", "agost"),
    9: ("sep", "sept", "september", "septembre", "septiembre", "settembre", "setembro", "września",
        "syyskuuta", "syyskuu", "szeptember", "září", "сентября", "eylül", "setembre"),
    10: ("oct", "october", "oktober", "octobre", "octubre", "ottobre", "outubro", "października", "lokakuuta",
         "lokakuu", "október", "října", "октября", "ekim", "okt"),
    11: ("nov", "november", "novembre", "noviembre", "novembro", "listopada", "marraskuuta", "marraskuu",
         "listopadu", "ноября", "kasım"),
    12: ("dec", "december", "dezember", "décembre", "decembre", "diciembre", "dicembre", "dezembro", "grudnia",
         "joulukuuta", "joulukuu", "prosince", "декабря", "aralık", "desember", "dez"),
}


def truth_day(value: str) -> dt.date | None:
    """The day score.py compares, or None when the annotation is not a valid date."""
    match = TRUTH_DAY.search(value)
    if not match:
        return None
    try:
        return dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def day_patterns(day: dt.date) -> list[tuple[str, re.Pattern[str]]]:
    """Regexes that find `day` written in a page, each with a name saying which way it is written."""
    y, yy = str(day.year), f"{day.year % 100:02d}"
    m = f"0?{day.month}"
    d = f"0?{day.day}"
    names = "|".join(re.escape(n) for n in sorted(MONTH_NAMES[day.month], key=len, reverse=True))
    sep = r"[-/.]\s?"
    no_digit_before, no_digit_after = r"(?<![\d])", r"(?![\d])"
    return [
        ("y-m-d", re.compile(rf"{no_digit_before}{y}{sep}{m}{sep}{d}{no_digit_after}")),
        ("d.m.y", re.compile(rf"{no_digit_before}{d}{sep}{m}{sep}(?:{y}|{yy}){no_digit_after}")),
        ("m/d/y", re.compile(rf"{no_digit_before}{m}{sep}{d}{sep}(?:{y}|{yy}){no_digit_after}")),
        ("d month y", re.compile(rf"{no_digit_before}{d}(?:st|nd|rd|th|er|\.)?\s*(?:de\s+)?(?:{names})\.?,?\s*"
                                 rf"(?:de\s+)?(?:{y}|'{yy}){no_digit_after}", re.I)),
        ("month d y", re.compile(rf"\b(?:{names})\.?\s+{d}(?:st|nd|rd|th|\.)?,?\s+{y}{no_digit_after}", re.I)),
        ("y month d", re.compile(rf"{no_digit_before}{y}\.?\s*(?:{names})\.?\s*{d}{no_digit_after}", re.I)),
        ("y年m月d日", re.compile(rf"{y}\s*年\s*{m}\s*月\s*{d}\s*日")),
    ]


def where_written(page: str, day: dt.date) -> list[str]:
    """The ways `day` is written in `page` (entity-decoded HTML); empty when it is not written."""
    text = html.unescape(page)
    return [name for name, pattern in day_patterns(day) if pattern.search(text)]


def run_scorer(dev: Path, jobs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        cmd = [sys.executable, str(dev / "score.py"), "--func", "crawler.extraction:extract_for_score",
               "--jobs", str(jobs), "--out", str(out)]
        proc = subprocess.run(cmd, cwd=dev, capture_output=True, text=True, check=False,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
        if proc.returncode != 0:
            raise SystemExit(f"score.py failed (exit {proc.returncode}): {proc.stderr.strip()[-500:]}")
        result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        return result


def page_reader(dev: Path) -> Any:
    """A function reading one page's HTML as score.py decodes it (unpacking the pages on first use)."""
    sys.path[:0] = [str(dev)]
    import score  # the set's own scorer: its cache location, unpacking and decoding

    folder = Path(score.unpack(str(dev / "pages.tar.xz")))

    def read(file: str) -> str:
        text: str = score.decode((folder / file).read_bytes())[0]
        return text

    return read


def date_misses(truth: dict[str, Any], pages: list[dict[str, Any]],
                read_page: Any) -> tuple[dict[str, int], list[tuple[str, str, str, Any, list[str]]]]:
    """Count the annotated pages by outcome (right, malformed truth, true day not in the page, in the page
    but missed) from score.py's per-page output `pages`; also list each miss (outcome, file, truth, our
    date, how the true day is written in the page)."""
    predicted = {p["url"]: (p.get("predicted") or {}).get("date") for p in pages}
    counts = {"pages with a date": 0, "right": 0, "malformed truth": 0, "not in the page": 0,
              "in the page, missed": 0}
    misses = []
    for url, item in truth.items():
        if not item.get("date") or url not in predicted:
            continue
        counts["pages with a date"] += 1
        day = truth_day(item["date"])
        guess = truth_day(str(predicted[url] or ""))
        if day is not None and guess == day:
            counts["right"] += 1
            continue
        if day is None:
            kind, ways = "malformed truth", []
        else:
            ways = where_written(read_page(item["file"]), day)
            kind = "in the page, missed" if ways else "not in the page"
        counts[kind] += 1
        misses.append((kind, item["file"], item["date"], predicted[url], ways))
    return counts, misses


def ceiling(counts: dict[str, int]) -> float:
    """The share of annotated pages whose true day is written in the page (see the module's docstring)."""
    return (counts["right"] + counts["in the page, missed"]) / max(1, counts["pages with a date"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dev", type=Path, default=DEFAULT_DEV, help="the extraction-dev folder")
    parser.add_argument("--results", type=Path, help="score.py --out file of our extractor (else run it)")
    parser.add_argument("--jobs", type=int, default=2, help="scorer processes when it is run")
    parser.add_argument("--list", action="store_true", help="print every miss")
    args = parser.parse_args(argv)
    if not (args.dev / "evaldata.json").is_file():
        print(f"date_ceiling: no extraction-dev set at {args.dev}", file=sys.stderr)
        return 2
    truth: dict[str, Any] = json.loads((args.dev / "evaldata.json").read_text(encoding="utf-8"))
    results = (json.loads(args.results.read_text(encoding="utf-8")) if args.results
               else run_scorer(args.dev, args.jobs))
    counts, misses = date_misses(truth, results["pages"], page_reader(args.dev))
    for key, value in counts.items():
        print(f"{key:22} {value}")
    print(f"accuracy               {counts['right'] / counts['pages with a date']:.3f}")
    print(f"ceiling                {ceiling(counts):.3f}  (true day written somewhere in the page)")
    if args.list:
        for kind, file, true, guess, ways in sorted(misses):
            print(f"{kind:20} {file[:44]:44} truth {true:12} ours {str(guess)[:25]:25} {','.join(ways)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
