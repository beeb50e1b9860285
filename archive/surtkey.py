"""The ``surt`` library, loaded without paying for ``tldextract`` at start-up.

``surt`` imports ``tldextract`` at module level (and through it requests, urllib3, idna, filelock: about
0.2 s, more than half of ``crawler replay get``'s whole run) for ``handyurl.getPublicSuffix`` and
``getSubdomain`` only, which ``surt.surt()`` never calls. Until something asks for one of its attributes,
``tldextract`` is a placeholder module in ``sys.modules``; the first attribute access imports the real
module, puts it in ``sys.modules`` and answers from it, so every other user of ``tldextract`` is unaffected.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any


class _Deferred(types.ModuleType):
    """Stands in for a module until an attribute of it is first read."""

    def __getattr__(self, attr: str) -> Any:
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), attr)


def _load_surt() -> types.ModuleType:
    placeholder = None
    if "tldextract" not in sys.modules and importlib.util.find_spec("tldextract") is not None:
        placeholder = sys.modules["tldextract"] = _Deferred("tldextract")
    try:
        import surt
    except BaseException:
        if placeholder is not None and sys.modules.get("tldextract") is placeholder:
            del sys.modules["tldextract"]
        raise
    return surt


surt = _load_surt()
