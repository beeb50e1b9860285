"""The project's own demo news site, generated in memory and served on 127.0.0.1 (stdlib only).

``make demo`` crawls it and the test suite crawls it with the real Scrapy engine. Run it by hand with
``python -m crawler.demosite --port 8000`` (``--port 0`` picks a free port; the first stdout line is
``serving http://127.0.0.1:PORT/``).

Layouts (``Site(layout=...)``):

``demo`` ("Demo Times")
    sections ``/world``, ``/business``, ``/culture`` (``?page=N``, ``<link rel="next">``, "Next page");
    articles ``/YYYY/MM/DD/slug-aNNNNN``; ``/about``, ``/tag/<name>``; ``/robots.txt`` (``Disallow: /private/``,
    ``Sitemap:``); sitemap index ``/sitemap.xml`` -> ``/sitemaps/articles-1.xml`` (newest half, lastmod),
    ``/sitemaps/news.xml`` (Google News, newest 10), ``/sitemaps/archive.xml.gz`` (older half, gzip file);
    feeds ``/rss/news`` (RSS 2.0) and ``/atom.xml`` (newest 15); ``/old/<slug>`` 301 to an article;
    ``/private/secret-page`` (disallowed by robots.txt).
``moscowtimes`` ("The Moscow Times", shaped like https://www.themoscowtimes.com/)
    the same, but sections ``/news``, ``/opinion``, ``/business``, sitemap index ``/sitemap/sitemap.xml``
    with children under ``/sitemap/``, and ids like ``a73596``.

Article markup varies: most have og + JSON-LD NewsArticle, every 10th (from the 4th) og but no JSON-LD,
every 10th (from the 8th) only ``<article>``, h1, byline and ``<time>``. ``site.truth`` is the ground truth.
"""

from crawler.demosite.generate import ArticleTruth
from crawler.demosite.server import LoggedRequest, RunningServer, serve
from crawler.demosite.site import Page, Site

__all__ = ["ArticleTruth", "LoggedRequest", "Page", "RunningServer", "Site", "serve"]
