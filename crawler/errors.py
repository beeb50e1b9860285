"""The two kinds of error the ``crawler`` command reports as one line (see crawler.cli for exit codes)."""


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit code 2."""


class CommandError(Exception):
    """The command could not do its work: printed as one line, exit code 1."""
