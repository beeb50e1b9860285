"""archive.surtkey: surt without tldextract at start-up, and tldextract still whole for everyone else."""

from __future__ import annotations

import subprocess
import sys

_PROBE = """
import sys
import archive.cdxj as cdxj
print('tldextract loaded' if 'requests' in sys.modules else 'tldextract deferred')
print(cdxj.surt_key('http://www.Example.com:80/a/b?z=1&a=2#frag'))
import tldextract
print(type(tldextract.extract).__name__)
print('real' if sys.modules['tldextract'] is tldextract or hasattr(sys.modules['tldextract'], 'TLDExtract') else 'placeholder')
import surt.handyurl
print(sys.modules['surt.handyurl'].tldextract.TLDExtract.__name__)
"""


def test_surt_keys_without_loading_tldextract_until_asked() -> None:
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "tldextract deferred"
    # the same key as surt computes when imported the ordinary way
    import surt

    assert out[1] == surt.surt("http://www.Example.com:80/a/b?z=1&a=2#frag") == "com,example)/a/b?a=2&z=1"
    assert out[2] == "function"          # first attribute access loads the real module...
    assert out[3] == "real"              # ...which then sits in sys.modules
    assert out[4] == "TLDExtract"        # and surt's own reference to it answers through the placeholder
