"""Scrapy's duplicate filter with its fingerprints kept compact: 16 bytes per request instead of ~130.

``CompactDupeFilter`` (``DUPEFILTER_CLASS``) is Scrapy's ``RFPDupeFilter`` (same request fingerprints,
same logging) that remembers a 60-bit key of each fingerprint in a ``crawler.keytable.KeyTable``, not a set
of 20-byte ``bytes``: a crawl's memory must not grow with the size of the site. With ``JOBDIR`` it is
Scrapy's own (the fingerprints are also written to ``requests.seen`` there). A Redis frontier
(``crawler.frontier``) keeps its fingerprints in Redis and does not use this class.
"""

from __future__ import annotations

from scrapy import Request
from scrapy.dupefilters import RFPDupeFilter

from crawler.keytable import KeyTable, key_of_bytes


class CompactDupeFilter(RFPDupeFilter):
    """``RFPDupeFilter`` with the seen fingerprints as 60-bit keys (see the module docstring)."""

    _keys: KeyTable | None = None

    def request_seen(self, request: Request) -> bool:
        if self.file is not None:      # JOBDIR: Scrapy's set and its requests.seen file
            return super().request_seen(request)
        if self._keys is None:
            self._keys = KeyTable()
        return not self._keys.add(key_of_bytes(self.fingerprinter.fingerprint(request)))
