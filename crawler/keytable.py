"""A compact hash table of 60-bit keys, with an optional 64-bit value per key: what a crawl remembers per URL.

A Python ``set`` of ints costs ~110 bytes per key (a 32-byte int object plus a table that grows four-fold)
and a ``dict`` of int -> int ~130; this table keeps the keys (and values) in ``array`` slots, open
addressing with linear probing at most half full: 16 bytes per key, 32 with values. Lookups cost ~1 µs in
Python, nothing next to the milliseconds a page costs. Keys are hash bits (``key_of``); two different
things with the same 60-bit key count as one: with a million keys the chance that this happens at all is
about 4 in 10 million.
"""

from __future__ import annotations

from array import array

MASK = (1 << 60) - 1
_START = 1024           # slots of a new table (a power of two)


def key_of(text: str) -> int:
    """The 60-bit key of ``text`` (its str hash, cached on the string; stable within one process), never 0."""
    return (hash(text) & MASK) or 1


def key_of_bytes(digest: bytes) -> int:
    """The 60-bit key of a digest (its first 8 bytes), never 0."""
    return (int.from_bytes(digest[:8], "big") & MASK) or 1


class KeyTable:
    """A set of non-zero 60-bit ints (``add``, ``in``, ``len``), and with ``values=True`` a map of them to
    signed 64-bit ints (``put``, ``get``)."""

    __slots__ = ("_keys", "_values", "_mask", "_count")

    def __init__(self, *, values: bool = False) -> None:
        self._keys = array("Q", bytes(8 * _START))
        self._values: array[int] | None = array("q", bytes(8 * _START)) if values else None
        self._mask = _START - 1
        self._count = 0

    def _slot(self, key: int) -> int:
        """The slot holding ``key``, or the empty slot where it would go."""
        keys, mask = self._keys, self._mask
        i = key & mask
        while True:
            found = keys[i]
            if found == key or found == 0:
                return i
            i = (i + 1) & mask

    def add(self, key: int) -> bool:
        """Add ``key``; True when it was not there before."""
        if not 0 < key <= MASK:
            raise ValueError(f"a key must be a non-zero 60-bit int, not {key!r} (see key_of)")
        i = self._slot(key)
        if self._keys[i] == key:
            return False
        self._keys[i] = key
        self._count += 1
        if 2 * self._count > self._mask:
            self._grow()
        return True

    def put(self, key: int, value: int) -> None:
        """Map ``key`` to ``value`` (a table made with ``values=True``)."""
        if self._values is None:
            raise TypeError("this KeyTable holds no values: make it with values=True")
        self.add(key)
        self._values[self._slot(key)] = value

    def get(self, key: int) -> int | None:
        """The value of ``key``, None when absent (a table made with ``values=True``)."""
        if self._values is None:
            raise TypeError("this KeyTable holds no values: make it with values=True")
        i = self._slot(key)
        return self._values[i] if self._keys[i] == key else None

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, int) or key <= 0:
            return False
        keys, mask = self._keys, self._mask     # _slot inlined: this is the hot path (every link of a page)
        i = key & mask
        while True:
            found = keys[i]
            if found == key:
                return True
            if found == 0:
                return False
            i = (i + 1) & mask

    def __len__(self) -> int:
        return self._count

    def _grow(self) -> None:
        old_keys, old_values = self._keys, self._values
        size = 2 * len(old_keys)
        self._keys = array("Q", bytes(8 * size))
        self._values = array("q", bytes(8 * size)) if old_values is not None else None
        self._mask = size - 1
        for i, key in enumerate(old_keys):
            if key:
                j = self._slot(key)
                self._keys[j] = key
                if old_values is not None and self._values is not None:
                    self._values[j] = old_values[i]
