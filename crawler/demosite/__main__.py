"""``python -m crawler.demosite [--port 8000] [--layout moscowtimes]``: serve the demo site until Ctrl-C.

The first stdout line is ``serving http://HOST:PORT/``. Exit codes: 0 stopped by Ctrl-C, 2 cannot listen.
"""

from __future__ import annotations

import argparse
import sys
import threading

from crawler.demosite.generate import LAYOUTS
from crawler.demosite.server import serve
from crawler.demosite.site import Site


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawler.demosite", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port (default 8000)")
    parser.add_argument("--articles", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--layout", choices=sorted(LAYOUTS), default="demo")
    args = parser.parse_args(argv)
    try:
        server = serve(Site(articles=args.articles, seed=args.seed, layout=args.layout), args.host, args.port)
    except OSError as err:
        print(f"cannot listen on {args.host}:{args.port}: {err}; choose another --port (0 picks a free one)",
              file=sys.stderr)
        return 2
    print(f"serving {server.base_url}/", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        print("stopped", flush=True)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
