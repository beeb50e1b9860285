"""Every setting of the project, in one place, grouped and prefixed by component.

Components read these only in ``from_crawler``; nothing reads settings or the environment at import time.
Override any of them with ``-s NAME=VALUE`` (``scrapy crawl``) or the ``crawler`` command's options.
"""

from scrapy.settings.default_settings import EXTENSIONS_BASE as _SCRAPY_EXTENSIONS_BASE

from crawler import __version__

BOT_NAME = "newsarchiver"
SPIDER_MODULES = ["spiders"]
COMMANDS_MODULE = "crawler.scrapy_commands"  # scrapy crawl checks the spider's arguments first (see there)
NEWSPIDER_MODULE = "spiders"

# --- Politeness -------------------------------------------------------------------------------------
# A contact (URL or e-mail) that site operators can reach; it goes into the User-Agent and warcinfo.
ARCHIVE_OPERATOR_CONTACT = "https://github.com/newsarchiver/crawler"
USER_AGENT = f"newsarchiver/{__version__} (+{ARCHIVE_OPERATOR_CONTACT})"
ROBOTSTXT_OBEY = True
ROBOTSTXT_PARSER = "scrapy.robotstxt.ProtegoRobotParser"
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 4
DOWNLOAD_DELAY = 0.25
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.5
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
# Retry-After on 429/503 is honoured by crawler.politeness.RetryAfterMiddleware, up to this many seconds.
RETRY_AFTER_MAX_DELAY = 300.0
RETRY_ENABLED = True
RETRY_TIMES = 2
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
DOWNLOAD_TIMEOUT = 60
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
# Scrapy's remote-control HTTP server executes code sent to it and writes job files outside the data
# directory: an unattended archiver keeps it off, like the telnet console.
REMOTE_CONTROL_ENABLED = False
REFERER_ENABLED = True
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"

# --- Crawl scope ------------------------------------------------------------------------------------
DEPTH_LIMIT = 0          # Scrapy's hop limit (every hop counts); `--max-depth` is the spider's own, which skips pagination, sitemap and feed hops
DEPTH_PRIORITY = 0

# --- Archive (WARC capture, records, catalog) ------------------------------------------------------
ARCHIVE_DATA_DIR = "archive-data"
ARCHIVE_WARC_PREFIX = "crawl"
ARCHIVE_WARC_MAX_SIZE = 1_000_000_000      # bytes; a WARC file rolls over past this size
ARCHIVE_RUN_ID = None                      # default: generated per run (UTC timestamp + random suffix)
ARCHIVE_ENABLED = True
# WARC records are compressed, digested and written in one background thread (zlib and hashlib release the
# GIL), so that the reactor thread goes on parsing meanwhile; False writes them on the reactor thread.
ARCHIVE_WRITER_THREAD = True

# --- Extraction ------------------------------------------------------------------------------------
EXTRACT_ENABLED = True
EXTRACT_WORKERS = 0          # 0: one worker process per core
EXTRACT_TIMEOUT = 60.0       # seconds; a page whose extraction takes longer gets a record with an error
# Characters of HTML; a larger page is archived but not sent to a worker (trafilatura took 900 MB and minutes on
# a 20 MB page): its record has extraction_error "page too large to extract". 0: no limit.
EXTRACT_MAX_SIZE = 8 * 1024 * 1024
# "default": trafilatura text + the project's metadata; "fast": resiliparse main-content text and head
# metadata (crawler.extraction_fast), ~10x faster at a lower precision, for very large crawls.
EXTRACT_ENGINE = "default"

# --- Incremental re-crawls (crawler.incremental) ---------------------------------------------------
# A crawl into a data directory with earlier captures sends conditional requests and writes revisit
# records for unchanged pages; changed article text becomes a new record version.
INCREMENTAL_ENABLED = True
INCREMENTAL_CONDITIONAL = True       # send If-None-Match / If-Modified-Since from the previous capture
INCREMENTAL_RECENT_HOURS = 48.0      # articles first captured less than this ago are re-checked every run
INCREMENTAL_REVISIT_FACTOR = 0.25    # older ones every age * factor ...
INCREMENTAL_MAX_INTERVAL_HOURS = 720.0   # ... but at least every 30 days

# --- Download handlers ------------------------------------------------------------------------------
# Scrapy's HTTP/1.1 handler that also keeps the raw response head for the WARC record (crawler.wire).
DOWNLOAD_HANDLERS: dict[str, str | None] = {
    "http": "crawler.wire.ArchivingHTTPDownloadHandler",
    "https": "crawler.wire.ArchivingHTTPDownloadHandler",
}

# --- Components --------------------------------------------------------------------------------------
DOWNLOADER_MIDDLEWARES: dict[str, int | None] = {
    # Captures every exchange as received, before decompression (590), redirects (600) and retries (550).
    "crawler.capture.WarcCaptureMiddleware": 950,
    "crawler.politeness.RetryAfterMiddleware": 560,
    # Conditional requests and the revisit policy; turns a 304 back into the archived page (after capture
    # and DownloaderStats 850 have seen the real 304).
    "crawler.incremental.IncrementalMiddleware": 800,
}
ITEM_PIPELINES: dict[str, int | None] = {
    "crawler.pipelines.ExtractionPipeline": 300,
    "crawler.pipelines.ArchivePipeline": 800,
    # crawler.incremental: drop revisited pages before extraction, number versions after it.
    "crawler.incremental.RevisitFilterPipeline": 250,
    "crawler.incremental.VersionPipeline": 500,
}
EXTENSIONS: dict[str, int | None] = {
    "crawler.storage.ArchiveStorage": 100,
    "crawler.progress.Progress": 500,
    "crawler.incremental.IncrementalState": 150,
    "crawler.switchinterval.SwitchInterval": 120,
}
# crawler.switchinterval: seconds a thread may hold the GIL while another waits (Python's default 0.005).
# Shorter keeps the reactor thread from stalling behind the WARC writer thread; None: Python's default.
GIL_SWITCH_INTERVAL = 0.0002
# Scrapy's built-in extensions without the remote control and the telnet console, which are off anyway
# (above): Scrapy imports every listed extension, even one set to None, and the remote control's aiohttp
# costs 0.2 s at every start.
EXTENSIONS_BASE = {
    name: order for name, order in _SCRAPY_EXTENSIONS_BASE.items()
    if name not in ("scrapy.extensions.remote_control.RemoteControl", "scrapy.extensions.telnet.TelnetConsole")
}

# --- Scrapy internals --------------------------------------------------------------------------------
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
# Scrapy passes each response's callback output through CONCURRENT_ITEMS asyncio tasks (default 100), made
# anew for every response; a page yields one item and a few new links, and 100 tasks per page cost ~1 ms of
# reactor CPU. Responses are still scraped side by side (SCRAPER_SLOT_MAX_ACTIVE_SIZE bounds those).
CONCURRENT_ITEMS = 4
FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = "INFO"

# --- Progress ----------------------------------------------------------------------------------------
PROGRESS_ENABLED = True
PROGRESS_INTERVAL = 1.0          # seconds between redraws on a terminal
PROGRESS_LOG_INTERVAL = 60.0     # seconds between progress log lines when not on a terminal
PROGRESS_TERMINAL = True         # False: never redraw a line on the terminal, log instead (crawler.partition)

# --- Limits and safety (issue 6: crawler.limits, crawler.netguard, crawler.robots, crawler.resume) -------
# After the sections above, so that they extend and override them. See README "Faults, limits and safety".
# Bodies: Scrapy's hard cap, applied to the wire *and* to decompression (gzip/deflate/br bombs stop here,
# costing at most ~2x this in memory, one at a time; Scrapy's default is 1 GiB per bomb).
DOWNLOAD_MAXSIZE = 32 * 1024 * 1024
DOWNLOAD_WARNSIZE = 16 * 1024 * 1024
# crawler.limits.ResponseLimitsMiddleware keeps the first LIMITS_MAX_BODY_SIZE bytes of a larger body and
# marks the capture WARC-Truncated: length; a body still arriving LIMITS_RESPONSE_TIME seconds after its
# headers (a trickling server) is cut and marked WARC-Truncated: time. DOWNLOAD_TIMEOUT (above) remains the
# wall-clock limit on the whole download, headers included.
LIMITS_ENABLED = True
LIMITS_MAX_BODY_SIZE = 24 * 1024 * 1024
LIMITS_RESPONSE_TIME = 45.0
# crawler.pagetree: the spider parses a page of up to LIMITS_PARSE_MAX_SIZE bytes into one lxml tree (about 25x
# the page in memory); a larger page gets the tree of its first LIMITS_PARSE_MAX_SIZE bytes, and the links of the
# rest are streamed (all of them kept). 0: no limit.
LIMITS_PARSE_MAX_SIZE = 4 * 1024 * 1024
# spiders.news: the news spider parses pages and reads their kind and links in a helper process
# (crawler.sidecar), which puts a second core to work beside the reactor thread. "auto": on when extraction
# is off (archive mode, --no-extract) on a machine with 2 cores or more; with extraction on, the extraction
# pool has the other cores. A page the helper has no room for right now (or over 1 MiB) is analysed in the
# crawl process, as with False.
SPIDER_ANALYSIS_PROCESS = "auto"
# A body cut short by the server (Content-Length not reached, connection reset) is archived as received
# and marked WARC-Truncated: length, instead of being thrown away.
DOWNLOAD_FAIL_ON_DATALOSS = False
# URLs up to this length are followed (Scrapy's default, 2083, drops longer ones that sites do use).
URLLENGTH_LIMIT = 16384
# Only http and https: no file:, data:, ftp: or s3: fetches, whatever a page or redirect points at.
DOWNLOAD_HANDLERS = {**DOWNLOAD_HANDLERS, "file": None, "data": None, "ftp": None, "s3": None}
# crawler.netguard: never connect to loopback, private, link-local, cloud-metadata or other non-global
# addresses (IPv4, IPv6, IPv4-mapped), checked on the resolved address of every connection, redirect hop
# and robots/sitemap fetch, unless it is a seed's own host:port or listed in NETGUARD_ALLOW (host names,
# IP addresses or CIDR networks, e.g. ["10.0.0.0/8", "intranet.example"]).
NETGUARD_ENABLED = True
NETGUARD_ALLOW: list[str] = []
TWISTED_DNS_RESOLVER = "crawler.netguard.GuardedResolver"
# robots.txt per RFC 9309 (crawler.robots): 4xx means allow all; 5xx or unreachable means disallow all,
# re-fetched after ROBOTSTXT_RETRY_DELAY seconds up to ROBOTSTXT_RETRY_TIMES times; only the first
# ROBOTSTXT_MAX_SIZE bytes are parsed (RFC 9309 asks for at least 500 KiB).
ROBOTSTXT_RETRY_DELAY = 30.0
ROBOTSTXT_RETRY_TIMES = 3
ROBOTSTXT_MAX_SIZE = 512 * 1024
DOWNLOADER_MIDDLEWARES = {
    **DOWNLOADER_MIDDLEWARES,
    "crawler.netguard.NetGuardMiddleware": 960,      # request: scheme + IP literal; response: peer address
    "crawler.limits.ResponseLimitsMiddleware": 955,
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.robots.RobotsMiddleware": 100,
    # replays what the resumed run archived already; before incremental (800) so no conditional request
    "crawler.resume.ResumeMiddleware": 790,
}
# crawler.charset: UTF-8 pages labelled ISO-8859-1/windows-1252 are extracted as UTF-8 (the WARC keeps them as sent)
ITEM_PIPELINES = {**ITEM_PIPELINES, "crawler.resume.ResumeFilterPipeline": 200, "crawler.charset.CharsetPipeline": 280}
# crawler.charset: each record's "encoding" says which charset decoded the page, from where (BOM, header,
# meta, sniffed), and flags byte sequences it could not decode and control characters (NUL) in the page.
SPIDER_MIDDLEWARES: dict[str, int | None] = {"crawler.charset.CharsetMiddleware": 800}
# crawler.redirects: a redirect loop or a chain longer than REDIRECT_MAX_TIMES is one WARNING line naming the
# URL (Scrapy drops both silently); every hop is archived. 20 hops, as browsers (Chrome, Firefox) and wget:
# a longer chain is not a page a reader reaches. A plain body labelled gzip is used as it is (identity);
# other content decoding failures are one WARNING line (raw bytes archived, no record).
REDIRECT_MAX_TIMES = 20
DOWNLOADER_MIDDLEWARES = {
    **DOWNLOADER_MIDDLEWARES,
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    "crawler.redirects.RedirectMiddleware": 600,
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "crawler.redirects.MetaRefreshMiddleware": 580,
    "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware": None,
    "crawler.redirects.HttpCompressionMiddleware": 590,
}
# crawler.resume: the run id that `crawler crawl --resume RUN` continues (None: a new run).
RESUME_RUN = None
# `crawler crawl` in N processes of this machine, each owning part of the URLs (crawler.partition): a
# whole number, or "auto" (one per core with --no-extract, else 1). `scrapy crawl` always runs one.
CRAWL_PROCESSES = 1
# crawler.diskfull: stop cleanly (finish reason "disk_full", exit code 3) when the data directory has less
# than DISKFULL_MIN_FREE bytes free, checked every DISKFULL_CHECK_INTERVAL seconds, or when a write fails
# for lack of space; WARC files are cut back to their last complete record before they are renamed.
DISKFULL_ENABLED = True
DISKFULL_MIN_FREE = 64 * 1024 * 1024
DISKFULL_CHECK_INTERVAL = 5.0
EXTENSIONS = {**EXTENSIONS, "crawler.diskfull.DiskSpaceGuard": 110}

# --- Distributed crawls on a shared Redis frontier (crawler.frontier; `--frontier`, `crawler worker`) ----
# Scrapy's own scheduler unless FRONTIER_URL (redis://HOST:PORT/DB) is set; then requests, the seen-set and
# leases live in Redis (scrapy-redis) and any number of workers on any machines share the crawl.
SCHEDULER = "crawler.frontier.FrontierScheduler"
FRONTIER_URL = None
FRONTIER_KEY_PREFIX = "frontier"     # every key of the frontier starts with this (several crawls, one Redis)
FRONTIER_LEASE_TIMEOUT = 120.0       # seconds: a request taken by a worker that stops renewing returns after this
FRONTIER_POLL_INTERVAL = 1.0         # seconds between lease renewals/reclaims, reconnects and queue checks
FRONTIER_WAIT_TIMEOUT = 600.0        # seconds a worker waits for an unreachable Redis before it gives up
FRONTIER_HOST_DELAY = None           # seconds between requests to one host across all workers (None: DOWNLOAD_DELAY)
DOWNLOADER_MIDDLEWARES = {**DOWNLOADER_MIDDLEWARES, "crawler.frontier.HostTokenMiddleware": 930}

# --- Request queue (crawler.diskqueue) ----------------------------------------------------------------
# Without a Redis frontier, pending requests wait pickled on disk in runs/<run-id>/queue/ (removed when the
# crawl ends), not in memory: sitemaps list a whole site at once, and memory must not grow with its size.
# False: Scrapy's memory queue. JOBDIR, when set, keeps Scrapy's meaning (a persistent job directory).
DISKQUEUE_ENABLED = True
# Scrapy's pickled LIFO disk queue, with its newest 512 requests kept in memory (fewer file syscalls).
SCHEDULER_DISK_QUEUE = "crawler.diskqueue.PickleBufferedLifoDiskQueue"
# Scrapy's duplicate filter with its fingerprints as 60-bit keys in a compact table (crawler.dupefilter).
DUPEFILTER_CLASS = "crawler.dupefilter.CompactDupeFilter"

# --- Checking values given on the command line (crawler.cli) --------------------------------------------
# `crawler` checks every `-s NAME=VALUE` and `--frontier` with check_setting before anything starts, so that a
# wrong value is one line naming the setting and what it allows (Scrapy would fail later with "could not
# convert string to float: 'abc'", or accept -5 as a size). Lower-case names: Scrapy takes only the upper-case
# names of this module as settings. Each entry: (int or float, smallest value, smallest excluded?, what it is).
_number_rules: dict[str, tuple[type, float, bool, str]] = {
    "CONCURRENT_REQUESTS": (int, 1, False, "requests"),
    "CONCURRENT_REQUESTS_PER_DOMAIN": (int, 1, False, "requests"),
    "CONCURRENT_ITEMS": (int, 1, False, "items"),
    "DOWNLOAD_DELAY": (float, 0, False, "seconds"),
    "DOWNLOAD_TIMEOUT": (float, 0, True, "seconds"),
    "DNS_TIMEOUT": (float, 0, True, "seconds"),
    "AUTOTHROTTLE_START_DELAY": (float, 0, False, "seconds"),
    "AUTOTHROTTLE_MAX_DELAY": (float, 0, False, "seconds"),
    "AUTOTHROTTLE_TARGET_CONCURRENCY": (float, 0, True, "requests"),
    "RETRY_AFTER_MAX_DELAY": (float, 0, False, "seconds"),
    "RETRY_TIMES": (int, 0, False, "retries"),
    "DEPTH_LIMIT": (int, 0, False, "hops; 0: no limit"),
    "ARCHIVE_WARC_MAX_SIZE": (int, 1, False, "bytes"),
    "EXTRACT_WORKERS": (int, 0, False, "processes; 0: one per core"),
    "EXTRACT_TIMEOUT": (float, 0, True, "seconds"),
    "EXTRACT_MAX_SIZE": (int, 0, False, "characters; 0: no limit"),
    "INCREMENTAL_RECENT_HOURS": (float, 0, False, "hours"),
    "INCREMENTAL_REVISIT_FACTOR": (float, 0, False, "a factor"),
    "INCREMENTAL_MAX_INTERVAL_HOURS": (float, 0, False, "hours"),
    "PROGRESS_INTERVAL": (float, 0, True, "seconds"),
    "PROGRESS_LOG_INTERVAL": (float, 0, True, "seconds"),
    "DOWNLOAD_MAXSIZE": (int, 0, False, "bytes; 0: no limit"),
    "DOWNLOAD_WARNSIZE": (int, 0, False, "bytes; 0: no warning"),
    "LIMITS_MAX_BODY_SIZE": (int, 0, False, "bytes; 0: no limit"),
    "LIMITS_RESPONSE_TIME": (float, 0, False, "seconds; 0: no limit"),
    "LIMITS_PARSE_MAX_SIZE": (int, 0, False, "bytes; 0: no limit"),
    "URLLENGTH_LIMIT": (int, 0, False, "characters; 0: no limit"),
    "ROBOTSTXT_RETRY_DELAY": (float, 0, False, "seconds"),
    "ROBOTSTXT_RETRY_TIMES": (int, 0, False, "retries"),
    "ROBOTSTXT_MAX_SIZE": (int, 1, False, "bytes"),
    "REDIRECT_MAX_TIMES": (int, 0, False, "redirects"),
    "DISKFULL_MIN_FREE": (int, 0, False, "bytes"),
    "DISKFULL_CHECK_INTERVAL": (float, 0, True, "seconds"),
    "DNSCACHE_SIZE": (int, 0, False, "entries"),
    "FRONTIER_LEASE_TIMEOUT": (float, 0, True, "seconds"),
    "FRONTIER_POLL_INTERVAL": (float, 0, True, "seconds"),
    "FRONTIER_WAIT_TIMEOUT": (float, 0, False, "seconds"),
}
# Values that may also be None (or empty): the setting is then off or takes its value from another one.
_optional_numbers: dict[str, tuple[type, float, bool, str]] = {
    "GIL_SWITCH_INTERVAL": (float, 0, True, "seconds, at most 1; None: Python's default"),
    "FRONTIER_HOST_DELAY": (float, 0, False, "seconds; None: DOWNLOAD_DELAY"),
}
_choices: dict[str, tuple[str, ...]] = {
    "EXTRACT_ENGINE": ("default", "fast"),      # crawler.pipelines.ENGINES (a test keeps them equal)
    "SPIDER_ANALYSIS_PROCESS": ("auto", "true", "false", "1", "0"),
}
_true_false = {"1", "0", "true", "false"}


def _number(name: str, value: object, kind: type, minimum: float, exclusive: bool, what: str) -> str | None:
    """What is wrong with ``value`` as a number of ``kind`` above ``minimum``, or None."""
    import math

    whole = kind is int
    try:
        if isinstance(value, bool):
            raise ValueError
        number = int(str(value).strip()) if whole else float(str(value).strip())
    except ValueError:
        number = None
    limit = f"above {minimum:g}" if exclusive else f"{minimum:g} or more"
    expected = f"{'a whole number' if whole else 'a number'} {limit} ({what})"
    if number is None or not math.isfinite(number) or number < minimum or (exclusive and number <= minimum):
        return f"{name} must be {expected}, not {value!r}"
    if name == "GIL_SWITCH_INTERVAL" and number > 1:
        return f"{name} must be {expected}, not {value!r}"
    return None


def _is_number(value: object) -> bool:
    import math

    try:
        return not isinstance(value, bool) and math.isfinite(float(str(value).strip()))
    except ValueError:
        return False


def frontier_url_error(url: str) -> str | None:
    """What is wrong with a Redis frontier URL (redis://HOST:PORT/DB, rediss://..., unix:///path.sock?db=N),
    or None. Redis's client reads ``/abc`` as database 0 without a word: here a database is a number."""
    from urllib.parse import parse_qs, urlsplit

    example = "give redis://HOST:PORT/DB, e.g. redis://127.0.0.1:6379/0"
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        return f"bad frontier URL {url!r} ({exc}); {example}"
    if parts.scheme not in ("redis", "rediss", "unix"):
        return f"bad frontier URL {url!r}: the scheme must be redis, rediss or unix; {example}"
    if parts.scheme == "unix":
        if not parts.path:
            return f"bad frontier URL {url!r}: no socket path; e.g. unix:///run/redis.sock?db=0"
        db = None
    else:
        if port == 0:
            return f"bad frontier URL {url!r}: port 0; {example}"
        db = parts.path.strip("/") or None
    queried = parse_qs(parts.query).get("db")
    for text in [db, *(queried or [])]:
        if text is not None and not text.isdigit():
            return f"bad frontier URL {url!r}: the database must be a number (0, 1, ...), not {text!r}; {example}"
    return None


def check_setting(name: str, value: object) -> None:
    """Raise ValueError naming ``name`` and what it allows when ``value`` (a string from ``-s``, or a Python
    value) is not one the setting can take. Settings without a rule here pass, except that one whose
    default (here or Scrapy's) is True/False must be a boolean and one whose default is a number a number."""
    from scrapy.settings import default_settings as scrapy_defaults

    error: str | None = None
    text = str(value).strip()
    if name in _number_rules:
        error = _number(name, value, *_number_rules[name])
    elif name in _optional_numbers:
        if value is not None and text not in ("", "None", "none"):
            error = _number(name, value, *_optional_numbers[name])
    elif name in _choices:
        if text.lower() not in _choices[name]:
            error = f"{name} must be one of {', '.join(_choices[name])}, not {value!r}"
    elif name == "FRONTIER_URL":
        error = frontier_url_error(text) if text and text != "None" else None
    else:
        default = globals().get(name, getattr(scrapy_defaults, name, None))
        if isinstance(default, bool):
            if not isinstance(value, bool) and text.lower() not in _true_false:
                error = f"{name} must be true or false (1 or 0), not {value!r}"
        elif isinstance(default, (int, float)) and not _is_number(value):
            error = f"{name} must be a number, not {value!r}"
    if error:
        raise ValueError(error)
