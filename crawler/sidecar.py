"""A helper process that runs one pure function for the reactor thread, so that a crawl uses a second core.

The reactor thread of a crawl is its bottleneck: Scrapy's engine, Twisted's HTTP and the spider callback all
run there, under one GIL. ``Sidecar`` hands the CPU-heavy part of a callback (parsing a page and reading its
kind and links: ``spiders.analysis.analyze``) to one child process over two pipes, without any thread in
the crawl process:

- a task is ``marshal``-ed (bytes, str, numbers, tuples, lists: no pickle, no code) and written to the
  request pipe, whose buffer is raised to ``capacity`` (1 MiB, ``F_SETPIPE_SZ``); ``submit`` sends a task
  only when the bytes still in flight leave it room, so the reactor never blocks on a full pipe: without
  room (the child is behind, or the page is large) it returns ``None`` and the caller does the work itself;
- the result pipe is watched by the asyncio event loop (``add_reader``), which resolves each task's future.

If the child dies (killed, out of memory), every pending future fails with ``SidecarError``, the error is
logged once, and ``submit`` returns ``None`` from then on: the caller's inline fallback does all the work
and nothing is lost. An exception raised by the function fails that task's future with ``SidecarError``.
"""

from __future__ import annotations

import asyncio
import fcntl
import importlib
import logging
import marshal
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

logger = logging.getLogger(__name__)

CAPACITY = 1 << 20          # request pipe buffer asked of the kernel (Linux allows 1 MiB unprivileged)
_FRAME = 8                  # Connection.send_bytes' length header (4 bytes; 8 for the large-message form)


class SidecarError(RuntimeError):
    """The helper process could not run a task (it died, or the function raised)."""


def _resolve(target: str) -> Callable[..., Any]:
    module, _, name = target.partition(":")
    func: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return func


def _serve(target: str, requests: Connection, results: Connection) -> None:
    """The child's loop: one task at a time until the parent closes the request pipe."""
    # Ctrl-C, and a SIGTERM sent to the crawl's process group (the scheduler's --max-runtime, systemd), are the
    # parent's to handle: it closes us when the crawl closes (and kills us if we do not stop)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    func = _resolve(target)
    while True:
        try:
            data = requests.recv_bytes()
        except EOFError:
            return
        task, args = marshal.loads(data)
        try:
            reply = (task, True, func(*args))
        except Exception as exc:  # noqa: BLE001 - sent back to the parent, which raises it there
            reply = (task, False, f"{type(exc).__name__}: {exc}"[:1000])
        results.send_bytes(marshal.dumps(reply))


def _grow_pipe(fd: int, size: int) -> int:
    """The pipe's buffer, raised to ``size`` where the system allows it."""
    try:
        return fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, size)
    except (AttributeError, OSError):          # not Linux, or above /proc/sys/fs/pipe-max-size
        try:
            return fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ)
        except (AttributeError, OSError):
            return 1 << 16                     # POSIX pipes hold at least this much


class Sidecar:
    """One child process running ``target`` (``"module:function"``, importable in a fresh interpreter)."""

    def __init__(self, target: str, *, name: str = "sidecar", capacity: int = CAPACITY) -> None:
        self.target = target
        self.name = name
        self._capacity = capacity
        self._in_flight: dict[int, tuple[asyncio.Future[Any], int]] = {}
        self._bytes = 0
        self._next = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._requests: Connection | None = None
        self._results: Connection | None = None
        self.dead = False
        self._closing = False
        self.done = 0            # tasks the child answered

    @property
    def running(self) -> bool:
        return self._process is not None and not self.dead

    def start(self) -> None:
        """Start the child (``python -m crawler.sidecar``: a fresh interpreter, since the crawl process has
        threads, which fork does not copy safely; and unlike multiprocessing's spawn, no re-import of the
        crawl's __main__ and no resource-tracker process) and watch its results on the running loop."""
        req_read, req_write = os.pipe()
        res_read, res_write = os.pipe()
        self._capacity = min(self._capacity, _grow_pipe(req_write, self._capacity))
        _grow_pipe(res_write, CAPACITY)
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "crawler.sidecar", self.target, str(req_read), str(res_write)],
                pass_fds=(req_read, res_write), stdin=subprocess.DEVNULL,
            )
        except OSError:
            for fd in (req_read, req_write, res_read, res_write):
                os.close(fd)
            raise
        os.close(req_read)
        os.close(res_write)
        requests, results = Connection(req_write, readable=False), Connection(res_read, writable=False)
        self._process, self._requests, self._results = process, requests, results
        self._loop = asyncio.get_event_loop()
        self._loop.add_reader(res_read, self._on_results)

    def submit(self, *args: Any) -> asyncio.Future[Any] | None:
        """The future result of ``target(*args)``, or ``None`` when the task is not sent: the child is
        not running, or the pipe lacks room for it right now (the caller then runs the function itself)."""
        if not self.running or self._requests is None or self._loop is None:
            return None
        payload = marshal.dumps((self._next, args))
        size = len(payload) + _FRAME
        if self._bytes + size > self._capacity:
            return None
        future: asyncio.Future[Any] = self._loop.create_future()
        try:
            self._requests.send_bytes(payload)
        except OSError as exc:                    # the child is gone (EPIPE)
            self._die(f"cannot send to it: {exc}")
            return None
        self._in_flight[self._next] = (future, size)
        self._bytes += size
        self._next += 1
        return future

    def _on_results(self) -> None:
        results = self._results
        if results is None:
            return
        try:
            while results.poll():
                task, ok, value = marshal.loads(results.recv_bytes())
                future, size = self._in_flight.pop(task)
                self._bytes -= size
                self.done += 1
                if future.done():                 # its awaiting callback was cancelled
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(SidecarError(value))
        except (EOFError, OSError) as exc:
            if self._closing:                     # the child finished its tasks and exited, as asked
                return
            code = None
            if self._process is not None:
                try:                              # its end of the pipe closed: it is exiting, or has
                    code = self._process.wait(timeout=1.0)
                except subprocess.TimeoutExpired:
                    pass
            if code in (-signal.SIGTERM, -signal.SIGINT):      # stopped on purpose, by whoever sent it
                self._die(f"it was stopped by signal {-code}", error=False)
                return
            self._die(f"it exited (code {code})" if isinstance(exc, EOFError) else str(exc))

    def _die(self, why: str, *, error: bool = True) -> None:
        if self.dead:
            return
        self.dead = True
        logger.log(logging.ERROR if error else logging.WARNING,
                   "%s process stopped: %s; its %d pending task(s) and all later ones run in the crawl "
                   "process instead", self.name, why, len(self._in_flight))
        self._unwatch()
        self._fail_pending(f"{self.name} process stopped: {why}")

    def _fail_pending(self, message: str) -> None:
        """Every task still in flight fails with ``SidecarError(message)``: its caller does it itself."""
        for future, _ in self._in_flight.values():
            if not future.done():
                future.set_exception(SidecarError(message))
        self._in_flight.clear()
        self._bytes = 0

    def _unwatch(self) -> None:
        if self._loop is not None and self._results is not None:
            try:
                self._loop.remove_reader(self._results.fileno())
            except (OSError, ValueError):          # the pipe is closed already
                pass

    def close(self, timeout: float = 10.0) -> None:
        """Let the child finish what it has, then stop it (killed after ``timeout`` seconds)."""
        process = self._process
        if process is None:
            return
        self._closing = True
        if self._requests is not None:
            self._requests.close()                 # EOF: the child returns after its current task
            self._requests = None
        deadline = time.monotonic() + timeout
        while process.poll() is None and time.monotonic() < deadline:
            self._on_results()                     # keep its result pipe from filling up while it finishes
            try:
                process.wait(0.05)
            except subprocess.TimeoutExpired:
                pass
        if process.poll() is None:
            logger.warning("%s process did not stop within %.0f s: killing it", self.name, timeout)
            process.kill()
            process.wait()
        if not self.dead:
            self._on_results()                     # answers that came in meanwhile
            self._unwatch()
            self._fail_pending(f"{self.name} process closed")
        if self._results is not None:
            self._results.close()
            self._results = None
        self._process = None
        self.dead = True

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None


def main(argv: list[str]) -> int:
    """``python -m crawler.sidecar MODULE:FUNCTION REQUEST_FD RESULT_FD``: the child's side (``Sidecar.start``)."""
    target, requests, results = argv
    _serve(target, Connection(int(requests), writable=False), Connection(int(results), readable=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
