"""The exit codes of every ``dochub`` command: one per cause, the same across commands, so that a
script can tell a typo from a broker that is down. README.md lists them."""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    """The command ran, and its outcome is wrong: a replay's figures are off, a document was not
    sent, a check failed."""
    USAGE = 2
    """A flag or an argument is wrong or missing (click's own code)."""
    TIMEOUT = 3
    """No answer came in time."""
    REFUSED = 4
    """The hub refused the document, or the broker refused the action."""
    CONFIGURATION = 5
    """A setting, file, key or registry the command cannot use."""
    BROKER_UNAVAILABLE = 6
    """RabbitMQ cannot be reached, or did not complete the connection in time."""
    LEDGER_UNAVAILABLE = 7
    """The ledger cannot be opened, read or written."""
