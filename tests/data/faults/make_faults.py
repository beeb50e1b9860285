"""Regenerate the hostile samples in this folder: ``python tests/data/faults/make_faults.py``.

The bombs are built from one full-flushed deflate block of 16 MiB of zeros repeated 64 times (with the
right CRC-32/Adler-32 trailer), so they are valid streams that inflate to 1 GiB from about 1 MB.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
_CHUNK = b"\0" * (1 << 24)
_REPEAT = 64  # 64 x 16 MiB = 1 GiB


def _repeated_block() -> tuple[bytes, bytes]:
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    comp.compress(_CHUNK)
    comp.flush(zlib.Z_FULL_FLUSH)
    block = comp.compress(_CHUNK) + comp.flush(zlib.Z_FULL_FLUSH)  # identical for every chunk from here
    return block, comp.flush()


def gzip_bomb(prefix: bytes = b"") -> bytes:
    """A gzip stream that inflates to ``prefix`` + 1 GiB of NUL bytes."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = comp.compress(prefix) + comp.flush(zlib.Z_FULL_FLUSH) if prefix else b""
    block, tail = _repeated_block()
    crc = zlib.crc32(prefix)
    for _ in range(_REPEAT):
        crc = zlib.crc32(_CHUNK, crc)
    size = (len(prefix) + _REPEAT * len(_CHUNK)) & 0xFFFFFFFF
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + head + block * _REPEAT + tail + struct.pack("<II", crc, size)


def deflate_bomb() -> bytes:
    """A zlib (HTTP "deflate") stream that inflates to 1 GiB of NUL bytes."""
    block, tail = _repeated_block()
    adler = 1
    for _ in range(_REPEAT):
        adler = zlib.adler32(_CHUNK, adler)
    return b"\x78\xda" + block * _REPEAT + tail + struct.pack(">I", adler)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<url><loc>/b/laughs-target/&lol9;</loc></url>
</urlset>
"""

XXE_SITEMAP = b"""<?xml version="1.0"?>
<!DOCTYPE urlset [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<url><loc>/b/xxe-target/&xxe;</loc></url>
</urlset>
"""

XXE_FEED = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>t</title>
<item><title>&xxe;</title><link>/b/xxe-feed-target/&xxe;</link></item>
</channel></rss>
"""

SITEMAP_HEAD = (b'<?xml version="1.0"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
                b"<url><loc>/b/sitemap-bomb-target</loc></url>\n<!-- ")


def main() -> None:
    (HERE / "gzip-bomb-1GiB.gz").write_bytes(gzip_bomb())
    (HERE / "deflate-bomb-1GiB.zz").write_bytes(deflate_bomb())
    (HERE / "sitemap-bomb-1GiB.xml.gz").write_bytes(gzip_bomb(SITEMAP_HEAD))
    (HERE / "billion-laughs.xml").write_bytes(BILLION_LAUGHS)
    (HERE / "xxe-sitemap.xml").write_bytes(XXE_SITEMAP)
    (HERE / "xxe-feed.xml").write_bytes(XXE_FEED)
    page = b"<html><head><title>Truncated</title></head><body>" + b"".join(b"<p>Paragraph %d of the story, with its own words.</p>" % i for i in range(400)) + b"</body></html>"
    whole = gzip.compress(page, mtime=0)
    (HERE / "truncated.html.gz").write_bytes(whole[: len(whole) // 2])


if __name__ == "__main__":
    main()
