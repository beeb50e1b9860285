"""Summaries of py-spy's raw (collapsed-stack) profiles: where a crawl process spends its CPU.

Each line of a raw profile is ``frame;frame;...;frame COUNT`` (outermost first), a frame being
``function (file:line)``; with ``py-spy --threads`` the first one names the thread
(``thread (1234): MainThread``). The summary gives the share of samples by thread, by package of the
innermost frame (self time), by function (self time, all threads and the main thread alone) and the
inclusive share of the project's own functions.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>.*):(?P<line>\d+)\)$")
_THREAD = re.compile(r"^thread \((?:0x)?[0-9a-fA-F]+\)(?::\s*(?P<name>.*))?$")
_OWN = ("crawler", "spiders", "archive")


@dataclass(frozen=True)
class ProfileSummary:
    samples: int
    by_package: list[tuple[str, float]]     # (package, share of samples), self time
    own_inclusive: list[tuple[str, float]]  # (module.function, share), inclusive, project code only
    by_function: list[tuple[str, float]]    # (module.function, share), self time, any code
    by_thread: list[tuple[str, float]] = field(default_factory=list)   # (thread name, share of samples)
    main_by_function: list[tuple[str, float]] = field(default_factory=list)  # self time, share of the main thread's


def _package(file: str) -> str:
    """py-spy names files relative to their sys.path entry: 'scrapy/core/engine.py', 'inspect.py'."""
    if file.startswith("<"):
        return "importlib" if "importlib" in file else "python"
    return file.split("/", 1)[0].removesuffix(".py")


def _name(func: str, file: str) -> str:
    module = file.removesuffix(".py").replace("/", ".") if not file.startswith("<") else file.strip("<>")
    return f"{module}.{func}"


def _own(name: str) -> bool:
    return name.split(".", 1)[0] in _OWN


def summarize(path: Path, top: int = 12) -> ProfileSummary:
    self_pkg: Counter[str] = Counter()
    own: Counter[str] = Counter()
    hot: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    main_hot: Counter[str] = Counter()
    total = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        parts = stack.split(";")
        thread = _THREAD.match(parts[0])
        frames = [m for m in (_FRAME.match(f) for f in parts) if m]
        if not frames:
            continue
        total += count
        if thread:
            name = (thread["name"] or "").strip() or "unnamed"
            threads[name] += count
            if name == "MainThread":
                main_hot[_name(frames[-1]["func"], frames[-1]["file"])] += count
        self_pkg[_package(frames[-1]["file"])] += count
        hot[_name(frames[-1]["func"], frames[-1]["file"])] += count
        for name in {_name(m["func"], m["file"]) for m in frames}:
            if _own(name):
                own[name] += count
    if total == 0:
        return ProfileSummary(0, [], [], [])

    def shares(counter: Counter[str], n: int) -> list[tuple[str, float]]:
        return [(k, v / total) for k, v in counter.most_common(n)]

    # project functions on (almost) every stack (main, run_crawl) say nothing: leave them out
    own = Counter({k: v for k, v in own.items() if v < 0.6 * total})
    main_total = threads.get("MainThread", 0)
    main_shares = [(k, v / main_total) for k, v in main_hot.most_common(top)] if main_total else []
    return ProfileSummary(total, shares(self_pkg, top), shares(own, top), shares(hot, top),
                          shares(threads, 4), main_shares)


def to_markdown(title: str, s: ProfileSummary) -> str:
    if s.samples == 0:
        return f"**{title}**: no samples (py-spy could not attach?)\n"
    pct = lambda xs: ", ".join(f"{k} {v:.0%}" for k, v in xs)  # noqa: E731
    threads = f"- samples by thread: {pct(s.by_thread)}\n" if s.by_thread else ""
    main = (f"- self time by function on the main (reactor) thread: {pct(s.main_by_function)}\n"
            if s.main_by_function else "")
    return (f"**{title}** ({s.samples} samples of the crawl process, all its threads, py-spy, active CPU only)\n\n"
            f"{threads}"
            f"- self time by package: {pct(s.by_package)}\n"
            f"- self time by function: {pct(s.by_function)}\n"
            f"{main}"
            f"- inclusive, project code (under 60% of samples): {pct(s.own_inclusive)}\n")
