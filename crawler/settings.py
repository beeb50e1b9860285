"""Every setting of the project, in one place, grouped and prefixed by component.

Components read these only in ``from_crawler``; nothing reads settings or the environment at import time.
Override any of them with ``-s NAME=VALUE`` (``scrapy crawl``) or the ``crawler`` command's options.
"""

from crawler import __version__

BOT_NAME = "newsarchiver"
SPIDER_MODULES = ["spiders"]
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
REFERER_ENABLED = True
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"

# --- Crawl scope ------------------------------------------------------------------------------------
DEPTH_LIMIT = 0          # 0: no limit; `--max-depth` sets it
DEPTH_PRIORITY = 0

# --- Archive (WARC capture, records, catalog) ------------------------------------------------------
ARCHIVE_DATA_DIR = "archive-data"
ARCHIVE_WARC_PREFIX = "crawl"
ARCHIVE_WARC_MAX_SIZE = 1_000_000_000      # bytes; a WARC file rolls over past this size
ARCHIVE_RUN_ID = None                      # default: generated per run (UTC timestamp + random suffix)
ARCHIVE_ENABLED = True

# --- Extraction ------------------------------------------------------------------------------------
EXTRACT_ENABLED = True
EXTRACT_WORKERS = 0          # 0: one worker process per core
EXTRACT_TIMEOUT = 60.0       # seconds; a page whose extraction takes longer gets a record with an error

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
DOWNLOAD_HANDLERS = {
    "http": "crawler.wire.ArchivingHTTPDownloadHandler",
    "https": "crawler.wire.ArchivingHTTPDownloadHandler",
}

# --- Components --------------------------------------------------------------------------------------
DOWNLOADER_MIDDLEWARES = {
    # Captures every exchange as received, before decompression (590), redirects (600) and retries (550).
    "crawler.capture.WarcCaptureMiddleware": 950,
    "crawler.politeness.RetryAfterMiddleware": 560,
    # Conditional requests and the revisit policy; turns a 304 back into the archived page (after capture
    # and DownloaderStats 850 have seen the real 304).
    "crawler.incremental.IncrementalMiddleware": 800,
}
ITEM_PIPELINES = {
    "crawler.pipelines.ExtractionPipeline": 300,
    "crawler.pipelines.ArchivePipeline": 800,
    # crawler.incremental: drop revisited pages before extraction, number versions after it.
    "crawler.incremental.RevisitFilterPipeline": 250,
    "crawler.incremental.VersionPipeline": 500,
}
EXTENSIONS = {
    "crawler.storage.ArchiveStorage": 100,
    "crawler.progress.Progress": 500,
    "crawler.incremental.IncrementalState": 150,
}

# --- Scrapy internals --------------------------------------------------------------------------------
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = "INFO"

# --- Progress ----------------------------------------------------------------------------------------
PROGRESS_ENABLED = True
PROGRESS_INTERVAL = 1.0          # seconds between redraws on a terminal
PROGRESS_LOG_INTERVAL = 60.0     # seconds between progress log lines when not on a terminal

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
