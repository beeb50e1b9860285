"""Pending requests wait on disk, not in memory: Scrapy's scheduler with its disk queue even without JOBDIR.

A news site's sitemaps list every article at once, so the scheduler holds almost the whole site as
pending requests early in a crawl; in memory each costs ~2 KB (the Request, its headers, meta, bound
callback, and the parse and fingerprint caches keyed by it), which made peak memory grow with the size
of the site. ``DiskQueueScheduler`` is Scrapy's ``Scheduler`` whose disk queue (pickled requests,
``SCHEDULER_DISK_QUEUE``, LIFO like the memory one) lives in ``runs/<run-id>/queue/`` of the data
directory for the length of one crawl: emptied when the crawl starts (``crawl --resume`` replays the
archive, see ``crawler.resume``, never a queue left by a crash) and removed when it ends. A request
that cannot be pickled (a callback that is not a spider method) waits in memory, as in Scrapy, with a
warning the first time and the ``scheduler/unserializable`` stat.

``JOBDIR``, when set, keeps Scrapy's own meaning (a persistent job directory); ``DISKQUEUE_ENABLED=False``
or a crawl without ``crawler.storage.ArchiveStorage`` (no data directory) queues in memory.
``crawler.frontier.FrontierScheduler`` builds this scheduler when no Redis frontier is configured.
"""

from __future__ import annotations

import logging
import os
import pickle
import shutil
from pathlib import Path
from typing import Any, Self

from queuelib.queue import LifoDiskQueue
from scrapy.core.scheduler import Scheduler
from scrapy.crawler import Crawler
from scrapy.squeues import _pickle_serialize, _scrapy_serialization_queue, _serializable_queue, _with_mkdir
from scrapy.utils.job import job_dir

from crawler.storage import ArchiveStorage

logger = logging.getLogger(__name__)

QUEUE_DIR = "queue"     # under runs/<run-id>/


def queue_dir(data_dir: Path, run_id: str) -> Path:
    """Where the pending requests of run ``run_id`` wait."""
    return Path(data_dir) / "runs" / run_id / QUEUE_DIR


class BufferedLifoDiskQueue(LifoDiskQueue):
    """queuelib's LIFO disk queue with its top in memory: up to ``TOP`` of the newest requests wait in a
    list, and half of them go to the file when it is full. A page's links are pushed and, LIFO, soon
    popped: most pushes and pops no longer seek, read and truncate the file (a syscall each, 3% of the
    reactor thread in archive mode). Memory stays bounded by ``TOP`` pickled requests (about 0.5 MB);
    order is unchanged (the file holds the older requests); ``close`` writes the top to the file, so a
    ``JOBDIR`` queue keeps every request."""

    TOP = 512

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self._top: list[bytes] = []

    def push(self, string: bytes) -> None:
        if not isinstance(string, bytes):
            raise TypeError(f"Unsupported type: {type(string).__name__}")
        self._top.append(string)
        if len(self._top) > self.TOP:
            half = self.TOP // 2
            self._spill(self._top[:half])
            del self._top[:half]

    def _spill(self, strings: list[bytes]) -> None:
        # queuelib's peek() leaves the file position before the last size field, and its push() writes
        # wherever the position is: a push after a peek overwrote that field. Append at the end instead.
        self.f.seek(0, os.SEEK_END)
        for string in strings:
            super().push(string)

    def pop(self) -> bytes | None:
        return self._top.pop() if self._top else super().pop()

    def peek(self) -> bytes | None:
        return self._top[-1] if self._top else super().peek()

    def clear(self) -> None:
        self._top.clear()
        super().clear()

    def close(self) -> None:
        self._spill(self._top)
        self._top.clear()
        super().close()

    def __len__(self) -> int:
        return self.size + len(self._top)


# SCHEDULER_DISK_QUEUE (crawler/settings.py): Scrapy's PickleLifoDiskQueue, built the same way on the above.
PickleBufferedLifoDiskQueue = _scrapy_serialization_queue(
    _serializable_queue(_with_mkdir(BufferedLifoDiskQueue), _pickle_serialize, pickle.loads)  # type: ignore[arg-type]
)


class DiskQueueScheduler(Scheduler):
    """Scrapy's scheduler with a per-run disk queue under the data directory (see the module docstring)."""

    own_queue_dir: Path | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        scheduler = super().from_crawler(crawler)
        # Scrapy's Scheduler.from_crawler passes no way to add an argument: set the directory, then open it.
        scheduler.own_queue_dir = cls._queue_dir_for(crawler)
        if scheduler.own_queue_dir is not None:
            scheduler.dqdir = scheduler._fresh_dir(scheduler.own_queue_dir)
            scheduler.logunser = True      # say once when a request has to wait in memory
        return scheduler

    @staticmethod
    def _queue_dir_for(crawler: Crawler) -> Path | None:
        settings = crawler.settings
        if job_dir(settings) or not settings.getbool("DISKQUEUE_ENABLED", True):
            return None
        storage = crawler.get_extension(ArchiveStorage)
        if storage is None:
            return None
        return queue_dir(storage.data_dir, storage.run_id)

    @staticmethod
    def _fresh_dir(path: Path) -> str:
        if path.exists():           # left by a crashed run: the archive, not this queue, is what resume uses
            shutil.rmtree(path)
        path.mkdir(parents=True)
        return str(path)

    def close(self, reason: str) -> Any:
        left = len(self.dqs) if self.dqs is not None else 0
        result = super().close(reason)
        if self.own_queue_dir is not None:
            if left:
                logger.info(f"dropping {left} requests still queued at close ({reason}); "
                            "`crawler crawl --resume` finds them again from the archived pages")
            shutil.rmtree(self.own_queue_dir)
        return result
