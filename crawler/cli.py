"""The ``crawler`` command: a thin layer over library calls, one module per verb in ``crawler/commands``.

Exit codes: 0 success, 1 the work ran but failed (errors during a crawl, nothing found), 2 bad usage or
input (unknown option, malformed URL, unknown spider, unwritable data directory), 3 a crawl stopped because
the disk is full, 130 interrupted (a crawl can be continued with ``crawl --resume RUN`` after either).
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
from collections.abc import Sequence

from crawler import __version__
from crawler.errors import CommandError, UsageError

__all__ = ["CommandError", "UsageError", "build_parser", "main"]

# Each entry is a module in crawler.commands with ``register(subparsers) -> None``; the parser it adds
# sets ``func(args) -> int``.
COMMANDS = [
    "crawl",
    "worker",
    "frontier",
    "archive_urls",
    "list",
    "show",
    "demo",
    "index",
    "replay",
    "reextract",
    "export",
    "schedule",
    "scheduler",
    "runs",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crawler",
        description="Archive news sites into WARC files and clean JSON records, and read them back.",
        epilog="Run 'crawler COMMAND --help' for a command's options. Exit codes: 0 ok, 1 failed, 2 bad input, 3 disk full, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"crawler.commands.{name}").register(sub)
    _plain_text(parser)
    return parser


_LITERAL = re.compile(r"``(.+?)``", re.DOTALL)


def _plain(text: str | None) -> str | None:
    """RST literals of the docstrings that help texts come from (``crawler crawl``) as 'crawler crawl'."""
    return _LITERAL.sub(r"'\1'", text) if text else text


def _plain_text(parser: argparse.ArgumentParser) -> None:
    """Every description, epilog and help text of ``parser`` and of its subcommands, in plain text."""
    parser.description = _plain(parser.description)
    parser.epilog = _plain(parser.epilog)
    for action in parser._actions:
        action.help = _plain(action.help)
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                choice.help = _plain(choice.help)
            for subparser in dict.fromkeys(action.choices.values()):    # aliases share a parser
                _plain_text(subparser)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        _check_values(args)
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"crawler: error: {exc}", file=sys.stderr)
        return 2
    except CommandError as exc:
        print(f"crawler: error: {exc}", file=sys.stderr)
        return 1
    except RuntimeError as exc:
        from archive.catalog import CatalogError  # imported here: the catalog costs a fifth of a second
        from archive.schedules import ScheduleStoreError

        if not isinstance(exc, (CatalogError, ScheduleStoreError)):
            raise
        print(f"crawler: error: {exc}", file=sys.stderr)  # the catalog cannot be opened or read: it names the file
        return 1
    except KeyboardInterrupt:
        print("crawler: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`crawler export csv | head`): not an error of ours. Point stdout at
        # /dev/null so that the interpreter's final flush does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def _check_values(args: argparse.Namespace) -> None:
    """Every ``-s NAME=VALUE`` and ``--frontier`` of any verb, checked before the verb does anything, so that
    a wrong value is one line naming the setting and what it allows (crawler.settings.check_setting)."""
    from crawler.settings import check_setting, frontier_url_error

    for name, value in getattr(args, "settings", None) or []:
        try:
            check_setting(name, value)
        except ValueError as exc:
            raise UsageError(f"-s {exc}") from None
    frontier = getattr(args, "frontier", None)
    if frontier and (error := frontier_url_error(str(frontier))):
        raise UsageError(f"--frontier (or $CRAWLER_FRONTIER): {error}")


if __name__ == "__main__":
    # ``python -m crawler.cli``: run the imported module, not this __main__ copy, so that the exception
    # classes the verbs raise are the ones main() catches.
    from crawler.cli import main as _main

    sys.exit(_main())
