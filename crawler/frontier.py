"""One crawl shared by several worker processes (on one or many machines) through Redis.

Built on scrapy-redis (its Redis connection, request dupefilter and priority queue); what it lacks is
added here:

- **Leases.** scrapy-redis pops a request and forgets it: a worker killed with SIGKILL loses what it had
  taken. ``Frontier.lease`` moves the request atomically (a Lua script) from the queue into a lease with
  an expiry on Redis's own clock; the worker renews its leases while it works on them and acknowledges a
  request once Scrapy is done with it (downloaded, callback run, items through the pipelines, the
  requests it produced pushed). Expired leases go back to the queue, whichever worker notices first.
- **A shared end.** A worker stops when the queue is empty *and* no other worker holds a lease (another
  worker's page may still add links), or when it is told to stop (SIGINT/SIGTERM: it finishes what it
  holds, and gives back what it has not started).
- **Shared politeness.** ``HostTokenMiddleware`` takes a per-host token in Redis (``SET NX PX``) before
  each download, so all workers together wait ``FRONTIER_HOST_DELAY`` seconds between requests to a host.
- **Redis going away.** Requests produced while Redis is unreachable are kept in memory and pushed when
  it is back; leases are acknowledged only after that, so a worker killed during the outage loses
  nothing either. A worker waits up to ``FRONTIER_WAIT_TIMEOUT`` seconds, then closes with reason
  ``frontier_unreachable``.
- **Requests as JSON, not pickle** (scrapy-redis's default): whoever can write to Redis cannot run code
  on the workers.

``FrontierScheduler`` is the project's ``SCHEDULER``: without ``FRONTIER_URL`` it hands over to Scrapy's
own scheduler, so a plain crawl is unchanged. The crawl a frontier holds (spider and arguments) is stored
in it (``Frontier.spec``) so that ``crawler worker`` needs only the Redis URL.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import logging
import os
import secrets
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

import redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisError
from redis.retry import Retry
from scrapy import Request, Spider
from scrapy.core.scheduler import BaseScheduler
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import deferred_from_coro
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import PriorityQueue
from twisted.internet import task

logger = logging.getLogger(__name__)

LEASE_META = "frontier_lease"      # request.meta key: the lease token of a request taken from the frontier


class FrontierError(Exception):
    """The frontier cannot be used: bad URL, Redis unreachable, a different crawl already in it."""


# --- requests as JSON --------------------------------------------------------------------------------


def _encode(value: Any, path: str) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes):
        return {"$b": base64.b64encode(value).decode("ascii")}
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, date):
        return {"$d": value.isoformat()}
    if isinstance(value, list | tuple):
        return [_encode(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        if all(isinstance(k, str) and not k.startswith("$") for k in value):
            return {k: _encode(v, f"{path}.{k}") for k, v in value.items()}
        return {"$map": [[_encode(k, path), _encode(v, f"{path}.{k!r}")] for k, v in value.items()]}
    raise TypeError(f"cannot store {path} ({type(value).__name__}) in the frontier: only JSON-like values, "
                    "bytes and datetimes can travel between workers")


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1:
            (key, inner), = value.items()
            if key == "$b":
                return base64.b64decode(inner)
            if key == "$dt":
                return datetime.fromisoformat(inner)
            if key == "$d":
                return date.fromisoformat(inner)
            if key == "$map":
                return {_decode(k): _decode(v) for k, v in inner}
        return {k: _decode(v) for k, v in value.items()}
    return value


class JsonSerializer:
    """scrapy-redis serializer (``loads``/``dumps``) for ``Request.to_dict()``: JSON with tagged bytes/dates."""

    @staticmethod
    def dumps(obj: Mapping[str, Any]) -> bytes:
        return json.dumps(_encode(obj, "request"), separators=(",", ":"), sort_keys=True).encode("utf-8")

    @staticmethod
    def loads(data: bytes | str) -> Any:
        return _decode(json.loads(data))


# --- the frontier in Redis (no Scrapy engine needed: the commands use it too) -----------------------------

_LEASE = """
local item = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #item == 0 then return false end
redis.call('ZREM', KEYS[1], item[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], item[1])
redis.call('HSET', KEYS[4], ARGV[1], item[2])
return item[1]
"""
_PUSH_NEW = """
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[1], tonumber(ARGV[3]), ARGV[2])
return 1
"""
_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lost = {}
for i = 2, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[i])
  else
    table.insert(lost, ARGV[i])
  end
end
return lost
"""
_RELEASE = """
local n = 0
for i = 2, #ARGV do
  local token = ARGV[i]
  if ARGV[1] == '1' then
    local data = redis.call('HGET', KEYS[3], token)
    local score = redis.call('HGET', KEYS[4], token)
    if data then redis.call('ZADD', KEYS[1], tonumber(score or '0'), data); n = n + 1 end
  end
  redis.call('ZREM', KEYS[2], token)
  redis.call('HDEL', KEYS[3], token)
  redis.call('HDEL', KEYS[4], token)
end
return n
"""
_RECLAIM = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tokens = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 500)
for _, token in ipairs(tokens) do
  local data = redis.call('HGET', KEYS[3], token)
  local score = redis.call('HGET', KEYS[4], token)
  if data then redis.call('ZADD', KEYS[1], tonumber(score or '0'), data) end
  redis.call('ZREM', KEYS[2], token)
  redis.call('HDEL', KEYS[3], token)
  redis.call('HDEL', KEYS[4], token)
end
return #tokens
"""


def connect(url: str, *, timeout: float = 10.0) -> redis.Redis:
    """A Redis client for ``redis://HOST:PORT/DB`` (or ``rediss://``, ``unix://``); no connection is made yet."""
    scheme = urlsplit(url).scheme
    if scheme not in ("redis", "rediss", "unix"):
        raise FrontierError(f"frontier URL must look like redis://HOST:PORT/DB, got {url!r}")
    try:
        return redis.Redis.from_url(
            # short connect timeout and one retry: while Redis is away the worker polls it from the reactor
            url, socket_timeout=timeout, socket_connect_timeout=min(timeout, 2.0),
            retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), 1), health_check_interval=5,
        )
    except ValueError as exc:
        raise FrontierError(f"bad frontier URL {url!r}: {exc}") from exc


@dataclass(frozen=True)
class FrontierStatus:
    url: str
    spec: dict[str, Any] | None
    queued: int
    leased: int
    expired: int          # leases past their expiry, not yet taken back
    seen: int             # request fingerprints in the dupefilter
    workers: dict[str, dict[str, Any]]   # worker id -> {"host", "pid", "data_dir", "age" (s since heartbeat)}
    stopping: bool


class Frontier:
    """The frontier's keys under ``prefix`` in one Redis database, and the atomic operations on them."""

    def __init__(self, url: str, prefix: str = "frontier", *, server: redis.Redis | None = None) -> None:
        self.url = url
        self.prefix = prefix
        self.server = server if server is not None else connect(url)
        self.queue_key = f"{prefix}:requests"
        self.seen_key = f"{prefix}:dupefilter"
        self.leases_key = f"{prefix}:leases"
        self.lease_data_key = f"{prefix}:lease-data"
        self.lease_score_key = f"{prefix}:lease-score"
        self.spec_key = f"{prefix}:spec"
        self.workers_key = f"{prefix}:workers"
        self.stop_key = f"{prefix}:stop"
        self._lease = self.server.register_script(_LEASE)
        self._push_new = self.server.register_script(_PUSH_NEW)
        self._renew = self.server.register_script(_RENEW)
        self._release = self.server.register_script(_RELEASE)
        self._reclaim = self.server.register_script(_RECLAIM)

    @property
    def _lease_keys(self) -> list[str]:
        return [self.queue_key, self.leases_key, self.lease_data_key, self.lease_score_key]

    def host_key(self, host: str) -> str:
        return f"{self.prefix}:host:{host}"

    def check(self) -> None:
        """Raise FrontierError naming the URL when Redis does not answer."""
        try:
            self.server.ping()
        except RedisError as exc:
            raise FrontierError(f"cannot reach the frontier's Redis at {self.url}: {exc} "
                                "(is redis-server running there, and reachable from this machine?)") from exc

    # -- the crawl it holds ---------------------------------------------------------------------------
    def spec(self) -> dict[str, Any] | None:
        raw = self.server.get(self.spec_key)
        return json.loads(raw) if raw else None

    def set_spec(self, spider: str, args: Mapping[str, Any]) -> dict[str, Any]:
        """Store the crawl (spider name and arguments) unless one is there; return the one in force.
        Raise FrontierError when the frontier already holds a different crawl."""
        wanted = {"spider": spider, "args": json.loads(json.dumps(dict(args), default=str))}
        self.server.set(self.spec_key, json.dumps(wanted, sort_keys=True), nx=True)
        current = self.spec()
        assert current is not None
        if current["spider"] != spider or (args and current["args"] != wanted["args"]):
            raise FrontierError(
                f"the frontier at {self.url} already holds another crawl ({current['spider']} "
                f"{json.dumps(current['args'], sort_keys=True)}); join it with 'crawler worker', or empty it "
                "with 'crawler frontier clear'")
        return current

    # -- requests and leases ---------------------------------------------------------------------------
    def push(self, data: bytes, score: float, fingerprint: str | None = None) -> bool:
        """Queue an encoded request; with ``fingerprint``, only when it was not seen before. Seen-set and
        queue change together (one script), so a reply lost to a dying connection never loses a request:
        if the fingerprint is in the set, the request is (or was) in the queue."""
        if fingerprint is None:
            self.server.zadd(self.queue_key, {data: score})
            return True
        return bool(self._push_new(keys=[self.queue_key, self.seen_key], args=[fingerprint, data, score]))

    def lease(self, token: str, timeout: float) -> bytes | None:
        """Take the highest-priority request and hold it under ``token`` for ``timeout`` seconds."""
        data = self._lease(keys=self._lease_keys, args=[token, int(timeout * 1000)])
        return data if data else None

    def renew(self, tokens: Iterable[str], timeout: float) -> list[str]:
        """Extend leases; return the tokens that were no longer held (they expired and went back)."""
        tokens = list(tokens)
        if not tokens:
            return []
        lost = self._renew(keys=[self.leases_key], args=[int(timeout * 1000), *tokens])
        return [t.decode() if isinstance(t, bytes) else str(t) for t in lost]

    def ack(self, tokens: Iterable[str]) -> None:
        tokens = list(tokens)
        if tokens:
            self._release(keys=self._lease_keys, args=["0", *tokens])

    def give_back(self, tokens: Iterable[str]) -> int:
        tokens = list(tokens)
        return int(self._release(keys=self._lease_keys, args=["1", *tokens])) if tokens else 0

    def reclaim_expired(self) -> int:
        """Put requests whose lease expired (their worker died) back into the queue; return how many."""
        return int(self._reclaim(keys=self._lease_keys, args=[]))

    # -- workers and status ----------------------------------------------------------------------------
    def heartbeat(self, worker_id: str, info: Mapping[str, Any]) -> None:
        seconds, _ = self.server.time()
        self.server.hset(self.workers_key, worker_id, json.dumps({**info, "heartbeat": seconds}))

    def forget_worker(self, worker_id: str) -> None:
        self.server.hdel(self.workers_key, worker_id)

    def prune_workers(self, max_age: float) -> list[str]:
        """Forget workers whose last heartbeat is older than ``max_age`` seconds (killed, machine gone)."""
        seconds, _ = self.server.time()
        stale = [wid for wid, raw in self.server.hgetall(self.workers_key).items()
                 if seconds - int(json.loads(raw).get("heartbeat", seconds)) > max_age]
        if stale:
            self.server.hdel(self.workers_key, *stale)
        return [w.decode() if isinstance(w, bytes) else str(w) for w in stale]

    def request_stop(self) -> None:
        self.server.set(self.stop_key, "1")

    def stopping(self) -> bool:
        return bool(self.server.exists(self.stop_key))

    def status(self) -> FrontierStatus:
        seconds, micro = self.server.time()
        now_ms = seconds * 1000 + micro // 1000
        pipe = self.server.pipeline(transaction=False)
        pipe.zcard(self.queue_key)
        pipe.zcard(self.leases_key)
        pipe.zcount(self.leases_key, "-inf", now_ms)
        pipe.scard(self.seen_key)
        pipe.hgetall(self.workers_key)
        pipe.exists(self.stop_key)
        queued, leased, expired, seen, workers, stop = pipe.execute()
        shown = {}
        for wid, raw in workers.items():
            info = json.loads(raw)
            info["age"] = seconds - int(info.pop("heartbeat", seconds))
            shown[wid.decode() if isinstance(wid, bytes) else wid] = info
        return FrontierStatus(self.url, self.spec(), queued, leased, expired, seen, shown, bool(stop))

    def clear(self) -> int:
        """Delete every key of this frontier (queue, seen set, leases, crawl, host tokens); return how many."""
        keys = list(self.server.scan_iter(match=f"{self.prefix}:*", count=1000))
        return int(self.server.delete(*keys)) if keys else 0

    # -- seeding without a running crawl ----------------------------------------------------------------
    def queue_for(self, spider: Spider) -> LeasedQueue:
        return LeasedQueue(self.server, spider, self.queue_key, serializer=JsonSerializer)

    def dupefilter(self) -> RFPDupeFilter:
        return RFPDupeFilter(self.server, key=self.seen_key)

    def push_new(self, requests: Iterable[Request], spider: Spider) -> int:
        """Push requests not seen before (``dont_filter`` ones always); return how many were pushed."""
        queue, seen, pushed = self.queue_for(spider), self.dupefilter(), 0
        for request in requests:
            fingerprint = None if request.dont_filter else seen.request_fingerprint(request)
            pushed += self.push(queue.encode(request), -request.priority, fingerprint)
        return pushed


class LeasedQueue(PriorityQueue):
    """scrapy-redis's priority queue (sorted set, score = -priority) with the key taken as given."""

    def __init__(self, server: redis.Redis, spider: Spider, key: str, serializer: Any = None) -> None:
        super().__init__(server, spider, key.replace("%", "%%"), serializer=serializer)

    def decode(self, data: bytes) -> Request:
        return self._decode_request(data)

    def encode(self, request: Request) -> bytes:
        return bytes(self._encode_request(request))


def start_requests_of(spider: Spider) -> list[Request]:
    """Run a spider's ``start()`` outside a crawl (``crawler frontier seed``): the requests it yields."""
    async def collect() -> list[Request]:
        return [r async for r in spider.start() if isinstance(r, Request)]
    return asyncio.run(collect())


# --- Scrapy components ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FrontierSettings:
    url: str
    prefix: str
    lease_timeout: float
    poll_interval: float
    wait_timeout: float

    @classmethod
    def from_settings(cls, settings: Any) -> FrontierSettings | None:
        url = settings.get("FRONTIER_URL")
        if not url:
            return None
        return cls(
            url=str(url),
            prefix=settings.get("FRONTIER_KEY_PREFIX") or "frontier",
            lease_timeout=max(settings.getfloat("FRONTIER_LEASE_TIMEOUT", 120.0), 1.0),
            # at least four polls (lease renewals) per lease period, however the two are set
            poll_interval=min(max(settings.getfloat("FRONTIER_POLL_INTERVAL", 1.0), 0.05),
                              max(settings.getfloat("FRONTIER_LEASE_TIMEOUT", 120.0), 1.0) / 4),
            wait_timeout=settings.getfloat("FRONTIER_WAIT_TIMEOUT", 600.0),
        )


def _in_progress(crawler: Crawler) -> set[Request] | None:
    """The requests Scrapy's engine is still working on (downloading, in a callback, items in pipelines).

    Scrapy has no public per-request "done" signal; a request leaves ``engine._slot.inprogress`` after its
    response went through the callback and every item through the pipelines, or its redirect/retry was
    scheduled, which is exactly when its lease may be acknowledged."""
    engine = crawler.engine
    slot = getattr(engine, "_slot", None) if engine is not None else None
    return getattr(slot, "inprogress", None) if slot is not None else None


class FrontierScheduler(BaseScheduler):
    """Scheduler on a shared Redis frontier; Scrapy's own scheduler when ``FRONTIER_URL`` is not set."""

    def __init__(self, crawler: Crawler, config: FrontierSettings, frontier: Frontier) -> None:
        self.crawler = crawler
        self.config = config
        self.frontier = frontier
        self.worker_id = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self._tokens = itertools.count(1)
        self.held: dict[str, Request] = {}      # lease token -> the request handed to the engine
        self.unsent: list[Request] = []         # produced while Redis was unreachable
        self.maybe_leased: list[str] = []       # lease calls that failed: maybe taken, never handed out
        self.down_since: float | None = None
        self._last_renew = 0.0
        self._last_prune = 0.0
        self._closing = False
        self.loop: Any = None
        self.queue: LeasedQueue | None = None
        self.df: RFPDupeFilter | None = None
        self.spider: Spider | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Any:
        config = FrontierSettings.from_settings(crawler.settings)
        if config is None:   # Scrapy's scheduler, its pending requests on disk (crawler.diskqueue)
            from crawler.diskqueue import DiskQueueScheduler

            return DiskQueueScheduler.from_crawler(crawler)
        frontier = Frontier(config.url, config.prefix)
        frontier.check()
        return cls(crawler, config, frontier)

    # -- engine interface ------------------------------------------------------------------------------
    def open(self, spider: Spider) -> None:
        if _in_progress(self.crawler) is None:
            raise RuntimeError("this Scrapy version has no engine._slot.inprogress, which the frontier needs to "
                               "know when a request is done (tested with Scrapy 2.19); run without --frontier")
        self.spider = spider
        self.queue = self.frontier.queue_for(spider)
        self.df = self.frontier.dupefilter()
        waiting = len(self.queue)
        if waiting:
            logger.info("joining frontier %s: %d request(s) queued", self.config.url, waiting)
        self.frontier.heartbeat(self.worker_id, self._info())
        self.loop = task.LoopingCall(self._poll)
        self.loop.start(self.config.poll_interval, now=False)

    def close(self, reason: str) -> None:
        self._closing = True
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        try:
            self._flush_unsent()
            self._reap()
            undone = [*self.held, *self.maybe_leased]
            if undone:
                returned = self.frontier.give_back(undone)
                logger.info("gave %d unfinished request(s) back to the frontier", returned)
                self.held.clear()
            self.frontier.forget_worker(self.worker_id)
        except RedisError as exc:
            logger.error("could not reach the frontier's Redis at %s while closing (%s): %d request(s) "
                         "produced here were not pushed, and %d lease(s) return to the queue after "
                         "FRONTIER_LEASE_TIMEOUT (%.0f s)", self.config.url, exc, len(self.unsent),
                         len(self.held), self.config.lease_timeout)

    def enqueue_request(self, request: Request) -> bool:
        assert self.queue is not None and self.df is not None
        if self.unsent or self.down_since is not None:
            self.unsent.append(request)
            return True
        try:
            if not self._push(request):
                return False
        except RedisError as exc:
            self._went_down(exc)
            self.unsent.append(request)
            return True
        return True

    def next_request(self) -> Request | None:
        if self.down_since is not None or self._closing:
            return None
        assert self.queue is not None
        token = f"{self.worker_id}:{next(self._tokens)}"
        try:
            self._reap()
            data = self.frontier.lease(token, self.config.lease_timeout)
        except RedisError as exc:
            # The script may have run with its reply lost: give that lease back once Redis answers.
            self.maybe_leased.append(token)
            self._went_down(exc)
            return None
        if data is None:
            return None
        try:
            request = self.queue.decode(data)
        except Exception as exc:  # a request this worker cannot rebuild: say so, and drop it from the frontier
            logger.error("dropping a frontier request that cannot be decoded (%s: %s): %r", type(exc).__name__,
                         exc, data[:200])
            self._stat("frontier/undecodable")
            self.frontier.ack([token])
            return None
        request.meta[LEASE_META] = token
        self.held[token] = request
        self._stat("frontier/leased")
        return request

    def has_pending_requests(self) -> bool:
        if self.unsent or self.down_since is not None:
            return True
        assert self.queue is not None
        try:
            self._reap()
            if len(self.queue) > 0:
                return True
            # Another worker's page may still add links: wait while anyone holds a lease (a dead worker's
            # lease expires and its requests come back to the queue).
            return int(self.frontier.server.zcard(self.frontier.leases_key)) > 0
        except RedisError as exc:
            self._went_down(exc)
            return True

    # -- bookkeeping -----------------------------------------------------------------------------------
    def _info(self) -> dict[str, Any]:
        return {"host": socket.gethostname(), "pid": os.getpid(),
                "data_dir": str(self.crawler.settings.get("ARCHIVE_DATA_DIR") or ""), "leased": len(self.held)}

    def _stat(self, key: str, n: int = 1) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(key, n)

    def _reap(self) -> None:
        """Acknowledge the leases of requests the engine has finished with (children pushed first)."""
        if not self.held or self.unsent:
            return
        active = _in_progress(self.crawler)
        if active is None:
            return
        done = [token for token, request in self.held.items() if request not in active]
        if done:
            self.frontier.ack(done)
            for token in done:
                del self.held[token]
            self._stat("frontier/acknowledged", len(done))

    def _push(self, request: Request) -> bool:
        assert self.queue is not None and self.df is not None
        fingerprint = None if request.dont_filter else self.df.request_fingerprint(request)
        pushed = self.frontier.push(self.queue.encode(request), -request.priority, fingerprint)
        if pushed:
            self._stat("frontier/pushed")
        return pushed

    def _flush_unsent(self) -> None:
        while self.unsent:
            try:
                self._push(self.unsent[0])
            except TypeError as exc:     # cannot be encoded: it never will be, so it must not block the rest
                logger.error("dropping %s: %s", self.unsent[0], exc)
                self._stat("frontier/unencodable")
            self.unsent.pop(0)

    def _went_down(self, exc: Exception) -> None:
        if self.down_since is None:
            self.down_since = time.monotonic()
            logger.warning("frontier Redis at %s unreachable (%s); waiting up to %.0f s for it to come back "
                           "(FRONTIER_WAIT_TIMEOUT); requests found meanwhile are kept in memory",
                           self.config.url, exc, self.config.wait_timeout)

    def _wake_engine(self) -> None:
        engine = self.crawler.engine
        slot = getattr(engine, "_slot", None) if engine is not None else None
        if slot is not None:
            slot.nextcall.schedule()

    def _poll(self) -> None:
        """Every FRONTIER_POLL_INTERVAL: reconnect, push what waited, ack/renew leases, take back expired
        ones, and wake the engine (which itself looks only every 5 s)."""
        try:
            self._poll_once()
        except Exception:  # a LoopingCall stops at the first exception: log it and keep polling
            logger.exception("frontier bookkeeping failed; trying again in %.1f s", self.config.poll_interval)

    def _poll_once(self) -> None:
        if self._closing:
            return
        try:
            if self.down_since is not None:
                self.frontier.server.ping()
                logger.warning("frontier Redis at %s reachable again after %.0f s; %d request(s) to push",
                               self.config.url, time.monotonic() - self.down_since, len(self.unsent))
                self.down_since = None
            self._flush_unsent()
            if self.maybe_leased:
                self.frontier.give_back(self.maybe_leased)
                self.maybe_leased.clear()
            self._reap()
            now = time.monotonic()
            if self.held and now - self._last_renew >= self.config.lease_timeout / 4:
                lost = self.frontier.renew(self.held, self.config.lease_timeout)
                self._last_renew = now
                if lost:
                    logger.warning("%d lease(s) expired before this worker renewed them (was it paused?); "
                                   "another worker may fetch those pages too", len(lost))
            if now - self._last_prune >= self.config.lease_timeout:
                self._last_prune = now
                for gone in self.frontier.prune_workers(3 * self.config.lease_timeout):
                    logger.warning("worker %s has not been heard of for %.0f s: forgotten", gone,
                                   3 * self.config.lease_timeout)
            reclaimed = self.frontier.reclaim_expired()
            if reclaimed:
                logger.warning("took back %d request(s) whose worker stopped renewing its lease", reclaimed)
                self._stat("frontier/reclaimed", reclaimed)
            self.frontier.heartbeat(self.worker_id, self._info())
            stop = self.frontier.stopping()
        except RedisError as exc:
            self._went_down(exc)
            if time.monotonic() - (self.down_since or 0.0) > self.config.wait_timeout:
                logger.error("frontier Redis at %s unreachable for more than %.0f s: stopping this worker; "
                             "start it again once Redis is back (%d lease(s) return to the queue by "
                             "themselves)", self.config.url, self.config.wait_timeout, len(self.held))
                self._close_spider("frontier_unreachable")
            return
        if stop:
            self._close_spider("frontier_stopped")
        else:
            # let the engine look now, not at its 5 s heartbeat: for new requests in the queue, or to see
            # that the frontier ran empty (no request queued, no lease held anywhere) and finish
            self._wake_engine()

    def _close_spider(self, reason: str) -> None:
        engine = self.crawler.engine
        if engine is not None and not self._closing:
            self._closing = True
            deferred_from_coro(engine.close_spider_async(reason=reason))


class HostTokenMiddleware:
    """Downloader middleware: one request per host every ``FRONTIER_HOST_DELAY`` seconds across all workers.

    A worker takes ``<prefix>:host:<host>`` with ``SET NX PX`` before each download and waits out the
    key's remaining time when another worker holds it. When Redis is unreachable the worker goes on with
    its own ``DOWNLOAD_DELAY`` only."""

    def __init__(self, frontier: Frontier, delay: float) -> None:
        self.frontier = frontier
        self.delay_ms = int(delay * 1000)
        self.token = secrets.token_hex(4)
        self._warned = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> HostTokenMiddleware:
        config = FrontierSettings.from_settings(crawler.settings)
        if config is None:
            raise NotConfigured  # no message: Scrapy would log every plain crawl's "Disabled" as a warning
        delay = crawler.settings.get("FRONTIER_HOST_DELAY")
        delay = crawler.settings.getfloat("DOWNLOAD_DELAY") if delay in (None, "") else float(delay)
        if delay <= 0:
            raise NotConfigured
        return cls(Frontier(config.url, config.prefix), delay)

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        host = (urlsplit(request.url).hostname or "").lower()
        key = self.frontier.host_key(host)
        while True:
            try:
                if self.frontier.server.set(key, self.token, nx=True, px=self.delay_ms):
                    return None
                wait_ms = int(self.frontier.server.pttl(key))
            except RedisError as exc:
                if not self._warned:
                    logger.warning("per-host politeness token unavailable (%s): using this worker's own "
                                   "DOWNLOAD_DELAY until Redis is back", exc)
                    self._warned = True
                return None
            await asyncio.sleep(max(wait_ms, 5) / 1000)
