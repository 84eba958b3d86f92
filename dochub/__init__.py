"""The ``dochub`` command line: hub, agencies, replays and statistics."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dochub")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
