"""WARC writing and reading, JSON records, the SQLite catalog, the index, replay and export.

This package imports nothing from Scrapy: it takes bytes, paths and typed records.
"""
