"""``make bench``: run every ``benchmarks/bench_*.py``, each writing its own ``## Section`` of RESULTS.md.

    python benchmarks/run.py [--only NAME[,NAME]] [-- ARGS passed to every benchmark]

Each benchmark runs in its own process, with no arguments unless given after ``--``; one that fails does
not stop the others, and the exit status is 1 when any failed. A benchmark that lacks what it needs (a
tool, the shared benchmark site) says so and exits 0 without touching its section.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def benchmarks() -> list[Path]:
    return sorted(HERE.glob("bench_*.py"))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    passthrough: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, passthrough = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", default="", help="comma-separated names, e.g. throughput (bench_throughput.py)")
    args = ap.parse_args(argv)
    wanted = {n.strip().removeprefix("bench_").removesuffix(".py") for n in args.only.split(",") if n.strip()}
    scripts = [p for p in benchmarks() if not wanted or p.stem.removeprefix("bench_") in wanted]
    if not scripts:
        print(f"no benchmark matches {args.only!r}; have: "
              + ", ".join(p.stem.removeprefix("bench_") for p in benchmarks()), file=sys.stderr)
        return 2
    failed = []
    for script in scripts:
        print(f"== {script.name}", flush=True)
        start = time.perf_counter()
        rc = subprocess.run([sys.executable, str(script), *passthrough], cwd=HERE.parent).returncode
        print(f"== {script.name}: exit {rc} after {time.perf_counter() - start:.0f} s", flush=True)
        if rc != 0:
            failed.append(script.name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"results in {HERE / 'RESULTS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
