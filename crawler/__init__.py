"""Archive news sites into WARC files and clean JSON records."""

__version__ = "0.1.0"
