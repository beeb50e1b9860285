"""One module per ``crawler`` verb: ``register(subparsers)`` adds the parser and sets ``func(args) -> int``."""
