"""What every benchmark needs: the generated site served by nginx, measured child processes, RESULTS.md.

Nothing here imports the project: the benchmarks measure the ``crawler`` tool as a user runs it, in its
own process, next to wget and plain Scrapy, on the same site and server.
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
BENCHSITE = Path(__file__).resolve().parents[2] / "shared" / "benchsite"
RESULTS = REPO / "benchmarks" / "RESULTS.md"
VENV_BIN = Path(sys.executable).parent


class BenchSkip(Exception):
    """A precondition is missing (site generator, nginx, wget): the benchmark is skipped with this reason."""


@dataclass(frozen=True)
class Measurement:
    """One measured child process: wall time, CPU of the process tree, peak memory."""

    wall_s: float
    cpu_s: float                 # user + system of the process and every descendant it waited for
    main_thread_cpu_s: float     # CPU of the main process's main thread (the reactor), last sample
    peak_rss_mb: float           # peak RSS of the main process (sampled)
    peak_tree_rss_mb: float      # peak of the summed RSS of the process and its children (sampled)
    maxrss_mb: float             # ru_maxrss from wait4: the largest single process of the tree
    returncode: int
    load_before: float           # 1-minute load average when the run started (other work on the machine)

    def per_page(self, pages: int) -> tuple[float, float]:
        """(pages/s, CPU ms/page)."""
        if pages <= 0 or self.wall_s <= 0:
            return 0.0, 0.0
        return pages / self.wall_s, 1000.0 * self.cpu_s / pages


def measure(cmd: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
            log: Path | None = None, timeout: float = 3600.0) -> Measurement:
    """Run ``cmd`` to completion; sample its memory every 0.1 s and take its CPU time from wait4."""
    load = os.getloadavg()[0]
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 (closed below)
    start = time.perf_counter()
    proc = subprocess.Popen(list(cmd), cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    peaks = [0, 0]
    main_cpu = [0.0]
    done = threading.Event()

    def sample() -> None:
        try:
            root = psutil.Process(proc.pid)
        except psutil.NoSuchProcess:
            return
        while not done.is_set():
            try:
                own = root.memory_info().rss
                tree = own
                for child in root.children(recursive=True):
                    try:
                        tree += child.memory_info().rss
                    except psutil.NoSuchProcess:
                        pass
            except psutil.NoSuchProcess:
                return
            peaks[0], peaks[1] = max(peaks[0], own), max(peaks[1], tree)
            try:
                main = [t for t in root.threads() if t.id == proc.pid]
            except psutil.Error:
                main = []
            if main:
                main_cpu[0] = main[0].user_time + main[0].system_time
            done.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    deadline = start + timeout
    try:
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                raise TimeoutError(f"{cmd[0]} ran longer than {timeout:.0f} s; see {log}")
            time.sleep(0.02)
    finally:
        done.set()
        sampler.join()
        if log:
            out.close()  # type: ignore[union-attr]
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Measurement(
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        main_thread_cpu_s=main_cpu[0],
        peak_rss_mb=peaks[0] / 2**20,
        peak_tree_rss_mb=peaks[1] / 2**20,
        maxrss_mb=usage.ru_maxrss / 1024,
        returncode=proc.returncode,
        load_before=load,
    )


# --- the generated site and its server --------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def generated_site(workdir: Path, articles: int, port: int) -> Path:
    """The benchsite with ``articles`` articles for http://127.0.0.1:PORT, generated once and cached."""
    sitegen = BENCHSITE / "sitegen.py"
    if not sitegen.is_file():
        raise BenchSkip(f"the benchmark site generator is missing: {sitegen} (shared/benchsite beside the repo)")
    site = workdir / f"site-{articles}-{port}"
    done = site / ".complete"
    if done.exists():
        return site
    print(f"generating {articles} articles into {site} (once; about {articles / 200:.0f} s) ...", flush=True)
    subprocess.run([sys.executable, str(sitegen), str(site), "--articles", str(articles), "--seed", "1",
                    "--base-url", f"http://127.0.0.1:{port}"], check=True, stdout=subprocess.DEVNULL)
    for path in [site, *site.rglob("*")]:  # nginx workers run as nobody when started as root
        path.chmod(0o755 if path.is_dir() else 0o644)
    workdir.chmod(workdir.stat().st_mode | 0o005)
    done.write_text(datetime.now(UTC).isoformat())
    return site


def need_tools(*names: str) -> None:
    """Install the Debian packages of missing tools when we are root with apt-get, else skip with how-to."""
    packages = {"nginx": "nginx-light", "wget": "wget"}
    missing = [n for n in names if shutil.which(n) is None and not Path(f"/usr/sbin/{n}").exists()]
    if not missing:
        return
    pkgs = [packages.get(n, n) for n in missing]
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print(f"installing {' '.join(pkgs)} (apt-get) ...", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", *pkgs], check=False,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}, stdout=subprocess.DEVNULL)
    still = [n for n in missing if shutil.which(n) is None and not Path(f"/usr/sbin/{n}").exists()]
    if still:
        raise BenchSkip(f"missing {', '.join(still)}: install with 'apt-get install {' '.join(pkgs)}'")


def need_python_tools(*names: str) -> None:
    """Install missing benchmark-only Python tools (py-spy, cdxj-indexer) into this virtualenv."""
    missing = [n for n in names if not (VENV_BIN / n).exists()]
    if missing:
        print(f"installing {' '.join(missing)} into {VENV_BIN.parent} (benchmark tools) ...", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", *missing], check=False)


@contextmanager
def nginx(site: Path, port: int, workdir: Path) -> Iterator[str]:
    """Serve ``site`` with nginx on 127.0.0.1:port (benchsite's template); yields the base URL."""
    need_tools("nginx")
    template = BENCHSITE / "nginx.conf.template"
    prefix = workdir / f"nginx-{port}"
    prefix.mkdir(parents=True, exist_ok=True)
    conf = (template.read_text().replace("@PORT@", str(port)).replace("@ROOT@", str(site))
            .replace("@PREFIX@", str(prefix)))
    (prefix / "nginx.conf").write_text(conf)
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    proc = subprocess.Popen([binary, "-p", str(prefix), "-c", str(prefix / "nginx.conf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise BenchSkip(f"nginx did not start on port {port}: {err.strip()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.05)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# --- RESULTS.md ---------------------------------------------------------------------------------------

def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = psutil.virtual_memory().total / 2**30
    return (f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} cores, {mem:.0f} GB RAM, "
            f"Python {platform.python_version()}")


def write_section(title: str, body: str, path: Path = RESULTS) -> None:
    """Replace (or append) the ``## title`` section of RESULTS.md, leaving every other section alone."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n\nWritten by `make bench`.\n"
    lines = text.splitlines(keepends=True)
    head = f"## {title}"
    start = next((i for i, line in enumerate(lines) if line.rstrip() == head), None)
    section = head + "\n\n" + body.strip() + "\n\n"
    if start is None:
        new = text.rstrip() + "\n\n" + section
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        new = "".join(lines[:start]) + section + "".join(lines[end:])
    path.write_text(new.rstrip() + "\n", encoding="utf-8")
