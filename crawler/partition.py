"""One crawl in several processes of this machine: ``crawler crawl --processes N`` (``CRAWL_PROCESSES``).

A Scrapy crawl runs on one reactor thread, so it uses one core however many the machine has. With
``--processes N`` the ``crawler crawl`` process starts N crawl processes (``python -m crawler.partition``)
and only watches them. Each one is a whole crawl of its own (its run ``RUN-p<i>``, its WARC files, JSON
records and log, the shared catalog) that owns a part of the URL space:

- **Ownership** is the request fingerprint (Scrapy's, the one the dupefilter keys on) modulo N, so every
  URL has exactly one owner whichever process found it, and the owner's dupefilter alone decides
  whether it is new: nothing is fetched twice.
- **Forwarding.** ``PartitionScheduler`` (the scheduler of a partition) queues the requests it owns and
  sends the others, pickled with ``Request.to_dict``, to their owner over a pipe (one per pair of
  processes, written without ever blocking the reactor; what the pipe has no room for waits in memory and
  goes when the asyncio loop says the pipe is writable). A process remembers what it sent in its own
  dupefilter, so a link found on many pages crosses a pipe once. Start requests are not forwarded (every
  process reads the same seeds, and keeps those it owns), and a request with ``meta["partition_local"]``
  stays where it was made: the news spider's robots.txt, whose sitemaps it requests once it has seen a
  seed of that site. Spider state that other processes need travels in request meta (the news spider's
  scope widened by a seed's redirect).
- **The end.** A partition that runs out of work is not done: another may still send it links. It tells
  the parent (one JSON line on its control pipe: idle, and how many batches it sent to and received from
  each other process) and waits. When every partition is idle and every batch sent has been received, the
  parent asks each for its counts once more; if nothing moved in between (Mattern's four-counter test:
  no batch can be in flight unseen), it tells all of them to finish. A partition that stops by itself
  (``--max-pages`` reached, disk full, an error) is left out of the count; unless it stopped at its page
  limit, the others are told to stop with the same reason. Ctrl-C (or SIGTERM to the parent) stops all
  of them cleanly, and ``crawl --resume RUN`` resumes each partition from what it archived.
- **Politeness is shared out:** each process gets 1/N of ``CONCURRENT_REQUESTS_PER_DOMAIN`` (at least 1)
  and of AutoThrottle's target concurrency, and N times ``DOWNLOAD_DELAY``, so the site sees what one
  process would send. ``--max-pages`` and the extraction workers (``EXTRACT_WORKERS``) are shared out evenly. The page analysis helper process
  (``SPIDER_ANALYSIS_PROCESS``) is off by default in a partition: the cores are already in use.

``scrapy crawl`` runs one process as always; ``CRAWL_PROCESSES`` is read by the ``crawler`` tool.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import pickle
import selectors
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.request import request_from_dict
from twisted.internet import task

from archive.runstats import merge_stats
from crawler.diskqueue import DiskQueueScheduler
from crawler.progress import progress_line, summarize

logger = logging.getLogger(__name__)

LOCAL = "partition_local"        # request.meta: crawl it in the process that made it, whoever owns the URL
ENV = "CRAWLER_PARTITION"        # set by the parent for each child: PartitionSpec as JSON
PIPE_SIZE = 1 << 20              # asked of the kernel for every pipe (Linux allows 1 MiB unprivileged)
_HEAD = struct.Struct(">I")      # a batch on a data pipe: its length, then a pickled list of pickled request dicts


def part_run_id(run_id: str, index: int) -> str:
    """The run id of partition ``index`` of run ``run_id``."""
    return f"{run_id}-p{index}"


def processes_from(value: object, *, extract: bool) -> int:
    """CRAWL_PROCESSES: a whole number from 1, or "auto" (one per core in archive mode, where the crawl is
    the work; 1 with extraction on, whose pool already uses the other cores). ValueError names the setting."""
    text = str(value).strip().lower()
    if text == "auto":
        return 1 if extract else max(1, os.cpu_count() or 1)
    try:
        n = int(text)
    except ValueError:
        raise ValueError(f"--processes (CRAWL_PROCESSES) must be a whole number from 1, or auto, not {value!r}") from None
    if n < 1:
        raise ValueError(f"--processes (CRAWL_PROCESSES) must be a whole number from 1, or auto, not {value!r}")
    return n


@dataclass(frozen=True)
class PartitionSpec:
    """What a child needs to find its place: its index, the count, and its pipes' file descriptors."""

    index: int
    count: int
    inboxes: dict[int, int]          # sender index -> read end of the data pipe from that sender
    outboxes: dict[int, int]         # owner index -> write end of the data pipe to that owner
    control_in: int                  # the parent's messages to this process
    control_out: int                 # this process's messages to the parent

    def to_json(self) -> str:
        return json.dumps({**self.__dict__, "inboxes": {str(k): v for k, v in self.inboxes.items()},
                           "outboxes": {str(k): v for k, v in self.outboxes.items()}})

    @classmethod
    def from_json(cls, text: str) -> Self:
        d = json.loads(text)
        return cls(index=int(d["index"]), count=int(d["count"]),
                   inboxes={int(k): int(v) for k, v in d["inboxes"].items()},
                   outboxes={int(k): int(v) for k, v in d["outboxes"].items()},
                   control_in=int(d["control_in"]), control_out=int(d["control_out"]))


def owner_of(fingerprint: bytes, count: int) -> int:
    """The partition that owns a request with this fingerprint."""
    return int.from_bytes(fingerprint[:8], "big") % count


# --- the child side: pipes on the asyncio loop ---------------------------------------------------------


class _Writer:
    """One non-blocking write end: what the pipe has no room for waits here until the loop says it can go."""

    def __init__(self, fd: int, loop: asyncio.AbstractEventLoop, on_error: Callable[[OSError], None]) -> None:
        self.fd = fd
        self.loop = loop
        self.pending = bytearray()
        self.broken = False
        self._on_error = on_error
        os.set_blocking(fd, False)

    def write(self, data: bytes) -> None:
        if self.broken:
            return
        if not self.pending:
            try:
                sent = os.write(self.fd, data)
            except BlockingIOError:
                sent = 0
            except OSError as exc:
                self._broke(exc)
                return
            if sent == len(data):
                return
            data = data[sent:]
            self.loop.add_writer(self.fd, self._flush)
        self.pending += data

    def _flush(self) -> None:
        try:
            sent = os.write(self.fd, self.pending)
        except BlockingIOError:
            return
        except OSError as exc:
            self._broke(exc)
            return
        del self.pending[:sent]
        if not self.pending:
            self.loop.remove_writer(self.fd)

    def _broke(self, exc: OSError) -> None:
        self.broken = True
        if self.pending:
            self.loop.remove_writer(self.fd)
            self.pending.clear()
        self._on_error(exc)

    def drain(self) -> None:
        """Write what waits now, blocking: the crawl is over."""
        if self.pending and not self.broken:
            self.loop.remove_writer(self.fd)
            os.set_blocking(self.fd, True)
            try:
                os.write(self.fd, self.pending)
            except OSError:
                pass                             # the reader has gone: nothing is waiting for it
            self.pending.clear()

    def close(self) -> None:
        """Close without waiting: what is still pending is dropped (a sibling that is closing too may not be
        reading; the requests a crawl had not fetched are found again by ``crawl --resume``)."""
        if self.pending and not self.broken:
            self.loop.remove_writer(self.fd)
            self.pending.clear()
        os.close(self.fd)


class _Reader:
    """One non-blocking read end on the loop: calls ``on_frame`` with each complete frame, ``on_eof`` at the end."""

    def __init__(self, fd: int, loop: asyncio.AbstractEventLoop, split: Callable[[bytearray], list[bytes]],
                 on_frame: Callable[[bytes], None], on_eof: Callable[[], None]) -> None:
        self.fd = fd
        self.loop = loop
        self.buffer = bytearray()
        self._split, self._on_frame, self._on_eof = split, on_frame, on_eof
        os.set_blocking(fd, False)
        loop.add_reader(fd, self._readable)
        self.open = True

    def _readable(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 1 << 20)
            except BlockingIOError:
                break
            if not chunk:
                self.close()
                self._on_eof()
                return
            self.buffer += chunk
        for frame in self._split(self.buffer):
            self._on_frame(frame)

    def close(self) -> None:
        if self.open:
            self.open = False
            self.loop.remove_reader(self.fd)
            os.close(self.fd)


def _split_batches(buffer: bytearray) -> list[bytes]:
    frames, at = [], 0
    while len(buffer) - at >= _HEAD.size:
        (size,) = _HEAD.unpack_from(buffer, at)
        if len(buffer) - at - _HEAD.size < size:
            break
        frames.append(bytes(buffer[at + _HEAD.size: at + _HEAD.size + size]))
        at += _HEAD.size + size
    del buffer[:at]
    return frames


def _split_lines(buffer: bytearray) -> list[bytes]:
    end = buffer.rfind(b"\n")
    if end < 0:
        return []
    lines = bytes(buffer[:end]).split(b"\n")
    del buffer[:end + 1]
    return lines


class PartitionScheduler(DiskQueueScheduler):
    """The scheduler of one partition (see the module docstring): Scrapy's scheduler with its disk queue
    (crawler.diskqueue) for the requests this process owns; the others go to their owner."""

    spec: PartitionSpec
    crawler: Crawler
    fingerprint: Callable[[Request], bytes]
    index = 0
    count = 1
    batches: dict[int, list[bytes]]            # owner -> pickled requests to send it at the next flush
    sent: dict[int, int]                       # batches sent, per owner
    received: dict[int, int]                   # batches received, per sender
    stop_reason: str | None = None
    progress: task.LoopingCall | None = None
    flush_soon = False
    unsendable = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        scheduler = super().from_crawler(crawler)
        scheduler.spec = PartitionSpec.from_json(os.environ[ENV])
        scheduler.index, scheduler.count = scheduler.spec.index, scheduler.spec.count
        scheduler.crawler = crawler
        scheduler.fingerprint = crawler.request_fingerprinter.fingerprint
        scheduler.batches = {}
        scheduler.sent = dict.fromkeys(scheduler.spec.outboxes, 0)
        scheduler.received = dict.fromkeys(scheduler.spec.inboxes, 0)
        return scheduler

    # -- engine interface ------------------------------------------------------------------------------
    def open(self, spider: Spider) -> Any:
        result = super().open(spider)
        self.loop = asyncio.get_event_loop()
        self.writers = {i: _Writer(fd, self.loop, self._peer_gone) for i, fd in self.spec.outboxes.items()}
        self.control = _Writer(self.spec.control_out, self.loop, self._parent_gone)
        self.readers = [
            *(_Reader(fd, self.loop, _split_batches, self._receiver(sender), lambda: None)
              for sender, fd in self.spec.inboxes.items()),
            _Reader(self.spec.control_in, self.loop, _split_lines, self._command,
                    lambda: self._parent_gone(EOFError("the parent process closed its pipe"))),
        ]
        if self.crawler.settings.getbool("PROGRESS_ENABLED", True):
            self.progress = task.LoopingCall(self._progress)
            self.progress.start(self.crawler.settings.getfloat("PROGRESS_INTERVAL", 1.0), now=False)
        self.crawler.signals.connect(self._idle, signal=signals.spider_idle)
        self.crawler.signals.connect(self._closed, signal=signals.spider_closed)
        logger.info("partition p%d of %d: this process crawls the URLs whose fingerprint falls in it",
                    self.index, self.count)
        return result

    def enqueue_request(self, request: Request) -> bool:
        owner = owner_of(self.fingerprint(request), self.count)
        if owner == self.index or request.meta.get(LOCAL):
            return super().enqueue_request(request)
        if request.meta.get("is_start_request") and not request.meta.get("redirect_urls"):
            # every process has the same seeds: the owner has its own (a seed's redirect is sent on: Scrapy
            # copies the seed's meta into it, and only the process that fetched the seed has it)
            self._inc("partition/start_requests_left_to_owner")
            return False
        if not request.dont_filter and self.df.request_seen(request):
            self.df.log(request, self.spider)
            return False
        try:       # pickled here, once: a meta value that cannot travel keeps the request in this process
            blob = pickle.dumps(request.to_dict(spider=self.spider), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - any object in meta may refuse to pickle; kept here instead
            if not self.unsendable:
                self.unsendable = True
                logger.warning("a request that cannot be sent to its owner process is crawled here "
                               "(%s: %s): %s", type(exc).__name__, exc, request)
            self._inc("partition/unsendable")
            return bool(super().enqueue_request(request.replace(dont_filter=True)))
        self.batches.setdefault(owner, []).append(blob)
        self._inc("partition/forwarded")
        if not self.flush_soon:
            self.flush_soon = True
            self.loop.call_soon(self._flush)
        return True

    def _wake_engine(self) -> None:
        """Have the engine look at the scheduler (and at whether it is idle) again now."""
        engine = self.crawler.engine
        slot = getattr(engine, "_slot", None) if engine is not None else None
        if slot is not None:
            slot.nextcall.schedule()

    def _inc(self, key: str, count: int = 1) -> None:
        if self.stats is not None:
            self.stats.inc_value(key, count)

    # -- forwarding --------------------------------------------------------------------------------------
    def _flush(self) -> None:
        self.flush_soon = False
        batches, self.batches = self.batches, {}
        for owner, blobs in batches.items():
            payload = pickle.dumps(blobs, protocol=pickle.HIGHEST_PROTOCOL)
            self.writers[owner].write(_HEAD.pack(len(payload)) + payload)
            self.sent[owner] += 1

    def _receiver(self, sender: int) -> Callable[[bytes], None]:
        return lambda frame: self._receive(sender, frame)

    def _receive(self, sender: int, frame: bytes) -> None:
        # written by a sibling process of this crawl over a private pipe
        blobs = pickle.loads(frame)    # noqa: S301
        self.received[sender] += 1
        for blob in blobs:
            request = request_from_dict(pickle.loads(blob), spider=self.spider)   # noqa: S301
            super().enqueue_request(request)
        self._inc("partition/received", len(blobs))
        self._wake_engine()

    def _peer_gone(self, exc: OSError) -> None:
        # A partition that stopped by itself (its page limit, an error): what it would have crawled is left.
        logger.info("partition p%d: a sibling process has gone (%s); the links it owns are left",
                    self.index, exc)

    # -- the end ---------------------------------------------------------------------------------------------
    def _counts(self) -> dict[str, Any]:
        return {"sent": {str(k): v for k, v in self.sent.items()},
                "received": {str(k): v for k, v in self.received.items()}}

    def _tell_parent(self, message: dict[str, Any]) -> None:
        self.control.write(json.dumps(message).encode() + b"\n")

    def _idle(self, spider: Spider) -> None:
        if self.stop_reason is not None:
            return                                   # the parent said: finish
        self._flush()
        self._tell_parent({"type": "idle", **self._counts()})
        raise DontCloseSpider

    def _quiet(self) -> bool:
        engine = self.crawler.engine
        idle = engine is not None and engine._slot is not None and engine.spider_is_idle()
        return idle and not self.batches and not any(w.pending for w in self.writers.values())

    def _command(self, line: bytes) -> None:
        message = json.loads(line)
        if message["type"] == "probe":
            self._tell_parent({"type": "probe", "round": message["round"], "idle": self._quiet(), **self._counts()})
        elif message["type"] == "stop":
            self._stop(str(message["reason"]))

    def _parent_gone(self, exc: BaseException) -> None:
        if self.stop_reason is None:
            logger.error("partition p%d: the parent process has gone (%s); stopping", self.index, exc)
            self._stop("shutdown")

    def _stop(self, reason: str) -> None:
        if self.stop_reason is not None:
            return
        self.stop_reason = reason
        engine = self.crawler.engine
        if engine is None:
            return
        if reason == "finished":                     # idle already: the engine closes at its next look
            self._wake_engine()
        else:
            deferred_from_coro(engine.close_spider_async(reason=reason))

    def _progress(self) -> None:
        self._tell_parent({"type": "progress", **summarize(self.stats.get_stats() if self.stats else {})})

    def _closed(self, spider: Spider, reason: str) -> None:
        if self.progress is not None and self.progress.running:
            self.progress.stop()
        self._progress()
        for reader in self.readers:
            reader.close()
        for writer in self.writers.values():
            writer.close()
        # the last word to the parent: how much this process sent (what it received no longer matters);
        # the control pipe stays open for the result (_child_main)
        self._tell_parent({"type": "closed", "reason": reason, **self._counts()})
        self.control.drain()


# --- the parent side -------------------------------------------------------------------------------------


@dataclass
class _Child:
    index: int
    process: subprocess.Popen[bytes]
    control_in: int                          # the parent reads the child's messages here
    control_out: int                         # and writes its own here
    buffer: bytearray = field(default_factory=bytearray)
    last: dict[str, Any] | None = None       # its latest "idle" report (None once it is busy again: unknown)
    wave1: dict[str, Any] | None = None      # that report when the current probe round was sent
    probe: dict[str, Any] | None = None      # its answer to the current probe round
    result: dict[str, Any] | None = None     # what it reported at the end (crawler.runner.CrawlResult fields)
    closed: dict[str, Any] | None = None     # its "closed" message: the final counts
    progress: dict[str, Any] = field(default_factory=dict)   # its latest summarized stats
    ended: bool = False


def _pipe() -> tuple[int, int]:
    r, w = os.pipe()
    try:
        import fcntl

        fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    except (ImportError, AttributeError, OSError):
        pass                                 # a smaller pipe only means more waiting in memory
    return r, w


def child_settings(settings: Mapping[str, Any], index: int, count: int, run_id: str,
                   defaults: Any) -> dict[str, Any]:
    """The settings of partition ``index``: its run id, its share of the politeness budget (see the
    module docstring), and no analysis helper process unless asked for."""
    own = dict(settings)

    def get(name: str) -> Any:
        return own[name] if name in own else defaults.get(name)

    own["ARCHIVE_RUN_ID"] = part_run_id(run_id, index)
    if own.get("RESUME_RUN"):
        own["RESUME_RUN"] = part_run_id(str(own["RESUME_RUN"]), index)
    own["CONCURRENT_REQUESTS_PER_DOMAIN"] = max(1, -(-int(get("CONCURRENT_REQUESTS_PER_DOMAIN")) // count))
    own["DOWNLOAD_DELAY"] = float(get("DOWNLOAD_DELAY") or 0) * count
    own["AUTOTHROTTLE_TARGET_CONCURRENCY"] = float(get("AUTOTHROTTLE_TARGET_CONCURRENCY") or 1) / count
    # the extraction pools of all the processes together: one worker per core (or EXTRACT_WORKERS)
    own["EXTRACT_WORKERS"] = max(1, share(int(get("EXTRACT_WORKERS") or 0) or (os.cpu_count() or 1), index, count))
    own.setdefault("SPIDER_ANALYSIS_PROCESS", False)
    own["PROGRESS_TERMINAL"] = False          # the parent draws one line for all of them
    own.pop("CRAWL_PROCESSES", None)
    return own


def share(total: int, index: int, count: int) -> int:
    """Partition ``index``'s share of ``total`` (the shares add up to ``total``)."""
    return total // count + (1 if index < total % count else 0)


_REASON_RANK = {"disk_full": 0, "crashed": 1, "shutdown": 2}      # the crawl's finish reason: the most serious partition's


def overall_reason(reasons: list[str]) -> str:
    unusual = [r for r in reasons if r != "finished"]
    if not unusual:
        return "finished"
    return min(unusual, key=lambda r: _REASON_RANK.get(r, 2))


class Partitions:
    """The parent: starts the children, relays nothing but the end, and collects their results."""

    def __init__(self, job: dict[str, Any], count: int, settings: Mapping[str, Any], defaults: Any) -> None:
        self.job = job
        self.count = count
        self.settings = settings
        self.defaults = defaults
        self.children: list[_Child] = []
        self.round = 0                        # the probe round under way (0: none)
        self.rounds = 0
        self.stopping: str | None = None
        self.errors: list[str] = []
        self.notes: list[str] = []            # what happened, for the run's log (the terminal gets one line)
        self.signals = 0                      # Ctrl-C / SIGTERM received
        self.terminal = sys.stderr.isatty() and bool(defaults.getbool("PROGRESS_ENABLED", True))
        self.started = time.monotonic()
        self.drawn = 0.0

    def start(self) -> None:
        n = self.count
        data = {(i, j): _pipe() for i in range(n) for j in range(n) if i != j}     # sender i -> owner j
        try:
            for i in range(n):
                c_in_r, c_in_w = _pipe()      # parent -> child
                c_out_r, c_out_w = _pipe()    # child -> parent
                spec = PartitionSpec(index=i, count=n,
                                     inboxes={j: data[j, i][0] for j in range(n) if j != i},
                                     outboxes={j: data[i, j][1] for j in range(n) if j != i},
                                     control_in=c_in_r, control_out=c_out_w)
                job = dict(self.job)
                job["settings"] = child_settings(self.settings, i, n, job["run_id"], self.defaults)
                job["run_id"] = part_run_id(job["run_id"], i)
                if job["spider_args"].get("max_pages") is not None:
                    job["spider_args"] = {**job["spider_args"],
                                          "max_pages": max(1, share(int(job["spider_args"]["max_pages"]), i, n))}
                fds = (*spec.inboxes.values(), *spec.outboxes.values(), c_in_r, c_out_w)
                try:
                    # its own session: Ctrl-C reaches the parent only, which tells every child to stop
                    process = subprocess.Popen(
                        [sys.executable, "-m", "crawler.partition", json.dumps(job, default=str)],
                        pass_fds=fds, env={**os.environ, ENV: spec.to_json()}, stdin=subprocess.DEVNULL,
                        start_new_session=True)
                finally:
                    os.close(c_in_r)
                    os.close(c_out_w)
                self.children.append(_Child(i, process, c_out_r, c_in_w))
        except OSError:
            self.stop("shutdown")
            raise
        finally:
            for r, w in data.values():
                os.close(r)
                os.close(w)

    def _send(self, child: _Child, message: dict[str, Any]) -> None:
        if child.ended:
            return
        try:
            os.write(child.control_out, json.dumps(message).encode() + b"\n")
        except OSError:
            pass                              # it has exited; its end is read from its control pipe

    def stop(self, reason: str) -> None:
        if self.stopping is None:
            self.stopping = reason
        for child in self.children:
            self._send(child, {"type": "stop", "reason": reason})

    def _on_message(self, child: _Child, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "idle":
            child.last = message
        elif kind == "probe" and message["round"] == self.round:
            child.probe = message
        elif kind == "closed":
            self._ended(child, message)
        elif kind == "progress":
            child.progress = message
            return
        elif kind == "result":
            child.result = message
        elif kind == "error":
            self.errors.append(str(message["message"]))
        self._check_end()

    def _ended(self, child: _Child, closed: dict[str, Any]) -> None:
        """A child closed its crawl: at the parent's word, at its page limit, or for a reason of its own,
        which then stops the others too (a full disk, an error, a crash)."""
        child.closed = closed
        reason = str(closed["reason"])
        if self.stopping is None and reason not in ("finished", "max_pages") and not reason.startswith("closespider"):
            self.notes.append(f"the process of run {part_run_id(str(self.job['run_id']), child.index)} stopped "
                              f"({reason}): the others were told to stop")
            self.stop("shutdown" if reason == "crashed" else reason)

    def _balanced(self, reports: dict[int, dict[str, Any]]) -> bool:
        """Every batch sent to a partition still crawling has been received by it."""
        for sender, report in reports.items():
            for owner, n in report["sent"].items():
                receiver = reports.get(int(owner))
                if receiver is None or receiver.get("type") == "closed":
                    continue                  # it stopped by itself (its page limit): what it was sent is left
                if receiver["received"].get(str(sender), 0) != n:
                    return False
        return True

    def _check_end(self) -> None:
        """The end of the crawl, Mattern's four-counter test: every partition idle with balanced counts
        (wave 1, the idle reports), then asked again (wave 2, the probe) with the same counts."""
        if self.stopping is not None:
            return
        living = [c for c in self.children if c.closed is None]
        if not living:
            return
        finals = {c.index: c.closed for c in self.children if c.closed is not None}
        if self.round:
            if not all(c.probe is not None for c in living):
                return
            moved = False
            for c in living:
                assert c.probe is not None and c.wave1 is not None
                if not c.probe["idle"]:
                    c.last = None                 # busy: wait for its next idle report
                    moved = True
                elif (c.probe["sent"], c.probe["received"]) != (c.wave1["sent"], c.wave1["received"]):
                    c.last = c.probe              # idle again, after some work: a report of its own
                    moved = True
            probes = {c.index: c.probe for c in living}
            self.round = 0
            if not moved and self._balanced({**finals, **probes}):   # type: ignore[dict-item]
                self.stop("finished")
                return
            for c in living:
                c.probe = None
        reports = {c.index: c.last for c in living if c.last is not None}
        if len(reports) == len(living) and self._balanced({**finals, **reports}):   # type: ignore[dict-item]
            self.rounds += 1
            self.round = self.rounds
            for c in living:
                c.wave1, c.probe = c.last, None
                self._send(c, {"type": "probe", "round": self.round})

    def _read(self, child: _Child) -> None:
        try:
            chunk = os.read(child.control_in, 1 << 16)
        except OSError:
            chunk = b""
        if not chunk:
            child.ended = True
            if child.closed is None:          # it died before closing its crawl (killed, or crashed)
                self._ended(child, {"type": "closed", "reason": "crashed", "sent": {}, "received": {}})
                self._check_end()
            return
        child.buffer += chunk
        for line in _split_lines(child.buffer):
            self._on_message(child, json.loads(line))

    def _draw(self) -> None:
        """The progress line on a terminal: the children's summaries added up, once a second."""
        now = time.monotonic()
        if not self.terminal or now - self.drawn < 1.0:
            return
        self.drawn = now
        total = merge_stats([{k: v for k, v in c.progress.items() if k != "type"} for c in self.children])
        if total:
            sys.stderr.write("\r\x1b[K" + progress_line(total, now - self.started) + f" ({self.count} processes)")
            sys.stderr.flush()

    def _signalled(self, signum: int, frame: object) -> None:
        self.signals += 1
        if self.signals == 1:
            self.stop("shutdown")
            return
        # Scrapy forces its shutdown at the second SIGTERM (the first only asks for what "stop" already
        # asked); two signals sent at once could arrive as one
        for _ in range(2):
            for child in self.children:
                if not child.ended and child.process.poll() is None:
                    child.process.send_signal(signal.SIGTERM)
            time.sleep(0.2)

    def wait(self) -> list[_Child]:
        """Until every child has exited. Ctrl-C or SIGTERM stops all of them cleanly; a second one forces
        them to stop at once (Scrapy's unclean shutdown: the WARC files stay open, the next crawl recovers
        them)."""
        previous = {sig: signal.signal(sig, self._signalled) for sig in (signal.SIGINT, signal.SIGTERM)}
        selector = selectors.DefaultSelector()
        try:
            for child in self.children:
                selector.register(child.control_in, selectors.EVENT_READ, child)
            while any(not c.ended for c in self.children):
                for key, _ in selector.select(timeout=1.0):
                    child = key.data
                    self._read(child)
                    if child.ended:
                        selector.unregister(child.control_in)
                self._draw()
            for child in self.children:
                child.process.wait()
            if self.terminal:
                sys.stderr.write("\r\x1b[K")
                sys.stderr.flush()
        finally:
            selector.close()
            for child in self.children:
                os.close(child.control_in)
                os.close(child.control_out)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return self.children


def run_partitioned(spider: str, spider_args: Mapping[str, Any], data_dir: Path, settings: Mapping[str, Any],
                    run_id: str, count: int, verbose: bool = False) -> Any:
    """Crawl with ``spider`` in ``count`` processes (see the module docstring); the CrawlResult of the whole
    crawl, its stats merged from the partitions'. CrawlSetupError on bad input, as ``run_crawl``."""
    from crawler.runner import CrawlResult, CrawlSetupError, load_spider, project_settings

    defaults = project_settings(settings)
    load_spider(spider, spider_args, defaults)              # a bad spider or argument fails here, once
    job = {"spider": spider, "spider_args": dict(spider_args), "data_dir": str(data_dir), "run_id": run_id,
           "verbose": verbose}
    parts = Partitions(job, count, settings, defaults)
    parts.start()
    children = parts.wait()
    if parts.errors:
        raise CrawlSetupError(parts.errors[0])
    results = [c.result for c in children if c.result is not None]
    missing = [c for c in children if c.result is None]
    # a child without a result was killed, or crashed before it could report
    reasons = [str(r["finish_reason"]) for r in results] + ["crashed"] * len(missing)
    stats = merge_stats([r["stats"] for r in results])
    reason = overall_reason(reasons)
    stats["finish_reason"] = reason
    log_file = Path(data_dir) / "runs" / f"{run_id}.log"
    with log_file.open("a", encoding="utf-8") as fh:
        fh.write(f"run {run_id} in {count} processes:\n")
        for child in children:
            got = child.result["finish_reason"] if child.result else f"no result (exit code {child.process.returncode})"
            fh.write(f"  {part_run_id(run_id, child.index)}: {got}; log runs/{part_run_id(run_id, child.index)}.log\n")
        for note in parts.notes:
            fh.write(f"  {note}\n")
    if missing:
        # named as their runs are (RUN-p0, RUN-p1, ...), which is where their logs and files are
        stats["partition/crashed"] = ", ".join(f"the process of run {part_run_id(run_id, c.index)} "
                                               f"(exit code {c.process.returncode})" for c in missing)
    return CrawlResult(run_id=run_id, data_dir=Path(data_dir), spider=spider, finish_reason=reason, stats=stats,
                       parts=tuple(part_run_id(run_id, c.index) for c in children))


def _child_main(job_json: str) -> int:
    """A partition's process: one ``run_crawl`` with the scheduler above; its result goes to the parent."""
    from crawler.runner import CrawlSetupError, run_crawl

    spec = PartitionSpec.from_json(os.environ[ENV])
    signal.signal(signal.SIGINT, signal.SIG_IGN)            # Ctrl-C reaches the parent, which says stop
    job = json.loads(job_json)
    settings = {**job["settings"], "SCHEDULER": "crawler.partition.PartitionScheduler"}

    def tell(message: dict[str, Any]) -> None:
        data = json.dumps(message, default=str).encode() + b"\n"
        os.set_blocking(spec.control_out, True)
        try:
            os.write(spec.control_out, data)
        except OSError:
            pass                                            # the parent has gone: nobody to tell

    try:
        result = run_crawl(job["spider"], job["spider_args"], Path(job["data_dir"]), settings,
                           run_id=job["run_id"], verbose=job["verbose"])
    except CrawlSetupError as exc:
        tell({"type": "error", "message": str(exc)})
        return 2
    tell({"type": "result", "finish_reason": result.finish_reason, "stats": result.stats})
    return 0


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1]))
