"""HTML, feeds and sitemaps of the demo site, as strings. Links are root-relative; the base URL is used
only where absolute URLs are needed (canonical, og:url, JSON-LD, feeds, sitemaps, robots.txt)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from email.utils import format_datetime
from html import escape

from crawler.demosite.generate import Article, Layout, section_label


def byline(a: Article) -> str:
    return "By " + " and ".join(a.authors)


def _teaser(a: Article, *, summary: bool = False, suffix: str = "") -> str:
    text = f'<p class="teaser-summary">{escape(a.description)}</p>' if summary else ""
    return (f'<li class="teaser"><a href="{escape(a.path + suffix)}">{escape(a.title)}</a>{text}'
            f'<span class="teaser-date">{a.published:%b %d, %Y}</span></li>')


def page(layout: Layout, *, title: str, head: str = "", body: str, sidebar: Iterable[Article] = (),
         body_class: str = "page") -> str:
    """The frame every HTML page shares: head, nav, ad slots, sidebar of teasers, footer."""
    nav = "".join(f'<li><a href="/{s}">{section_label(s)}</a></li>' for s in layout.sections)
    teasers = "".join(_teaser(a) for a in sidebar)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<link rel="alternate" type="application/rss+xml" title="{escape(layout.name)}" href="/rss/news">
<link rel="alternate" type="application/atom+xml" title="{escape(layout.name)} (Atom)" href="/atom.xml">
<link rel="stylesheet" href="/static/site.css">
{head}
</head>
<body class="{body_class}">
<header class="site-header"><a class="logo" href="/">{escape(layout.name)}</a>
<nav class="main-nav"><ul>{nav}<li><a href="/about">About us</a></li></ul></nav>
<form class="search" action="/search"><input name="q" placeholder="Search"></form></header>
<div class="ad ad-leaderboard" data-slot="top-728x90">Advertisement</div>
<div class="layout">
<main>
{body}
</main>
<aside class="sidebar"><h2>Most read</h2><ul>{teasers}</ul>
<div class="ad ad-box" data-slot="side-300x250">Advertisement</div>
<div class="newsletter"><h3>Newsletter</h3><p>Get the day's top stories in your inbox every morning.</p></div>
</aside>
</div>
<footer class="site-footer"><ul><li><a href="/about">About us</a></li><li><a href="/rss/news">RSS</a></li>
<li><a href="/atom.xml">Atom</a></li></ul>
<p>&copy; 2021 {escape(layout.name)}. All rights reserved. Reproduction without permission is prohibited.</p>
</footer>
</body>
</html>
"""


def article_html(layout: Layout, a: Article, base: str, related: list[Article], sidebar: list[Article]) -> str:
    url, image = base + a.path, f"{base}/static/img/{a.id}.png"
    head = f'<link rel="canonical" href="{url}">\n'
    if a.markup != "plain":
        head += f'<meta name="description" content="{escape(a.description)}">\n'
        head += "".join(f'<meta name="author" content="{escape(n)}">\n' for n in a.authors)
        head += "".join(f'<meta property="{k}" content="{escape(v)}">\n' for k, v in [
            ("og:type", "article"), ("og:title", a.title), ("og:site_name", layout.name), ("og:url", url),
            ("og:image", image), ("og:description", a.description),
            ("article:published_time", a.published.isoformat()), ("article:modified_time", a.modified.isoformat()),
            ("article:section", section_label(a.section))] + [("article:tag", k) for k in a.keywords])
    if a.markup == "full":
        kind = "Organization" if a.author_is_org else "Person"
        people = [{"@type": kind, "name": n} for n in a.authors]
        ld = {"@context": "https://schema.org", "@type": "NewsArticle", "mainEntityOfPage": url,
              "headline": a.title, "description": a.description,
              "author": people[0] if len(people) == 1 else people,
              "datePublished": a.published.isoformat(), "dateModified": a.modified.isoformat(),
              "image": [image], "articleSection": section_label(a.section), "keywords": ", ".join(a.keywords),
              "publisher": {"@type": "Organization", "name": layout.name,
                            "logo": {"@type": "ImageObject", "url": f"{base}/static/logo.png"}}}
        head += f'<script type="application/ld+json">{json.dumps(ld)}</script>\n'
    paragraphs = "\n".join(f"<p>{escape(p)}</p>" for p in a.paragraphs)
    tags = "".join(f'<li><a href="/tag/{k}">{k}</a></li>' for k in a.keywords)
    body = f"""<article class="article">
<header class="article-header">
<p class="kicker"><a href="/{a.section}">{section_label(a.section)}</a></p>
<h1>{escape(a.title)}</h1>
<p class="byline">{escape(byline(a))}</p>
<time class="published" datetime="{a.published.isoformat()}">{a.published:%B %d, %Y %H:%M}</time>
</header>
<figure><img src="/static/img/{a.id}.png" alt=""><figcaption>Illustration. {escape(layout.name)}</figcaption></figure>
<div class="article-body">
{paragraphs}
</div>
<ul class="tags">{tags}</ul>
</article>
<div class="ad ad-inline" data-slot="after-article">Advertisement</div>
<section class="related"><h2>Related articles</h2><ul>{"".join(_teaser(r, summary=True) for r in related)}</ul></section>
<section id="comments" class="comments"><h2>Comments</h2><p>Comments are loading. Please sign in to comment.</p></section>"""
    return page(layout, title=f"{a.title} - {layout.name}", head=head, body=body, sidebar=sidebar,
                body_class="page-article")


def listing_html(layout: Layout, *, title: str, heading: str, items: list[Article], sidebar: list[Article],
                 prev_url: str | None = None, next_url: str | None = None, extra: str = "") -> str:
    head = "".join(f'<link rel="{rel}" href="{href}">\n' for rel, href in [("prev", prev_url), ("next", next_url)] if href)
    pager = "".join(f'<a class="pager-{rel}" rel="{rel}" href="{href}">{text}</a>' for rel, href, text in
                    [("prev", prev_url, "Previous page"), ("next", next_url, "Next page")] if href)
    body = (f'<h1 class="listing-title">{escape(heading)}</h1>\n<ul class="listing">'
            f'{"".join(_teaser(a, summary=True) for a in items)}</ul>\n<nav class="pager">{pager}</nav>\n{extra}')
    return page(layout, title=f"{title} - {layout.name}" if title else layout.name, head=head, body=body,
                sidebar=sidebar, body_class="page-listing")


def home_extra(latest: list[Article], redirects: list[str], missing: list[str]) -> str:
    """The home page's odd links: tracking-parameter duplicates, old URLs, dead links, a disallowed page."""
    tracking = ["?utm_source=twitter&utm_medium=social", "?gclid=abc", "?fbclid=x", "#comments"]
    trending = "".join(_teaser(a, suffix=t) for a, t in zip(latest[1:], tracking, strict=False))
    archive = "".join(f'<li><a href="{p}">From the archive</a></li>' for p in redirects)
    dead = "".join(f'<li><a href="{p}">Special report</a></li>' for p in missing)
    return (f'<section class="trending"><h2>Trending</h2><ul>{trending}</ul></section>\n'
            f'<section class="more"><h2>More</h2><ul>{archive}{dead}'
            '<li><a href="/private/secret-page">Staff only</a></li><li><a href="/about">About us</a></li>'
            f'<li><a href="/tag/{latest[0].keywords[0]}">Topic: {latest[0].keywords[0]}</a></li></ul></section>')


def text_page_html(layout: Layout, title: str, paragraphs: list[str], sidebar: list[Article]) -> str:
    body = f'<h1>{escape(title)}</h1>\n' + "\n".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return page(layout, title=f"{title} - {layout.name}", body=body, sidebar=sidebar)


def rss(layout: Layout, base: str, items: list[Article]) -> str:
    entries = "".join(
        f"<item><title>{escape(a.title)}</title><link>{base}{a.path}</link>"
        f'<guid isPermaLink="true">{base}{a.path}</guid><pubDate>{format_datetime(a.published)}</pubDate>'
        f"<dc:creator>{escape(', '.join(a.authors))}</dc:creator><category>{section_label(a.section)}</category>"
        f"<description>{escape(a.description)}</description></item>\n" for a in items)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f"<channel><title>{escape(layout.name)}</title><link>{base}/</link><description>Latest news</description>"
            f"<language>en</language>\n{entries}</channel></rss>\n")


def atom(layout: Layout, base: str, items: list[Article]) -> str:
    updated = max((a.modified for a in items), default=None)
    entries = "".join(
        f'<entry><title>{escape(a.title)}</title><link href="{base}{a.path}"/><id>{base}{a.path}</id>'
        f"<published>{a.published.isoformat()}</published><updated>{a.modified.isoformat()}</updated>"
        f"{''.join(f'<author><name>{escape(n)}</name></author>' for n in a.authors)}"
        f"<summary>{escape(a.description)}</summary></entry>\n" for a in items)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
            f'<title>{escape(layout.name)}</title><id>{base}/</id><link href="{base}/"/>'
            f'<link rel="self" href="{base}/atom.xml"/><updated>{updated.isoformat() if updated else ""}</updated>\n'
            f"{entries}</feed>\n")


def sitemap_index(base: str, children: list[tuple[str, datetime | None]]) -> str:
    maps = "".join(f"<sitemap><loc>{base}{path}</loc>{f'<lastmod>{m.isoformat()}</lastmod>' if m else ''}</sitemap>\n"
                   for path, m in children)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{maps}</sitemapindex>\n')


def urlset(base: str, items: list[Article], *, news_name: str | None = None) -> str:
    def news(a: Article) -> str:
        return (f"<news:news><news:publication><news:name>{escape(news_name or '')}</news:name>"
                f"<news:language>en</news:language></news:publication><news:publication_date>"
                f"{a.published.isoformat()}</news:publication_date><news:title>{escape(a.title)}</news:title>"
                "</news:news>") if news_name else f"<lastmod>{a.modified.isoformat()}</lastmod>"
    ns = ' xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"' if news_name else ""
    urls = "".join(f"<url><loc>{base}{a.path}</loc>{news(a)}</url>\n" for a in items)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"{ns}>\n{urls}</urlset>\n'
