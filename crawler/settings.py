"""Scrapy settings, built from sendwatch's one configuration.

Polite by default: robots.txt obeyed, AutoThrottle on, at most `concurrency` requests
(default 2) in flight per site, a User-Agent that says who we are and how to reach us, timeouts, a size cap,
and retries that back off on 5xx, 429 and timeouts but never on other 4xx. The
HTTP cache revalidates listings with If-None-Match/If-Modified-Since where the
server gives validators, so an unchanged listing costs a 304.
"""

from __future__ import annotations

from typing import Any

from crawler.hostmap import HOST_MAP_SETTING
from sendwatch import __version__
from sendwatch.config import Settings

PROJECT_URL = "https://github.com/sendwatch/sendwatch"


def user_agent(contact: str) -> str:
    contact_part = f"; {contact}" if contact else ""
    return f"sendwatch/{__version__} (+{PROJECT_URL}{contact_part})"


def scrapy_settings(settings: Settings) -> dict[str, Any]:
    crawl = settings.crawler
    max_bytes = int(crawl.max_page_mb * 1024 * 1024)
    return {
        "BOT_NAME": "sendwatch",
        "USER_AGENT": user_agent(crawl.contact),
        "ROBOTSTXT_OBEY": True,
        "CONCURRENT_REQUESTS_PER_DOMAIN": crawl.concurrency,
        "DOWNLOAD_DELAY": crawl.download_delay,
        "AUTOTHROTTLE_ENABLED": True,
        "AUTOTHROTTLE_START_DELAY": crawl.download_delay,
        "AUTOTHROTTLE_MAX_DELAY": 60.0,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(crawl.concurrency),
        "DOWNLOAD_TIMEOUT": crawl.timeout_seconds,
        "DOWNLOAD_MAXSIZE": max_bytes,
        "DOWNLOAD_WARNSIZE": max_bytes // 2,
        "RETRY_ENABLED": True,
        "RETRY_TIMES": crawl.retries,
        "RETRY_HTTP_CODES": [500, 502, 503, 504, 522, 524, 408, 429],
        "RETRY_BACKOFF_SECONDS": crawl.retry_backoff_seconds,
        "DOWNLOADER_MIDDLEWARES": {
            "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
            "crawler.middlewares.BackoffRetryMiddleware": 550,
        },
        # Links are fetched at the hosts they name, but for those `host_map` re-points.
        "DOWNLOAD_HANDLERS": {
            "http": "crawler.hostmap.HostMapDownloadHandler",
            "https": "crawler.hostmap.HostMapDownloadHandler",
        },
        HOST_MAP_SETTING: dict(crawl.host_map),
        "HTTPCACHE_ENABLED": True,
        "HTTPCACHE_POLICY": "scrapy.extensions.httpcache.RFC2616Policy",
        "HTTPCACHE_STORAGE": "scrapy.extensions.httpcache.FilesystemCacheStorage",
        "HTTPCACHE_DIR": str((settings.data_dir / "httpcache").resolve()),
        "HTTPCACHE_IGNORE_HTTP_CODES": [301, 302, 303, 307, 308, 404, 410, 429, 500, 502, 503, 504],
        "ITEM_PIPELINES": {"crawler.pipelines.StorePipeline": 300},
        "SPIDER_MIDDLEWARES": {"crawler.middlewares.DocumentErrorsMiddleware": 900},
        "SENDWATCH_DATABASE_URL": settings.effective_database_url,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": settings.log_level,
        "FEED_EXPORT_ENCODING": "utf-8",
    }
