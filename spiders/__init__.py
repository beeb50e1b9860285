"""Spiders decide what to fetch: seeds, sitemaps, feeds, links and scope. Nothing else."""
